//! The same questions asked of each parser: parse the bytes, then read the fields callpop
//! needs through the parser's own API (typed headers where it has them).
//!
//! A field is `Ok("")` when absent, `Ok(value)` when read, and `Err(reason)` when the
//! parser raised an error on it (a typed header that does not parse).

use std::hint::black_box;

pub type Field = Result<String, String>;

#[derive(Debug, Clone)]
pub struct Got {
    pub call_id: Field,
    pub cseq: Field,
    pub branch: Field,
    pub ruri_user: Field,
    pub ruri_host: Field,
    pub from_display: Field,
    pub from_user: Field,
    pub from_tag: Field,
    pub body_len: usize,
    pub pai_user: Field,
    pub rpid_display: Field,
    pub rpid_user: Field,
    pub privacy: Field,
}

/// One name-addr value read on its own.
#[derive(Debug, Clone)]
pub struct NameAddrGot {
    pub display: String,
    pub user: String,
    pub tag: String,
    pub params: Vec<(String, String)>,
}

#[derive(Clone, Copy)]
pub struct Parser {
    pub name: &'static str,
    /// Framing-level parse only.
    pub parse: fn(&[u8]) -> Result<(), String>,
    /// Parse, then read every field callpop needs.
    pub read: fn(&[u8]) -> Result<Got, String>,
    /// Read one From-style header value.
    pub name_addr: fn(&str) -> Result<NameAddrGot, String>,
    /// How the parser reads P-Asserted-Identity, Remote-Party-ID and Privacy.
    pub identity_api: &'static str,
}

fn absent() -> Field {
    Ok(String::new())
}

/// `host` or `[v6]`, then `:port`: one spelling whatever a parser does with brackets.
fn host_port(host: &str, port: Option<String>) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let host = if bare.contains(':') {
        format!("[{bare}]")
    } else {
        bare.to_string()
    };
    match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

fn short(e: impl std::fmt::Display) -> String {
    let full = e.to_string();
    // rsip's tokenizer errors quote the whole message; the line it stopped at is the news.
    let full = match full.split_once(" or failed to tokenize headers: ") {
        Some((_, rest)) => {
            let line = rest.trim_start().lines().next().unwrap_or_default();
            format!("failed to tokenize headers at {:?}", line.trim_end_matches('\r'))
        }
        None => full,
    };
    let text = full.replace(['\r', '\n'], " ");
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // rsip nests the same prefix several times; once says it.
    while let Some(rest) = text
        .strip_prefix("Tokenizer error: ")
        .or_else(|| text.strip_prefix("tokenizer error: "))
    {
        text = rest.to_string();
    }
    if text.chars().count() > 90 {
        let cut: String = text.chars().take(87).collect();
        format!("{cut}...")
    } else {
        text
    }
}

// ---------------------------------------------------------------------------------------
// callpop: src/telephony/sip/message/ (and identity/ for the caller section)

pub mod callpop {
    use super::*;
    use crate::sip::message::{parse_name_addr, parse_uri, Message, NameAddr, Uri};

    fn user(uri: &Uri) -> String {
        uri.user.clone().unwrap_or_default()
    }

    fn name_addr_of(value: Option<&str>) -> Result<Option<NameAddr>, String> {
        match value {
            None => Ok(None),
            Some(v) => parse_name_addr(v).map(Some).map_err(short),
        }
    }

    pub fn parse(raw: &[u8]) -> Result<(), String> {
        Message::parse(black_box(raw))
            .map(|m| {
                black_box(m);
            })
            .map_err(short)
    }

    pub fn read(raw: &[u8]) -> Result<Got, String> {
        let msg = Message::parse(raw).map_err(short)?;

        let cseq = match msg.cseq() {
            Some((n, m)) => Ok(format!("{n} {m}")),
            None => Err(format!("CSeq {:?} unreadable", msg.header("cseq"))),
        };
        let (ruri_user, ruri_host) = match msg.request_uri() {
            None => (absent(), absent()),
            Some(text) => match parse_uri(text) {
                Ok(uri) => (
                    Ok(user(&uri)),
                    Ok(uri
                        .host
                        .as_deref()
                        .map(|h| host_port(h, uri.port.map(|p| p.to_string())))
                        .unwrap_or_default()),
                ),
                Err(e) => (Err(short(&e)), Err(short(&e))),
            },
        };
        let from = name_addr_of(msg.header("from"));
        let pai = name_addr_of(msg.headers("p-asserted-identity").next());
        let rpid = name_addr_of(msg.headers("remote-party-id").next());

        Ok(Got {
            call_id: Ok(msg.call_id().unwrap_or_default().to_string()),
            cseq,
            branch: Ok(msg.top_via_branch().unwrap_or_default().to_string()),
            ruri_user,
            ruri_host,
            from_display: from
                .clone()
                .map(|f| f.and_then(|f| f.display).unwrap_or_default()),
            from_user: from
                .clone()
                .map(|f| f.map(|f| user(&f.uri)).unwrap_or_default()),
            from_tag: from.map(|f| {
                f.and_then(|f| f.param("tag").map(str::to_string))
                    .unwrap_or_default()
            }),
            body_len: msg.body.len(),
            pai_user: pai.map(|p| p.map(|p| user(&p.uri)).unwrap_or_default()),
            rpid_display: rpid
                .clone()
                .map(|r| r.and_then(|r| r.display).unwrap_or_default()),
            rpid_user: rpid.map(|r| r.map(|r| user(&r.uri)).unwrap_or_default()),
            privacy: Ok(msg.header("privacy").unwrap_or_default().to_string()),
        })
    }

