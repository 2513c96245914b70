//! The SIP endpoint's state: the INVITE transactions it is in, what it last
//! answered to each (so a retransmission gets the same answer and no second
//! event), and counters of what it refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use super::message::{Message, ParseError, StartLine};
use super::{cancel, invite, malformed, other};
use crate::telephony::CallEvent;

/// How long a finished INVITE transaction is remembered, to absorb late
/// retransmissions and ACKs (64 × T1, RFC 3261 timer H).
const LINGER: Duration = Duration::from_secs(32);

/// A ringing INVITE older than this is forgotten even without a CANCEL; the
/// tracker closes its call on its own schedule.
const RING_LIMIT: Duration = Duration::from_secs(3 * 3600);

/// Where an answer goes: back to the datagram's source, or down the TCP
/// connection the request came on.
#[derive(Clone, Debug)]
pub enum Reply {
    Udp(Arc<UdpSocket>, SocketAddr),
    Tcp(mpsc::UnboundedSender<Vec<u8>>),
}

impl Reply {
    pub async fn send(&self, bytes: &[u8]) {
        match self {
            Reply::Udp(socket, peer) => {
                if let Err(e) = socket.send_to(bytes, peer).await {
                    debug!(%peer, error = %e, "failed to send sip reply");
                }
            }
            // A closed connection has nobody left to answer.
            Reply::Tcp(tx) => drop(tx.send(bytes.to_vec())),
        }
    }

    pub fn is_reliable(&self) -> bool {
        matches!(self, Reply::Tcp(_))
    }
}

/// Identifies an INVITE transaction, and the CANCEL and ACK that belong to
/// it: Call-ID and the top Via branch (RFC 3261 §17.2.3).
pub type TxKey = (String, String);

/// One INVITE transaction.
pub struct InviteTx {
    pub invite: Message,
    /// Where the INVITE came from: its final answer goes there, whoever
    /// sent the CANCEL.
    pub reply: Reply,
    pub extension: String,
    pub to_tag: String,
    pub started: Instant,
    /// The last answer sent to the INVITE: 180, then 487 once cancelled.
    pub last: Mutex<Vec<u8>>,
    /// Set when the INVITE got its final answer (487).
    pub done: Mutex<Option<Instant>>,
    /// Set when the caller acknowledged the final answer.
    pub acked: AtomicBool,
}

/// Counters shown on `/metrics`.
#[derive(Default)]
pub struct Counters {
    pub received: AtomicU64,
    pub refused: AtomicU64,
    pub malformed: AtomicU64,
    pub retransmissions: AtomicU64,
}

pub struct Endpoint {
    pub(super) link: String,
    trusted: Vec<IpNet>,
    pub(super) events: mpsc::Sender<CallEvent>,
    txs: Mutex<HashMap<TxKey, Arc<InviteTx>>>,
    tags: AtomicU64,
    pub counters: Counters,
}

impl Endpoint {
    pub fn new(link: &str, trusted: Vec<IpNet>, events: mpsc::Sender<CallEvent>) -> Endpoint {
        Endpoint {
            link: link.to_owned(),
            trusted,
            events,
            txs: Mutex::new(HashMap::new()),
            tags: AtomicU64::new(0),
            counters: Counters::default(),
        }
    }

    /// Handles one framed message from `peer`.
    pub async fn handle(&self, bytes: &[u8], peer: SocketAddr, reply: &Reply) {
        self.counters.received.fetch_add(1, Ordering::Relaxed);

        // An untrusted peer gets a 403 for a request that parses and
        // nothing at all otherwise: no echo of what it sent.
        let trusted = self.is_trusted(peer);
        let msg = match Message::parse(bytes) {
            Ok(msg) => msg,
            Err(_) if !trusted => return self.refused(peer, None, reply).await,
            Err(e) => return self.refuse(bytes, &e, peer, reply).await,
        };
        let StartLine::Request { method, .. } = &msg.start else {
            debug!(%peer, "sip response ignored");
            return;
        };
        if !trusted {
            return self.refused(peer, Some(&msg), reply).await;
        }

        match method.as_str() {
            "INVITE" => invite::handle(self, msg, reply).await,
            "CANCEL" => cancel::handle(self, &msg, reply).await,
            "ACK" => self.acked(&msg),
            _ => other::handle(&msg, reply).await,
        }
    }

