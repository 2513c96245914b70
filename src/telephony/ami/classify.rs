//! Which side of the company a channel is on: a trunk to the outside, one
//! of the company's phones, or a Local channel (Asterisk's plumbing).
//!
//! The answer comes from the link's configuration, by the channel's
//! endpoint (its name up to the last `-`) and then by the dialplan context
//! the channel was created in; never from the shape of the name, since a
//! trunk may well be called `PJSIP/5061` and a phone `DAHDI/7`.

use std::collections::{HashMap, HashSet};

/// What a channel stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// A line to the outside world.
    Trunk,
    /// A phone of the company, and the extension it belongs to.
    Internal(String),
    /// Half of a Local channel pair: it stands for whatever it dials.
    Local,
    /// Neither configured nor in a known context: treated as outside.
    Unknown,
}

/// The endpoints and contexts of one PBX, as the link's config names them.
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    pub trunks: HashSet<String>,
    pub internal: HashSet<String>,
    pub extensions: HashMap<String, String>,
    pub trunk_contexts: HashSet<String>,
    pub internal_contexts: HashSet<String>,
}

impl Endpoints {
    /// Where `channel`, created in `context`, belongs.
    pub fn classify(&self, channel: &str, context: &str) -> Side {
        if channel.starts_with("Local/") {
            return Side::Local;
        }
        let endpoint = endpoint(channel);
        if self.trunks.contains(endpoint) {
            return Side::Trunk;
        }
        if let Some(extension) = self.extensions.get(endpoint) {
            return Side::Internal(extension.clone());
        }
        if self.internal.contains(endpoint) || self.internal_contexts.contains(context) {
            return Side::Internal(resource(endpoint).to_owned());
        }
        if self.trunk_contexts.contains(context) {
            return Side::Trunk;
        }
        Side::Unknown
    }
}

/// `PJSIP/201-0000002a` → `PJSIP/201`; `DAHDI/7-1` → `DAHDI/7`. A name with
/// no `-` after its technology is its own endpoint.
pub fn endpoint(channel: &str) -> &str {
    let tech_end = channel.find('/').map_or(0, |i| i + 1);
    match channel[tech_end..].rfind('-') {
        Some(i) => &channel[..tech_end + i],
        None => channel,
    }
}

/// `PJSIP/201` → `201`.
fn resource(endpoint: &str) -> &str {
    endpoint.split_once('/').map_or(endpoint, |(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The endpoints of field case 21.
    fn case_21() -> Endpoints {
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        Endpoints {
            trunks: set(&["PJSIP/carrier-b", "PJSIP/5061"]),
            internal: set(&["PJSIP/201", "PJSIP/202", "PJSIP/203"]),
            extensions: HashMap::from([("DAHDI/7".to_string(), "112".to_string())]),
            trunk_contexts: set(&["from-trunk"]),
            internal_contexts: set(&["from-internal"]),
        }
    }

    #[test]
    fn endpoints_are_names_up_to_the_last_dash() {
        assert_eq!(endpoint("SIP/trunk-00000004"), "SIP/trunk");
        assert_eq!(endpoint("PJSIP/carrier-b-00000041"), "PJSIP/carrier-b");
        assert_eq!(endpoint("DAHDI/7-1"), "DAHDI/7");
        assert_eq!(endpoint("SIP/201"), "SIP/201");
    }

    #[test]
    fn configuration_decides_never_the_shape_of_the_name() {
        let e = case_21();
        // A provider endpoint named like an extension is a trunk.
        assert_eq!(e.classify("PJSIP/5061-00000050", "from-trunk"), Side::Trunk);
        assert_eq!(
            e.classify("PJSIP/5061-00000050", "from-internal"),
            Side::Trunk
        );
        // An analog phone is a phone, with its own extension number.
        assert_eq!(
            e.classify("DAHDI/7-1", "from-internal"),
            Side::Internal("112".into())
        );
        assert_eq!(
            e.classify("PJSIP/203-00000051", "default"),
            Side::Internal("203".into())
        );
        assert_eq!(
            e.classify("PJSIP/carrier-b-00000041", "from-internal"),
            Side::Trunk
        );
        assert_eq!(
            e.classify("Local/201@from-queue-00000001;2", "from-queue"),
            Side::Local
        );
    }

    #[test]
    fn contexts_decide_for_endpoints_not_listed() {
        let e = case_21();
        assert_eq!(e.classify("SIP/trunk-00000004", "from-trunk"), Side::Trunk);
        assert_eq!(
            e.classify("SIP/204-00000005", "from-internal"),
            Side::Internal("204".into())
        );
        assert_eq!(e.classify("IAX2/peer-1", "somewhere"), Side::Unknown);
    }
}
