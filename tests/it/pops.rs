//! A rep's pop stream across a reconnect: what is still ringing and unseen
//! is replayed from `Last-Event-ID`, nothing seen or over is.

use std::time::Duration;

use crate::helpers::{spawn_app, status, PopStream, Request, SipUdp, SseEvent, TestApp};

const WAIT: Duration = Duration::from_secs(10);

/// The pop stream of 201, as a reconnecting client opens it.
async fn reconnect(app: &TestApp, last_event_id: &str) -> PopStream {
    let url = app.url("/api/v1/pops?extension=201");
    PopStream::open(&app.client, &url, Some(last_event_id)).await
}

/// Rings 201 from a raw socket with no CANCEL, so it keeps ringing.
async fn ring(udp: &SipUdp, from: &str) -> Request {
    let invite = Request::new("INVITE", "201", from);
    let answers = udp.exchange(&invite, 180).await;
    assert_eq!(status(answers.last().unwrap()), 180, "{answers:?}");
    invite
}

/// Stops the ringing as a caller who gives up, and ACKs the 487.
async fn cancel(udp: &SipUdp, invite: &Request) {
    udp.send(&invite.cancel().bytes()).await;
    let mut terminated = None;
    let mut ok = false;
    while terminated.is_none() || !ok {
        let answer = udp.answer().await;
        match status(&answer) {
            200 => ok = true,
            487 => terminated = Some(answer),
            _ => panic!("unexpected answer to a CANCEL: {answer}"),
        }
    }
    udp.send(&invite.ack(&terminated.unwrap()).bytes()).await;
}

async fn next(stream: &mut PopStream) -> SseEvent {
    stream.next(WAIT).await.expect("a pop event")
}

fn call_of(event: &SseEvent) -> i64 {
    event.data["call_id"].as_i64().unwrap()
}

fn id_of(event: &SseEvent) -> &str {
    event.id.as_deref().expect("every pop event has an id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_listener_gets_the_pops_still_ringing_that_it_has_not_seen() {
    let app = spawn_app(&[]).await;
    let udp = SipUdp::new(app.sip).await;
    let mut first = app.pops("201").await;

    // A call that rang and ended before the one that keeps ringing.
    let over = ring(&udp, "+12125550110").await;
    let over_pop = next(&mut first).await;
    cancel(&udp, &over).await;
    let over_withdraw = next(&mut first).await;
    assert_eq!(over_withdraw.event, "withdraw");

    let ringing = ring(&udp, "+12125550111").await;
    let pop = next(&mut first).await;
    assert_eq!(pop.event, "pop");
    let (pop_id, call) = (id_of(&pop).to_owned(), call_of(&pop));
    assert_ne!(call, call_of(&over_pop));
    drop(first);

    // From the start, or from an earlier event: the ringing pop is replayed
    // with its own id, the finished call is not.
    for earlier in ["0", id_of(&over_pop), id_of(&over_withdraw)] {
        let mut again = reconnect(&app, earlier).await;
        let replayed = next(&mut again).await;
        assert_eq!(replayed.event, "pop", "after {earlier}");
        assert_eq!(id_of(&replayed), pop_id, "after {earlier}");
        assert_eq!(call_of(&replayed), call, "after {earlier}");
        assert_eq!(replayed.data["pop"]["number_e164"], "+12125550111");
    }

    // Having seen it, a listener is not shown it twice: the next event is
    // the next call's.
    let mut seen = reconnect(&app, &pop_id).await;
    ring(&udp, "+12125550112").await;
    let later = next(&mut seen).await;
    assert_eq!(later.event, "pop");
    assert_eq!(later.data["pop"]["number_e164"], "+12125550112");
    let later_call = call_of(&later);

    // Once the first ringing call is cancelled (and withdrawn) it is not
    // replayed, even from the start; the call still ringing is.
    cancel(&udp, &ringing).await;
    let withdrawn = next(&mut seen).await;
    assert_eq!(
        (withdrawn.event.as_str(), call_of(&withdrawn)),
        ("withdraw", call)
    );
    drop(seen);
    let mut fresh = reconnect(&app, "0").await;
    ring(&udp, "+12125550113").await;
    let events = [next(&mut fresh).await, next(&mut fresh).await];
    let seen: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.event.as_str(), e.data["pop"]["number_e164"].as_str()))
        .collect();
    assert_eq!(
        seen,
        [("pop", Some("+12125550112")), ("pop", Some("+12125550113"))]
    );
    assert_eq!(call_of(&events[0]), later_call);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stream_follows_every_extension_it_names_and_no_other() {
    let app = spawn_app(&[]).await;
    let udp = SipUdp::new(app.sip).await;
    let url = app.url("/api/v1/pops?extension=201&extension=202");
    let mut both = PopStream::open(&app.client, &url, None).await;

    for (extension, from) in [
        ("203", "+12125550130"),
        ("201", "+12125550131"),
        ("202", "+12125550132"),
    ] {
        let invite = Request::new("INVITE", extension, from);
        let answers = udp.exchange(&invite, 180).await;
        assert_eq!(status(answers.last().unwrap()), 180, "{answers:?}");
    }

    let pops = both.collect(3, Duration::from_secs(3)).await;
    let rang: Vec<&str> = pops
        .iter()
        .filter(|e| e.event == "pop")
        .map(|e| e.data["pop"]["extension"].as_str().unwrap())
        .collect();
    assert_eq!(rang, ["201", "202"], "{pops:?}");
}
