//! A dbus-daemon of our own and a notification server on it that records
//! what it is asked, for the notifier's unit tests, the desktop agent's
//! integration tests and the agent latency benchmark (each includes this
//! file as a module).
//!
//! notify-rust takes the bus only from DBUS_SESSION_BUS_ADDRESS, which
//! every test thread shares, so the tests take turns: each holds
//! `BUS_LOCK` for its whole run, with a bus of its own.

// Each includer uses a part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{watch, Mutex, MutexGuard};
use zbus::object_server::SignalEmitter;
use zbus::OwnedVariant;

pub(crate) const ADDRESS_VAR: &str = "DBUS_SESSION_BUS_ADDRESS";
const PATH: &str = "/org/freedesktop/Notifications";
pub(crate) const WAIT: Duration = Duration::from_secs(5);

static BUS_LOCK: Mutex<()> = Mutex::const_new(());

/// A dbus-daemon of our own, with DBUS_SESSION_BUS_ADDRESS pointing
/// at it until it is dropped.
pub(crate) struct PrivateBus {
    address: String,
    daemon: Child,
    previous: Option<OsString>,
    _dir: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl PrivateBus {
    /// `None` when dbus-daemon is missing on a developer's machine;
    /// in CI a missing daemon fails the test instead.
    pub(crate) async fn start() -> Option<PrivateBus> {
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

    /// The bus's address, for a process started beside the test.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    pub(crate) async fn stop(mut self) {
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
  <!-- The notifier keeps a connection per notification showing; the
       benchmark shows hundreds at once. -->
  <limit name="max_completed_connections">100000</limit>
  <limit name="max_connections_per_user">100000</limit>
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
pub(crate) struct Notify {
    pub(crate) id: u32,
    pub(crate) app_name: String,
    pub(crate) replaces_id: u32,
    pub(crate) app_icon: String,
    pub(crate) summary: String,
    pub(crate) body: String,
    pub(crate) actions: Vec<String>,
    pub(crate) hints: HashMap<String, String>,
    pub(crate) timeout: i32,
    /// When the server received it.
    pub(crate) at: SystemTime,
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
            at: SystemTime::now(),
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
pub(crate) struct Server {
    connection: zbus::Connection,
    seen: watch::Receiver<Vec<Seen>>,
}

impl Server {
    pub(crate) async fn start(bus: &PrivateBus, capabilities: &[&str]) -> Server {
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

    pub(crate) fn notifies(&self) -> Vec<Notify> {
        let seen = self.seen.borrow();
        let notifies = seen.iter().filter_map(|s| match s {
            Seen::Notify(n) => Some(n.clone()),
            Seen::Close(_) => None,
        });
        notifies.collect()
    }

    pub(crate) fn last_notify(&self) -> Notify {
        self.notifies().pop().expect("no Notify call seen")
    }

    pub(crate) fn closes(&self) -> Vec<u32> {
        let seen = self.seen.borrow();
        let closes = seen.iter().filter_map(|s| match s {
            Seen::Close(id) => Some(*id),
            Seen::Notify(_) => None,
        });
        closes.collect()
    }

    /// Waits until `n` Notify calls came, for at most `wait`; all of them.
    pub(crate) async fn wait_for_notifies(&self, n: usize, wait: Duration) -> Vec<Notify> {
        let mut seen = self.seen.clone();
        let count = |seen: &Vec<Seen>| {
            let notifies = seen.iter().filter(|s| matches!(s, Seen::Notify(_)));
            notifies.count()
        };
        let _ = tokio::time::timeout(wait, seen.wait_for(|seen| count(seen) >= n)).await;
        self.notifies()
    }

    pub(crate) async fn wait_for_close(&self, id: u32) {
        let mut seen = self.seen.clone();
        let closed = seen.wait_for(|seen| seen.contains(&Seen::Close(id)));
        let waited = tokio::time::timeout(WAIT, closed).await;
        waited
            .expect("no CloseNotification seen")
            .expect("server gone");
    }

    /// Sends ActionInvoked as a click on the notification would.
    pub(crate) async fn click(&self, id: u32, action: &str) {
        let server = self.connection.object_server();
        let iface = server.interface::<_, TestServer>(PATH).await.unwrap();
        let emitter = iface.signal_emitter();
        TestServer::action_invoked(emitter, id, action)
            .await
            .unwrap();
    }
}
