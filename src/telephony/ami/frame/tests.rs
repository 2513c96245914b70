//! Tests of the AMI framer: the field cases and Asterisk transcripts in the shared
//! fixtures (`../shared/fixtures` beside the repository), the limits, and damaged or
//! hostile bytes however they arrive.

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");

/// A frame as the tests compare it, owning its text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Banner(String),
    Message(Vec<(String, String)>),
    Garbled(&'static str, String),
}

impl Seen {
    fn of(frame: Frame<'_>) -> Seen {
        match frame {
            Frame::Banner(line) => Seen::Banner(line.to_string()),
            Frame::Message(msg) => Seen::Message(
                msg.fields()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
            ),
            Frame::Garbled(g) => Seen::Garbled(g.reason, g.excerpt),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        let Seen::Message(fields) = self else {
            return None;
        };
        let (_, value) = fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
        Some(value)
    }

    fn is_garbled(&self) -> bool {
        matches!(self, Seen::Garbled(..))
    }
}

/// Feeds `bytes` to `framer` in pieces whose sizes `sizes` gives, taking every frame
/// after each piece as the connection does, and checks the memory bound on the way.
fn feed(mut framer: Framer, bytes: &[u8], mut sizes: impl FnMut() -> usize) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (piece, after) = rest.split_at(sizes().clamp(1, rest.len()));
        rest = after;
        framer.push(piece);
        assert!(framer.buf.len() <= MAX_FRAME + piece.len());
        while let Some(frame) = framer.next() {
            seen.push(Seen::of(frame));
        }
        assert!(framer.buffered() < MAX_FRAME);
    }
    seen
}

/// The frames of a stream that starts with the greeting, read in `chunk`-byte pieces.
fn frames(bytes: &[u8], chunk: usize) -> Vec<Seen> {
    feed(Framer::new(), bytes, || chunk)
}

/// The frames of a stream without greeting, read in one piece.
fn messages(bytes: &[u8]) -> Vec<Seen> {
    feed(Framer::without_banner(), bytes, || bytes.len())
}

/// Asserts that every way of cutting `bytes` into reads gives the same frames as one
/// read, and returns those frames.
fn same_however_read(new: fn() -> Framer, bytes: &[u8]) -> Vec<Seen> {
    let whole = feed(new(), bytes, || bytes.len());
    assert_eq!(feed(new(), bytes, || 1), whole, "byte by byte");
    for chunk in [2, 3, 7, 64, 1000] {
        assert_eq!(feed(new(), bytes, || chunk), whole, "{chunk}-byte reads");
    }
    let mut rng = Lcg(bytes.len() as u64);
    assert_eq!(
        feed(new(), bytes, || 1 + rng.below(300)),
        whole,
        "random reads"
    );
    whole
}

fn field(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

fn read_fixture(path: &str) -> Vec<u8> {
    let full = format!("{FIXTURES}/{path}");
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read fixture {full}: {e}"))
}

/// The AMI transcripts captured from Asterisk, as (file name, bytes).
fn transcripts() -> Vec<(String, Vec<u8>)> {
    let dir = format!("{FIXTURES}/asterisk");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {dir}: {e}"));
    let mut names: Vec<String> = entries
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with("ami-") && name.ends_with(".txt"))
        .collect();
    names.sort();
    assert!(names.len() >= 8, "ami transcripts missing under {dir}");
    names
        .into_iter()
        .map(|name| {
            let bytes = read_fixture(&format!("asterisk/{name}"));
            (name, bytes)
        })
        .collect()
}

/// A tiny deterministic generator (Knuth's MMIX LCG): no crates, same bytes every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

// Field case 18: the exact byte stream, and each thing it expects.

