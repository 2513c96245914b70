//! The tracker: one state machine per call, fed by every link.
//!
//! Links may report the same thing twice (UDP retransmissions, a reconnect
//! replaying what is up) or report a call the daemon never saw ring; the
//! tracker records each call once and ignores news of calls it does not
//! know. A call is written the moment it first rings, and each later event
//! updates that row, so a crash loses at most the end of a call, which the
//! next start closes out as interrupted.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use super::{CallMatch, LegOutcome, NewCall, Outcome, Transfer};
use crate::pop::{Hub, Pop, PopMatch};
use crate::telephony::{CallEvent, Direction, EventKind, Party};

/// Where calls are written. The store implements it; tests keep calls in
/// memory.
pub trait Recorder: Send + Sync {
    fn open(&self, call: &NewCall) -> impl Future<Output = anyhow::Result<i64>> + Send;
    fn add_leg(
        &self,
        call_id: i64,
        extension: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn end_leg(
        &self,
        call_id: i64,
        extension: &str,
        at: DateTime<Utc>,
        outcome: LegOutcome,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn answer(
        &self,
        call_id: i64,
        extension: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn end(
        &self,
        call_id: i64,
        at: DateTime<Utc>,
        outcome: Outcome,
        open_legs: LegOutcome,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn mark_originated(&self, call_id: i64) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn withhold_caller(&self, call_id: i64) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn add_transfer(
        &self,
        call_id: i64,
        transfer: &Transfer,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// From a caller's number to the customers it belongs to.
pub trait Identify: Send + Sync {
    fn identify(&self, number: &str) -> impl Future<Output = anyhow::Result<Identified>> + Send;
}

/// What a number turned out to be.
#[derive(Clone, Debug, Default)]
pub struct Identified {
    pub e164: Option<String>,
    /// The number as people write it.
    pub for_people: String,
    pub matches: Vec<(CallMatch, Topics)>,
}

/// A customer's open topics, as the pop shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topics {
    pub open: i64,
    pub latest: Option<String>,
}

/// How the tracker is set up.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How links in pops are written: `{base_url}/calls/{id}`.
    pub base_url: String,
    /// A call with no news for this long is closed out as interrupted.
    pub stale_after: Duration,
    /// The same, for links that say otherwise: an AMI link sees long
    /// answered calls with no news, and closes out its own calls first.
    pub link_stale_after: HashMap<String, Duration>,
}

/// A call that is still going on.
struct Live {
    id: i64,
    direction: Direction,
    /// The pop shown at each extension it rang, without its extension.
    pop: Pop,
    /// Extensions that rang, and whether their ringing is over.
    legs: HashMap<String, bool>,
    answered_by: Option<String>,
    /// When callpop last heard of it, by its own clock: a PBX's event
    /// times may run behind or ahead.
    last_news: DateTime<Utc>,
}

pub struct Tracker<R, I> {
    recorder: R,
    identify: I,
    hub: Hub,
    settings: Settings,
    live: HashMap<(String, String), Live>,
}

impl<R: Recorder, I: Identify> Tracker<R, I> {
    pub fn new(recorder: R, identify: I, hub: Hub, settings: Settings) -> Self {
        Tracker {
            recorder,
            identify,
            hub,
            settings,
            live: HashMap::new(),
        }
    }

    /// Handles events until every sender is gone or `shutdown` completes.
    /// Then it applies what is still queued and closes the calls still open
    /// as interrupted: the daemon is stopping and will not see them end.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<CallEvent>,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut sweep = tokio::time::interval(Duration::from_secs(30));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.handle(event).await,
                    None => break,
                },
                _ = sweep.tick() => self.close_stale(Utc::now()).await,
                _ = &mut shutdown => break,
            }
        }

        events.close();
        while let Some(event) = events.recv().await {
            self.handle(event).await;
        }
        self.close_all(Utc::now(), Outcome::Interrupted).await;
    }

