//! Stream framing: keep-alives, whole messages, limits, and bytes however they arrive.

use super::*;

#[derive(Debug, PartialEq)]
pub(super) enum Event {
    Skip(usize),
    Message(Vec<u8>),
    Invalid(ParseError),
}

/// Feeds `bytes` to [`frame`] in pieces of `chunk` bytes, as a stream reader would.
pub(super) fn stream(bytes: &[u8], chunk: usize) -> Vec<Event> {
    let mut buf = Vec::new();
    let mut events = Vec::new();
    for piece in bytes.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match frame(&buf) {
                Frame::Incomplete => break,
                Frame::KeepAlive(n) => {
                    assert!(n > 0 && n <= buf.len());
                    buf.drain(..n);
                    match events.last_mut() {
                        Some(Event::Skip(skipped)) => *skipped += n,
                        _ => events.push(Event::Skip(n)),
                    }
                }
                Frame::Message(n) => {
                    assert!(n > 0 && n <= buf.len());
                    events.push(Event::Message(buf.drain(..n).collect()));
                }
                Frame::Invalid(e) => {
                    events.push(Event::Invalid(e));
                    return events;
                }
            }
        }
    }
    events
}

#[test]
fn field_07c_keepalive_then_two_messages() {
    let datagram = fixtures::read("field/raw/07a-trailing-octets.sip");
    let mut bytes = b"\r\n\r\n".to_vec();
    bytes.extend(&datagram);
    let expected = vec![
        Event::Skip(4),
        Event::Message(datagram[..283].to_vec()),
        Event::Message(datagram[283..].to_vec()),
    ];
    assert_eq!(stream(&bytes, bytes.len()), expected);
    assert_eq!(stream(&bytes, 1), expected);

    let Event::Message(cancel) = &expected[2] else {
        unreachable!()
    };
    assert_eq!(parse(cancel).method(), Some("CANCEL"));
}

#[test]
fn frame_decisions() {
    assert_eq!(frame(b""), Frame::Incomplete);
    assert_eq!(frame(b"\r\n"), Frame::KeepAlive(2));
    assert_eq!(frame(b"\nINVITE sip:a@b SIP/2.0\r\n"), Frame::KeepAlive(1));
    assert_eq!(
        frame(b"INVITE sip:a@b SIP/2.0\r\nl: 0\r\n\r"),
        Frame::Incomplete
    );
    assert_eq!(
        frame(b"INVITE sip:a@b SIP/2.0\r\nl: 0\r\n\r\nX"),
        Frame::Message(32)
    );
    assert_eq!(
        frame(b"INVITE sip:a@b SIP/2.0\nl: 2\n\nab"),
        Frame::Message(31)
    );

    let framing_error = |name: &str| match frame(&fixtures::read(&format!("rfc4475/{name}.dat"))) {
        Frame::Invalid(e) => e,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(
        framing_error("inv2543"),
        ParseError::Missing("content-length")
    );
    let ncl = framing_error("ncl");
    assert!(matches!(ncl, ParseError::Header { name, .. } if name == "content-length"));
    assert_eq!(
        framing_error("mcl01"),
        ParseError::Duplicate("content-length".into())
    );
    assert_eq!(
        frame(&fixtures::read("rfc4475/clerr.dat")),
        Frame::Incomplete
    );

    let huge_body = format!("INVITE sip:a@b SIP/2.0\r\nl: {}\r\n\r\n", MAX_BODY + 1);
    assert_eq!(
        frame(huge_body.as_bytes()),
        Frame::Invalid(ParseError::TooLarge {
            what: "body",
            limit: MAX_BODY
        })
    );
    let endless = vec![b'a'; MAX_HEAD];
    let too_large = Frame::Invalid(ParseError::TooLarge {
        what: "header section",
        limit: MAX_HEAD,
    });
    assert_eq!(frame(&endless[..MAX_HEAD - 1]), Frame::Incomplete);
    assert_eq!(frame(&endless), too_large);
}

#[test]
fn streams_frame_the_same_however_they_arrive() {
    for (name, raw) in fixtures::corpus() {
        let whole = stream(&raw, raw.len().max(1));
        assert_eq!(stream(&raw, 1), whole, "{name} byte by byte");
        assert_eq!(stream(&raw, 7), whole, "{name} in pieces of 7");

        // A datagram that parses and carries Content-Length reads the same off a stream.
        let datagram = Message::parse(&raw);
        if datagram
            .as_ref()
            .is_ok_and(|m| m.header("content-length").is_some())
        {
            let Some(Event::Message(first)) = whole.first() else {
                panic!("{name}: {whole:?}")
            };
            assert_eq!(Message::parse(first), datagram, "{name}");
        }
    }
}

#[test]
fn every_prefix_of_a_message_is_incomplete() {
    for (name, raw) in fixtures::corpus() {
        let Frame::Message(len) = frame(&raw) else {
            continue;
        };
        for cut in 0..len {
            assert_eq!(frame(&raw[..cut]), Frame::Incomplete, "{name} cut at {cut}");
            assert!(
                Message::parse(&raw[..cut]).is_err(),
                "{name} cut at {cut} parsed"
            );
        }
    }
}
