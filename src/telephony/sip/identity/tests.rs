//! Callers, called numbers, forwarders and CANCEL reasons, read from the shared fixtures
//! (the field cases, the Asterisk captures) and from variants of them, damaged ones included.

use super::fixtures::{self, replace_line};
use super::*;

fn parse(raw: &[u8]) -> Message {
    Message::parse(raw).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(raw)))
}

fn shown(number: &str, name: Option<&str>, source: Source) -> Caller {
    let (number, name) = (Some(number.to_string()), name.map(str::to_string));
    Caller {
        number,
        name,
        withheld: false,
        source,
    }
}

fn withheld(source: Source) -> Caller {
    Caller {
        number: None,
        name: None,
        withheld: true,
        source,
    }
}

fn check(raw: &[u8], trusted: bool, expected: &Caller) {
    let got = caller(&parse(raw), trusted);
    assert_eq!(
        &got,
        expected,
        "trusted={trusted}\n{}",
        String::from_utf8_lossy(raw)
    );
}

fn field(name: &str) -> Vec<u8> {
    fixtures::read(&format!("field/raw/{name}"))
}

/// Who calls in each raw field case, from a trusted and an untrusted peer; `None` where
/// the message is refused.
fn field_callers() -> Vec<(&'static str, Option<[Caller; 2]>)> {
    use Source::{AssertedIdentity as Pai, From, RemotePartyId as Rpid};
    let both = |c: Caller| Some([c.clone(), c]);
    let smith = r#"Smith, J. "Jay" <Acct 7>"#;
    vec![
        (
            "01a-folding.sip",
            both(shown("+12125550142", Some("Helpdesk Line 2"), From)),
        ),
        (
            "01b-hcolon-ws.sip",
            both(shown("+12125550142", Some("Helpdesk Line 2"), From)),
        ),
        (
            "02-compact.sip",
            both(shown("+12125550143", Some("Dana Ortiz"), From)),
        ),
        (
            "03-dot-user.sip",
            both(shown("anna.lee", Some("Anna Lee"), From)),
        ),
        (
            "05-user-params.sip",
            Some([
                shown("+12125550146", None, Pai),
                shown("+12125550146", None, From),
            ]),
        ),
        ("05b-semiuri-escaped.sip", both(shown("caller", None, From))),
        (
            "06-ipv6.sip",
            both(shown("+12125550147", Some("Lab Phone"), From)),
        ),
        (
            "06b-ipv6-port-ambiguous.sip",
            both(shown("monitor", None, From)),
        ),
        (
            "07a-trailing-octets.sip",
            both(shown("+12125550157", None, From)),
        ),
        ("07b-clerr.sip", None),
        (
            "08a-quoted-angle.sip",
            both(shown("+12125550148", Some(smith), From)),
        ),
        (
            "08b-empty-display.sip",
            both(shown("+12125550149", None, From)),
        ),
        (
            "08c-no-lws.sip",
            both(shown("+12125550150", Some("Bob Ortiz"), From)),
        ),
        (
            "08d-addr-spec-no-brackets.sip",
            both(shown("+12125550161", None, From)),
        ),
        (
            "09a-pai-privacy.sip",
            Some([withheld(Pai), withheld(Source::None)]),
        ),
        (
            "09b-rpid.sip",
            both(shown("+12125550152", Some("Kim Park"), Rpid)),
        ),
        (
            "10-diversion.sip",
            Some([
                shown("+12125550153", Some("Rita Gomez"), Pai),
                shown("+12125550153", Some("Rita Gomez"), From),
            ]),
        ),
        (
            "11a-invite.sip",
            both(shown("+12125550155", Some("Lena Cho"), From)),
        ),
        (
            "11b-cancel-elsewhere.sip",
            both(shown("+12125550155", Some("Lena Cho"), From)),
        ),
    ]
}

