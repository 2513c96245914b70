//! Line ends, folding, start lines, malformed lines and values, and how errors read.

use super::*;

#[test]
fn line_endings_and_folding() {
    // LF-only line ends read the same as CRLF.
    let crlf = fixtures::read("field/raw/02-compact.sip");
    let lf = String::from_utf8(crlf.clone())
        .unwrap()
        .replace("\r\n", "\n");
    assert_eq!(parse(lf.as_bytes()), parse(&crlf));

    // Folding applies to headers only, never to the body.
    let body = "line one\r\n continued?\r\n";
    let raw = String::from_utf8(request_with("Content-Type: text/plain\r\n")).unwrap();
    let raw = raw.replace(
        "Content-Length: 0",
        &format!("Content-Length: {}", body.len()),
    );
    let msg = parse(format!("{raw}{body}").as_bytes());
    assert_eq!(msg.body, body.as_bytes());

    // A fold at the very start of a value, and whitespace-only continuation lines.
    let msg = parse(&request_with("Subject:\r\n \r\n\tfirst\r\n   second\r\n"));
    assert_eq!(msg.header("subject"), Some("first second"));

    // Leading line breaks before the start line are skipped.
    let mut padded = b"\r\n\r\n".to_vec();
    padded.extend(&crlf);
    assert_eq!(parse(&padded), parse(&crlf));
}

fn check_error(raw: &[u8], expected: ParseError) {
    assert_eq!(
        Message::parse(raw),
        Err(expected),
        "{}",
        String::from_utf8_lossy(raw)
    );
}

#[test]
fn malformed_lines() {
    let ok = String::from_utf8(request_with("")).unwrap();
    check_error(b"", ParseError::Empty);
    check_error(b"\r\n\r\n", ParseError::Empty);
    check_error(&ok.as_bytes()[..ok.len() - 2], ParseError::Unterminated);
    let bare_cr = ok.replace("Call-ID: base", "Call-ID: ba\rse");
    check_error(
        bare_cr.as_bytes(),
        ParseError::Line {
            line: 5,
            reason: "carriage return without line feed".into(),
        },
    );
    let first_folded = ok.replace("\r\nVia", "\r\n Via");
    check_error(
        first_folded.as_bytes(),
        ParseError::Line {
            line: 2,
            reason: "continuation line before any header".into(),
        },
    );
    let no_colon = ok.replace("CSeq: 1", "CSeq 1");
    check_error(
        no_colon.as_bytes(),
        ParseError::Line {
            line: 6,
            reason: "no ':' after the header name".into(),
        },
    );
    let bad_name = ok.replace("Call-ID:", "Call ID:");
    check_error(
        bad_name.as_bytes(),
        ParseError::Line {
            line: 5,
            reason: "header name \"Call ID\" is not a token".into(),
        },
    );

    let mut latin1 = request_with("Subject: caf").to_vec();
    let at = latin1.windows(3).position(|w| w == b"caf").unwrap() + 3;
    latin1.insert(at, 0xe9);
    check_error(&latin1, ParseError::NotUtf8 { line: 7 });
}

#[test]
fn start_lines() {
    let ok = String::from_utf8(request_with("")).unwrap();
    let with_start = |line: &str| ok.replacen("OPTIONS sip:201@pbx.example.com SIP/2.0", line, 1);
    let start = |line: &str| Message::parse(with_start(line).as_bytes()).map(|m| m.start);

    assert!(
        start("OPTIONS sip:201@pbx.example.com sip/2.0").is_ok(),
        "version in any case"
    );
    assert_eq!(
        start("OPTIONS sip:201@pbx.example.com SIP/2.1"),
        Err(ParseError::UnsupportedVersion("SIP/2.1".into()))
    );
    assert!(matches!(
        start("OPTIONS sip:201@pbx.example.com HTTP/1.1"),
        Err(ParseError::StartLine(_))
    ));
    assert!(matches!(
        start("OPTIONS sip:201@pbx.example.com"),
        Err(ParseError::StartLine(_))
    ));
    assert!(matches!(
        start("OPT(IONS sip:201@pbx.example.com SIP/2.0"),
        Err(ParseError::StartLine(_))
    ));
    assert!(matches!(
        start("OPTIONS sip:201@[::1 SIP/2.0"),
        Err(ParseError::StartLine(_))
    ));

    let status = |line: &str| {
        start(line).map(|s| match s {
            StartLine::Response { code, reason, .. } => (code, reason),
            other => panic!("{other:?}"),
        })
    };
    assert_eq!(status("SIP/2.0 180 Ringing"), Ok((180, "Ringing".into())));
    assert_eq!(
        status("SIP/2.0 486 Busy Here "),
        Ok((486, "Busy Here ".into()))
    );
    assert_eq!(
        status("SIP/2.0 200"),
        Ok((200, String::new())),
        "reason and its SP missing"
    );
    assert_eq!(
        status("SIP/3.0 200 OK"),
        Err(ParseError::UnsupportedVersion("SIP/3.0".into()))
    );
    for bad in [
        "SIP/2.0 2000 OK",
        "SIP/2.0 099 Low",
        "SIP/2.0 700 High",
        "SIP/2.0 +20 OK",
        "SIP/2.0  200 OK",
    ] {
        assert!(
            matches!(status(bad), Err(ParseError::StartLine(_))),
            "{bad}"
        );
    }
}

