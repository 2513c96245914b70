//! Header lists split at commas, and header names in any case or compact form.

use super::*;

fn check_list(extra: &str, name: &str, expected: &[&str]) {
    let msg = parse(&request_with(extra));
    let got: Vec<&str> = msg.headers(name).collect();
    assert_eq!(got, expected, "{name} in {extra:?}");
}

#[test]
fn header_lists() {
    let base_via = "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-base";
    let (v4, v6) = (
        "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
        "SIP/2.0/TCP [2001:db8::1]:5070;branch=2",
    );
    check_list(&format!("v: {v4} , {v6}\r\n"), "Via", &[base_via, v4, v6]);
    check_list(
        "P-Asserted-Identity: \"Doe, Jane\" <sip:+15550100@example.com>, <tel:+15550100>\r\n",
        "p-asserted-identity",
        &[
            "\"Doe, Jane\" <sip:+15550100@example.com>",
            "<tel:+15550100>",
        ],
    );
    check_list(
        "Contact: <sip:a@example.com;x=1,2>, \"Q, R\" <sip:b@example.com>\r\n",
        "m",
        &["<sip:a@example.com;x=1,2>", "\"Q, R\" <sip:b@example.com>"],
    );
    check_list(
        "Reason: SIP;cause=200;text=\"Call completed, elsewhere\", Q.850;cause=26\r\n",
        "reason",
        &[
            "SIP;cause=200;text=\"Call completed, elsewhere\"",
            "Q.850;cause=26",
        ],
    );
    // RFC 3323: Privacy separates values with ';' and is not a list; every field counts.
    check_list(
        "Privacy: none\r\nPrivacy: id;critical\r\n",
        "privacy",
        &["none", "id;critical"],
    );
    check_list("Allow: INVITE, ,ACK,\r\n", "allow", &["INVITE", "ACK"]);
    check_list(
        "k: replaces, 100rel\r\n",
        "Supported",
        &["replaces", "100rel"],
    );
    // Not lists: a date, an unknown header.
    check_list(
        "Date: Sat, 15 Oct 2005 04:44:56 GMT\r\n",
        "date",
        &["Sat, 15 Oct 2005 04:44:56 GMT"],
    );
    check_list("X-Things: a, b\r\n", "x-things", &["a, b"]);
    check_list("", "x-things", &[]);
}

#[test]
fn header_names_compact_and_any_case() {
    let msg = parse(&fixtures::read("field/raw/02-compact.sip"));
    for name in ["call-id", "Call-ID", "CALL-ID", "i", "I"] {
        assert_eq!(msg.header(name), Some("compact-02@192.0.2.11"), "{name}");
    }
    assert_eq!(canonical_name("M"), "contact");
    assert_eq!(canonical_name("X-Custom"), "x-custom");
    assert_eq!(
        canonical_name("q"),
        "q",
        "an unknown letter is no compact form"
    );
}
