//! Pops as server-sent events: `pop`, `answered` and `withdraw`, each with
//! the hub's sequence number as its id, so a client that reconnects with
//! `Last-Event-ID` gets the pops it missed that are still showing.
//!
//! Every stream opens with a `snapshot` (no id) naming the calls showing
//! then at its extensions: a client that reconnects closes what it shows
//! that is not in it, such as a call that ended while it was away or
//! before the daemon restarted.
//!
//! A stream ends when the hub closes, or when the caller's `until` says so
//! (its credential lapsed); the client then reconnects and is told why.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tracing::warn;

use serde::{Deserialize, Serialize};

use super::hub::{EventKind, Hub, PopEvent};

/// The data of the `snapshot` event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The calls showing, oldest first.
    pub calls: Vec<Showing>,
}

/// A call showing at an extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Showing {
    pub extension: String,
    pub call_id: i64,
    /// Answered at this extension: the pop stays until the call ends.
    pub answered: bool,
}

/// The stream of some extensions, or of every extension with `None`, until
/// the hub closes or `until` completes.
pub fn stream(
    hub: &Hub,
    extensions: Option<Vec<String>>,
    last_event_id: Option<u64>,
    until: impl Future<Output = ()> + Send + 'static,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let wanted = move |event: &PopEvent| {
        extensions
            .as_ref()
            .is_none_or(|xs| xs.contains(&event.extension))
    };
    let sub = hub.subscribe(None, last_event_id);
    let snapshot = snapshot(sub.showing.iter().filter(|e| wanted(e)));
    let missed: Vec<_> = sub.missed.into_iter().filter(|e| wanted(e)).collect();
    let missed = stream::iter(missed);
    // A listener that fell behind is cut off rather than left with a gap:
    // it reconnects with its Last-Event-ID and is told what still shows.
    let live = BroadcastStream::new(sub.events)
        .take_while(|item| {
            let lagged = match item {
                Ok(_) => false,
                Err(BroadcastStreamRecvError::Lagged(n)) => {
                    warn!(skipped = n, "pop listener fell behind, stream closed");
                    true
                }
            };
            std::future::ready(!lagged)
        })
        .filter_map(move |item| std::future::ready(item.ok().filter(|e| wanted(e))));

    let closed = hub.closed();
    let end = async move {
        tokio::select! {
            () = closed => {}
            () = until => {}
        }
    };
    let events = stream::once(std::future::ready(snapshot))
        .chain(missed.chain(live).map(|event| to_sse(&event)))
        .map(Ok)
        .take_until(end);
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn to_sse(event: &Arc<PopEvent>) -> Event {
    let data = serde_json::to_string(event.as_ref()).unwrap_or_else(|_| "{}".into());
    Event::default()
        .id(event.seq.to_string())
        .event(event.kind.as_str())
        .data(data)
}

fn snapshot<'a>(showing: impl Iterator<Item = &'a Arc<PopEvent>>) -> Event {
    let calls = showing.map(|e| Showing {
        extension: e.extension.clone(),
        call_id: e.call_id,
        answered: e.kind == EventKind::Answered,
    });
    let snapshot = Snapshot {
        calls: calls.collect(),
    };
    let data = serde_json::to_string(&snapshot).unwrap_or_else(|_| "{}".into());
    Event::default().event("snapshot").data(data)
}
