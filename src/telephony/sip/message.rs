//! SIP message parsing and framing, for the SIP link.
//!
//! [`Message::parse`] reads one message from a UDP datagram, [`frame`] cuts messages out of
//! a TCP byte stream, and [`parse_uri`] / [`parse_name_addr`] read the addresses that the
//! identity headers carry. Only `std` is used, so the file also compiles on its own beside
//! other SIP parsers to compare them.
//!
//! Invariants of a parsed [`Message`]:
//! - the start line is `METHOD SP Request-URI SP SIP/2.0` or `SIP/2.0 SP 3DIGIT SP reason`;
//!   another version is [`ParseError::UnsupportedVersion`], so the listener can answer 505;
//! - Via, From, To, Call-ID and CSeq are present and well formed; To, From, Call-ID, CSeq,
//!   Max-Forwards and Content-Length never carry two different values; a request's CSeq
//!   names the request's own method;
//! - header values are unfolded (a line break followed by SP/HTAB becomes one SP) and
//!   trimmed; names are kept as written beside a lower-case full name, compact forms
//!   expanded;
//! - the body is exactly Content-Length octets and is never split or unfolded; a datagram
//!   without Content-Length carries the rest of the datagram as its body.
//!
//! No input makes these functions panic or loop: every slice index comes from a search in
//! the same string, and the stream framer stops waiting at [`MAX_HEAD`] and [`MAX_BODY`].
//! Where the parser accepts more than the RFC 3261 grammar, a comment at that spot says why.

use std::fmt;
use std::net::Ipv6Addr;

/// The largest header section [`frame`] buffers on a stream before giving up. A UDP
/// message cannot be bigger, and a stream peer that sends more is broken or hostile.
pub const MAX_HEAD: usize = 64 * 1024;

/// The largest body [`frame`] accepts on a stream. callpop reads signalling (SDP, short
/// text); a bigger Content-Length comes from a broken or hostile peer, not from a call.
pub const MAX_BODY: usize = 1024 * 1024;

/// SP and HTAB, the only whitespace SIP's LWS allows.
const WSP: [char; 2] = [' ', '\t'];

/// Headers whose values are comma-separated lists, so [`Message::headers`] yields one item
/// per element. Privacy is not one: RFC 3323 separates its values with ';'.
const LIST_HEADERS: [&str; 31] = [
    "accept",
    "accept-contact",
    "accept-encoding",
    "accept-language",
    "alert-info",
    "allow",
    "allow-events",
    "call-info",
    "contact",
    "content-encoding",
    "content-language",
    "diversion",
    "error-info",
    "history-info",
    "in-reply-to",
    "p-asserted-identity",
    "p-preferred-identity",
    "path",
    "proxy-require",
    "reason",
    "record-route",
    "reject-contact",
    "remote-party-id",
    "request-disposition",
    "require",
    "route",
    "service-route",
    "supported",
    "unsupported",
    "via",
    "warning",
];

/// Headers every message needs to be matched to a call and a transaction (RFC 3261 §8.1.1).
const MANDATORY: [&str; 5] = ["via", "from", "to", "call-id", "cseq"];

/// Headers that hold one value. Content-Length is compared by number in `content_length`.
const SINGLE: [&str; 5] = ["from", "to", "call-id", "cseq", "max-forwards"];

/// A parameter as `name` or `name=value`, the name as written.
pub type Param = (String, Option<String>);

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request {
        method: String,
        uri: String,
        version: String,
    },
    Response {
        version: String,
        code: u16,
        reason: String,
    },
}

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name as written, without the whitespace allowed before ':'.
    pub name: String,
    /// The lower-case full name, compact forms expanded (`f` is `from`).
    pub canonical: String,
    /// The value, unfolded and trimmed.
    pub value: String,
}

/// One SIP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: StartLine,
    /// Header fields in the order they came.
    pub fields: Vec<Header>,
    pub body: Vec<u8>,
}

/// Why bytes are not a SIP message callpop can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but line breaks.
    Empty,
    /// No empty line closes the header section.
    Unterminated,
    /// The header section is not UTF-8; `line` counts from 1, the start line included.
    NotUtf8 {
        line: usize,
    },
    /// The request or status line is malformed.
    StartLine(String),
    /// A SIP version other than 2.0: a server answers 505.
    UnsupportedVersion(String),
    /// A header line is not `name: value`.
    Line {
        line: usize,
        reason: String,
    },
    /// A header's value is malformed.
    Header {
        name: String,
        reason: String,
    },
    Missing(&'static str),
    /// A single-valued header appears with two different values.
    Duplicate(String),
    /// A request's CSeq names another method than its request line.
    CseqMismatch {
        method: String,
        cseq: String,
    },
    /// A datagram holds fewer body octets than its Content-Length.
    BodyTruncated {
        declared: usize,
        present: usize,
    },
    /// A stream message is bigger than callpop buffers.
    TooLarge {
        what: &'static str,
        limit: usize,
    },
    Uri(String),
    NameAddr(String),
    Param(String),
}

impl ParseError {
    /// True when the answer is 505 Version Not Supported rather than 400.
    pub fn is_version(&self) -> bool {
        matches!(self, ParseError::UnsupportedVersion(_))
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "no sip message, only line breaks or nothing"),
            ParseError::Unterminated => {
                write!(f, "header section is not closed by an empty line")
            }
            ParseError::NotUtf8 { line } => write!(f, "line {line} is not valid utf-8"),
            ParseError::StartLine(reason) => write!(f, "bad start line: {reason}"),
            ParseError::UnsupportedVersion(v) => write!(f, "unsupported sip version {v:?}"),
            ParseError::Line { line, reason } => write!(f, "bad header line {line}: {reason}"),
            ParseError::Header { name, reason } => write!(f, "bad {name} header: {reason}"),
            ParseError::Missing(name) => write!(f, "missing {name} header"),
            ParseError::Duplicate(name) => {
                write!(f, "{name} header appears twice with different values")
            }
            ParseError::CseqMismatch { method, cseq } => {
                write!(
                    f,
                    "cseq method {cseq:?} does not match request method {method:?}"
                )
            }
            ParseError::BodyTruncated { declared, present } => write!(
                f,
                "content-length is {declared} but only {present} body octets are present"
            ),
            ParseError::TooLarge { what, limit } => {
                write!(
                    f,
                    "{what} is larger than the {limit} octets callpop accepts"
                )
            }
            ParseError::Uri(reason) => write!(f, "bad uri: {reason}"),
            ParseError::NameAddr(reason) => write!(f, "bad address: {reason}"),
            ParseError::Param(reason) => write!(f, "bad parameter: {reason}"),
        }
    }
}

impl std::error::Error for ParseError {}

impl Message {
    /// Parses one datagram holding exactly one message. Octets after the Content-Length
    /// body are ignored (RFC 4475 dblreq); a Content-Length larger than what is there is
    /// an error (clerr); without Content-Length the rest of the datagram is the body.
    pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
        // Line breaks before the start line are keep-alives or padding (RFC 3261 §7.5).
        let bytes = skip_line_breaks(bytes);
        if bytes.is_empty() {
            return Err(ParseError::Empty);
        }

        let head_len = head_end(bytes).ok_or(ParseError::Unterminated)?;
        let head = read_head(&bytes[..head_len])?;
        let start = parse_start_line(head.start)?;
        check_fields(&start, &head.fields)?;

        let body = datagram_body(&head.fields, &bytes[head_len..])?;
        Ok(Message {
            start,
            fields: head.fields,
            body,
        })
    }

    /// The method of a request; `None` for a response.
    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written; `None` for a response.
    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response; `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    /// The first value of a header, by full or compact name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        let wanted = lookup_name(name);
        let field = self
            .fields
            .iter()
            .find(|f| f.canonical.eq_ignore_ascii_case(wanted))?;
        Some(&field.value)
    }

    /// Every value of every field of that name, in order. Headers that hold lists are split
    /// at commas outside quotes and `<...>`; empty elements are skipped.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let wanted = lookup_name(name);
        let separator = is_list_header(wanted).then_some(b',');
        self.fields
            .iter()
            .filter(move |f| f.canonical.eq_ignore_ascii_case(wanted))
            .flat_map(move |f| SplitOutside {
                rest: Some(&f.value),
                separator,
            })
            .map(|item| item.trim_matches(WSP))
            .filter(|item| !item.is_empty())
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("call-id")
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        parse_cseq(self.header("cseq")?).ok()
    }

    /// The topmost Via, parsed.
    pub fn top_via(&self) -> Option<Via> {
        parse_via(self.headers("via").next()?).ok()
    }

    /// The branch of the topmost Via, the transaction id of RFC 3261 §17.
    pub fn top_via_branch(&self) -> Option<&str> {
        let hop = self.headers("via").next()?;
        let (_, params) = split_first_outside(hop, b';');
        param_value(params?, "branch").filter(|b| !b.is_empty())
    }

    pub fn from_tag(&self) -> Option<&str> {
        tag_of(self.header("from")?)
    }

    pub fn to_tag(&self) -> Option<&str> {
        tag_of(self.header("to")?)
    }
}

/// What [`frame`] found at the start of a stream buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed.
    Incomplete,
    /// Line breaks before a message (RFC 5626 keep-alives): drop this many bytes.
    KeepAlive(usize),
    /// One whole message of this many bytes; hand them to [`Message::parse`].
    Message(usize),
    /// The stream cannot be framed any further; close the connection.
    Invalid(ParseError),
}

/// Cuts the next message out of a stream buffer by its Content-Length, which RFC 3261
/// §18.3 makes mandatory on streams. Headers over [`MAX_HEAD`] or a body over [`MAX_BODY`]
/// are [`Frame::Invalid`], and so is a header section that cannot be read (not UTF-8, a
/// line without ':'), because its Content-Length cannot be trusted. Everything else is
/// left to [`Message::parse`].
pub fn frame(buf: &[u8]) -> Frame {
    let breaks = buf.len() - skip_line_breaks(buf).len();
    if breaks > 0 {
        return Frame::KeepAlive(breaks);
    }

    // Search only the first MAX_HEAD bytes, so the answer never depends on how the
    // bytes were split into reads.
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let Some(head_len) = head_end(window) else {
        if buf.len() >= MAX_HEAD {
            return Frame::Invalid(ParseError::TooLarge {
                what: "header section",
                limit: MAX_HEAD,
            });
        }
        return Frame::Incomplete;
    };

    match stream_body_len(&buf[..head_len]) {
        Ok(body) if head_len + body <= buf.len() => Frame::Message(head_len + body),
        Ok(_) => Frame::Incomplete,
        Err(e) => Frame::Invalid(e),
    }
}

/// The body length a stream message announces.
fn stream_body_len(head: &[u8]) -> Result<usize, ParseError> {
    let head = read_head(head)?;
    let len = content_length(&head.fields)?.ok_or(ParseError::Missing("content-length"))?;
    if len > MAX_BODY {
        return Err(ParseError::TooLarge {
            what: "body",
            limit: MAX_BODY,
        });
    }
    Ok(len)
}

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
fn parse_hostport(s: &str) -> Result<(String, Option<u16>), String> {
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

fn find_param<'a>(params: &'a [Param], name: &str) -> Option<&'a str> {
    let (_, value) = params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    Some(value.as_deref().unwrap_or(""))
}

/// One Via hop: `SIP/2.0/transport host[:port];params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub transport: String,
    /// The sent-by host as written; an IPv6 reference keeps its brackets.
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<Param>,
}

