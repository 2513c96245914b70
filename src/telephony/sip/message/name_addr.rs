//! Addresses as To, From, Contact and the identity headers write them: a
//! name-addr (`"Name" <uri>;params`) or a bare addr-spec (`uri;params`).

use super::params::{find_param, parse_params, Param};
use super::text::{find_outside, is_token_byte, quotes_balanced, split_first_outside, WSP};
use super::uri::{parse_uri, Uri};
use super::ParseError;

/// A name-addr (`"Name" <uri>;params`) or a bare addr-spec (`uri;params`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name unquoted with `\x` escapes undone, otherwise exactly as sent;
    /// `None` when absent or empty.
    pub display: Option<String>,
    pub uri: Uri,
    /// Header parameters: after `>`, or after the addr-spec (RFC 3261 §20.10).
    pub params: Vec<Param>,
}

impl NameAddr {
    /// A header parameter's value; `Some("")` for a parameter without a value.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }
}

/// Parses a name-addr or addr-spec as To, From, Contact and the identity headers use.
pub fn parse_name_addr(s: &str) -> Result<NameAddr, ParseError> {
    let s = s.trim_matches(WSP);
    if !quotes_balanced(s) {
        return Err(ParseError::NameAddr("unterminated quoted string".into()));
    }
    match find_outside(s, b'<') {
        Some(lt) => bracketed_name_addr(&s[..lt], &s[lt + 1..]),
        None => bare_addr_spec(s),
    }
}

/// `display <uri> ;params`, given the text before '<' and the text after it.
fn bracketed_name_addr(display: &str, rest: &str) -> Result<NameAddr, ParseError> {
    let display = parse_display(display)?;
    let gt = rest
        .find('>')
        .ok_or_else(|| ParseError::NameAddr("no '>' after '<'".into()))?;

    // Spaces inside <...> are invalid (RFC 4475 badaspec) but cannot change what the URI
    // says, so they are dropped rather than losing the call.
    let uri = parse_uri(rest[..gt].trim_matches(WSP))?;

    let after = rest[gt + 1..].trim_start_matches(WSP);
    let params = match after.strip_prefix(';') {
        Some(params) => parse_params(params)?,
        None if after.is_empty() => Vec::new(),
        None => {
            return Err(ParseError::NameAddr(format!(
                "unexpected {after:?} after '>'"
            )))
        }
    };
    Ok(NameAddr {
        display,
        uri,
        params,
    })
}

/// `uri;params` without brackets: every ';' parameter belongs to the header (RFC 3261
/// §20.10). A `?` part is read as part of the URI, as if it had been bracketed (RFC 4475
/// regbadct allows that reading).
fn bare_addr_spec(s: &str) -> Result<NameAddr, ParseError> {
    let (uri, params) = split_first_outside(s, b';');
    let uri = parse_uri(uri.trim_end_matches(WSP))?;
    let params = params.map(parse_params).transpose()?.unwrap_or_default();
    Ok(NameAddr {
        display: None,
        uri,
        params,
    })
}

/// A display name: quoted strings unquoted and unescaped, tokens and the whitespace
/// between them kept as sent, leading and trailing whitespace dropped.
fn parse_display(raw: &str) -> Result<Option<String>, ParseError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.trim_matches(WSP).chars();
    let mut quoted = false;

    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            // A quoted-pair may escape any character but CR and LF, which cannot get here.
            '\\' if quoted => out.push(chars.next().unwrap_or('\\')),
            c if quoted || is_display_char(c) => out.push(c),
            c => {
                let reason = format!("display name has {c:?} outside quotes");
                return Err(ParseError::NameAddr(reason));
            }
        }
    }
    Ok(Some(out).filter(|name| !name.is_empty()))
}

/// Characters allowed in an unquoted display name: tokens and LWS. Non-ASCII text is
/// accepted too, because PBXs send unquoted UTF-8 names and it holds no SIP delimiter.
fn is_display_char(c: char) -> bool {
    c == ' ' || c == '\t' || !c.is_ascii() || is_token_byte(c as u8)
}
