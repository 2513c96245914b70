//! Building the responses callpop sends: the request's dialog and transaction
//! headers echoed back, with a To tag when one is wanted.

use super::Message;

/// Builds a response to `request`: every Via in order, From, To (with `;tag=to_tag` added
/// when given and To has no tag yet), Call-ID and CSeq, then `extra`, then
/// `Content-Length: 0`.
pub fn response(
    request: &Message,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");

    for via in request.fields.iter().filter(|f| f.canonical == "via") {
        push_field(&mut out, "Via", &via.value);
    }
    if let Some(from) = request.header("from") {
        push_field(&mut out, "From", from);
    }
    if let Some(to) = request.header("to") {
        match to_tag.filter(|_| request.to_tag().is_none()) {
            Some(tag) => push_field(&mut out, "To", &format!("{to};tag={tag}")),
            None => push_field(&mut out, "To", to),
        }
    }
    for (name, value) in [
        ("Call-ID", request.call_id()),
        ("CSeq", request.header("cseq")),
    ] {
        if let Some(value) = value {
            push_field(&mut out, name, value);
        }
    }

    for (name, value) in extra {
        push_field(&mut out, name, value);
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out.into_bytes()
}

fn push_field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}