impl Via {
    /// A parameter's value (`branch`, `received`, `rport`); `Some("")` without a value.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }
}

/// Parses one Via hop (one element of the list). LWS is allowed around each '/' and
/// around ';' and '=' (RFC 3261 §20.42, RFC 4475 wsinv).
pub fn parse_via(hop: &str) -> Result<Via, ParseError> {
    let fail = |reason: String| ParseError::Header {
        name: "via".into(),
        reason,
    };
    let (sent, params) = split_first_outside(hop.trim_matches(WSP), b';');

    let mut protocol = sent.splitn(3, '/');
    let (name, version, rest) = match (protocol.next(), protocol.next(), protocol.next()) {
        (Some(name), Some(version), Some(rest)) => (name.trim_matches(WSP), version, rest),
        _ => {
            return Err(fail(format!(
                "{sent:?} is not protocol/version/transport host"
            )))
        }
    };
    let mut words = rest.split(WSP).filter(|w| !w.is_empty());
    let (transport, sent_by) = match (words.next(), words.next(), words.next()) {
        (Some(transport), Some(sent_by), None) => (transport, sent_by),
        _ => return Err(fail(format!("{rest:?} is not a transport and one host"))),
    };

    if !is_token(name) || !is_token(version.trim_matches(WSP)) || !is_token(transport) {
        return Err(fail(format!("{sent:?} is not protocol/version/transport")));
    }
    let (host, port) = parse_hostport(sent_by).map_err(fail)?;
    let params = params.map(parse_params).transpose()?.unwrap_or_default();
    Ok(Via {
        transport: transport.to_string(),
        host,
        port,
        params,
    })
}

/// Skips CR and LF bytes at the start.
fn skip_line_breaks(bytes: &[u8]) -> &[u8] {
    let breaks = bytes
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    &bytes[breaks..]
}

/// The length of the header section including the empty line that ends it, if it is all
/// there. A bare LF is read as a line end too: it cannot be part of a valid header, and
/// some tools and log replays write LF only.
fn head_end(bytes: &[u8]) -> Option<usize> {
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
struct Head<'a> {
    start: &'a str,
    fields: Vec<Header>,
}

/// Reads a header section that [`head_end`] delimited.
///
/// Invalid UTF-8 is an error rather than decoded lossily: a lossy decode could make two
/// different Call-IDs or tags compare equal, and SIP text is UTF-8 (RFC 3261 §7.3.1).
fn read_head(head: &[u8]) -> Result<Head<'_>, ParseError> {
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

/// The lower-case full name of a header, compact forms expanded (RFC 3261 §7.3.3 and the
/// RFCs that added letters since).
pub fn canonical_name(name: &str) -> String {
    match full_name(name) {
        Some(full) => full.to_string(),
        None => name.to_ascii_lowercase(),
    }
}

/// The name to compare with [`Header::canonical`], case-insensitively.
fn lookup_name(name: &str) -> &str {
    full_name(name).unwrap_or(name)
}

fn full_name(name: &str) -> Option<&'static str> {
    let [letter] = name.as_bytes() else {
        return None;
    };
    let full = match letter.to_ascii_lowercase() {
        b'a' => "accept-contact",
        b'b' => "referred-by",
        b'c' => "content-type",
        b'd' => "request-disposition",
        b'e' => "content-encoding",
        b'f' => "from",
        b'i' => "call-id",
        b'j' => "reject-contact",
        b'k' => "supported",
        b'l' => "content-length",
        b'm' => "contact",
        b'n' => "identity-info",
        b'o' => "event",
        b'r' => "refer-to",
        b's' => "subject",
        b't' => "to",
        b'u' => "allow-events",
        b'v' => "via",
        b'x' => "session-expires",
        b'y' => "identity",
        _ => return None,
    };
    Some(full)
}

