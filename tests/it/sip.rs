//! The SIP listener with sipp playing the PBX, and Asterisk's own INVITEs.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::net::UdpSocket;

use crate::helpers::{fixture, peer, ring, scenario, sipp, spawn_app, SseEvent, TestApp};

const WAIT: Duration = Duration::from_secs(10);

/// A fresh daemon, rung once at 201 with sipp, and every pop event 201 saw
/// (waiting a little past the last, so an extra event would show).
/// `None` when sipp is not installed.
async fn ring_once(
    scenario_name: &str,
    number: &str,
    name: &str,
    extra: &[&str],
) -> Option<(TestApp, Vec<SseEvent>)> {
    peer("sipp")?;
    let app = spawn_app(&[]).await;
    let mut pops = app.pops("201").await;
    ring(&app, scenario_name, number, name, extra).await;
    let events = pops.collect(3, Duration::from_secs(2)).await;
    Some((app, events))
}

fn kinds(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

fn call_id(event: &SseEvent) -> i64 {
    event.data["call_id"].as_i64().unwrap()
}

async fn only_call(app: &TestApp) -> Value {
    let calls = app.calls().await;
    assert_eq!(calls.len(), 1, "expected one call, got {calls:#?}");
    let id = calls[0]["id"].as_i64().unwrap();
    app.api(&format!("/api/v1/calls/{id}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_who_gives_up_is_popped_withdrawn_and_recorded_abandoned() {
    let Some((app, events)) = ring_once("ring-cancel.xml", "+15550100", "Jane Doe", &[]).await
    else {
        return;
    };
    assert_eq!(kinds(&events), ["pop", "withdraw"]);
    assert_eq!(call_id(&events[0]), call_id(&events[1]));
    let pop = &events[0].data["pop"];
    assert_eq!(pop["name"], "Jane Doe");
    assert_eq!(pop["withheld"], false);
    assert!(pop["link"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/calls/{}", call_id(&events[0]))));

    let call = only_call(&app).await;
    assert_eq!(call["outcome"], "abandoned");
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["extension"], "201");
    assert_eq!(call["remote_raw"], "+15550100");
    assert_eq!(call["remote_name"], "Jane Doe");
    assert_eq!(call["answered_by"], Value::Null);
    assert_eq!(call["legs"][0]["outcome"], "missed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_completed_elsewhere_means_the_reps_phone_answered() {
    let scenario = "ring-cancel-elsewhere.xml";
    let Some((app, events)) = ring_once(scenario, "+15550101", "Acme Front Desk", &[]).await else {
        return;
    };
    assert_eq!(
        kinds(&events),
        ["pop", "answered"],
        "the pop is kept, never withdrawn"
    );
    assert_eq!(events[1].data["pop"]["answered"], true);

    let call = only_call(&app).await;
    assert_eq!(call["outcome"], "answered");
    assert_eq!(call["answered_by"], "201");
    assert!(call["answered_at"].is_string());
    assert_eq!(call["legs"][0]["outcome"], "answered");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retransmitted_invite_is_one_call_and_one_pop() {
    let Some((app, events)) = ring_once("ring-retransmit.xml", "+15550102", "Twice", &[]).await
    else {
        return;
    };
    assert_eq!(kinds(&events), ["pop", "withdraw"]);
    only_call(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withheld_caller_is_recorded_without_number_or_lookup() {
    let Some((app, events)) = ring_once("ring-withheld.xml", "+15550103", "Hidden", &[]).await
    else {
        return;
    };
    assert_eq!(kinds(&events), ["pop", "withdraw"]);
    let pop = &events[0].data["pop"];
    assert_eq!(pop["withheld"], true);
    assert_eq!(pop["caller"], "");
    assert_eq!(pop["matches"], serde_json::json!([]));

    let call = only_call(&app).await;
    assert_eq!(call["withheld"], true);
    assert_eq!(call["remote_raw"], Value::Null);
    assert_eq!(call["remote_e164"], Value::Null);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_calls_at_speed_are_all_recorded_popped_and_withdrawn() {
    let Some(sipp_bin) = peer("sipp") else { return };
    let app = spawn_app(&[]).await;
    let mut pops = app.pops("201").await;

    let sf = scenario("ring-cancel.xml");
    let csv = scenario("callers.csv");
    let args = [
        "-sf",
        sf.to_str().unwrap(),
        "-s",
        "201",
        "-inf",
        csv.to_str().unwrap(),
        "-d",
        "200",
        "-m",
        "200",
        "-r",
        "300",
        "-l",
        "400",
    ];
    let out = sipp(&sipp_bin, app.sip, &args).await;
    assert!(
        out.status.success(),
        "sipp: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    let events = pops.collect(400, Duration::from_secs(30)).await;
    let count = |kind: &str| events.iter().filter(|e| e.event == kind).count();
    assert_eq!((count("pop"), count("withdraw")), (200, 200));

    let calls = app.calls().await;
    assert_eq!(calls.len(), 200);
    assert!(
        calls.iter().all(|c| c["outcome"] == "abandoned"),
        "every call closed"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_calls_are_framed_and_answered_like_udp() {
    let scenario = "ring-cancel.xml";
    let Some((app, events)) = ring_once(scenario, "+15550104", "Over TCP", &["-t", "t1"]).await
    else {
        return;
    };
    assert_eq!(kinds(&events), ["pop", "withdraw"]);
    assert_eq!(only_call(&app).await["remote_raw"], "+15550104");
    app.stop().await;
}

/// The INVITEs a real Asterisk sent to extension 201, replayed byte for
/// byte, then cancelled the way Asterisk cancels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asterisk_invites_are_popped_with_the_caller_asterisk_named() {
    let cases = [
        (
            "sip-invite-a-to-201-inbound-answered.txt",
            Some("Carol Caller"),
            false,
        ),
        ("sip-invite-g-to-201-anonymous.txt", None, true),
        (
            "sip-invite-h-to-201-unicode-markup-name.txt",
            Some("Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本"),
            false,
        ),
        ("sip-invite-i-to-201-originate.txt", None, false),
    ];
    let app = spawn_app(&[]).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();

    for (file, name, withheld) in cases {
        let invite = asterisk_invite(&fixture(&format!("asterisk/{file}")));
        let mut pops = app.pops("201").await;
        socket.send_to(&invite, app.sip).await.unwrap();
        let ringing = answers(&socket, 2).await;
        assert!(ringing[1].starts_with("SIP/2.0 180"), "{file}: {ringing:?}");

        let pop = pops
            .next(WAIT)
            .await
            .unwrap_or_else(|| panic!("{file}: no pop"));
        assert_eq!(pop.event, "pop", "{file}");
        assert_eq!(pop.data["pop"]["withheld"], withheld, "{file}");
        if let Some(name) = name {
            assert_eq!(pop.data["pop"]["name"], name, "{file}");
        }

        socket.send_to(&cancel_of(&invite), app.sip).await.unwrap();
        let ended = answers(&socket, 2).await;
        assert!(
            ended.iter().any(|a| a.starts_with("SIP/2.0 487")),
            "{file}: {ended:?}"
        );
        assert_eq!(pops.next(WAIT).await.unwrap().event, "withdraw", "{file}");
    }
    assert_eq!(app.calls().await.len(), cases.len());
    app.stop().await;
}

/// The INVITE in a fixture file, byte for byte as Asterisk sent it.
fn asterisk_invite(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"INVITE "),
        "{} holds an INVITE",
        path.display()
    );
    bytes
}

/// The CANCEL for an INVITE: same Request-URI, Via, From, To, Call-ID and
/// CSeq number (RFC 3261 §9.1).
fn cancel_of(invite: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(invite);
    let mut lines = text.split("\r\n");
    let uri = lines.next().unwrap().replacen("INVITE", "CANCEL", 1);
    let mut out = vec![uri];
    for line in lines.take_while(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap().trim().to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "to" | "call-id" | "max-forwards" => out.push(line.to_string()),
            "cseq" => out.push(line.replacen("INVITE", "CANCEL", 1)),
            _ => {}
        }
    }
    out.push("Content-Length: 0".into());
    (out.join("\r\n") + "\r\n\r\n").into_bytes()
}

async fn answers(socket: &UdpSocket, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65_535];
    while out.len() < n {
        let got = tokio::time::timeout(WAIT, socket.recv_from(&mut buf)).await;
        let (len, _) = got.expect("an answer from the sip listener").unwrap();
        out.push(String::from_utf8_lossy(&buf[..len]).into_owned());
    }
    out
}
