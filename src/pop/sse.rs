//! Pops as server-sent events: `pop`, `answered` and `withdraw`, each with
//! the hub's sequence number as its id, so a client that reconnects with
//! `Last-Event-ID` gets the pops it missed that are still showing.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tracing::warn;

use super::hub::{Hub, PopEvent};

/// The stream for one extension, or for every extension with `None`.
pub fn stream(
    hub: &Hub,
    extension: Option<String>,
    last_event_id: Option<u64>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let sub = hub.subscribe(extension.as_deref(), last_event_id);
    let missed = stream::iter(sub.missed);
    let live = BroadcastStream::new(sub.events).filter_map(move |item| {
        let wanted = match item {
            Ok(event) => extension
                .as_deref()
                .is_none_or(|x| x == event.extension)
                .then_some(event),
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                warn!(skipped = n, "pop listener fell behind, events skipped");
                None
            }
        };
        std::future::ready(wanted)
    });

    let events = missed
        .chain(live)
        .map(|event| Ok(to_sse(&event)))
        .take_until(hub.closed());
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn to_sse(event: &Arc<PopEvent>) -> Event {
    let data = serde_json::to_string(event.as_ref()).unwrap_or_else(|_| "{}".into());
    Event::default()
        .id(event.seq.to_string())
        .event(event.kind.as_str())
        .data(data)
}
