//! A tiny SIP caller for trying callpop out: `callpop call` sends a real
//! INVITE to a running daemon, waits for it to ring, then cancels it, as a
//! PBX does when the caller hangs up or another phone answers.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::UdpSocket;
use tokio::time::{timeout, Instant};

use super::message::{Message, StartLine};

/// What `callpop call` was asked to do.
#[derive(Clone, Debug)]
pub struct TrialCall {
    pub to: String,
    pub from: String,
    pub name: Option<String>,
    pub sip: SocketAddr,
    pub cancel_after: Duration,
    /// Cancel with "Call completed elsewhere", as when the rep's phone answers.
    pub answered: bool,
}

/// Places the call and reports each step on standard output.
pub async fn place(call: &TrialCall) -> anyhow::Result<()> {
    let bind: SocketAddr = if call.sip.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    }
    .parse()?;
    let socket = UdpSocket::bind(bind)
        .await
        .context("failed to open a udp socket")?;
    socket
        .connect(call.sip)
        .await
        .with_context(|| format!("failed to reach {}", call.sip))?;
    let local = socket.local_addr()?;

    let ids = Ids::new();
    let invite = invite(call, local, &ids);
    send_until(&socket, invite.as_bytes(), |m| {
        code(m).is_some_and(|c| c >= 180)
    })
    .await
    .with_context(|| format!("no answer from {} (is `callpop serve` running?)", call.sip))?;
    println!("ringing at {} (call id {})", call.to, ids.call_id);

    tokio::time::sleep(call.cancel_after).await;
    let cancel = cancel(call, local, &ids);
    let terminated = send_until(&socket, cancel.as_bytes(), |m| code(m) == Some(487))
        .await
        .context("the cancelled call was not terminated")?;
    let ack = ack(
        call,
        local,
        &ids,
        terminated.header("to").unwrap_or_default(),
    );
    socket.send(ack.as_bytes()).await?;

    let how = if call.answered {
        "answered at the rep's phone"
    } else {
        "caller gave up"
    };
    println!("cancelled after {:?} ({how})", call.cancel_after);
    Ok(())
}

/// Sends `request`, retransmitting on UDP's schedule, until an answer
/// that `done` accepts arrives (other answers are read and skipped).
async fn send_until(
    socket: &UdpSocket,
    request: &[u8],
    done: impl Fn(&Message) -> bool,
) -> anyhow::Result<Message> {
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut wait = Duration::from_millis(500);
    let mut buf = vec![0u8; 65_535];
    socket.send(request).await?;
    while Instant::now() < deadline {
        match timeout(wait, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => match Message::parse(&buf[..n]) {
                Ok(msg) if done(&msg) => return Ok(msg),
                Ok(msg) if code(&msg).is_some_and(|c| c >= 300 && c != 487) => {
                    bail!("refused with {}", status_line(&msg))
                }
                _ => {}
            },
            Ok(Err(e)) => return Err(e).context("failed to receive"),
            Err(_) => {
                socket.send(request).await?;
                wait = (wait * 2).min(Duration::from_secs(4));
            }
        }
    }
    bail!("timed out")
}

struct Ids {
    call_id: String,
    branch: String,
    tag: String,
}

impl Ids {
    fn new() -> Ids {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let pid = std::process::id();
        Ids {
            call_id: format!("{n:x}-{pid}@callpop.invalid"),
            branch: format!("z9hG4bK{n:x}{pid:x}"),
            tag: format!("{:x}", n ^ u128::from(pid)),
        }
    }
}

fn invite(call: &TrialCall, local: SocketAddr, ids: &Ids) -> String {
    let name = call
        .name
        .as_deref()
        .map(|n| format!("\"{}\" ", quote(n)))
        .unwrap_or_default();
    let contact = format!("<sip:{}@{local}>", call.from);
    request(
        "INVITE",
        call,
        local,
        ids,
        &format!("{name}<sip:{}@{local}>", call.from),
        &[("Contact", contact.as_str())],
    )
}

fn cancel(call: &TrialCall, local: SocketAddr, ids: &Ids) -> String {
    let from = format!("<sip:{}@{local}>", call.from);
    let reason = [("Reason", "SIP;cause=200;text=\"Call completed elsewhere\"")];
    let extra: &[(&str, &str)] = if call.answered { &reason } else { &[] };
    request("CANCEL", call, local, ids, &from, extra)
}

fn ack(call: &TrialCall, local: SocketAddr, ids: &Ids, to: &str) -> String {
    let from = format!("<sip:{}@{local}>", call.from);
    request("ACK", call, local, ids, &from, &[]).replacen(&to_header(call), &format!("To: {to}"), 1)
}

/// A request of the one INVITE transaction: CANCEL and ACK share the
/// INVITE's branch and CSeq number (RFC 3261 §9.1, §17.1.1.3).
fn request(
    method: &str,
    call: &TrialCall,
    local: SocketAddr,
    ids: &Ids,
    from: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut out = format!("{method} sip:{}@{} SIP/2.0\r\n", call.to, call.sip);
    out += &format!("Via: SIP/2.0/UDP {local};branch={}\r\n", ids.branch);
    out += "Max-Forwards: 70\r\n";
    out += &format!("From: {from};tag={}\r\n", ids.tag);
    out += &to_header(call);
    out += &format!("Call-ID: {}\r\n", ids.call_id);
    out += &format!("CSeq: 1 {method}\r\n");
    for (name, value) in extra {
        out += &format!("{name}: {value}\r\n");
    }
    out += "User-Agent: callpop call\r\nContent-Length: 0\r\n\r\n";
    out
}

fn to_header(call: &TrialCall) -> String {
    format!("To: <sip:{}@{}>\r\n", call.to, call.sip)
}

fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn code(msg: &Message) -> Option<u16> {
    match &msg.start {
        StartLine::Response { code, .. } => Some(*code),
        StartLine::Request { .. } => None,
    }
}

fn status_line(msg: &Message) -> String {
    match &msg.start {
        StartLine::Response { code, reason, .. } => format!("{code} {reason}"),
        StartLine::Request { method, .. } => method.clone(),
    }
}