    pub fn name_addr(value: &str) -> Result<NameAddrGot, String> {
        let n = parse_name_addr(value).map_err(short)?;
        Ok(NameAddrGot {
            display: n.display.clone().unwrap_or_default(),
            user: user(&n.uri),
            tag: n.param("tag").unwrap_or_default().to_string(),
            params: n
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                .collect(),
        })
    }

    /// callpop reads a list header one entry at a time.
    pub fn first_list_entry(value: &str) -> String {
        let raw = format!(
            "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n\
             To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nP-Asserted-Identity: {value}\r\n\
             Content-Length: 0\r\n\r\n"
        );
        Message::parse(raw.as_bytes())
            .ok()
            .and_then(|m| m.headers("p-asserted-identity").next().map(str::to_string))
            .unwrap_or_else(|| value.to_string())
    }

    pub const PARSER: Parser = Parser {
        name: "callpop",
        parse,
        read,
        name_addr,
        identity_api:
            "typed: `Message::headers` splits the list, `parse_name_addr` reads each entry",
    };
}

// ---------------------------------------------------------------------------------------
// rsip 0.4.0

pub mod rsip_0_4 {
    use super::*;
    use rsip::prelude::*;
    use rsip::{Header, Scheme, SipMessage, Uri};

    /// The user part; a tel: number wherever the crate puts it.
    fn user(uri: &Uri) -> String {
        let user = uri.auth.as_ref().map(|a| a.user.clone());
        match &uri.scheme {
            Some(Scheme::Other(s)) if s.eq_ignore_ascii_case("tel") => {
                user.unwrap_or_else(|| uri.host_with_port.host.to_string())
            }
            _ => user.unwrap_or_default(),
        }
    }

    fn other<'a>(msg: &'a SipMessage, name: &str) -> Option<&'a str> {
        msg.headers().iter().find_map(|h| match h {
            Header::Other(n, v) if n.eq_ignore_ascii_case(name) => Some(v.as_str()),
            _ => None,
        })
    }

    fn typed_from(value: &str) -> Result<rsip::typed::From, String> {
        rsip::headers::From::new(value).typed().map_err(short)
    }

    pub fn parse(raw: &[u8]) -> Result<(), String> {
        SipMessage::try_from(black_box(raw))
            .map(|m| {
                black_box(m);
            })
            .map_err(short)
    }

    pub fn read(raw: &[u8]) -> Result<Got, String> {
        let msg = SipMessage::try_from(raw).map_err(short)?;

        let (ruri_user, ruri_host, body_len) = match &msg {
            SipMessage::Request(r) => (
                Ok(user(&r.uri)),
                Ok(host_port(
                    &r.uri.host_with_port.host.to_string(),
                    r.uri.host_with_port.port.as_ref().map(|p| p.to_string()),
                )),
                r.body.len(),
            ),
            SipMessage::Response(r) => (absent(), absent(), r.body.len()),
        };
        let from = msg
            .from_header()
            .map_err(short)
            .and_then(|h| h.typed().map_err(short));
        let pai = other(&msg, "P-Asserted-Identity")
            .map(typed_from)
            .transpose();
        let rpid = other(&msg, "Remote-Party-ID").map(typed_from).transpose();

        Ok(Got {
            call_id: msg
                .call_id_header()
                .map(|h| h.value().to_string())
                .map_err(short),
            cseq: msg
                .cseq_header()
                .map_err(short)
                .and_then(|h| h.typed().map_err(short))
                .map(|c| format!("{} {}", c.seq, c.method)),
            branch: msg
                .via_header()
                .map_err(short)
                .and_then(|h| h.typed().map_err(short))
                .map(|v| v.branch().map(|b| b.to_string()).unwrap_or_default()),
            ruri_user,
            ruri_host,
            from_display: from
                .clone()
                .map(|f| f.display_name.clone().unwrap_or_default()),
            from_user: from.clone().map(|f| user(&f.uri)),
            from_tag: from.map(|f| f.tag().map(|t| t.to_string()).unwrap_or_default()),
            body_len,
            pai_user: pai.map(|p| p.map(|p| user(&p.uri)).unwrap_or_default()),
            rpid_display: rpid
                .clone()
                .map(|r| r.and_then(|r| r.display_name).unwrap_or_default()),
            rpid_user: rpid.map(|r| r.map(|r| user(&r.uri)).unwrap_or_default()),
            privacy: Ok(other(&msg, "Privacy").unwrap_or_default().to_string()),
        })
    }

    pub fn name_addr(value: &str) -> Result<NameAddrGot, String> {
        let f = typed_from(value)?;
        Ok(NameAddrGot {
            display: f.display_name.clone().unwrap_or_default(),
            user: user(&f.uri),
            tag: f.tag().map(|t| t.to_string()).unwrap_or_default(),
            params: f
                .params
                .iter()
                .map(|p| {
                    let text = p.to_string();
                    let text = text.trim_start_matches(';');
                    match text.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (text.to_string(), String::new()),
                    }
                })
                .collect(),
        })
    }

    pub const PARSER: Parser = Parser {
        name: "rsip 0.4.0",
        parse,
        read,
        name_addr,
        identity_api: "raw only (`Header::Other`); values read with the crate's typed From parser",
    };
}

