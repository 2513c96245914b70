//! Via hops: the transport, the sent-by host and port, and the parameters
//! (`branch`, `received`, `rport`) that name a transaction and its return path.

use super::params::{find_param, parse_params, Param};
use super::text::{is_token, split_first_outside, WSP};
use super::uri::parse_hostport;
use super::ParseError;

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
