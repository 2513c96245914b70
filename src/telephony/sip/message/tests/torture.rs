//! RFC 4475, the SIP torture test messages: each accepted or refused as the RFC wants.

use super::*;

/// What RFC 4475 wants for a message, from `rfc4475/SUMMARY.md`.
enum Must {
    Accept,
    /// Rejected, for the reason the check recognises.
    Reject(fn(&ParseError) -> bool),
    /// Either answer conforms; `true` records that callpop accepts it.
    Either(bool),
}

fn header_error(name: &'static str) -> impl Fn(&ParseError) -> bool {
    move |e| matches!(e, ParseError::Header { name: n, .. } if n == name)
}

const RFC4475: [(&str, Must); 49] = [
    ("wsinv", Must::Accept),
    ("intmeth", Must::Accept),
    ("esc01", Must::Accept),
    ("escnull", Must::Accept),
    ("esc02", Must::Accept),
    ("lwsdisp", Must::Accept),
    ("longreq", Must::Accept),
    ("dblreq", Must::Accept),
    ("semiuri", Must::Accept),
    ("transports", Must::Accept),
    ("mpart01", Must::Accept),
    ("unreason", Must::Accept),
    ("noreason", Must::Accept),
    ("badinv01", Must::Reject(|e| header_error("via")(e))),
    (
        "clerr",
        Must::Reject(|e| matches!(e, ParseError::BodyTruncated { declared: 9999, .. })),
    ),
    ("ncl", Must::Reject(|e| header_error("content-length")(e))),
    ("scalar02", Must::Reject(|e| header_error("cseq")(e))),
    ("scalarlg", Must::Reject(|e| header_error("cseq")(e))),
    ("quotbal", Must::Reject(|e| header_error("to")(e))),
    (
        "ltgtruri",
        Must::Reject(|e| matches!(e, ParseError::StartLine(r) if r.contains("<>"))),
    ),
    (
        "lwsruri",
        Must::Reject(|e| matches!(e, ParseError::StartLine(r) if r.contains("4 elements"))),
    ),
    ("lwsstart", Must::Either(true)),
    ("trws", Must::Either(true)),
    ("escruri", Must::Either(true)),
    ("baddate", Must::Either(true)),
    ("regbadct", Must::Either(true)),
    ("badaspec", Must::Either(true)),
    ("baddn", Must::Reject(|e| header_error("from")(e))),
    ("badvers", Must::Reject(|e| e.is_version())),
    (
        "mismatch01",
        Must::Reject(|e| matches!(e, ParseError::CseqMismatch { .. })),
    ),
    (
        "mismatch02",
        Must::Reject(|e| matches!(e, ParseError::CseqMismatch { .. })),
    ),
    (
        "bigcode",
        Must::Reject(|e| matches!(e, ParseError::StartLine(r) if r.contains("4294967301"))),
    ),
    ("badbranch", Must::Accept),
    (
        "insuf",
        Must::Reject(|e| matches!(e, ParseError::Missing(_))),
    ),
    ("unkscm", Must::Accept),
    ("novelsc", Must::Accept),
    ("unksm2", Must::Accept),
    ("bext01", Must::Accept),
    ("invut", Must::Accept),
    ("regaut01", Must::Accept),
    (
        "multi01",
        Must::Reject(|e| matches!(e, ParseError::Duplicate(_))),
    ),
    (
        "mcl01",
        Must::Reject(|e| *e == ParseError::Duplicate("content-length".into())),
    ),
    ("bcast", Must::Accept),
    ("zeromf", Must::Accept),
    ("cparam01", Must::Accept),
    ("cparam02", Must::Accept),
    ("regescrt", Must::Accept),
    ("sdp01", Must::Accept),
    ("inv2543", Must::Accept),
];

#[test]
fn rfc4475_corpus() {
    let files = fixtures::dir("rfc4475", ".dat");
    assert_eq!(files.len(), RFC4475.len(), "one table row per .dat file");
    for (file, raw) in &files {
        let name = file.trim_end_matches(".dat");
        let Some((_, must)) = RFC4475.iter().find(|(n, _)| *n == name) else {
            panic!("rfc4475/{file} is not in the table");
        };
        match (must, Message::parse(raw)) {
            (Must::Accept | Must::Either(true), Ok(msg)) => check_accepted(name, raw, &msg),
            (Must::Reject(why), Err(e)) => assert!(why(&e), "{name} rejected for {e}"),
            (Must::Either(false), Err(_)) => {}
            (_, got) => panic!("{name}: unexpected {got:?}"),
        }
    }
}

