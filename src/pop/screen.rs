//! Which notification changes a stream of pop events calls for, for whoever
//! shows them (the daemon's own desktop, the desktop agent).
//!
//! A call has one notification however many of the followed extensions it
//! rings at (a ring group, a desk phone and a softphone). It closes once the
//! call rings at none of them, unless one of them answered: then it stays,
//! marked answered, until the rep dismisses it. A snapshot, which opens
//! every stream, closes what no longer rings after a reconnect.

use std::collections::{BTreeSet, HashMap};

use super::hub::{EventKind, Pop, PopEvent};
use super::sse::Snapshot;

/// Answered calls remembered at most: the hub says nothing more about a
/// call once it was answered here, so they are let go of past this many.
const MAX_ANSWERED: usize = 256;

/// What to do to the notifications on screen.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Show the pop, replacing the notification of the same call.
    Show(Pop),
    /// Mark the call's notification answered, in place; it stays.
    Answered(Pop),
    /// Take the call's notification down.
    Close(i64),
}

impl Change {
    pub fn call_id(&self) -> i64 {
        match self {
            Change::Show(pop) | Change::Answered(pop) => pop.call_id,
            Change::Close(call_id) => *call_id,
        }
    }
}

/// The calls on screen and the extensions each rings at.
#[derive(Debug, Default)]
pub struct Screen {
    calls: HashMap<i64, Call>,
}

#[derive(Debug, Default)]
struct Call {
    ringing: BTreeSet<String>,
    answered: bool,
}

impl Screen {
    pub fn new() -> Screen {
        Screen::default()
    }

    /// The change one event calls for, if any.
    pub fn event(&mut self, event: &PopEvent) -> Option<Change> {
        let change = match (event.kind, &event.pop) {
            (EventKind::Pop, Some(pop)) => self.ring(&event.extension, pop),
            (EventKind::Answered, Some(pop)) => self.answer(&event.extension, pop),
            (EventKind::Withdraw, _) => self.withdraw(&event.extension, event.call_id),
            (_, None) => None,
        };
        self.let_go_of_answered();
        change
    }

    /// Closes the calls that do not ring any more at the extensions they
    /// rang at here. Answered calls stay on screen.
    pub fn snapshot(&mut self, snapshot: &Snapshot) -> Vec<Change> {
        let showing = |extension: &str, call_id: i64| {
            let mut calls = snapshot.calls.iter();
            calls.any(|s| s.call_id == call_id && s.extension == extension)
        };
        let mut closed = Vec::new();
        self.calls.retain(|&call_id, call| {
            call.ringing.retain(|x| showing(x, call_id));
            let shown = snapshot.calls.iter().any(|s| s.call_id == call_id);
            if call.answered {
                return shown;
            }
            if call.ringing.is_empty() {
                closed.push(Change::Close(call_id));
            }
            !call.ringing.is_empty()
        });
        closed.sort_by_key(Change::call_id);
        closed
    }