#[test]
fn field_cases_callers() {
    let table = field_callers();
    let files = fixtures::dir("field/raw", ".sip");
    for (name, raw) in &files {
        let Some((_, expected)) = table.iter().find(|(n, _)| n == name) else {
            panic!("field/raw/{name} has no expected caller here");
        };
        match expected {
            Some([from_trusted, from_untrusted]) => {
                check(raw, true, from_trusted);
                check(raw, false, from_untrusted);
            }
            None => assert!(Message::parse(raw).is_err(), "{name} should be refused"),
        }
    }
    assert_eq!(files.len(), table.len(), "a table row without its file");
}

/// The extension that rings, the number dialled, who forwarded, and the CANCEL reason.
type CallFacts = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    CancelReason,
);

fn check_call(raw: &[u8], (called, dialled, forwarder, cancel): CallFacts) {
    let msg = parse(raw);
    assert_eq!(called_extension(&msg).as_deref(), called, "called");
    assert_eq!(dialled_number(&msg).as_deref(), dialled, "dialled");
    assert_eq!(diverted_by(&msg).as_deref(), forwarder, "forwarded by");
    assert_eq!(cancel_reason(&msg), cancel, "cancel reason");
}

#[test]
fn field_cases_calls() {
    use CancelReason::{CompletedElsewhere, Other};
    let did = Some("+12125550100");
    let calls: [(&str, CallFacts); 7] = [
        // Case 05: the called number is the user part before ';', not its digits glued.
        ("05-user-params.sip", (did, did, None, Other)),
        (
            "05b-semiuri-escaped.sip",
            (Some("user"), Some("user"), None, Other),
        ),
        // Case 06 B: no user anywhere, so no extension.
        ("06b-ipv6-port-ambiguous.sip", (None, None, None, Other)),
        // Case 10: the Request-URI is the current target, To keeps the number dialled,
        // Diversion names the forwarder.
        (
            "10-diversion.sip",
            (did, Some("+12125550160"), Some("+12125550160"), Other),
        ),
        ("11a-invite.sip", (Some("201"), Some("201"), None, Other)),
        (
            "11b-cancel-elsewhere.sip",
            (Some("201"), Some("201"), None, CompletedElsewhere),
        ),
        ("03-dot-user.sip", (Some("201"), Some("201"), None, Other)),
    ];
    for (name, facts) in calls {
        check_call(&field(name), facts);
    }

    let msg = parse(&field("10-diversion.sip"));
    let hop = Diversion {
        by: "+12125550160".into(),
        reason: Some("no-answer".into()),
        counter: Some(1),
    };
    assert_eq!(diversion(&msg), Some(hop));
    assert_ne!(
        caller(&msg, true).number,
        diverted_by(&msg),
        "the forwarder is not the caller"
    );
}

#[test]
fn history_info_names_the_forwarder_only_after_a_hop() {
    let base = field("11a-invite.sip");
    let one = "History-Info: <sip:+12125550160@carrier.example.net>;index=1";
    let two = format!("{one}, <sip:201@192.0.2.40:5062>;index=1.1");
    let hop = replace_line(
        &base,
        "Contact:",
        &format!("{two}\r\nContact: <sip:asterisk@192.0.2.2:5060>"),
    );
    assert_eq!(diverted_by(&parse(&hop)).as_deref(), Some("+12125550160"));
    let no_hop = replace_line(
        &base,
        "Contact:",
        &format!("{one}\r\nContact: <sip:asterisk@192.0.2.2:5060>"),
    );
    assert_eq!(diverted_by(&parse(&no_hop)), None);
}

