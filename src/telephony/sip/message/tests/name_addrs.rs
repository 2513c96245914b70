//! Name-addrs and addr-specs: display names, brackets and header parameters.

use super::*;

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
