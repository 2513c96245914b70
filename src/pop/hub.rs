//! The pop hub: fans each pop out to whoever listens for that extension, and
//! remembers the pops still ringing so a listener that (re)connects gets
//! them again.
//!
//! Every event carries a sequence number that is unique for the life of the
//! daemon; server-sent event streams use it as the event id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

/// Events a slow listener may fall behind by before it misses some.
const BACKLOG: usize = 4096;

/// What a rep's screen shows for a ringing call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pop {
    pub call_id: i64,
    pub extension: String,
    /// The number as people write it; empty when withheld or absent.
    pub caller: String,
    /// The number in E.164, when it could be read.
    pub number_e164: Option<String>,
    /// The caller's display name exactly as sent.
    pub name: Option<String>,
    pub withheld: bool,
    /// Every customer the number matched, never silently just the first.
    pub matches: Vec<PopMatch>,
    /// The absolute link to the call-logging page.
    pub link: String,
    /// When the link saw the call start ringing.
    pub rang_at: chrono::DateTime<chrono::Utc>,
    /// Set once this rep answered; the pop stays so the call can be logged.
    pub answered: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopMatch {
    pub customer_id: i64,
    pub customer: String,
    pub contact_id: Option<i64>,
    pub contact: Option<String>,
    pub reason: String,
    pub open_topics: i64,
    pub latest_topic: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A call rings at the extension.
    Pop,
    /// This extension answered: the pop stays, marked answered.
    Answered,
    /// Take the pop down: the caller gave up or someone else answered.
    Withdraw,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Pop => "pop",
            EventKind::Answered => "answered",
            EventKind::Withdraw => "withdraw",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopEvent {
    pub seq: u64,
    pub kind: EventKind,
    pub extension: String,
    pub call_id: i64,
    /// The pop itself for `pop` and `answered`; `None` for `withdraw`.
    pub pop: Option<Pop>,
}

/// Cheap to clone; every clone is the same hub.
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    seq: AtomicU64,
    tx: broadcast::Sender<Arc<PopEvent>>,
    /// Pops showing now, by (extension, call id).
    showing: Mutex<HashMap<(String, i64), Arc<PopEvent>>>,
    /// Raised when the daemon stops, so that open streams end.
    closed: watch::Sender<bool>,
}

impl Default for Inner {
    fn default() -> Inner {
        // Ids start from the clock so they keep growing across restarts: a
        // client reconnecting with an id from before gets today's pops.
        let start = chrono::Utc::now().timestamp_micros().max(0) as u64;
        Inner {
            seq: AtomicU64::new(start),
            tx: broadcast::channel(BACKLOG).0,
            showing: Mutex::new(HashMap::new()),
            closed: watch::channel(false).0,
        }
    }
}

/// A listener: what shows now, the pops it missed, then everything new.
pub struct Subscription {
    /// Every pop showing when it subscribed, seen or not, oldest first: a
    /// listener that reconnects closes what it shows that is not here.
    pub showing: Vec<Arc<PopEvent>>,
    /// The pops of `showing` it has not seen.
    pub missed: Vec<Arc<PopEvent>>,
    pub events: broadcast::Receiver<Arc<PopEvent>>,
}

impl Hub {
    pub fn new() -> Hub {
        Hub::default()
    }

    /// Shows a pop at its extension.
    pub fn pop(&self, pop: Pop) {
        self.publish(
            EventKind::Pop,
            pop.extension.clone(),
            pop.call_id,
            Some(pop),
        );
    }

    /// Marks the pop at `extension` answered; it stays until the rep is done.
    pub fn answered(&self, extension: &str, call_id: i64) {
        let key = (extension.to_owned(), call_id);
        let pop = self.showing().get(&key).and_then(|e| e.pop.clone());
        let Some(mut pop) = pop else { return };
        pop.answered = true;
        self.publish(EventKind::Answered, key.0, call_id, Some(pop));
    }

    /// Takes the pop at `extension` down, if it is showing and unanswered.
    pub fn withdraw(&self, extension: &str, call_id: i64) {
        let key = (extension.to_owned(), call_id);
        let answered = match self.showing().get(&key) {
            Some(event) => event.kind == EventKind::Answered,
            None => return,
        };
        if answered {
            // The rep who answered keeps the pop; it only leaves the list of
            // pops replayed to listeners that reconnect.
            self.showing().remove(&key);
            return;
        }
        self.publish(EventKind::Withdraw, key.0, call_id, None);
    }