const CASE_18: &[u8] = b"Asterisk Call Manager/7.0.3\r\n\
    Response: Success\r\n\
    Message: Authentication accepted\r\n\
    \r\n\
    Event: Newchannel\r\n\
    Privilege: call,all\r\n\
    Channel: PJSIP/carrier-a-00000011\r\n\
    ChannelState: 0\r\n\
    ChannelStateDesc: Down\r\n\
    CallerIDNum: +12125550156\r\n\
    CallerIDName: Support: EMEA & Co\r\n\
    ConnectedLineNum: <unknown>\r\n\
    ConnectedLineName: <unknown>\r\n\
    AccountCode:\r\n\
    Context: from-trunk\r\n\
    Exten: 12125550100\r\n\
    Uniqueid: 1700000000.11\r\n\
    Linkedid: 1700000000.11\r\n\
    \r\n\
    \r\n\
    Event: VarSet\r\n\
    Channel: PJSIP/carrier-a-00000011\r\n\
    Variable: CALLBACK_NOTE\r\n\
    Value: call me back\n\
    after 5 pm\r\n\
    Uniqueid: 1700000000.11\r\n\
    Linkedid: 1700000000.11\r\n\
    \r\n\
    Event: Newstate\r\n\
    Channel: PJSIP/carrier-a-00000011\r\n\
    ChannelState: 4\r\n\
    ChannelStateDesc: Ring\r\n\
    CallerIDNum: +12125550156\r\n\
    Uniqueid: 1700000000.11\r\n\
    Linkedid: 1700000000.11\r\n\
    \r\n";

#[test]
fn field_18_three_events_in_sync() {
    let seen = same_however_read(Framer::new, CASE_18);
    assert_eq!(seen.len(), 5, "{seen:#?}");
    assert_eq!(seen[0], Seen::Banner("Asterisk Call Manager/7.0.3".into()));
    assert_eq!(seen[1].get("Response"), Some("Success"));
    let events: Vec<_> = seen[2..].iter().map(|s| s.get("Event").unwrap()).collect();
    assert_eq!(events, ["Newchannel", "VarSet", "Newstate"]);

    let mut framer = Framer::new();
    framer.push(CASE_18);
    while framer.next().is_some() {}
    assert_eq!(framer.buffered(), 0);
}

#[test]
fn field_18_banner_is_not_a_field() {
    let seen = frames(CASE_18, CASE_18.len());
    for frame in &seen[1..] {
        let Seen::Message(fields) = frame else {
            panic!("{frame:?}")
        };
        assert!(fields
            .iter()
            .all(|(n, v)| !n.contains("Asterisk") && !v.contains("7.0.3")));
    }
}

#[test]
fn field_18_value_split_at_first_colon() {
    let seen = frames(CASE_18, CASE_18.len());
    let newchannel = &seen[2];
    assert_eq!(newchannel.get("CallerIDName"), Some("Support: EMEA & Co"));
    assert_eq!(newchannel.get("AccountCode"), Some(""));
    assert_eq!(newchannel.get("ConnectedLineNum"), Some("<unknown>"));
    assert_eq!(newchannel.get("Exten"), Some("12125550100"));
    let Seen::Message(fields) = newchannel else {
        unreachable!()
    };
    assert_eq!(fields.len(), 14);
}

#[test]
fn field_18_doubled_blank_line_is_skipped() {
    let seen = frames(CASE_18, 1);
    assert!(seen
        .iter()
        .all(|s| !s.is_garbled() && *s != Seen::Message(Vec::new())));
    assert_eq!(seen[3].get("Event"), Some("VarSet"));
}

#[test]
fn field_18_raw_newline_stays_in_the_value() {
    let seen = frames(CASE_18, 3);
    let varset = &seen[3];
    assert_eq!(varset.get("Value"), Some("call me back\nafter 5 pm"));
    // The fields after the value are still read, and so is the next event.
    assert_eq!(varset.get("Uniqueid"), Some("1700000000.11"));
    assert_eq!(varset.get("Linkedid"), Some("1700000000.11"));
    assert_eq!(seen[4].get("ChannelStateDesc"), Some("Ring"));
}

#[test]
fn field_18_names_match_case_insensitively() {
    let mut framer = Framer::new();
    framer.push(CASE_18);
    framer.next();
    framer.next();
    let Some(Frame::Message(msg)) = framer.next() else {
        panic!("no newchannel")
    };
    for name in ["Uniqueid", "UniqueID", "uniqueid", "UNIQUEID"] {
        assert_eq!(msg.get(name), Some("1700000000.11"), "{name}");
    }
    assert_eq!(msg.event(), Some("Newchannel"));
    assert_eq!(msg.get("Uniqueid "), None);
}

