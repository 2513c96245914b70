//! The pop on this machine's own desktop: a freedesktop notification sent
//! over the session bus through notify-rust, replaced in place while the
//! call changes and withdrawn when the hub withdraws it.
//!
//! One notifier serves both the daemon's own desktop (`pop.desktop`) and the
//! desktop agent. What a pop says is in [`content`]; the server's
//! `body-markup` capability is read once, on the first pop, and decides
//! whether the body is escaped.
//!
//! notify-rust reaches the bus named by `DBUS_SESSION_BUS_ADDRESS` (it takes
//! no address of its own) and opens one connection per notification shown.
//! That connection is kept as long as the pop, as notify-rust advises: some
//! desktops act on a notification only while the connection that sent it is
//! still there.
//!
//! Actions are heard from a task started once Notify returns; a click in the
//! few milliseconds before it subscribes would be missed. A person cannot
//! click that fast, so nothing is done about it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::{Arc, Weak};
use std::time::Duration;

use notify_rust::{Notification, NotificationHandle, NotificationResponse, Timeout, Urgency};
use tokio::sync::{Mutex, OnceCell};
use tokio::task::JoinHandle;

mod content;

pub use content::{pop_content, pop_line, PopContent};

use super::hub::Pop;
use super::safe_text::BodyFormat;
use super::screen::Change;

/// The longest a call to the notification server may take: a server that
/// hangs must not hold up the pops of later calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

const APP_NAME: &str = "callpop";
const ICON: &str = "call-start";
const LOG_CALL: &str = "log-call";
const DISMISS: &str = "dismiss";

/// D-Bus errors that mean nobody serves `org.freedesktop.Notifications`.
/// zbus is reached only through notify-rust, whose error hides the kind, so
/// the error name (fixed by the D-Bus specification) is read from its text.
const NO_SERVICE_ERRORS: [&str; 2] = [
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
];

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("no desktop notification service on the session bus")]
    NoService,
    #[error("desktop notification service did not answer within {0:?}")]
    Timeout(Duration),
    #[error("failed to reach the desktop notification service: {0}")]
    Bus(#[source] notify_rust::error::Error),
    #[error("failed to read the notification service's capabilities: {0}")]
    Capabilities(#[source] tokio::task::JoinError),
}

impl NotifyError {
    fn from_bus(err: notify_rust::error::Error) -> NotifyError {
        let text = err.to_string();
        if NO_SERVICE_ERRORS.iter().any(|name| text.contains(name)) {
            NotifyError::NoService
        } else {
            NotifyError::Bus(err)
        }
    }
}

/// Opens the call-logging page when the rep clicks "Log call".
///
/// Called on a blocking thread, so it may wait for a child process.
pub trait Opener: Send + Sync + 'static {
    fn open(&self, link: &str) -> io::Result<()>;
}

impl<F> Opener for F
where
    F: Fn(&str) -> io::Result<()> + Send + Sync + 'static,
{
    fn open(&self, link: &str) -> io::Result<()> {
        self(link)
    }
}

/// Opens links with `xdg-open`, so the rep's own browser choice applies.
#[derive(Clone, Copy, Debug, Default)]
pub struct XdgOpen;

impl Opener for XdgOpen {
    fn open(&self, link: &str) -> io::Result<()> {
        let status = std::process::Command::new("xdg-open").arg(link).status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("xdg-open exited with {status}")))
        }
    }
}

/// Pops on this desktop: at most one notification per call, replaced in
/// place, and a task per notification waiting for the rep's click.
pub struct DesktopNotifier {
    opener: Arc<dyn Opener>,
    format: OnceCell<BodyFormat>,
    shown: Arc<Mutex<Shown>>,
}

#[derive(Default)]
struct Shown {
    by_call: HashMap<i64, Showing>,
    generation: u64,
}

/// One notification on screen. Dropping it stops waiting for its actions.
struct Showing {
    handle: Arc<NotificationHandle>,
    /// Tells this notification from a later one of the same call.
    generation: u64,
    waiter: JoinHandle<()>,
}

impl Drop for Showing {
    fn drop(&mut self) {
        self.waiter.abort();
    }
}

impl DesktopNotifier {
    pub fn new(opener: impl Opener) -> DesktopNotifier {
        DesktopNotifier {
            opener: Arc::new(opener),
            format: OnceCell::new(),
            shown: Arc::default(),
        }
    }

