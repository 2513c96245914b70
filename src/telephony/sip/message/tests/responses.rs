//! Responses built from a request echo its transaction and dialog headers.

use super::*;

#[test]
fn responses_echo_the_request() {
    let invite = parse(&fixtures::read("field/raw/11a-invite.sip"));
    let extra = [("Contact", "<sip:201@192.0.2.40:5062>")];
    let ringing = parse(&response(&invite, 180, "Ringing", Some("cp1"), &extra));
    assert_eq!(ringing.status(), Some(180));
    assert_eq!(ringing.top_via_branch(), invite.top_via_branch());
    assert_eq!(
        (ringing.call_id(), ringing.cseq()),
        (invite.call_id(), invite.cseq())
    );
    assert_eq!(
        (ringing.from_tag(), ringing.to_tag()),
        (Some("ce11"), Some("cp1"))
    );
    assert_eq!(ringing.header("contact"), Some("<sip:201@192.0.2.40:5062>"));
    assert_eq!(
        (ringing.header("content-length"), ringing.body.len()),
        (Some("0"), 0)
    );

    // Every Via in order, full header names for a compact request, an existing tag kept.
    let longreq = rfc4475("longreq");
    let trying = parse(&response(&longreq, 100, "Trying", None, &[]));
    assert_eq!(
        trying.headers("via").collect::<Vec<_>>(),
        longreq.headers("via").collect::<Vec<_>>()
    );
    let compact = parse(&fixtures::read("field/raw/02-compact.sip"));
    let ok = response(&compact, 200, "OK", Some("x"), &[]);
    assert!(String::from_utf8(ok)
        .unwrap()
        .contains("\r\nFrom: \"Dana Ortiz\""));
    let wsinv = rfc4475("wsinv");
    assert_eq!(
        parse(&response(&wsinv, 200, "OK", Some("x"), &[])).to_tag(),
        Some("1918181833n")
    );
}