    /// Applies one event.
    pub async fn handle(&mut self, event: CallEvent) {
        let key = (event.link.clone(), event.pbx_call_id.clone());
        if let EventKind::Ringing {
            direction,
            extension,
            remote,
        } = event.kind
        {
            return self
                .ringing(key, direction, extension, remote, event.at)
                .await;
        }

        let Some(live) = self.live.get_mut(&key) else {
            debug!(link = %key.0, pbx_call_id = %key.1, "event for a call not seen ringing");
            return;
        };
        live.last_news = Utc::now();
        let call_id = live.id;
        match event.kind {
            EventKind::Ringing { .. } => unreachable!("handled above"),
            EventKind::Answered { extension } => self.answered(&key, &extension, event.at).await,
            EventKind::AnsweredElsewhere { extension } => {
                self.leg_over(&key, &extension, LegOutcome::AnsweredElsewhere, event.at)
                    .await
            }
            EventKind::StoppedRinging { extension } => {
                self.leg_over(&key, &extension, LegOutcome::Missed, event.at)
                    .await
            }
            EventKind::Transferred { from, to, kind } => {
                info!(call_id, from = %from, to = %to, kind = kind.as_str(), "call transferred");
                let transfer = Transfer {
                    from,
                    to,
                    at: event.at,
                    kind,
                };
                if let Err(e) = self.recorder.add_transfer(call_id, &transfer).await {
                    error!(call_id, error = %format!("{e:#}"), "failed to record transfer");
                }
                self.ring_leg(&key, &transfer.to, event.at).await;
            }
            EventKind::Originated => {
                if let Err(e) = self.recorder.mark_originated(call_id).await {
                    error!(call_id, error = %format!("{e:#}"), "failed to mark call originated");
                }
            }
            EventKind::Withheld => {
                // The pops already shown keep the number: a known gap, rare
                // because the link waits for the answer before it pops.
                warn!(
                    call_id,
                    "caller restricted presentation, known only after the pop"
                );
                if let Err(e) = self.recorder.withhold_caller(call_id).await {
                    error!(call_id, error = %format!("{e:#}"), "failed to withhold caller");
                }
            }
            EventKind::Ended { abandoned } => {
                let outcome = match (live.direction, abandoned) {
                    (Direction::Outbound, _) => Outcome::Unanswered,
                    (_, true) => Outcome::Abandoned,
                    (_, false) => Outcome::Missed,
                };
                self.end(&key, outcome, event.at).await;
            }
            EventKind::Lost => {
                warn!(call_id, link = %key.0, "link lost sight of call, closing it as interrupted");
                self.end(&key, Outcome::Interrupted, event.at).await;
            }
        }
    }

    async fn ringing(
        &mut self,
        key: (String, String),
        direction: Direction,
        extension: String,
        remote: Party,
        at: DateTime<Utc>,
    ) {
        // A call already open rings at one more extension (a queue, a
        // failover); the same extension again is a repeat and changes nothing.
        if self.live.contains_key(&key) {
            return self.ring_leg(&key, &extension, at).await;
        }

        let identified = self.identify(direction, &remote).await;
        let new = new_call(&key, direction, &extension, &remote, &identified, at);
        let id = match self.recorder.open(&new).await {
            Ok(id) => id,
            Err(e) => {
                error!(pbx_call_id = %key.1, extension = %extension, error = %format!("{e:#}"),
                    "failed to record ringing call");
                return;
            }
        };
        info!(call_id = id, extension = %extension, matches = new.matches.len(), "call ringing");

        // Only calls from outside pop: a rep placing a call, or calling a
        // colleague, knows who is on the line.
        let pop = self.pop_for(id, &extension, &remote, identified, at);
        if direction == Direction::Inbound {
            self.hub.pop(pop.clone());
        }
        let legs = HashMap::from([(extension, false)]);
        self.live.insert(
            key,
            Live {
                id,
                direction,
                pop,
                legs,
                answered_by: None,
                last_news: Utc::now(),
            },
        );
    }

