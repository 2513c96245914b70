//! The desktop agent as a rep runs it: the built `callpop` binary, with its
//! own config directory, on the private bus or on none.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use super::*;
use crate::helpers::{add_user, api_token_for, eventually, peer, ring};

const BIN: &str = env!("CARGO_BIN_EXE_callpop");

/// `callpop` with a config directory of its own and `bus` as its session
/// bus (an address where no bus is, by default).
fn callpop(config_home: &Path, bus: Option<&str>) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("XDG_CONFIG_HOME", config_home)
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            bus.unwrap_or("unix:path=/nonexistent/bus"),
        )
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A running `callpop agent` and what it printed so far.
struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    fn spawn(mut command: Command) -> Running {
        let mut child = command.spawn().expect("failed to start callpop");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits until `text` shows in standard output or error.
    async fn wait_for(&self, out: &Arc<Mutex<String>>, text: &str) {
        let found = async || out.lock().unwrap().contains(text).then_some(());
        if eventually(WAIT, found).await.is_none() {
            panic!(
                "{text:?} never came; stdout:\n{}\nstderr:\n{}",
                self.stdout.lock().unwrap(),
                self.stderr.lock().unwrap()
            );
        }
    }

    /// Stops it as a logout does, and how it ended.
    async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("still running").to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(killed.unwrap().success());
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the agent stops on SIGTERM")
            .unwrap()
    }
}

/// Reads a pipe into a string shared with the test.
fn collect(pipe: impl AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let into = text.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut text = into.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

/// `callpop agent login` with `token` on standard input.
async fn login(config_home: &Path, server: &str, token: &str) -> std::process::Output {
    let mut command = callpop(config_home, None);
    command
        .args(["agent", "login", "--server", server])
        .stdin(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{token}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A rep signs in once, then the agent follows the rep's own extension
/// with what was saved: sipp rings it, the pop shows and goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_signs_in_once_and_the_agent_shows_the_reps_own_pops() {
    if peer("sipp").is_none() {
        return;
    }
    let Some(bus) = PrivateBus::start().await else {
        return;
    };
    let server = Server::start(&bus, S1).await;
    let app = spawn_app(&[]).await;
    let dana = add_user(&app, "dana", "rep", &["201"], "correct horse battery").await;
    let token = api_token_for(&app, dana).await;
    let home = tempfile::tempdir().unwrap();
    let saved = home.path().join("callpop").join("agent.toml");

    // A wrong token is refused, and nothing is saved.
    let refused = login(home.path(), &app.url("/"), "not-a-token").await;
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(said.contains("refused this token (401"), "{said}");
    assert!(!saved.exists());

    let signed_in = login(home.path(), &app.url("/"), &token).await;
    assert!(signed_in.status.success(), "{}", text(&signed_in.stderr));
    assert!(text(&signed_in.stdout).contains("as dana (extensions 201)"));
    #[cfg(unix)]
    assert_eq!(
        (mode(&saved), mode(saved.parent().unwrap())),
        (0o600, 0o700)
    );

    // No flags: the server and token saved, the rep's own extensions.
    let mut command = callpop(home.path(), Some(bus.address()));
    command.arg("agent");
    let agent = Running::spawn(command);
    agent
        .wait_for(&agent.stderr, "desktop notifications on")
        .await;
    agent.wait_for(&agent.stderr, "pop stream connected").await;

    let udp = SipUdp::new(app.sip).await;
    let elsewhere = Call::new("202", "+12125550221", None);
    elsewhere.ring(&udp).await;
    ring(&app, "ring-cancel.xml", "+12125550241", "Jane Roe", &[]).await;
    let shown = notifies(&server, 1).await[0].clone();
    assert_eq!(shown.summary, "Call from (212) 555-0241", "{shown:?}");
    assert_eq!(shown.body, "Jane Roe\n(212) 555-0241");
    server.wait_for_close(shown.id).await;
    elsewhere.cancel(&udp).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(server.notifies().len(), 1, "202 is not the rep's");

    let status = agent.terminate().await;
    assert!(status.success(), "{status}");
    app.stop().await;
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_bus_the_agent_says_so_and_prints_pops() {
    let app = spawn_app(&[]).await;
    let home = tempfile::tempdir().unwrap();
    let mut command = callpop(home.path(), None);
    let server = app.url("/");
    command.args([
        "agent",
        "--server",
        &server,
        "--token",
        TOKEN,
        "--extension",
        "201",
    ]);
    let agent = Running::spawn(command);
    agent
        .wait_for(
            &agent.stderr,
            "no desktop notifications: pops are printed here instead",
        )
        .await;
    agent.wait_for(&agent.stderr, "pop stream connected").await;

    let udp = SipUdp::new(app.sip).await;
    let call = Call::new("201", "+12125550231", Some("Tom & Jerry"));
    call.ring(&udp).await;
    let id = call_id(&app, "+12125550231").await;
    let link = app.url(&format!("/calls/{id}"));
    let line = format!("Call from (212) 555-0231 | Tom & Jerry | (212) 555-0231 | {link}\n");
    agent.wait_for(&agent.stdout, &line).await;
    call.cancel(&udp).await;
    agent
        .wait_for(&agent.stdout, &format!("Call {id} is over\n"))
        .await;

    let warned = agent
        .stderr
        .lock()
        .unwrap()
        .matches("no desktop notifications")
        .count();
    assert_eq!(warned, 1, "said once");
    assert!(agent.terminate().await.success());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_ends_the_agent_with_the_reason() {
    let app = spawn_app(&[]).await;
    let home = tempfile::tempdir().unwrap();
    let mut command = callpop(home.path(), None);
    command.args([
        "agent",
        "--server",
        &app.url("/"),
        "--token",
        "zq-not-valid-77",
    ]);

    let out = tokio::time::timeout(WAIT, command.output())
        .await
        .expect("a refused token ends the agent at once")
        .unwrap();
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains("the server refused the token (401 Unauthorized"),
        "{said}"
    );
    assert!(
        !said.contains("zq-not"),
        "the token is not repeated: {said}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_writes_an_autostart_entry_and_uninstall_removes_it() {
    let home = tempfile::tempdir().unwrap();
    let entry = home.path().join("autostart").join("callpop-agent.desktop");
    let run = |args: &'static [&'static str]| {
        let mut command = callpop(home.path(), None);
        command.args(args);
        command.output()
    };

    // Without a login the agent started at login would have nothing.
    let out = run(&["agent", "install"]).await.unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("callpop agent login --server URL"));
    assert!(!entry.exists());

    let saved = home.path().join("callpop").join("agent.toml");
    callpop::agent::config::save(&saved, "http://127.0.0.1:1/", &Secret::new("t")).unwrap();
    let out = run(&["agent", "install", "--extension", "201"])
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&entry).unwrap();
    let exec = format!("Exec=\"{BIN}\" \"agent\" \"--extension\" \"201\"\n");
    assert!(written.contains(&exec), "{written}");
    assert!(!written.contains("token"), "{written}");

    let out = run(&["agent", "uninstall"]).await.unwrap();
    assert!(out.status.success());
    assert!(!entry.exists());
    let again = run(&["agent", "uninstall"]).await.unwrap();
    assert!(again.status.success());
    assert!(text(&again.stdout).starts_with("nothing to remove"));
}