#[test]
fn field_19_unknown_empty_and_anonymous_caller_ids_are_kept_verbatim() {
    let stream = b"Event: Newchannel\r\n\
        Timestamp: 1700000200.000100\r\n\
        Channel: PJSIP/carrier-a-00000030\r\n\
        CallerIDNum: <unknown>\r\n\
        CallerIDName: Anonymous\r\n\
        ConnectedLineNum: <unknown>\r\n\
        Context: from-trunk\r\n\
        Exten: 12125550100\r\n\
        Uniqueid: 1700000200.30\r\n\
        Linkedid: 1700000200.30\r\n\
        \r\n\
        Event: Newchannel\r\n\
        Timestamp: 1700000300.000100\r\n\
        Channel: DAHDI/3-1\r\n\
        CallerIDNum:\r\n\
        CallerIDName: \r\n\
        Context: from-pstn\r\n\
        Exten: s\r\n\
        Uniqueid: 1700000300.31\r\n\
        Linkedid: 1700000300.31\r\n\
        \r\n\
        Event: Newchannel\r\n\
        Timestamp: 1700000400.000100\r\n\
        Channel: PJSIP/carrier-a-00000032\r\n\
        CallerIDNum: anonymous\r\n\
        CallerIDName: Restricted\r\n\
        Context: from-trunk\r\n\
        Exten: 12125550100\r\n\
        Uniqueid: 1700000400.32\r\n\
        Linkedid: 1700000400.32\r\n\
        \r\n";
    let seen = same_however_read(Framer::without_banner, stream);
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let numbers: Vec<_> = seen.iter().map(|s| s.get("CallerIDNum").unwrap()).collect();
    assert_eq!(numbers, ["<unknown>", "", "anonymous"]);
    let names: Vec<_> = seen
        .iter()
        .map(|s| s.get("CallerIDName").unwrap())
        .collect();
    assert_eq!(names, ["Anonymous", "", "Restricted"]);
    assert_eq!(seen[0].get("Timestamp"), Some("1700000200.000100"));
    assert_eq!(seen[1].get("ConnectedLineNum"), None);
    assert_eq!(seen[2].get("Linkedid"), Some("1700000400.32"));
}

// Values and lines.

#[test]
fn one_space_after_the_colon_is_dropped() {
    let seen = messages(b"A: x\r\nB:x\r\nC:  x\r\nD: x \r\nE:\r\nF: \r\nG::\r\nH: a:b: c\r\n\r\n");
    let expected = [
        ("A", "x"),
        ("B", "x"),
        ("C", " x"),
        ("D", "x "),
        ("E", ""),
        ("F", ""),
        ("G", ":"),
        ("H", "a:b: c"),
    ];
    let expected = expected.iter().map(|(n, v)| field(n, v)).collect();
    assert_eq!(seen, [Seen::Message(expected)]);
}

#[test]
fn bare_cr_and_lf_belong_to_the_value() {
    let seen = messages(b"A: one\rtwo\r\nB: \nthree\n\r\nC: x\r\r\n\r\n");
    assert_eq!(seen[0].get("A"), Some("one\rtwo"));
    assert_eq!(seen[0].get("B"), Some("\nthree\n"));
    assert_eq!(seen[0].get("C"), Some("x\r"));
}

#[test]
fn line_without_colon_continues_the_value() {
    let stream = b"Response: Follows\r\nOutput: first line\r\nsecond line\r\n\r\nthird\r\n\
        ActionID: 7\r\nEmpty:\r\nnext\r\n\r\n";
    let seen = same_however_read(Framer::without_banner, stream);
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[0].get("Output"), Some("first line\nsecond line"));
    assert!(seen[1].is_garbled(), "the empty line closed the message");

    let seen = messages(b"Output: a\r\nb\r\n c\r\nActionID: 7\r\nEmpty:\r\nnext\r\n\r\n");
    assert_eq!(seen[0].get("Output"), Some("a\nb\n c"));
    assert_eq!(seen[0].get("ActionID"), Some("7"));
    assert_eq!(seen[0].get("Empty"), Some("\nnext"));
}

