//! CANCEL: the ringing stops. The CANCEL gets 200 and the INVITE 487. Its
//! Reason says why: "completed elsewhere" (SIP cause 200, Q.850 cause 26)
//! means the rep's phone beside this endpoint answered; otherwise the
//! caller gave up.
//!
//! FIXME(sip-fork): when a PBX forks one Call-ID to the endpoints of several
//! extensions, "completed elsewhere" reaches every leg that did not answer,
//! and SIP alone cannot tell which rep picked up: each leg is reported as
//! answered at its own extension. The Asterisk link, which sees the answer,
//! is the one to use for queues and ring groups.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tracing::{debug, warn};

use super::endpoint::{Endpoint, InviteTx, Reply};
use super::identity::{self, CancelReason};
use super::message::{response, Message};
use crate::telephony::{CallEvent, EventKind};

pub async fn handle(endpoint: &Endpoint, cancel: &Message, reply: &Reply) {
    let Some(tx) = Endpoint::key(cancel).and_then(|key| endpoint.find(&key)) else {
        let answer = response(cancel, 481, "Call/Transaction Does Not Exist", None, &[]);
        return reply.send(&answer).await;
    };
    let ok = response(cancel, 200, "OK", Some(&tx.to_tag), &[]);
    reply.send(&ok).await;

    // Only the first CANCEL ends the INVITE; a repeat just gets its 200.
    {
        let mut done = tx.done.lock().unwrap_or_else(|e| e.into_inner());
        if done.is_some() {
            debug!(call_id = ?cancel.call_id(), "cancel retransmission answered again");
            return;
        }
        *done = Some(Instant::now());
    }
    let terminated = response(&tx.invite, 487, "Request Terminated", Some(&tx.to_tag), &[]);
    *tx.last.lock().unwrap_or_else(|e| e.into_inner()) = terminated.clone();
    tx.reply.send(&terminated).await;
    if !tx.reply.is_reliable() {
        tokio::spawn(retransmit(tx.clone(), tx.reply.clone(), terminated));
    }

    report(endpoint, &tx, cancel).await;
}

/// Tells the tracker how the ringing ended.
async fn report(endpoint: &Endpoint, tx: &InviteTx, cancel: &Message) {
    let extension = tx.extension.clone();
    let kinds = match identity::cancel_reason(cancel) {
        CancelReason::CompletedElsewhere => {
            vec![
                EventKind::Answered { extension },
                EventKind::Ended { abandoned: false },
            ]
        }
        CancelReason::Other => vec![EventKind::Ended { abandoned: true }],
    };
    let call_id = cancel.call_id().unwrap_or_default().to_owned();
    for kind in kinds {
        let at = Utc::now();
        let event = CallEvent {
            link: endpoint.link.clone(),
            pbx_call_id: call_id.clone(),
            at,
            kind,
        };
        if endpoint.events.send(event).await.is_err() {
            warn!(call_id = %call_id, "call tracker is gone, end of call not recorded");
            return;
        }
    }
}

/// Over UDP the 487 is sent again, at growing intervals, until the caller
/// ACKs it or 32 seconds pass (RFC 3261 timers G and H).
async fn retransmit(tx: Arc<InviteTx>, reply: Reply, answer: Vec<u8>) {
    let mut wait = Duration::from_millis(500);
    let mut waited = Duration::ZERO;
    while waited < Duration::from_secs(32) {
        tokio::time::sleep(wait).await;
        if tx.acked.load(Ordering::Relaxed) {
            return;
        }
        reply.send(&answer).await;
        waited += wait;
        wait = (wait * 2).min(Duration::from_secs(4));
    }
}
