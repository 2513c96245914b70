//! The assembly checked against what a real Asterisk said: each transcript
//! of `shared/fixtures/asterisk` and the AMI field cases, as the events the
//! tracker gets.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::telephony::ami::frame::{Frame, Framer};

fn set(items: &[&str]) -> HashSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The fixtures' PBX: trunk `SIP/trunk` in from-trunk, phones in
/// from-internal.
fn fixture_settings() -> Settings {
    Settings {
        endpoints: Endpoints {
            trunk_contexts: set(&["from-trunk", "from-pstn"]),
            internal_contexts: set(&["from-internal"]),
            ..Endpoints::default()
        },
        ask_presentation: false,
        presentation_wait: Duration::milliseconds(500),
        stale_after: Duration::hours(4),
    }
}

fn start() -> DateTime<Utc> {
    Utc.timestamp_opt(1_796_313_000, 0).unwrap()
}

/// Feeds `bytes` to an assembler, one second of arrival time per event so
/// that times can be told apart, and returns what it produced.
fn feed(assembler: &mut Assembler, bytes: &[u8], banner: bool) -> Output {
    let mut framer = if banner {
        Framer::new()
    } else {
        Framer::without_banner()
    };
    framer.push(bytes);
    let mut out = Output::default();
    let mut at = start();
    while let Some(frame) = framer.next() {
        if let Frame::Message(msg) = frame {
            at += Duration::seconds(1);
            assembler.handle(&msg, at, &mut out);
        }
    }
    out
}

/// Events as short lines, in order: `ring inbound 201 +1555010011 withheld=false`.
fn lines(events: &[CallEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Ringing {
                direction,
                extension,
                remote,
            } => format!(
                "ring {} {extension} {} withheld={}",
                direction.as_str(),
                remote.number.as_deref().unwrap_or("-"),
                remote.withheld
            ),
            EventKind::Answered { extension } => format!("answered {extension}"),
            EventKind::AnsweredElsewhere { extension } => format!("elsewhere {extension}"),
            EventKind::StoppedRinging { extension } => format!("stopped {extension}"),
            EventKind::Transferred { from, to, kind } => {
                format!("transfer {from} {to} {}", kind.as_str())
            }
            EventKind::Originated => "originated".into(),
            EventKind::Ended { abandoned } => format!("ended abandoned={abandoned}"),
            EventKind::Withheld => "withheld".into(),
            EventKind::Lost => "lost".into(),
        })
        .collect()
}