#[test]
fn continued_value_and_raw_newline_read_alike() {
    let continued = messages(b"Value: call me back\r\nafter 5 pm\r\nUniqueid: 1\r\n\r\n");
    let raw = messages(b"Value: call me back\nafter 5 pm\r\nUniqueid: 1\r\n\r\n");
    assert_eq!(continued, raw);
}

#[test]
fn first_line_without_colon_is_garbled_and_the_next_message_read() {
    let stream = b"Event: A\r\n\r\nno colon here\r\nEvent: B\r\n\r\nEvent: C\r\n\r\n";
    let seen = same_however_read(Framer::without_banner, stream);
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert_eq!(seen[0].get("Event"), Some("A"));
    assert_eq!(
        seen[1],
        Seen::Garbled(
            "first line of the message has no ':'",
            r"no colon here\r\nEvent: B\r\n\r\n".into()
        )
    );
    assert_eq!(seen[2].get("Event"), Some("C"));
}

#[test]
fn line_breaks_between_messages_are_skipped() {
    let stream = b"\r\n\r\n\r\nEvent: A\r\n\r\n\r\n\r\n\r\n\n\r\rEvent: B\r\n\r\n\r\n";
    let seen = same_however_read(Framer::without_banner, stream);
    let events: Vec<_> = seen.iter().map(|s| s.get("Event")).collect();
    assert_eq!(events, [Some("A"), Some("B")]);
}

#[test]
fn only_line_breaks_make_no_frame() {
    let breaks = b"\r\n".repeat(100_000);
    assert!(same_however_read(Framer::without_banner, &breaks).is_empty());
}

#[test]
fn partial_message_waits_for_its_empty_line() {
    let mut framer = Framer::without_banner();
    framer.push(b"Event: A\r\nUniqueid: 1\r\n\r");
    assert!(framer.next().is_none());
    assert_eq!(framer.buffered(), 24);
    framer.push(b"\nEvent: B\r\n");
    assert!(matches!(framer.next(), Some(Frame::Message(m)) if m.event() == Some("A")));
    assert!(framer.next().is_none());
    assert_eq!(framer.buffered(), 10);
}

#[test]
fn invalid_utf8_is_decoded_lossily_and_the_message_kept() {
    let stream = b"Event: Newchannel\r\nCallerIDName: Zo\xeb \xff\xfeSmith\r\n\
        Uniqueid: 1.2\r\nNote: a\xc3\r\nb\r\n\r\nEvent: Next\r\n\r\n";
    let seen = same_however_read(Framer::without_banner, stream);
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(
        seen[0].get("CallerIDName"),
        Some("Zo\u{fffd} \u{fffd}\u{fffd}Smith")
    );
    assert_eq!(seen[0].get("Uniqueid"), Some("1.2"));
    assert_eq!(seen[0].get("Note"), Some("a\u{fffd}\nb"));
    assert_eq!(seen[1].get("Event"), Some("Next"));
}

// The greeting.

#[test]
fn greeting_arrives_in_pieces() {
    let stream = b"Asterisk Call Manager/9.0.0\r\nResponse: Success\r\n\r\n";
    let seen = same_however_read(Framer::new, stream);
    assert_eq!(seen[0], Seen::Banner("Asterisk Call Manager/9.0.0".into()));
    assert_eq!(seen[1].get("Response"), Some("Success"));
    assert_eq!(seen.len(), 2);
}

#[test]
fn missing_greeting_is_reported_and_the_message_still_read() {
    let stream = b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n";
    let seen = same_however_read(Framer::new, stream);
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert!(seen[0].is_garbled());
    assert_eq!(seen[1].get("Event"), Some("FullyBooted"));
}

#[test]
fn without_banner_reads_the_first_line_as_a_message() {
    let seen = messages(b"Asterisk Call Manager/9.0.0\r\nEvent: A\r\n\r\nEvent: B\r\n\r\n");
    assert!(seen[0].is_garbled());
    assert_eq!(seen[1].get("Event"), Some("B"));
}

