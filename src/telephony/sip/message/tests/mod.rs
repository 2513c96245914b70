//! Tests of the SIP parser, one file per area, most of them driven by the shared
//! fixtures (`../shared/fixtures` beside the repository). The helpers here serve
//! every area.

use super::fixtures;
use super::*;

mod asterisk;
mod field_cases;
mod framing;
mod headers;
mod lines;
mod name_addrs;
mod responses;
mod robustness;
mod torture;
mod uris;

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

fn rfc4475(name: &str) -> Message {
    parse(&fixtures::read(&format!("rfc4475/{name}.dat")))
}
