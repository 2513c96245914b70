//! URIs as the request line and the identity headers carry them: sip:, sips:
//! and tel: read in full, other schemes kept opaque.

use std::net::Ipv6Addr;

use super::params::{find_param, Param};
use super::text::{is_scheme, parse_decimal};
use super::ParseError;

/// A URI as the identity headers use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    /// Lower-case: `sip`, `sips`, `tel`, or any other scheme, kept opaque.
    pub scheme: String,
    /// The user part, percent-decoded, user parameters included (`+1555;cpc=ordinary`);
    /// for tel: the number as written. `None` for other schemes.
    pub user: Option<String>,
    /// The host as written; an IPv6 reference keeps its brackets.
    pub host: Option<String>,
    pub port: Option<u16>,
    /// URI parameters, names and values percent-decoded.
    pub params: Vec<Param>,
    /// The `?` part exactly as written, still escaped. It is never read as header fields.
    pub headers: Option<String>,
}

impl Uri {
    /// A parameter's value; `Some("")` for a parameter without a value.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }
}

/// Parses a URI. sip:, sips: and tel: are read in full; other schemes only need a valid
/// scheme and no whitespace, quotes or angle brackets, and are kept opaque.
pub fn parse_uri(s: &str) -> Result<Uri, ParseError> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"');
    if let Some(c) = s.chars().find(|&c| bad(c)) {
        return Err(ParseError::Uri(format!("{c:?} is not allowed in a uri")));
    }
    let (scheme, rest) = s
        .split_once(':')
        .ok_or_else(|| uri_error(format!("{s:?} has no scheme")))?;
    if !is_scheme(scheme) {
        return Err(uri_error(format!("{scheme:?} is not a uri scheme")));
    }

    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "sip" | "sips" => sip_uri(scheme, rest),
        "tel" => tel_uri(rest),
        _ if rest.is_empty() => Err(uri_error(format!("nothing after {scheme}:"))),
        _ => Ok(Uri {
            scheme,
            user: None,
            host: None,
            port: None,
            params: vec![],
            headers: None,
        }),
    }
}

fn uri_error(reason: impl Into<String>) -> ParseError {
    ParseError::Uri(reason.into())
}

/// `[user[:password]@]host[:port][;params][?headers]`.
fn sip_uri(scheme: String, rest: &str) -> Result<Uri, ParseError> {
    // The user part may hold ';', '?', ',' and '/' (RFC 3261 §25.1) but never a raw '@',
    // so the first '@' ends it.
    let (user, after) = match rest.split_once('@') {
        Some((userinfo, after)) => (Some(sip_user(userinfo)?), after),
        None => (None, rest),
    };

    let host_end = after.find([';', '?']).unwrap_or(after.len());
    let (host, port) = parse_hostport(&after[..host_end]).map_err(ParseError::Uri)?;
    let (params, headers) = uri_tail(&after[host_end..])?;
    Ok(Uri {
        scheme,
        user,
        host: Some(host),
        port,
        params,
        headers,
    })
}

/// The user of a userinfo, percent-decoded. A password after ':' is not recommended
/// (RFC 3261 §19.1.1) and callpop has no use for one, so it is dropped.
fn sip_user(userinfo: &str) -> Result<String, ParseError> {
    let user = userinfo.split(':').next().unwrap_or_default();
    if user.is_empty() {
        return Err(uri_error("empty user part before '@'"));
    }
    Ok(percent_decode(user))
}

/// `tel:number;params` (RFC 3966). The number keeps its visual separators here.
fn tel_uri(rest: &str) -> Result<Uri, ParseError> {
    let number_end = rest.find([';', '?']).unwrap_or(rest.len());
    let number = &rest[..number_end];
    let phone_char = |c: char| c.is_ascii_hexdigit() || "+-.()*#".contains(c);
    if number.is_empty() || !number.chars().all(phone_char) {
        return Err(uri_error(format!("{number:?} is not a telephone number")));
    }

    let (params, headers) = uri_tail(&rest[number_end..])?;
    let user = Some(percent_decode(number));
    Ok(Uri {
        scheme: "tel".into(),
        user,
        host: None,
        port: None,
        params,
        headers,
    })
}

/// Splits `;params?headers` after the host.
fn uri_tail(tail: &str) -> Result<(Vec<Param>, Option<String>), ParseError> {
    let (params, headers) = match tail.split_once('?') {
        Some((params, headers)) => (params, Some(headers.to_string())),
        None => (tail, None),
    };
    let params = match params.strip_prefix(';') {
        Some(params) => params.split(';').map(uri_param).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok((params, headers))
}

fn uri_param(raw: &str) -> Result<Param, ParseError> {
    let (name, value) = match raw.split_once('=') {
        Some((name, value)) => (name, Some(percent_decode(value))),
        None => (raw, None),
    };
    if name.is_empty() {
        return Err(uri_error("empty uri parameter"));
    }
    Ok((percent_decode(name), value))
}

/// `host[:port]`, where host may be a bracketed IPv6 reference. The port is what follows
/// the host, so `[2001:db8::9:1]` has none and `[2001:db8::9]:1` has port 1 (RFC 5118).
pub(super) fn parse_hostport(s: &str) -> Result<(String, Option<u16>), String> {
    let host_end = if s.starts_with('[') {
        s.find(']').ok_or("ipv6 reference without ']'")? + 1
    } else {
        s.find(':').unwrap_or(s.len())
    };
    let (host, rest) = s.split_at(host_end);
    check_host(host)?;

    let port = match rest.strip_prefix(':') {
        Some(port) => Some(parse_port(port)?),
        None if rest.is_empty() => None,
        None => return Err(format!("unexpected {rest:?} after host {host:?}")),
    };
    Ok((host.to_string(), port))
}

fn check_host(host: &str) -> Result<(), String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return match inner.parse::<Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => Err(format!("{inner:?} is not an ipv6 address")),
        };
    }
    // '_' is not in RFC 3261's hostname, but some PBXs name hosts with it.
    let host_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if host.is_empty() || !host.chars().all(host_char) {
        return Err(format!("{host:?} is not a host name or address"));
    }
    Ok(())
}

fn parse_port(port: &str) -> Result<u16, String> {
    if port.contains(':') {
        return Err("an ipv6 address in a uri must be written in brackets".into());
    }
    match parse_decimal(port).map(u16::try_from) {
        Some(Ok(port)) => Ok(port),
        _ => Err(format!("port {port:?} is not a number below 65536")),
    }
}

/// Undoes `%HH` escapes. A '%' without two hex digits after it stays as it is, and bytes
/// that do not decode to UTF-8 become U+FFFD: both are invalid, and neither can turn into
/// a delimiter.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes.get(i + 1..i + 3).and_then(hex_pair);
        match (bytes[i], escaped) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(pair).ok()?;
    u8::from_str_radix(text, 16)
        .ok()
        .filter(|_| pair.iter().all(u8::is_ascii_hexdigit))
}
