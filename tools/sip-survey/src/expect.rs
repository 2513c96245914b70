//! What each input must yield, written down from the fixture documents:
//! `field/0*.txt`, `field/10*.txt`, `field/11*.txt` for the field cases, `rfc4475/SUMMARY.md`
//! and the RFC 4475 text for the torture messages, and the Asterisk captures as recorded.
//!
//! Every checked field is a list of acceptable values. An empty string means "absent":
//! no user part, no display name (an empty quoted name counts as none), no branch, no tag.
//! Where a URI carries %-escapes, both the escaped and the decoded form are accepted.
//! `None` means the field is not checked for that input.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Must {
    Accept,
    Reject,
    /// RFC 4475 allows either; accepting is fine unless the message is misread.
    Either,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    Field,
    Rfc4475,
    Asterisk,
}

type Vals = Option<&'static [&'static str]>;

#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// Path under the fixtures root.
    pub file: &'static str,
    pub set: Set,
    pub must: Must,
    /// The section or case the expectation comes from.
    pub source: &'static str,
    pub call_id: Vals,
    /// `"<number> <METHOD>"`.
    pub cseq: Vals,
    pub branch: Vals,
    pub ruri_user: Vals,
    /// `host` or `[v6]`, then `:port` when a port is written.
    pub ruri_host: Vals,
    pub from_display: Vals,
    pub from_user: Vals,
    pub from_tag: Vals,
    pub body_len: Option<usize>,
    pub pai_user: Vals,
    pub rpid_display: Vals,
    pub rpid_user: Vals,
    /// The Privacy header's value.
    pub privacy: Vals,
}

const E: Expect = Expect {
    file: "",
    set: Set::Field,
    must: Must::Accept,
    source: "",
    call_id: None,
    cseq: None,
    branch: None,
    ruri_user: None,
    ruri_host: None,
    from_display: None,
    from_user: None,
    from_tag: None,
    body_len: None,
    pai_user: None,
    rpid_display: None,
    rpid_user: None,
    privacy: None,
};

const NONE: Vals = Some(&[""]);

const fn v(list: &'static [&'static str]) -> Vals {
    Some(list)
}

/// A field case INVITE to +12125550100 at pbx.example.com, the shape most field inputs share.
const FIELD_INVITE: Expect = Expect {
    set: Set::Field,
    must: Must::Accept,
    cseq: v(&["1 INVITE"]),
    ruri_user: v(&["+12125550100"]),
    from_display: NONE,
    body_len: Some(0),
    ..E
};