fn is_list_header(name: &str) -> bool {
    LIST_HEADERS
        .iter()
        .any(|list| list.eq_ignore_ascii_case(name))
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
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

/// The checks that make a parsed message safe to act on.
fn check_fields(start: &StartLine, fields: &[Header]) -> Result<(), ParseError> {
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
fn parse_cseq(value: &str) -> Result<(u32, &str), String> {
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

/// Digits only, no sign, no overflow.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
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
fn content_length(fields: &[Header]) -> Result<Option<usize>, ParseError> {
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

fn datagram_body(fields: &[Header], rest: &[u8]) -> Result<Vec<u8>, ParseError> {
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

/// The value of the `tag` parameter of a To or From value.
fn tag_of(value: &str) -> Option<&str> {
    let after_uri = match find_outside(value, b'<') {
        Some(lt) => &value[lt + value[lt..].find('>')?..],
        None => value,
    };
    let (_, params) = split_first_outside(after_uri, b';');
    param_value(params?, "tag").filter(|tag| !tag.is_empty())
}

/// The trimmed value of the parameter `name` in `a=1;b;c=2`; "" when it has no value.
fn param_value<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    SplitOutside {
        rest: Some(params),
        separator: Some(b';'),
    }
    .find_map(|param| {
        let (n, v) = param.split_once('=').unwrap_or((param, ""));
        n.trim_matches(WSP)
            .eq_ignore_ascii_case(name)
            .then(|| v.trim_matches(WSP))
    })
}

/// Splits at the first `separator` outside quotes and `<...>`.
fn split_first_outside(s: &str, separator: u8) -> (&str, Option<&str>) {
    match find_outside(s, separator) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// Pieces of a string between separators outside quotes and `<...>`; no separator means
/// the whole string is one piece.
struct SplitOutside<'a> {
    rest: Option<&'a str>,
    separator: Option<u8>,
}

impl<'a> Iterator for SplitOutside<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let (piece, rest) = match self.separator {
            Some(separator) => split_first_outside(s, separator),
            None => (s, None),
        };
        self.rest = rest;
        Some(piece)
    }
}

/// The index of the first `byte` outside quoted strings and outside `<...>`.
fn find_outside(s: &str, byte: u8) -> Option<usize> {
    let (mut quoted, mut escaped, mut depth) = (false, false, 0usize);
    for (i, b) in s.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b if b == byte && depth == 0 => return Some(i),
            b'<' => depth += 1,
            b'>' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn quotes_balanced(s: &str) -> bool {
    let (mut quoted, mut escaped) = (false, false);
    for b in s.bytes() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ => {}
        }
    }
    !quoted
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

#[cfg(test)]
pub(super) mod fixtures {
    //! The shared SIP fixtures (`../shared/fixtures` beside the repository), read at run
    //! time, and deterministic mutations of them for the no-panic tests.

    pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");

    pub fn read(path: &str) -> Vec<u8> {
        let full = format!("{ROOT}/{path}");
        std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read fixture {full}: {e}"))
    }

    /// The files in `dir` whose names end in `suffix`, sorted, as (file name, bytes).
    pub fn dir(dir: &str, suffix: &str) -> Vec<(String, Vec<u8>)> {
        let full = format!("{ROOT}/{dir}");
        let entries =
            std::fs::read_dir(&full).unwrap_or_else(|e| panic!("cannot list {full}: {e}"));
        let mut names: Vec<String> = entries
            .map(|entry| {
                entry
                    .expect("directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(suffix))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|name| (name.clone(), read(&format!("{dir}/{name}"))))
            .collect()
    }

    /// The messages of a sipp log. Each is announced by a line such as
    /// `UDP message received [832] bytes :` or `UDP message sent (268 bytes):`, then an
    /// empty line, then exactly that many bytes.
    pub fn sipp_log(path: &str) -> Vec<Vec<u8>> {
        let log = read(path);
        let mut messages = Vec::new();
        let mut at = 0;
        while let Some(found) = find(&log[at..], b"UDP message ") {
            let line_start = at + found;
            let line_len = find(&log[line_start..], b"\n").expect("announcement line ends");
            let line = std::str::from_utf8(&log[line_start..line_start + line_len]).unwrap();
            let digits = line
                .split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty());
            let len: usize = digits.expect("byte count").parse().unwrap();

            let start = line_start + line_len + 2;
            assert_eq!(
                log[start - 1],
                b'\n',
                "{path}: no empty line after {line:?}"
            );
            messages.push(log[start..start + len].to_vec());
            at = start + len;
        }
        messages
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    /// `raw` with the header line that starts with `prefix` replaced by `with`, which may
    /// be several CRLF-separated lines or empty to drop the line.
    pub fn replace_line(raw: &[u8], prefix: &str, with: &str) -> Vec<u8> {
        let text = std::str::from_utf8(raw).expect("fixture is utf-8");
        let start = text
            .find(&format!("\r\n{prefix}"))
            .expect("line to replace")
            + 2;
        let end = start + text[start..].find("\r\n").unwrap() + 2;
        let with = if with.is_empty() {
            String::new()
        } else {
            format!("{with}\r\n")
        };
        format!("{}{with}{}", &text[..start], &text[end..]).into_bytes()
    }

    /// Every message of the shared fixtures, named by where it came from.
    pub fn corpus() -> Vec<(String, Vec<u8>)> {
        let mut all = dir("field/raw", ".sip");
        all.extend(dir("rfc4475", ".dat"));
        all.extend(
            dir("asterisk", ".txt")
                .into_iter()
                .filter(|(n, _)| n.starts_with("sip-")),
        );
        for (name, _) in dir("asterisk/sip", ".log") {
            let messages = sipp_log(&format!("asterisk/sip/{name}"));
            all.extend(
                messages
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| (format!("{name}#{i}"), m)),
            );
        }
        all
    }

    /// A tiny deterministic generator (Knuth's MMIX LCG): no crates, same inputs every run.
    pub struct Lcg(pub u64);

    impl Lcg {
        pub fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        pub fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next() % n as u64) as usize
            }
        }
    }

    /// Bytes that matter to a SIP parser, used to damage messages where it hurts.
    const DELIMITERS: &[u8] = b"\r\n \t:;,=\"<>\\%@[]?/0\xff\x00";

    /// `count` variants of `seed`, each damaged one to three times: cut short, a byte
    /// replaced or inserted, a span dropped or doubled.
    pub fn mutations(seed: &[u8], salt: u64, count: usize) -> Vec<Vec<u8>> {
        let mut rng = Lcg(salt ^ (seed.len() as u64) << 32);
        (0..count)
            .map(|_| {
                let mut out = seed.to_vec();
                for _ in 0..=rng.below(3) {
                    mutate(&mut out, &mut rng);
                }
                out
            })
            .collect()
    }

    fn mutate(out: &mut Vec<u8>, rng: &mut Lcg) {
        let at = rng.below(out.len() + 1);
        let delimiter = DELIMITERS[rng.below(DELIMITERS.len())];
        match rng.below(5) {
            0 => out.truncate(at),
            1 if at < out.len() => out[at] = delimiter,
            1 | 2 => out.insert(at, delimiter),
            3 => drop(out.drain(at..(at + rng.below(16)).min(out.len()))),
            _ => {
                let span = out[at..(at + rng.below(32)).min(out.len())].to_vec();
                out.splice(at..at, span);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures;
    use super::*;

    fn parse(raw: &[u8]) -> Message {
        Message::parse(raw).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(raw)))
    }

    fn addr(msg: &Message, name: &str) -> NameAddr {
        let value = msg
            .header(name)
            .unwrap_or_else(|| panic!("no {name} header"));
        parse_name_addr(value).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn request_uri(msg: &Message) -> Uri {
        parse_uri(msg.request_uri().expect("a request")).expect("request-uri parses")
    }

    fn params(list: &[(&str, Option<&str>)]) -> Vec<Param> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
            .collect()
    }

    /// A small valid request with `extra` header lines added before Content-Length.
    fn request_with(extra: &str) -> Vec<u8> {
        format!(
            "OPTIONS sip:201@pbx.example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-base\r\n\
             From: <sip:100@pbx.example.com>;tag=b1\r\n\
             To: <sip:201@pbx.example.com>\r\n\
             Call-ID: base@192.0.2.1\r\n\
             CSeq: 1 OPTIONS\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    // ---- URIs ----------------------------------------------------------------------

    /// scheme, user, host, port, params
    type UriParts<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<u16>,
        &'a [(&'a str, Option<&'a str>)],
    );

    fn check_uri(input: &str, expected: Option<UriParts>) {
        let got = parse_uri(input);
        let Some((scheme, user, host, port, list)) = expected else {
            assert!(got.is_err(), "{input:?} should be refused, got {got:?}");
            return;
        };
        let uri = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
        let parts = (
            uri.scheme.as_str(),
            uri.user.as_deref(),
            uri.host.as_deref(),
            uri.port,
        );
        assert_eq!(parts, (scheme, user, host, port), "{input:?}");
        assert_eq!(uri.params, params(list), "{input:?}");
    }

    #[test]
    fn uris() {
        let none: &[(&str, Option<&str>)] = &[];
        let phone: &[(&str, Option<&str>)] = &[("user", Some("phone"))];
        let host = Some("example.com");

        // Case 03: a '.' in the user part.
        check_uri(
            "sip:anna.lee@pbx.example.com",
            Some(("sip", Some("anna.lee"), Some("pbx.example.com"), None, none)),
        );
        check_uri(
            "sip:anna.lee@192.0.2.12:5060",
            Some((
                "sip",
                Some("anna.lee"),
                Some("192.0.2.12"),
                Some(5060),
                none,
            )),
        );
        // Case 05: user parameters stay in the user part; URI parameters follow the host.
        check_uri(
            "sip:+12125550146;cpc=ordinary@ims.example.net;user=phone",
            Some((
                "sip",
                Some("+12125550146;cpc=ordinary"),
                Some("ims.example.net"),
                None,
                phone,
            )),
        );
        check_uri(
            "sip:+12125550100;npdi;rn=+12125550199@pbx.example.com;user=phone",
            Some((
                "sip",
                Some("+12125550100;npdi;rn=+12125550199"),
                Some("pbx.example.com"),
                None,
                phone,
            )),
        );
        check_uri(
            "sip:user;par=u%40example.net@example.com",
            Some(("sip", Some("user;par=u@example.net"), host, None, none)),
        );
        check_uri(
            "tel:+12125550162",
            Some(("tel", Some("+12125550162"), None, None, none)),
        );
        check_uri(
            "tel:5550162;phone-context=+1-212",
            Some((
                "tel",
                Some("5550162"),
                None,
                None,
                &[("phone-context", Some("+1-212"))],
            )),
        );
        check_uri(
            "tel:+1-212-555-0163",
            Some(("tel", Some("+1-212-555-0163"), None, None, none)),
        );
        check_uri("tel:", None);
        check_uri("tel:+1 555", None);
        // Case 06 and RFC 5118: brackets keep IPv6 apart from the port.
        check_uri(
            "sip:+12125550100@[2001:db8::10]:5060",
            Some((
                "sip",
                Some("+12125550100"),
                Some("[2001:db8::10]"),
                Some(5060),
                none,
            )),
        );
        check_uri(
            "sip:[2001:db8::9:1]",
            Some(("sip", None, Some("[2001:db8::9:1]"), None, none)),
        );
        check_uri(
            "sip:[2001:db8::9]:1",
            Some(("sip", None, Some("[2001:db8::9]"), Some(1), none)),
        );
        check_uri(
            "sip:[::ffff:192.0.2.10]:5060",
            Some(("sip", None, Some("[::ffff:192.0.2.10]"), Some(5060), none)),
        );
        check_uri("sip:+12125550147@2001:db8::20", None);
        check_uri("sip:[2001:db8:::1]", None);
        check_uri("sip:[2001:db8::1", None);
        check_uri("sip:[2001:db8::1]x", None);
        // RFC 4475 esc01, escnull: escapes are undone, and an escaped ':' makes no scheme.
        check_uri(
            "sip:sips%3Auser%40example.com@example.net",
            Some((
                "sip",
                Some("sips:user@example.com"),
                Some("example.net"),
                None,
                none,
            )),
        );
        check_uri(
            "sip:%75se%72@example.com",
            Some(("sip", Some("user"), host, None, none)),
        );
        check_uri(
            "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31",
            Some((
                "sip",
                Some("caller"),
                Some("host5.example.net"),
                None,
                &[("lr", None), ("name", Some("value%41"))],
            )),
        );
        check_uri(
            "sip:null-%00-null@example.com",
            Some(("sip", Some("null-\0-null"), host, None, none)),
        );
        check_uri(
            "sip:100%@example.com",
            Some(("sip", Some("100%"), host, None, none)),
        );
        // RFC 4475 intmeth: the user part may hold ';', '?', ',' and '/'; the password goes.
        let user = "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*";
        let password = "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)";
        check_uri(
            &format!("sip:{user}:{password}@example.com"),
            Some(("sip", Some(user), host, None, none)),
        );
        check_uri(
            "SIP:User@Example.COM",
            Some(("sip", Some("User"), Some("Example.COM"), None, none)),
        );
        // RFC 4475 unkscm, novelsc, unksm2: other schemes are kept opaque.
        check_uri(
            "nobodyKnowsThisScheme:totallyopaquecontent",
            Some(("nobodyknowsthisscheme", None, None, None, none)),
        );
        check_uri(
            "soap.beep://192.0.2.103:3002",
            Some(("soap.beep", None, None, None, none)),
        );
        check_uri("isbn:2983792873", Some(("isbn", None, None, None, none)));
        check_uri("isbn:", None);
        check_uri("1sip:user@example.com", None);
        check_uri("user@example.com", None);
        // RFC 4475 ltgtruri, lwsruri, and broken parts.
        check_uri("<sip:user@example.com>", None);
        check_uri("sip:user@example.com; lr", None);
        check_uri("sip:user@example.com:99999", None);
        check_uri("sip:user@example.com:", None);
        check_uri("sip:user@", None);
        check_uri("sip:@example.com", None);
        check_uri("sip:user@example.com;;lr", None);
        check_uri("sip:user@exa$mple.com", None);
        check_uri("", None);
    }

    #[test]
    fn uri_headers_stay_escaped_text() {
        // RFC 4475 escruri and regescrt: the `?` part is never read as header fields.
        let uri = parse_uri("sip:user@example.com?Route=%3Csip:example.com%3E").unwrap();
        assert_eq!(uri.headers.as_deref(), Some("Route=%3Csip:example.com%3E"));
        assert_eq!(
            (uri.user.as_deref(), uri.host.as_deref()),
            (Some("user"), Some("example.com"))
        );

        let uri = parse_uri("sip:example.com;lr?subject=hi").unwrap();
        assert_eq!(
            (uri.param("lr"), uri.headers.as_deref()),
            (Some(""), Some("subject=hi"))
        );
    }

    // ---- name-addr -----------------------------------------------------------------

    /// display, the URI it must equal, header params
    type AddrParts<'a> = (Option<&'a str>, &'a str, &'a [(&'a str, Option<&'a str>)]);

    fn check_name_addr(input: &str, expected: Option<AddrParts>) {
        let got = parse_name_addr(input);
        let Some((display, uri, list)) = expected else {
            assert!(got.is_err(), "{input:?} should be refused, got {got:?}");
            return;
        };
        let addr = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(addr.display.as_deref(), display, "{input:?}");
        assert_eq!(addr.uri, parse_uri(uri).unwrap(), "{input:?}");
        assert_eq!(addr.params, params(list), "{input:?}");
    }

    #[test]
    fn name_addrs() {
        // Case 08.
        check_name_addr(
            r#""Smith, J. \"Jay\" <Acct 7>" <sip:+12125550148@carrier.example.net>;tag=q08a"#,
            Some((
                Some(r#"Smith, J. "Jay" <Acct 7>"#),
                "sip:+12125550148@carrier.example.net",
                &[("tag", Some("q08a"))],
            )),
        );
        check_name_addr(
            r#""" <sip:+12125550149@carrier.example.net>;tag=q08b"#,
            Some((
                None,
                "sip:+12125550149@carrier.example.net",
                &[("tag", Some("q08b"))],
            )),
        );
        check_name_addr(
            "Bob Ortiz<sip:+12125550150@carrier.example.net>;tag=q08c",
            Some((
                Some("Bob Ortiz"),
                "sip:+12125550150@carrier.example.net",
                &[("tag", Some("q08c"))],
            )),
        );
        check_name_addr(
            r#""Sales"<sip:+12125550100@pbx.example.com>"#,
            Some((Some("Sales"), "sip:+12125550100@pbx.example.com", &[])),
        );
        check_name_addr(
            "sip:+12125550161@carrier.example.net;tag=q08d",
            Some((
                None,
                "sip:+12125550161@carrier.example.net",
                &[("tag", Some("q08d"))],
            )),
        );
        check_name_addr(
            r#"""unknown"" <sip:+12125550170@carrier.example.net>;tag=q08e"#,
            Some((
                Some("unknown"),
                "sip:+12125550170@carrier.example.net",
                &[("tag", Some("q08e"))],
            )),
        );
        // Whitespace around ';' and '=' (case 08, RFC 4475 wsinv).
        check_name_addr(
            "<sip:x@example.com> ; tag = 9",
            Some((None, "sip:x@example.com", &[("tag", Some("9"))])),
        );
        check_name_addr(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#,
            Some((
                Some(r#"J Rosenberg \""#),
                "sip:jdrosen@example.com",
                &[("tag", Some("98asjd8"))],
            )),
        );
        check_name_addr(
            concat!(
                r#""Quoted string \"\"" <sip:jdrosen@example.com> ; "#,
                "newparam = newvalue ; secondparam ; q = 0.33"
            ),
            Some((
                Some(r#"Quoted string """#),
                "sip:jdrosen@example.com",
                &[
                    ("newparam", Some("newvalue")),
                    ("secondparam", None),
                    ("q", Some("0.33")),
                ],
            )),
        );
        // RFC 4475 intmeth: escaped control characters, and a name made of tokens.
        check_name_addr(
            "\"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\" <sip:x@example.com>",
            Some((Some("BEL:\x07 NUL:\0 DEL:\x7f"), "sip:x@example.com", &[])),
        );
        check_name_addr(
            "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-.",
            Some((
                Some("token1~` token2'+_ token3*%!.-"),
                "sip:mundane@example.com",
                &[("tag", Some("_token~1'+`*%!-."))],
            )),
        );
        check_name_addr(
            "A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe",
            Some((
                Some("A. Bell"),
                "sip:a.g.bell@example.com",
                &[("tag", Some("qweoiqpe"))],
            )),
        );
        check_name_addr(
            "caller<sip:caller@example.com>;tag=323",
            Some((
                Some("caller"),
                "sip:caller@example.com",
                &[("tag", Some("323"))],
            )),
        );
        // Asterisk scenario h: UTF-8 and markup stay exactly as sent.
        let zoe = "Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本";
        check_name_addr(
            &format!("\"{zoe}\" <sip:+1555010019@127.0.0.1>;tag=as4fa49466"),
            Some((
                Some(zoe),
                "sip:+1555010019@127.0.0.1",
                &[("tag", Some("as4fa49466"))],
            )),
        );
        check_name_addr(
            "Zoë Nuñez <sip:z@example.com>",
            Some((Some("Zoë Nuñez"), "sip:z@example.com", &[])),
        );
        check_name_addr(
            r#"" Two  spaces " <sip:z@example.com>"#,
            Some((Some(" Two  spaces "), "sip:z@example.com", &[])),
        );
        // RFC 4475 cparam01/cparam02: without <> a parameter belongs to the header.
        check_name_addr(
            "sip:+19725552222@gw1.example.net;unknownparam",
            Some((
                None,
                "sip:+19725552222@gw1.example.net",
                &[("unknownparam", None)],
            )),
        );
        check_name_addr(
            "<sip:+19725552222@gw1.example.net;unknownparam>",
            Some((None, "sip:+19725552222@gw1.example.net;unknownparam", &[])),
        );
        // RFC 4475 badaspec: spaces inside <> are dropped.
        check_name_addr(
            r#""Watson, Thomas" < sip:t.watson@example.org >"#,
            Some((Some("Watson, Thomas"), "sip:t.watson@example.org", &[])),
        );
        check_name_addr(
            "<tel:+12125550162>;tag=t1",
            Some((None, "tel:+12125550162", &[("tag", Some("t1"))])),
        );
        check_name_addr("isbn:2983792873", Some((None, "isbn:2983792873", &[])));
        check_name_addr(
            r#"<sip:a@example.com>;text="a;b, \"c\"""#,
            Some((None, "sip:a@example.com", &[("text", Some(r#"a;b, "c""#))])),
        );
        // RFC 4475 quotbal, baddn, badinv01, and other damage.
        check_name_addr(r#""Mr. J. User <sip:j.user@example.com>"#, None);
        check_name_addr("Bell, Alexander <sip:a.g.bell@example.com>;tag=43", None);
        check_name_addr(r#""Joe" <sip:joe@example.org>;;;;"#, None);
        check_name_addr("<sip:joe@example.org>;tag=1;", None);
        check_name_addr("<sip:x@example.com> junk", None);
        check_name_addr("<sip:x@example.com", None);
        check_name_addr(r#"<sip:a@example.com>;x="unterminated"#, None);
        check_name_addr(r#"<sip:a@example.com>;x=a"b"#, None);
        check_name_addr(r#""Bob" sip:bob@example.com"#, None);
        check_name_addr("sip:bob@example.com extra", None);
        check_name_addr("<sip:x@example.com>;=1", None);
        check_name_addr("", None);
    }

    // ---- headers -------------------------------------------------------------------

    fn check_list(extra: &str, name: &str, expected: &[&str]) {
        let msg = parse(&request_with(extra));
        let got: Vec<&str> = msg.headers(name).collect();
        assert_eq!(got, expected, "{name} in {extra:?}");
    }

    #[test]
    fn header_lists() {
        let base_via = "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-base";
        let (v4, v6) = (
            "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
            "SIP/2.0/TCP [2001:db8::1]:5070;branch=2",
        );
        check_list(&format!("v: {v4} , {v6}\r\n"), "Via", &[base_via, v4, v6]);
        check_list(
            "P-Asserted-Identity: \"Doe, Jane\" <sip:+15550100@example.com>, <tel:+15550100>\r\n",
            "p-asserted-identity",
            &[
                "\"Doe, Jane\" <sip:+15550100@example.com>",
                "<tel:+15550100>",
            ],
        );
        check_list(
            "Contact: <sip:a@example.com;x=1,2>, \"Q, R\" <sip:b@example.com>\r\n",
            "m",
            &["<sip:a@example.com;x=1,2>", "\"Q, R\" <sip:b@example.com>"],
        );
        check_list(
            "Reason: SIP;cause=200;text=\"Call completed, elsewhere\", Q.850;cause=26\r\n",
            "reason",
            &[
                "SIP;cause=200;text=\"Call completed, elsewhere\"",
                "Q.850;cause=26",
            ],
        );
        // RFC 3323: Privacy separates values with ';' and is not a list; every field counts.
        check_list(
            "Privacy: none\r\nPrivacy: id;critical\r\n",
            "privacy",
            &["none", "id;critical"],
        );
        check_list("Allow: INVITE, ,ACK,\r\n", "allow", &["INVITE", "ACK"]);
        check_list(
            "k: replaces, 100rel\r\n",
            "Supported",
            &["replaces", "100rel"],
        );
        // Not lists: a date, an unknown header.
        check_list(
            "Date: Sat, 15 Oct 2005 04:44:56 GMT\r\n",
            "date",
            &["Sat, 15 Oct 2005 04:44:56 GMT"],
        );
        check_list("X-Things: a, b\r\n", "x-things", &["a, b"]);
        check_list("", "x-things", &[]);
    }

    #[test]
    fn header_names_compact_and_any_case() {
        let msg = parse(&fixtures::read("field/raw/02-compact.sip"));
        for name in ["call-id", "Call-ID", "CALL-ID", "i", "I"] {
            assert_eq!(msg.header(name), Some("compact-02@192.0.2.11"), "{name}");
        }
        assert_eq!(canonical_name("M"), "contact");
        assert_eq!(canonical_name("X-Custom"), "x-custom");
        assert_eq!(
            canonical_name("q"),
            "q",
            "an unknown letter is no compact form"
        );
    }

    // ---- the field cases -----------------------------------------------------------

    type FieldCheck = fn(&[u8]);

    /// Expectations from `../shared/fixtures/field/NN-*.txt`, one per raw file.
    const FIELD_CASES: [(&str, FieldCheck); 19] = [
        ("01a-folding.sip", |raw| {
            let msg = parse(raw);
            assert_eq!(msg.header("subject"), Some("Order status follow-up"));
            let from = addr(&msg, "from");
            assert_eq!(from.display.as_deref(), Some("Helpdesk Line 2"));
            assert_eq!(from.uri.user.as_deref(), Some("+12125550142"));
            assert_eq!(msg.from_tag(), Some("f01a"));
        }),
        ("01b-hcolon-ws.sip", |raw| {
            let msg = parse(raw);
            let names: Vec<&str> = msg.fields.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(names[..3], ["Via", "Max-Forwards", "From"]);
            assert_eq!(addr(&msg, "from").uri.user.as_deref(), Some("+12125550142"));
            assert_eq!(msg.top_via_branch(), Some("z9hG4bK-hcolon-01b"));
        }),
        ("02-compact.sip", |raw| {
            let msg = parse(raw);
            let canonical: Vec<&str> = msg.fields.iter().map(|f| f.canonical.as_str()).collect();
            let expected = [
                "via",
                "max-forwards",
                "from",
                "to",
                "call-id",
                "cseq",
                "contact",
                "content-length",
            ];
            assert_eq!(canonical, expected);
            let from = addr(&msg, "From");
            assert_eq!(from.display.as_deref(), Some("Dana Ortiz"));
            assert_eq!(from.uri.user.as_deref(), Some("+12125550143"));
            assert_eq!(msg.call_id(), Some("compact-02@192.0.2.11"));
            assert_eq!(
                (msg.header("Content-Length"), msg.body.len()),
                (Some("0"), 0)
            );
        }),
        ("03-dot-user.sip", |raw| {
            let msg = parse(raw);
            let from = addr(&msg, "from");
            assert_eq!(from.display.as_deref(), Some("Anna Lee"));
            assert_eq!(from.uri.user.as_deref(), Some("anna.lee"));
            assert_eq!(from.uri.host.as_deref(), Some("pbx.example.com"));
            let contact = addr(&msg, "contact").uri;
            let parts = (
                contact.user.as_deref(),
                contact.host.as_deref(),
                contact.port,
            );
            assert_eq!(parts, (Some("anna.lee"), Some("192.0.2.12"), Some(5060)));
        }),
        ("05-user-params.sip", |raw| {
            let msg = parse(raw);
            let target = request_uri(&msg);
            assert_eq!(
                target.user.as_deref(),
                Some("+12125550100;npdi;rn=+12125550199")
            );
            assert_eq!(target.param("user"), Some("phone"));
            for name in ["from", "p-asserted-identity"] {
                let uri = addr(&msg, name).uri;
                assert_eq!(
                    uri.user.as_deref(),
                    Some("+12125550146;cpc=ordinary"),
                    "{name}"
                );
                assert_eq!(uri.host.as_deref(), Some("ims.example.net"), "{name}");
            }
        }),
        ("05b-semiuri-escaped.sip", |raw| {
            let msg = parse(raw);
            let target = request_uri(&msg);
            assert_eq!(target.user.as_deref(), Some("user;par=u@example.net"));
            assert_eq!(target.host.as_deref(), Some("example.com"));
            assert_eq!(addr(&msg, "to").uri, target);
        }),
        ("06-ipv6.sip", |raw| {
            let msg = parse(raw);
            let target = request_uri(&msg);
            assert_eq!(
                (target.host.as_deref(), target.port),
                (Some("[2001:db8::10]"), Some(5060))
            );
            let via = msg.top_via().unwrap();
            assert_eq!(
                (via.host.as_str(), via.port),
                ("[2001:db8::20]", Some(5060))
            );
            assert_eq!(
                (via.param("received"), via.param("rport")),
                (Some("[2001:db8::20]"), Some("5060"))
            );
            let from = addr(&msg, "from");
            assert_eq!(from.display.as_deref(), Some("Lab Phone"));
            assert_eq!(from.uri.user.as_deref(), Some("+12125550147"));
            let contact = addr(&msg, "contact").uri;
            assert_eq!(
                (contact.host.as_deref(), contact.port),
                (Some("[2001:db8::20]"), Some(5060))
            );
        }),
        ("06b-ipv6-port-ambiguous.sip", |raw| {
            let msg = parse(raw);
            let target = request_uri(&msg);
            assert_eq!(
                (target.host.as_deref(), target.port),
                (Some("[2001:db8::9:1]"), None)
            );
            let via = msg.top_via().unwrap();
            assert_eq!((via.host.as_str(), via.port), ("[2001:db8::9:1]", None));
        }),
        ("07a-trailing-octets.sip", |raw| {
            // One datagram: the INVITE counts, the CANCEL after it is ignored.
            let msg = parse(raw);
            assert_eq!((msg.method(), msg.body.len()), (Some("INVITE"), 0));
            assert_eq!(raw.len(), 566);
            assert_eq!(frame(raw), Frame::Message(566 - 283));
            let cancel = parse(&raw[283..]);
            assert_eq!(
                (cancel.method(), cancel.call_id()),
                (Some("CANCEL"), msg.call_id())
            );
        }),
        ("07b-clerr.sip", |raw| {
            let err = Message::parse(raw).unwrap_err();
            assert_eq!(
                err,
                ParseError::BodyTruncated {
                    declared: 120,
                    present: 5
                }
            );
            // On a stream the same bytes mean: wait for 115 more.
            assert_eq!(frame(raw), Frame::Incomplete);
            let mut longer = raw.to_vec();
            longer.resize(raw.len() + 114, b'x');
            assert_eq!(frame(&longer), Frame::Incomplete);
            longer.push(b'x');
            assert_eq!(frame(&longer), Frame::Message(longer.len()));
        }),
        ("08a-quoted-angle.sip", |raw| {
            let msg = parse(raw);
            let from = addr(&msg, "from");
            assert_eq!(from.display.as_deref(), Some(r#"Smith, J. "Jay" <Acct 7>"#));
            assert_eq!(from.uri.user.as_deref(), Some("+12125550148"));
            assert_eq!(msg.from_tag(), Some("q08a"));
        }),
        ("08b-empty-display.sip", |raw| {
            let from = addr(&parse(raw), "from");
            assert_eq!(
                (from.display, from.uri.user.as_deref()),
                (None, Some("+12125550149"))
            );
        }),
        ("08c-no-lws.sip", |raw| {
            let msg = parse(raw);
            let from = addr(&msg, "from");
            assert_eq!(from.display.as_deref(), Some("Bob Ortiz"));
            assert_eq!(from.uri.user.as_deref(), Some("+12125550150"));
            assert_eq!(addr(&msg, "to").display.as_deref(), Some("Sales"));
        }),
        ("08d-addr-spec-no-brackets.sip", |raw| {
            let msg = parse(raw);
            let from = addr(&msg, "from");
            let (display, user) = (from.display.as_deref(), from.uri.user.as_deref());
            assert_eq!((display, user), (None, Some("+12125550161")));
            assert!(
                from.uri.params.is_empty(),
                "tag is a header parameter, not a uri one"
            );
            assert_eq!(
                (from.param("tag"), msg.from_tag()),
                (Some("q08d"), Some("q08d"))
            );
            assert_eq!(msg.to_tag(), None);
        }),
        ("09a-pai-privacy.sip", |raw| {
            let msg = parse(raw);
            assert_eq!(msg.headers("privacy").collect::<Vec<_>>(), ["id"]);
            let asserted = addr(&msg, "p-asserted-identity").uri;
            assert_eq!(asserted.user.as_deref(), Some("+12125550151"));
            assert_eq!(asserted.param("user"), Some("phone"));
            let from = addr(&msg, "from").uri;
            assert_eq!(
                (from.user.as_deref(), from.host.as_deref()),
                (Some("anonymous"), Some("anonymous.invalid"))
            );
        }),
        ("09b-rpid.sip", |raw| {
            let rpid = addr(&parse(raw), "remote-party-id");
            assert_eq!(rpid.display.as_deref(), Some("Kim Park"));
            assert_eq!(rpid.uri.user.as_deref(), Some("+12125550152"));
            let wanted = params(&[
                ("party", Some("calling")),
                ("screen", Some("yes")),
                ("privacy", Some("off")),
            ]);
            assert_eq!(rpid.params, wanted);
        }),
        ("10-diversion.sip", |raw| {
            let msg = parse(raw);
            let diversion = addr(&msg, "diversion");
            assert_eq!(diversion.uri.user.as_deref(), Some("+12125550160"));
            let wanted = params(&[
                ("reason", Some("no-answer")),
                ("counter", Some("1")),
                ("privacy", Some("off")),
            ]);
            assert_eq!(diversion.params, wanted);
            assert_eq!(addr(&msg, "to").uri.user.as_deref(), Some("+12125550160"));
        }),
        ("11a-invite.sip", |raw| {
            let msg = parse(raw);
            assert_eq!(
                (msg.method(), msg.cseq()),
                (Some("INVITE"), Some((101, "INVITE")))
            );
        }),
        ("11b-cancel-elsewhere.sip", |raw| {
            let msg = parse(raw);
            assert_eq!(
                (msg.method(), msg.cseq()),
                (Some("CANCEL"), Some((101, "CANCEL")))
            );
            assert_eq!(
                msg.headers("reason").count(),
                2,
                "both Reason fields are kept"
            );
        }),
    ];

    #[test]
    fn field_cases() {
        let files = fixtures::dir("field/raw", ".sip");
        for (name, raw) in &files {
            let Some((_, check)) = FIELD_CASES.iter().find(|(n, _)| n == name) else {
                panic!("field/raw/{name} has no expectations here");
            };
            check(raw);
        }
        for (name, _) in FIELD_CASES {
            assert!(
                files.iter().any(|(n, _)| n == name),
                "field/raw/{name} is missing"
            );
        }
    }

    #[test]
    fn cancel_matches_its_invite() {
        // Case 11: same Call-ID, From tag, CSeq number and top Via branch; the CSeq method
        // differs, as it must.
        let invite = parse(&fixtures::read("field/raw/11a-invite.sip"));
        let cancel = parse(&fixtures::read("field/raw/11b-cancel-elsewhere.sip"));
        fn key(m: &Message) -> (Option<&str>, Option<&str>, Option<u32>, Option<&str>) {
            (
                m.call_id(),
                m.from_tag(),
                m.cseq().map(|c| c.0),
                m.top_via_branch(),
            )
        }
        assert_eq!(key(&invite), key(&cancel));
        assert_eq!(
            key(&cancel),
            (
                Some("ce-11@192.0.2.2"),
                Some("ce11"),
                Some(101),
                Some("z9hG4bK-ce-11")
            )
        );
    }

    // ---- RFC 4475 ------------------------------------------------------------------

    /// What RFC 4475 wants for a message, from `rfc4475/SUMMARY.md`.
    enum Must {
        Accept,
        /// Rejected, for the reason the check recognises.
        Reject(fn(&ParseError) -> bool),
        /// Either answer conforms; `true` records that callpop accepts it.
        Either(bool),
    }

    fn header_error(name: &'static str) -> impl Fn(&ParseError) -> bool {
        move |e| matches!(e, ParseError::Header { name: n, .. } if n == name)
    }

    const RFC4475: [(&str, Must); 49] = [
        ("wsinv", Must::Accept),
        ("intmeth", Must::Accept),
        ("esc01", Must::Accept),
        ("escnull", Must::Accept),
        ("esc02", Must::Accept),
        ("lwsdisp", Must::Accept),
        ("longreq", Must::Accept),
        ("dblreq", Must::Accept),
        ("semiuri", Must::Accept),
        ("transports", Must::Accept),
        ("mpart01", Must::Accept),
        ("unreason", Must::Accept),
        ("noreason", Must::Accept),
        ("badinv01", Must::Reject(|e| header_error("via")(e))),
        (
            "clerr",
            Must::Reject(|e| matches!(e, ParseError::BodyTruncated { declared: 9999, .. })),
        ),
        ("ncl", Must::Reject(|e| header_error("content-length")(e))),
        ("scalar02", Must::Reject(|e| header_error("cseq")(e))),
        ("scalarlg", Must::Reject(|e| header_error("cseq")(e))),
        ("quotbal", Must::Reject(|e| header_error("to")(e))),
        (
            "ltgtruri",
            Must::Reject(|e| matches!(e, ParseError::StartLine(r) if r.contains("<>"))),
        ),
        (
            "lwsruri",
            Must::Reject(|e| matches!(e, ParseError::StartLine(r) if r.contains("4 elements"))),
        ),
        ("lwsstart", Must::Either(true)),
        ("trws", Must::Either(true)),
        ("escruri", Must::Either(true)),
        ("baddate", Must::Either(true)),
        ("regbadct", Must::Either(true)),
        ("badaspec", Must::Either(true)),
        ("baddn", Must::Reject(|e| header_error("from")(e))),
        ("badvers", Must::Reject(|e| e.is_version())),
        (
            "mismatch01",
            Must::Reject(|e| matches!(e, ParseError::CseqMismatch { .. })),
        ),
        (
            "mismatch02",
            Must::Reject(|e| matches!(e, ParseError::CseqMismatch { .. })),
        ),
        (
            "bigcode",
            Must::Reject(|e| matches!(e, ParseError::StartLine(r) if r.contains("4294967301"))),
        ),
        ("badbranch", Must::Accept),
        (
            "insuf",
            Must::Reject(|e| matches!(e, ParseError::Missing(_))),
        ),
        ("unkscm", Must::Accept),
        ("novelsc", Must::Accept),
        ("unksm2", Must::Accept),
        ("bext01", Must::Accept),
        ("invut", Must::Accept),
        ("regaut01", Must::Accept),
        (
            "multi01",
            Must::Reject(|e| matches!(e, ParseError::Duplicate(_))),
        ),
        (
            "mcl01",
            Must::Reject(|e| *e == ParseError::Duplicate("content-length".into())),
        ),
        ("bcast", Must::Accept),
        ("zeromf", Must::Accept),
        ("cparam01", Must::Accept),
        ("cparam02", Must::Accept),
        ("regescrt", Must::Accept),
        ("sdp01", Must::Accept),
        ("inv2543", Must::Accept),
    ];

    /// What holds for every message callpop accepts.
    fn check_accepted(name: &str, raw: &[u8], msg: &Message) {
        assert!(msg.call_id().is_some() && msg.top_via().is_some(), "{name}");
        let (_, cseq_method) = msg.cseq().unwrap_or_else(|| panic!("{name}: cseq"));
        if let Some(method) = msg.method() {
            assert_eq!(method, cseq_method, "{name}");
        }
        match msg.header("content-length") {
            Some(len) => assert_eq!(msg.body.len().to_string(), len, "{name}"),
            None => assert!(raw.ends_with(&msg.body), "{name}: the body is the rest"),
        }
    }

    #[test]
    fn rfc4475_corpus() {
        let files = fixtures::dir("rfc4475", ".dat");
        assert_eq!(files.len(), RFC4475.len(), "one table row per .dat file");
        for (file, raw) in &files {
            let name = file.trim_end_matches(".dat");
            let Some((_, must)) = RFC4475.iter().find(|(n, _)| *n == name) else {
                panic!("rfc4475/{file} is not in the table");
            };
            match (must, Message::parse(raw)) {
                (Must::Accept | Must::Either(true), Ok(msg)) => check_accepted(name, raw, &msg),
                (Must::Reject(why), Err(e)) => assert!(why(&e), "{name} rejected for {e}"),
                (Must::Either(false), Err(_)) => {}
                (_, got) => panic!("{name}: unexpected {got:?}"),
            }
        }
    }

    fn rfc4475(name: &str) -> Message {
        parse(&fixtures::read(&format!("rfc4475/{name}.dat")))
    }

    #[test]
    fn rfc4475_accepted_messages_mean_what_they_say() {
        // wsinv means exactly what a tidy INVITE would.
        let msg = rfc4475("wsinv");
        assert_eq!(
            (msg.to_tag(), msg.from_tag()),
            (Some("1918181833n"), Some("98asjd8"))
        );
        assert_eq!(
            addr(&msg, "from").display.as_deref(),
            Some(r#"J Rosenberg \""#)
        );
        assert_eq!(
            (msg.cseq(), msg.header("max-forwards")),
            (Some((9, "INVITE")), Some("0068"))
        );
        assert_eq!(msg.top_via_branch(), Some("390skdjuw"));
        let hosts: Vec<String> = msg
            .headers("via")
            .map(|v| parse_via(v).unwrap().host)
            .collect();
        assert_eq!(
            hosts,
            ["192.0.2.2", "spindle.example.com", "192.168.255.111"]
        );
        let branches: Vec<_> = msg
            .headers("via")
            .map(|v| parse_via(v).unwrap().params)
            .collect();
        assert_eq!(branches[2], params(&[("branch", Some("z9hG4bK30239"))]));
        assert_eq!(msg.header("s"), Some(""));
        let folded = "newfangled value continued newfangled value";
        assert_eq!(msg.header("NewFangledHeader"), Some(folded));
        assert_eq!(
            addr(&msg, "contact").display.as_deref(),
            Some(r#"Quoted string """#)
        );
        assert!(msg.body.starts_with(b"v=0\r\n") && msg.body.len() == 150);

        // intmeth: unusual tokens everywhere, and UTF-8 in values.
        let msg = rfc4475("intmeth");
        assert_eq!(
            msg.method(),
            Some("!interesting-Method0123456789_*+`.%indeed'~")
        );
        assert_eq!(
            addr(&msg, "to").display.as_deref(),
            Some("BEL:\x07 NUL:\0 DEL:\x7f")
        );
        assert_eq!(msg.from_tag(), Some("_token~1'+`*%!-."));
        assert_eq!(
            msg.header("extensionHeader-!.%*+_`'~"),
            Some("\u{FEFF}大停電")
        );

        // esc01: escapes are undone in URIs, and do not make a sips: URI.
        let msg = rfc4475("esc01");
        let target = request_uri(&msg);
        assert_eq!(
            (target.scheme.as_str(), target.user.as_deref()),
            ("sip", Some("sips:user@example.com"))
        );
        assert_eq!(addr(&msg, "to").uri.user.as_deref(), Some("user"));
        assert_eq!(
            addr(&msg, "from").uri.user.as_deref(),
            Some("I have spaces")
        );
        assert_eq!(msg.header("content-type"), Some("application/sdp"));
        let contact = addr(&msg, "contact").uri;
        assert_eq!(
            contact.params,
            params(&[("lr", None), ("name", Some("value%41"))])
        );

        // escnull: NULs decode and nothing is cut short.
        let msg = rfc4475("escnull");
        let users: Vec<_> = msg
            .headers("contact")
            .map(|c| parse_name_addr(c).unwrap().uri.user)
            .collect();
        assert_eq!(users, [Some("\0".to_string()), Some("\0\0".to_string())]);

        // esc02: '%' that is not an escape, in a method and a header name.
        let msg = rfc4475("esc02");
        assert_eq!(
            (msg.method(), msg.cseq()),
            (Some("RE%47IST%45R"), Some((29344, "RE%47IST%45R")))
        );
        assert_eq!(
            msg.headers("contact").count(),
            2,
            "C%6Fntact is not Contact"
        );
        assert_eq!(
            msg.header("c%6fntact"),
            Some("<sip:alias2@host2.example.com>")
        );
        assert_eq!(addr(&msg, "to").display.as_deref(), Some("%Z%45"));
        assert_eq!(msg.top_via_branch(), Some("z9hG4bK209%fzsnel234"));

        let msg = rfc4475("longreq");
        assert_eq!(msg.headers("via").count(), 34);
        assert_eq!(msg.top_via().unwrap().host, "sip33.example.com");
        assert!(addr(&msg, "to")
            .display
            .unwrap()
            .ends_with("extremeextreme proportion"));

        // dblreq: the REGISTER only; mpart01: a binary body framed by Content-Length.
        assert_eq!(
            (rfc4475("dblreq").method(), rfc4475("dblreq").body.len()),
            (Some("REGISTER"), 0)
        );
        let raw = fixtures::read("rfc4475/mpart01.dat");
        assert_eq!(parse(&raw).body, raw[raw.len() - 553..]);
        assert!(
            parse(&raw)
                .body
                .windows(2)
                .any(|w| w[0] != b'\r' && w[1] == b'\n'),
            "bare LF"
        );

        let msg = rfc4475("semiuri");
        assert_eq!(
            request_uri(&msg).user.as_deref(),
            Some("user;par=u@example.net")
        );
        assert_eq!(msg.headers("accept").count(), 6);

        let msg = rfc4475("transports");
        let transports: Vec<_> = msg
            .headers("via")
            .map(|v| parse_via(v).unwrap().transport)
            .collect();
        assert_eq!(transports, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);

        let msg = rfc4475("unreason");
        let reason = "= 2**3 * 5**2 но сто девяносто девять - простое";
        assert_eq!(
            msg.start,
            StartLine::Response {
                version: "SIP/2.0".into(),
                code: 200,
                reason: reason.into()
            }
        );
        assert_eq!(
            (
                rfc4475("noreason").status(),
                rfc4475("noreason").start.clone()
            ),
            (
                Some(100),
                StartLine::Response {
                    version: "SIP/2.0".into(),
                    code: 100,
                    reason: String::new()
                }
            )
        );

        let contact = addr(&rfc4475("cparam01"), "contact");
        assert_eq!(
            (contact.uri.params.len(), contact.param("unknownparam")),
            (0, Some(""))
        );
        let contact = addr(&rfc4475("cparam02"), "contact");
        assert_eq!(
            (contact.uri.param("unknownparam"), contact.params.len()),
            (Some(""), 0)
        );

        let msg = rfc4475("regescrt");
        assert_eq!(
            addr(&msg, "contact").uri.headers.as_deref(),
            Some("Route=%3Csip:sip.example.com%3E")
        );
        assert_eq!(msg.headers("route").count(), 0);

        let msg = rfc4475("inv2543");
        assert!(msg.header("content-length").is_none() && msg.body.starts_with(b"v=0"));
        assert_eq!((msg.top_via_branch(), msg.from_tag()), (None, None));

        assert_eq!(rfc4475("badbranch").top_via_branch(), Some("z9hG4bK"));
        assert_eq!(rfc4475("zeromf").header("max-forwards"), Some("0"));
        assert_eq!(addr(&rfc4475("unksm2"), "to").uri.scheme, "isbn");
        let hosts: Vec<_> = rfc4475("bcast")
            .headers("via")
            .map(|v| parse_via(v).unwrap().host)
            .collect();
        assert_eq!(hosts, ["192.0.2.198", "255.255.255.255"]);
    }

    #[test]
    fn rfc4475_either_messages_are_not_misread() {
        // escruri, regbadct: the escaped Route stays inside the URI.
        let msg = rfc4475("escruri");
        assert_eq!(msg.headers("route").count(), 0);
        assert_eq!(
            request_uri(&msg).headers.as_deref(),
            Some("Route=%3Csip:example.com%3E")
        );
        let msg = rfc4475("regbadct");
        assert_eq!(msg.headers("route").count(), 0);
        let contact = addr(&msg, "contact");
        assert_eq!(
            contact.uri.headers.as_deref(),
            Some("Route=%3Csip:sip.example.com%3E")
        );
        assert_eq!(contact.uri.user.as_deref(), Some("user"));

        // lwsstart, trws: the same three elements as a tidy request line.
        for name in ["lwsstart", "trws"] {
            let StartLine::Request { uri, version, .. } = rfc4475(name).start else {
                panic!("{name}")
            };
            assert!(
                uri.starts_with("sip:") && !uri.contains(' '),
                "{name}: {uri:?}"
            );
            assert_eq!(version, "SIP/2.0", "{name}");
        }

        let to = addr(&rfc4475("badaspec"), "to");
        assert_eq!(
            (to.display.as_deref(), to.uri.user.as_deref()),
            (Some("Watson, Thomas"), Some("t.watson"))
        );
        assert_eq!(
            rfc4475("baddate").header("date"),
            Some("Fri, 01 Jan 2010 16:00:00 EST")
        );
    }

    // ---- Asterisk ------------------------------------------------------------------

    #[test]
    fn asterisk_invites_and_logs() {
        // The INVITE files are byte-exact CRLF messages with no header line around them.
        let invites = fixtures::dir("asterisk", ".txt");
        let invites: Vec<_> = invites
            .into_iter()
            .filter(|(n, _)| n.starts_with("sip-invite-"))
            .collect();
        assert_eq!(invites.len(), 4);
        for (name, raw) in &invites {
            let msg = parse(raw);
            assert_eq!(msg.method(), Some("INVITE"), "{name}");
            check_accepted(name, raw, &msg);
            assert!(
                msg.body.starts_with(b"v=0\r\n") && msg.body.ends_with(b"a=sendrecv\r\n"),
                "{name}"
            );
        }

        let logs = fixtures::dir("asterisk/sip", ".log");
        assert_eq!(logs.len(), 6);
        for (name, _) in &logs {
            let messages = fixtures::sipp_log(&format!("asterisk/sip/{name}"));
            let parsed: Vec<Message> = messages.iter().map(|m| parse(m)).collect();
            assert_eq!(parsed[0].method(), Some("INVITE"), "{name}");
            for (raw, msg) in messages.iter().zip(&parsed) {
                check_accepted(name, raw, msg);
                assert_eq!(
                    msg.call_id(),
                    parsed[0].call_id(),
                    "{name}: one call per log"
                );
            }
        }

        // The log of scenario a holds the same INVITE as its file.
        let log = fixtures::sipp_log("asterisk/sip/a-ext201-uas.log");
        assert_eq!(
            log[0],
            fixtures::read("asterisk/sip-invite-a-to-201-inbound-answered.txt")
        );
        let codes: Vec<_> = log.iter().map(|m| parse(m).status()).collect();
        assert_eq!(
            codes,
            [None, Some(100), Some(180), Some(200), None, None, Some(200)]
        );
    }

    // ---- line handling -------------------------------------------------------------

    #[test]
    fn line_endings_and_folding() {
        // LF-only line ends read the same as CRLF.
        let crlf = fixtures::read("field/raw/02-compact.sip");
        let lf = String::from_utf8(crlf.clone())
            .unwrap()
            .replace("\r\n", "\n");
        assert_eq!(parse(lf.as_bytes()), parse(&crlf));

        // Folding applies to headers only, never to the body.
        let body = "line one\r\n continued?\r\n";
        let raw = String::from_utf8(request_with("Content-Type: text/plain\r\n")).unwrap();
        let raw = raw.replace(
            "Content-Length: 0",
            &format!("Content-Length: {}", body.len()),
        );
        let msg = parse(format!("{raw}{body}").as_bytes());
        assert_eq!(msg.body, body.as_bytes());

        // A fold at the very start of a value, and whitespace-only continuation lines.
        let msg = parse(&request_with("Subject:\r\n \r\n\tfirst\r\n   second\r\n"));
        assert_eq!(msg.header("subject"), Some("first second"));

        // Leading line breaks before the start line are skipped.
        let mut padded = b"\r\n\r\n".to_vec();
        padded.extend(&crlf);
        assert_eq!(parse(&padded), parse(&crlf));
    }

    fn check_error(raw: &[u8], expected: ParseError) {
        assert_eq!(
            Message::parse(raw),
            Err(expected),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }

    #[test]
    fn malformed_lines() {
        let ok = String::from_utf8(request_with("")).unwrap();
        check_error(b"", ParseError::Empty);
        check_error(b"\r\n\r\n", ParseError::Empty);
        check_error(&ok.as_bytes()[..ok.len() - 2], ParseError::Unterminated);
        let bare_cr = ok.replace("Call-ID: base", "Call-ID: ba\rse");
        check_error(
            bare_cr.as_bytes(),
            ParseError::Line {
                line: 5,
                reason: "carriage return without line feed".into(),
            },
        );
        let first_folded = ok.replace("\r\nVia", "\r\n Via");
        check_error(
            first_folded.as_bytes(),
            ParseError::Line {
                line: 2,
                reason: "continuation line before any header".into(),
            },
        );
        let no_colon = ok.replace("CSeq: 1", "CSeq 1");
        check_error(
            no_colon.as_bytes(),
            ParseError::Line {
                line: 6,
                reason: "no ':' after the header name".into(),
            },
        );
        let bad_name = ok.replace("Call-ID:", "Call ID:");
        check_error(
            bad_name.as_bytes(),
            ParseError::Line {
                line: 5,
                reason: "header name \"Call ID\" is not a token".into(),
            },
        );

        let mut latin1 = request_with("Subject: caf").to_vec();
        let at = latin1.windows(3).position(|w| w == b"caf").unwrap() + 3;
        latin1.insert(at, 0xe9);
        check_error(&latin1, ParseError::NotUtf8 { line: 7 });
    }

    #[test]
    fn start_lines() {
        let ok = String::from_utf8(request_with("")).unwrap();
        let with_start =
            |line: &str| ok.replacen("OPTIONS sip:201@pbx.example.com SIP/2.0", line, 1);
        let start = |line: &str| Message::parse(with_start(line).as_bytes()).map(|m| m.start);

        assert!(
            start("OPTIONS sip:201@pbx.example.com sip/2.0").is_ok(),
            "version in any case"
        );
        assert_eq!(
            start("OPTIONS sip:201@pbx.example.com SIP/2.1"),
            Err(ParseError::UnsupportedVersion("SIP/2.1".into()))
        );
        assert!(matches!(
            start("OPTIONS sip:201@pbx.example.com HTTP/1.1"),
            Err(ParseError::StartLine(_))
        ));
        assert!(matches!(
            start("OPTIONS sip:201@pbx.example.com"),
            Err(ParseError::StartLine(_))
        ));
        assert!(matches!(
            start("OPT(IONS sip:201@pbx.example.com SIP/2.0"),
            Err(ParseError::StartLine(_))
        ));
        assert!(matches!(
            start("OPTIONS sip:201@[::1 SIP/2.0"),
            Err(ParseError::StartLine(_))
        ));

        let status = |line: &str| {
            start(line).map(|s| match s {
                StartLine::Response { code, reason, .. } => (code, reason),
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(status("SIP/2.0 180 Ringing"), Ok((180, "Ringing".into())));
        assert_eq!(
            status("SIP/2.0 486 Busy Here "),
            Ok((486, "Busy Here ".into()))
        );
        assert_eq!(
            status("SIP/2.0 200"),
            Ok((200, String::new())),
            "reason and its SP missing"
        );
        assert_eq!(
            status("SIP/3.0 200 OK"),
            Err(ParseError::UnsupportedVersion("SIP/3.0".into()))
        );
        for bad in [
            "SIP/2.0 2000 OK",
            "SIP/2.0 099 Low",
            "SIP/2.0 700 High",
            "SIP/2.0 +20 OK",
            "SIP/2.0  200 OK",
        ] {
            assert!(
                matches!(status(bad), Err(ParseError::StartLine(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn header_values_callpop_relies_on() {
        let check = |extra: &str, ok: bool| {
            let got = Message::parse(&request_with(extra));
            assert_eq!(got.is_ok(), ok, "{extra:?}: {got:?}");
        };
        check("Max-Forwards: 255\r\n", true);
        check("Max-Forwards: 256\r\n", false);
        check("Max-Forwards: -1\r\n", false);
        check("Max-Forwards: 70\r\nMax-Forwards: 70\r\n", true);
        check("Max-Forwards: 70\r\nMax-Forwards: 69\r\n", false);
        check("Contact: *\r\n", true);
        check(
            "Contact: <sip:a@example.com>, ,<sip:b@example.com>\r\n",
            false,
        );
        check("Via: SIP/2.0/UDP\r\n", false);
        check("Via: SIP/2.0/UDP host.example.com extra\r\n", false);
        check(
            "Via: SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK1;rport\r\n",
            true,
        );
        check("Via: SIP/2.0/UDP 2001:db8::1;branch=z9hG4bK1\r\n", false);
        check("l: 0\r\nContent-Length: 00\r\n", true);
        check("Content-Length: 1e3\r\n", false);
        check("Content-Length: 99999999999999999999999\r\n", false);
        check("From: <sip:other@example.com>;tag=2\r\n", false);
        check("f: <sip:100@pbx.example.com>;tag=b1\r\n", true);

        // The CSeq number stays below 2^31 (RFC 3261 §8.1.1.5).
        let cseq = |n: &str| request_with("").replace_cseq(n);
        assert!(Message::parse(&cseq("2147483647 OPTIONS")).is_ok());
        assert!(Message::parse(&cseq("2147483648 OPTIONS")).is_err());
        assert!(Message::parse(&cseq("1 OPTIONS extra")).is_err());
    }

    trait ReplaceCseq {
        fn replace_cseq(&self, value: &str) -> Vec<u8>;
    }

    impl ReplaceCseq for Vec<u8> {
        fn replace_cseq(&self, value: &str) -> Vec<u8> {
            fixtures::replace_line(self, "CSeq:", &format!("CSeq: {value}"))
        }
    }

    #[test]
    fn error_messages_read_well() {
        let bad: Vec<Vec<u8>> = [
            "badvers",
            "clerr",
            "ncl",
            "insuf",
            "multi01",
            "mismatch01",
            "quotbal",
        ]
        .iter()
        .map(|name| fixtures::read(&format!("rfc4475/{name}.dat")))
        .chain([
            Vec::new(),
            b"INVITE sip:a@b SIP/2.0\r\n".to_vec(),
            vec![0xff; 8],
        ])
        .collect();
        for raw in bad {
            let text = Message::parse(&raw).unwrap_err().to_string();
            let first = text.chars().next().unwrap();
            assert!(!first.is_uppercase() && !text.ends_with('.'), "{text:?}");
        }
        let frames = [b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n".as_slice()];
        for raw in frames {
            let Frame::Invalid(e) = frame(raw) else {
                panic!("{raw:?}")
            };
            assert_eq!(e.to_string(), "missing content-length header");
        }
    }

    // ---- framing -------------------------------------------------------------------

    #[derive(Debug, PartialEq)]
    enum Event {
        Skip(usize),
        Message(Vec<u8>),
        Invalid(ParseError),
    }

    /// Feeds `bytes` to [`frame`] in pieces of `chunk` bytes, as a stream reader would.
    fn stream(bytes: &[u8], chunk: usize) -> Vec<Event> {
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

        let framing_error =
            |name: &str| match frame(&fixtures::read(&format!("rfc4475/{name}.dat"))) {
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

    // ---- robustness ----------------------------------------------------------------

    #[test]
    fn damaged_messages_never_panic() {
        let mut parsed = 0;
        let mut variants = 0;
        for (i, (name, seed)) in fixtures::corpus().into_iter().enumerate() {
            for damaged in fixtures::mutations(&seed, i as u64, 40) {
                variants += 1;
                if let Ok(msg) = Message::parse(&damaged) {
                    parsed += 1;
                    check_accepted(&name, &damaged, &msg);
                    assert!(
                        Message::parse(&response(&msg, 200, "OK", Some("t"), &[])).is_ok(),
                        "{name}"
                    );
                }
                let events = stream(&damaged, damaged.len().max(1));
                let framed: usize = events
                    .iter()
                    .map(|e| match e {
                        Event::Skip(n) => *n,
                        Event::Message(m) => m.len(),
                        Event::Invalid(_) => 0,
                    })
                    .sum();
                assert!(framed <= damaged.len(), "{name}");
            }
        }
        assert!(variants > 4000, "only {variants} variants");
        // The damage must leave some messages whole, or the checks above never ran.
        assert!(
            parsed > variants / 20 && parsed < variants,
            "{parsed} of {variants} parsed"
        );
    }

    #[test]
    fn hostile_inputs_are_refused_quickly() {
        let many = |s: &str, n: usize| s.repeat(n);
        let inputs = [
            many("\r\n", 100_000),
            format!(
                "INVITE sip:a@b SIP/2.0\r\nVia: {}\r\n\r\n",
                many(",", 100_000)
            ),
            format!(
                "INVITE sip:a@b SIP/2.0\r\nTo: {}\r\n\r\n",
                many("\"", 100_001)
            ),
            format!(
                "INVITE sip:a@b SIP/2.0\r\nTo: {}\r\n\r\n",
                many("<", 100_000)
            ),
            format!(
                "INVITE sip:a@b SIP/2.0\r\nContact: <sip:a@b>{}\r\n\r\n",
                many(";x", 50_000)
            ),
            format!(
                "INVITE sip:a@b SIP/2.0\r\nX: a\r\n{}\r\n",
                many(" folded\r\n", 50_000)
            ),
            format!("INVITE sip:{}@b SIP/2.0\r\n\r\n", many("%", 100_000)),
        ];
        for input in inputs {
            let started = std::time::Instant::now();
            assert!(Message::parse(input.as_bytes()).is_err());
            let _ = frame(input.as_bytes());
            assert!(
                started.elapsed().as_secs() < 5,
                "{}",
                &input[..40.min(input.len())]
            );
        }
    }

    // ---- responses -----------------------------------------------------------------

    #[test]
    fn responses_echo_the_request() {
        let invite = parse(&fixtures::read("field/raw/11a-invite.sip"));
        let extra = [("Contact", "<sip:201@192.0.2.40:5062>")];
        let ringing = parse(&response(&invite, 180, "Ringing", Some("cp1"), &extra));
        assert_eq!(ringing.status(), Some(180));
        assert_eq!(ringing.top_via_branch(), invite.top_via_branch());
        assert_eq!(
            (ringing.call_id(), ringing.cseq()),
            (invite.call_id(), invite.cseq())
        );
        assert_eq!(
            (ringing.from_tag(), ringing.to_tag()),
            (Some("ce11"), Some("cp1"))
        );
        assert_eq!(ringing.header("contact"), Some("<sip:201@192.0.2.40:5062>"));
        assert_eq!(
            (ringing.header("content-length"), ringing.body.len()),
            (Some("0"), 0)
        );

        // Every Via in order, full header names for a compact request, an existing tag kept.
        let longreq = rfc4475("longreq");
        let trying = parse(&response(&longreq, 100, "Trying", None, &[]));
        assert_eq!(
            trying.headers("via").collect::<Vec<_>>(),
            longreq.headers("via").collect::<Vec<_>>()
        );
        let compact = parse(&fixtures::read("field/raw/02-compact.sip"));
        let ok = response(&compact, 200, "OK", Some("x"), &[]);
        assert!(String::from_utf8(ok)
            .unwrap()
            .contains("\r\nFrom: \"Dana Ortiz\""));
        let wsinv = rfc4475("wsinv");
        assert_eq!(
            parse(&response(&wsinv, 200, "OK", Some("x"), &[])).to_tag(),
            Some("1918181833n")
        );
    }
}