    /// Looks the caller up, unless there is nothing to look up.
    async fn identify(&self, direction: Direction, remote: &Party) -> Identified {
        let number = remote.number.as_deref().filter(|_| !remote.withheld);
        let Some(number) = number.filter(|_| direction != Direction::Internal) else {
            return Identified::default();
        };
        match self.identify.identify(number).await {
            Ok(found) => found,
            Err(e) => {
                // The call is still recorded and popped, with the number as sent.
                warn!(error = %format!("{e:#}"), "caller lookup failed");
                Identified {
                    for_people: number.to_owned(),
                    ..Identified::default()
                }
            }
        }
    }

    fn pop_for(
        &self,
        id: i64,
        extension: &str,
        remote: &Party,
        found: Identified,
        rang_at: DateTime<Utc>,
    ) -> Pop {
        let matches = found.matches.into_iter().map(|(m, topics)| PopMatch {
            customer_id: m.customer_id,
            customer: m.customer_name,
            contact_id: m.contact_id,
            contact: m.contact_name,
            reason: m.reason,
            open_topics: topics.open,
            latest_topic: topics.latest,
        });
        Pop {
            call_id: id,
            extension: extension.to_owned(),
            caller: if remote.withheld {
                String::new()
            } else {
                found.for_people
            },
            number_e164: found.e164,
            name: remote.name.clone().filter(|_| !remote.withheld),
            withheld: remote.withheld,
            matches: matches.collect(),
            link: format!(
                "{}/calls/{id}",
                self.settings.base_url.trim_end_matches('/')
            ),
            rang_at,
            answered: false,
        }
    }

    async fn ring_leg(&mut self, key: &(String, String), extension: &str, at: DateTime<Utc>) {
        let Some(live) = self.live.get_mut(key) else {
            return;
        };
        if live.legs.contains_key(extension) {
            debug!(call_id = live.id, extension, "repeated ringing ignored");
            return;
        }
        if let Err(e) = self.recorder.add_leg(live.id, extension, at).await {
            error!(call_id = live.id, extension, error = %format!("{e:#}"), "failed to record leg");
        }
        live.legs.insert(extension.to_owned(), false);
        live.last_news = Utc::now();
        if live.direction == Direction::Inbound {
            let pop = Pop {
                extension: extension.to_owned(),
                ..live.pop.clone()
            };
            self.hub.pop(pop);
        }
    }

    async fn answered(&mut self, key: &(String, String), extension: &str, at: DateTime<Utc>) {
        let Some(live) = self.live.get_mut(key) else {
            return;
        };
        if live.answered_by.is_some() {
            // A call handed on: the new extension takes it over; who first
            // answered stays on the record.
            let id = live.id;
            if live.legs.get(extension) == Some(&false) {
                info!(call_id = id, extension, "transferred call answered");
                self.leg_over(key, extension, LegOutcome::Answered, at)
                    .await;
                self.hub.answered(extension, id);
            }
            return;
        }
        live.answered_by = Some(extension.to_owned());
        let id = live.id;
        if let Err(e) = self.recorder.answer(id, extension, at).await {
            error!(call_id = id, extension, error = %format!("{e:#}"), "failed to record answer");
        }
        info!(call_id = id, extension, "call answered");

        // The rep who answered keeps the pop; everyone else's goes.
        self.leg_over(key, extension, LegOutcome::Answered, at)
            .await;
        self.hub.answered(extension, id);
        let ringing: Vec<String> = match self.live.get(key) {
            Some(live) => live
                .legs
                .iter()
                .filter(|(_, over)| !**over)
                .map(|(x, _)| x.clone())
                .collect(),
            None => Vec::new(),
        };
        for other in ringing {
            self.leg_over(key, &other, LegOutcome::AnsweredElsewhere, at)
                .await;
        }
    }

