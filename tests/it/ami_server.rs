//! A stand-in Asterisk for callpop's AMI link: a TCP server on port 0 that
//! replays a recorded Manager Interface transcript to callpop, answers the
//! actions callpop may send at any time, and keeps what it was sent.
//!
//! After a login the transcript's server blocks are played in order. Where
//! the recording shows an action from the client, the replay waits until
//! callpop sends an action of that name and answers it with the recorded
//! response under callpop's own ActionID. A channel table follows every
//! event the replay reached, sent or skipped, so that `CoreShowChannels`
//! tells a reconnecting callpop what Asterisk would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What `Getvar CALLERID(pres)` answers for a channel the test left alone.
const DEFAULT_PRESENTATION: &str = "allowed_not_screened";

/// Splits `Name: value` at the first ':' and drops one space after it.
fn split_field(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    Some((name, value.strip_prefix(' ').unwrap_or(value)))
}

/// The first value of field `name`, matched in any case.
fn field<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines
        .iter()
        .filter_map(|line| split_field(line))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// One action as callpop sent it (or as a transcript recorded it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// The value of its `Action:` field; empty when it had none.
    pub name: String,
    /// Every field in order, names as written.
    pub fields: Vec<(String, String)>,
}

impl Action {
    fn from_lines(lines: &[String]) -> Action {
        let fields: Vec<(String, String)> = lines
            .iter()
            .filter_map(|line| split_field(line))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let name = field(lines, "Action").unwrap_or_default().to_owned();
        Action { name, fields }
    }

    /// The first value of field `name`, matched in any case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether this is action `name`, in any case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// One block of a transcript: its lines without their CRLF, and the extra
/// empty lines that followed the one ending it (Asterisk sends some).
#[derive(Clone, Debug)]
struct Block {
    lines: Vec<String>,
    extra_blank: usize,
}

impl Block {
    fn get(&self, name: &str) -> Option<&str> {
        field(&self.lines, name)
    }

    fn event(&self) -> Option<&str> {
        self.get("Event")
    }

    fn is_action(&self) -> bool {
        let first = self.lines.first().and_then(|line| split_field(line));
        first.is_some_and(|(name, _)| name.eq_ignore_ascii_case("Action"))
    }

    /// The bytes as sent: `timestamp` goes right after the Event line, and
    /// an ActionID equal to the recorded one becomes callpop's (or goes
    /// when callpop sent none).
    fn render(&self, timestamp: Option<&str>, action_id: Option<&ActionIds>) -> Vec<u8> {
        let mut out = String::new();
        let mut stamped = timestamp.is_none();
        for line in &self.lines {
            let parsed = split_field(line);
            if let (Some(ids), Some((name, value))) = (action_id, parsed) {
                if name.eq_ignore_ascii_case("ActionID") && value == ids.recorded {
                    if let Some(theirs) = &ids.theirs {
                        out.push_str(&format!("{name}: {theirs}\r\n"));
                    }
                    continue;
                }
            }
            out.push_str(line);
            out.push_str("\r\n");
            if !stamped && parsed.is_some_and(|(name, _)| name.eq_ignore_ascii_case("Event")) {
                out.push_str(&format!("Timestamp: {}\r\n", timestamp.unwrap_or_default()));
                stamped = true;
            }
        }
        out.push_str(&"\r\n".repeat(1 + self.extra_blank));
        out.into_bytes()
    }
}

/// The ActionID an awaited action had in the recording, and callpop's.
#[derive(Clone, Debug)]
struct ActionIds {
    recorded: String,
    theirs: Option<String>,
}

#[derive(Clone, Debug)]
enum Step {
    /// Asterisk speaks.
    Send(Block),
    /// callpop must send an action of this name before the replay goes on.
    Await(Action),
}

/// A transcript to replay: the greeting, then what Asterisk sends after
/// the login, with the points where it waits for callpop's actions.
#[derive(Clone, Debug)]
pub struct Script {
    greeting: String,
    steps: Vec<Step>,
}

/// The `nth` (from 1) event named `name` in a script, in any case.
#[derive(Clone, Debug)]
pub struct EventRef {
    name: String,
    nth: usize,
}

impl EventRef {
    pub fn new(name: &str, nth: usize) -> EventRef {
        assert!(nth >= 1, "events are counted from 1");
        EventRef {
            name: name.to_owned(),
            nth,
        }
    }
}

impl Script {
    pub fn from_file(path: impl AsRef<Path>) -> Script {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read transcript {}: {e}", path.display()));
        Script::parse(&text)
    }

    /// One of the recorded transcripts under `fixtures/asterisk/`.
    pub fn fixture(name: &str) -> Script {
        Script::from_file(crate::helpers::fixture(&format!("asterisk/{name}")))
    }

    /// Reads a transcript: a greeting line, then blocks each ended by an
    /// empty line, every line CRLF-terminated. The login and its answer
    /// are left out (the server answers logins itself) and a `Logoff`
    /// ends the script.
    pub fn parse(text: &str) -> Script {
        let (greeting, rest) = text
            .split_once("\r\n")
            .expect("a transcript opens with a greeting line");
        let mut lines: Vec<&str> = rest.split("\r\n").collect();
        let tail = lines.pop().unwrap_or_default();
        assert!(tail.is_empty(), "a transcript ends with CRLF, not {tail:?}");

        let mut steps = Vec::new();
        let mut login_answer_due = false;
        for block in blocks(&lines) {
            if block.is_action() {
                let action = Action::from_lines(&block.lines);
                if action.is("Logoff") {
                    break;
                }
                if action.is("Login") {
                    login_answer_due = true;
                } else {
                    steps.push(Step::Await(action));
                }
            } else if login_answer_due && block.get("Response").is_some() {
                login_answer_due = false;
            } else {
                steps.push(Step::Send(block));
            }
        }
        Script {
            greeting: greeting.to_owned(),
            steps,
        }
    }

