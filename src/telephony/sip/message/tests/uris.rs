//! URIs: sip:, sips:, tel: and opaque schemes, escapes, IPv6 hosts.

use super::*;

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
