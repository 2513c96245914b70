//! The answer to a message that did not parse: 400 (or 505 for another SIP
//! version) when enough of it can be read to address a reply, else nothing.
//!
//! The reply needs the request's Via, From, To, Call-ID and CSeq copied
//! back. They are picked out line by line here, leniently, because the
//! parser refused the message as a whole.

use super::message::ParseError;

/// Headers a reply copies, by full and compact name.
const COPIED: [(&str, Option<&str>); 5] = [
    ("via", Some("v")),
    ("from", Some("f")),
    ("to", Some("t")),
    ("call-id", Some("i")),
    ("cseq", None),
];

pub fn answer(bytes: &[u8], error: &ParseError) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n");

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
    for (full, _) in COPIED {
        if !copied.iter().any(|(name, _)| name == full) {
            return None;
        }
    }

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