    /// Listens to one extension (or all, with `None`). `after` is the last
    /// event id the listener saw: pops still showing that it has not seen
    /// are handed back in `missed`.
    pub fn subscribe(&self, extension: Option<&str>, after: Option<u64>) -> Subscription {
        // Subscribe before reading the replay so nothing falls between.
        let events = self.inner.tx.subscribe();
        let after = after.unwrap_or(0);
        let mut showing: Vec<Arc<PopEvent>> = self
            .showing()
            .values()
            .filter(|e| extension.is_none_or(|x| e.extension == x))
            .cloned()
            .collect();
        showing.sort_by_key(|e| e.seq);
        let missed = showing.iter().filter(|e| e.seq > after).cloned().collect();
        Subscription {
            showing,
            missed,
            events,
        }
    }

    /// Ends every listener's stream: the daemon is stopping.
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    /// Completes once [`Hub::close`] was called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.inner.closed.subscribe();
        async move {
            let _ = rx.wait_for(|closed| *closed).await;
        }
    }

    /// How many pops are showing now, for metrics and tests.
    pub fn showing_count(&self) -> usize {
        self.showing().len()
    }

    fn publish(&self, kind: EventKind, extension: String, call_id: i64, pop: Option<Pop>) {
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let event = Arc::new(PopEvent {
            seq,
            kind,
            extension: extension.clone(),
            call_id,
            pop,
        });

        // The map and the send happen under one lock so that a subscriber
        // never sees an event missing from both its replay and its stream.
        let mut showing = self.showing();
        match kind {
            EventKind::Pop | EventKind::Answered => {
                showing.insert((extension, call_id), event.clone());
            }
            EventKind::Withdraw => {
                showing.remove(&(extension, call_id));
            }
        }
        // No receivers is fine: nobody is listening at that moment.
        let _ = self.inner.tx.send(event);
    }

    fn showing(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i64), Arc<PopEvent>>> {
        // A panic elsewhere cannot leave the map half-updated (every update
        // is one insert or remove), so a poisoned lock is safe to reuse.
        self.inner.showing.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop(extension: &str, call_id: i64) -> Pop {
        Pop {
            call_id,
            extension: extension.into(),
            caller: "(212) 555-0100".into(),
            number_e164: Some("+12125550100".into()),
            name: None,
            withheld: false,
            matches: Vec::new(),
            link: format!("http://x/calls/{call_id}"),
            rang_at: chrono::Utc::now(),
            answered: false,
        }
    }

    #[test]
    fn withdraw_reaches_listeners_and_clears_the_replay() {
        let hub = Hub::new();
        let mut sub = hub.subscribe(Some("201"), None);
        hub.pop(pop("201", 1));
        hub.withdraw("201", 1);

        assert_eq!(sub.events.try_recv().unwrap().kind, EventKind::Pop);
        assert_eq!(sub.events.try_recv().unwrap().kind, EventKind::Withdraw);
        assert!(hub.subscribe(Some("201"), None).missed.is_empty());
    }

    #[test]
    fn answered_pop_is_kept_and_not_withdrawn() {
        let hub = Hub::new();
        hub.pop(pop("201", 1));
        hub.answered("201", 1);
        let mut sub = hub.subscribe(Some("201"), None);
        hub.withdraw("201", 1);

        assert!(sub.missed.iter().any(|e| e.pop.as_ref().unwrap().answered));
        assert!(
            sub.events.try_recv().is_err(),
            "an answered pop is never withdrawn"
        );
    }

    #[test]
    fn reconnect_replays_only_unseen_pops_still_showing() {
        let hub = Hub::new();
        hub.pop(pop("201", 1));
        let seen = hub.subscribe(Some("201"), None).missed[0].seq;
        hub.pop(pop("201", 2));
        hub.pop(pop("202", 3));
        hub.pop(pop("201", 4));
        hub.withdraw("201", 4);

        let sub = hub.subscribe(Some("201"), Some(seen));
        let calls =
            |events: &[Arc<PopEvent>]| -> Vec<i64> { events.iter().map(|e| e.call_id).collect() };
        assert_eq!(calls(&sub.missed), vec![2]);

        // What still shows, seen or not, tells the listener what to close.
        assert_eq!(calls(&sub.showing), vec![1, 2]);
    }
}