    /// The script up to, not including, the `nth` event named `name`: the
    /// rest never happens.
    pub fn until(mut self, name: &str, nth: usize) -> Script {
        let end = self.position(&EventRef::new(name, nth));
        self.steps.truncate(end);
        self
    }

    /// The names of the events Asterisk sends, in order.
    pub fn events(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|step| match step {
                Step::Send(block) => block.event().map(str::to_owned),
                Step::Await(_) => None,
            })
            .collect()
    }

    /// The step index of the event `at`; a test naming an event the
    /// script lacks is a broken test.
    fn position(&self, at: &EventRef) -> usize {
        let named = |step: &Step| match step {
            Step::Send(block) => block
                .event()
                .is_some_and(|e| e.eq_ignore_ascii_case(&at.name)),
            Step::Await(_) => false,
        };
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, step)| named(step))
            .nth(at.nth - 1)
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("the script has no {} number {}", at.name, at.nth))
    }

    /// The virtual clock's start: the seconds of the first Uniqueid, as
    /// Asterisk's unique ids start with the channel's creation time.
    fn clock_start(&self) -> i64 {
        let first = self.steps.iter().find_map(|step| match step {
            Step::Send(block) => block.get("Uniqueid"),
            Step::Await(_) => None,
        });
        let secs = first.and_then(|id| id.split('.').next()?.parse::<i64>().ok());
        secs.unwrap_or_else(|| now_micros() / 1_000_000) * 1_000_000
    }

    fn cut_plan(&self, cut: &Cut) -> CutPlan {
        let half = self.position(&cut.after) + 1;
        assert!(
            matches!(self.steps.get(half), Some(Step::Send(_))),
            "nothing to cut after {:?}",
            cut.after
        );
        let resume_at = match &cut.skip {
            Skip::Through(to) => self.position(to) + 1,
            Skip::Count(k) => {
                let mut at = half + 1;
                let mut left = *k;
                while left > 0 {
                    let Some(Step::Send(block)) = self.steps.get(at) else {
                        panic!("cannot skip {k} events after the cut");
                    };
                    left -= usize::from(block.event().is_some());
                    at += 1;
                }
                at
            }
        };
        assert!(resume_at > half, "the skip ends before the cut");
        let skipped = &self.steps[half..resume_at];
        assert!(
            skipped.iter().all(|step| matches!(step, Step::Send(_))),
            "a cut cannot skip over an action the script waits for"
        );
        CutPlan {
            half,
            resume_at,
            resume_on: cut.resume_on.clone(),
        }
    }
}

/// Splits lines into blocks at empty lines; an empty line after the one
/// that ends a block is kept as the block's extra blank.
fn blocks(lines: &[&str]) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut current = Vec::new();
    for line in lines {
        if !line.is_empty() {
            current.push(line.to_string());
        } else if !current.is_empty() {
            blocks.push(Block {
                lines: std::mem::take(&mut current),
                extra_blank: 0,
            });
        } else if let Some(last) = blocks.last_mut() {
            last.extra_blank += 1;
        }
    }
    assert!(
        current.is_empty(),
        "the transcript's last block has no empty line after it"
    );
    blocks
}

/// Where the connection breaks: the event after `after` is sent half-way
/// and the connection closed.
#[derive(Clone, Debug)]
pub struct Cut {
    after: EventRef,
    skip: Skip,
    resume_on: Option<String>,
}

#[derive(Clone, Debug)]
enum Skip {
    /// This many events after the half-sent one.
    Count(usize),
    /// Every event up to and including this one.
    Through(EventRef),
}

impl Cut {
    /// Cuts in the event after the `nth` named `name`. That event is lost,
    /// as are the ones [`Cut::skip`] names: they happen while the link is
    /// down, so they reach the channel table but never callpop.
    pub fn after(name: &str, nth: usize) -> Cut {
        Cut {
            after: EventRef::new(name, nth),
            skip: Skip::Count(0),
            resume_on: None,
        }
    }

    /// Also loses the `k` events after the half-sent one.
    pub fn skip(mut self, k: usize) -> Cut {
        self.skip = Skip::Count(k);
        self
    }

    /// Also loses every event up to and including the `nth` named `name`.
    pub fn skip_through(mut self, name: &str, nth: usize) -> Cut {
        self.skip = Skip::Through(EventRef::new(name, nth));
        self
    }

    /// After the next login the replay waits until callpop sends `action`
    /// (say `CoreShowChannels`), so its answer shows the state as of the
    /// reconnection.
    pub fn resume_on(mut self, action: &str) -> Cut {
        self.resume_on = Some(action.to_owned());
        self
    }
}

/// How a test sets the server up. The defaults: credentials `crm` /
/// `crmsecret`, every presentation allowed, no timestamps, no cut, no
/// pause, the replay starting at the first login.
#[derive(Clone, Debug)]
pub struct Options {
    username: String,
    secret: String,
    presentation: HashMap<String, String>,
    timestamps: bool,
    clock_steps: Vec<(EventRef, Duration)>,
    cut: Option<Cut>,
    inject: Vec<(EventRef, Vec<u8>)>,
    pace: Option<Duration>,
    held: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            username: "crm".into(),
            secret: "crmsecret".into(),
            presentation: HashMap::new(),
            timestamps: false,
            clock_steps: Vec::new(),
            cut: None,
            inject: Vec::new(),
            pace: None,
            held: false,
        }
    }
}

impl Options {
    /// The only username and secret a login is accepted with.
    pub fn credentials(mut self, username: &str, secret: &str) -> Options {
        self.username = username.into();
        self.secret = secret.into();
        self
    }

    /// What `Getvar CALLERID(pres)` answers for `channel`.
    pub fn presentation(mut self, channel: &str, value: &str) -> Options {
        self.presentation.insert(channel.into(), value.into());
        self
    }