#[test]
fn header_values_callpop_relies_on() {
    let check = |extra: &str, ok: bool| {
        let got = Message::parse(&request_with(extra));
        assert_eq!(got.is_ok(), ok, "{extra:?}: {got:?}");
    };
    check("Max-Forwards: 255\r\n", true);
    check("Max-Forwards: 256\r\n", false);
    check("Max-Forwards: -1\r\n", false);
    check("Max-Forwards: 70\r\nMax-Forwards: 70\r\n", true);
    check("Max-Forwards: 70\r\nMax-Forwards: 69\r\n", false);
    check("Contact: *\r\n", true);
    check(
        "Contact: <sip:a@example.com>, ,<sip:b@example.com>\r\n",
        false,
    );
    check("Via: SIP/2.0/UDP\r\n", false);
    check("Via: SIP/2.0/UDP host.example.com extra\r\n", false);
    check(
        "Via: SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK1;rport\r\n",
        true,
    );
    check("Via: SIP/2.0/UDP 2001:db8::1;branch=z9hG4bK1\r\n", false);
    check("l: 0\r\nContent-Length: 00\r\n", true);
    check("Content-Length: 1e3\r\n", false);
    check("Content-Length: 99999999999999999999999\r\n", false);
    check("From: <sip:other@example.com>;tag=2\r\n", false);
    check("f: <sip:100@pbx.example.com>;tag=b1\r\n", true);

    // The CSeq number stays below 2^31 (RFC 3261 §8.1.1.5).
    let cseq = |n: &str| request_with("").replace_cseq(n);
    assert!(Message::parse(&cseq("2147483647 OPTIONS")).is_ok());
    assert!(Message::parse(&cseq("2147483648 OPTIONS")).is_err());
    assert!(Message::parse(&cseq("1 OPTIONS extra")).is_err());
}

trait ReplaceCseq {
    fn replace_cseq(&self, value: &str) -> Vec<u8>;
}

impl ReplaceCseq for Vec<u8> {
    fn replace_cseq(&self, value: &str) -> Vec<u8> {
        fixtures::replace_line(self, "CSeq:", &format!("CSeq: {value}"))
    }
}

#[test]
fn error_messages_read_well() {
    let bad: Vec<Vec<u8>> = [
        "badvers",
        "clerr",
        "ncl",
        "insuf",
        "multi01",
        "mismatch01",
        "quotbal",
    ]
    .iter()
    .map(|name| fixtures::read(&format!("rfc4475/{name}.dat")))
    .chain([
        Vec::new(),
        b"INVITE sip:a@b SIP/2.0\r\n".to_vec(),
        vec![0xff; 8],
    ])
    .collect();
    for raw in bad {
        let text = Message::parse(&raw).unwrap_err().to_string();
        let first = text.chars().next().unwrap();
        assert!(!first.is_uppercase() && !text.ends_with('.'), "{text:?}");
    }
    let frames = [b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n".as_slice()];
    for raw in frames {
        let Frame::Invalid(e) = frame(raw) else {
            panic!("{raw:?}")
        };
        assert_eq!(e.to_string(), "missing content-length header");
    }
}
