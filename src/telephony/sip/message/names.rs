//! Header names: compact forms expanded to full lower-case names, and which
//! headers hold comma-separated lists.

/// Headers whose values are comma-separated lists, so [`Message::headers`] yields one item
/// per element. Privacy is not one: RFC 3323 separates its values with ';'.
///
/// [`Message::headers`]: super::Message::headers
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

/// The lower-case full name of a header, compact forms expanded (RFC 3261 §7.3.3 and the
/// RFCs that added letters since).
pub fn canonical_name(name: &str) -> String {
    match full_name(name) {
        Some(full) => full.to_string(),
        None => name.to_ascii_lowercase(),
    }
}

/// The name to compare with [`Header::canonical`], case-insensitively.
///
/// [`Header::canonical`]: super::Header::canonical
pub(super) fn lookup_name(name: &str) -> &str {
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

pub(super) fn is_list_header(name: &str) -> bool {
    LIST_HEADERS
        .iter()
        .any(|list| list.eq_ignore_ascii_case(name))
}