// The Asterisk transcripts.

/// How many frames a transcript holds, counted without the framer: the greeting, then
/// each block closed by CRLF CRLF that starts like a message.
fn count_blocks(bytes: &[u8]) -> (usize, usize) {
    let text = std::str::from_utf8(bytes).expect("transcript is utf-8");
    let (greeting, rest) = text.split_once("\r\n").expect("greeting line");
    assert!(greeting.starts_with("Asterisk Call Manager/"));
    let blocks: Vec<&str> = rest.split("\r\n\r\n").collect();
    let starts = |prefix: &str| blocks.iter().filter(|b| b.starts_with(prefix)).count();
    let messages = starts("Event: ") + starts("Response: ") + starts("Action: ");
    (1 + messages, starts("Event: "))
}

#[test]
fn transcripts_frame_alike_however_read() {
    for (name, bytes) in transcripts() {
        let (frames_expected, events_expected) = count_blocks(&bytes);
        let seen = same_however_read(Framer::new, &bytes);
        assert_eq!(seen.len(), frames_expected, "{name}");
        let events = seen.iter().filter(|s| s.get("Event").is_some()).count();
        assert_eq!(events, events_expected, "{name}");
        assert!(!seen.iter().any(Seen::is_garbled), "{name}");
        assert_eq!(seen[0], Seen::Banner("Asterisk Call Manager/9.0.0".into()));
        assert_eq!(seen[1].get("Action"), Some("Login"), "{name}");
        assert_eq!(
            seen.last().unwrap().get("Response"),
            Some("Goodbye"),
            "{name}"
        );
    }
}

#[test]
fn transcript_h_keeps_the_markup_name_verbatim() {
    let bytes = read_fixture("asterisk/ami-h-inbound-unicode-markup-name.txt");
    let seen = frames(&bytes, 4096);
    let name = "Zo\u{eb} \u{c5}ngstr\u{f6}m-Nu\u{f1}ez <b>VIP</b> & \u{dc}n\u{ef}c\u{f8}d\u{e9} \
                \u{65e5}\u{672c}";
    let names: Vec<_> = seen.iter().filter_map(|s| s.get("CallerIDName")).collect();
    assert!(names.contains(&name), "{names:?}");
    let newchannel = seen
        .iter()
        .find(|s| s.get("Event") == Some("Newchannel"))
        .unwrap();
    assert_eq!(newchannel.get("CallerIDName"), Some(name));
    assert_eq!(newchannel.get("CallerIDNum"), Some("+1555010019"));
}

#[test]
fn transcript_a_has_empty_account_code() {
    let bytes = read_fixture("asterisk/ami-a-inbound-answered.txt");
    let seen = frames(&bytes, 1);
    let newchannel = seen
        .iter()
        .find(|s| s.get("Event") == Some("Newchannel"))
        .unwrap();
    assert_eq!(newchannel.get("AccountCode"), Some(""));
    assert_eq!(newchannel.get("ConnectedLineNum"), Some("<unknown>"));
    assert_eq!(newchannel.get("Linkedid"), Some("1796313877.0"));
    assert_eq!(seen[2].get("ActionID"), Some("login-1"));
    assert_eq!(seen[2].get("Message"), Some("Authentication accepted"));
}

#[test]
fn transcript_i_ties_the_originate_response_by_action_id() {
    let bytes = read_fixture("asterisk/ami-i-originate-click-to-dial.txt");
    let mut framer = Framer::new();
    framer.push(&bytes);
    let mut originate_id = None;
    let mut answers = Vec::new();
    while let Some(frame) = framer.next() {
        let Frame::Message(msg) = frame else {
            continue;
        };
        if msg.get("Action") == Some("Originate") {
            originate_id = msg.action_id().map(str::to_string);
        } else if msg.action_id().is_some() && msg.action_id() == originate_id.as_deref() {
            answers.push(msg.event().or(msg.response()).unwrap().to_string());
        }
    }
    assert!(originate_id.is_some());
    assert_eq!(answers, ["Success", "OriginateResponse"]);
}

// Limits and hostile input.