#[test]
fn numbers_from_uris() {
    let check = |uri: &str, expected: Option<&str>| {
        assert_eq!(
            uri_number(&parse_uri(uri).unwrap()).as_deref(),
            expected,
            "{uri}"
        );
    };
    // Case 05 B: tel: URIs, a local number in a global context, visual separators.
    check("tel:+12125550162", Some("+12125550162"));
    check("tel:5550162;phone-context=+1-212", Some("+12125550162"));
    check("tel:5550162;phone-context=example.com", Some("5550162"));
    check("tel:+1-212-555-0163", Some("+12125550163"));
    check("tel:(212)555.0163", Some("2125550163"));
    // Case 05 A: user parameters are not digits of the number.
    check(
        "sip:+12125550100;npdi;rn=+12125550199@pbx.example.com;user=phone",
        Some("+12125550100"),
    );
    check(
        "sip:+12125550146;cpc=ordinary@ims.example.net;user=phone",
        Some("+12125550146"),
    );
    check(
        "sip:5550162;phone-context=+1-212@example.com;user=phone",
        Some("+12125550162"),
    );
    check("sip:+1.212.555.0144@example.com", Some("+12125550144"));
    // Case 03: an account name is returned as it is, dots and all.
    check("sip:anna.lee@pbx.example.com", Some("anna.lee"));
    check("sip:201@127.0.0.1:5061", Some("201"));
    check("sip:pbx.example.com", None);
    // RFC 4475 unksm2: other schemes name no number.
    check("isbn:2983792873", None);
    check("http://www.example.com", None);
}

#[test]
fn header_value_variants() {
    use Source::{AssertedIdentity as Pai, From, RemotePartyId as Rpid};
    let plain = field("08d-addr-spec-no-brackets.sip");
    let with_from = |from: &str| replace_line(&plain, "From:", from);

    // Case 05 B1, B2.
    check(
        &with_from("From: <tel:+12125550162>;tag=t1"),
        true,
        &shown("+12125550162", None, From),
    );
    let local = with_from("From: <tel:5550162;phone-context=+1-212>;tag=t2");
    check(&local, true, &shown("+12125550162", None, From));

    // Case 05 B3: two asserted identities that agree; the first gives the name.
    let pai = concat!(
        "P-Asserted-Identity: \"Pat Kim\" <sip:+12125550163@example.net;user=phone>, ",
        "<tel:+1-212-555-0163>"
    );
    let both = replace_line(
        &plain,
        "Max-Forwards:",
        &format!("Max-Forwards: 70\r\n{pai}"),
    );
    check(&both, true, &shown("+12125550163", Some("Pat Kim"), Pai));
    let msg = parse(&both);
    let numbers: Vec<_> = msg
        .headers("p-asserted-identity")
        .map(|v| uri_number(&parse_name_addr(v).unwrap().uri))
        .collect();
    assert_eq!(
        numbers,
        [
            Some("+12125550163".to_string()),
            Some("+12125550163".to_string())
        ]
    );
    // From an untrusted peer the assertion counts for nothing.
    check(&both, false, &shown("+12125550161", None, From));

    // Case 08 E: doubled quotes neither crash nor lose the number.
    let odd = r#"""unknown"" <sip:+12125550170@carrier.example.net>;tag=q08e"#;
    let msg = parse(&replace_line(&plain, "To:", &format!("To: {odd}")));
    assert_eq!(dialled_number(&msg).as_deref(), Some("+12125550170"));
    check(
        &with_from(&format!("From: {odd}")),
        true,
        &shown("+12125550170", Some("unknown"), From),
    );

    // Case 09 C: privacy=full in Remote-Party-ID.
    let rpid = field("09b-rpid.sip");
    let full = concat!(
        "Remote-Party-ID: \"Kim Park\" <sip:+12125550152@pbx.example.com>;",
        "party=calling;privacy=full;screen=yes"
    );
    check(
        &replace_line(&rpid, "Remote-Party-ID:", full),
        true,
        &withheld(Rpid),
    );
    // An RPID about the called party says nothing about the caller.
    let called = "Remote-Party-ID: <sip:+12125550100@pbx.example.com>;party=called;privacy=full";
    let msg = replace_line(&rpid, "Remote-Party-ID:", called);
    check(&msg, true, &shown("acct-7731", Some("1001"), From));

    // Case 09 D: From shows a number, the second Privacy field hides it.
    let pai = field("09a-pai-privacy.sip");
    let shown_from = replace_line(
        &pai,
        "From:",
        "From: <sip:+12125550151@carrier.example.net>;tag=p09d",
    );
    let two_fields = replace_line(
        &shown_from,
        "Privacy:",
        "Privacy: none\r\nPrivacy: id;critical",
    );
    check(&two_fields, true, &withheld(Pai));
    check(&two_fields, false, &withheld(From));
    let only_none = replace_line(&shown_from, "Privacy:", "Privacy: none");
    check(&only_none, false, &shown("+12125550151", None, From));
    check(&only_none, true, &shown("+12125550151", None, Pai));
}

