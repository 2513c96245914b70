//! The first line of a message: a request line or a status line, and the
//! SIP version both carry.

use super::text::is_token;
use super::uri::parse_uri;
use super::{ParseError, StartLine};

pub(super) fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    let is_status = line
        .as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"));
    if is_status {
        parse_status_line(line)
    } else {
        parse_request_line(line)
    }
}

fn start_error(reason: impl Into<String>) -> ParseError {
    ParseError::StartLine(reason.into())
}

/// `SIP/2.0 SP code SP reason`. A status line without the SP before an empty reason is
/// accepted: the code alone says what happened.
fn parse_status_line(line: &str) -> Result<StartLine, ParseError> {
    let (version, rest) = line.split_once(' ').unwrap_or((line, ""));
    check_version(version)?;

    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let three_digits = code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit());
    let code = match code.parse::<u16>() {
        Ok(n) if three_digits && (100..700).contains(&n) => n,
        _ => {
            return Err(start_error(format!(
                "status code {code:?} is not 100 to 699"
            )))
        }
    };

    let (version, reason) = (version.to_string(), reason.to_string());
    Ok(StartLine::Response {
        version,
        code,
        reason,
    })
}

/// `method SP Request-URI SP SIP/2.0`. Runs of SP between the elements and after the
/// version are accepted (RFC 4475 lwsstart, trws allow either answer): no element can
/// contain SP, so nothing is misread. An SP inside the URI still gives four elements.
fn parse_request_line(line: &str) -> Result<StartLine, ParseError> {
    let parts: Vec<&str> = line.split(' ').filter(|p| !p.is_empty()).collect();
    let [method, uri, version] = parts[..] else {
        let found = parts.len();
        return Err(start_error(format!(
            "{found} elements, not method, uri and version"
        )));
    };

    if !is_token(method) {
        return Err(start_error(format!("method {method:?} is not a token")));
    }
    check_version(version)?;
    if uri.starts_with('<') {
        return Err(start_error("the request-uri must not be enclosed in <>"));
    }
    parse_uri(uri).map_err(|e| start_error(format!("request-uri: {e}")))?;

    let (method, uri, version) = (method.to_string(), uri.to_string(), version.to_string());
    Ok(StartLine::Request {
        method,
        uri,
        version,
    })
}

/// SIP/2.0 in any case (RFC 3261 §7.1); `SIP/x.y` is an unsupported version.
fn check_version(version: &str) -> Result<(), ParseError> {
    if version.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    let number = version
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("SIP/"))
        .map(|_| &version[4..]);
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match number.and_then(|n| n.split_once('.')) {
        Some((major, minor)) if numeric(major) && numeric(minor) => {
            Err(ParseError::UnsupportedVersion(version.to_string()))
        }
        _ => Err(start_error(format!("{version:?} is not a sip version"))),
    }
}
