//! Who is calling, read from a SIP request's identity headers.
//!
//! The order of trust is P-Asserted-Identity (only from a trusted peer), then a
//! Remote-Party-ID for the calling party, then From. Invariants of a [`Caller`]:
//! - when `withheld` is true, `number` and `name` are `None`: nothing the caller asked to
//!   hide leaves this module;
//! - an anonymous URI (user `anonymous`, host `anonymous.invalid`) is never a number;
//! - Diversion and History-Info name whoever forwarded the call, never the caller;
//! - the display name is kept exactly as sent (unquoted, escapes undone). Making it safe
//!   to show is the job of whoever shows it.
//!
//! Only `std` and the sibling `message` module are used, so the module also compiles on
//! its own beside other SIP parsers.

use super::message::{parse_name_addr, parse_params, parse_uri, Message, NameAddr, Uri};

#[cfg(test)]
use super::message::fixtures;

/// The calling party as far as the request tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The number (or SIP user name, for internal callers), visual separators removed.
    pub number: Option<String>,
    /// The display name exactly as sent.
    pub name: Option<String>,
    /// The caller asked not to be identified.
    pub withheld: bool,
    /// The header the identity came from.
    pub source: Source,
}

/// Where a [`Caller`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    AssertedIdentity,
    RemotePartyId,
    From,
    /// No header held a usable identity.
    None,
}

/// Who is calling. P-Asserted-Identity counts only when `trusted` (the message came from a
/// trusted peer), then a Remote-Party-ID with party=calling or no party, then From.
///
/// The caller is withheld when any Privacy field asks for `id`, `user` or `header`; when a
/// calling Remote-Party-ID has a privacy other than off or none; or when From is anonymous
/// and no asserted identity stands in for it.
pub fn caller(msg: &Message, trusted: bool) -> Caller {
    let from = msg.header("from").and_then(|v| parse_name_addr(v).ok());
    let rpids = calling_rpids(msg);
    let chosen = choose(msg, trusted, &rpids, from.as_ref());

    let from_anonymous = from.as_ref().is_some_and(|f| is_anonymous(&f.uri));
    let withheld = privacy_requested(msg)
        || rpids.iter().any(rpid_hides)
        || (from_anonymous && chosen.is_none());

    let source = chosen.as_ref().map_or(Source::None, |(_, source)| *source);
    match chosen.filter(|_| !withheld) {
        Some((id, source)) => presented(id, source, from.as_ref()),
        None => Caller {
            number: None,
            name: None,
            withheld,
            source,
        },
    }
}

/// The caller as `id` shows it, with From's name when `id` has none of its own.
fn presented(id: NameAddr, source: Source, from: Option<&NameAddr>) -> Caller {
    let number = uri_number(&id.uri);
    let name = id.display.or_else(|| name_from(from, number.as_deref()));
    Caller {
        number,
        name,
        withheld: false,
        source,
    }
}

/// The first usable identity in order of trust.
fn choose(
    msg: &Message,
    trusted: bool,
    rpids: &[NameAddr],
    from: Option<&NameAddr>,
) -> Option<(NameAddr, Source)> {
    let usable = |id: &&NameAddr| !is_anonymous(&id.uri);
    let asserted = trusted.then(|| asserted_identity(msg)).flatten();

    asserted
        .map(|id| (id, Source::AssertedIdentity))
        .or_else(|| {
            rpids
                .iter()
                .find(usable)
                .map(|id| (id.clone(), Source::RemotePartyId))
        })
        .or_else(|| from.filter(usable).map(|id| (id.clone(), Source::From)))
}

/// The first P-Asserted-Identity entry that names a number. A header may carry a sip: and
/// a tel: entry for the same caller (RFC 3325 §9.1).
fn asserted_identity(msg: &Message) -> Option<NameAddr> {
    msg.headers("p-asserted-identity")
        .filter_map(|v| parse_name_addr(v).ok())
        .find(|id| !is_anonymous(&id.uri) && uri_number(&id.uri).is_some())
}

/// Remote-Party-ID entries about the caller: party=calling, or no party at all.
fn calling_rpids(msg: &Message) -> Vec<NameAddr> {
    let calling = |id: &NameAddr| {
        id.param("party")
            .is_none_or(|p| p.eq_ignore_ascii_case("calling"))
    };
    msg.headers("remote-party-id")
        .filter_map(|v| parse_name_addr(v).ok())
        .filter(calling)
        .collect()
}

fn rpid_hides(id: &NameAddr) -> bool {
    let shown = |p: &str| p.eq_ignore_ascii_case("off") || p.eq_ignore_ascii_case("none");
    id.param("privacy").is_some_and(|p| !shown(p))
}

/// Any Privacy field, of all of them, asking to hide the identity (RFC 3323 §4.2). Values
/// are split on ',' as well as ';', because some PBXs write a list.
fn privacy_requested(msg: &Message) -> bool {
    let hides = |v: &str| {
        ["id", "user", "header"]
            .iter()
            .any(|h| v.trim().eq_ignore_ascii_case(h))
    };
    msg.headers("privacy")
        .flat_map(|v| v.split([';', ',']))
        .any(hides)
}

fn is_anonymous(uri: &Uri) -> bool {
    let user = uri.user.as_deref().and_then(|u| u.split(';').next());
    user.is_some_and(|u| u.eq_ignore_ascii_case("anonymous"))
        || uri
            .host
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case("anonymous.invalid"))
}

