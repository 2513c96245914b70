//! Headless Chromium, driven over WebDriver by chromedriver, for what a
//! rep's browser shows: pages, scripts and the in-page pop. A few W3C
//! WebDriver calls over reqwest, nothing more.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::helpers::peer;

/// WebDriver's code for the Tab key.
pub const TAB: &str = "\u{E004}";
/// WebDriver's code for the Enter key.
pub const ENTER: &str = "\u{E007}";

pub struct Chromium {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts chromedriver and a headless Chromium session; `None` when
    /// either is missing on a developer's machine (in CI that fails).
    pub async fn start() -> Option<Chromium> {
        let driver_bin = peer("chromedriver")?;
        let browser_bin = peer("chromium")?;
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        wait_ready(&client, &base).await;

        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser_bin,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let answer: Value = client
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no chromium session: {answer}"))
            .to_owned();
        Some(Chromium {
            driver,
            base,
            session,
            client,
            _profile: profile,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let answer: Value = self
            .client
            .request(method, url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if answer["value"]["error"].is_string() {
            panic!("webdriver {path}: {answer}");
        }
        answer["value"].clone()
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    /// Sets a cookie for the page's site (a page of it must be open).
    pub async fn add_cookie(&self, name: &str, value: &str) {
        let cookie = json!({"cookie": {"name": name, "value": value, "path": "/"}});
        self.call(reqwest::Method::POST, "/cookie", cookie).await;
    }

    /// Runs `script` (a function body; `return` gives its value) in the page.
    pub async fn script(&self, script: &str) -> Value {
        let body = json!({ "script": script, "args": [] });
        self.call(reqwest::Method::POST, "/execute/sync", body)
            .await
    }

    /// Types `text` into the element `css` finds, as a keyboard does: the
    /// element takes the focus first. WebDriver's key codes name special
    /// keys (see [`TAB`], [`ENTER`]).
    pub async fn keys(&self, css: &str, text: &str) {
        let found = json!({ "using": "css selector", "value": css });
        let element = self.call(reqwest::Method::POST, "/element", found).await;
        let id = element
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {element}"))
            .to_owned();
        let typed = json!({ "text": text });
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            typed,
        )
        .await;
    }

    /// Runs `script` until it returns something truthy, up to `wait`.
    pub async fn wait_for(&self, script: &str, wait: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let value = self.script(script).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!(0);
            if truthy {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromium: still false after {wait:?}: {script}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the session (closing Chromium) and chromedriver.
    pub async fn quit(mut self) {
        self.call(reqwest::Method::DELETE, "", json!({})).await;
        let _ = self.driver.kill().await;
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        let status = client.get(format!("{base}/status")).send().await;
        if let Ok(response) = status {
            let body: Value = response.json().await.unwrap_or_default();
            if body["value"]["ready"] == json!(true) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not come up at {base}");
}