#[test]
fn rfc4475_accepted_messages_mean_what_they_say() {
    // wsinv means exactly what a tidy INVITE would.
    let msg = rfc4475("wsinv");
    assert_eq!(
        (msg.to_tag(), msg.from_tag()),
        (Some("1918181833n"), Some("98asjd8"))
    );
    assert_eq!(
        addr(&msg, "from").display.as_deref(),
        Some(r#"J Rosenberg \""#)
    );
    assert_eq!(
        (msg.cseq(), msg.header("max-forwards")),
        (Some((9, "INVITE")), Some("0068"))
    );
    assert_eq!(msg.top_via_branch(), Some("390skdjuw"));
    let hosts: Vec<String> = msg
        .headers("via")
        .map(|v| parse_via(v).unwrap().host)
        .collect();
    assert_eq!(
        hosts,
        ["192.0.2.2", "spindle.example.com", "192.168.255.111"]
    );
    let branches: Vec<_> = msg
        .headers("via")
        .map(|v| parse_via(v).unwrap().params)
        .collect();
    assert_eq!(branches[2], params(&[("branch", Some("z9hG4bK30239"))]));
    assert_eq!(msg.header("s"), Some(""));
    let folded = "newfangled value continued newfangled value";
    assert_eq!(msg.header("NewFangledHeader"), Some(folded));
    assert_eq!(
        addr(&msg, "contact").display.as_deref(),
        Some(r#"Quoted string """#)
    );
    assert!(msg.body.starts_with(b"v=0\r\n") && msg.body.len() == 150);

    // intmeth: unusual tokens everywhere, and UTF-8 in values.
    let msg = rfc4475("intmeth");
    assert_eq!(
        msg.method(),
        Some("!interesting-Method0123456789_*+`.%indeed'~")
    );
    assert_eq!(
        addr(&msg, "to").display.as_deref(),
        Some("BEL:\x07 NUL:\0 DEL:\x7f")
    );
    assert_eq!(msg.from_tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        msg.header("extensionHeader-!.%*+_`'~"),
        Some("\u{FEFF}大停電")
    );

    // esc01: escapes are undone in URIs, and do not make a sips: URI.
    let msg = rfc4475("esc01");
    let target = request_uri(&msg);
    assert_eq!(
        (target.scheme.as_str(), target.user.as_deref()),
        ("sip", Some("sips:user@example.com"))
    );
    assert_eq!(addr(&msg, "to").uri.user.as_deref(), Some("user"));
    assert_eq!(
        addr(&msg, "from").uri.user.as_deref(),
        Some("I have spaces")
    );
    assert_eq!(msg.header("content-type"), Some("application/sdp"));
    let contact = addr(&msg, "contact").uri;
    assert_eq!(
        contact.params,
        params(&[("lr", None), ("name", Some("value%41"))])
    );

    // escnull: NULs decode and nothing is cut short.
    let msg = rfc4475("escnull");
    let users: Vec<_> = msg
        .headers("contact")
        .map(|c| parse_name_addr(c).unwrap().uri.user)
        .collect();
    assert_eq!(users, [Some("\0".to_string()), Some("\0\0".to_string())]);

    // esc02: '%' that is not an escape, in a method and a header name.
    let msg = rfc4475("esc02");
    assert_eq!(
        (msg.method(), msg.cseq()),
        (Some("RE%47IST%45R"), Some((29344, "RE%47IST%45R")))
    );
    assert_eq!(
        msg.headers("contact").count(),
        2,
        "C%6Fntact is not Contact"
    );
    assert_eq!(
        msg.header("c%6fntact"),
        Some("<sip:alias2@host2.example.com>")
    );
    assert_eq!(addr(&msg, "to").display.as_deref(), Some("%Z%45"));
    assert_eq!(msg.top_via_branch(), Some("z9hG4bK209%fzsnel234"));

    let msg = rfc4475("longreq");
    assert_eq!(msg.headers("via").count(), 34);
    assert_eq!(msg.top_via().unwrap().host, "sip33.example.com");
    assert!(addr(&msg, "to")
        .display
        .unwrap()
        .ends_with("extremeextreme proportion"));

    // dblreq: the REGISTER only; mpart01: a binary body framed by Content-Length.
    assert_eq!(
        (rfc4475("dblreq").method(), rfc4475("dblreq").body.len()),
        (Some("REGISTER"), 0)
    );
    let raw = fixtures::read("rfc4475/mpart01.dat");
    assert_eq!(parse(&raw).body, raw[raw.len() - 553..]);
    assert!(
        parse(&raw)
            .body
            .windows(2)
            .any(|w| w[0] != b'\r' && w[1] == b'\n'),
        "bare LF"
    );

    let msg = rfc4475("semiuri");
    assert_eq!(
        request_uri(&msg).user.as_deref(),
        Some("user;par=u@example.net")
    );
    assert_eq!(msg.headers("accept").count(), 6);

    let msg = rfc4475("transports");
    let transports: Vec<_> = msg
        .headers("via")
        .map(|v| parse_via(v).unwrap().transport)
        .collect();
    assert_eq!(transports, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);

    let msg = rfc4475("unreason");
    let reason = "= 2**3 * 5**2 но сто девяносто девять - простое";
    assert_eq!(
        msg.start,
        StartLine::Response {
            version: "SIP/2.0".into(),
            code: 200,
            reason: reason.into()
        }
    );
    assert_eq!(
        (
            rfc4475("noreason").status(),
            rfc4475("noreason").start.clone()
        ),
        (
            Some(100),
            StartLine::Response {
                version: "SIP/2.0".into(),
                code: 100,
                reason: String::new()
            }
        )
    );

    let contact = addr(&rfc4475("cparam01"), "contact");
    assert_eq!(
        (contact.uri.params.len(), contact.param("unknownparam")),
        (0, Some(""))
    );
    let contact = addr(&rfc4475("cparam02"), "contact");
    assert_eq!(
        (contact.uri.param("unknownparam"), contact.params.len()),
        (Some(""), 0)
    );

    let msg = rfc4475("regescrt");
    assert_eq!(
        addr(&msg, "contact").uri.headers.as_deref(),
        Some("Route=%3Csip:sip.example.com%3E")
    );
    assert_eq!(msg.headers("route").count(), 0);

    let msg = rfc4475("inv2543");
    assert!(msg.header("content-length").is_none() && msg.body.starts_with(b"v=0"));
    assert_eq!((msg.top_via_branch(), msg.from_tag()), (None, None));

    assert_eq!(rfc4475("badbranch").top_via_branch(), Some("z9hG4bK"));
    assert_eq!(rfc4475("zeromf").header("max-forwards"), Some("0"));
    assert_eq!(addr(&rfc4475("unksm2"), "to").uri.scheme, "isbn");
    let hosts: Vec<_> = rfc4475("bcast")
        .headers("via")
        .map(|v| parse_via(v).unwrap().host)
        .collect();
    assert_eq!(hosts, ["192.0.2.198", "255.255.255.255"]);
}

#[test]
fn rfc4475_either_messages_are_not_misread() {
    // escruri, regbadct: the escaped Route stays inside the URI.
    let msg = rfc4475("escruri");
    assert_eq!(msg.headers("route").count(), 0);
    assert_eq!(
        request_uri(&msg).headers.as_deref(),
        Some("Route=%3Csip:example.com%3E")
    );
    let msg = rfc4475("regbadct");
    assert_eq!(msg.headers("route").count(), 0);
    let contact = addr(&msg, "contact");
    assert_eq!(
        contact.uri.headers.as_deref(),
        Some("Route=%3Csip:sip.example.com%3E")
    );
    assert_eq!(contact.uri.user.as_deref(), Some("user"));

    // lwsstart, trws: the same three elements as a tidy request line.
    for name in ["lwsstart", "trws"] {
        let StartLine::Request { uri, version, .. } = rfc4475(name).start else {
            panic!("{name}")
        };
        assert!(
            uri.starts_with("sip:") && !uri.contains(' '),
            "{name}: {uri:?}"
        );
        assert_eq!(version, "SIP/2.0", "{name}");
    }

    let to = addr(&rfc4475("badaspec"), "to");
    assert_eq!(
        (to.display.as_deref(), to.uri.user.as_deref()),
        (Some("Watson, Thomas"), Some("t.watson"))
    );
    assert_eq!(
        rfc4475("baddate").header("date"),
        Some("Fri, 01 Jan 2010 16:00:00 EST")
    );
}
