//! The field cases (`field/raw` in the shared fixtures): failures phone-system integrations
//! have shipped, each input with what it must mean.

use super::*;

type FieldCheck = fn(&[u8]);

/// Expectations from `../shared/fixtures/field/NN-*.txt`, one per raw file.
const FIELD_CASES: [(&str, FieldCheck); 19] = [
    ("01a-folding.sip", |raw| {
        let msg = parse(raw);
        assert_eq!(msg.header("subject"), Some("Order status follow-up"));
        let from = addr(&msg, "from");
        assert_eq!(from.display.as_deref(), Some("Helpdesk Line 2"));
        assert_eq!(from.uri.user.as_deref(), Some("+12125550142"));
        assert_eq!(msg.from_tag(), Some("f01a"));
    }),
    ("01b-hcolon-ws.sip", |raw| {
        let msg = parse(raw);
        let names: Vec<&str> = msg.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names[..3], ["Via", "Max-Forwards", "From"]);
        assert_eq!(addr(&msg, "from").uri.user.as_deref(), Some("+12125550142"));
        assert_eq!(msg.top_via_branch(), Some("z9hG4bK-hcolon-01b"));
    }),
    ("02-compact.sip", |raw| {
        let msg = parse(raw);
        let canonical: Vec<&str> = msg.fields.iter().map(|f| f.canonical.as_str()).collect();
        let expected = [
            "via",
            "max-forwards",
            "from",
            "to",
            "call-id",
            "cseq",
            "contact",
            "content-length",
        ];
        assert_eq!(canonical, expected);
        let from = addr(&msg, "From");
        assert_eq!(from.display.as_deref(), Some("Dana Ortiz"));
        assert_eq!(from.uri.user.as_deref(), Some("+12125550143"));
        assert_eq!(msg.call_id(), Some("compact-02@192.0.2.11"));
        assert_eq!(
            (msg.header("Content-Length"), msg.body.len()),
            (Some("0"), 0)
        );
    }),
    ("03-dot-user.sip", |raw| {
        let msg = parse(raw);
        let from = addr(&msg, "from");
        assert_eq!(from.display.as_deref(), Some("Anna Lee"));
        assert_eq!(from.uri.user.as_deref(), Some("anna.lee"));
        assert_eq!(from.uri.host.as_deref(), Some("pbx.example.com"));
        let contact = addr(&msg, "contact").uri;
        let parts = (
            contact.user.as_deref(),
            contact.host.as_deref(),
            contact.port,
        );
        assert_eq!(parts, (Some("anna.lee"), Some("192.0.2.12"), Some(5060)));
    }),
    ("05-user-params.sip", |raw| {
        let msg = parse(raw);
        let target = request_uri(&msg);
        assert_eq!(
            target.user.as_deref(),
            Some("+12125550100;npdi;rn=+12125550199")
        );
        assert_eq!(target.param("user"), Some("phone"));
        for name in ["from", "p-asserted-identity"] {
            let uri = addr(&msg, name).uri;
            assert_eq!(
                uri.user.as_deref(),
                Some("+12125550146;cpc=ordinary"),
                "{name}"
            );
            assert_eq!(uri.host.as_deref(), Some("ims.example.net"), "{name}");
        }
    }),
    ("05b-semiuri-escaped.sip", |raw| {
        let msg = parse(raw);
        let target = request_uri(&msg);
        assert_eq!(target.user.as_deref(), Some("user;par=u@example.net"));
        assert_eq!(target.host.as_deref(), Some("example.com"));
        assert_eq!(addr(&msg, "to").uri, target);
    }),
    ("06-ipv6.sip", |raw| {
        let msg = parse(raw);
        let target = request_uri(&msg);
        assert_eq!(
            (target.host.as_deref(), target.port),
            (Some("[2001:db8::10]"), Some(5060))
        );
        let via = msg.top_via().unwrap();
        assert_eq!(
            (via.host.as_str(), via.port),
            ("[2001:db8::20]", Some(5060))
        );
        assert_eq!(
            (via.param("received"), via.param("rport")),
            (Some("[2001:db8::20]"), Some("5060"))
        );
        let from = addr(&msg, "from");
        assert_eq!(from.display.as_deref(), Some("Lab Phone"));
        assert_eq!(from.uri.user.as_deref(), Some("+12125550147"));
        let contact = addr(&msg, "contact").uri;
        assert_eq!(
            (contact.host.as_deref(), contact.port),
            (Some("[2001:db8::20]"), Some(5060))
        );
    }),
    ("06b-ipv6-port-ambiguous.sip", |raw| {
        let msg = parse(raw);
        let target = request_uri(&msg);
        assert_eq!(
            (target.host.as_deref(), target.port),
            (Some("[2001:db8::9:1]"), None)
        );
        let via = msg.top_via().unwrap();
        assert_eq!((via.host.as_str(), via.port), ("[2001:db8::9:1]", None));
    }),
    ("07a-trailing-octets.sip", |raw| {
        // One datagram: the INVITE counts, the CANCEL after it is ignored.
        let msg = parse(raw);
        assert_eq!((msg.method(), msg.body.len()), (Some("INVITE"), 0));
        assert_eq!(raw.len(), 566);
        assert_eq!(frame(raw), Frame::Message(566 - 283));
        let cancel = parse(&raw[283..]);
        assert_eq!(
            (cancel.method(), cancel.call_id()),
            (Some("CANCEL"), msg.call_id())
        );
    }),
    ("07b-clerr.sip", |raw| {
        let err = Message::parse(raw).unwrap_err();
        assert_eq!(
            err,
            ParseError::BodyTruncated {
                declared: 120,
                present: 5
            }
        );
        // On a stream the same bytes mean: wait for 115 more.
        assert_eq!(frame(raw), Frame::Incomplete);
        let mut longer = raw.to_vec();
        longer.resize(raw.len() + 114, b'x');
        assert_eq!(frame(&longer), Frame::Incomplete);
        longer.push(b'x');
        assert_eq!(frame(&longer), Frame::Message(longer.len()));
    }),
    ("08a-quoted-angle.sip", |raw| {
        let msg = parse(raw);
        let from = addr(&msg, "from");
        assert_eq!(from.display.as_deref(), Some(r#"Smith, J. "Jay" <Acct 7>"#));
        assert_eq!(from.uri.user.as_deref(), Some("+12125550148"));
        assert_eq!(msg.from_tag(), Some("q08a"));
    }),
    ("08b-empty-display.sip", |raw| {
        let from = addr(&parse(raw), "from");
        assert_eq!(
            (from.display, from.uri.user.as_deref()),
            (None, Some("+12125550149"))
        );
    }),
    ("08c-no-lws.sip", |raw| {
        let msg = parse(raw);
        let from = addr(&msg, "from");
        assert_eq!(from.display.as_deref(), Some("Bob Ortiz"));
        assert_eq!(from.uri.user.as_deref(), Some("+12125550150"));
        assert_eq!(addr(&msg, "to").display.as_deref(), Some("Sales"));
    }),
    ("08d-addr-spec-no-brackets.sip", |raw| {
        let msg = parse(raw);
        let from = addr(&msg, "from");
        let (display, user) = (from.display.as_deref(), from.uri.user.as_deref());
        assert_eq!((display, user), (None, Some("+12125550161")));
        assert!(
            from.uri.params.is_empty(),
            "tag is a header parameter, not a uri one"
        );
        assert_eq!(
            (from.param("tag"), msg.from_tag()),
            (Some("q08d"), Some("q08d"))
        );
        assert_eq!(msg.to_tag(), None);
    }),
    ("09a-pai-privacy.sip", |raw| {
        let msg = parse(raw);
        assert_eq!(msg.headers("privacy").collect::<Vec<_>>(), ["id"]);
        let asserted = addr(&msg, "p-asserted-identity").uri;
        assert_eq!(asserted.user.as_deref(), Some("+12125550151"));
        assert_eq!(asserted.param("user"), Some("phone"));
        let from = addr(&msg, "from").uri;
        assert_eq!(
            (from.user.as_deref(), from.host.as_deref()),
            (Some("anonymous"), Some("anonymous.invalid"))
        );
    }),
    ("09b-rpid.sip", |raw| {
        let rpid = addr(&parse(raw), "remote-party-id");
        assert_eq!(rpid.display.as_deref(), Some("Kim Park"));
        assert_eq!(rpid.uri.user.as_deref(), Some("+12125550152"));
        let wanted = params(&[
            ("party", Some("calling")),
            ("screen", Some("yes")),
            ("privacy", Some("off")),
        ]);
        assert_eq!(rpid.params, wanted);
    }),
    ("10-diversion.sip", |raw| {
        let msg = parse(raw);
        let diversion = addr(&msg, "diversion");
        assert_eq!(diversion.uri.user.as_deref(), Some("+12125550160"));
        let wanted = params(&[
            ("reason", Some("no-answer")),
            ("counter", Some("1")),
            ("privacy", Some("off")),
        ]);
        assert_eq!(diversion.params, wanted);
        assert_eq!(addr(&msg, "to").uri.user.as_deref(), Some("+12125550160"));
    }),
    ("11a-invite.sip", |raw| {
        let msg = parse(raw);
        assert_eq!(
            (msg.method(), msg.cseq()),
            (Some("INVITE"), Some((101, "INVITE")))
        );
    }),
    ("11b-cancel-elsewhere.sip", |raw| {
        let msg = parse(raw);
        assert_eq!(
            (msg.method(), msg.cseq()),
            (Some("CANCEL"), Some((101, "CANCEL")))
        );
        assert_eq!(
            msg.headers("reason").count(),
            2,
            "both Reason fields are kept"
        );
    }),
];

#[test]
fn field_cases() {
    let files = fixtures::dir("field/raw", ".sip");
    for (name, raw) in &files {
        let Some((_, check)) = FIELD_CASES.iter().find(|(n, _)| n == name) else {
            panic!("field/raw/{name} has no expectations here");
        };
        check(raw);
    }
    for (name, _) in FIELD_CASES {
        assert!(
            files.iter().any(|(n, _)| n == name),
            "field/raw/{name} is missing"
        );
    }
}

#[test]
fn cancel_matches_its_invite() {
    // Case 11: same Call-ID, From tag, CSeq number and top Via branch; the CSeq method
    // differs, as it must.
    let invite = parse(&fixtures::read("field/raw/11a-invite.sip"));
    let cancel = parse(&fixtures::read("field/raw/11b-cancel-elsewhere.sip"));
    fn key(m: &Message) -> (Option<&str>, Option<&str>, Option<u32>, Option<&str>) {
        (
            m.call_id(),
            m.from_tag(),
            m.cseq().map(|c| c.0),
            m.top_via_branch(),
        )
    }
    assert_eq!(key(&invite), key(&cancel));
    assert_eq!(
        key(&cancel),
        (
            Some("ce-11@192.0.2.2"),
            Some("ce11"),
            Some(101),
            Some("z9hG4bK-ce-11")
        )
    );
}