    /// Adds `Timestamp: secs.micros` to every event, as Asterisk does with
    /// `timestampevents = yes`, from a virtual clock that starts at the
    /// first Uniqueid's second and moves only as [`Options::advance_after`]
    /// says. An event that carries its own Timestamp keeps it.
    pub fn timestamps(mut self) -> Options {
        self.timestamps = true;
        self
    }

    /// Moves the virtual clock on by `secs` after the `nth` event `name`.
    pub fn advance_after(mut self, name: &str, nth: usize, secs: f64) -> Options {
        let by = Duration::from_secs_f64(secs);
        self.clock_steps.push((EventRef::new(name, nth), by));
        self
    }

    pub fn cut(mut self, cut: Cut) -> Options {
        self.cut = Some(cut);
        self
    }

    /// Sends `bytes` as they are right after the `nth` event `name`. They
    /// are not read by the server: the channel table ignores them.
    pub fn inject_after(mut self, name: &str, nth: usize, bytes: impl Into<Vec<u8>>) -> Options {
        self.inject.push((EventRef::new(name, nth), bytes.into()));
        self
    }

    /// Waits this long before each block of the replay.
    pub fn pace(mut self, every: Duration) -> Options {
        self.pace = Some(every);
        self
    }

    /// Logins are answered but the replay waits for [`AmiServer::play`],
    /// so a test can listen for pops before the first event.
    pub fn held(mut self) -> Options {
        self.held = true;
        self
    }
}

/// The options resolved against the script.
struct Plan {
    greeting: String,
    steps: Vec<Step>,
    /// Microseconds the virtual clock moves on after the step at an index.
    advance: HashMap<usize, i64>,
    inject: HashMap<usize, Vec<u8>>,
    cut: Option<CutPlan>,
}

struct CutPlan {
    /// The step sent half-way.
    half: usize,
    /// The first step sent after the reconnection.
    resume_at: usize,
    resume_on: Option<String>,
}

impl Plan {
    fn new(script: &Script, options: &Options) -> Plan {
        let mut advance = HashMap::new();
        for (at, by) in &options.clock_steps {
            *advance.entry(script.position(at)).or_insert(0) += by.as_micros() as i64;
        }
        let mut inject: HashMap<usize, Vec<u8>> = HashMap::new();
        for (at, bytes) in &options.inject {
            let extra = inject.entry(script.position(at)).or_default();
            extra.extend_from_slice(bytes);
        }
        Plan {
            greeting: script.greeting.clone(),
            steps: script.steps.clone(),
            advance,
            inject,
            cut: options.cut.as_ref().map(|cut| script.cut_plan(cut)),
        }
    }
}

/// One channel as `CoreShowChannels` lists it.
#[derive(Clone, Debug, Default)]
pub struct Channel {
    pub channel: String,
    pub state: String,
    pub state_desc: String,
    pub caller_num: String,
    pub caller_name: String,
    pub connected_num: String,
    pub connected_name: String,
    pub context: String,
    pub exten: String,
    pub uniqueid: String,
    pub linkedid: String,
    pub application: String,
    pub application_data: String,
    pub bridge_id: String,
    since: Option<Instant>,
}

impl Channel {
    /// Takes every field of the channel that `block` carries.
    fn update(&mut self, block: &Block) {
        let fields: [(&str, &mut String); 11] = [
            ("Channel", &mut self.channel),
            ("ChannelState", &mut self.state),
            ("ChannelStateDesc", &mut self.state_desc),
            ("CallerIDNum", &mut self.caller_num),
            ("CallerIDName", &mut self.caller_name),
            ("ConnectedLineNum", &mut self.connected_num),
            ("ConnectedLineName", &mut self.connected_name),
            ("Context", &mut self.context),
            ("Exten", &mut self.exten),
            ("Uniqueid", &mut self.uniqueid),
            ("Linkedid", &mut self.linkedid),
        ];
        for (name, slot) in fields {
            if let Some(value) = block.get(name) {
                *slot = value.to_owned();
            }
        }
    }

    fn show(&self, action_id: Option<&str>) -> String {
        let secs = self.since.map_or(0, |t| t.elapsed().as_secs());
        let duration = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        reply(
            ("Event", "CoreShowChannel"),
            action_id,
            &[
                ("Channel", self.channel.as_str()),
                ("ChannelState", self.state.as_str()),
                ("ChannelStateDesc", self.state_desc.as_str()),
                ("CallerIDNum", self.caller_num.as_str()),
                ("CallerIDName", self.caller_name.as_str()),
                ("ConnectedLineNum", self.connected_num.as_str()),
                ("ConnectedLineName", self.connected_name.as_str()),
                ("Context", self.context.as_str()),
                ("Exten", self.exten.as_str()),
                ("Uniqueid", self.uniqueid.as_str()),
                ("Linkedid", self.linkedid.as_str()),
                ("Application", self.application.as_str()),
                ("ApplicationData", self.application_data.as_str()),
                ("Duration", duration.as_str()),
                ("BridgeId", self.bridge_id.as_str()),
            ],
        )
    }
}

/// Follows one event in the channel table, as Asterisk's own table moves.
fn apply(channels: &mut Vec<Channel>, block: &Block) {
    let Some(event) = block.event() else { return };
    let event = event.to_ascii_lowercase();
    if event == "newchannel" {
        let mut channel = Channel {
            since: Some(Instant::now()),
            ..Channel::default()
        };
        channel.update(block);
        channels.retain(|c| c.uniqueid != channel.uniqueid);
        channels.push(channel);
        return;
    }

    let uniqueid = block.get("Uniqueid");
    let name = block.get("Channel");
    let found = channels.iter().position(|c| match uniqueid {
        Some(id) => c.uniqueid == id,
        None => name == Some(c.channel.as_str()),
    });
    let Some(at) = found else { return };
    let channel = &mut channels[at];
    let value = |field: &str| block.get(field).unwrap_or_default().to_owned();
    match event.as_str() {
        "newstate" | "newconnectedline" | "newcallerid" => channel.update(block),
        "newexten" => {
            channel.application = value("Application");
            channel.application_data = value("AppData");
        }
        "bridgeenter" => channel.bridge_id = value("BridgeUniqueid"),
        "bridgeleave" => channel.bridge_id.clear(),
        "rename" => channel.channel = value("Newname"),
        "hangup" => {
            channels.remove(at);
        }
        _ => {}
    }
}

