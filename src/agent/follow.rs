//! The agent's loop: each snapshot and event from the stream becomes the
//! changes it calls for, shown as desktop notifications, or printed one
//! line each when the desktop has no notification service.

use std::io::Write;

use tracing::{info, warn};

use super::stream::Incoming;
use crate::pop::notify::{self, DesktopNotifier, NotifyError};
use crate::pop::screen::{Change, Screen};

/// Where pops go.
pub struct Follower<W> {
    screen: Screen,
    notifier: DesktopNotifier,
    terminal: W,
    /// No notification service was there at the last try.
    printing: bool,
}

impl<W: Write> Follower<W> {
    /// Asks the desktop for its notification service once, to say at
    /// start-up where pops will go.
    pub async fn new(notifier: DesktopNotifier, terminal: W) -> Follower<W> {
        let mut follower = Follower {
            screen: Screen::new(),
            notifier,
            terminal,
            printing: false,
        };
        match follower.notifier.check().await {
            Ok(format) => info!(?format, "desktop notifications on"),
            Err(e) => follower.print_instead(&e),
        }
        follower
    }

    pub async fn take(&mut self, incoming: Incoming) {
        let changes = match incoming {
            Incoming::Snapshot(snapshot) => self.screen.snapshot(&snapshot),
            Incoming::Event(event) => self.screen.event(&event).into_iter().collect(),
        };
        for change in changes {
            self.apply(&change).await;
        }
    }

    /// Takes every notification down: the agent is stopping.
    pub async fn stop(&mut self) {
        self.notifier.withdraw_all().await;
    }

    async fn apply(&mut self, change: &Change) {
        // While printing, a new pop tries the desktop again: a notification
        // service may have started since (autostart runs early).
        let retry = self.printing && matches!(change, Change::Show(_));
        if retry && self.notifier.check().await.is_ok() {
            info!("desktop notification service found: pops are shown there again");
            self.printing = false;
        }

        if !self.printing {
            match self.notifier.apply(change).await {
                Ok(()) => return,
                Err(e @ (NotifyError::NoService | NotifyError::Bus(_))) => self.print_instead(&e),
                Err(e) => warn!(call_id = change.call_id(), error = %e, "pop not shown"),
            }
        }
        self.print(change);
    }

    fn print_instead(&mut self, error: &NotifyError) {
        warn!(error = %error, "no desktop notifications: pops are printed here instead");
        self.printing = true;
    }

    fn print(&mut self, change: &Change) {
        let line = match change {
            Change::Show(pop) | Change::Answered(pop) => notify::pop_line(pop),
            Change::Close(call_id) => format!("Call {call_id} is over"),
        };
        let written = writeln!(self.terminal, "{line}").and_then(|()| self.terminal.flush());
        if let Err(e) = written {
            warn!(call_id = change.call_id(), error = %e, "failed to print pop");
        }
    }
}
