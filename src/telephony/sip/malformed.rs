//! The answer to a message that did not parse: 400 (or 505 for another SIP
//! version) when enough of it can be read to address a reply, else nothing.
//!
//! The reply copies back the request's Via, From, To, Call-ID and CSeq. They
//! are picked out line by line here, leniently, because the parser refused
//! the message as a whole. Via and CSeq are needed, since they are what the
//! sender matches the answer to its request by (RFC 3261 §17.1.3); From, To
//! and Call-ID are copied when present, and a request that lacks them is
//! still told why it failed (RFC 4475 §3.3.1).

use super::message::ParseError;

/// Headers a reply copies, by full and compact name.
const COPIED: [(&str, Option<&str>); 5] = [
    ("via", Some("v")),
    ("from", Some("f")),
    ("to", Some("t")),
    ("call-id", Some("i")),
    ("cseq", None),
];

/// Headers without which the sender cannot match a reply to its request.
const MATCHED_BY: [&str; 2] = ["via", "cseq"];

pub fn answer(bytes: &[u8], error: &ParseError) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    // Any CR or LF ends a line here, so nothing the sender hid behind a bare
    // one can come back as a header of the answer.
    let mut lines = head.split(['\r', '\n']).filter(|line| !line.is_empty());

    // Only requests get answers, and never an ACK.
    let first = lines.next()?;
    if first.starts_with("SIP/") || first.starts_with("ACK ") {
        return None;
    }

    let mut copied: Vec<(String, String)> = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let full = COPIED
            .iter()
            .find(|(full, short)| *full == name || *short == Some(&name));
        if let Some((full, _)) = full {
            copied.push((full.to_string(), value.trim().to_owned()));
        }
    }
    for needed in MATCHED_BY {
        if !copied.iter().any(|(name, _)| name == needed) {
            return None;
        }
    }
    // In the usual order, each kind of header together.
    copied.sort_by_key(|(name, _)| COPIED.iter().position(|(full, _)| full == name));

    let status = if error.is_version() {
        "505 Version Not Supported"
    } else {
        "400 Bad Request"
    };
    let mut out = format!("SIP/2.0 {status}\r\n");
    for (name, value) in copied {
        out.push_str(&format!("{}: {value}\r\n", header_case(&name)));
    }
    let warning: String = error
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect();
    out.push_str(&format!(
        "Warning: 399 callpop \"{}\"\r\n",
        warning.replace('"', "'")
    ));
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

fn header_case(name: &str) -> &'static str {
    match name {
        "via" => "Via",
        "from" => "From",
        "to" => "To",
        "call-id" => "Call-ID",
        _ => "CSeq",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telephony::sip::message::Message;

    fn answer_to(raw: &str) -> Option<String> {
        let error = Message::parse(raw.as_bytes()).unwrap_err();
        answer(raw.as_bytes(), &error).map(|a| String::from_utf8(a).unwrap())
    }

    #[test]
    fn a_request_missing_from_to_and_call_id_still_gets_400() {
        let raw =
            "INVITE sip:201@x SIP/2.0\r\nCSeq: 7 INVITE\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\n\
                   Content-Length: 0\r\n\r\n";
        let answer = answer_to(raw).unwrap();
        assert!(
            answer.starts_with("SIP/2.0 400 Bad Request\r\n"),
            "{answer}"
        );
        assert!(answer.contains("\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\nCSeq: 7 INVITE\r\n"));
        assert!(!answer.contains("Call-ID"), "{answer}");
    }

    #[test]
    fn a_bare_cr_or_lf_never_smuggles_a_header_into_the_answer() {
        let raw = "OPTIONS sip:201@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\n\
                   From: <sip:a@x>;tag=1\nX-Injected: evil\rY-Injected: cr\r\n\
                   To: <sip:201@x>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\n\r\n";
        let answer = answer_to(raw).unwrap();
        for line in answer.split("\r\n") {
            assert!(!line.contains('\n') && !line.contains('\r'), "{answer:?}");
            assert!(!line.starts_with("X-Injected") && !line.starts_with("Y-Injected"));
        }
        assert!(
            answer.contains("\r\nFrom: <sip:a@x>;tag=1\r\n"),
            "{answer:?}"
        );
    }

    #[test]
    fn without_via_or_cseq_nothing_can_be_answered() {
        let no_cseq = "INVITE sip:201@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\n\r\n";
        let no_via = "INVITE sip:201@x SIP/2.0\r\nCSeq: 7 INVITE\r\n\r\n";
        assert_eq!(answer_to(no_cseq), None);
        assert_eq!(answer_to(no_via), None);
    }
}