/// A block the server writes: `first` line, the ActionID when callpop
/// gave one, then `fields`.
fn reply(first: (&str, &str), action_id: Option<&str>, fields: &[(&str, &str)]) -> String {
    let mut out = format!("{}: {}\r\n", first.0, first.1);
    if let Some(id) = action_id {
        out.push_str(&format!("ActionID: {id}\r\n"));
    }
    for (name, value) in fields {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out
}

fn now_micros() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    now.as_micros() as i64
}

fn seconds_text(micros: i64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// What the replay has done so far, shared by every connection.
struct State {
    cursor: usize,
    /// For the blocks after the last awaited action.
    action_ids: Option<ActionIds>,
    /// Awaited actions callpop sent before the replay got to them, by step
    /// index, with callpop's ActionID.
    early: HashMap<usize, Option<String>>,
    /// The virtual clock, in microseconds since the epoch.
    clock: i64,
    channels: Vec<Channel>,
    logins: usize,
    /// The latest successful login; only its connection plays.
    session: u64,
    actions: Vec<Action>,
    cut_done: bool,
    /// After a cut: the action the replay waits for before going on.
    resume_on: Option<String>,
    held: bool,
}

struct Shared {
    plan: Plan,
    options: Options,
    state: Mutex<State>,
    /// Touched on every change, for waiters and idle connections.
    changed: watch::Sender<()>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// What one step of the replay wrote.
enum Played {
    Bytes(Vec<u8>),
    /// The first half of an event; the connection closes after it.
    Cut(Vec<u8>),
    Nothing,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Whether the connection logged in as `session` has a step to play.
    fn may_play(&self, session: u64) -> bool {
        let state = self.state();
        let ready = state.session == session && !state.held && state.resume_on.is_none();
        ready
            && match self.plan.steps.get(state.cursor) {
                Some(Step::Send(_)) => true,
                Some(Step::Await(_)) => state.early.contains_key(&state.cursor),
                None => false,
            }
    }

    fn play_next(&self) -> Played {
        let mut state = self.state();
        let at = state.cursor;
        let played = match self.plan.steps.get(at) {
            None => Played::Nothing,
            Some(Step::Await(expected)) => {
                if let Some(theirs) = state.early.remove(&at) {
                    let recorded = expected.get("ActionID").unwrap_or_default().to_owned();
                    state.action_ids = Some(ActionIds { recorded, theirs });
                    state.cursor += 1;
                }
                Played::Nothing
            }
            Some(Step::Send(block)) => {
                let timestamp = (self.options.timestamps
                    && block.event().is_some()
                    && block.get("Timestamp").is_none())
                .then(|| seconds_text(state.clock));
                let mut bytes = block.render(timestamp.as_deref(), state.action_ids.as_ref());
                match self
                    .plan
                    .cut
                    .as_ref()
                    .filter(|c| c.half == at && !state.cut_done)
                {
                    Some(cut) => {
                        // The rest happens while the link is down.
                        for lost in at..cut.resume_at {
                            self.reach(&mut state, lost);
                        }
                        state.cursor = cut.resume_at;
                        state.cut_done = true;
                        state.resume_on = cut.resume_on.clone();
                        bytes.truncate(bytes.len() / 2);
                        Played::Cut(bytes)
                    }
                    None => {
                        if let Some(extra) = self.plan.inject.get(&at) {
                            bytes.extend_from_slice(extra);
                        }
                        self.reach(&mut state, at);
                        state.cursor += 1;
                        Played::Bytes(bytes)
                    }
                }
            }
        };
        drop(state);
        self.changed.send_replace(());
        played
    }

    /// The step at `at` happened: the channel table and the clock follow.
    fn reach(&self, state: &mut State, at: usize) {
        if let Some(Step::Send(block)) = self.plan.steps.get(at) {
            apply(&mut state.channels, block);
        }
        if let Some(by) = self.plan.advance.get(&at) {
            state.clock += by;
        }
    }

    /// Answers one action; the flag says whether to close the connection
    /// after the answer.
    fn answer(&self, action: Action, session: &mut Option<u64>) -> (Vec<u8>, bool) {
        let mut state = self.state();
        state.actions.push(action.clone());
        let id = action.get("ActionID");
        let error = |message: &str| reply(("Response", "Error"), id, &[("Message", message)]);
        let current = session.is_some_and(|s| s == state.session);

        let (text, close) = match action.name.to_ascii_lowercase().as_str() {
            "" => (error("Missing action in request"), false),
            "login" => {
                state.logins += 1;
                let username = action.get("Username") == Some(self.options.username.as_str());
                let secret = action.get("Secret") == Some(self.options.secret.as_str());
                if username && secret {
                    state.session += 1;
                    *session = Some(state.session);
                    let accepted = [("Message", "Authentication accepted")];
                    (reply(("Response", "Success"), id, &accepted), false)
                } else {
                    (error("Authentication failed"), true)
                }
            }
            _ if session.is_none() => (error("Permission denied"), false),
            "logoff" => {
                let goodbye = [("Message", "Thanks for all the fish.")];
                (reply(("Response", "Goodbye"), id, &goodbye), true)
            }
            "ping" => {
                let now = match self.options.timestamps {
                    true => state.clock,
                    false => now_micros(),
                };
                let now = seconds_text(now);
                let fields = [("Ping", "Pong"), ("Timestamp", now.as_str())];
                (reply(("Response", "Success"), id, &fields), false)
            }
            "getvar" => (self.getvar(&action), false),
            "coreshowchannels" => (show_channels(&state.channels, id), false),
            _ if current && self.expect(&mut state, &action) => (String::new(), false),
            _ => (error("Invalid/unknown command"), false),
        };

        let resumes = state
            .resume_on
            .as_deref()
            .is_some_and(|name| action.is(name));
        if current && resumes {
            state.resume_on = None;
        }
        drop(state);
        self.changed.send_replace(());
        (text.into_bytes(), close)
    }

    fn getvar(&self, action: &Action) -> String {
        let variable = action.get("Variable").unwrap_or_default();
        let channel = action.get("Channel").unwrap_or_default();
        let value = match variable.eq_ignore_ascii_case("CALLERID(pres)") {
            true => self.options.presentation.get(channel).map(String::as_str),
            false => Some(""),
        };
        let value = value.unwrap_or(DEFAULT_PRESENTATION);
        let fields = [("Variable", variable), ("Value", value)];
        reply(("Response", "Success"), action.get("ActionID"), &fields)
    }

    /// Takes `action` as the next one the script waits for, if its name is
    /// that one's; the answer is then the next step of the replay.
    fn expect(&self, state: &mut State, action: &Action) -> bool {
        let next = (state.cursor..self.plan.steps.len()).find(|at| {
            matches!(self.plan.steps[*at], Step::Await(_)) && !state.early.contains_key(at)
        });
        let Some(at) = next else { return false };
        let Step::Await(expected) = &self.plan.steps[at] else {
            return false;
        };
        if !expected.is(&action.name) {
            return false;
        }
        let theirs = action.get("ActionID").map(str::to_owned);
        state.early.insert(at, theirs);
        true
    }
}

fn show_channels(channels: &[Channel], id: Option<&str>) -> String {
    let start = [("EventList", "start"), ("Message", "Channels will follow")];
    let mut out = reply(("Response", "Success"), id, &start);
    for channel in channels {
        out.push_str(&channel.show(id));
    }
    let count = channels.len().to_string();
    let complete = [("EventList", "Complete"), ("ListItems", count.as_str())];
    out.push_str(&reply(("Event", "CoreShowChannelsComplete"), id, &complete));
    out
}

/// The test Asterisk. Dropping it stops it and its connections.
pub struct AmiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl AmiServer {
    /// Listens on 127.0.0.1 port 0 and replays `script` to whoever logs in.
    pub async fn start(script: Script, options: Options) -> AmiServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let plan = Plan::new(&script, &options);
        let state = State {
            cursor: 0,
            action_ids: None,
            early: HashMap::new(),
            clock: script.clock_start(),
            channels: Vec::new(),
            logins: 0,
            session: 0,
            actions: Vec::new(),
            cut_done: false,
            resume_on: None,
            held: options.held,
        };
        let shared = Arc::new(Shared {
            plan,
            options,
            state: Mutex::new(state),
            changed: watch::channel(()).0,
            tasks: Mutex::new(Vec::new()),
        });
        let accept = tokio::spawn(accept(listener, shared.clone()));
        AmiServer {
            addr,
            shared,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Login attempts so far, accepted or refused.
    pub fn logins(&self) -> usize {
        self.shared.state().logins
    }

    /// Every action received, in order.
    pub fn actions(&self) -> Vec<Action> {
        self.shared.state().actions.clone()
    }

    /// Every action named `name` received, in order.
    pub fn actions_named(&self, name: &str) -> Vec<Action> {
        let state = self.shared.state();
        state
            .actions
            .iter()
            .filter(|a| a.is(name))
            .cloned()
            .collect()
    }

    /// The first action named `name`, waiting up to `timeout` for it.
    pub async fn wait_for_action(&self, name: &str, timeout: Duration) -> Option<Action> {
        self.wait(timeout, |state| {
            state.actions.iter().find(|a| a.is(name)).cloned()
        })
        .await
    }

    /// Whether the whole script has been played (or skipped).
    pub fn finished(&self) -> bool {
        self.shared.state().cursor >= self.shared.plan.steps.len()
    }

    /// Waits up to `timeout` for the script to be played through.
    pub async fn wait_finished(&self, timeout: Duration) -> bool {
        let steps = self.shared.plan.steps.len();
        let done = |state: &State| (state.cursor >= steps).then_some(());
        self.wait(timeout, done).await.is_some()
    }

    /// Starts a replay the options held.
    pub fn play(&self) {
        self.shared.state().held = false;
        self.shared.changed.send_replace(());
    }

    /// The channels up now, as `CoreShowChannels` would list them.
    pub fn channels(&self) -> Vec<Channel> {
        self.shared.state().channels.clone()
    }

    async fn wait<T>(&self, timeout: Duration, check: impl Fn(&State) -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changed = self.shared.changed.subscribe();
        loop {
            let found = check(&*self.shared.state());
            if found.is_some() {
                return found;
            }
            let woke = tokio::time::timeout_at(deadline, changed.changed()).await;
            if woke.is_err() {
                return check(&*self.shared.state());
            }
        }
    }
}

impl Drop for AmiServer {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.shared.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let task = tokio::spawn(serve(shared.clone(), stream));
        shared.tasks.lock().unwrap().push(task);
    }
}

/// One connection: the greeting, then actions answered as they come and,
/// once this connection holds the latest login, the replay in between.
async fn serve(shared: Arc<Shared>, stream: TcpStream) {
    let (read, mut write) = stream.into_split();
    let (tx, mut actions) = mpsc::unbounded_channel();
    let reader = tokio::spawn(read_actions(read, tx));
    let mut changed = shared.changed.subscribe();
    let mut session = None;

    let greeting = format!("{}\r\n", shared.plan.greeting);
    if write.write_all(greeting.as_bytes()).await.is_ok() {
        loop {
            let ready = session.is_some_and(|s| shared.may_play(s));
            // Actions first: an answer goes out before the next event.
            tokio::select! {
                biased;
                action = actions.recv() => {
                    let Some(action) = action else { break };
                    let (answer, close) = shared.answer(action, &mut session);
                    if write.write_all(&answer).await.is_err() || close {
                        break;
                    }
                }
                _ = changed.changed() => {}
                _ = pause(shared.options.pace), if ready => {
                    match shared.play_next() {
                        Played::Bytes(bytes) => {
                            if write.write_all(&bytes).await.is_err() {
                                break;
                            }
                        }
                        Played::Cut(bytes) => {
                            let _ = write.write_all(&bytes).await;
                            break;
                        }
                        Played::Nothing => {}
                    }
                }
            }
        }
    }
    let _ = write.shutdown().await;
    reader.abort();
}

async fn pause(pace: Option<Duration>) {
    if let Some(every) = pace {
        tokio::time::sleep(every).await;
    }
}

/// Reads callpop's actions: blocks of `Name: value` lines ended by an
/// empty line. A line with no ':' is kept out of the fields.
async fn read_actions(read: OwnedReadHalf, tx: mpsc::UnboundedSender<Action>) {
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(&['\r', '\n'][..]);
        if !text.is_empty() {
            lines.push(text.to_owned());
            continue;
        }
        if !lines.is_empty()
            && tx
                .send(Action::from_lines(&std::mem::take(&mut lines)))
                .is_err()
        {
            return;
        }
    }
}

/// The server checked with a raw socket, the way callpop's link meets it.
mod checks {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    /// A client that speaks AMI by hand.
    struct Raw {
        reader: BufReader<TcpStream>,
    }

    impl Raw {
        /// Connects and reads the greeting line.
        async fn connect(server: &AmiServer) -> (Raw, String) {
            let stream = TcpStream::connect(server.addr()).await.unwrap();
            let mut raw = Raw {
                reader: BufReader::new(stream),
            };
            let mut greeting = String::new();
            raw.reader.read_line(&mut greeting).await.unwrap();
            (raw, greeting)
        }

        async fn send(&mut self, fields: &[(&str, &str)]) {
            let mut text = String::new();
            for (name, value) in fields {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
            text.push_str("\r\n");
            self.reader
                .get_mut()
                .write_all(text.as_bytes())
                .await
                .unwrap();
        }

        async fn login(&mut self, secret: &str) -> Vec<(String, String)> {
            let login = [
                ("Action", "Login"),
                ("ActionID", "l-1"),
                ("Username", "crm"),
                ("Secret", secret),
            ];
            self.send(&login).await;
            self.block().await.expect("an answer to the login")
        }

        /// The next block's fields, or `None` once the server closed.
        async fn block(&mut self) -> Option<Vec<(String, String)>> {
            let mut fields = Vec::new();
            loop {
                let mut line = String::new();
                let read = tokio::time::timeout(WAIT, self.reader.read_line(&mut line));
                if read.await.expect("the server answers in time").unwrap() == 0 {
                    return None;
                }
                let line = line.trim_end_matches(&['\r', '\n'][..]);
                if line.is_empty() && !fields.is_empty() {
                    return Some(fields);
                }
                if let Some((name, value)) = split_field(line) {
                    fields.push((name.to_owned(), value.to_owned()));
                }
            }
        }

        /// Every byte until the server closes.
        async fn rest(&mut self) -> Vec<u8> {
            let mut bytes = Vec::new();
            let read = tokio::time::timeout(
                WAIT,
                tokio::io::AsyncReadExt::read_to_end(&mut self.reader, &mut bytes),
            );
            read.await.expect("the server closes in time").unwrap();
            bytes
        }

        async fn exact(&mut self, n: usize) -> Vec<u8> {
            let mut bytes = vec![0; n];
            let read = tokio::io::AsyncReadExt::read_exact(&mut self.reader, &mut bytes);
            tokio::time::timeout(WAIT, read)
                .await
                .expect("the bytes in time")
                .unwrap();
            bytes
        }
    }

    fn get<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
        let found = fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, value)| value.as_str())
    }

    /// A transcript from `Name: value` blocks, `|` between lines.
    fn transcript(blocks: &[&str]) -> String {
        let mut text = String::from("Asterisk Call Manager/9.0.0\r\n");
        for block in blocks {
            for line in block.split('|') {
                text.push_str(line.trim());
                text.push_str("\r\n");
            }
            text.push_str("\r\n");
        }
        text
    }

    fn small_call() -> Script {
        Script::parse(&transcript(&[
            "Action: Login|ActionID: l|Username: crm|Secret: crmsecret",
            "Response: Success|ActionID: l|Message: Authentication accepted",
            "Event: Newchannel|Channel: SIP/trunk-1|ChannelState: 4|ChannelStateDesc: Ring|\
             CallerIDNum: +1555|CallerIDName: A|Context: from-trunk|Exten: 100|\
             Uniqueid: 100.1|Linkedid: 100.1",
            "Event: Newchannel|Channel: SIP/201-2|ChannelState: 0|ChannelStateDesc: Down|\
             CallerIDNum: 201|Context: from-internal|Exten: s|Uniqueid: 100.2|Linkedid: 100.1",
            "Event: Newstate|Channel: SIP/201-2|ChannelState: 6|ChannelStateDesc: Up|\
             Uniqueid: 100.2|Linkedid: 100.1",
            "Event: BridgeEnter|BridgeUniqueid: b-1|Channel: SIP/201-2|Uniqueid: 100.2",
            "Action: Originate|ActionID: rec-1|Channel: SIP/202",
            "Response: Success|ActionID: rec-1|Message: Originate successfully queued",
            "Event: VarSet|Channel: SIP/trunk-1|Variable: X|Value: y|Uniqueid: 100.1",
            "Event: OriginateResponse|ActionID: rec-1|Response: Success|Channel: SIP/202-3",
            "Event: Hangup|Channel: SIP/trunk-1|Uniqueid: 100.1|Cause: 16",
            "Event: DialBegin|Channel: SIP/201-2|Uniqueid: 100.2",
            "Event: Hangup|Channel: SIP/201-2|Uniqueid: 100.2|Cause: 16",
            "Action: Logoff|ActionID: lo",
            "Response: Goodbye|ActionID: lo|Message: Thanks for all the fish.",
        ]))
    }

    #[tokio::test]
    async fn logins_are_checked_and_counted_and_standing_actions_answered() {
        let options = Options::default().presentation("SIP/trunk-1", "prohib_passed_screen");
        let server = AmiServer::start(small_call(), options.held()).await;

        // A wrong secret: refused, then the connection closes.
        let (mut refused, greeting) = Raw::connect(&server).await;
        assert_eq!(greeting, "Asterisk Call Manager/9.0.0\r\n");
        let answer = refused.login("guess").await;
        assert_eq!(get(&answer, "Response"), Some("Error"));
        assert_eq!(get(&answer, "ActionID"), Some("l-1"));
        assert_eq!(get(&answer, "Message"), Some("Authentication failed"));
        assert!(refused.block().await.is_none(), "closed after a refusal");
        assert_eq!(server.logins(), 1);

        let (mut raw, _) = Raw::connect(&server).await;
        raw.send(&[("Action", "Ping"), ("ActionID", "p-0")]).await;
        let early = raw.block().await.unwrap();
        assert_eq!(get(&early, "Message"), Some("Permission denied"));
        let answer = raw.login("crmsecret").await;
        assert_eq!(get(&answer, "Response"), Some("Success"));
        assert_eq!(get(&answer, "Message"), Some("Authentication accepted"));
        assert_eq!(server.logins(), 2);

        raw.send(&[("Action", "ping"), ("ActionID", "p-1")]).await;
        let pong = raw.block().await.unwrap();
        assert_eq!(get(&pong, "Ping"), Some("Pong"));
        assert_eq!(get(&pong, "ActionID"), Some("p-1"));
        let stamp = get(&pong, "Timestamp").unwrap();
        let (secs, micros) = stamp.split_once('.').unwrap();
        assert!(secs.parse::<u64>().unwrap() > 1_700_000_000 && micros.len() == 6);

        for (channel, expected) in [
            ("SIP/trunk-1", "prohib_passed_screen"),
            ("SIP/201-2", DEFAULT_PRESENTATION),
        ] {
            let getvar = [
                ("Action", "Getvar"),
                ("ActionID", "g"),
                ("Channel", channel),
                ("Variable", "CALLERID(pres)"),
            ];
            raw.send(&getvar).await;
            let answer = raw.block().await.unwrap();
            assert_eq!(get(&answer, "Response"), Some("Success"));
            assert_eq!(get(&answer, "Variable"), Some("CALLERID(pres)"));
            assert_eq!(get(&answer, "Value"), Some(expected), "{channel}");
        }

        // An action the script does not wait for is unknown.
        raw.send(&[("Action", "Frobnicate"), ("ActionID", "f")])
            .await;
        let unknown = raw.block().await.unwrap();
        assert_eq!(get(&unknown, "Response"), Some("Error"));
        assert_eq!(get(&unknown, "Message"), Some("Invalid/unknown command"));
        let names: Vec<String> = server.actions().into_iter().map(|a| a.name).collect();
        let expected = [
            "Login",
            "Ping",
            "Login",
            "ping",
            "Getvar",
            "Getvar",
            "Frobnicate",
        ];
        assert_eq!(names, expected);
        assert_eq!(server.actions()[5].get("channel"), Some("SIP/201-2"));
        assert!(!server.finished());
    }

    #[tokio::test]
    async fn the_replay_waits_for_its_actions_answers_in_their_id_and_tracks_channels() {
        let server = AmiServer::start(small_call(), Options::default()).await;
        let (mut raw, _) = Raw::connect(&server).await;
        raw.login("crmsecret").await;
        let mut events = Vec::new();
        for _ in 0..4 {
            let block = raw.block().await.unwrap();
            events.push(get(&block, "Event").unwrap().to_owned());
        }
        assert_eq!(
            events,
            ["Newchannel", "Newchannel", "Newstate", "BridgeEnter"]
        );

        let show = [("Action", "CoreShowChannels"), ("ActionID", "s-1")];
        raw.send(&show).await;
        let start = raw.block().await.unwrap();
        assert_eq!(get(&start, "EventList"), Some("start"));
        let trunk = raw.block().await.unwrap();
        assert_eq!(get(&trunk, "Event"), Some("CoreShowChannel"));
        assert_eq!(get(&trunk, "ActionID"), Some("s-1"));
        assert_eq!(get(&trunk, "Channel"), Some("SIP/trunk-1"));
        assert_eq!(get(&trunk, "CallerIDNum"), Some("+1555"));
        assert_eq!(get(&trunk, "Duration"), Some("00:00:00"));
        let phone = raw.block().await.unwrap();
        assert_eq!(get(&phone, "ChannelStateDesc"), Some("Up"));
        assert_eq!(get(&phone, "Linkedid"), Some("100.1"));
        assert_eq!(get(&phone, "BridgeId"), Some("b-1"));
        let complete = raw.block().await.unwrap();
        assert_eq!(get(&complete, "Event"), Some("CoreShowChannelsComplete"));
        assert_eq!(get(&complete, "ListItems"), Some("2"));

        // The recorded answer and the later event carry the client's id.
        let originate = [("Action", "originate"), ("ActionID", "mine-7")];
        raw.send(&originate).await;
        let answer = raw.block().await.unwrap();
        assert_eq!(
            get(&answer, "Message"),
            Some("Originate successfully queued")
        );
        assert_eq!(get(&answer, "ActionID"), Some("mine-7"));
        raw.block().await.unwrap();
        let response = raw.block().await.unwrap();
        assert_eq!(get(&response, "Event"), Some("OriginateResponse"));
        assert_eq!(get(&response, "ActionID"), Some("mine-7"));
        for _ in 0..3 {
            raw.block().await.unwrap();
        }
        assert!(server.wait_finished(WAIT).await);
        assert!(server.channels().is_empty());

        // After the end the connection stays open and answers.
        raw.send(&[("Action", "Ping")]).await;
        assert_eq!(get(&raw.block().await.unwrap(), "Ping"), Some("Pong"));
        let seen = server.wait_for_action("Originate", WAIT).await.unwrap();
        assert_eq!(seen.get("ActionID"), Some("mine-7"));
    }

    #[tokio::test]
    async fn a_cut_loses_events_to_the_table_only_and_the_replay_resumes_with_the_clock() {
        let options = Options::default()
            .timestamps()
            .advance_after("Newstate", 1, 1.5)
            .cut(Cut::after("Newstate", 1).resume_on("CoreShowChannels"));
        let server = AmiServer::start(small_call(), options).await;
        let (mut raw, _) = Raw::connect(&server).await;
        raw.login("crmsecret").await;
        let mut stamps = Vec::new();
        for _ in 0..3 {
            let block = raw.block().await.unwrap();
            assert_eq!(block[1].0, "Timestamp", "right after the Event line");
            stamps.push(block[1].1.clone());
        }
        assert_eq!(stamps, ["100.000000", "100.000000", "100.000000"]);

        // BridgeEnter comes half-way, then the end; its half is its start.
        let half = String::from_utf8(raw.rest().await).unwrap();
        assert!(
            !half.is_empty()
                && "Event: BridgeEnter\r\nTimestamp: 101.500000\r\n\
            BridgeUniqueid: b-1\r\nChannel: SIP/201-2\r\nUniqueid: 100.2\r\n\r\n"
                    .starts_with(&half),
            "{half:?}"
        );
        assert_eq!(
            server.channels()[1].bridge_id,
            "b-1",
            "the lost event counts"
        );

        // After the next login the replay waits for the list.
        let (mut again, _) = Raw::connect(&server).await;
        again.login("crmsecret").await;
        assert_eq!(server.logins(), 2);
        again.send(&[("Action", "CoreShowChannels")]).await;
        let start = again.block().await.unwrap();
        assert_eq!(get(&start, "Response"), Some("Success"));
        assert_eq!(again.block().await.unwrap()[0].1, "CoreShowChannel");
        assert_eq!(again.block().await.unwrap()[0].1, "CoreShowChannel");
        let complete = again.block().await.unwrap();
        assert_eq!(get(&complete, "ListItems"), Some("2"));

        // The script now waits for the Originate that was never sent.
        again
            .send(&[("Action", "Originate"), ("ActionID", "o")])
            .await;
        let answer = again.block().await.unwrap();
        assert_eq!(get(&answer, "ActionID"), Some("o"));
        let varset = again.block().await.unwrap();
        assert_eq!(get(&varset, "Timestamp"), Some("101.500000"));
    }

    #[tokio::test]
    async fn a_recorded_transcript_is_sent_byte_for_byte() {
        let path = crate::helpers::fixture("asterisk/ami-a-inbound-answered.txt");
        let text = std::fs::read_to_string(&path).unwrap();

        // What the client receives: everything but its own two actions and
        // the answer to the Logoff.
        let (login, rest) = text.split_once("Events: on\r\n\r\n").unwrap();
        let greeting = login.split_once("\r\n").unwrap().0;
        let played = rest.split_once("Action: Logoff").unwrap().0;
        let expected = format!("{greeting}\r\n{played}");

        let server = AmiServer::start(Script::parse(&text), Options::default()).await;
        let stream = TcpStream::connect(server.addr()).await.unwrap();
        let mut raw = Raw {
            reader: BufReader::new(stream),
        };
        let login = [
            ("Action", "Login"),
            ("ActionID", "login-1"),
            ("Username", "crm"),
            ("Secret", "crmsecret"),
        ];
        raw.send(&login).await;
        let got = raw.exact(expected.len()).await;
        assert!(
            got == expected.as_bytes(),
            "the replay differs from the transcript"
        );
        assert!(server.wait_finished(WAIT).await);
        assert!(server.channels().is_empty(), "{:?}", server.channels());
    }

    #[tokio::test]
    async fn blank_lines_and_bare_line_feeds_are_replayed_as_written() {
        let quirks = "Event: Newchannel\r\nAccountCode:\r\nUniqueid: 1.1\r\n\r\n\r\n\
            Event: VarSet\r\nValue: call me back\nafter 5 pm\r\nUniqueid: 1.1\r\n\r\n";
        let text = format!(
            "Asterisk Call Manager/7.0.3\r\nAction: Login\r\nUsername: crm\r\n\
             Secret: crmsecret\r\n\r\nResponse: Success\r\n\
             Message: Authentication accepted\r\n\r\n{quirks}"
        );
        let script = Script::parse(&text);
        assert_eq!(script.events(), ["Newchannel", "VarSet"]);

        let server = AmiServer::start(script, Options::default()).await;
        let (mut raw, greeting) = Raw::connect(&server).await;
        assert_eq!(greeting, "Asterisk Call Manager/7.0.3\r\n");
        let answer = raw.login("crmsecret").await;
        assert_eq!(get(&answer, "Response"), Some("Success"));
        assert_eq!(raw.exact(quirks.len()).await, quirks.as_bytes());
    }
}