    async fn leg_over(
        &mut self,
        key: &(String, String),
        extension: &str,
        outcome: LegOutcome,
        at: DateTime<Utc>,
    ) {
        let Some(live) = self.live.get_mut(key) else {
            return;
        };
        match live.legs.get_mut(extension) {
            Some(over) if !*over => *over = true,
            _ => return,
        }
        if let Err(e) = self.recorder.end_leg(live.id, extension, at, outcome).await {
            error!(call_id = live.id, extension, error = %format!("{e:#}"), "failed to end leg");
        }
        if outcome != LegOutcome::Answered {
            self.hub.withdraw(extension, live.id);
        }
    }

    /// Closes a call. `unanswered` is the outcome should nobody have answered.
    async fn end(&mut self, key: &(String, String), unanswered: Outcome, at: DateTime<Utc>) {
        let Some(live) = self.live.remove(key) else {
            return;
        };
        let (outcome, open_legs) = match (&live.answered_by, unanswered) {
            (_, Outcome::Interrupted) => (Outcome::Interrupted, LegOutcome::Missed),
            (Some(_), _) => (Outcome::Answered, LegOutcome::AnsweredElsewhere),
            (None, outcome) => (outcome, LegOutcome::Missed),
        };
        if let Err(e) = self.recorder.end(live.id, at, outcome, open_legs).await {
            error!(call_id = live.id, error = %format!("{e:#}"), "failed to close call");
        }
        info!(call_id = live.id, outcome = outcome.as_str(), "call ended");
        for extension in live.legs.keys() {
            self.hub.withdraw(extension, live.id);
        }
    }

    /// Closes calls that have had no news for too long: their end was lost.
    pub async fn close_stale(&mut self, now: DateTime<Utc>) {
        let settings = &self.settings;
        let limit = |link: &str| {
            let after = settings
                .link_stale_after
                .get(link)
                .unwrap_or(&settings.stale_after);
            chrono::Duration::from_std(*after).unwrap_or(chrono::Duration::MAX)
        };
        let stale: Vec<(String, String)> = self
            .live
            .iter()
            .filter(|(key, live)| now - live.last_news >= limit(&key.0))
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            warn!(link = %key.0, pbx_call_id = %key.1, "no news of call, closing it as interrupted");
            self.end(&key, Outcome::Interrupted, now).await;
        }
    }

    async fn close_all(&mut self, now: DateTime<Utc>, outcome: Outcome) {
        let keys: Vec<(String, String)> = self.live.keys().cloned().collect();
        for key in keys {
            self.end(&key, outcome, now).await;
        }
    }

    /// Calls going on now.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }
}

