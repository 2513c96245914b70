//! SIP message parsing and framing, for the SIP link.
//!
//! [`Message::parse`] reads one message from a UDP datagram, [`frame()`] cuts messages out of
//! a TCP byte stream, and [`parse_uri`] / [`parse_name_addr`] read the addresses that the
//! identity headers carry. Only `std` is used, so the module also compiles on its own beside
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
//!
//! `mod.rs` holds the message and its accessors; each step of reading one lives in a file
//! of its own: `head` (the header section), `start_line`, `fields` (the checks above),
//! `frame` (streams), `uri`, `name_addr`, `params`, `via`, `names` (header names) and
//! `text` (the lexical pieces they share). `response` builds the answers callpop sends.

use std::fmt;

mod fields;
mod frame;
mod head;
mod name_addr;
mod names;
mod params;
mod response;
mod start_line;
mod text;
mod uri;
mod via;

#[cfg(test)]
pub(super) mod fixtures;
#[cfg(test)]
mod tests;

pub use frame::{frame, Frame, MAX_BODY, MAX_HEAD};
pub use name_addr::{parse_name_addr, NameAddr};
pub use names::canonical_name;
pub use params::{parse_params, Param};
pub use response::response;
pub use uri::{parse_uri, Uri};
pub use via::{parse_via, Via};

use fields::{check_fields, datagram_body, parse_cseq};
use head::{head_end, read_head, skip_line_breaks};
use names::{is_list_header, lookup_name};
use start_line::parse_start_line;
use text::{find_outside, param_value, split_first_outside, SplitOutside, WSP};

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

/// The value of the `tag` parameter of a To or From value.
fn tag_of(value: &str) -> Option<&str> {
    let after_uri = match find_outside(value, b'<') {
        Some(lt) => &value[lt + value[lt..].find('>')?..],
        None => value,
    };
    let (_, params) = split_first_outside(after_uri, b';');
    param_value(params?, "tag").filter(|tag| !tag.is_empty())
}
