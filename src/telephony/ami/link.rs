//! One AMI connection, kept up: connect, read the greeting, log in, ask
//! what is up, then read events into the assembly and send what it
//! produces to the tracker. A keep-alive `Ping` finds dead connections; a
//! dropped connection or a refused login is retried with backoff and said
//! in the log at `warn`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::action::Action;
use super::assemble::{Ask, Assembler, Output, Snapshot};
use super::frame::{Frame, Framer, Message};
use crate::telephony::CallEvent;

/// Longest wait for the greeting, the login answer or a ping answer.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// How often the assembly is ticked (presentation answers overdue, stale
/// calls).
const TICK: Duration = Duration::from_millis(100);
/// The first retry waits this long, doubling up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Click-to-dial requests remembered for their outcome.
const DIALS_KEPT: usize = 1000;
/// The most channels read from one `CoreShowChannels` answer; a PBX with
/// more is beyond what one link follows, and its list is dropped.
const MAX_LISTED: usize = 100_000;
/// Presentation questions left unanswered that are remembered.
const MAX_ASKED: usize = 10_000;

/// How to reach and log in to one Asterisk.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub secret: crate::config::Secret,
    pub ping: Duration,
    pub originate_channel: String,
    pub originate_context: String,
}

/// The state of a link, as the API and `/metrics` show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = LinkStatus)]
pub struct Status {
    pub name: String,
    /// `ami`.
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub state: State,
    pub last_error: Option<String>,
    pub events: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = LinkState)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Connecting,
    Connected,
    Down,
}

/// A click-to-dial request and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct Dial {
    pub id: String,
    pub link: String,
    pub extension: String,
    pub number: String,
    pub state: DialState,
    pub reason: Option<String>,
    /// The `Linkedid` of the call that followed, once Asterisk said.
    #[serde(skip)]
    pub linkedid: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DialState {
    /// Waiting to be sent, or for Asterisk's first answer.
    Queued,
    /// Asterisk took the request and rings the rep's phone.
    Accepted,
    /// The rep picked up; Asterisk dials the number.
    Answered,
    Failed,
}

/// What the rest of the daemon holds of a running link.
pub struct Handle {
    pub name: String,
    status: Mutex<Status>,
    events: AtomicU64,
    dials: Mutex<Vec<Dial>>,
    commands: mpsc::Sender<Dial>,
}

impl Handle {
    pub fn status(&self) -> Status {
        let mut status = self.status.lock().expect("status lock").clone();
        status.events = self.events.load(Ordering::Relaxed);
        status
    }

    /// Asks Asterisk to ring `extension` and, once answered, dial
    /// `number`. Returns the request as queued; [`Handle::dial`] follows it.
    pub fn originate(&self, extension: &str, number: &str) -> anyhow::Result<Dial> {
        // A dial kept until the link comes back would ring the rep's phone
        // long after they gave up: refuse it now instead.
        let state = self.status.lock().expect("status lock").state;
        anyhow::ensure!(
            state == State::Connected,
            "link {} is not connected",
            self.name
        );
        let dial = Dial {
            id: new_dial_id(),
            link: self.name.clone(),
            extension: extension.to_owned(),
            number: number.to_owned(),
            state: DialState::Queued,
            reason: None,
            linkedid: None,
        };
        self.commands
            .try_send(dial.clone())
            .map_err(|_| anyhow::anyhow!("link {} is not taking requests now", self.name))?;
        let mut dials = self.dials.lock().expect("dials lock");
        if dials.len() >= DIALS_KEPT {
            dials.remove(0);
        }
        dials.push(dial.clone());
        Ok(dial)
    }

    pub fn dial(&self, id: &str) -> Option<Dial> {
        let dials = self.dials.lock().expect("dials lock");
        dials.iter().find(|d| d.id == id).cloned()
    }

    fn update_dial(&self, id: &str, change: impl FnOnce(&mut Dial)) {
        let mut dials = self.dials.lock().expect("dials lock");
        if let Some(dial) = dials.iter_mut().find(|d| d.id == id) {
            change(dial);
        }
    }