/// From's display name, when the chosen identity has none of its own and From shows the
/// same number: carriers put the name in From and the number in P-Asserted-Identity.
fn name_from(from: Option<&NameAddr>, number: Option<&str>) -> Option<String> {
    let from = from.filter(|f| !is_anonymous(&f.uri))?;
    let same = number.is_some() && uri_number(&from.uri).as_deref() == number;
    from.display.clone().filter(|_| same)
}

/// The number (or user name) a URI names: the user of a sip: or sips: URI without its user
/// parameters, or the number of a tel: URI. Other schemes name no number.
pub fn uri_number(uri: &Uri) -> Option<String> {
    match uri.scheme.as_str() {
        "tel" => Some(phone_number(
            uri.user.as_deref()?,
            uri.param("phone-context"),
        )),
        "sip" | "sips" => sip_user_number(uri.user.as_deref()?),
        _ => None,
    }
}

/// The user part before its first ';'. What follows are telephone parameters such as
/// cpc=, npdi, rn= or phone-context= (RFC 3261 §19.1.6, RFC 4694): routing data, never
/// digits of the number.
fn sip_user_number(user: &str) -> Option<String> {
    let mut parts = user.split(';');
    let base = parts.next().filter(|b| !b.is_empty())?;
    if !is_phone_number(base) {
        return Some(base.to_string());
    }
    let context = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.eq_ignore_ascii_case("phone-context").then_some(value)
    });
    Some(phone_number(base, context))
}

/// Digits with an optional leading '+' and the visual separators of RFC 3966.
fn is_phone_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    digits.chars().any(|c| c.is_ascii_digit())
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || is_visual_separator(c))
}

/// The number without visual separators; a local number with a global phone-context
/// (`5550162;phone-context=+1-212`) becomes the global number (RFC 3966 §5.1.5).
fn phone_number(number: &str, context: Option<&str>) -> String {
    let local: String = without_separators(number).collect();
    match context.filter(|c| c.starts_with('+') && !local.starts_with('+')) {
        Some(context) => without_separators(context).chain(local.chars()).collect(),
        None => local,
    }
}

fn without_separators(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().filter(|&c| !is_visual_separator(c))
}

fn is_visual_separator(c: char) -> bool {
    matches!(c, '-' | '.' | '(' | ')')
}

/// The extension that rings: the Request-URI user, else the To user.
pub fn called_extension(msg: &Message) -> Option<String> {
    let from_request_uri = msg.request_uri().and_then(|u| parse_uri(u).ok());
    from_request_uri
        .and_then(|uri| uri_number(&uri))
        .or_else(|| dialled_number(msg))
}

/// The number the caller dialled, kept in To when the call is forwarded (RFC 3261 §8.1.1.2);
/// the Request-URI is only the current target.
pub fn dialled_number(msg: &Message) -> Option<String> {
    let to = parse_name_addr(msg.header("to")?).ok()?;
    uri_number(&to.uri)
}

/// A forwarding hop, as Diversion (RFC 5806) describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    /// The number that forwarded the call.
    pub by: String,
    /// Why: `no-answer`, `user-busy`, `unconditional`, ...
    pub reason: Option<String>,
    /// How many times the call was forwarded.
    pub counter: Option<u32>,
}

/// The latest forwarding hop: the first Diversion entry (the top-most is the latest), else
/// the first History-Info entry when there are several, since one entry alone records
/// the request and no forwarding.
pub fn diversion(msg: &Message) -> Option<Diversion> {
    if let Some(entry) = msg.headers("diversion").next() {
        let entry = parse_name_addr(entry).ok()?;
        let reason = entry.param("reason").map(str::to_string);
        let counter = entry.param("counter").and_then(|c| c.parse().ok());
        return Some(Diversion {
            by: uri_number(&entry.uri)?,
            reason,
            counter,
        });
    }

    let mut history = msg.headers("history-info");
    let first = history.next()?;
    history.next()?;
    let by = uri_number(&parse_name_addr(first).ok()?.uri)?;
    Some(Diversion {
        by,
        reason: None,
        counter: None,
    })
}

/// Who forwarded the call, from the first Diversion (or History-Info) entry.
pub fn diverted_by(msg: &Message) -> Option<String> {
    diversion(msg).map(|d| d.by)
}

/// Why a CANCEL stopped the ringing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// Another phone answered the call.
    CompletedElsewhere,
    /// The caller gave up, or the reason is unknown.
    Other,
}

/// A CANCEL whose Reason says SIP;cause=200, Q.850;cause=26, or the text "Call completed
/// elsewhere" (RFC 3326) means the phone beside answered. Every Reason field and entry
/// counts; protocol and parameter names are case-insensitive and in any order; unknown
/// protocols are ignored. Any other request is [`CancelReason::Other`].
pub fn cancel_reason(msg: &Message) -> CancelReason {
    let cancel = msg.method() == Some("CANCEL");
    if cancel && msg.headers("reason").any(completed_elsewhere) {
        CancelReason::CompletedElsewhere
    } else {
        CancelReason::Other
    }
}

/// One Reason entry: `protocol;cause=N;text="..."`.
fn completed_elsewhere(entry: &str) -> bool {
    let Some((protocol, params)) = entry.split_once(';') else {
        return false;
    };
    let Ok(params) = parse_params(params) else {
        return false;
    };
    let param = |name: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
    let cause = param("cause").and_then(|(_, v)| v.as_deref()?.parse::<u16>().ok());
    let text = param("text").and_then(|(_, v)| v.as_deref());
    let says_so = text.is_some_and(|t| t.trim().eq_ignore_ascii_case("call completed elsewhere"));

    match protocol.trim().to_ascii_uppercase().as_str() {
        "SIP" => cause == Some(200) || says_so,
        "Q.850" => cause == Some(26) || says_so,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
