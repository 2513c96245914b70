//! Parameters after ';' in header values: `name[=value]` lists, quoted values
//! unquoted, and looking one up by name.

use super::text::{is_token, SplitOutside, WSP};
use super::ParseError;

/// A parameter as `name` or `name=value`, the name as written.
pub type Param = (String, Option<String>);

/// Parses `name[=value]` parameters separated by ';', the text after the first ';'.
/// Whitespace around ';' and '=' is allowed; quoted values are unquoted. An empty
/// parameter (`;;`, or a trailing ';') is an error (RFC 4475 badinv01).
pub fn parse_params(s: &str) -> Result<Vec<Param>, ParseError> {
    SplitOutside {
        rest: Some(s),
        separator: Some(b';'),
    }
    .map(parse_param)
    .collect()
}

fn parse_param(raw: &str) -> Result<Param, ParseError> {
    let raw = raw.trim_matches(WSP);
    let (name, value) = match raw.split_once('=') {
        Some((name, value)) => (name.trim_matches(WSP), Some(value.trim_matches(WSP))),
        None => (raw, None),
    };
    if name.is_empty() {
        return Err(ParseError::Param("empty parameter".into()));
    }
    if !is_token(name) {
        return Err(ParseError::Param(format!(
            "parameter name {name:?} is not a token"
        )));
    }
    Ok((name.to_string(), value.map(param_value_text).transpose()?))
}

/// A parameter value: a quoted string unquoted, anything else as written. An empty value
/// after '=' is accepted: it carries nothing, and refusing it would drop the message.
fn param_value_text(value: &str) -> Result<String, ParseError> {
    if value.starts_with('"') {
        return unquote(value).map_err(ParseError::Param);
    }
    if value.contains('"') {
        return Err(ParseError::Param(format!("stray quote in value {value:?}")));
    }
    Ok(value.to_string())
}

/// The text of a whole quoted string with its `\x` escapes undone.
fn unquote(s: &str) -> Result<String, String> {
    let mut chars = s.strip_prefix('"').unwrap_or(s).chars();
    let mut out = String::with_capacity(s.len());
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or("quoted string ends in a backslash")?),
            '"' if chars.as_str().is_empty() => return Ok(out),
            '"' => return Err(format!("text after the closing quote of {s:?}")),
            c => out.push(c),
        }
    }
    Err(format!("unterminated quoted string {s:?}"))
}

pub(super) fn find_param<'a>(params: &'a [Param], name: &str) -> Option<&'a str> {
    let (_, value) = params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    Some(value.as_deref().unwrap_or(""))
}