#[test]
fn frame_of_exactly_the_limit_is_read_one_more_is_too_long() {
    let sized = |len: usize| {
        let head = b"Event: Big\r\nData: ";
        let mut bytes = head.to_vec();
        bytes.resize(len - 4, b'x');
        bytes.extend(b"\r\n\r\nEvent: After\r\n\r\n");
        bytes
    };

    let seen = same_however_read(Framer::without_banner, &sized(MAX_FRAME));
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].get("Data").map(str::len), Some(MAX_FRAME - 22));

    let seen = same_however_read(Framer::without_banner, &sized(MAX_FRAME + 1));
    assert_eq!(seen.len(), 2, "{seen:?}");
    let Seen::Garbled(reason, excerpt) = &seen[0] else {
        panic!("{:?}", seen[0])
    };
    assert!(reason.contains("too long"), "{reason}");
    assert!(excerpt.starts_with(r"Event: Big\r\nData: xxx"), "{excerpt}");
    assert_eq!(seen[1].get("Event"), Some("After"));
}

#[test]
fn too_long_frame_is_dropped_as_it_arrives() {
    let mut stream = b"Event: Big\r\n".to_vec();
    for i in 0..200_000 {
        stream.extend(format!("Field{i}: value\r\n").as_bytes());
    }
    stream.extend(b"\r\nEvent: After\r\n\r\n");

    // `feed` checks that no more than MAX_FRAME and one read are ever held.
    let seen = feed(Framer::without_banner(), &stream, || 4096);
    assert_eq!(seen.len(), 2);
    assert!(seen[0].is_garbled());
    assert_eq!(seen[1].get("Event"), Some("After"));
}

#[test]
fn endless_line_is_dropped_up_to_the_next_empty_line() {
    let mut stream = b"Asterisk Call Manager/9.0.0\r\nEvent: Big\r\nData: ".to_vec();
    stream.resize(1 << 20, b'y');
    stream.extend(b"\r\n\r\nEvent: After\r\n\r\n");
    let seen = same_however_read(Framer::new, &stream);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[1].is_garbled());
    assert_eq!(seen[2].get("Event"), Some("After"));

    let mut greeting = vec![b'A'; 100_000];
    greeting.extend(b"\r\n\r\nEvent: After\r\n\r\n");
    let seen = same_however_read(Framer::new, &greeting);
    assert!(seen[0].is_garbled() && seen[0] != seen[1], "{seen:?}");
    assert_eq!(seen[1].get("Event"), Some("After"));
}

#[test]
fn empty_line_split_across_the_limit_ends_the_dropped_frame() {
    // The CRLF CRLF that ends the too-long frame straddles the limit: it still ends it.
    let mut stream = b"Event: Big\r\nData: ".to_vec();
    stream.resize(MAX_FRAME - 2, b'z');
    stream.extend(b"\r\n\r\nEvent: After\r\n\r\n");
    let seen = same_however_read(Framer::without_banner, &stream);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].is_garbled());
    assert_eq!(seen[1].get("Event"), Some("After"));
}

#[test]
fn hostile_streams_are_read_in_linear_time() {
    let many = |s: &[u8], n: usize| s.repeat(n);
    let inputs = [
        many(b"x", 300_000),
        many(b"\n", 300_000),
        many(b"\r", 300_000),
        many(b"A:\r\n", 75_000),
        many(b"A\r\n", 100_000),
        many(b":", 300_000),
        [b"Event: X\r\nV: ".as_slice(), &many(b"\r\n", 1)].concat(),
    ];
    let started = std::time::Instant::now();
    for input in &inputs {
        same_however_read(Framer::new, input);
    }
    // Quadratic rescanning would take minutes here; linear takes well under a second.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// Bytes that matter to the framer, to build damaged and random streams from.
const DELIMITERS: &[u8] = b"\r\n\r\n: Event: A\x00\xff\xc3\xa9\xe6\x97";

#[test]
fn random_bytes_never_panic() {
    let mut rng = Lcg(18);
    for round in 0..300 {
        let len = rng.below(if round % 10 == 0 { 200_000 } else { 3000 });
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                0 => rng.below(256) as u8,
                _ => DELIMITERS[rng.below(DELIMITERS.len())],
            })
            .collect();
        let new = if round % 2 == 0 {
            Framer::new
        } else {
            Framer::without_banner
        };
        let mut sizes = Lcg(round);
        let whole = feed(new(), &bytes, || bytes.len());
        assert_eq!(feed(new(), &bytes, || 1 + sizes.below(100)), whole);
    }
}

