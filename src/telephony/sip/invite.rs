//! INVITE: the PBX rings this endpoint. It gets 100 Trying and 180 Ringing
//! and is never answered; the call's ringing is reported to the tracker.
//! A retransmitted INVITE gets the last answer again and no new event.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

use chrono::Utc;
use tracing::{debug, warn};

use super::endpoint::{Endpoint, InviteTx, Reply};
use super::identity;
use super::message::{response, Message};
use crate::telephony::{CallEvent, Direction, EventKind, Party};

pub async fn handle(endpoint: &Endpoint, invite: Message, reply: &Reply) {
    let Some(key) = Endpoint::key(&invite) else {
        // The parser insists on Call-ID and Via; a Via without a branch is an
        // RFC 2543 client, which this endpoint does not track.
        let answer = response(&invite, 400, "Missing Via Branch", None, &[]);
        return reply.send(&answer).await;
    };

    // A retransmission: the same answer, nothing new for the tracker.
    if let Some(tx) = endpoint.find(&key) {
        endpoint
            .counters
            .retransmissions
            .fetch_add(1, Ordering::Relaxed);
        let last = tx.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        debug!(call_id = %key.0, "invite retransmission answered again");
        return reply.send(&last).await;
    }

    let Some(extension) = identity::called_extension(&invite) else {
        let answer = response(&invite, 404, "Not Found", None, &[]);
        return reply.send(&answer).await;
    };

    // Answer first, so the PBX sees the endpoint ringing at once.
    let to_tag = endpoint.new_tag();
    let trying = response(&invite, 100, "Trying", None, &[]);
    let ringing = response(&invite, 180, "Ringing", Some(&to_tag), &[]);
    reply.send(&trying).await;
    reply.send(&ringing).await;

    let caller = identity::caller(&invite, true);
    let tx = InviteTx {
        invite,
        reply: reply.clone(),
        extension: extension.clone(),
        to_tag,
        started: Instant::now(),
        last: Mutex::new(ringing),
        done: Mutex::new(None),
        acked: Default::default(),
    };
    if endpoint.insert(key.clone(), tx).is_none() {
        // Another copy of the INVITE raced this one in; it reports the call.
        return;
    }

    let remote = Party {
        number: caller.number,
        name: caller.name,
        withheld: caller.withheld,
    };
    let kind = EventKind::Ringing {
        direction: Direction::Inbound,
        extension,
        remote,
    };
    let event = CallEvent {
        link: endpoint.link.clone(),
        pbx_call_id: key.0,
        at: Utc::now(),
        kind,
    };
    if endpoint.events.send(event).await.is_err() {
        warn!("call tracker is gone, ringing call not recorded");
    }
}
