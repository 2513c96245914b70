//! The pop on this machine's own desktop: a freedesktop notification sent
//! over the session bus through notify-rust, replaced in place while the
//! call changes and withdrawn when the hub withdraws it.
//!
//! Caller-controlled text (display name, number) goes through
//! [`safe_text`] and only ever into the body; the summary carries our own
//! words or the CRM's labels. The server's `body-markup` capability is read
//! once, on the first pop, and decides whether the body is escaped.
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

use super::safe_text::{self, BodyFormat};

/// The longest a call to the notification server may take: a server that
/// hangs must not hold up the pops of later calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Several matches are listed one per line, up to this many.
const MAX_LISTED: usize = 5;

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

/// What the desktop notification shows for one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PopView {
    pub call_id: i64,
    /// The number as people write it, or empty.
    pub caller: String,
    /// The caller's display name exactly as the PBX sent it.
    pub name: Option<String>,
    pub withheld: bool,
    /// Labels of the matched customers (and contacts), all of them.
    pub customers: Vec<String>,
    pub open_topics: u32,
    pub latest_topic: Option<String>,
    /// Absolute URL of `/calls/{id}`.
    pub link: String,
    pub answered: bool,
}

/// The text of a notification, as sent to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PopContent {
    /// Always plain text, as the specification has it.
    pub summary: String,
    /// Escaped when the server reads markup.
    pub body: String,
}

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

    /// Shows the pop of a call, replacing the one already shown for it.
    pub async fn show(&self, pop: &PopView) -> Result<(), NotifyError> {
        let format = self.body_format().await?;

        let mut shown = self.shown.lock().await;
        let replaces = shown.by_call.get(&pop.call_id).map(|s| s.handle.id());
        self.send(&mut shown, pop, format, replaces).await
    }

    /// Marks the pop of a call answered, in place; it stays until the rep
    /// dismisses it. A pop no longer shown (dismissed, or already used to
    /// open the page) is not brought back.
    pub async fn mark_answered(&self, pop: &PopView) -> Result<(), NotifyError> {
        let format = self.body_format().await?;

        let mut shown = self.shown.lock().await;
        let Some(id) = shown.by_call.get(&pop.call_id).map(|s| s.handle.id()) else {
            tracing::debug!(call_id = pop.call_id, "no pop shown to mark answered");
            return Ok(());
        };
        let answered = PopView {
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

    /// Sends the notification (replacing `replaces`) and waits for its
    /// actions in a task of its own.
    async fn send(
        &self,
        shown: &mut Shown,
        pop: &PopView,
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
        pop: &PopView,
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

/// What a pop says. Caller-controlled text goes only into the body, cleaned,
/// and escaped when the server reads markup; the summary is plain text and
/// holds our own words or the CRM's labels.
pub fn pop_content(pop: &PopView, format: BodyFormat) -> PopContent {
    let mut summary = summary(pop);
    if pop.answered {
        summary.push_str(" (answered)");
    }

    let lines = body_lines(pop);
    let rendered: Vec<_> = lines.iter().map(|line| format.render(line)).collect();
    PopContent {
        summary,
        body: rendered.join("\n"),
    }
}

fn summary(pop: &PopView) -> String {
    let number = safe_text::clean(&pop.caller);
    let label = match pop.customers.as_slice() {
        _ if pop.withheld => None,
        [one] => Some(safe_text::clean(one)).filter(|l| !l.is_empty()),
        [] => None,
        many => Some(format!("{} matching customers", many.len())),
    };
    match label {
        Some(label) => label,
        None if pop.withheld => "Withheld number".to_owned(),
        None if number.is_empty() => "Number unavailable".to_owned(),
        None => "Incoming call".to_owned(),
    }
}

/// The body, a line at a time, cleaned but not yet escaped.
fn body_lines(pop: &PopView) -> Vec<String> {
    let mut lines = Vec::new();

    // A withheld caller's name is left out too: PBXs often repeat the
    // number as the name. With one match, the summary already says who.
    if !pop.withheld && pop.customers.len() != 1 {
        let name = pop.name.as_deref().and_then(safe_text::caller_name);
        lines.push(name.unwrap_or_else(|| "Unknown caller".to_owned()));
    }

    let number = safe_text::clean(&pop.caller);
    if !pop.withheld && !number.is_empty() {
        lines.push(number);
    }

    if pop.customers.len() > 1 {
        lines.extend(match_lines(&pop.customers));
    }
    lines.extend(topics_line(pop));
    lines
}

/// Every match, so the rep never takes the first for the caller.
fn match_lines(customers: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = customers
        .iter()
        .take(MAX_LISTED)
        .map(|label| format!("• {}", safe_text::clean(label)))
        .collect();
    if customers.len() > MAX_LISTED {
        lines.push(format!("and {} more", customers.len() - MAX_LISTED));
    }
    lines
}

fn topics_line(pop: &PopView) -> Option<String> {
    let latest = pop.latest_topic.as_deref().map(safe_text::clean);
    let latest = latest.filter(|title| !title.is_empty());
    match (pop.open_topics, latest) {
        (0, _) => None,
        (1, Some(title)) => Some(format!("1 open topic: {title}")),
        (1, None) => Some("1 open topic".to_owned()),
        (n, Some(title)) => Some(format!("{n} open topics, latest: {title}")),
        (n, None) => Some(format!("{n} open topics")),
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

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &[&str] = &["body", "body-markup", "actions"];
    const S2: &[&str] = &["body"];
    const NUMBER: &str = "+1 212 555 0171";

    fn unknown_caller(name: Option<&str>) -> PopView {
        PopView {
            call_id: 23,
            caller: NUMBER.to_owned(),
            name: name.map(str::to_owned),
            link: "http://127.0.0.1:8080/calls/23".to_owned(),
            ..PopView::default()
        }
    }

    fn known_customer() -> PopView {
        PopView {
            call_id: 7,
            caller: "+1 212 555 0100".to_owned(),
            name: Some("ACME RECEPTION".to_owned()),
            customers: vec!["Jane Doe (Acme & Sons)".to_owned()],
            open_topics: 2,
            latest_topic: Some("Invoice <March> & credit".to_owned()),
            link: "http://127.0.0.1:8080/calls/7".to_owned(),
            ..PopView::default()
        }
    }

    fn withheld() -> PopView {
        PopView {
            call_id: 19,
            // Neither should be shown, even if a PBX sends them anyway.
            caller: NUMBER.to_owned(),
            name: Some("2125550171".to_owned()),
            withheld: true,
            link: "http://127.0.0.1:8080/calls/19".to_owned(),
            ..PopView::default()
        }
    }

    /// Field case 23 and the Asterisk name: the display name, and the first
    /// body line a markup server and a plain server get. N1 is 70 chars, so
    /// the case's 64-char cap cuts it (the case itself shows it whole).
    const CASE_23: [(&str, &str, &str); 6] = [
        (
            "<b>Your Bank</b> <a href=\"http://phish.example.com/\">Verify account</a>",
            "&lt;b&gt;Your Bank&lt;/b&gt; &lt;a href=\"http://phish.example.com/\"&gt;Verify acc…",
            "<b>Your Bank</b> <a href=\"http://phish.example.com/\">Verify acc…",
        ),
        (
            "Tom & Jerry <3 Pizza",
            "Tom &amp; Jerry &lt;3 Pizza",
            "Tom & Jerry <3 Pizza",
        ),
        ("<unknown>", "Unknown caller", "Unknown caller"),
        (
            "ACME Support \u{202E}fdp.exe",
            "ACME Support fdp.exe",
            "ACME Support fdp.exe",
        ),
        (
            "Line one\r\nLine two\u{0}\u{7}",
            "Line one Line two",
            "Line one Line two",
        ),
        (
            "Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本",
            "Zoë Ångström-Nuñez &lt;b&gt;VIP&lt;/b&gt; &amp; Ünïcødé 日本",
            "Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本",
        ),
    ];

    #[test]
    fn case_23_bodies_for_both_servers() {
        let long = "A".repeat(300);
        let capped = format!("{}…", "A".repeat(63));
        let n6 = (long.as_str(), capped.as_str(), capped.as_str());

        for (raw, markup, plain) in CASE_23.into_iter().chain([n6]) {
            let pop = unknown_caller(Some(raw));
            for (format, name) in [(BodyFormat::Markup, markup), (BodyFormat::Plain, plain)] {
                let content = pop_content(&pop, format);
                assert_eq!(content.summary, "Incoming call", "{raw:?}");
                assert_eq!(
                    content.body,
                    format!("{name}\n{NUMBER}"),
                    "{format:?}, {raw:?}"
                );
            }
        }
    }

    #[test]
    fn a_known_customer_is_named_in_the_summary() {
        let content = pop_content(&known_customer(), BodyFormat::Markup);
        assert_eq!(content.summary, "Jane Doe (Acme & Sons)");
        assert_eq!(
            content.body,
            "+1 212 555 0100\n2 open topics, latest: Invoice &lt;March&gt; &amp; credit"
        );

        let plain = pop_content(&known_customer(), BodyFormat::Plain);
        assert_eq!(
            plain.body,
            "+1 212 555 0100\n2 open topics, latest: Invoice <March> & credit"
        );
    }

    #[test]
    fn several_matches_are_all_listed() {
        let mut pop = known_customer();
        pop.customers = (1..=7).map(|i| format!("Customer {i}")).collect();
        pop.open_topics = 1;
        pop.latest_topic = None;

        let content = pop_content(&pop, BodyFormat::Plain);
        assert_eq!(content.summary, "7 matching customers");
        let listed = (1..=5)
            .map(|i| format!("• Customer {i}\n"))
            .collect::<String>();
        let caller = "ACME RECEPTION\n+1 212 555 0100\n";
        let expected = format!("{caller}{listed}and 2 more\n1 open topic");
        assert_eq!(content.body, expected);
    }

    #[test]
    fn a_withheld_caller_shows_no_number() {
        let content = pop_content(&withheld(), BodyFormat::Markup);
        assert_eq!(content.summary, "Withheld number");
        assert_eq!(content.body, "");
    }

    #[test]
    fn no_number_and_no_match() {
        let pop = PopView {
            caller: String::new(),
            ..unknown_caller(Some("anonymous"))
        };
        let content = pop_content(&pop, BodyFormat::Plain);
        assert_eq!(content.summary, "Number unavailable");
        assert_eq!(content.body, "Unknown caller");
    }

    #[test]
    fn an_answered_pop_says_so() {
        let pop = PopView {
            answered: true,
            ..known_customer()
        };
        let content = pop_content(&pop, BodyFormat::Plain);
        assert_eq!(content.summary, "Jane Doe (Acme & Sons) (answered)");
    }

    #[test]
    fn errors_say_what_failed() {
        assert_eq!(
            NotifyError::NoService.to_string(),
            "no desktop notification service on the session bus"
        );
        let unknown = notify_rust::error::Error::from(
            "org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable",
        );
        assert!(matches!(
            NotifyError::from_bus(unknown),
            NotifyError::NoService
        ));
    }

    mod dbus {
        //! The notifier against a real dbus-daemon and a notification
        //! server of our own on it.
        //!
        //! notify-rust takes the bus only from DBUS_SESSION_BUS_ADDRESS,
        //! which every test thread shares, so these tests take turns: each
        //! holds `BUS_LOCK` for its whole run, with a bus of its own.

        use super::*;

        use std::ffi::OsString;
        use std::process::Stdio;

        use tokio::io::{AsyncBufReadExt, BufReader};
        use tokio::process::{Child, Command};
        use tokio::sync::{mpsc, watch, MutexGuard};
        use zbus::object_server::SignalEmitter;
        use zbus::OwnedVariant;

        const ADDRESS_VAR: &str = "DBUS_SESSION_BUS_ADDRESS";
        const PATH: &str = "/org/freedesktop/Notifications";
        const WAIT: Duration = Duration::from_secs(5);

        static BUS_LOCK: Mutex<()> = Mutex::const_new(());

        /// A dbus-daemon of our own, with DBUS_SESSION_BUS_ADDRESS pointing
        /// at it until it is dropped.
        struct PrivateBus {
            address: String,
            daemon: Child,
            previous: Option<OsString>,
            _dir: tempfile::TempDir,
            _turn: MutexGuard<'static, ()>,
        }

        impl PrivateBus {
            /// `None` when dbus-daemon is missing on a developer's machine;
            /// in CI a missing daemon fails the test instead.
            async fn start() -> Option<PrivateBus> {
                let turn = BUS_LOCK.lock().await;
                let dir = tempfile::tempdir().expect("failed to create a bus directory");
                let mut daemon = spawn_daemon(&dir)?;

                // The daemon prints its address once it listens.
                let stdout = daemon.stdout.take().expect("dbus-daemon stdout is piped");
                let mut line = String::new();
                let mut stdout = BufReader::new(stdout);
                let read = stdout.read_line(&mut line);
                tokio::time::timeout(WAIT, read)
                    .await
                    .expect("dbus-daemon printed no address")
                    .expect("failed to read the dbus-daemon address");
                let address = line.trim().to_owned();

                let previous = std::env::var_os(ADDRESS_VAR);
                std::env::set_var(ADDRESS_VAR, &address);
                Some(PrivateBus {
                    address,
                    daemon,
                    previous,
                    _dir: dir,
                    _turn: turn,
                })
            }

            async fn stop(mut self) {
                self.daemon
                    .kill()
                    .await
                    .expect("failed to stop dbus-daemon");
            }
        }

        impl Drop for PrivateBus {
            fn drop(&mut self) {
                let _ = self.daemon.start_kill();
                match self.previous.take() {
                    Some(previous) => std::env::set_var(ADDRESS_VAR, previous),
                    None => std::env::remove_var(ADDRESS_VAR),
                }
            }
        }

        /// The daemon runs with a configuration of its own rather than
        /// `--session`: the standard session configuration would start
        /// whatever notification daemon the machine has installed, and the
        /// test with no server on the bus would then depend on the machine.
        fn spawn_daemon(dir: &tempfile::TempDir) -> Option<Child> {
            let config = dir.path().join("session.conf");
            std::fs::write(&config, bus_config(dir.path())).expect("failed to write bus config");

            let spawned = Command::new("dbus-daemon")
                .arg(format!("--config-file={}", config.display()))
                .args(["--print-address", "--nofork"])
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn();
            match spawned {
                Ok(daemon) => Some(daemon),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "dbus-daemon is missing (Debian package dbus); CI must run this test"
                    );
                    eprintln!("skipping: dbus-daemon is missing (Debian package dbus)");
                    None
                }
                Err(err) => panic!("failed to start dbus-daemon: {err}"),
            }
        }

        fn bus_config(dir: &std::path::Path) -> String {
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.display()
            )
        }

        /// A Notify call as the server received it.
        #[derive(Clone, Debug, PartialEq)]
        struct Notify {
            id: u32,
            app_name: String,
            replaces_id: u32,
            app_icon: String,
            summary: String,
            body: String,
            actions: Vec<String>,
            hints: HashMap<String, String>,
            timeout: i32,
        }

        #[derive(Clone, Debug, PartialEq)]
        enum Seen {
            Notify(Notify),
            Close(u32),
        }

        /// A notification server that records what it is asked.
        struct TestServer {
            capabilities: Vec<String>,
            seen: watch::Sender<Vec<Seen>>,
            last_id: u32,
        }

        #[zbus::interface(name = "org.freedesktop.Notifications")]
        impl TestServer {
            #[allow(clippy::too_many_arguments)]
            fn notify(
                &mut self,
                app_name: String,
                replaces_id: u32,
                app_icon: String,
                summary: String,
                body: String,
                actions: Vec<String>,
                hints: HashMap<String, OwnedVariant>,
                expire_timeout: i32,
            ) -> u32 {
                let id = if replaces_id == 0 {
                    self.last_id + 1
                } else {
                    replaces_id
                };
                self.last_id = self.last_id.max(id);
                let hints = hints
                    .into_iter()
                    .map(|(k, v)| (k, format!("{v:?}")))
                    .collect();
                let notify = Notify {
                    id,
                    app_name,
                    replaces_id,
                    app_icon,
                    summary,
                    body,
                    actions,
                    hints,
                    timeout: expire_timeout,
                };
                self.seen
                    .send_modify(|seen| seen.push(Seen::Notify(notify)));
                id
            }

            async fn close_notification(
                &self,
                id: u32,
                #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
            ) -> zbus::fdo::Result<()> {
                self.seen.send_modify(|seen| seen.push(Seen::Close(id)));
                // Reason 3: closed by a call to CloseNotification.
                Self::notification_closed(&emitter, id, 3).await?;
                Ok(())
            }

            fn get_capabilities(&self) -> Vec<String> {
                self.capabilities.clone()
            }

            fn get_server_information(&self) -> (String, String, String, String) {
                let info = ["callpop-test", "callpop", "1", "1.2"];
                info.map(str::to_owned).into()
            }

            #[zbus(signal)]
            async fn action_invoked(
                emitter: &SignalEmitter<'_>,
                id: u32,
                action_key: &str,
            ) -> zbus::Result<()>;

            #[zbus(signal)]
            async fn notification_closed(
                emitter: &SignalEmitter<'_>,
                id: u32,
                reason: u32,
            ) -> zbus::Result<()>;
        }

        /// The test's side of a `TestServer` on the bus.
        struct Server {
            connection: zbus::Connection,
            seen: watch::Receiver<Vec<Seen>>,
        }

        impl Server {
            async fn start(bus: &PrivateBus, capabilities: &[&str]) -> Server {
                let (tx, seen) = watch::channel(Vec::new());
                let capabilities = capabilities.iter().map(|c| c.to_string()).collect();
                let server = TestServer {
                    capabilities,
                    seen: tx,
                    last_id: 0,
                };
                let connection = zbus::connection::Builder::address(bus.address.as_str())
                    .serve_at(PATH, server)
                    .name("org.freedesktop.Notifications")
                    .build()
                    .await
                    .expect("failed to serve notifications on the private bus");
                Server { connection, seen }
            }

            fn notifies(&self) -> Vec<Notify> {
                let seen = self.seen.borrow();
                let notifies = seen.iter().filter_map(|s| match s {
                    Seen::Notify(n) => Some(n.clone()),
                    Seen::Close(_) => None,
                });
                notifies.collect()
            }

            fn last_notify(&self) -> Notify {
                self.notifies().pop().expect("no Notify call seen")
            }

            fn closes(&self) -> Vec<u32> {
                let seen = self.seen.borrow();
                let closes = seen.iter().filter_map(|s| match s {
                    Seen::Close(id) => Some(*id),
                    Seen::Notify(_) => None,
                });
                closes.collect()
            }

            async fn wait_for_close(&self, id: u32) {
                let mut seen = self.seen.clone();
                let closed = seen.wait_for(|seen| seen.contains(&Seen::Close(id)));
                let waited = tokio::time::timeout(WAIT, closed).await;
                waited
                    .expect("no CloseNotification seen")
                    .expect("server gone");
            }

            /// Sends ActionInvoked as a click on the notification would.
            async fn click(&self, id: u32, action: &str) {
                let server = self.connection.object_server();
                let iface = server.interface::<_, TestServer>(PATH).await.unwrap();
                let emitter = iface.signal_emitter();
                TestServer::action_invoked(emitter, id, action)
                    .await
                    .unwrap();
            }
        }

        fn recording_notifier() -> (DesktopNotifier, mpsc::UnboundedReceiver<String>) {
            let (tx, links) = mpsc::unbounded_channel();
            let opener = move |link: &str| -> io::Result<()> {
                tx.send(link.to_owned()).map_err(io::Error::other)
            };
            (DesktopNotifier::new(opener), links)
        }

        #[tokio::test]
        async fn a_pop_is_shown_replaced_answered_and_withdrawn() {
            let Some(bus) = PrivateBus::start().await else {
                return;
            };
            let server = Server::start(&bus, S1).await;
            let (notifier, _links) = recording_notifier();

            // Shown: who, the number, the topics; fixed actions and hints.
            notifier.show(&known_customer()).await.unwrap();
            let first = server.last_notify();
            let body = "+1 212 555 0100\n\
                        2 open topics, latest: Invoice &lt;March&gt; &amp; credit";
            let expected = Notify {
                id: first.id,
                app_name: "callpop".to_owned(),
                replaces_id: 0,
                app_icon: "call-start".to_owned(),
                summary: "Jane Doe (Acme & Sons)".to_owned(),
                body: body.to_owned(),
                actions: ["log-call", "Log call", "dismiss", "Dismiss"]
                    .map(String::from)
                    .into(),
                hints: first.hints.clone(),
                timeout: 0,
            };
            assert_eq!(first, expected);
            assert_eq!(first.hints.keys().collect::<Vec<_>>(), ["urgency"]);

            // Shown again: the same notification, not a second one.
            notifier.show(&known_customer()).await.unwrap();
            let again = server.last_notify();
            assert_eq!((again.replaces_id, again.id), (first.id, first.id));

            // Answered: updated in place.
            notifier.mark_answered(&known_customer()).await.unwrap();
            let answered = server.last_notify();
            assert_eq!((answered.replaces_id, answered.id), (first.id, first.id));
            assert_eq!(answered.summary, "Jane Doe (Acme & Sons) (answered)");

            // Withdrawn: closed by id; other calls are left alone.
            notifier.withdraw(99).await;
            notifier.withdraw(known_customer().call_id).await;
            assert_eq!(server.closes(), [first.id]);
            assert_eq!(server.notifies().len(), 3);
            bus.stop().await;
        }

        #[tokio::test]
        async fn unknown_and_withheld_callers() {
            let Some(bus) = PrivateBus::start().await else {
                return;
            };
            let server = Server::start(&bus, S1).await;
            let (notifier, _links) = recording_notifier();

            notifier.show(&unknown_caller(None)).await.unwrap();
            let unknown = server.last_notify();
            assert_eq!(unknown.summary, "Incoming call");
            assert_eq!(unknown.body, format!("Unknown caller\n{NUMBER}"));

            notifier.show(&withheld()).await.unwrap();
            let withheld = server.last_notify();
            assert_eq!(
                (withheld.summary.as_str(), withheld.body.as_str()),
                ("Withheld number", "")
            );
            let shown = format!("{}{}", withheld.summary, withheld.body);
            assert!(!shown.chars().any(|c| c.is_ascii_digit()), "{shown:?}");
            assert_ne!(withheld.id, unknown.id);
            bus.stop().await;
        }

        /// Field case 23 against a real server of each kind.
        async fn check_case_23(capabilities: &[&str]) {
            let Some(bus) = PrivateBus::start().await else {
                return;
            };
            let server = Server::start(&bus, capabilities).await;
            let (notifier, _links) = recording_notifier();

            let markup = capabilities.contains(&"body-markup");
            for (call_id, (raw, escaped, plain)) in (1..).zip(CASE_23) {
                let pop = PopView {
                    call_id,
                    ..unknown_caller(Some(raw))
                };
                notifier.show(&pop).await.unwrap();

                let seen = server.last_notify();
                let name = if markup { escaped } else { plain };
                assert_eq!(seen.summary, "Incoming call", "{raw:?}");
                assert_eq!(seen.body, format!("{name}\n{NUMBER}"), "{raw:?}");
                let elsewhere = format!("{:?}{:?}{}", seen.actions, seen.hints, seen.app_icon);
                assert!(!elsewhere.contains("Bank") && !elsewhere.contains("Tom"));
            }
            bus.stop().await;
        }

        #[tokio::test]
        async fn caller_text_is_escaped_for_a_markup_server() {
            check_case_23(S1).await;
        }

        #[tokio::test]
        async fn caller_text_is_sent_plain_to_a_plain_server() {
            check_case_23(S2).await;
        }

        #[tokio::test]
        async fn log_call_opens_the_link_and_dismiss_closes() {
            let Some(bus) = PrivateBus::start().await else {
                return;
            };
            let server = Server::start(&bus, S2).await;
            let (notifier, mut links) = recording_notifier();

            // The notifier listens for actions from a task it starts after
            // Notify returns; like a click that early, a signal sent before
            // that reaches nobody. So the click repeats until it is seen.
            notifier.show(&known_customer()).await.unwrap();
            let id = server.last_notify().id;
            let clicked = async {
                loop {
                    server.click(id, LOG_CALL).await;
                    let retry = Duration::from_millis(50);
                    if let Ok(link) = tokio::time::timeout(retry, links.recv()).await {
                        return link;
                    }
                }
            };
            let link = tokio::time::timeout(WAIT, clicked)
                .await
                .expect("log call not seen");
            assert_eq!(link.as_deref(), Some("http://127.0.0.1:8080/calls/7"));

            // Dismiss closes the notification from the notifier's side.
            notifier.show(&unknown_caller(None)).await.unwrap();
            let id = server.last_notify().id;
            let dismissed = async {
                loop {
                    server.click(id, DISMISS).await;
                    let retry = Duration::from_millis(50);
                    if tokio::time::timeout(retry, server.wait_for_close(id))
                        .await
                        .is_ok()
                    {
                        return;
                    }
                }
            };
            tokio::time::timeout(WAIT, dismissed)
                .await
                .expect("dismiss not seen");
            assert!(links.try_recv().is_err(), "dismiss opened a link");
            bus.stop().await;
        }

        #[tokio::test]
        async fn no_server_on_the_bus_is_a_clear_error() {
            let Some(bus) = PrivateBus::start().await else {
                return;
            };
            let (notifier, _links) = recording_notifier();

            let err = notifier.show(&known_customer()).await.unwrap_err();
            assert!(matches!(err, NotifyError::NoService), "{err:?}");
            assert_eq!(
                err.to_string(),
                "no desktop notification service on the session bus"
            );
            notifier.withdraw(known_customer().call_id).await;

            // No bus at all fails as quickly, with the reason.
            std::env::set_var(ADDRESS_VAR, "unix:path=/nonexistent/callpop-test-bus");
            let err = notifier.show(&known_customer()).await.unwrap_err();
            assert!(matches!(err, NotifyError::Bus(_)), "{err:?}");
            assert!(err.to_string().starts_with("failed to reach"), "{err}");
            bus.stop().await;
        }
    }
}
