//! The built `callpop` binary as a user runs it: defaults, config errors,
//! signals, a crash while a call rings, and the pages and API it serves.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::{spawn_app, TOKEN};

const BIN: &str = env!("CARGO_BIN_EXE_callpop");

/// `callpop serve` in `dir`, on port 0, with its addresses read off its log.
struct Daemon {
    child: Child,
    web: SocketAddr,
    sip: SocketAddr,
}

/// A test that fails part-way must not leave its daemon running.
impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn serve(dir: &Path, env: &[(&str, &str)]) -> Daemon {
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("CALLPOP_SERVER__LISTEN", "127.0.0.1:0")
        .env("CALLPOP_SIP__LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The log names both listeners once they are bound.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut web, mut sip) = (None, None);
    while web.is_none() || sip.is_none() {
        let line = lines
            .next()
            .expect("daemon log ended before it listened")
            .unwrap();
        if line.contains("web listening") {
            web = addr_after(&line, "addr=");
        }
        if line.contains("sip listening") {
            sip = addr_after(&line, "udp=");
        }
    }
    // Keep draining the log so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Daemon {
        child,
        web: web.unwrap(),
        sip: sip.unwrap(),
    }
}

fn addr_after(line: &str, key: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..500 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("daemon did not stop within 10 s");
}

fn call(sip: SocketAddr, args: &[&str]) -> Child {
    Command::new(BIN)
        .args([
            "call",
            "--to",
            "201",
            "--from",
            "+15550100",
            "--sip",
            &sip.to_string(),
        ])
        .args(args)
        .env("CALLPOP_DATABASE__URL", "sqlite::memory:")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn calls(web: SocketAddr) -> Vec<serde_json::Value> {
    let url = format!("http://{web}/api/v1/calls");
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_defaults_creates_the_database_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = serve(dir.path(), &[("CALLPOP_API__TOKEN", TOKEN)]);
    assert!(
        dir.path().join("data/callpop.db").is_file(),
        "sqlite file under data/"
    );

    let tried = call(daemon.sip, &["--cancel-after", "200ms"])
        .wait_with_output()
        .unwrap();
    assert!(
        tried.status.success(),
        "{}",
        String::from_utf8_lossy(&tried.stdout)
    );
    assert!(String::from_utf8_lossy(&tried.stdout).contains("ringing at 201"));
    // The caller's last answer can come before the tracker wrote the end.
    let outcome = crate::helpers::eventually(Duration::from_secs(5), async || {
        let recorded = calls(daemon.web).await;
        assert_eq!(recorded.len(), 1);
        recorded[0]["outcome"].as_str().map(str::to_owned)
    })
    .await;
    assert_eq!(outcome.as_deref(), Some("abandoned"));

    signal(&daemon.child, "TERM");
    assert!(
        wait_exit(&mut daemon.child).success(),
        "SIGTERM is a clean stop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_ringing_when_the_daemon_dies_is_kept_and_closed_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("CALLPOP_API__TOKEN", TOKEN)];
    let mut daemon = serve(dir.path(), &env);
    let mut ringing = call(daemon.sip, &["--cancel-after", "60s"]);

    // Wait until the call is written, then kill the daemon without warning.
    let mut recorded = Vec::new();
    for _ in 0..250 {
        recorded = calls(daemon.web).await;
        if !recorded.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(recorded.len(), 1, "the call is written as soon as it rings");
    assert_eq!(recorded[0]["outcome"], serde_json::Value::Null);
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    let _ = ringing.kill();
    let _ = ringing.wait();

    let mut again = serve(dir.path(), &env);
    let recorded = calls(again.web).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["outcome"], "interrupted");
    signal(&again.child, "INT");
    assert!(
        wait_exit(&mut again.child).success(),
        "SIGINT is a clean stop"
    );
}

#[test]
fn a_bad_config_names_the_key_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("CALLPOP_SERVER__LISTEN", "not-an-address", "server.listen"),
        ("CALLPOP_PHONE__HOME_REGION", "XX", "phone.home_region"),
        (
            "CALLPOP_SIP__TRUSTED_PEERS",
            "10.0.0.0/33",
            "sip.trusted_peers",
        ),
    ];
    for (key, value, named) in cases {
        let out = Command::new(BIN)
            .arg("serve")
            .current_dir(dir.path())
            .env(key, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}={value} must not start");
        assert!(stderr.contains(named), "{key}={value}: {stderr}");
    }

    let file = dir.path().join("callpop.toml");
    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:0\"\nport = 80\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("port"),
        "unknown key named"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_wants_the_token_and_the_call_page_escapes_caller_text() {
    let app = spawn_app(&[]).await;
    let unauthorised = app
        .client
        .get(app.url("/api/v1/calls"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    let wrong = app
        .client
        .get(app.url("/api/v1/calls"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let invite = std::fs::read(crate::helpers::fixture(
        "asterisk/sip-invite-h-to-201-unicode-markup-name.txt",
    ))
    .unwrap();
    socket.send_to(&invite, app.sip).await.unwrap();
    let id = crate::helpers::eventually(Duration::from_secs(5), async || {
        app.calls().await.first().and_then(|c| c["id"].as_i64())
    })
    .await
    .expect("the call is recorded");

    // The pages want a signed-in user.
    let mut browser = crate::helpers::admin_browser(&app).await;
    let page = browser.get(&format!("/calls/{id}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Zoë Ångström-Nuñez &#60;b&#62;VIP&#60;/b&#62; &#38; Ünïcødé 日本")
            || html.contains("Zoë Ångström-Nuñez &lt;b&gt;VIP&lt;/b&gt; &amp; Ünïcødé 日本")
    );
    assert!(!html.contains("<b>VIP</b>"));

    let missing = browser.get("/calls/999999").await;
    assert_eq!(missing.status(), 404);
    app.stop().await;
}