// ---------------------------------------------------------------------------------------
// rsipstack::sip

pub mod rsipstack_sip {
    use super::*;
    use rsipstack::sip::prelude::*;
    use rsipstack::sip::{Header, Scheme, SipMessage, Uri};

    /// The user part; a tel: number wherever the crate puts it.
    fn user(uri: &Uri) -> String {
        let user = uri.auth.as_ref().map(|a| a.user.clone());
        match &uri.scheme {
            Some(Scheme::Other(s)) if s.eq_ignore_ascii_case("tel") => {
                user.unwrap_or_else(|| uri.host_with_port.host.to_string())
            }
            _ => user.unwrap_or_default(),
        }
    }

    fn typed_from(value: &str) -> Result<rsipstack::sip::typed::From, String> {
        rsipstack::sip::typed::From::parse(value).map_err(short)
    }

    pub fn parse(raw: &[u8]) -> Result<(), String> {
        SipMessage::try_from(black_box(raw))
            .map(|m| {
                black_box(m);
            })
            .map_err(short)
    }

    pub fn read(raw: &[u8]) -> Result<Got, String> {
        let msg = SipMessage::try_from(raw).map_err(short)?;

        let (ruri_user, ruri_host, body_len) = match &msg {
            SipMessage::Request(r) => (
                Ok(user(&r.uri)),
                Ok(host_port(
                    &r.uri.host_with_port.host.to_string(),
                    r.uri.host_with_port.port.as_ref().map(|p| p.to_string()),
                )),
                r.body.len(),
            ),
            SipMessage::Response(r) => (absent(), absent(), r.body.len()),
        };
        let from = msg
            .from_header()
            .map_err(short)
            .and_then(|h| h.typed().map_err(short));
        let pai = msg
            .p_asserted_identity_header()
            .map(|h| typed_from(h.value()))
            .transpose();
        let rpid = msg
            .headers()
            .iter()
            .find_map(|h| match h {
                Header::Other(n, v) if n.eq_ignore_ascii_case("Remote-Party-ID") => {
                    Some(v.as_str())
                }
                _ => None,
            })
            .map(typed_from)
            .transpose();

        Ok(Got {
            call_id: msg
                .call_id_header()
                .map(|h| h.value().to_string())
                .map_err(short),
            cseq: msg
                .cseq_header()
                .map_err(short)
                .and_then(|h| h.typed().map_err(short))
                .map(|c| format!("{} {}", c.seq, c.method)),
            branch: msg
                .top_via_header()
                .map_err(short)
                .and_then(|h| h.typed().map_err(short))
                .map(|v| {
                    v.branch()
                        .map(|b| b.value().to_string())
                        .unwrap_or_default()
                }),
            ruri_user,
            ruri_host,
            from_display: from
                .clone()
                .map(|f| f.display_name.clone().unwrap_or_default()),
            from_user: from.clone().map(|f| user(&f.uri)),
            from_tag: from.map(|f| f.tag().map(|t| t.value().to_string()).unwrap_or_default()),
            body_len,
            pai_user: pai.map(|p| p.map(|p| user(&p.uri)).unwrap_or_default()),
            rpid_display: rpid
                .clone()
                .map(|r| r.and_then(|r| r.display_name).unwrap_or_default()),
            rpid_user: rpid.map(|r| r.map(|r| user(&r.uri)).unwrap_or_default()),
            privacy: Ok(msg
                .privacy_header()
                .map(|h| h.value().to_string())
                .unwrap_or_default()),
        })
    }

    pub fn name_addr(value: &str) -> Result<NameAddrGot, String> {
        let f = typed_from(value)?;
        Ok(NameAddrGot {
            display: f.display_name.clone().unwrap_or_default(),
            user: user(&f.uri),
            tag: f.tag().map(|t| t.value().to_string()).unwrap_or_default(),
            params: f
                .params
                .iter()
                .map(|p| {
                    let text = p.to_string();
                    let text = text.trim_start_matches(';');
                    match text.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (text.to_string(), String::new()),
                    }
                })
                .collect(),
        })
    }

    pub const PARSER: Parser = Parser {
        name: "rsipstack::sip",
        parse,
        read,
        name_addr,
        identity_api: "P-Asserted-Identity and Privacy untyped (`Header::PAssertedIdentity`, `Header::Privacy`), Remote-Party-ID `Header::Other`; values read with the crate's typed From parser",
    };
}