fn transcript(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/fixtures/asterisk/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn check(name: &str, expected: &[&str]) -> Output {
    let mut assembler = Assembler::new("office", fixture_settings());
    let out = feed(&mut assembler, &transcript(name), true);
    assert_eq!(lines(&out.events), expected, "{name}");
    let ids: HashSet<&str> = out.events.iter().map(|e| e.pbx_call_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "{name}: one call, not {ids:?}");
    assert_eq!(assembler.live_calls(), 0, "{name}: the call is over");
    assert!(assembler.channels.is_empty(), "{name}: nothing left behind");
    out
}

#[test]
fn a_inbound_answered() {
    let out = check(
        "ami-a-inbound-answered.txt",
        &[
            "ring inbound 201 +1555010011 withheld=false",
            "answered 201",
            "ended abandoned=false",
        ],
    );
    let EventKind::Ringing { remote, .. } = &out.events[0].kind else {
        unreachable!()
    };
    assert_eq!(remote.name.as_deref(), Some("Carol Caller"));
    assert!(out.events[2].at > out.events[1].at, "talk time is not zero");
}

#[test]
fn b_abandoned_by_the_caller() {
    check(
        "ami-b-inbound-abandoned.txt",
        &[
            "ring inbound 201 +1555010012 withheld=false",
            "stopped 201",
            "ended abandoned=true",
        ],
    );
}

#[test]
fn c_failover_is_one_call_answered_by_the_second_phone() {
    check(
        "ami-c-inbound-failover-202.txt",
        &[
            "ring inbound 201 +1555010013 withheld=false",
            "stopped 201",
            "ring inbound 202 +1555010013 withheld=false",
            "answered 202",
            "ended abandoned=false",
        ],
    );
}

#[test]
fn d_outbound_from_a_phone() {
    check(
        "ami-d-outbound-201.txt",
        &[
            "ring outbound 201 +1555019901 withheld=false",
            "answered 201",
            "ended abandoned=false",
        ],
    );
}

#[test]
fn e_queue_rings_both_and_the_other_is_answered_elsewhere() {
    check(
        "ami-e-inbound-queue.txt",
        &[
            "ring inbound 201 +1555010015 withheld=false",
            "ring inbound 202 +1555010015 withheld=false",
            "answered 201",
            "elsewhere 202",
            "ended abandoned=false",
        ],
    );
}

#[test]
fn g_anonymous_caller_is_withheld() {
    check(
        "ami-g-inbound-anonymous.txt",
        &[
            "ring inbound 201 - withheld=true",
            "answered 201",
            "ended abandoned=false",
        ],
    );
}

#[test]
fn h_name_is_kept_exactly() {
    let out = check(
        "ami-h-inbound-unicode-markup-name.txt",
        &[
            "ring inbound 201 +1555010019 withheld=false",
            "answered 201",
            "ended abandoned=false",
        ],
    );
    let EventKind::Ringing { remote, .. } = &out.events[0].kind else {
        unreachable!()
    };
    assert_eq!(
        remote.name.as_deref(),
        Some("Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本")
    );
}

#[test]
fn i_click_to_dial_is_one_outbound_call_marked_originated() {
    let mut assembler = Assembler::new("office", fixture_settings());
    let bytes = transcript("ami-i-originate-click-to-dial.txt");
    let mut framer = Framer::new();
    framer.push(&bytes);
    let mut out = Output::default();
    while let Some(frame) = framer.next() {
        let Frame::Message(msg) = frame else { continue };
        assembler.handle(&msg, start(), &mut out);
        // The link does this with the OriginateResponse it awaited.
        if msg.event() == Some("OriginateResponse") {
            let uniqueid = msg.get("Uniqueid").unwrap().to_owned();
            assembler.originated(&uniqueid, start(), &mut out);
        }
    }
    assert_eq!(
        lines(&out.events),
        [
            "ring outbound 201 +1555019902 withheld=false",
            "originated",
            "answered 201",
            "ended abandoned=false",
        ]
    );
}

/// Events written as in the field cases, CRLF added.
fn stream(text: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in text.lines() {
        bytes.extend_from_slice(line.trim_start().as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes
}

/// A call that rings `dest` from `channel` and ends as `status`.
fn rings(channel: &str, uid: &str, dest: &str, dest_uid: &str, status: &str) -> String {
    let stamp = format!("{}.000100", &uid[..10]);
    format!(
        "Event: Newchannel\nChannel: {dest}\nContext: from-internal\nCallerIDNum: 201\n\
         Uniqueid: {dest_uid}\nLinkedid: {uid}\n\n\
         Event: DialBegin\nTimestamp: {stamp}\nChannel: {channel}\nUniqueid: {uid}\n\
         Linkedid: {uid}\nDestChannel: {dest}\nDestUniqueid: {dest_uid}\nDialString: 201\n\n\
         Event: DialEnd\nChannel: {channel}\nUniqueid: {uid}\nLinkedid: {uid}\n\
         DestChannel: {dest}\nDestUniqueid: {dest_uid}\nDialStatus: {status}\n\n\
         Event: Hangup\nChannel: {dest}\nUniqueid: {dest_uid}\nLinkedid: {uid}\nCause: 16\n\n\
         Event: Hangup\nChannel: {channel}\nUniqueid: {uid}\nLinkedid: {uid}\nCause: 16\n"
    )
}

#[test]
fn case_19_placeholders_are_withheld_or_unavailable_never_numbers() {
    let text = format!(
        "Event: Newchannel\nTimestamp: 1700000200.000100\nChannel: PJSIP/carrier-a-00000030\n\
         CallerIDNum: <unknown>\nCallerIDName: Anonymous\nConnectedLineNum: <unknown>\n\
         Context: from-trunk\nExten: 12125550100\nUniqueid: 1700000200.30\n\
         Linkedid: 1700000200.30\n\n{}\n\
         Event: Newchannel\nTimestamp: 1700000300.000100\nChannel: DAHDI/3-1\nCallerIDNum:\n\
         CallerIDName:\nContext: from-pstn\nExten: s\nUniqueid: 1700000300.31\n\
         Linkedid: 1700000300.31\n\n{}\n\
         Event: Newchannel\nTimestamp: 1700000400.000100\nChannel: PJSIP/carrier-a-00000032\n\
         CallerIDNum: anonymous\nCallerIDName: Restricted\nContext: from-trunk\n\
         Exten: 12125550100\nUniqueid: 1700000400.32\nLinkedid: 1700000400.32\n\n{}",
        rings(
            "PJSIP/carrier-a-00000030",
            "1700000200.30",
            "PJSIP/201-a",
            "1700000200.33",
            "NOANSWER"
        ),
        rings(
            "DAHDI/3-1",
            "1700000300.31",
            "PJSIP/201-b",
            "1700000300.34",
            "NOANSWER"
        ),
        rings(
            "PJSIP/carrier-a-00000032",
            "1700000400.32",
            "PJSIP/201-c",
            "1700000400.35",
            "NOANSWER"
        ),
    );
    let mut assembler = Assembler::new("office", fixture_settings());
    let out = feed(&mut assembler, &stream(&text), false);
    assert_eq!(
        lines(&out.events),
        [
            "ring inbound 201 - withheld=true",
            "stopped 201",
            "ended abandoned=false",
            "ring inbound 201 - withheld=false",
            "stopped 201",
            "ended abandoned=false",
            "ring inbound 201 - withheld=true",
            "stopped 201",
            "ended abandoned=false",
        ]
    );
    // Timestamp: fields are the event times.
    assert_eq!(out.events[0].at.timestamp(), 1_700_000_200);
    assert_eq!(out.events[0].at.timestamp_subsec_micros(), 100);
}

/// Field case 21: the endpoints table decides, not the channel names.
fn case_21_settings() -> Settings {
    let mut settings = fixture_settings();
    settings.endpoints.trunks = set(&["PJSIP/carrier-b", "PJSIP/5061"]);
    settings.endpoints.internal = set(&["PJSIP/201", "PJSIP/202", "PJSIP/203"]);
    settings.endpoints.extensions = HashMap::from([("DAHDI/7".into(), "112".into())]);
    settings
}

fn two_party(first: &str, uid: &str, ctx: &str, num: &str, dest: &str, dial: &str) -> String {
    let dest_uid = format!("{uid}1");
    format!(
        "Event: Newchannel\nChannel: {first}\nCallerIDNum: {num}\nContext: {ctx}\n\
         Exten: x\nUniqueid: {uid}\nLinkedid: {uid}\n\n\
         Event: Newchannel\nChannel: {dest}\nCallerIDNum: <unknown>\nContext: default\n\
         Uniqueid: {dest_uid}\nLinkedid: {uid}\n\n\
         Event: DialBegin\nChannel: {first}\nUniqueid: {uid}\nLinkedid: {uid}\n\
         DestChannel: {dest}\nDestUniqueid: {dest_uid}\nDialString: {dial}\n\n\
         Event: DialEnd\nChannel: {first}\nUniqueid: {uid}\nLinkedid: {uid}\n\
         DestChannel: {dest}\nDestUniqueid: {dest_uid}\nDialStatus: ANSWER\n\n\
         Event: Hangup\nChannel: {dest}\nUniqueid: {dest_uid}\nLinkedid: {uid}\nCause: 16\n\n\
         Event: Hangup\nChannel: {first}\nUniqueid: {uid}\nLinkedid: {uid}\nCause: 16\n"
    )
}

#[test]
fn case_21_direction_comes_from_configuration() {
    let text = [
        two_party(
            "DAHDI/7-1",
            "1700000500.40",
            "from-internal",
            "112",
            "PJSIP/carrier-b-00000041",
            "carrier-b/12125550159",
        ),
        two_party(
            "PJSIP/5061-00000050",
            "1700000600.50",
            "from-trunk",
            "+12125550168",
            "PJSIP/203-00000051",
            "203",
        ),
        two_party(
            "PJSIP/201-00000060",
            "1700000700.60",
            "from-internal",
            "201",
            "PJSIP/202-00000061",
            "202",
        ),
    ]
    .join("\n");
    let mut assembler = Assembler::new("office", case_21_settings());
    let out = feed(&mut assembler, &stream(&text), false);
    assert_eq!(
        lines(&out.events),
        [
            "ring outbound 112 12125550159 withheld=false",
            "answered 112",
            "ended abandoned=false",
            "ring inbound 203 +12125550168 withheld=false",
            "answered 203",
            "ended abandoned=false",
            "ring internal 202 201 withheld=false",
            "answered 202",
            "ended abandoned=false",
        ]
    );
}

#[test]
fn restricted_presentation_withholds_a_number_ami_shows() {
    let mut settings = fixture_settings();
    settings.ask_presentation = true;
    let mut assembler = Assembler::new("office", settings);
    let mut framer = Framer::new();
    framer.push(&transcript("ami-a-inbound-answered.txt"));
    let mut out = Output::default();
    while let Some(frame) = framer.next() {
        let Frame::Message(msg) = frame else { continue };
        assembler.handle(&msg, start(), &mut out);
        // The answer comes back once the first phone already rings.
        if msg.event() == Some("DialState") {
            let Some(Ask::Presentation { linkedid, channel }) = out.asks.first().cloned() else {
                panic!("presentation not asked: {:?}", out.asks)
            };
            assert_eq!(channel, "SIP/trunk-00000000");
            assert!(out.events.is_empty(), "the pop waits for the answer");
            assembler.presentation(&linkedid, Some("prohib_passed_screen"), &mut out);
        }
    }
    assert_eq!(
        lines(&out.events),
        [
            "ring inbound 201 - withheld=true",
            "answered 201",
            "ended abandoned=false"
        ]
    );
}

#[test]
fn a_presentation_answer_that_never_comes_does_not_hold_the_pop_for_long() {
    let mut settings = fixture_settings();
    settings.ask_presentation = true;
    let mut assembler = Assembler::new("office", settings);
    let bytes = transcript("ami-a-inbound-answered.txt");
    let cut = find(&bytes, b"Event: DialState");
    let mut out = feed(&mut assembler, &bytes[..cut], true);
    assert!(out.events.is_empty());
    assembler.tick(start() + Duration::seconds(3600), &mut out);
    assert_eq!(
        lines(&out.events),
        ["ring inbound 201 +1555010011 withheld=false"]
    );
}

#[test]
fn a_call_over_before_its_presentation_answer_waits_for_it() {
    let mut settings = fixture_settings();
    settings.ask_presentation = true;
    let mut assembler = Assembler::new("office", settings);
    let mut out = feed(
        &mut assembler,
        &transcript("ami-a-inbound-answered.txt"),
        true,
    );
    assert!(
        out.events.is_empty(),
        "nothing leaves before the answer: {:?}",
        lines(&out.events)
    );
    let Some(Ask::Presentation { linkedid, .. }) = out.asks.first().cloned() else {
        panic!("presentation not asked")
    };

    assembler.presentation(&linkedid, Some("prohib_passed_screen"), &mut out);
    assert_eq!(
        lines(&out.events),
        [
            "ring inbound 201 - withheld=true",
            "answered 201",
            "ended abandoned=false"
        ]
    );
    assert_eq!(assembler.live_calls(), 0);
}

#[test]
fn a_restricted_answer_after_the_wait_withholds_the_caller_late() {
    let mut settings = fixture_settings();
    settings.ask_presentation = true;
    let mut assembler = Assembler::new("office", settings);
    let bytes = transcript("ami-a-inbound-answered.txt");
    let cut = find(&bytes, b"Event: DialState");
    let mut out = feed(&mut assembler, &bytes[..cut], true);
    let Some(Ask::Presentation { linkedid, .. }) = out.asks.first().cloned() else {
        panic!("presentation not asked")
    };
    assembler.tick(start() + Duration::seconds(3600), &mut out);
    let mut framer = Framer::without_banner();
    framer.push(&bytes[cut..]);
    while let Some(frame) = framer.next() {
        let Frame::Message(msg) = frame else { continue };
        assembler.handle(&msg, start() + Duration::seconds(3601), &mut out);
    }
    assert_eq!(assembler.live_calls(), 1, "kept to hear the answer");

    assembler.presentation(&linkedid, Some("prohib_passed_screen"), &mut out);
    assert_eq!(
        lines(&out.events),
        [
            "ring inbound 201 +1555010011 withheld=false",
            "answered 201",
            "ended abandoned=false",
            "withheld"
        ]
    );
    assert_eq!(assembler.live_calls(), 0);
}

#[test]
fn an_ended_call_stops_listening_for_an_overdue_answer_after_a_while() {
    let mut settings = fixture_settings();
    settings.ask_presentation = true;
    let mut assembler = Assembler::new("office", settings);
    let bytes = transcript("ami-a-inbound-answered.txt");
    let cut = find(&bytes, b"Event: DialState");
    let mut out = feed(&mut assembler, &bytes[..cut], true);
    let overdue = start() + Duration::seconds(3600);
    assembler.tick(overdue, &mut out);
    let mut framer = Framer::without_banner();
    framer.push(&bytes[cut..]);
    while let Some(frame) = framer.next() {
        let Frame::Message(msg) = frame else { continue };
        assembler.handle(&msg, overdue, &mut out);
    }
    assembler.tick(overdue + Duration::seconds(5), &mut out);
    assert_eq!(assembler.live_calls(), 1);

    assembler.tick(overdue + Duration::seconds(11), &mut out);
    assert_eq!(assembler.live_calls(), 0);
    assert_eq!(
        lines(&out.events).last().map(String::as_str),
        Some("ended abandoned=false")
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in transcript")
}

#[test]
fn a_call_never_closed_is_given_up_after_the_stale_time() {
    let mut settings = fixture_settings();
    settings.stale_after = Duration::seconds(60);
    let mut assembler = Assembler::new("office", settings);
    let bytes = transcript("ami-a-inbound-answered.txt");
    let cut = find(&bytes, b"Event: HangupRequest");
    let mut out = feed(&mut assembler, &bytes[..cut], true);
    assert_eq!(
        lines(&out.events),
        [
            "ring inbound 201 +1555010011 withheld=false",
            "answered 201"
        ]
    );

    out.events.clear();
    assembler.tick(start() + Duration::seconds(30), &mut out);
    assert!(out.events.is_empty(), "not stale yet");
    assembler.tick(start() + Duration::seconds(600), &mut out);
    assert_eq!(lines(&out.events), ["lost"]);
    assert_eq!(assembler.live_calls(), 0);
    assert!(assembler.channels.is_empty());
}

/// The channels the test AMI server would list: as they stand after the
/// transcript's first `n_events` events.
fn snapshot_after(bytes: &[u8], stop: &[u8]) -> Vec<Snapshot> {
    let mut framer = Framer::new();
    framer.push(&bytes[..find(bytes, stop)]);
    let mut table: Vec<Snapshot> = Vec::new();
    while let Some(frame) = framer.next() {
        let Frame::Message(msg) = frame else { continue };
        let get = |n: &str| msg.get(n).unwrap_or("").to_owned();
        match msg.event() {
            Some("Newchannel") => table.push(Snapshot {
                channel: get("Channel"),
                uniqueid: get("Uniqueid"),
                linkedid: get("Linkedid"),
                context: get("Context"),
                exten: get("Exten"),
                caller_num: get("CallerIDNum"),
                caller_name: get("CallerIDName"),
                connected_num: get("ConnectedLineNum"),
                connected_name: get("ConnectedLineName"),
                state: get("ChannelStateDesc"),
                bridged: false,
                duration_secs: 0,
            }),
            Some("Newstate") => {
                if let Some(s) = table.iter_mut().find(|s| s.uniqueid == get("Uniqueid")) {
                    s.state = get("ChannelStateDesc");
                }
            }
            Some("BridgeEnter") => {
                if let Some(s) = table.iter_mut().find(|s| s.uniqueid == get("Uniqueid")) {
                    s.bridged = true;
                }
            }
            Some("Hangup") => table.retain(|s| s.uniqueid != get("Uniqueid")),
            _ => {}
        }
    }
    table
}

#[test]
fn a_reconnect_in_the_middle_of_a_failover_keeps_one_call() {
    let bytes = transcript("ami-c-inbound-failover-202.txt");
    // The link sees 201 ring, then loses the connection until 202 is
    // talking; Asterisk then lists what is up, and the rest follows.
    let cut = find(&bytes, b"Event: DialState");
    let resume = find(&bytes, b"Event: HangupRequest");
    let mut assembler = Assembler::new("office", fixture_settings());
    let mut out = feed(&mut assembler, &bytes[..cut], true);
    let snapshot = snapshot_after(&bytes, b"Event: HangupRequest");
    assert_eq!(snapshot.len(), 2, "{snapshot:?}");
    assembler.reconcile(&snapshot, start() + Duration::seconds(100), &mut out);
    let rest = feed(&mut assembler, &bytes[resume..], false);
    out.events.extend(rest.events);

    assert_eq!(
        lines(&out.events),
        [
            "ring inbound 201 +1555010013 withheld=false",
            "stopped 201",
            "ring inbound 202 +1555010013 withheld=false",
            "answered 202",
            "ended abandoned=false",
        ]
    );
    let ids: HashSet<&str> = out.events.iter().map(|e| e.pbx_call_id.as_str()).collect();
    assert_eq!(ids.len(), 1);
}

#[test]
fn a_reconnect_that_changes_nothing_reports_nothing() {
    let bytes = transcript("ami-e-inbound-queue.txt");
    let cut = find(&bytes, b"Event: HangupRequest");
    let mut assembler = Assembler::new("office", fixture_settings());
    let mut out = feed(&mut assembler, &bytes[..cut], true);
    let before = out.events.len();
    let snapshot = snapshot_after(&bytes, b"Event: HangupRequest");
    assembler.reconcile(&snapshot, start() + Duration::seconds(100), &mut out);
    assert_eq!(
        out.events.len(),
        before,
        "{:?}",
        lines(&out.events[before..])
    );
}

#[test]
fn transfers_hand_the_call_on() {
    let text = "Event: Newchannel\nChannel: SIP/trunk-1\nCallerIDNum: +15550101\n\
        Context: from-trunk\nUniqueid: 10.1\nLinkedid: 10.1\n\n\
        Event: Newchannel\nChannel: SIP/201-2\nCallerIDNum: 201\nContext: from-internal\n\
        Uniqueid: 10.2\nLinkedid: 10.1\n\n\
        Event: DialBegin\nChannel: SIP/trunk-1\nUniqueid: 10.1\nLinkedid: 10.1\n\
        DestChannel: SIP/201-2\nDestUniqueid: 10.2\nDialString: 201\n\n\
        Event: DialEnd\nUniqueid: 10.1\nLinkedid: 10.1\nDestUniqueid: 10.2\nDialStatus: ANSWER\n\n\
        Event: BlindTransfer\nResult: Success\nTransfererChannel: SIP/201-2\n\
        TransfererUniqueid: 10.2\nTransfererLinkedid: 10.1\nTransfereeChannel: SIP/trunk-1\n\
        TransfereeUniqueid: 10.1\nTransfereeLinkedid: 10.1\nExtension: 202\n\
        Context: from-internal\n\n\
        Event: Hangup\nChannel: SIP/201-2\nUniqueid: 10.2\nLinkedid: 10.1\nCause: 16\n\n\
        Event: Newchannel\nChannel: SIP/202-3\nCallerIDNum: 202\nContext: from-internal\n\
        Uniqueid: 10.3\nLinkedid: 10.1\n\n\
        Event: DialBegin\nChannel: SIP/trunk-1\nUniqueid: 10.1\nLinkedid: 10.1\n\
        DestChannel: SIP/202-3\nDestUniqueid: 10.3\nDialString: 202\n\n\
        Event: DialEnd\nUniqueid: 10.1\nLinkedid: 10.1\nDestUniqueid: 10.3\nDialStatus: ANSWER\n\n\
        Event: Hangup\nChannel: SIP/trunk-1\nUniqueid: 10.1\nLinkedid: 10.1\nCause: 16\n\n\
        Event: Hangup\nChannel: SIP/202-3\nUniqueid: 10.3\nLinkedid: 10.1\nCause: 16\n";
    let mut assembler = Assembler::new("office", fixture_settings());
    let out = feed(&mut assembler, &stream(text), false);
    assert_eq!(
        lines(&out.events),
        [
            "ring inbound 201 +15550101 withheld=false",
            "answered 201",
            "transfer 201 202 blind",
            "ring inbound 202 +15550101 withheld=false",
            "answered 202",
            "ended abandoned=false",
        ]
    );
}

#[test]
fn local_channels_are_followed_to_the_phone_that_answers() {
    let text = "Event: Newchannel\nChannel: SIP/trunk-1\nCallerIDNum: +15550102\n\
        Context: from-trunk\nUniqueid: 20.1\nLinkedid: 20.1\n\n\
        Event: Newchannel\nChannel: Local/201@from-queue-1;1\nCallerIDNum: <unknown>\n\
        Context: from-queue\nUniqueid: 20.2\nLinkedid: 20.1\n\n\
        Event: Newchannel\nChannel: Local/201@from-queue-1;2\nCallerIDNum: <unknown>\n\
        Context: from-queue\nUniqueid: 20.3\nLinkedid: 20.1\n\n\
        Event: AgentCalled\nChannel: SIP/trunk-1\nUniqueid: 20.1\nLinkedid: 20.1\n\
        DestChannel: Local/201@from-queue-1;1\nDestUniqueid: 20.2\nQueue: support\n\n\
        Event: DialBegin\nChannel: SIP/trunk-1\nUniqueid: 20.1\nLinkedid: 20.1\n\
        DestChannel: Local/201@from-queue-1;1\nDestUniqueid: 20.2\nDialString: 201@from-queue\n\n\
        Event: Newchannel\nChannel: SIP/201-4\nCallerIDNum: 201\nContext: from-internal\n\
        Uniqueid: 20.4\nLinkedid: 20.1\n\n\
        Event: DialBegin\nChannel: Local/201@from-queue-1;2\nUniqueid: 20.3\nLinkedid: 20.1\n\
        DestChannel: SIP/201-4\nDestUniqueid: 20.4\nDialString: 201\n\n\
        Event: DialEnd\nUniqueid: 20.3\nLinkedid: 20.1\nDestUniqueid: 20.4\nDialStatus: ANSWER\n\n\
        Event: DialEnd\nUniqueid: 20.1\nLinkedid: 20.1\nDestUniqueid: 20.2\nDialStatus: ANSWER\n\n\
        Event: Hangup\nChannel: SIP/trunk-1\nUniqueid: 20.1\nLinkedid: 20.1\nCause: 16\n\n\
        Event: Hangup\nChannel: Local/201@from-queue-1;1\nUniqueid: 20.2\nLinkedid: 20.1\n\n\
        Event: Hangup\nChannel: Local/201@from-queue-1;2\nUniqueid: 20.3\nLinkedid: 20.1\n\n\
        Event: Hangup\nChannel: SIP/201-4\nUniqueid: 20.4\nLinkedid: 20.1\nCause: 16\n";
    let mut assembler = Assembler::new("office", fixture_settings());
    let out = feed(&mut assembler, &stream(text), false);
    assert_eq!(
        lines(&out.events),
        [
            "ring inbound 201 +15550102 withheld=false",
            "answered 201",
            "ended abandoned=false",
        ]
    );
    assert!(assembler.channels.is_empty());
}
