//! The SIP listener's answers to everything but a plain ringing call, sent
//! over raw sockets: other methods, stray and repeated CANCELs, malformed
//! and hostile messages (RFC 4475), TCP framing, and untrusted peers.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{eventually, fixture, header, spawn_app, status, Request, SipUdp, TestApp};

const WAIT: Duration = Duration::from_secs(10);

/// The methods callpop takes, as every refusal lists them.
const ALLOW: [&str; 5] = ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"];

fn assert_allow(answer: &str) {
    let allow = header(answer, "allow").unwrap_or_else(|| panic!("no Allow in {answer}"));
    let listed: HashSet<&str> = allow.split(',').map(str::trim).collect();
    assert_eq!(listed, HashSet::from(ALLOW), "{answer}");
}

/// Rings 201 from a raw socket and waits until the call is recorded. The
/// tracker takes events in order, so every message handled before this one
/// has been applied by the time it returns.
async fn sentinel_call(app: &TestApp, udp: &SipUdp) -> Request {
    let invite = Request::new("INVITE", "201", "+15550177");
    let answers = udp.exchange(&invite, 180).await;
    assert_eq!(status(answers.last().unwrap()), 180, "{answers:?}");
    let recorded = eventually(WAIT, async || {
        let calls = app.calls().await;
        calls
            .iter()
            .any(|c| c["pbx_call_id"] == invite.call_id.as_str())
            .then_some(())
    })
    .await;
    assert!(recorded.is_some(), "the sentinel call is recorded");
    invite
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_get_200_405_or_501_with_allow_and_make_no_call() {
    let app = spawn_app(&[]).await;
    let udp = SipUdp::new(app.sip).await;

    let options = udp
        .exchange(&Request::new("OPTIONS", "201", "+15550100"), 200)
        .await;
    assert_eq!(options.len(), 1, "{options:?}");
    assert_eq!(status(&options[0]), 200);
    assert_allow(&options[0]);

    for method in ["REGISTER", "SUBSCRIBE", "NOTIFY"] {
        let request = Request::new(method, "201", "+15550100");
        let answers = udp.exchange(&request, 200).await;
        assert_eq!(answers.len(), 1, "{method}: {answers:?}");
        assert_eq!(status(&answers[0]), 405, "{method}");
        assert_eq!(
            header(&answers[0], "call-id"),
            Some(request.call_id.as_str())
        );
        assert_eq!(header(&answers[0], "cseq"), Some(&*format!("1 {method}")));
        assert_allow(&answers[0]);
    }

    // RFC 4475 §3.1.1.2: a legal but unknown method.
    udp.send(&std::fs::read(fixture("rfc4475/intmeth.dat")).unwrap())
        .await;
    let unknown = udp.answer().await;
    assert_eq!(status(&unknown), 501, "{unknown}");
    assert_eq!(
        header(&unknown, "call-id"),
        Some(r#"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#)
    );
    assert_allow(&unknown);

    let bye = udp
        .exchange(&Request::new("BYE", "201", "+15550100"), 200)
        .await;
    assert_eq!((bye.len(), status(&bye[0])), (1, 200), "{bye:?}");

    // A CANCEL for a transaction callpop never saw.
    let stray = Request::new("INVITE", "201", "+15550100").cancel();
    let answers = udp.exchange(&stray, 200).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(status(&answers[0]), 481);

    let sentinel = sentinel_call(&app, &udp).await;
    let calls = app.calls().await;
    assert_eq!(calls.len(), 1, "only the sentinel rang: {calls:#?}");
    assert_eq!(calls[0]["pbx_call_id"], sentinel.call_id.as_str());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400_or_505_and_garbage_gets_nothing() {
    let app = spawn_app(&[]).await;
    let udp = SipUdp::new(app.sip).await;

    // insuf has no From, To or Call-ID; badinv01 has empty list elements;
    // badvers speaks SIP/7.0 (RFC 4475 §3.3.1, §3.1.2.1, §3.1.2.16).
    let cases = [
        ("insuf", 400, None, "193942 INVITE"),
        (
            "badinv01",
            400,
            Some("badinv01.0ha0isndaksdjasdf3234nas"),
            "8 INVITE",
        ),
        (
            "badvers",
            505,
            Some("badvers.31417@c.example.com"),
            "1 OPTIONS",
        ),
    ];
    for (name, code, call_id, cseq) in cases {
        let bytes = std::fs::read(fixture(&format!("rfc4475/{name}.dat"))).unwrap();
        udp.send(&bytes).await;
        let answer = udp.answer().await;
        assert_eq!(status(&answer), code, "{name}: {answer}");
        assert_eq!(header(&answer, "call-id"), call_id, "{name}: {answer}");
        assert_eq!(header(&answer, "cseq"), Some(cseq), "{name}: {answer}");
        assert!(header(&answer, "via").is_some(), "{name}: {answer}");
    }

    // Bytes that are no SIP at all get no answer: the next datagram back
    // is the answer to the OPTIONS sent after them.
    let garbage: Vec<u8> = (0..512u32).map(|i| (i * 7919 % 251) as u8).collect();
    udp.send(&garbage).await;
    udp.send(b"\x00\x01\x02 not sip at all\r\n\r\n").await;
    let options = Request::new("OPTIONS", "201", "+15550100");
    let answers = udp.exchange(&options, 200).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(
        header(&answers[0], "call-id"),
        Some(options.call_id.as_str())
    );

    let sentinel = sentinel_call(&app, &udp).await;
    let calls = app.calls().await;
    assert_eq!(
        calls.len(),
        1,
        "no call from a malformed INVITE: {calls:#?}"
    );
    assert_eq!(calls[0]["pbx_call_id"], sentinel.call_id.as_str());
    app.stop().await;
}

/// An RFC 4475 message and what `SUMMARY.md` says must become of it.
struct Torture {
    name: String,
    bytes: Vec<u8>,
    must_reject: bool,
}

impl Torture {
    fn is_response(&self) -> bool {
        self.bytes.starts_with(b"SIP/")
    }
}

/// Every message of the RFC 4475 fixtures, classed by the "Must" column
/// of its row in `SUMMARY.md`.
fn torture_messages() -> Vec<Torture> {
    let summary = std::fs::read_to_string(fixture("rfc4475/SUMMARY.md")).unwrap();
    let mut messages = Vec::new();
    for row in summary.lines().filter(|l| l.starts_with("| 3.")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (name, must) = (cells[2], cells[4]);
        let path = fixture(&format!("rfc4475/{name}.dat"));
        messages.push(Torture {
            name: name.to_owned(),
            bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{name}.dat: {e}")),
            must_reject: must.starts_with("REJECT"),
        });
    }
    let files = std::fs::read_dir(fixture("rfc4475")).unwrap();
    let is_dat = |path: std::path::PathBuf| path.extension().is_some_and(|e| e == "dat");
    let dat = files.filter(|f| is_dat(f.as_ref().unwrap().path())).count();
    assert_eq!((messages.len(), dat), (49, 49), "one row per message");
    let rejected = messages.iter().filter(|m| m.must_reject).count();
    assert_eq!(rejected, 16, "SUMMARY.md's must-reject rows");
    messages
}

/// The INVITEs RFC 4475 says to accept (or that callpop accepts where it
/// may choose), which must each ring. inv2543 and longreq are accepted by
/// the parser but not among them: their top Via has no branch, and the
/// endpoint answers such RFC 2543 clients 400 rather than track them.
const RINGING: [&str; 7] = [
    "wsinv", "esc01", "invut", "sdp01", "baddate", "lwsstart", "escruri",
];

/// What the torture left behind: the daemon still answers, the accepted
/// INVITEs rang, and nothing that must be rejected made a call.
async fn check_after_torture(app: &TestApp, messages: &[Torture], extra_rejected: &[&str]) {
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let udp = SipUdp::new(app.sip).await;
    sentinel_call(app, &udp).await;
    let calls = app.calls().await;
    let call_ids: Vec<&str> = calls
        .iter()
        .map(|c| c["pbx_call_id"].as_str().unwrap())
        .collect();
    for message in messages.iter().filter(|m| m.must_reject) {
        let prefix = format!("{}.", message.name);
        let made = call_ids.iter().find(|id| id.starts_with(&prefix));
        assert!(
            made.is_none(),
            "{} must make no call: {made:?}",
            message.name
        );
    }
    for id in extra_rejected {
        assert!(!call_ids.contains(id), "{id} must make no call");
    }
    for name in RINGING {
        let prefix = format!("{name}.");
        let rang = call_ids.iter().filter(|id| id.starts_with(&prefix)).count();
        assert_eq!(rang, 1, "{name} rings once: {call_ids:?}");
    }
}

/// The SIP responses in `text`, cut at the empty line each ends with
/// (callpop's answers have no body).
fn responses(text: &str) -> Vec<String> {
    let parts = text.split_inclusive("\r\n\r\n");
    parts
        .filter(|p| !p.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rfc4475_message_over_udp_is_survived_and_rejects_make_no_call() {
    let app = spawn_app(&[]).await;
    let udp = SipUdp::new(app.sip).await;
    let messages = torture_messages();

    for message in &messages {
        // The OPTIONS sent after each message proves the listener still
        // answers; what came back before its answer is for the message.
        udp.send(&message.bytes).await;
        let probe = Request::new("OPTIONS", "201", "+15550100");
        udp.send(&probe.bytes()).await;
        let mut answers = Vec::new();
        loop {
            let answer = udp
                .recv(WAIT)
                .await
                .unwrap_or_else(|| panic!("no answer to an OPTIONS after {}", message.name));
            if header(&answer, "call-id") == Some(probe.call_id.as_str()) {
                break;
            }
            answers.push(answer);
        }

        let codes: Vec<u16> = answers.iter().map(|a| status(a)).collect();
        if message.is_response() {
            assert!(
                codes.is_empty(),
                "{}: a response is not answered",
                message.name
            );
        } else if message.must_reject {
            let code = if message.name == "badvers" { 505 } else { 400 };
            assert_eq!(codes, [code], "{}: {answers:?}", message.name);
        }
    }

    // dblreq's second message is octets past the first one's end: ignored.
    let dblreq_invite = "dblreq.0ha0isnda977644900765@192.0.2.15";
    check_after_torture(&app, &messages, &[dblreq_invite]).await;
    app.stop().await;
}

/// Writes `bytes` on a new TCP connection, closes the sending side, and
/// reads what comes back until the daemon closes too.
async fn tcp_exchange(sip: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(sip).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut back))
        .await
        .expect("the daemon closes the connection after the peer does")
        .unwrap();
    String::from_utf8_lossy(&back).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rfc4475_message_over_tcp_is_survived_and_rejects_make_no_call() {
    let app = spawn_app(&[]).await;
    let messages = torture_messages();

    for message in &messages {
        let answers = responses(&tcp_exchange(app.sip, &message.bytes).await);
        let codes: Vec<u16> = answers.iter().map(|a| status(a)).collect();
        if message.is_response() {
            assert!(
                codes.is_empty(),
                "{}: a response is not answered",
                message.name
            );
        } else if message.name == "clerr" {
            // On a stream a Content-Length past the end means "wait": the
            // body never comes, the peer closes, nothing is answered.
            assert!(codes.is_empty(), "clerr: {answers:?}");
        } else if message.must_reject {
            let code = if message.name == "badvers" { 505 } else { 400 };
            assert_eq!(codes, [code], "{}: {answers:?}", message.name);
        }

        let probe = Request::new("OPTIONS", "201", "+15550100");
        let answers = responses(&tcp_exchange(app.sip, &probe.bytes()).await);
        assert_eq!(answers.len(), 1, "after {}: {answers:?}", message.name);
        assert_eq!(status(&answers[0]), 200, "after {}", message.name);
    }

    check_after_torture(&app, &messages, &[]).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_messages_are_framed_however_the_bytes_arrive() {
    let app = spawn_app(&[]).await;
    let mut stream = TcpStream::connect(app.sip).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut read = String::new();

    // Two messages in one write.
    let (a, b) = (options(), options());
    stream
        .write_all(&[a.bytes(), b.bytes()].concat())
        .await
        .unwrap();
    let answers = read_responses(&mut stream, &mut read, 2).await;
    assert_eq!(call_ids(&answers), [a.call_id, b.call_id]);

    // One message, one byte per write.
    let c = options();
    for byte in c.bytes() {
        stream.write_all(&[byte]).await.unwrap();
        stream.flush().await.unwrap();
    }
    let answers = read_responses(&mut stream, &mut read, 1).await;
    assert_eq!(call_ids(&answers), [c.call_id]);

    // CRLF keep-alives before, between and after messages (RFC 5626 §4.4.1).
    let (d, e) = (options(), options());
    let bytes = [
        b"\r\n\r\n".to_vec(),
        d.bytes(),
        b"\r\n\r\n\r\n".to_vec(),
        e.bytes(),
        b"\r\n\r\n".to_vec(),
    ];
    stream.write_all(&bytes.concat()).await.unwrap();
    let answers = read_responses(&mut stream, &mut read, 2).await;
    assert_eq!(call_ids(&answers), [d.call_id, e.call_id]);

    // The connection is still good for a call.
    let invite = Request::new("INVITE", "201", "+15550100");
    stream.write_all(&invite.bytes()).await.unwrap();
    let answers = read_responses(&mut stream, &mut read, 2).await;
    let codes: Vec<u16> = answers.iter().map(|a| status(a)).collect();
    assert_eq!(codes, [100, 180]);
    app.stop().await;
}

/// RFC 3261 §18.3: on a stream, Content-Length is what frames a message.
/// Without it the end of the message cannot be known, so the request is
/// refused with 400 and the connection closed, never guessed at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_request_without_content_length_is_refused_and_rings_nothing() {
    let app = spawn_app(&[]).await;
    let invite = Request::new("INVITE", "201", "+15550100");
    let bytes = String::from_utf8(invite.bytes()).unwrap();
    let unframed = bytes.replace("Content-Length: 0\r\n", "");
    assert_ne!(unframed, bytes);

    let answers = responses(&tcp_exchange(app.sip, unframed.as_bytes()).await);
    let codes: Vec<u16> = answers.iter().map(|a| status(a)).collect();
    assert_eq!(codes, [400], "{answers:?}");
    assert_eq!(
        header(&answers[0], "call-id"),
        Some(invite.call_id.as_str())
    );

    let udp = SipUdp::new(app.sip).await;
    let sentinel = sentinel_call(&app, &udp).await;
    let calls = app.calls().await;
    assert_eq!(calls.len(), 1, "only the sentinel rang: {calls:#?}");
    assert_eq!(calls[0]["pbx_call_id"], sentinel.call_id.as_str());
    app.stop().await;
}

fn options() -> Request {
    Request::new("OPTIONS", "201", "+15550100")
}

/// The Call-ID of each answer, which must each be a 200.
fn call_ids(answers: &[String]) -> Vec<String> {
    let id = |a: &String| {
        assert_eq!(status(a), 200, "{a}");
        header(a, "call-id").unwrap().to_owned()
    };
    answers.iter().map(id).collect()
}

/// The next `n` answers on a TCP connection; `buf` keeps what was read
/// past them.
async fn read_responses(stream: &mut TcpStream, buf: &mut String, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while out.len() < n {
            let Some(end) = buf.find("\r\n\r\n") else {
                break;
            };
            let answer: String = buf.drain(..end + 4).collect();
            out.push(answer);
        }
        if out.len() == n {
            return out;
        }
        let read = tokio::time::timeout(WAIT, stream.read(&mut chunk)).await;
        let got = read.expect("answers within the wait").unwrap();
        assert!(got > 0, "connection closed with {buf:?}");
        buf.push_str(&String::from_utf8_lossy(&chunk[..got]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_cancel_gets_200_again_and_changes_nothing() {
    let app = spawn_app(&[]).await;
    let mut pops = app.pops("201").await;
    let udp = SipUdp::new(app.sip).await;

    let invite = Request::new("INVITE", "201", "+15550100");
    let ringing = udp.exchange(&invite, 180).await;
    let to_tag = header(ringing.last().unwrap(), "to").unwrap().to_owned();
    assert_eq!(pops.next(WAIT).await.unwrap().event, "pop");

    // The first CANCEL ends the ringing: 200 for it, 487 for the INVITE.
    let cancel = invite.cancel();
    udp.send(&cancel.bytes()).await;
    let (first, terminated) = cancel_answers(&udp).await;
    assert_eq!(header(&first, "to"), Some(to_tag.as_str()));
    udp.send(&invite.ack(&terminated).bytes()).await;
    let withdraw = pops.next(WAIT).await.unwrap();
    assert_eq!(withdraw.event, "withdraw");
    let id = withdraw.data["call_id"].as_i64().unwrap();
    let ended = app.api(&format!("/api/v1/calls/{id}")).await;
    assert_eq!(ended["outcome"], "abandoned");

    // The same CANCEL again: the same 200, and no news for anyone.
    udp.send(&cancel.bytes()).await;
    let again = udp.answer().await;
    assert_eq!(status(&again), 200, "{again}");
    assert_eq!(header(&again, "cseq"), Some("1 CANCEL"));
    assert_eq!(header(&again, "to"), Some(to_tag.as_str()));

    // The next pop event is the next call's, not a second withdraw.
    let sentinel = sentinel_call(&app, &udp).await;
    let next = pops.next(WAIT).await.unwrap();
    assert_eq!(next.event, "pop", "{next:?}");
    assert_ne!(next.data["call_id"], id);
    let calls = app.calls().await;
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[0]["pbx_call_id"], sentinel.call_id.as_str());
    let unchanged = app.api(&format!("/api/v1/calls/{id}")).await;
    assert_eq!(unchanged, ended);
    app.stop().await;
}

/// The CANCEL's 200 and the INVITE's 487, in whichever order they come.
async fn cancel_answers(udp: &SipUdp) -> (String, String) {
    let (mut ok, mut terminated) = (None, None);
    while ok.is_none() || terminated.is_none() {
        let answer = udp.answer().await;
        match (status(&answer), header(&answer, "cseq")) {
            (200, Some("1 CANCEL")) => ok = Some(answer),
            (487, Some("1 INVITE")) => terminated = Some(answer),
            _ => panic!("unexpected answer to a CANCEL: {answer}"),
        }
    }
    (ok.unwrap(), terminated.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_peer_is_refused_and_rings_nothing() {
    let app = spawn_app(&[("CALLPOP_SIP__TRUSTED_PEERS", "10.0.0.0/8")]).await;
    let mut pops = app.pops("201").await;
    let udp = SipUdp::new(app.sip).await;
    assert_eq!(refused(&app).await, 0);

    let invite = Request::new("INVITE", "201", "+15550100");
    udp.send(&invite.bytes()).await;
    let answer = udp.answer().await;
    assert_eq!(status(&answer), 403, "{answer}");
    assert_eq!(header(&answer, "call-id"), Some(invite.call_id.as_str()));

    // No 100 or 180 follows: the next answer is the OPTIONS's, refused too.
    let options = Request::new("OPTIONS", "201", "+15550100");
    udp.send(&options.bytes()).await;
    let answer = udp.answer().await;
    assert_eq!(header(&answer, "call-id"), Some(options.call_id.as_str()));
    assert_eq!(status(&answer), 403);

    assert_eq!(refused(&app).await, 2);
    let popped = pops.next(Duration::from_millis(500)).await;
    assert!(popped.is_none(), "no pop: {popped:?}");
    assert_eq!(app.calls().await, Vec::<Value>::new());
    app.stop().await;
}

/// `callpop_sip_messages_total{kind="refused"}` from `/metrics`.
async fn refused(app: &TestApp) -> u64 {
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("callpop_sip_messages_total{kind=\"refused\"} "))
        .unwrap_or_else(|| panic!("no refused counter in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// The INVITE's final answer goes to whoever sent the INVITE, even when the
/// CANCEL comes from elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_487_goes_to_the_invites_sender_not_the_cancels() {
    let app = spawn_app(&[]).await;
    let inviter = SipUdp::new(app.sip).await;
    let canceller = SipUdp::new(app.sip).await;
    let invite = Request::new("INVITE", "201", "+15550100");
    let ringing = inviter.exchange(&invite, 180).await;
    assert_eq!(status(ringing.last().unwrap()), 180);

    let ok = canceller.exchange(&invite.cancel(), 200).await;
    assert_eq!(status(&ok[0]), 200);
    assert_eq!(status(&inviter.answer().await), 487);
    assert_eq!(
        canceller.recv(Duration::from_millis(700)).await,
        None,
        "no 487 to the canceller"
    );
    app.stop().await;
}