fn new_call(
    key: &(String, String),
    direction: Direction,
    extension: &str,
    remote: &Party,
    found: &Identified,
    at: DateTime<Utc>,
) -> NewCall {
    let matches: Vec<CallMatch> = found.matches.iter().map(|(m, _)| m.clone()).collect();
    let only = (matches.len() == 1).then(|| &matches[0]);
    NewCall {
        link: key.0.clone(),
        pbx_call_id: key.1.clone(),
        direction,
        remote_raw: remote.number.clone().filter(|_| !remote.withheld),
        remote_e164: found.e164.clone(),
        remote_name: remote.name.clone(),
        withheld: remote.withheld,
        extension: extension.to_owned(),
        customer_id: only.map(|m| m.customer_id),
        contact_id: only.and_then(|m| m.contact_id),
        matches,
        started_at: at,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::pop::hub::EventKind as PopKind;

    /// Keeps what the tracker writes, as lines a test can compare.
    #[derive(Default)]
    struct Memory {
        log: Mutex<Vec<String>>,
        next: Mutex<i64>,
    }

    impl Memory {
        fn note(&self, line: String) -> anyhow::Result<()> {
            self.log.lock().unwrap().push(line);
            Ok(())
        }

        fn lines(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }
    }

    impl Recorder for &Memory {
        async fn open(&self, call: &NewCall) -> anyhow::Result<i64> {
            let mut next = self.next.lock().unwrap();
            *next += 1;
            self.note(format!(
                "open {} {} {:?} withheld={} matches={}",
                *next,
                call.extension,
                call.remote_raw,
                call.withheld,
                call.matches.len()
            ))?;
            Ok(*next)
        }
        async fn add_leg(&self, id: i64, x: &str, _: DateTime<Utc>) -> anyhow::Result<()> {
            self.note(format!("leg {id} {x}"))
        }
        async fn end_leg(
            &self,
            id: i64,
            x: &str,
            _: DateTime<Utc>,
            o: LegOutcome,
        ) -> anyhow::Result<()> {
            self.note(format!("end_leg {id} {x} {}", o.as_str()))
        }
        async fn answer(&self, id: i64, x: &str, _: DateTime<Utc>) -> anyhow::Result<()> {
            self.note(format!("answer {id} {x}"))
        }
        async fn end(
            &self,
            id: i64,
            _: DateTime<Utc>,
            o: Outcome,
            l: LegOutcome,
        ) -> anyhow::Result<()> {
            self.note(format!("end {id} {} {}", o.as_str(), l.as_str()))
        }
        async fn mark_originated(&self, id: i64) -> anyhow::Result<()> {
            self.note(format!("originated {id}"))
        }
        async fn withhold_caller(&self, id: i64) -> anyhow::Result<()> {
            self.note(format!("withheld {id}"))
        }
        async fn add_transfer(&self, id: i64, t: &Transfer) -> anyhow::Result<()> {
            self.note(format!(
                "transfer {id} {} {} {}",
                t.from,
                t.to,
                t.kind.as_str()
            ))
        }
    }

    /// Knows one customer, at +12125550100.
    struct OneCustomer;

    impl Identify for OneCustomer {
        async fn identify(&self, number: &str) -> anyhow::Result<Identified> {
            let matched = number.ends_with("2125550100");
            let m = CallMatch {
                customer_id: 7,
                customer_name: "Acme".into(),
                contact_id: None,
                contact_name: None,
                reason: "exact".into(),
            };
            Ok(Identified {
                e164: Some(number.into()),
                for_people: number.into(),
                matches: if matched {
                    vec![(
                        m,
                        Topics {
                            open: 2,
                            latest: Some("Invoice".into()),
                        },
                    )]
                } else {
                    vec![]
                },
            })
        }
    }

    fn tracker(memory: &Memory) -> (Tracker<&Memory, OneCustomer>, Hub) {
        let hub = Hub::new();
        let settings = Settings {
            base_url: "http://x/".into(),
            stale_after: Duration::from_secs(60),
            link_stale_after: HashMap::new(),
        };
        (
            Tracker::new(memory, OneCustomer, hub.clone(), settings),
            hub,
        )
    }

    fn event(id: &str, kind: EventKind) -> CallEvent {
        CallEvent {
            link: "sip".into(),
            pbx_call_id: id.into(),
            at: Utc::now(),
            kind,
        }
    }

    fn ringing(id: &str, extension: &str, number: Option<&str>, withheld: bool) -> CallEvent {
        let remote = Party {
            number: number.map(Into::into),
            name: None,
            withheld,
        };
        let kind = EventKind::Ringing {
            direction: Direction::Inbound,
            extension: extension.into(),
            remote,
        };
        event(id, kind)
    }

    #[tokio::test]
    async fn a_repeated_ring_is_one_call_and_one_pop() {
        let memory = Memory::default();
        let (mut tracker, hub) = tracker(&memory);
        let mut sub = hub.subscribe(Some("201"), None);
        tracker
            .handle(ringing("a", "201", Some("+12125550100"), false))
            .await;
        tracker
            .handle(ringing("a", "201", Some("+12125550100"), false))
            .await;

        assert_eq!(
            memory.lines(),
            vec!["open 1 201 Some(\"+12125550100\") withheld=false matches=1"]
        );
        let pop = sub.events.try_recv().unwrap();
        assert_eq!(pop.pop.as_ref().unwrap().link, "http://x/calls/1");
        assert_eq!(pop.pop.as_ref().unwrap().matches[0].open_topics, 2);
        assert!(sub.events.try_recv().is_err());
    }

    #[tokio::test]
    async fn caller_giving_up_withdraws_and_records_abandoned() {
        let memory = Memory::default();
        let (mut tracker, hub) = tracker(&memory);
        let mut sub = hub.subscribe(Some("201"), None);
        tracker
            .handle(ringing("b", "201", Some("+15550100"), false))
            .await;
        tracker
            .handle(event("b", EventKind::Ended { abandoned: true }))
            .await;

        assert_eq!(memory.lines()[1], "end 1 abandoned missed");
        let kinds: Vec<PopKind> = std::iter::from_fn(|| sub.events.try_recv().ok())
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, vec![PopKind::Pop, PopKind::Withdraw]);
        assert_eq!(tracker.live_count(), 0);
    }

    #[tokio::test]
    async fn answer_keeps_that_pop_and_withdraws_the_others() {
        let memory = Memory::default();
        let (mut tracker, hub) = tracker(&memory);
        let mut at_201 = hub.subscribe(Some("201"), None);
        let mut at_202 = hub.subscribe(Some("202"), None);
        tracker
            .handle(ringing("c", "201", Some("+15550100"), false))
            .await;
        tracker
            .handle(ringing("c", "202", Some("+15550100"), false))
            .await;
        tracker
            .handle(event(
                "c",
                EventKind::Answered {
                    extension: "201".into(),
                },
            ))
            .await;
        tracker
            .handle(event("c", EventKind::Ended { abandoned: false }))
            .await;

        // The hub's receiver carries every extension; listeners pick theirs.
        let kinds = |sub: &mut crate::pop::hub::Subscription, x: &str| -> Vec<PopKind> {
            let events = std::iter::from_fn(|| sub.events.try_recv().ok());
            events
                .filter(|e| e.extension == x)
                .map(|e| e.kind)
                .collect()
        };
        assert_eq!(
            kinds(&mut at_201, "201"),
            vec![PopKind::Pop, PopKind::Answered]
        );
        assert_eq!(
            kinds(&mut at_202, "202"),
            vec![PopKind::Pop, PopKind::Withdraw]
        );
        assert_eq!(
            memory.lines()[1..],
            [
                "leg 1 202",
                "answer 1 201",
                "end_leg 1 201 answered",
                "end_leg 1 202 answered_elsewhere",
                "end 1 answered answered_elsewhere",
            ]
        );
    }

    #[tokio::test]
    async fn withheld_caller_is_not_looked_up_or_shown() {
        let memory = Memory::default();
        let (mut tracker, hub) = tracker(&memory);
        let mut sub = hub.subscribe(Some("201"), None);
        let mut event = ringing("d", "201", Some("+12125550100"), true);
        if let EventKind::Ringing { remote, .. } = &mut event.kind {
            remote.name = Some("Kim".into());
        }
        tracker.handle(event).await;

        assert_eq!(
            memory.lines(),
            vec!["open 1 201 None withheld=true matches=0"]
        );
        let pop = sub.events.try_recv().unwrap().pop.clone().unwrap();
        assert!(pop.withheld && pop.caller.is_empty() && pop.name.is_none());
    }

    #[tokio::test]
    async fn news_of_an_unknown_call_is_ignored_and_stale_calls_close() {
        let memory = Memory::default();
        let (mut tracker, _hub) = tracker(&memory);
        tracker
            .handle(event("zz", EventKind::Ended { abandoned: true }))
            .await;
        assert!(memory.lines().is_empty());

        tracker.handle(ringing("e", "201", None, false)).await;
        tracker
            .close_stale(Utc::now() + chrono::Duration::seconds(61))
            .await;
        assert_eq!(memory.lines()[1], "end 1 interrupted missed");
    }
}