    /// Carries out a change the pop events called for.
    pub async fn apply(&self, change: &Change) -> Result<(), NotifyError> {
        match change {
            Change::Show(pop) => self.show(pop).await,
            Change::Answered(pop) => self.mark_answered(pop).await,
            Change::Close(call_id) => {
                self.withdraw(*call_id).await;
                Ok(())
            }
        }
    }

    /// Whether a notification service is there, and how it reads a body.
    pub async fn check(&self) -> Result<BodyFormat, NotifyError> {
        self.body_format().await
    }

    /// Shows the pop of a call, replacing the one already shown for it.
    pub async fn show(&self, pop: &Pop) -> Result<(), NotifyError> {
        let format = self.body_format().await?;

        let mut shown = self.shown.lock().await;
        let replaces = shown.by_call.get(&pop.call_id).map(|s| s.handle.id());
        self.send(&mut shown, pop, format, replaces).await
    }

    /// Marks the pop of a call answered, in place; it stays until the rep
    /// dismisses it. A pop no longer shown (dismissed, or already used to
    /// open the page) is not brought back.
    pub async fn mark_answered(&self, pop: &Pop) -> Result<(), NotifyError> {
        let format = self.body_format().await?;

        let mut shown = self.shown.lock().await;
        let Some(id) = shown.by_call.get(&pop.call_id).map(|s| s.handle.id()) else {
            tracing::debug!(call_id = pop.call_id, "no pop shown to mark answered");
            return Ok(());
        };
        let answered = Pop {
            answered: true,
            ..pop.clone()
        };
        self.send(&mut shown, &answered, format, Some(id)).await
    }

    /// Takes the pop of a call down, if one is shown.
    pub async fn withdraw(&self, call_id: i64) {
        let Some(showing) = self.shown.lock().await.by_call.remove(&call_id) else {
            return;
        };
        let handle = Arc::clone(&showing.handle);
        drop(showing);

        // notify-rust ignores the server's answer to CloseNotification: an
        // id the server already dropped is not an error worth reporting.
        let closed = tokio::time::timeout(CALL_TIMEOUT, handle.close_async()).await;
        if closed.is_err() {
            tracing::warn!(call_id, "notification service did not answer the close");
        }
        tracing::debug!(call_id, id = handle.id(), "pop withdrawn");
    }

    /// Takes every pop down, answered ones too: once the notifier is gone
    /// nobody would act on their "Log call".
    pub async fn withdraw_all(&self) {
        let calls: Vec<i64> = self.shown.lock().await.by_call.keys().copied().collect();
        for call_id in calls {
            self.withdraw(call_id).await;
        }
    }

    /// Sends the notification (replacing `replaces`) and waits for its
    /// actions in a task of its own.
    async fn send(
        &self,
        shown: &mut Shown,
        pop: &Pop,
        format: BodyFormat,
        replaces: Option<u32>,
    ) -> Result<(), NotifyError> {
        let mut notification = notification(&pop_content(pop, format));
        if let Some(id) = replaces {
            notification.id(id);
        }
        let handle = Arc::new(call(notification.show_async()).await?);
        tracing::debug!(
            call_id = pop.call_id,
            id = handle.id(),
            ?replaces,
            "pop shown"
        );

        shown.generation += 1;
        let generation = shown.generation;
        let waiter = self.spawn_waiter(pop, generation, Arc::clone(&handle));
        let showing = Showing {
            handle,
            generation,
            waiter,
        };

        // The entry this replaces, if any, is dropped, which stops its waiter.
        shown.by_call.insert(pop.call_id, showing);
        Ok(())
    }

    fn spawn_waiter(
        &self,
        pop: &Pop,
        generation: u64,
        handle: Arc<NotificationHandle>,
    ) -> JoinHandle<()> {
        let opener = Arc::clone(&self.opener);
        let shown = Arc::downgrade(&self.shown);
        let (call_id, link) = (pop.call_id, pop.link.clone());
        tokio::spawn(async move {
            await_action(&handle, call_id, opener, link).await;
            forget(&shown, call_id, generation).await;
        })
    }

    /// How the server reads a body, asked once: the answer does not change
    /// while the server runs. A failure is not kept, so a notification
    /// service that starts later is found on the next pop.
    async fn body_format(&self) -> Result<BodyFormat, NotifyError> {
        self.format.get_or_try_init(read_body_format).await.copied()
    }
}