    /// How many calls it follows, for tests.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    fn ring(&mut self, extension: &str, pop: &Pop) -> Option<Change> {
        let call = self.calls.entry(pop.call_id).or_default();
        // Ringing at a second extension of the same rep changes nothing on
        // screen; ringing again after it was answered shows it ringing.
        let shown = !call.ringing.is_empty() && !call.answered;
        call.ringing.insert(extension.to_owned());
        call.answered = false;
        (!shown).then(|| Change::Show(pop.clone()))
    }

    fn answer(&mut self, extension: &str, pop: &Pop) -> Option<Change> {
        let call = self.calls.entry(pop.call_id).or_default();
        call.ringing.remove(extension);
        call.answered = true;
        Some(Change::Answered(pop.clone()))
    }

    fn withdraw(&mut self, extension: &str, call_id: i64) -> Option<Change> {
        let call = self.calls.get_mut(&call_id)?;
        call.ringing.remove(extension);
        if call.answered || !call.ringing.is_empty() {
            return None;
        }
        self.calls.remove(&call_id);
        Some(Change::Close(call_id))
    }

    fn let_go_of_answered(&mut self) {
        let answered = self.calls.values().filter(|c| c.answered).count();
        if answered > MAX_ANSWERED {
            self.calls.retain(|_, call| !call.answered);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pop::sse::Showing;

    fn pop(call_id: i64) -> Pop {
        Pop {
            call_id,
            extension: "201".into(),
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

    fn event(kind: EventKind, extension: &str, call_id: i64) -> PopEvent {
        let pop = Pop {
            extension: extension.into(),
            answered: kind == EventKind::Answered,
            ..pop(call_id)
        };
        PopEvent {
            seq: 0,
            kind,
            extension: extension.into(),
            call_id,
            pop: (kind != EventKind::Withdraw).then_some(pop),
        }
    }

    /// The kind of change each event made, in order.
    fn check(events: &[(EventKind, &str, i64)], expected: &[Option<&str>]) -> Screen {
        let mut screen = Screen::new();
        let changes: Vec<Option<&str>> = events
            .iter()
            .map(|&(kind, x, call)| screen.event(&event(kind, x, call)))
            .map(|change| {
                change.map(|c| match c {
                    Change::Show(_) => "show",
                    Change::Answered(_) => "answered",
                    Change::Close(_) => "close",
                })
            })
            .collect();
        assert_eq!(changes, expected, "{events:?}");
        screen
    }

    use EventKind::{Answered, Pop as Ring, Withdraw};

    #[test]
    fn a_call_shows_and_closes() {
        let screen = check(
            &[(Ring, "201", 1), (Withdraw, "201", 1)],
            &[Some("show"), Some("close")],
        );
        assert!(screen.is_empty());
    }

    #[test]
    fn a_call_at_two_extensions_is_one_notification_until_both_stop() {
        check(
            &[
                (Ring, "201", 1),
                (Ring, "202", 1),
                (Withdraw, "201", 1),
                (Withdraw, "202", 1),
            ],
            &[Some("show"), None, None, Some("close")],
        );
    }

    #[test]
    fn answered_at_one_extension_stays_when_the_other_is_withdrawn() {
        check(
            &[
                (Ring, "201", 1),
                (Ring, "202", 1),
                (Answered, "202", 1),
                (Withdraw, "201", 1),
                (Withdraw, "202", 1),
            ],
            &[Some("show"), None, Some("answered"), None, None],
        );
    }

    #[test]
    fn a_call_ringing_again_replaces_its_notification() {
        check(
            &[
                (Ring, "201", 1),
                (Answered, "201", 1),
                (Ring, "202", 1),
                (Withdraw, "202", 1),
            ],
            &[Some("show"), Some("answered"), Some("show"), Some("close")],
        );
    }

    #[test]
    fn a_withdraw_of_an_unknown_call_changes_nothing() {
        check(&[(Withdraw, "201", 9)], &[None]);
    }

    #[test]
    fn a_snapshot_closes_what_stopped_ringing_and_keeps_the_answered() {
        let mut screen = check(
            &[
                (Ring, "201", 1),
                (Ring, "201", 2),
                (Ring, "201", 3),
                (Answered, "201", 3),
                (Ring, "201", 4),
                (Ring, "202", 4),
            ],
            &[
                Some("show"),
                Some("show"),
                Some("show"),
                Some("answered"),
                Some("show"),
                None,
            ],
        );
        let showing = |extension: &str, call_id| Showing {
            extension: extension.into(),
            call_id,
            answered: false,
        };
        let snapshot = Snapshot {
            calls: vec![showing("201", 2), showing("202", 4)],
        };

        assert_eq!(screen.snapshot(&snapshot), [Change::Close(1)]);
        assert_eq!(screen.len(), 2, "call 3 is let go of, call 4 rings at 202");
        let withdrawn = screen.event(&event(Withdraw, "202", 4));
        assert_eq!(withdrawn, Some(Change::Close(4)));
    }
}