fn check_privacy(lines: &str, hidden: bool) {
    let raw = field("08d-addr-spec-no-brackets.sip");
    let raw = replace_line(&raw, "Max-Forwards:", &format!("Max-Forwards: 70{lines}"));
    let got = caller(&parse(&raw), false);
    assert_eq!(got.withheld, hidden, "{lines:?}");
    assert_eq!(got.number.is_none(), hidden, "{lines:?}");
}

#[test]
fn privacy_values() {
    check_privacy("", false);
    check_privacy("\r\nPrivacy: none", false);
    check_privacy("\r\nPrivacy: session", false);
    check_privacy("\r\nPrivacy: critical", false);
    check_privacy("\r\nPrivacy: id", true);
    check_privacy("\r\nPrivacy: ID;Critical", true);
    check_privacy("\r\nPrivacy: user", true);
    check_privacy("\r\nPrivacy: header, session", true);
    check_privacy("\r\nPrivacy: none\r\nPrivacy: user", true);
    check_privacy("\r\nprivacy :  session ; HEADER ", true);
}

fn check_anonymous(from: &str, expected: Caller) {
    let raw = replace_line(&field("08d-addr-spec-no-brackets.sip"), "From:", from);
    check(&raw, true, &expected);
}

#[test]
fn anonymous_from() {
    let hidden = withheld(Source::None);
    check_anonymous(
        "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=x",
        hidden.clone(),
    );
    check_anonymous(
        "From: <sip:ANONYMOUS@pbx.example.com>;tag=x",
        hidden.clone(),
    );
    check_anonymous("From: <sip:+15550100@Anonymous.Invalid>;tag=x", hidden);
    // The display name alone does not hide a number.
    let named = shown("+15550100", Some("Anonymous"), Source::From);
    check_anonymous(
        "From: \"Anonymous\" <sip:+15550100@pbx.example.com>;tag=x",
        named,
    );
}

fn check_cancel(reasons: &str, expected: CancelReason) {
    let raw = field("11b-cancel-elsewhere.sip");
    let raw = replace_line(&raw, "Reason: Q.850", "");
    let raw = replace_line(&raw, "Reason: SIP", reasons);
    assert_eq!(cancel_reason(&parse(&raw)), expected, "{reasons:?}");
}

#[test]
fn cancel_reasons() {
    use CancelReason::{CompletedElsewhere as Elsewhere, Other};
    // Case 11 variants V1, V2, V3.
    check_cancel("", Other);
    check_cancel("Reason: SIP;cause=487;text=\"Request Terminated\"", Other);
    check_cancel("Reason: Q.850;cause=26", Elsewhere);
    // Case, order, quoting, lists, and protocols callpop does not know.
    check_cancel("Reason: sip ; TEXT=\"call completed elsewhere\"", Elsewhere);
    check_cancel(
        "Reason: SIP;text=\"Call completed elsewhere\";cause=200",
        Elsewhere,
    );
    check_cancel("Reason: q.850;Cause=26", Elsewhere);
    check_cancel(
        "Reason: Q.850;cause=31;text=\"Call completed elsewhere\"",
        Elsewhere,
    );
    check_cancel("Reason: Q.850;cause=16, SIP;cause=200", Elsewhere);
    check_cancel("Reason: Q.850;cause=16\r\nReason: SIP;cause=200", Elsewhere);
    check_cancel(
        "Reason: X-Vendor;cause=200;text=\"Call completed elsewhere\"",
        Other,
    );
    check_cancel("Reason: SIP;cause=2000", Other);
    check_cancel("Reason: Q.850;cause=16", Other);

    // Only a CANCEL stops the ringing this way.
    let invite = field("11a-invite.sip");
    let with_reason = replace_line(
        &invite,
        "Contact:",
        "Reason: SIP;cause=200\r\nContact: <sip:a@b.example.com>",
    );
    assert_eq!(cancel_reason(&parse(&with_reason)), Other);
}