    fn set_state(&self, state: State, error: Option<String>) {
        let mut status = self.status.lock().expect("status lock");
        status.state = state;
        if error.is_some() || state == State::Connected {
            status.last_error = error;
        }
    }
}

fn new_dial_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:x}-{n}", Utc::now().timestamp_micros())
}

/// A link ready to run: its handle for the web side, and the task.
pub fn start(
    name: &str,
    target: Target,
    assembler: Assembler,
    events: mpsc::Sender<CallEvent>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (Arc<Handle>, tokio::task::JoinHandle<()>) {
    let (commands, requests) = mpsc::channel(64);
    let handle = Arc::new(Handle {
        name: name.to_owned(),
        status: Mutex::new(Status {
            name: name.to_owned(),
            kind: "ami",
            state: State::Connecting,
            last_error: None,
            events: 0,
        }),
        events: AtomicU64::new(0),
        dials: Mutex::new(Vec::new()),
        commands,
    });
    let link = Link {
        handle: handle.clone(),
        target,
        assembler,
        events,
        requests,
        next_action: 0,
        presentation: HashMap::new(),
        dials: HashMap::new(),
        getvar_refused: false,
    };
    (handle.clone(), tokio::spawn(link.run(shutdown)))
}

struct Link {
    handle: Arc<Handle>,
    target: Target,
    assembler: Assembler,
    events: mpsc::Sender<CallEvent>,
    requests: mpsc::Receiver<Dial>,
    next_action: u64,
    /// Presentation questions in flight: ActionID → Linkedid.
    presentation: HashMap<String, String>,
    /// Originates in flight: ActionID → dial id.
    dials: HashMap<String, String>,
    /// Asterisk refused a Getvar in this session (said once).
    getvar_refused: bool,
}

/// Why a session ended.
enum End {
    Stop,
    Lost(String),
}

impl Link {
    async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let name = self.handle.name.clone();
        let mut backoff = FIRST_BACKOFF;
        loop {
            self.handle.set_state(State::Connecting, None);
            let started = tokio::time::Instant::now();
            let end = tokio::select! {
                end = self.session() => end,
                _ = &mut shutdown => End::Stop,
            };
            let reason = match end {
                End::Stop => break,
                End::Lost(reason) => reason,
            };

            // A session that lasted resets the backoff; one that failed at
            // once (refused login, nothing listening) waits longer each time.
            if started.elapsed() > MAX_BACKOFF {
                backoff = FIRST_BACKOFF;
            }
            warn!(link = %name, error = %reason, retry_in_ms = backoff.as_millis() as u64,
                "ami link down");
            self.handle.set_state(State::Down, Some(reason));
            self.flush(Output::default()).await;
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut shutdown => break,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.handle.set_state(State::Down, Some("stopped".into()));
        info!(link = %name, "ami link stopped");
    }

    /// One connection, from connect to loss. Only returns `End::Lost`; a
    /// shutdown drops the future.
    async fn session(&mut self) -> End {
        let addr = format!("{}:{}", self.target.host, self.target.port);
        let stream = match tokio::time::timeout(ANSWER_WAIT, TcpStream::connect(&addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return End::Lost(format!("failed to connect to {addr}: {e}")),
            Err(_) => return End::Lost(format!("no answer connecting to {addr}")),
        };
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let mut framer = Framer::new();
        let mut buf = vec![0u8; 64 * 1024];

        // The greeting, then the login.
        let login_id = self.action_id("login");
        let login = Action::new("Login", &login_id)
            .and_then(|a| a.field("Username", &self.target.username))
            .and_then(|a| a.field("Secret", self.target.secret.expose()))
            .and_then(|a| a.field("Events", "on"));
        let login = match login {
            Ok(action) => action,
            Err(e) => return End::Lost(format!("cannot log in: {e}")),
        };
        let greeted = async {
            loop {
                if let Some(frame) = framer.next() {
                    return match frame {
                        Frame::Banner(text) if text.contains("Call Manager") => Ok(text.to_owned()),
                        Frame::Banner(text) => Err(format!(
                            "not an Asterisk manager: greeting {:?}",
                            text.chars().take(80).collect::<String>()
                        )),
                        _ => Err("not an Asterisk manager: no greeting".to_string()),
                    };
                }
                match reader.read(&mut buf).await {
                    Ok(0) => return Err("connection closed before the greeting".into()),
                    Ok(n) => framer.push(&buf[..n]),
                    Err(e) => return Err(format!("failed to read: {e}")),
                }
            }
        };
        let banner = match tokio::time::timeout(ANSWER_WAIT, greeted).await {
            Ok(Ok(banner)) => banner,
            Ok(Err(e)) => return End::Lost(e),
            Err(_) => return End::Lost("no greeting from the manager".into()),
        };
        debug!(link = %self.handle.name, %banner, "ami greeting");
        if let Err(e) = writer.write_all(login.bytes()).await {
            return End::Lost(format!("failed to send login: {e}"));
        }

        let answered = async {
            loop {
                while let Some(frame) = framer.next() {
                    let Frame::Message(msg) = frame else { continue };
                    if msg.action_id() != Some(login_id.as_str()) {
                        continue;
                    }
                    return match msg.response() {
                        Some(r) if r.eq_ignore_ascii_case("Success") => Ok(()),
                        _ => Err(format!(
                            "login refused: {}",
                            msg.get("Message").unwrap_or("no reason given")
                        )),
                    };
                }
                match reader.read(&mut buf).await {
                    Ok(0) => return Err("connection closed during login".to_string()),
                    Ok(n) => framer.push(&buf[..n]),
                    Err(e) => return Err(format!("failed to read: {e}")),
                }
            }
        };
        match tokio::time::timeout(ANSWER_WAIT, answered).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return End::Lost(e),
            Err(_) => return End::Lost("no answer to login".into()),
        }
        info!(link = %self.handle.name, %addr, "ami link connected");
        self.handle.set_state(State::Connected, None);
        // Questions of the last session will not be answered: the
        // assembly's own wait releases their calls.
        self.presentation.clear();
        self.getvar_refused = false;

        // What is up now: calls that went on while the link was down are
        // neither lost nor doubled.
        let show_id = self.action_id("show");
        let mut snapshot: Option<Vec<Snapshot>> = Some(Vec::new());
        self.assembler.begin_snapshot();
        let show = Action::new("CoreShowChannels", &show_id).expect("fixed action");
        if let Err(e) = writer.write_all(show.bytes()).await {
            return End::Lost(format!("failed to send: {e}"));
        }

        let mut ping = tokio::time::interval(self.target.ping);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut tick = tokio::time::interval(TICK);
        let mut ping_sent: Option<(String, tokio::time::Instant)> = None;
        loop {
            let mut out = Output::default();
            let mut actions: Vec<Action> = Vec::new();
            tokio::select! {
                read = reader.read(&mut buf) => {
                    let n = match read {
                        Ok(0) => return End::Lost("connection closed by the manager".into()),
                        Ok(n) => n,
                        Err(e) => return End::Lost(format!("failed to read: {e}")),
                    };
                    framer.push(&buf[..n]);
                    let now = Utc::now();
                    while let Some(frame) = framer.next() {
                        let msg = match frame {
                            Frame::Message(msg) => msg,
                            Frame::Banner(_) => continue,
                            Frame::Garbled(g) => {
                                warn!(link = %self.handle.name, reason = g.reason,
                                    excerpt = %g.excerpt, "garbled ami message skipped");
                                continue;
                            }
                        };
                        if let Some((id, _)) = &ping_sent {
                            if msg.action_id() == Some(id.as_str()) {
                                ping_sent = None;
                                continue;
                            }
                        }
                        self.message(&msg, now, &show_id, &mut snapshot, &mut out);
                    }
                }
                _ = ping.tick() => {
                    if let Some((_, sent)) = &ping_sent {
                        if sent.elapsed() >= ANSWER_WAIT {
                            return End::Lost("no answer to keep-alive ping".into());
                        }
                        continue;
                    }
                    let id = self.action_id("ping");
                    actions.push(Action::new("Ping", &id).expect("fixed action"));
                    ping_sent = Some((id, tokio::time::Instant::now()));
                }
                _ = tick.tick() => {
                    self.assembler.tick(Utc::now(), &mut out);
                    if let Some((_, sent)) = &ping_sent {
                        if sent.elapsed() >= ANSWER_WAIT {
                            return End::Lost("no answer to keep-alive ping".into());
                        }
                    }
                }
                Some(dial) = self.requests.recv() => {
                    match self.originate_action(&dial) {
                        Ok(action) => actions.push(action),
                        Err(e) => self.handle.update_dial(&dial.id, |d| {
                            d.state = DialState::Failed;
                            d.reason = Some(e.to_string());
                        }),
                    }
                }
            }

            for ask in std::mem::take(&mut out.asks) {
                let Ask::Presentation { linkedid, channel } = ask;
                let id = self.action_id("pres");
                let action = Action::new("Getvar", &id)
                    .and_then(|a| a.field("Channel", &channel))
                    .and_then(|a| a.field("Variable", "CALLERID(pres)"));
                match action {
                    Ok(action) => {
                        if self.presentation.len() >= MAX_ASKED {
                            self.presentation.clear();
                        }
                        self.presentation.insert(id, linkedid);
                        actions.push(action);
                    }
                    Err(e) => {
                        debug!(link = %self.handle.name, error = %e, "cannot ask presentation")
                    }
                }
            }
            for action in actions {
                if let Err(e) = writer.write_all(action.bytes()).await {
                    return End::Lost(format!("failed to send: {e}"));
                }
            }
            self.flush(out).await;
        }
    }

    /// Applies one message: answers to our actions, then the event itself.
    fn message(
        &mut self,
        msg: &Message<'_>,
        now: chrono::DateTime<Utc>,
        show_id: &str,
        snapshot: &mut Option<Vec<Snapshot>>,
        out: &mut Output,
    ) {
        let action_id = msg.action_id().unwrap_or("");
        if let Some(response) = msg.response().filter(|_| msg.event().is_none()) {
            let success = response.eq_ignore_ascii_case("Success");
            if let Some(linkedid) = self.presentation.remove(action_id) {
                if !success && !self.getvar_refused {
                    self.getvar_refused = true;
                    warn!(link = %self.handle.name, reason = msg.get("Message").unwrap_or(""),
                        "getvar refused: withheld callers cannot be told apart \
                         (manager.conf write = call)");
                }
                let value = msg.get("Value").filter(|_| success);
                self.assembler.presentation(&linkedid, value, out);
            } else if let Some(dial) = self.dials.get(action_id).cloned() {
                let reason = msg.get("Message").map(str::to_owned);
                if !success {
                    self.dials.remove(action_id);
                }
                self.handle.update_dial(&dial, |d| {
                    d.state = if success {
                        DialState::Accepted
                    } else {
                        DialState::Failed
                    };
                    d.reason = reason;
                });
            } else if action_id == show_id && !success {
                warn!(link = %self.handle.name, reason = msg.get("Message").unwrap_or(""),
                    "cannot list channels; calls during the outage may be missed");
                *snapshot = None;
                self.assembler.end_snapshot();
            }
            return;
        }

        self.handle.events.fetch_add(1, Ordering::Relaxed);
        match msg.event() {
            Some("CoreShowChannel") if action_id == show_id => {
                if snapshot
                    .as_ref()
                    .is_some_and(|list| list.len() >= MAX_LISTED)
                {
                    warn!(link = %self.handle.name, max = MAX_LISTED,
                        "channel list too long; calls during the outage may be missed");
                    *snapshot = None;
                    self.assembler.end_snapshot();
                }
                if let Some(list) = snapshot.as_mut() {
                    list.push(snapshot_line(msg));
                }
                return;
            }
            Some("CoreShowChannelsComplete") if action_id == show_id => {
                if let Some(list) = snapshot.take() {
                    debug!(link = %self.handle.name, channels = list.len(), "channels listed");
                    self.assembler.reconcile(&list, now, out);
                }
                return;
            }
            Some("OriginateResponse") => self.originate_response(msg, now, out),
            _ => {}
        }
        self.assembler.handle(msg, now, out);
    }

    fn originate_response(
        &mut self,
        msg: &Message<'_>,
        now: chrono::DateTime<Utc>,
        out: &mut Output,
    ) {
        let Some(dial) = msg.action_id().and_then(|id| self.dials.remove(id)) else {
            return;
        };
        let success = msg
            .response()
            .is_some_and(|r| r.eq_ignore_ascii_case("Success"));
        let uniqueid = msg
            .get("Uniqueid")
            .filter(|u| !u.is_empty() && *u != "<null>");
        if success {
            if let Some(uniqueid) = uniqueid {
                self.assembler.originated(uniqueid, now, out);
            }
        }
        let reason = msg.get("Reason").map(originate_reason);
        info!(link = %self.handle.name, dial = %dial, success, "originate answered");
        self.handle.update_dial(&dial, |d| {
            d.state = if success {
                DialState::Answered
            } else {
                DialState::Failed
            };
            d.reason = reason;
            d.linkedid = uniqueid.map(str::to_owned);
        });
    }

    fn originate_action(&mut self, dial: &Dial) -> Result<Action, super::action::BadValue> {
        let id = self.action_id("dial");
        let channel = self
            .target
            .originate_channel
            .replace("{extension}", &dial.extension);
        let action = Action::new("Originate", &id)?
            .field("Channel", &channel)?
            .field("Context", &self.target.originate_context)?
            .field("Exten", &dial.number)?
            .field("Priority", "1")?
            .field(
                "CallerID",
                &format!("\"Dial {}\" <{}>", dial.number, dial.extension),
            )?
            .field("Timeout", "30000")?
            .field("Async", "true")?;
        self.dials.insert(id, dial.id.clone());
        info!(link = %self.handle.name, extension = %dial.extension, dial = %dial.id,
            "originate sent");
        Ok(action)
    }

    /// Hands the assembly's events to the tracker, waiting if it is behind.
    async fn flush(&mut self, out: Output) {
        for event in out.events {
            if self.events.send(event).await.is_err() {
                return;
            }
        }
    }

    fn action_id(&mut self, what: &str) -> String {
        self.next_action += 1;
        format!("callpop-{what}-{}", self.next_action)
    }
}

/// Asterisk's `OriginateResponse` reason codes, as people say them.
fn originate_reason(code: &str) -> String {
    let text = match code {
        "0" => "failed (no such extension or channel)",
        "1" => "hung up",
        "3" => "rang without answer",
        "4" => "answered",
        "5" => "busy",
        "8" => "congestion",
        other => return format!("reason {other}"),
    };
    text.to_owned()
}

fn snapshot_line(msg: &Message<'_>) -> Snapshot {
    let get = |name: &str| msg.get(name).unwrap_or("").to_owned();
    Snapshot {
        channel: get("Channel"),
        uniqueid: get("Uniqueid"),
        linkedid: msg
            .get("Linkedid")
            .or(msg.get("Uniqueid"))
            .unwrap_or("")
            .to_owned(),
        context: get("Context"),
        exten: get("Exten"),
        caller_num: get("CallerIDNum"),
        caller_name: get("CallerIDName"),
        connected_num: get("ConnectedLineNum"),
        connected_name: get("ConnectedLineName"),
        state: get("ChannelStateDesc"),
        bridged: !get("BridgeId").is_empty(),
        duration_secs: duration_secs(&get("Duration")),
    }
}

/// `01:02:03` → 3723.
fn duration_secs(text: &str) -> i64 {
    text.split(':')
        .try_fold(0i64, |acc, part| {
            part.trim().parse::<i64>().ok().map(|n| acc * 60 + n)
        })
        .unwrap_or(0)
}
