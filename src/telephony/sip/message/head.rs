//! The header section: finding the empty line that ends it, and reading its
//! lines into unfolded `name: value` fields.

use super::names::canonical_name;
use super::text::{is_token, WSP};
use super::{Header, ParseError};

/// Skips CR and LF bytes at the start.
pub(super) fn skip_line_breaks(bytes: &[u8]) -> &[u8] {
    let breaks = bytes
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    &bytes[breaks..]
}

/// The length of the header section including the empty line that ends it, if it is all
/// there. A bare LF is read as a line end too: it cannot be part of a valid header, and
/// some tools and log replays write LF only.
pub(super) fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == b'\n') {
        let lf = from + i;
        match bytes.get(lf + 1..) {
            Some([b'\n', ..]) => return Some(lf + 2),
            Some([b'\r', b'\n', ..]) => return Some(lf + 3),
            _ => from = lf + 1,
        }
    }
    None
}

/// The start line and the unfolded header fields of a header section.
pub(super) struct Head<'a> {
    pub(super) start: &'a str,
    pub(super) fields: Vec<Header>,
}

/// Reads a header section that [`head_end`] delimited.
///
/// Invalid UTF-8 is an error rather than decoded lossily: a lossy decode could make two
/// different Call-IDs or tags compare equal, and SIP text is UTF-8 (RFC 3261 §7.3.1).
pub(super) fn read_head(head: &[u8]) -> Result<Head<'_>, ParseError> {
    let text = std::str::from_utf8(head).map_err(|e| {
        let line = head[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        ParseError::NotUtf8 { line }
    })?;

    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    let (_, start) = lines.next().ok_or(ParseError::Empty)?;
    let fields = unfold(lines.take_while(|(_, line)| !line.is_empty()))?;
    Ok(Head { start, fields })
}

/// Joins continuation lines (starting with SP or HTAB) to the field before them with one
/// SP (RFC 3261 §7.3.1), and splits each field at its colon.
fn unfold<'a>(lines: impl Iterator<Item = (usize, &'a str)>) -> Result<Vec<Header>, ParseError> {
    let mut fields: Vec<Header> = Vec::new();
    for (number, line) in lines {
        // CR may only come before LF; a bare one would let a value hide a line break.
        if line.contains('\r') {
            return Err(line_error(number, "carriage return without line feed"));
        }
        if !line.starts_with(WSP) {
            fields.push(split_field(number, line)?);
            continue;
        }
        let Some(last) = fields.last_mut() else {
            return Err(line_error(number, "continuation line before any header"));
        };
        append_continuation(&mut last.value, line.trim_matches(WSP));
    }
    Ok(fields)
}

fn append_continuation(value: &mut String, more: &str) {
    if more.is_empty() {
        return;
    }
    if !value.is_empty() {
        value.push(' ');
    }
    value.push_str(more);
}

/// `name: value`, allowing SP/HTAB before the colon (HCOLON, RFC 3261 §25.1).
fn split_field(number: usize, line: &str) -> Result<Header, ParseError> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(line_error(number, "no ':' after the header name"));
    };
    let name = name.trim_end_matches(WSP);
    if !is_token(name) {
        return Err(line_error(
            number,
            format!("header name {name:?} is not a token"),
        ));
    }

    let value = value.trim_matches(WSP).to_string();
    Ok(Header {
        name: name.to_string(),
        canonical: canonical_name(name),
        value,
    })
}

fn line_error(line: usize, reason: impl Into<String>) -> ParseError {
    ParseError::Line {
        line,
        reason: reason.into(),
    }
}