    /// Handles the bytes a stream could not frame, refused for `error` even
    /// where they would parse as a datagram: without a trustworthy
    /// Content-Length the end of the message is a guess.
    pub async fn handle_unframed(
        &self,
        bytes: &[u8],
        error: &ParseError,
        peer: SocketAddr,
        reply: &Reply,
    ) {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        match self.is_trusted(peer) {
            true => self.refuse(bytes, error, peer, reply).await,
            false => self.refused(peer, None, reply).await,
        }
    }

    async fn refused(&self, peer: SocketAddr, msg: Option<&Message>, reply: &Reply) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        debug!(%peer, method = ?msg.and_then(|m| m.method()), "sip from an untrusted peer refused");
        if let Some(msg) = msg.filter(|m| m.method() != Some("ACK")) {
            reply.send(&other::forbidden(msg)).await;
        }
    }

    /// Answers what is not a message: 400 or 505 when a reply can be
    /// addressed, else nothing.
    async fn refuse(&self, bytes: &[u8], error: &ParseError, peer: SocketAddr, reply: &Reply) {
        self.counters.malformed.fetch_add(1, Ordering::Relaxed);
        debug!(%peer, %error, "malformed sip message");
        if let Some(answer) = malformed::answer(bytes, error) {
            reply.send(&answer).await;
        }
    }

    pub fn is_trusted(&self, peer: SocketAddr) -> bool {
        let ip = peer.ip().to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The transaction a request belongs to.
    pub(super) fn key(msg: &Message) -> Option<TxKey> {
        let call_id = msg.call_id()?;
        let branch = msg.top_via_branch()?;
        Some((call_id.to_owned(), branch.to_owned()))
    }

    pub(super) fn find(&self, key: &TxKey) -> Option<Arc<InviteTx>> {
        self.txs().get(key).cloned()
    }

    /// Remembers a new transaction; `None` if one with that key exists.
    pub(super) fn insert(&self, key: TxKey, tx: InviteTx) -> Option<Arc<InviteTx>> {
        let mut txs = self.txs();
        if txs.contains_key(&key) {
            return None;
        }
        let tx = Arc::new(tx);
        txs.insert(key, tx.clone());
        Some(tx)
    }

    /// A fresh To tag for a new transaction.
    pub(super) fn new_tag(&self) -> String {
        let n = self.tags.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        format!("cp{nanos:08x}{n:x}")
    }

    /// An ACK ends the retransmission of a final answer; it is otherwise
    /// absorbed, since callpop never answers a call.
    fn acked(&self, msg: &Message) {
        if let Some(tx) = Endpoint::key(msg).and_then(|k| self.find(&k)) {
            tx.acked.store(true, Ordering::Relaxed);
        }
    }

    /// Forgets transactions that can no longer get a retransmission.
    pub fn sweep(&self, now: Instant) {
        self.txs().retain(|_, tx| {
            let done = *tx.done.lock().unwrap_or_else(|e| e.into_inner());
            match done {
                Some(at) => now.duration_since(at) < LINGER,
                None => now.duration_since(tx.started) < RING_LIMIT,
            }
        });
    }

    /// Transactions remembered now.
    pub fn transactions(&self) -> usize {
        self.txs().len()
    }

    fn txs(&self) -> std::sync::MutexGuard<'_, HashMap<TxKey, Arc<InviteTx>>> {
        // Every change to the map is a single insert or retain, so a poisoned
        // lock still guards a whole map.
        self.txs.lock().unwrap_or_else(|e| e.into_inner())
    }
}