#[test]
fn asterisk_invites() {
    let expected = [
        (
            "sip-invite-a-to-201-inbound-answered.txt",
            shown("+1555010011", Some("Carol Caller"), Source::From),
        ),
        ("sip-invite-g-to-201-anonymous.txt", withheld(Source::None)),
        (
            "sip-invite-h-to-201-unicode-markup-name.txt",
            shown(
                "+1555010019",
                Some("Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本"),
                Source::From,
            ),
        ),
        (
            "sip-invite-i-to-201-originate.txt",
            shown("201", Some("Dial +1555019902"), Source::From),
        ),
    ];
    let files = fixtures::dir("asterisk", ".txt");
    let files: Vec<_> = files
        .into_iter()
        .filter(|(n, _)| n.starts_with("sip-invite-"))
        .collect();
    assert_eq!(files.len(), expected.len());
    for ((name, raw), (expected_name, who)) in files.iter().zip(&expected) {
        assert_eq!(name, expected_name);
        check(raw, true, who);
        assert_eq!(
            called_extension(&parse(raw)).as_deref(),
            Some("201"),
            "{name}"
        );
    }
}

#[test]
fn asterisk_logs() {
    use CancelReason::{CompletedElsewhere as Elsewhere, Other};
    // Scenario README: who called, which phone rang, and how a CANCEL ended the ringing.
    let expected = [
        (
            "a-ext201-uas.log",
            "+1555010011",
            "Carol Caller",
            "201",
            None,
        ),
        (
            "b-ext201-uas.log",
            "+1555010012",
            "Dan Dropper",
            "201",
            Some(Other),
        ),
        (
            "c-ext201-uas.log",
            "+1555010013",
            "Erin Early",
            "201",
            Some(Other),
        ),
        ("c-ext202-uas.log", "+1555010013", "Erin Early", "202", None),
        (
            "e-ext201-uas.log",
            "+1555010015",
            "Frank Queue",
            "201",
            None,
        ),
        (
            "e-ext202-uas.log",
            "+1555010015",
            "Frank Queue",
            "202",
            Some(Elsewhere),
        ),
    ];
    let files = fixtures::dir("asterisk/sip", ".log");
    assert_eq!(files.len(), expected.len());
    for ((name, _), (file, number, who, extension, cancel)) in files.iter().zip(expected) {
        assert_eq!(name, file);
        let messages: Vec<Message> = fixtures::sipp_log(&format!("asterisk/sip/{name}"))
            .iter()
            .map(|m| parse(m))
            .collect();
        let invite = &messages[0];
        check_caller_of(invite, &shown(number, Some(who), Source::From), name);
        assert_eq!(
            called_extension(invite).as_deref(),
            Some(extension),
            "{name}"
        );

        let cancels: Vec<_> = messages
            .iter()
            .filter(|m| m.method() == Some("CANCEL"))
            .collect();
        assert_eq!(cancels.first().map(|m| cancel_reason(m)), cancel, "{name}");
    }
}

fn check_caller_of(msg: &Message, expected: &Caller, context: &str) {
    assert_eq!(&caller(msg, true), expected, "{context}");
}

#[test]
fn damaged_messages_keep_the_invariants() {
    let mut checked = 0;
    for (i, (name, seed)) in fixtures::corpus().into_iter().enumerate() {
        for damaged in fixtures::mutations(&seed, !(i as u64), 25) {
            let Ok(msg) = Message::parse(&damaged) else {
                continue;
            };
            checked += 1;
            for trusted in [true, false] {
                let who = caller(&msg, trusted);
                let hidden = who.number.is_none() && who.name.is_none();
                assert!(
                    !who.withheld || hidden,
                    "{name}: withheld but shown: {who:?}"
                );
            }
            let _ = (
                called_extension(&msg),
                diverted_by(&msg),
                cancel_reason(&msg),
            );
        }
    }
    assert!(checked > 200, "only {checked} damaged messages parsed");
}