pub const FIELD: &[Expect] = &[
    Expect {
        file: "field/raw/01a-folding.sip",
        source: "case 01 A",
        call_id: v(&["fold-01a@192.0.2.10"]),
        branch: v(&["z9hG4bK-fold-01a"]),
        from_display: v(&["Helpdesk Line 2"]),
        from_user: v(&["+12125550142"]),
        from_tag: v(&["f01a"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/01b-hcolon-ws.sip",
        source: "case 01 B",
        call_id: v(&["hcolon-01b@192.0.2.10"]),
        branch: v(&["z9hG4bK-hcolon-01b"]),
        from_display: v(&["Helpdesk Line 2"]),
        from_user: v(&["+12125550142"]),
        from_tag: v(&["f01b"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/02-compact.sip",
        source: "case 02",
        call_id: v(&["compact-02@192.0.2.11"]),
        branch: v(&["z9hG4bK-cmp-02"]),
        from_display: v(&["Dana Ortiz"]),
        from_user: v(&["+12125550143"]),
        from_tag: v(&["c02"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/03-dot-user.sip",
        source: "case 03",
        call_id: v(&["dot-03@192.0.2.12"]),
        branch: v(&["z9hG4bK-dot-03"]),
        ruri_user: v(&["201"]),
        from_display: v(&["Anna Lee"]),
        from_user: v(&["anna.lee"]),
        from_tag: v(&["d03"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/05-user-params.sip",
        source: "case 05 A",
        call_id: v(&["up-05@192.0.2.14"]),
        branch: v(&["z9hG4bK-up-05"]),
        ruri_user: v(&["+12125550100;npdi;rn=+12125550199"]),
        from_user: v(&["+12125550146;cpc=ordinary"]),
        from_tag: v(&["u05"]),
        pai_user: v(&["+12125550146;cpc=ordinary"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/05b-semiuri-escaped.sip",
        source: "case 05 C",
        call_id: v(&["up-05b@192.0.2.14"]),
        cseq: v(&["1 OPTIONS"]),
        branch: v(&["z9hG4bK-up-05b"]),
        ruri_user: v(&["user;par=u%40example.net", "user;par=u@example.net"]),
        from_user: v(&["caller"]),
        from_tag: v(&["u05b"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/06-ipv6.sip",
        source: "case 06 A",
        call_id: v(&["v6-06@2001:db8::20"]),
        branch: v(&["z9hG4bK-v6-06"]),
        ruri_host: v(&["[2001:db8::10]:5060"]),
        from_display: v(&["Lab Phone"]),
        from_user: v(&["+12125550147"]),
        from_tag: v(&["v06"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/06b-ipv6-port-ambiguous.sip",
        source: "case 06 B",
        call_id: v(&["v6-06b@example.com"]),
        cseq: v(&["1 OPTIONS"]),
        branch: v(&["z9hG4bK-v6-06b"]),
        ruri_user: NONE,
        ruri_host: v(&["[2001:db8::9:1]"]),
        from_user: v(&["monitor"]),
        from_tag: v(&["v06b"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/07a-trailing-octets.sip",
        source: "case 07 A",
        call_id: v(&["dbl-07@192.0.2.15"]),
        branch: v(&["z9hG4bK-dbl-07a"]),
        from_user: v(&["+12125550157"]),
        from_tag: v(&["d07"]),
        body_len: Some(0),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/07b-clerr.sip",
        source: "case 07 B",
        must: Must::Reject,
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/08a-quoted-angle.sip",
        source: "case 08 A",
        call_id: v(&["dn-08a@192.0.2.16"]),
        branch: v(&["z9hG4bK-dn-08a"]),
        from_display: v(&["Smith, J. \"Jay\" <Acct 7>"]),
        from_user: v(&["+12125550148"]),
        from_tag: v(&["q08a"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/08b-empty-display.sip",
        source: "case 08 B",
        call_id: v(&["dn-08b@192.0.2.16"]),
        branch: v(&["z9hG4bK-dn-08b"]),
        from_display: NONE,
        from_user: v(&["+12125550149"]),
        from_tag: v(&["q08b"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/08c-no-lws.sip",
        source: "case 08 C",
        call_id: v(&["dn-08c@192.0.2.16"]),
        branch: v(&["z9hG4bK-dn-08c"]),
        from_display: v(&["Bob Ortiz"]),
        from_user: v(&["+12125550150"]),
        from_tag: v(&["q08c"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/08d-addr-spec-no-brackets.sip",
        source: "case 08 D",
        call_id: v(&["dn-08d@192.0.2.16"]),
        branch: v(&["z9hG4bK-dn-08d"]),
        from_display: NONE,
        from_user: v(&["+12125550161"]),
        from_tag: v(&["q08d"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/09a-pai-privacy.sip",
        source: "case 09 A",
        call_id: v(&["id-09a@192.0.2.17"]),
        branch: v(&["z9hG4bK-id-09a"]),
        from_display: v(&["Anonymous"]),
        from_user: v(&["anonymous"]),
        from_tag: v(&["p09a"]),
        pai_user: v(&["+12125550151"]),
        privacy: v(&["id"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/09b-rpid.sip",
        source: "case 09 B",
        call_id: v(&["id-09b@192.0.2.17"]),
        branch: v(&["z9hG4bK-id-09b"]),
        from_display: v(&["1001"]),
        from_user: v(&["acct-7731"]),
        from_tag: v(&["p09b"]),
        rpid_display: v(&["Kim Park"]),
        rpid_user: v(&["+12125550152"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/10-diversion.sip",
        source: "case 10",
        call_id: v(&["div-10@192.0.2.18"]),
        branch: v(&["z9hG4bK-div-10"]),
        from_display: v(&["Rita Gomez"]),
        from_user: v(&["+12125550153"]),
        from_tag: v(&["dv10"]),
        pai_user: v(&["+12125550153"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/11a-invite.sip",
        source: "case 11",
        call_id: v(&["ce-11@192.0.2.2"]),
        cseq: v(&["101 INVITE"]),
        branch: v(&["z9hG4bK-ce-11"]),
        ruri_user: v(&["201"]),
        from_display: v(&["Lena Cho"]),
        from_user: v(&["+12125550155"]),
        from_tag: v(&["ce11"]),
        ..FIELD_INVITE
    },
    Expect {
        file: "field/raw/11b-cancel-elsewhere.sip",
        source: "case 11",
        call_id: v(&["ce-11@192.0.2.2"]),
        cseq: v(&["101 CANCEL"]),
        branch: v(&["z9hG4bK-ce-11"]),
        ruri_user: v(&["201"]),
        from_display: v(&["Lena Cho"]),
        from_user: v(&["+12125550155"]),
        from_tag: v(&["ce11"]),
        ..FIELD_INVITE
    },
];

const ASTERISK_INVITE: Expect = Expect {
    set: Set::Asterisk,
    must: Must::Accept,
    source: "Asterisk 20 capture",
    cseq: v(&["102 INVITE"]),
    ruri_user: v(&["201"]),
    body_len: Some(270),
    ..E
};

pub const ASTERISK: &[Expect] = &[
    Expect {
        file: "asterisk/sip-invite-a-to-201-inbound-answered.txt",
        call_id: v(&["1ea31e1039d1fe38231c953a5c0107fd@127.0.0.1:5060"]),
        branch: v(&["z9hG4bK675e97ec"]),
        from_display: v(&["Carol Caller"]),
        from_user: v(&["+1555010011"]),
        from_tag: v(&["as60063b69"]),
        ..ASTERISK_INVITE
    },
    Expect {
        file: "asterisk/sip-invite-g-to-201-anonymous.txt",
        call_id: v(&["5d9b3b67384ddd0a498abd5872f3a525@127.0.0.1:5060"]),
        branch: v(&["z9hG4bK0e3f775a"]),
        from_display: v(&["Anonymous"]),
        from_user: v(&["anonymous"]),
        from_tag: v(&["as0f97b753"]),
        ..ASTERISK_INVITE
    },
    Expect {
        file: "asterisk/sip-invite-h-to-201-unicode-markup-name.txt",
        call_id: v(&["0ceae6235188cfdf0f4fd6f24e949d2d@127.0.0.1:5060"]),
        branch: v(&["z9hG4bK231f1217"]),
        from_display: v(&["Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本"]),
        from_user: v(&["+1555010019"]),
        from_tag: v(&["as4fa49466"]),
        ..ASTERISK_INVITE
    },
    Expect {
        file: "asterisk/sip-invite-i-to-201-originate.txt",
        call_id: v(&["290db2453a176823053d7022428838a4@127.0.0.1:5060"]),
        branch: v(&["z9hG4bK4f80516c"]),
        from_display: v(&["Dial +1555019902"]),
        from_user: v(&["201"]),
        from_tag: v(&["as1375eae2"]),
        body_len: Some(266),
        ..ASTERISK_INVITE
    },
];

const T: Expect = Expect {
    set: Set::Rfc4475,
    must: Must::Accept,
    from_display: NONE,
    ..E
};

const REJECT: Expect = Expect {
    must: Must::Reject,
    from_display: None,
    ..T
};

const EITHER: Expect = Expect {
    must: Must::Either,
    ..T
};

pub const RFC4475: &[Expect] = &[
    // 3.1.1 valid messages
    Expect {
        file: "rfc4475/wsinv.dat",
        source: "3.1.1.1",
        call_id: v(&["wsinv.ndaksdj@192.0.2.1"]),
        cseq: v(&["9 INVITE"]),
        branch: v(&["390skdjuw"]),
        ruri_user: v(&["vivekg"]),
        from_display: v(&["J Rosenberg \\\""]),
        from_user: v(&["jdrosen"]),
        from_tag: v(&["98asjd8"]),
        body_len: Some(150),
        ..T
    },
    Expect {
        file: "rfc4475/intmeth.dat",
        source: "3.1.1.2",
        call_id: v(&["intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"]),
        cseq: v(&["139122385 !interesting-Method0123456789_*+`.%indeed'~"]),
        branch: v(&["z9hG4bK-.!%66*_+`'~"]),
        ruri_user: v(&["1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"]),
        from_display: v(&["token1~` token2'+_ token3*%!.-"]),
        from_user: v(&["mundane"]),
        from_tag: v(&["_token~1'+`*%!-."]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/esc01.dat",
        source: "3.1.1.3",
        call_id: v(&["esc01.239409asdfakjkn23onasd0-3234"]),
        cseq: v(&["234234 INVITE"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: v(&["sips%3Auser%40example.com", "sips:user@example.com"]),
        from_user: v(&["I%20have%20spaces", "I have spaces"]),
        from_tag: v(&["938"]),
        body_len: Some(150),
        ..T
    },
    Expect {
        file: "rfc4475/escnull.dat",
        source: "3.1.1.4",
        call_id: v(&["escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd"]),
        cseq: v(&["14398234 REGISTER"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: NONE,
        from_user: v(&["null-%00-null", "null-\u{0}-null"]),
        from_tag: v(&["839923423"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/esc02.dat",
        source: "3.1.1.5",
        call_id: v(&["esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf"]),
        cseq: v(&["29344 RE%47IST%45R"]),
        branch: v(&["z9hG4bK209%fzsnel234"]),
        ruri_user: NONE,
        from_display: v(&["%Z%45"]),
        from_user: v(&["resource"]),
        from_tag: v(&["f232jadfj23"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/lwsdisp.dat",
        source: "3.1.1.6",
        call_id: v(&["lwsdisp.1234abcd@funky.example.com"]),
        cseq: v(&["60 OPTIONS"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: v(&["user"]),
        from_display: v(&["caller"]),
        from_user: v(&["caller"]),
        from_tag: v(&["323"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/longreq.dat",
        source: "3.1.1.7",
        call_id: v(&["longreq.onereallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallylongcallid"]),
        cseq: v(&["3882340 INVITE"]),
        // The top Via (sip33.example.com) carries no branch.
        branch: NONE,
        ruri_user: v(&["user"]),
        from_user: v(&["amazinglylongcallernameamazinglylongcallernameamazinglylongcallernameamazinglylongcallernameamazinglylongcallername"]),
        from_tag: v(&["12982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982424"]),
        body_len: Some(150),
        ..T
    },
    Expect {
        file: "rfc4475/dblreq.dat",
        source: "3.1.1.8",
        call_id: v(&["dblreq.0ha0isndaksdj99sdfafnl3lk233412"]),
        cseq: v(&["8 REGISTER"]),
        branch: v(&["z9hG4bKkdjuw23492"]),
        ruri_user: NONE,
        from_user: v(&["j.user"]),
        from_tag: v(&["43251j3j324"]),
        // Content-Length: 0; the INVITE after it is not this message's body.
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/semiuri.dat",
        source: "3.1.1.9",
        call_id: v(&["semiuri.0ha0isndaksdj"]),
        cseq: v(&["8 OPTIONS"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: v(&["user;par=u%40example.net", "user;par=u@example.net"]),
        from_user: v(&["caller"]),
        from_tag: v(&["33242"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/transports.dat",
        source: "3.1.1.10",
        call_id: v(&["transports.kijh4akdnaqjkwendsasfdj"]),
        cseq: v(&["60 OPTIONS"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: v(&["user"]),
        from_user: v(&["caller"]),
        from_tag: v(&["323"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/mpart01.dat",
        source: "3.1.1.11",
        call_id: v(&["3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA.."]),
        cseq: v(&["1 MESSAGE"]),
        branch: v(&["z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-"]),
        ruri_user: v(&["kumiko"]),
        from_user: v(&["fluffy"]),
        from_tag: v(&["2fb0dcc9"]),
        body_len: Some(553),
        ..T
    },
    Expect {
        file: "rfc4475/unreason.dat",
        source: "3.1.1.12",
        call_id: v(&["unreason.1234ksdfak3j2erwedfsASdf"]),
        cseq: v(&["35 INVITE"]),
        branch: v(&["z9hG4bK1324923"]),
        from_user: v(&["user"]),
        from_tag: v(&["11141343"]),
        body_len: Some(154),
        ..T
    },
    Expect {
        file: "rfc4475/noreason.dat",
        source: "3.1.1.13",
        call_id: v(&["noreason.asndj203insdf99223ndf"]),
        cseq: v(&["35 INVITE"]),
        branch: v(&["z9hG4bK2398ndaoe"]),
        from_user: v(&["user"]),
        from_tag: v(&["39ansfi3"]),
        body_len: Some(0),
        ..T
    },
    // 3.1.2 invalid messages
    Expect { file: "rfc4475/badinv01.dat", source: "3.1.2.1", ..REJECT },
    Expect { file: "rfc4475/clerr.dat", source: "3.1.2.2", ..REJECT },
    Expect { file: "rfc4475/ncl.dat", source: "3.1.2.3", ..REJECT },
    Expect { file: "rfc4475/scalar02.dat", source: "3.1.2.4", ..REJECT },
    Expect { file: "rfc4475/scalarlg.dat", source: "3.1.2.5", ..REJECT },
    Expect { file: "rfc4475/quotbal.dat", source: "3.1.2.6", ..REJECT },
    Expect { file: "rfc4475/ltgtruri.dat", source: "3.1.2.7", ..REJECT },
    Expect { file: "rfc4475/lwsruri.dat", source: "3.1.2.8", ..REJECT },
    Expect {
        file: "rfc4475/lwsstart.dat",
        source: "3.1.2.9",
        call_id: v(&["lwsstart.dfknq234oi243099adsdfnawe3@example.com"]),
        cseq: v(&["1893884 INVITE"]),
        branch: v(&["z9hG4bKkdjuw3923"]),
        ruri_user: v(&["user"]),
        from_user: v(&["caller"]),
        from_tag: v(&["8814"]),
        body_len: Some(150),
        ..EITHER
    },
    Expect {
        file: "rfc4475/trws.dat",
        source: "3.1.2.10",
        call_id: v(&["trws.oicu34958239neffasdhr2345r"]),
        cseq: v(&["238923 OPTIONS"]),
        branch: v(&["z9hG4bK299342093"]),
        ruri_user: v(&["remote-target"]),
        from_user: v(&["local-resource"]),
        from_tag: v(&["329429089"]),
        body_len: Some(0),
        ..EITHER
    },
    Expect {
        file: "rfc4475/escruri.dat",
        source: "3.1.2.11",
        call_id: v(&["escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5"]),
        cseq: v(&["149209342 INVITE"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: v(&["user"]),
        from_user: v(&["caller"]),
        from_tag: v(&["341518"]),
        body_len: Some(150),
        ..EITHER
    },
    Expect {
        file: "rfc4475/baddate.dat",
        source: "3.1.2.12",
        call_id: v(&["baddate.239423mnsadf3j23lj42--sedfnm234"]),
        cseq: v(&["1392934 INVITE"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: v(&["user"]),
        from_user: v(&["caller"]),
        from_tag: v(&["2234923"]),
        body_len: Some(150),
        ..EITHER
    },
    Expect {
        file: "rfc4475/regbadct.dat",
        source: "3.1.2.13",
        call_id: v(&["regbadct.k345asrl3fdbv@10.0.0.1"]),
        cseq: v(&["1 REGISTER"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: NONE,
        from_user: v(&["user"]),
        from_tag: v(&["998332"]),
        body_len: Some(0),
        ..EITHER
    },
    Expect {
        file: "rfc4475/badaspec.dat",
        source: "3.1.2.14",
        call_id: v(&["badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3"]),
        cseq: v(&["3923239 OPTIONS"]),
        branch: v(&["z9hG4bKkdju43234"]),
        ruri_user: v(&["user"]),
        from_display: v(&["Bell, Alexander"]),
        from_user: v(&["a.g.bell"]),
        from_tag: v(&["433423"]),
        body_len: Some(0),
        ..EITHER
    },
    Expect { file: "rfc4475/baddn.dat", source: "3.1.2.15", ..REJECT },
    Expect { file: "rfc4475/badvers.dat", source: "3.1.2.16", ..REJECT },
    Expect { file: "rfc4475/mismatch01.dat", source: "3.1.2.17", ..REJECT },
    Expect { file: "rfc4475/mismatch02.dat", source: "3.1.2.18", ..REJECT },
    Expect { file: "rfc4475/bigcode.dat", source: "3.1.2.19", ..REJECT },
    // 3.2 transaction layer
    Expect {
        file: "rfc4475/badbranch.dat",
        source: "3.2.1",
        call_id: v(&["badbranch.sadonfo23i420jv0as0derf3j3n"]),
        cseq: v(&["8 OPTIONS"]),
        branch: v(&["z9hG4bK"]),
        ruri_user: v(&["user"]),
        from_user: v(&["caller"]),
        from_tag: v(&["33242"]),
        body_len: Some(0),
        ..T
    },
    // 3.3 application layer
    Expect { file: "rfc4475/insuf.dat", source: "3.3.1", ..REJECT },
    Expect {
        file: "rfc4475/unkscm.dat",
        source: "3.3.2",
        call_id: v(&["unkscm.nasdfasser0q239nwsdfasdkl34"]),
        cseq: v(&["3923423 OPTIONS"]),
        branch: v(&["z9hG4bKkdjuw39234"]),
        ruri_user: NONE,
        from_user: v(&["caller"]),
        from_tag: v(&["384"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/novelsc.dat",
        source: "3.3.3",
        call_id: v(&["novelsc.asdfasser0q239nwsdfasdkl34"]),
        cseq: v(&["3923423 OPTIONS"]),
        branch: v(&["z9hG4bKkdjuw39234"]),
        ruri_user: NONE,
        from_user: v(&["caller"]),
        from_tag: v(&["384"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/unksm2.dat",
        source: "3.3.4",
        call_id: v(&["unksm2.daksdj@hyphenated-host.example.com"]),
        cseq: v(&["234902 REGISTER"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: NONE,
        // From is <http://www.example.com>: no phone number.
        from_user: NONE,
        from_tag: v(&["3234233"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/bext01.dat",
        source: "3.3.5",
        call_id: v(&["bext01.0ha0isndaksdj"]),
        cseq: v(&["8 OPTIONS"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: v(&["user"]),
        from_user: v(&["caller"]),
        from_tag: v(&["242etr"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/invut.dat",
        source: "3.3.6",
        call_id: v(&["invut.0ha0isndaksdjadsfij34n23d"]),
        cseq: v(&["235448 INVITE"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: v(&["user"]),
        from_user: v(&["caller"]),
        from_tag: v(&["8392034"]),
        body_len: Some(40),
        ..T
    },
    Expect {
        file: "rfc4475/regaut01.dat",
        source: "3.3.7",
        call_id: v(&["regaut01.0ha0isndaksdj"]),
        cseq: v(&["9338 REGISTER"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: NONE,
        from_user: v(&["j.user"]),
        from_tag: v(&["87321hj23128"]),
        body_len: Some(0),
        ..T
    },
    Expect { file: "rfc4475/multi01.dat", source: "3.3.8", ..REJECT },
    Expect { file: "rfc4475/mcl01.dat", source: "3.3.9", ..REJECT },
    Expect {
        file: "rfc4475/bcast.dat",
        source: "3.3.10",
        call_id: v(&["bcast.0384840201234ksdfak3j2erwedfsASdf"]),
        cseq: v(&["35 INVITE"]),
        branch: v(&["z9hG4bK1324923"]),
        from_user: v(&["user"]),
        from_tag: v(&["11141343"]),
        body_len: Some(154),
        ..T
    },
    Expect {
        file: "rfc4475/zeromf.dat",
        source: "3.3.11",
        call_id: v(&["zeromf.jfasdlfnm2o2l43r5u0asdfas"]),
        cseq: v(&["39234321 OPTIONS"]),
        branch: v(&["z9hG4bKkdjuw2349i"]),
        ruri_user: v(&["user"]),
        from_user: v(&["caller"]),
        from_tag: v(&["3ghsd41"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/cparam01.dat",
        source: "3.3.12",
        call_id: v(&["cparam01.70710@saturn.example.com"]),
        cseq: v(&["2 REGISTER"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: NONE,
        from_user: v(&["watson"]),
        from_tag: v(&["DkfVgjkrtMwaerKKpe"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/cparam02.dat",
        source: "3.3.13",
        call_id: v(&["cparam02.70710@saturn.example.com"]),
        cseq: v(&["3 REGISTER"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: NONE,
        from_user: v(&["watson"]),
        from_tag: v(&["838293"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/regescrt.dat",
        source: "3.3.14",
        call_id: v(&["regescrt.k345asrl3fdbv@192.0.2.1"]),
        cseq: v(&["14398234 REGISTER"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: NONE,
        from_user: v(&["user"]),
        from_tag: v(&["8"]),
        body_len: Some(0),
        ..T
    },
    Expect {
        file: "rfc4475/sdp01.dat",
        source: "3.3.15",
        call_id: v(&["sdp01.ndaksdj9342dasdd"]),
        cseq: v(&["8 INVITE"]),
        branch: v(&["z9hG4bKkdjuw"]),
        ruri_user: v(&["user"]),
        from_user: v(&["caller"]),
        from_tag: v(&["234"]),
        body_len: Some(150),
        ..T
    },
    // 3.4 backward compatibility
    Expect {
        file: "rfc4475/inv2543.dat",
        source: "3.4.1",
        call_id: v(&["inv2543.1717@ift.client.example.com"]),
        cseq: v(&["56 INVITE"]),
        branch: NONE,
        ruri_user: v(&["UserB"]),
        from_user: v(&["+13035551111"]),
        from_tag: NONE,
        // No Content-Length: on UDP the body runs to the end of the datagram.
        body_len: Some(105),
        ..T
    },
];

/// A header value read on its own with each parser's name-addr reader (cases 05 B, 08 E,
/// 09 C and the SWS note of case 08).
#[derive(Debug, Clone, Copy)]
pub struct ValueCase {
    pub source: &'static str,
    pub value: &'static str,
    pub display: &'static [&'static str],
    /// The number or user: the user part of a sip: URI, the number of a tel: URI.
    pub user: &'static [&'static str],
    pub tag: Option<&'static str>,
    /// A header parameter that must come out, as (name, value).
    pub param: Option<(&'static str, &'static str)>,
    /// The first entry of a list is what counts (P-Asserted-Identity with two entries).
    pub list: bool,
}

pub const VALUES: &[ValueCase] = &[
    ValueCase {
        source: "case 05 B1 (tel: URI)",
        value: "<tel:+12125550162>;tag=t1",
        display: &[""],
        user: &["+12125550162"],
        tag: Some("t1"),
        param: None,
        list: false,
    },
    ValueCase {
        source: "case 05 B2 (tel: with phone-context)",
        value: "<tel:5550162;phone-context=+1-212>;tag=t2",
        display: &[""],
        user: &["5550162"],
        tag: Some("t2"),
        param: None,
        list: false,
    },
    ValueCase {
        source: "case 05 B3 (P-Asserted-Identity list)",
        value: "\"Pat Kim\" <sip:+12125550163@example.net;user=phone>, <tel:+1-212-555-0163>",
        display: &["Pat Kim"],
        user: &["+12125550163"],
        tag: None,
        param: None,
        list: true,
    },
    ValueCase {
        source: "case 08 E (doubled quotes)",
        value: "\"\"unknown\"\" <sip:+12125550170@carrier.example.net>;tag=q08e",
        display: &["unknown", ""],
        user: &["+12125550170"],
        tag: Some("q08e"),
        param: None,
        list: false,
    },
    ValueCase {
        source: "case 08 (SWS around ';' and '=')",
        value: "\"Ann Bell\" <sip:+12125550171@example.net> ; tag = 9",
        display: &["Ann Bell"],
        user: &["+12125550171"],
        tag: Some("9"),
        param: None,
        list: false,
    },
    ValueCase {
        source: "case 09 C (Remote-Party-ID privacy=full)",
        value:
            "\"Kim Park\" <sip:+12125550152@pbx.example.com>;party=calling;privacy=full;screen=yes",
        display: &["Kim Park"],
        user: &["+12125550152"],
        tag: None,
        param: Some(("privacy", "full")),
        list: false,
    },
];

/// Who is calling, as callpop's `identity::caller` must read it (trusted peer).
pub struct CallerCase {
    pub file: &'static str,
    pub source: &'static str,
    pub number: Option<&'static str>,
    pub name: Option<&'static str>,
    pub withheld: bool,
}

pub const CALLERS: &[CallerCase] = &[
    CallerCase {
        file: "field/raw/02-compact.sip",
        source: "case 02",
        number: Some("+12125550143"),
        name: Some("Dana Ortiz"),
        withheld: false,
    },
    CallerCase {
        file: "field/raw/05-user-params.sip",
        source: "case 05 A",
        number: Some("+12125550146"),
        name: None,
        withheld: false,
    },
    CallerCase {
        file: "field/raw/08a-quoted-angle.sip",
        source: "case 08 A",
        number: Some("+12125550148"),
        name: Some("Smith, J. \"Jay\" <Acct 7>"),
        withheld: false,
    },
    CallerCase {
        file: "field/raw/08b-empty-display.sip",
        source: "case 08 B",
        number: Some("+12125550149"),
        name: None,
        withheld: false,
    },
    CallerCase {
        file: "field/raw/09a-pai-privacy.sip",
        source: "case 09 A",
        number: None,
        name: None,
        withheld: true,
    },
    CallerCase {
        file: "field/raw/09b-rpid.sip",
        source: "case 09 B",
        number: Some("+12125550152"),
        name: Some("Kim Park"),
        withheld: false,
    },
    CallerCase {
        file: "field/raw/10-diversion.sip",
        source: "case 10",
        number: Some("+12125550153"),
        name: Some("Rita Gomez"),
        withheld: false,
    },
    CallerCase {
        file: "asterisk/sip-invite-a-to-201-inbound-answered.txt",
        source: "Asterisk a",
        number: Some("+1555010011"),
        name: Some("Carol Caller"),
        withheld: false,
    },
    CallerCase {
        file: "asterisk/sip-invite-g-to-201-anonymous.txt",
        source: "Asterisk g",
        number: None,
        name: None,
        withheld: true,
    },
    CallerCase {
        file: "asterisk/sip-invite-h-to-201-unicode-markup-name.txt",
        source: "Asterisk h",
        number: Some("+1555010019"),
        name: Some("Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本"),
        withheld: false,
    },
];

/// All message inputs in report order.
pub fn all() -> impl Iterator<Item = &'static Expect> {
    FIELD.iter().chain(RFC4475).chain(ASTERISK)
}
