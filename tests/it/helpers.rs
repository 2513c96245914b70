//! Shared by every integration test: spawn the daemon on port 0 with a
//! fresh SQLite database, read its pop stream, play sipp against it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use callpop::app::{self, Listeners};
use callpop::config::Config;
use callpop::store::Store;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "test-token";

/// A daemon running inside the test process.
pub struct TestApp {
    pub web: SocketAddr,
    pub sip: SocketAddr,
    pub store: Store,
    /// The database the daemon uses, for commands run beside it.
    pub database_url: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// Starts the daemon with the built-in defaults, a fresh database and
/// `env` as extra `CALLPOP_` variables.
pub async fn spawn_app(env: &[(&str, &str)]) -> TestApp {
    spawn_app_with_config(env, "").await
}

/// Starts the daemon as [`spawn_app`] does, with `toml` as its config file
/// (say `[[links]]` entries).
pub async fn spawn_app_with_config(env: &[(&str, &str)], toml: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("callpop.toml");
    std::fs::write(&file, toml).unwrap();
    let url = format!("sqlite://{}", dir.path().join("callpop.db").display());
    let mut vars = vec![
        ("CALLPOP_DATABASE__URL".to_string(), url.clone()),
        ("CALLPOP_API__TOKEN".to_string(), TOKEN.to_string()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut config = Config::load_from(Some(&file), vars).expect("test config");

    let web = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sip = app::bind_sip("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let web_addr = web.local_addr().unwrap();
    let sip_addr = sip.0.local_addr().unwrap();
    config.server.base_url = format!("http://{web_addr}");

    let (stop, stopped) = oneshot::channel::<()>();
    let listeners = Listeners {
        web,
        sip: Some(sip),
    };
    let task = tokio::spawn(app::run(config, listeners, async move {
        let _ = stopped.await;
    }));
    wait_healthy(web_addr).await;

    let store = Store::connect(&url).await.unwrap();
    TestApp {
        web: web_addr,
        sip: sip_addr,
        store,
        database_url: url,
        client: reqwest::Client::new(),
        stop: Some(stop),
        task: Some(task),
        _dir: dir,
    }
}

async fn wait_healthy(addr: SocketAddr) {
    let url = format!("http://{addr}/healthz");
    for _ in 0..200 {
        if reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("daemon did not come up at {addr}");
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.web)
    }

    /// GET an API route with the token, as JSON.
    pub async fn api(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Every recorded call, newest first.
    pub async fn calls(&self) -> Vec<Value> {
        self.api("/api/v1/calls?limit=1000")
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// Subscribes to the pops of one extension.
    pub async fn pops(&self, extension: &str) -> PopStream {
        PopStream::open(
            &self.client,
            &self.url(&format!("/api/v1/pops?extension={extension}")),
            None,
        )
        .await
    }

    /// Stops the daemon the way a signal does and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// A pop stream being read.
pub struct PopStream {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

impl PopStream {
    pub async fn open(
        client: &reqwest::Client,
        url: &str,
        last_event_id: Option<&str>,
    ) -> PopStream {
        let mut request = client.get(url).bearer_auth(TOKEN);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "pop stream: {}",
            response.status()
        );
        PopStream {
            body: Box::pin(response.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event, or `None` when none arrives within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(event) = self.take() {
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    }

    /// Reads events until `n` have arrived or `wait` passes.
    pub async fn collect(&mut self, n: usize, wait: Duration) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(event) => out.push(event),
                None => break,
            }
        }
        out
    }

    /// Reads until the daemon ends the stream: the events that came first,
    /// or `None` when it is still open after `wait`.
    pub async fn end(&mut self, wait: Duration) -> Option<Vec<SseEvent>> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut events = Vec::new();
        loop {
            while let Some(event) = self.take() {
                events.push(event);
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(None | Some(Err(_))) => return Some(events),
            }
        }
    }

    fn take(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buf.find("\n\n")?;
            let block: String = self.buf.drain(..end + 2).collect();
            let mut event = SseEvent {
                id: None,
                event: "message".into(),
                data: Value::Null,
            };
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    event.id = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("event:") {
                    event.event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            // Comment-only blocks are keep-alives. The snapshot that opens
            // every stream is for clients that reconnect (see agent.rs).
            if data.is_empty() || event.event == "snapshot" {
                continue;
            }
            event.data = serde_json::from_str(&data).unwrap();
            return Some(event);
        }
    }
}

/// Where a real peer's binary is, or `None` (and a printed reason) when it
/// is missing on a developer's machine. In CI a missing peer fails.
pub fn peer(binary: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(binary))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "{binary} is required in CI (run .ci/run to install it)"
        );
        eprintln!("skipping: {binary} is not installed");
    }
    found
}

/// A path under the shared fixtures beside the repository.
pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(path)
}

/// A path under `tests/sipp/`.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// Runs sipp to completion against the daemon's SIP address.
pub async fn sipp(sipp: &Path, target: SocketAddr, args: &[&str]) -> Output {
    // sipp takes 5060 when given port 0, so tests running side by side
    // would collide: hand it a port that is free for UDP and TCP now.
    let port = free_port().to_string();
    let mut command = Command::new(sipp);
    command
        .arg(target.to_string())
        .args(["-i", "127.0.0.1", "-p", &port]);
    command.args(["-nostdin", "-timeout", "60s"]);
    command.args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    output
}

fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls `check` until it holds or `wait` passes; returns its last answer.
pub async fn eventually<T>(wait: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A one-caller injection file for sipp.
fn caller_csv(dir: &Path, number: &str, name: &str) -> PathBuf {
    let path = dir.join(format!("caller-{}.csv", number.trim_start_matches('+')));
    std::fs::write(&path, format!("SEQUENTIAL\n{number};{name}\n")).unwrap();
    path
}

/// Rings extension 201 once with sipp playing `scenario_name`, from one
/// caller, and asserts the scenario went through. Returns at once when
/// sipp is missing outside CI.
pub async fn ring(app: &TestApp, scenario_name: &str, number: &str, name: &str, extra: &[&str]) {
    let Some(sipp_bin) = peer("sipp") else { return };
    let dir = tempfile::tempdir().unwrap();
    let csv = caller_csv(dir.path(), number, name);
    let sf = scenario(scenario_name);
    let mut args = vec![
        "-sf",
        sf.to_str().unwrap(),
        "-s",
        "201",
        "-inf",
        csv.to_str().unwrap(),
    ];
    args.extend_from_slice(&["-d", "300", "-m", "1"]);
    args.extend_from_slice(extra);
    let out = sipp(&sipp_bin, app.sip, &args).await;
    assert!(
        out.status.success(),
        "sipp {scenario_name} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A SIP request written by hand, the way a PBX would send it over UDP.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The user part of the Request-URI and To: the extension rung.
    pub to: String,
    /// The user part of From: the caller's number.
    pub from: String,
    pub call_id: String,
    pub branch: String,
    pub cseq: u32,
    /// The To tag, once the daemon gave one (for the ACK of a final answer).
    pub to_tag: Option<String>,
    /// Extra header lines, without line breaks.
    pub headers: Vec<String>,
}

impl Request {
    /// A request of its own transaction: a fresh Call-ID and branch.
    pub fn new(method: &str, to: &str, from: &str) -> Request {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        Request {
            method: method.to_owned(),
            to: to.to_owned(),
            from: from.to_owned(),
            call_id: format!("raw-{pid}-{n}@127.0.0.1"),
            branch: format!("z9hG4bK-raw-{pid}-{n}"),
            cseq: 1,
            to_tag: None,
            headers: Vec::new(),
        }
    }

    /// The CANCEL of this INVITE: the same Request-URI, Call-ID, From, To,
    /// CSeq number and branch (RFC 3261 §9.1).
    pub fn cancel(&self) -> Request {
        Request {
            method: "CANCEL".into(),
            headers: Vec::new(),
            ..self.clone()
        }
    }

    /// The ACK of this INVITE's final answer `response` (RFC 3261
    /// §17.1.1.3): the INVITE's branch and CSeq number, the answer's To tag.
    pub fn ack(&self, response: &str) -> Request {
        let to = header(response, "to").expect("a To header");
        let tag = to.split(";tag=").nth(1).expect("a To tag");
        Request {
            method: "ACK".into(),
            to_tag: Some(tag.to_owned()),
            headers: Vec::new(),
            ..self.clone()
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let (method, to, from) = (&self.method, &self.to, &self.from);
        let to_tag = match &self.to_tag {
            Some(tag) => format!(";tag={tag}"),
            None => String::new(),
        };
        let mut text = format!(
            "{method} sip:{to}@callpop.invalid SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5999;branch={}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{from}@pbx.invalid>;tag=pbx-{}\r\n\
             To: <sip:{to}@callpop.invalid>{to_tag}\r\n\
             Call-ID: {}\r\n\
             CSeq: {} {method}\r\n",
            self.branch, self.branch, self.call_id, self.cseq
        );
        for line in &self.headers {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        text.into_bytes()
    }
}

/// A PBX's UDP socket towards the daemon's SIP listener.
pub struct SipUdp {
    socket: tokio::net::UdpSocket,
    target: SocketAddr,
}

impl SipUdp {
    pub async fn new(target: SocketAddr) -> SipUdp {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        SipUdp { socket, target }
    }

    pub async fn send(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.target).await.unwrap();
    }

    /// The next datagram from the daemon, or `None` within `wait`.
    pub async fn recv(&self, wait: Duration) -> Option<String> {
        let mut buf = vec![0u8; 65_535];
        let got = tokio::time::timeout(wait, self.socket.recv_from(&mut buf)).await;
        let (len, _) = got.ok()?.unwrap();
        Some(String::from_utf8_lossy(&buf[..len]).into_owned())
    }

    /// The next answer, which must come within ten seconds.
    pub async fn answer(&self) -> String {
        self.recv(Duration::from_secs(10))
            .await
            .expect("an answer from the sip listener")
    }

    /// Sends `request` and returns the answers up to and including the
    /// first with a status of at least `final_at`.
    pub async fn exchange(&self, request: &Request, final_at: u16) -> Vec<String> {
        self.send(&request.bytes()).await;
        let mut answers = Vec::new();
        loop {
            let answer = self.answer().await;
            let done = status(&answer) >= final_at;
            answers.push(answer);
            if done {
                return answers;
            }
        }
    }
}

/// The status code of a SIP response; panics on anything else.
pub fn status(response: &str) -> u16 {
    response
        .strip_prefix("SIP/2.0 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a sip response: {response:?}"))
}

/// The value of the first header `name` in a SIP message, any case.
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let head = message.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Creates a user straight in the store, with `role` ("rep", "manager" or
/// "admin") and `password`; returns their id.
pub async fn add_user(
    app: &TestApp,
    username: &str,
    role: &str,
    extensions: &[&str],
    password: &str,
) -> i64 {
    let user = callpop::store::users::NewUser {
        username: username.into(),
        display_name: String::new(),
        role: role.parse().unwrap(),
        password_hash: Some(callpop::auth::password::hash(password).unwrap()),
        extensions: extensions.iter().map(|x| x.to_string()).collect(),
    };
    app.store.create_user(&user).await.unwrap()
}

/// An API token for a user, made straight in the store.
pub async fn api_token_for(app: &TestApp, user_id: i64) -> String {
    let token = callpop::auth::secret::new_api_token().unwrap();
    let hash = callpop::auth::secret::digest(&token);
    app.store
        .create_api_token(user_id, "test", &hash)
        .await
        .unwrap();
    token
}

/// A browser signed in as a user through a session made straight in the
/// store: no password, no sign-in form, so fast enough for every request.
pub async fn session_for(app: &TestApp, user_id: i64) -> Browser {
    use callpop::auth::secret;
    let cookie = secret::random().unwrap();
    let now = chrono::Utc::now();
    let session = callpop::store::users::NewSession {
        id: secret::digest(&cookie),
        user_id,
        csrf: secret::random().unwrap(),
        created_at: now,
        expires_at: now + chrono::Duration::days(7),
    };
    app.store.create_session(&session).await.unwrap();
    let mut browser = Browser::new(app);
    browser.cookies.insert("callpop_session".into(), cookie);
    browser.csrf = Some(session.csrf);
    browser
}

/// Signs in through the sign-in form, as a person does.
pub async fn sign_in(app: &TestApp, username: &str, password: &str) -> Browser {
    let mut browser = Browser::new(app);
    let form = browser.get("/login").await.text().await.unwrap();
    let csrf = csrf_in(&form).expect("the sign-in form carries a csrf field");
    let fields = [
        ("csrf", csrf.as_str()),
        ("username", username),
        ("password", password),
    ];
    let response = browser.post("/login", &fields).await;
    assert_eq!(response.status(), 303, "sign-in as {username}");
    let page = browser.get("/account").await.text().await.unwrap();
    browser.csrf = csrf_in(&page);
    browser
}

/// The CSRF token a page carries: its `csrf-token` meta tag, else the first
/// `csrf` form field.
pub fn csrf_in(html: &str) -> Option<String> {
    let after = |marker: &str| {
        let rest = &html[html.find(marker)? + marker.len()..];
        Some(rest[..rest.find('"')?].to_owned())
    };
    after("name=\"csrf-token\" content=\"").or_else(|| after("name=\"csrf\" value=\""))
}

/// Opens a pop stream with a token of one's own; `query` is what follows
/// `/api/v1/pops`, such as `?extension=201` or nothing.
pub async fn pops_with(app: &TestApp, token: &str, query: &str) -> PopStream {
    let url = app.url(&format!("/api/v1/pops{query}"));
    let response = app.client.get(url).bearer_auth(token).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "pop stream: {}",
        response.status()
    );
    PopStream {
        body: Box::pin(response.bytes_stream()),
        buf: String::new(),
    }
}

/// A browser: keeps the cookies it is given, follows no redirects, and
/// knows its session's CSRF token once signed in.
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    pub cookies: std::collections::BTreeMap<String, String>,
    pub csrf: Option<String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser::at(app.web)
    }

    /// A browser for a daemon at `web`, such as one the binary runs.
    pub fn at(web: SocketAddr) -> Browser {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            base: format!("http://{web}"),
            client,
            cookies: Default::default(),
            csrf: None,
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            let pairs: Vec<_> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("cookie", pairs.join("; "));
        }
        request
    }

    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        self.absorb(&response);
        response
    }

    /// Posts `fields` as a form, as they are.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .request(reqwest::Method::POST, path)
            .form(fields)
            .send()
            .await
            .unwrap();
        self.absorb(&response);
        response
    }

    /// Posts `fields` as a form with the session's CSRF token, as a page does.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf.clone().expect("a signed-in browser");
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    /// Opens the pop stream with this browser's session, as a page does;
    /// `query` as for [`pops_with`].
    pub async fn pops(&self, query: &str) -> PopStream {
        let path = format!("/api/v1/pops{query}");
        let response = self
            .request(reqwest::Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "pop stream: {}",
            response.status()
        );
        PopStream {
            body: Box::pin(response.bytes_stream()),
            buf: String::new(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Keeps the cookies a response sets, and drops those it removes.
    fn absorb(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            match text.contains("Max-Age=0") {
                true => self.cookies.remove(name),
                false => self.cookies.insert(name.to_owned(), value.to_owned()),
            };
        }
    }
}

/// A browser signed in as an admin named `admin`, made on first use: for
/// tests that read the pages.
pub async fn admin_browser(app: &TestApp) -> Browser {
    let id = match app.store.user_by_username("admin").await.unwrap() {
        Some(user) => user.id,
        None => add_user(app, "admin", "admin", &[], "admin-password").await,
    };
    session_for(app, id).await
}