/// The notification for some content. Nothing caller-controlled goes into
/// the action labels, hints or icon.
fn notification(content: &PopContent) -> Notification {
    let mut notification = Notification::new();
    notification
        .appname(APP_NAME)
        .icon(ICON)
        .summary(&content.summary)
        .body(&content.body)
        .action(LOG_CALL, "Log call")
        .action(DISMISS, "Dismiss")
        .urgency(Urgency::Normal)
        // The hub withdraws a ringing pop; an answered one stays until
        // dismissed. Neither should expire on the server's own timer.
        .timeout(Timeout::Never);
    notification
}

/// Runs one request to the notification server, bounded in time.
async fn call<T>(
    request: impl Future<Output = notify_rust::error::Result<T>>,
) -> Result<T, NotifyError> {
    match tokio::time::timeout(CALL_TIMEOUT, request).await {
        Ok(result) => result.map_err(NotifyError::from_bus),
        Err(_) => Err(NotifyError::Timeout(CALL_TIMEOUT)),
    }
}

async fn read_body_format() -> Result<BodyFormat, NotifyError> {
    // notify-rust offers GetCapabilities only as a blocking call. On a
    // timeout the thread is left to finish on its own.
    let task = tokio::task::spawn_blocking(notify_rust::get_capabilities);
    let joined = tokio::time::timeout(CALL_TIMEOUT, task)
        .await
        .map_err(|_| NotifyError::Timeout(CALL_TIMEOUT))?;
    let capabilities = joined
        .map_err(NotifyError::Capabilities)?
        .map_err(NotifyError::from_bus)?;

    let format = BodyFormat::from_capabilities(&capabilities);
    tracing::debug!(?format, ?capabilities, "notification service found");
    Ok(format)
}

/// Waits until the rep acts on the notification or it closes, and carries
/// out "Log call" or "Dismiss".
async fn await_action(
    handle: &NotificationHandle,
    call_id: i64,
    opener: Arc<dyn Opener>,
    link: String,
) {
    loop {
        match next_response(handle).await {
            Some(NotificationResponse::Action(key)) if key == LOG_CALL => {
                return open_link(opener, call_id, link).await;
            }
            Some(NotificationResponse::Action(key)) if key == DISMISS => {
                let _ = tokio::time::timeout(CALL_TIMEOUT, handle.close_async()).await;
                return tracing::debug!(call_id, "pop dismissed");
            }
            Some(NotificationResponse::Closed(reason)) => {
                return tracing::debug!(call_id, ?reason, "pop closed");
            }
            Some(other) => tracing::debug!(call_id, ?other, "pop action ignored"),
            None => return,
        }
    }
}

async fn next_response(handle: &NotificationHandle) -> Option<NotificationResponse> {
    let mut response = None;
    handle
        .wait_for_action_async(|r| response = Some(r.clone()))
        .await;
    response
}

async fn open_link(opener: Arc<dyn Opener>, call_id: i64, link: String) {
    // The link is ours, but it goes to a program that would also open
    // files or other schemes: only web pages are opened.
    if !(link.starts_with("http://") || link.starts_with("https://")) {
        return tracing::warn!(call_id, link, "refusing to open a link that is not http(s)");
    }

    let target = link.clone();
    match tokio::task::spawn_blocking(move || opener.open(&target)).await {
        Ok(Ok(())) => tracing::debug!(call_id, link, "call link opened"),
        Ok(Err(err)) => tracing::warn!(call_id, link, %err, "failed to open call link"),
        Err(err) => tracing::warn!(call_id, link, %err, "call link opener stopped"),
    }
}

/// Drops the record of a notification that is gone, unless a newer one of
/// the same call took its place meanwhile.
async fn forget(shown: &Weak<Mutex<Shown>>, call_id: i64, generation: u64) {
    let Some(shown) = shown.upgrade() else { return };
    let mut shown = shown.lock().await;
    let current = shown.by_call.get(&call_id).map(|s| s.generation);
    if current == Some(generation) {
        shown.by_call.remove(&call_id);
    }
}

/// Shared with the integration tests and the latency benchmark.
#[cfg(test)]
#[path = "../../../tests/it/notify_server.rs"]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;
