//! The checks that make a parsed message safe to act on: the headers every
//! message needs, single values, the values callpop relies on, and the body's
//! length.

use super::name_addr::parse_name_addr;
use super::text::{is_token, parse_decimal, SplitOutside, WSP};
use super::via::parse_via;
use super::{Header, ParseError, StartLine};

/// Headers every message needs to be matched to a call and a transaction (RFC 3261 §8.1.1).
const MANDATORY: [&str; 5] = ["via", "from", "to", "call-id", "cseq"];

/// Headers that hold one value. Content-Length is compared by number in `content_length`.
const SINGLE: [&str; 5] = ["from", "to", "call-id", "cseq", "max-forwards"];

/// The checks that make a parsed message safe to act on.
pub(super) fn check_fields(start: &StartLine, fields: &[Header]) -> Result<(), ParseError> {
    for name in SINGLE {
        let mut values = fields
            .iter()
            .filter(|f| f.canonical == name)
            .map(|f| &f.value);
        // The same value twice is harmless; two different ones leave no way to tell
        // which counts (RFC 4475 multi01).
        if let Some(first) = values.next() {
            if values.any(|v| v != first) {
                return Err(ParseError::Duplicate(name.to_string()));
            }
        }
    }
    if let Some(missing) = MANDATORY
        .iter()
        .find(|&&n| !fields.iter().any(|f| f.canonical == n))
    {
        return Err(ParseError::Missing(missing));
    }

    for field in fields {
        check_value(field)?;
    }
    match start {
        StartLine::Request { method, .. } => check_cseq_method(method, fields),
        StartLine::Response { .. } => Ok(()),
    }
}

/// Checks the value of a header callpop relies on; other headers pass as they are.
fn check_value(field: &Header) -> Result<(), ParseError> {
    let value = field.value.as_str();
    let checked = match field.canonical.as_str() {
        "to" | "from" => parse_name_addr(value).map(drop).map_err(|e| e.to_string()),
        "contact" => check_contact(value),
        "via" => check_via(value),
        "cseq" => parse_cseq(value).map(drop),
        "max-forwards" => check_max_forwards(value),
        "content-length" => parse_content_length(value).map(drop),
        "call-id" if value.is_empty() => Err("empty call-id".into()),
        _ => Ok(()),
    };
    checked.map_err(|reason| ParseError::Header {
        name: field.canonical.clone(),
        reason,
    })
}

/// `*`, or a list of name-addrs without empty elements (RFC 4475 badinv01).
fn check_contact(value: &str) -> Result<(), String> {
    if value == "*" {
        return Ok(());
    }
    for item in (SplitOutside {
        rest: Some(value),
        separator: Some(b','),
    }) {
        let item = item.trim_matches(WSP);
        if item.is_empty() {
            return Err("empty element in the contact list".into());
        }
        parse_name_addr(item).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn check_via(value: &str) -> Result<(), String> {
    for hop in (SplitOutside {
        rest: Some(value),
        separator: Some(b','),
    }) {
        if hop.trim_matches(WSP).is_empty() {
            return Err("empty element in the via list".into());
        }
        parse_via(hop).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `number method`, the number below 2^31 (RFC 3261 §8.1.1.5, RFC 4475 scalar02).
pub(super) fn parse_cseq(value: &str) -> Result<(u32, &str), String> {
    let mut words = value.split(WSP).filter(|w| !w.is_empty());
    let (Some(number), Some(method), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("{value:?} is not a sequence number and a method"));
    };
    let Some(number) = parse_decimal(number).filter(|&n| n < 1 << 31) else {
        return Err(format!(
            "sequence number {number:?} is not a number below 2^31"
        ));
    };
    if !is_token(method) {
        return Err(format!("method {method:?} is not a token"));
    }
    Ok((number as u32, method))
}

fn check_max_forwards(value: &str) -> Result<(), String> {
    match parse_decimal(value) {
        Some(hops) if hops <= 255 => Ok(()),
        _ => Err(format!("{value:?} is not a number from 0 to 255")),
    }
}

fn parse_content_length(value: &str) -> Result<usize, String> {
    parse_decimal(value)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("{value:?} is not a non-negative number of octets"))
}

/// A request's CSeq method must be its own method. ACK and CANCEL carry ACK and CANCEL
/// there too (RFC 3261 §17.1.1.3, §9.1), so there are no exceptions.
fn check_cseq_method(method: &str, fields: &[Header]) -> Result<(), ParseError> {
    let cseq = fields
        .iter()
        .find(|f| f.canonical == "cseq")
        .map(|f| parse_cseq(&f.value));
    match cseq {
        Some(Ok((_, cseq))) if cseq != method => Err(ParseError::CseqMismatch {
            method: method.into(),
            cseq: cseq.into(),
        }),
        _ => Ok(()),
    }
}

/// The Content-Length, if any. Two fields that say different numbers are an error
/// (RFC 4475 mcl01).
pub(super) fn content_length(fields: &[Header]) -> Result<Option<usize>, ParseError> {
    let mut declared = None;
    for field in fields.iter().filter(|f| f.canonical == "content-length") {
        let len = parse_content_length(&field.value).map_err(|reason| ParseError::Header {
            name: "content-length".into(),
            reason,
        })?;
        if declared.is_some_and(|d| d != len) {
            return Err(ParseError::Duplicate("content-length".into()));
        }
        declared = Some(len);
    }
    Ok(declared)
}

pub(super) fn datagram_body(fields: &[Header], rest: &[u8]) -> Result<Vec<u8>, ParseError> {
    match content_length(fields)? {
        // Octets after the declared body are ignored (RFC 4475 dblreq).
        Some(len) => match rest.get(..len) {
            Some(body) => Ok(body.to_vec()),
            None => Err(ParseError::BodyTruncated {
                declared: len,
                present: rest.len(),
            }),
        },
        // Without Content-Length a datagram's body runs to its end (RFC 3261 §18.3).
        None => Ok(rest.to_vec()),
    }
}