#[test]
fn damaged_transcripts_never_panic_and_stay_in_sync() {
    let mut rng = Lcg(19);
    for (name, bytes) in transcripts() {
        for _ in 0..8 {
            // The last lines (Logoff, Goodbye) stay whole, to check the end is in sync.
            let mut damaged = bytes.clone();
            for _ in 0..=rng.below(5) {
                let at = rng.below(damaged.len() - 200);
                match rng.below(3) {
                    0 => damaged[at] = DELIMITERS[rng.below(DELIMITERS.len())],
                    1 => damaged.insert(at, DELIMITERS[rng.below(DELIMITERS.len())]),
                    _ => drop(damaged.drain(at..(at + rng.below(40)).min(damaged.len()))),
                }
            }
            let whole = feed(Framer::new(), &damaged, || damaged.len());
            let mut sizes = Lcg(damaged.len() as u64);
            let pieces = feed(Framer::new(), &damaged, || 1 + sizes.below(64));
            assert_eq!(pieces, whole, "{name}");
            assert_eq!(feed(Framer::new(), &damaged, || 1), whole, "{name}");

            // A few damaged lines cost a few frames at most; the rest stays in sync.
            let (expected, _) = count_blocks(&bytes);
            assert!(
                whole.len() + 12 >= expected,
                "{name}: {} of {expected}",
                whole.len()
            );
            assert_eq!(
                whole.last().unwrap().get("Response"),
                Some("Goodbye"),
                "{name}"
            );
        }
    }
}

// The message type.

#[test]
fn message_accessors() {
    let mut framer = Framer::without_banner();
    framer.push(
        b"Response: Success\r\nActionID: dial-1\r\nMessage: Originate successfully queued\r\n\
        actionid: second\r\n\r\n",
    );
    let Some(Frame::Message(msg)) = framer.next() else {
        panic!("no message")
    };
    assert_eq!(msg.response(), Some("Success"));
    assert_eq!(msg.event(), None);
    assert_eq!(msg.action_id(), Some("dial-1"), "the first occurrence");
    assert_eq!(msg.len(), 4);
    assert!(!msg.is_empty());
    let names: Vec<_> = msg.fields().map(|(n, _)| n).collect();
    assert_eq!(names, ["Response", "ActionID", "Message", "actionid"]);
    let shown = concat!(
        r#"[("Response", "Success"), ("ActionID", "dial-1"), "#,
        r#"("Message", "Originate successfully queued"), ("actionid", "second")]"#
    );
    assert_eq!(format!("{msg:?}"), shown);
}

#[test]
fn messages_borrow_the_buffer() {
    let mut framer = Framer::without_banner();
    framer.push(b"Event: A\r\nValue: one\r\n\r\nEvent: B\r\nValue: one\r\ntwo\r\n\r\n");
    let Some(Frame::Message(plain)) = framer.next() else {
        panic!()
    };
    assert!(matches!(
        (&plain.text, &plain.fields),
        (Cow::Borrowed(_), Cow::Borrowed(_))
    ));
    let Some(Frame::Message(continued)) = framer.next() else {
        panic!()
    };
    assert!(matches!(continued.text, Cow::Owned(_)));
    assert_eq!(continued.get("Value"), Some("one\ntwo"));
}

#[test]
fn owned_message_outlives_the_framer() {
    let owned = {
        let mut framer = Framer::without_banner();
        framer.push(b"Event: Hangup\r\nCause: 16\r\n\r\n");
        let Some(Frame::Message(msg)) = framer.next() else {
            panic!()
        };
        msg.into_owned()
    };
    assert_eq!(
        owned,
        Message::from_fields([("Event", "Hangup"), ("Cause", "16")])
    );
    assert_eq!(owned.get("cause"), Some("16"));
}
