//! The AMI link against a replaying Asterisk: the recorded transcripts, field cases 18, 19
//! and 21, a cut connection, a refused login, bad input, click-to-dial and two links.
//!
//! What each call must become comes from `fixtures/asterisk/README.md` and the field cases,
//! not from the daemon's code.

use std::collections::HashMap;
use std::time::Duration;

use callpop::lookup::{Normalizer, Number};
use callpop::store::customers::{NewCustomer, NewNumber};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::ami_server::{AmiServer, Cut, Options, Script};
use crate::helpers::{eventually, spawn_app_with_config, PopStream, SseEvent, TestApp, TOKEN};

/// The longest wait for anything that should happen.
const WAIT: Duration = Duration::from_secs(10);
/// No pop event for this long after the calls ended: none is coming.
const QUIET: Duration = Duration::from_millis(1500);

const A: &str = "ami-a-inbound-answered.txt";
const B: &str = "ami-b-inbound-abandoned.txt";
const C: &str = "ami-c-inbound-failover-202.txt";
const D: &str = "ami-d-outbound-201.txt";
const E: &str = "ami-e-inbound-queue.txt";
const G: &str = "ami-g-inbound-anonymous.txt";
const H: &str = "ami-h-inbound-unicode-markup-name.txt";
const I: &str = "ami-i-originate-click-to-dial.txt";

/// The display name scenario h sends.
const MARKUP_NAME: &str = "Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本";

/// A `[[links]]` entry for the AMI server on `port`, set up as the recordings' Asterisk
/// is; `extra` keys replace the defaults of the same name or are added.
fn link_toml(name: &str, port: u16, extra: &[(&str, &str)]) -> String {
    let mut keys: Vec<(String, String)> = [
        ("kind", "\"ami\"".to_owned()),
        ("name", format!("\"{name}\"")),
        ("host", "\"127.0.0.1\"".to_owned()),
        ("port", port.to_string()),
        ("username", "\"crm\"".to_owned()),
        ("secret", "\"crmsecret\"".to_owned()),
        ("trunk_contexts", "[\"from-trunk\"]".to_owned()),
        ("internal_contexts", "[\"from-internal\"]".to_owned()),
        ("ping_secs", "20".to_owned()),
        ("stale_after_secs", "14400".to_owned()),
        ("ask_presentation", "true".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    for (key, value) in extra {
        match keys.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = (*value).to_owned(),
            None => keys.push(((*key).to_owned(), (*value).to_owned())),
        }
    }
    let mut toml = String::from("[[links]]\n");
    for (key, value) in keys {
        toml.push_str(&format!("{key} = {value}\n"));
    }
    toml
}

/// Shows the daemon's log in a failing test's output (`RUST_LOG` changes how much).
fn log() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        "callpop=info,callpop::telephony::ami=debug,callpop::calls=debug".into()
    });
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_test_writer();
    let _ = subscriber.try_init();
}

/// A daemon linked to one replaying Asterisk, and the pop streams of some extensions.
struct Rig {
    app: TestApp,
    server: AmiServer,
    pops: Vec<(String, PopStream)>,
}

impl Rig {
    /// Starts the server (held before its first event), then the daemon linked to it as
    /// `office`, and listens to the pops of `extensions`.
    async fn start(
        script: Script,
        options: Options,
        extra: &[(&str, &str)],
        extensions: &[&str],
    ) -> Rig {
        log();
        let server = AmiServer::start(script, options.held()).await;
        let app = spawn_app_with_config(&[], &link_toml("office", server.port(), extra)).await;
        let mut pops = Vec::new();
        for extension in extensions {
            pops.push((extension.to_string(), app.pops(extension).await));
        }
        Rig { app, server, pops }
    }

    /// Lets the replay go once callpop has logged in and asked what is up.
    async fn play(&self) {
        let listed = self.server.wait_for_action("CoreShowChannels", WAIT).await;
        listed.expect("callpop logs in and lists the channels");
        self.server.play();
    }

    /// Waits for the replay to end and for `n` calls, all ended; returns them oldest
    /// first, as `GET /api/v1/calls/{id}` gives them, with every pop event each
    /// extension saw.
    async fn settle(&mut self, n: usize) -> (Vec<Value>, HashMap<String, Vec<SseEvent>>) {
        assert!(
            self.server.wait_finished(WAIT).await,
            "the replay did not finish"
        );
        let calls = ended_calls(&self.app, n).await;
        let pops = self.pops_seen().await;
        let again = self.app.calls().await;
        assert_eq!(again.len(), n, "calls after a quiet while: {again:#?}");
        (calls, pops)
    }

    /// Every pop event each extension listened to saw, read until a quiet while.
    async fn pops_seen(&mut self) -> HashMap<String, Vec<SseEvent>> {
        let reads = self.pops.iter_mut().map(|(extension, stream)| async move {
            let mut events = Vec::new();
            while let Some(event) = stream.next(QUIET).await {
                events.push(event);
            }
            (extension.clone(), events)
        });
        join_all(reads).await.into_iter().collect()
    }
}

/// Waits for `n` recorded calls, each with an outcome; returns them oldest first with
/// their legs.
async fn ended_calls(app: &TestApp, n: usize) -> Vec<Value> {
    let ended = eventually(WAIT, async || {
        let calls = app.calls().await;
        let done = calls.len() >= n && calls.iter().all(|c| !c["outcome"].is_null());
        done.then_some(calls)
    })
    .await;
    let Some(calls) = ended else {
        panic!("expected {n} ended calls, got {:#?}", app.calls().await);
    };
    let mut detailed = Vec::new();
    for call in calls.iter().rev() {
        detailed.push(app.api(&format!("/api/v1/calls/{}", call["id"])).await);
    }
    detailed
}

/// The call whose Linkedid is `pbx_call_id`.
fn by_pbx<'a>(calls: &'a [Value], pbx_call_id: &str) -> &'a Value {
    calls
        .iter()
        .find(|c| c["pbx_call_id"] == pbx_call_id)
        .unwrap_or_else(|| panic!("no call {pbx_call_id} in {calls:#?}"))
}

/// Each extension a call rang at and how its ringing ended, by extension.
fn legs(call: &Value) -> Vec<(String, String)> {
    let mut legs: Vec<(String, String)> = call["legs"]
        .as_array()
        .expect("a call's legs")
        .iter()
        .map(|leg| {
            let outcome = leg["outcome"].as_str().unwrap_or("(open)");
            (
                leg["extension"].as_str().unwrap().to_owned(),
                outcome.to_owned(),
            )
        })
        .collect();
    legs.sort();
    legs
}

fn leg_list(legs: &[(&str, &str)]) -> Vec<(String, String)> {
    legs.iter()
        .map(|(x, o)| (x.to_string(), o.to_string()))
        .collect()
}

fn kinds(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

/// `extension` saw exactly the pop events `expected` (`pop`, `answered`, `withdraw`),
/// all for `call`.
fn assert_pops(
    pops: &HashMap<String, Vec<SseEvent>>,
    extension: &str,
    call: &Value,
    expected: &[&str],
) {
    let events = &pops[extension];
    assert_eq!(
        kinds(events),
        expected,
        "pop events at {extension}: {events:#?}"
    );
    for event in events {
        assert_eq!(
            event.data["call_id"], call["id"],
            "pop event at {extension}: {event:#?}"
        );
    }
}

/// The fields every recorded inbound call is checked on.
fn assert_inbound(
    call: &Value,
    number: Option<&str>,
    name: Option<&str>,
    answered_by: Option<&str>,
) {
    assert_eq!(call["link"], "office", "{call:#}");
    assert_eq!(call["direction"], "inbound", "{call:#}");
    assert_eq!(call["remote_raw"], json!(number), "{call:#}");
    assert_eq!(call["remote_name"], json!(name), "{call:#}");
    assert_eq!(call["answered_by"], json!(answered_by), "{call:#}");
    assert_eq!(
        call["answered_at"].is_null(),
        answered_by.is_none(),
        "{call:#}"
    );
    assert!(!call["ended_at"].is_null(), "{call:#}");
    assert_eq!(call["originated"], false, "{call:#}");
}

/// HTML text with its character references read back.
fn unescape(html: &str) -> String {
    let references = [
        ("&lt;", "<"),
        ("&#60;", "<"),
        ("&gt;", ">"),
        ("&#62;", ">"),
        ("&quot;", "\""),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&amp;", "&"),
        ("&#38;", "&"),
    ];
    let mut text = html.to_owned();
    for (reference, character) in references {
        text = text.replace(reference, character);
    }
    text
}

async fn link_status(app: &TestApp) -> Vec<Value> {
    app.api("/api/v1/links").await.as_array().unwrap().clone()
}

/// Waits until every link says it is connected.
async fn wait_connected(app: &TestApp) -> Vec<Value> {
    let up = eventually(WAIT, async || {
        let links = link_status(app).await;
        links
            .iter()
            .all(|l| l["state"] == "connected")
            .then_some(links)
    })
    .await;
    match up {
        Some(links) => links,
        None => panic!("links not connected: {:#?}", link_status(app).await),
    }
}

/// Stores a customer with one number as an importer read it.
async fn seed(app: &TestApp, name: &str, number: Number) -> i64 {
    let customer = NewCustomer {
        name: name.into(),
        numbers: vec![NewNumber {
            number,
            kind: Default::default(),
        }],
        ..NewCustomer::default()
    };
    app.store.insert_customer(&customer).await.unwrap()
}

/// A number read in the US, as the importer reads one.
fn us_number(raw: &str) -> Number {
    Normalizer::new("US")
        .unwrap()
        .check(raw, "US".parse().unwrap())
        .unwrap()
}

/// The import junk of field case 19, stored as it was before numbers were checked:
/// K1 "anonymous", K2 "", K3 "unknown", K4 "0".
async fn seed_junk(app: &TestApp) {
    for (name, raw) in [
        ("K1", "anonymous"),
        ("K2", ""),
        ("K3", "unknown"),
        ("K4", "0"),
    ] {
        let digits: String = raw.chars().filter(char::is_ascii_digit).rev().collect();
        let number = Number {
            raw: raw.into(),
            e164: None,
            country_code: None,
            national: None,
            rev_digits: digits,
            extension: None,
        };
        seed(app, name, number).await;
    }
}

// ---------------------------------------------------------------------------------------
// Transcripts written for a test.

/// A transcript from `greeting`, the login and its answer, then `events` as they are.
fn transcript(greeting: &str, events: &str) -> String {
    format!(
        "{greeting}\r\nAction: Login\r\nActionID: login-1\r\nUsername: crm\r\n\
         Secret: crmsecret\r\nEvents: on\r\n\r\nResponse: Success\r\nActionID: login-1\r\n\
         Message: Authentication accepted\r\n\r\n{events}"
    )
}

/// One channel, as the events of a written transcript describe it.
#[derive(Clone, Copy)]
struct Chan<'a> {
    name: &'a str,
    uniqueid: &'a str,
    linkedid: &'a str,
    context: &'a str,
    exten: &'a str,
    num: &'a str,
    cid_name: &'a str,
}

impl Chan<'_> {
    /// The channel's fields in an event, `Dest`-prefixed for the dialled side.
    fn fields(&self, prefix: &str) -> String {
        let fields = [
            ("CallerIDNum", self.num),
            ("CallerIDName", self.cid_name),
            ("ConnectedLineNum", "<unknown>"),
            ("ConnectedLineName", "<unknown>"),
            ("AccountCode", ""),
            ("Context", self.context),
            ("Exten", self.exten),
            ("Uniqueid", self.uniqueid),
            ("Linkedid", self.linkedid),
        ];
        let mut text = format!("{prefix}Channel: {}\r\n", self.name);
        for (name, value) in fields {
            text.push_str(&format!("{prefix}{name}: {value}\r\n"));
        }
        text
    }
}

fn event(name: &str, body: &str) -> String {
    format!("Event: {name}\r\nPrivilege: call,all\r\n{body}\r\n")
}

fn newchannel(ch: &Chan<'_>, state: &str) -> String {
    event(
        "Newchannel",
        &format!("ChannelStateDesc: {state}\r\n{}", ch.fields("")),
    )
}

fn dial_begin(from: &Chan<'_>, to: &Chan<'_>, dial_string: &str) -> String {
    let body = format!(
        "{}{}DialString: {dial_string}\r\n",
        from.fields(""),
        to.fields("Dest")
    );
    event("DialBegin", &body)
}

fn dial_end(from: &Chan<'_>, to: &Chan<'_>, status: &str) -> String {
    let body = format!(
        "{}{}DialStatus: {status}\r\n",
        from.fields(""),
        to.fields("Dest")
    );
    event("DialEnd", &body)
}

fn hangup(ch: &Chan<'_>, cause: &str) -> String {
    event("Hangup", &format!("{}Cause: {cause}\r\n", ch.fields("")))
}

/// `event` with a `Timestamp:` right after its Event line, as `timestampevents` sends.
fn stamped(event: String, timestamp: &str) -> String {
    let (first, rest) = event.split_once("\r\n").unwrap();
    format!("{first}\r\nTimestamp: {timestamp}\r\n{rest}")
}

// ---------------------------------------------------------------------------------------
// The recorded transcripts.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_inbound_call_is_one_call_answered_by_201_whose_pop_stays() {
    let mut rig = Rig::start(Script::fixture(A), Options::default(), &[], &["201", "202"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_inbound(call, Some("+1555010011"), Some("Carol Caller"), Some("201"));
    assert_eq!(call["pbx_call_id"], "1796313877.0");
    assert_eq!(call["withheld"], false);
    assert_eq!(call["extension"], "201");
    assert_eq!(call["outcome"], "answered");
    assert_eq!(legs(call), leg_list(&[("201", "answered")]));

    assert_pops(&pops, "201", call, &["pop", "answered"]);
    assert_pops(&pops, "202", call, &[]);
    let pop = &pops["201"][0].data["pop"];
    assert_eq!(pop["name"], "Carol Caller");
    assert_eq!(pop["withheld"], false);
    assert_eq!(pops["201"][1].data["pop"]["answered"], true);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_gives_up_is_an_abandoned_call_and_a_missed_call_for_201() {
    let mut rig = Rig::start(Script::fixture(B), Options::default(), &[], &["201", "202"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_inbound(call, Some("+1555010012"), Some("Dan Dropper"), None);
    assert_eq!(call["extension"], "201");
    assert_eq!(call["outcome"], "abandoned");
    assert_eq!(legs(call), leg_list(&[("201", "missed")]));

    assert_pops(&pops, "201", call, &["pop", "withdraw"]);
    assert_pops(&pops, "202", call, &[]);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_from_201_to_202_is_one_call_answered_by_202_and_missed_at_201() {
    let mut rig = Rig::start(Script::fixture(C), Options::default(), &[], &["201", "202"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_inbound(call, Some("+1555010013"), Some("Erin Early"), Some("202"));
    assert_eq!(call["pbx_call_id"], "1796313898.4");
    assert_eq!(call["extension"], "201", "the call first rang at 201");
    assert_eq!(call["outcome"], "answered");
    assert_eq!(
        legs(call),
        leg_list(&[("201", "missed"), ("202", "answered")])
    );

    assert_pops(&pops, "201", call, &["pop", "withdraw"]);
    assert_pops(&pops, "202", call, &["pop", "answered"]);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_201_places_through_the_trunk_is_one_answered_outbound_call_without_pops() {
    let mut rig = Rig::start(Script::fixture(D), Options::default(), &[], &["201", "202"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_eq!(call["direction"], "outbound", "{call:#}");
    assert_eq!(call["pbx_call_id"], "1796313918.7");
    assert_eq!(call["extension"], "201");
    assert_eq!(call["remote_raw"], "+1555019901");
    assert_eq!(call["withheld"], false);
    assert_eq!(call["answered_by"], "201");
    assert_eq!(call["outcome"], "answered");
    assert_eq!(call["originated"], false);
    assert!(!call["ended_at"].is_null());
    assert_eq!(legs(call), leg_list(&[("201", "answered")]));

    // The rep placing a call is not shown who they are calling.
    assert_pops(&pops, "201", call, &[]);
    assert_pops(&pops, "202", call, &[]);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_call_pops_at_201_and_202_and_202_is_answered_elsewhere_not_missed() {
    let mut rig = Rig::start(Script::fixture(E), Options::default(), &[], &["201", "202"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_inbound(call, Some("+1555010015"), Some("Frank Queue"), Some("201"));
    assert_eq!(call["outcome"], "answered");
    assert_eq!(
        legs(call),
        leg_list(&[("201", "answered"), ("202", "answered_elsewhere")])
    );

    assert_pops(&pops, "201", call, &["pop", "answered"]);
    assert_pops(&pops, "202", call, &["pop", "withdraw"]);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_caller_is_withheld_matched_to_no_customer_and_popped_as_withheld() {
    let mut rig = Rig::start(Script::fixture(G), Options::default(), &[], &["201", "202"]).await;
    seed_junk(&rig.app).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["withheld"], true, "{call:#}");
    assert_eq!(call["remote_raw"], Value::Null, "{call:#}");
    assert_eq!(call["remote_e164"], Value::Null, "{call:#}");
    assert_eq!(call["matches"], json!([]), "{call:#}");
    assert_eq!(call["answered_by"], "201");
    assert_eq!(call["outcome"], "answered");
    assert_eq!(legs(call), leg_list(&[("201", "answered")]));

    assert_pops(&pops, "201", call, &["pop", "answered"]);
    assert_pops(&pops, "202", call, &[]);
    let pop = &pops["201"][0].data["pop"];
    assert_eq!(pop["withheld"], true, "{pop:#}");
    assert_eq!(pop["caller"], "", "{pop:#}");
    assert_eq!(pop["number_e164"], Value::Null, "{pop:#}");
    assert_eq!(pop["matches"], json!([]), "{pop:#}");
    assert!(
        !pop.to_string().to_lowercase().contains("anonymous"),
        "{pop:#}"
    );
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_with_markup_and_unicode_is_stored_exactly_and_shown_as_text() {
    let mut rig = Rig::start(Script::fixture(H), Options::default(), &[], &["201", "202"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_inbound(call, Some("+1555010019"), Some(MARKUP_NAME), Some("201"));
    assert_eq!(call["outcome"], "answered");
    assert_eq!(legs(call), leg_list(&[("201", "answered")]));
    assert_pops(&pops, "201", call, &["pop", "answered"]);
    assert_pops(&pops, "202", call, &[]);
    assert_eq!(pops["201"][0].data["pop"]["name"], MARKUP_NAME);

    // The call page escapes it: text, never markup.
    let mut browser = crate::helpers::admin_browser(&rig.app).await;
    let page = format!("/calls/{}", call["id"]);
    let html = browser.get(&page).await.text().await.unwrap();
    let heading = html
        .split("<h1>")
        .nth(1)
        .and_then(|h| h.split("</h1>").next());
    assert_eq!(
        heading.map(unescape).as_deref(),
        Some(MARKUP_NAME),
        "{html}"
    );
    assert!(!html.contains("<b>") && !html.contains("VIP</b>"), "{html}");
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ringing_answer_and_end_times_come_from_event_timestamps_as_the_cdr_has_them() {
    // timestampevents = yes, with the clock moving as it did: 1 s of ringing, 4 s of talk.
    let cases = [
        (
            A,
            "2026-12-03T16:04:37Z",
            "2026-12-03T16:04:38Z",
            "2026-12-03T16:04:42Z",
        ),
        (
            D,
            "2026-12-03T16:05:18Z",
            "2026-12-03T16:05:19Z",
            "2026-12-03T16:05:23Z",
        ),
    ];
    for (file, start, answer, end) in cases {
        let options = Options::default()
            .timestamps()
            .advance_after("DialState", 1, 1.0)
            .advance_after("BridgeEnter", 2, 4.0);
        let mut rig = Rig::start(Script::fixture(file), options, &[], &[]).await;
        rig.play().await;
        let (calls, _) = rig.settle(1).await;
        let call = &calls[0];
        let time = |field: &str| -> DateTime<Utc> {
            let text = call[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field}: {call:#}"));
            text.parse().unwrap()
        };
        let expected = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(time("started_at"), expected(start), "{file}");
        assert_eq!(time("answered_at"), expected(answer), "{file}");
        assert_eq!(time("ended_at"), expected(end), "{file}");
        assert_eq!(
            (time("ended_at") - time("answered_at")).num_seconds(),
            4,
            "{file}"
        );
        rig.app.stop().await;
    }
}

// ---------------------------------------------------------------------------------------
// Presentation, reconnection, refusal.

/// Scenario a's caller having restricted presentation: withheld everywhere, though AMI
/// shows the number, once callpop asked Asterisk.
async fn restricted_caller(script: Script, options: Options) {
    let options = options.presentation("SIP/trunk-00000000", "prohib_passed_screen");
    let mut rig = Rig::start(script, options, &[], &["201"]).await;
    // A customer the number would match, were it shown.
    let customer = seed(&rig.app, "Caller Co", us_number("+1555010011")).await;
    let would = rig.app.api("/api/v1/lookup?number=%2B1555010011").await;
    assert_eq!(would["matches"][0]["customer_id"], customer, "{would:#}");
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let getvar = rig.server.actions_named("Getvar");
    assert!(
        getvar
            .iter()
            .any(|a| a.get("Channel") == Some("SIP/trunk-00000000")
                && a.get("Variable") == Some("CALLERID(pres)")),
        "callpop asks the caller's presentation: {getvar:#?}"
    );
    let call = &calls[0];
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["withheld"], true, "{call:#}");
    assert_eq!(call["remote_raw"], Value::Null, "{call:#}");
    assert_eq!(call["remote_e164"], Value::Null, "{call:#}");
    assert_eq!(call["matches"], json!([]), "{call:#}");
    assert_eq!(call["answered_by"], "201");
    assert_eq!(call["outcome"], "answered");

    assert_pops(&pops, "201", call, &["pop", "answered"]);
    let pop = &pops["201"][0].data["pop"];
    assert_eq!(pop["withheld"], true, "{pop:#}");
    assert_eq!(pop["caller"], "", "{pop:#}");
    assert_eq!(pop["number_e164"], Value::Null, "{pop:#}");
    assert_eq!(pop["matches"], json!([]), "{pop:#}");
    assert!(!pop.to_string().contains("555010011"), "{pop:#}");
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_restricted_presentation_is_withheld_though_ami_shows_the_number() {
    // The events come as the call goes on, a few milliseconds apart, not in one instant.
    let options = Options::default().pace(Duration::from_millis(5));
    restricted_caller(Script::fixture(A), options).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_caller_whose_whole_call_comes_before_the_getvar_answer_is_withheld() {
    // Asterisk sends the call in one burst (a short call, or callpop reading behind), so
    // the answer to callpop's Getvar comes after the call's last Hangup.
    let text = std::fs::read_to_string(crate::helpers::fixture(&format!("asterisk/{A}"))).unwrap();
    let first = text.find("Event: Newchannel").unwrap();
    let split = first + text[first..].find("\r\n\r\n").unwrap() + 4;
    let end = text.find("Action: Logoff").unwrap();
    let burst = text[split..end].as_bytes().to_vec();
    let options = Options::default().inject_after("Newchannel", 1, burst);
    restricted_caller(Script::parse(&text[..split]), options).await;
}

/// Scenario c with the connection cut by `cut` and restored: still one call answered by
/// 202, 201 rang and did not answer, and callpop logged in again and listed the channels.
async fn failover_survives(cut: Cut) {
    let options = Options::default().cut(cut.resume_on("CoreShowChannels"));
    let mut rig = Rig::start(Script::fixture(C), options, &[], &["201", "202"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_inbound(call, Some("+1555010013"), Some("Erin Early"), Some("202"));
    assert_eq!(call["outcome"], "answered");
    assert_eq!(
        legs(call),
        leg_list(&[("201", "missed"), ("202", "answered")])
    );
    assert_pops(&pops, "201", call, &["pop", "withdraw"]);
    assert_pops(&pops, "202", call, &["pop", "answered"]);

    assert_eq!(rig.server.logins(), 2);
    assert_eq!(rig.server.actions_named("CoreShowChannels").len(), 2);
    let links = wait_connected(&rig.app).await;
    assert_eq!(links[0]["name"], "office");
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_after_201_stopped_ringing_and_hung_up_still_gives_one_call_answered_by_202() {
    failover_survives(Cut::after("DialEnd", 1).skip_through("Hangup", 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_while_201_rings_until_202_rings_still_gives_one_call_answered_by_202() {
    // Lost: 201's DialEnd and Hangup, 202's Newchannel and DialBegin.
    failover_survives(Cut::after("DialState", 1).skip_through("DialBegin", 2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_while_202_rings_until_it_answered_still_gives_one_call_answered_by_202() {
    // Lost: 202 going Up and its DialEnd ANSWER; the channel list shows it Up.
    failover_survives(Cut::after("DialState", 2).skip_through("DialEnd", 2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_shows_on_the_link_and_is_retried_without_a_crash() {
    let options = Options::default().credentials("crm", "another-secret");
    let rig = Rig::start(Script::fixture(A), options, &[], &[]).await;
    let app = &rig.app;

    let refused = eventually(WAIT, async || {
        let links = link_status(app).await;
        let error = links[0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        error.contains("Authentication failed").then_some(links)
    })
    .await;
    let Some(links) = refused else {
        panic!("no refusal shown: {:#?}", link_status(app).await);
    };
    assert_eq!(links[0]["name"], "office");
    assert_eq!(links[0]["kind"], "ami");
    assert_ne!(links[0]["state"], "connected", "{links:#?}");

    let retried = eventually(WAIT, async || (rig.server.logins() >= 3).then_some(())).await;
    assert!(retried.is_some(), "logins: {}", rig.server.logins());
    assert!(
        !rig.server.finished(),
        "nothing is replayed to a refused login"
    );
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(health.status().is_success());
    assert!(app.calls().await.is_empty());

    // A dial while the link is down is refused now, not sent on its return.
    let dial = app
        .client
        .post(app.url("/api/v1/dial"))
        .bearer_auth(TOKEN)
        .json(&json!({"number": "+1555019902", "extension": "201"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dial.status().as_u16(), 503);
    let still = link_status(app).await;
    assert_ne!(still[0]["state"], "connected", "{still:#?}");
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_pointed_at_something_else_never_sends_it_the_secret() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = spawn_app_with_config(&[], &link_toml("office", port, &[])).await;

    let (mut stream, _) = listener.accept().await.unwrap();
    stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "callpop hangs up on a stranger");
    assert!(
        !String::from_utf8_lossy(&got).contains("crmsecret"),
        "{got:?}"
    );

    let shown = eventually(WAIT, async || {
        let links = link_status(&app).await;
        let error = links[0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        error.contains("not an Asterisk manager").then_some(())
    })
    .await;
    assert!(shown.is_some(), "{:#?}", link_status(&app).await);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Field cases.

/// Field case 18: the stream as the case gives it, then 201 rings and answers, with
/// `UniqueID` spelled as some Asterisk versions do and an RTCPSent with a bare
/// `ReportBlock:`.
fn case_18() -> Script {
    let quirks = "Event: Newchannel\r\nPrivilege: call,all\r\n\
        Channel: PJSIP/carrier-a-00000011\r\nChannelState: 0\r\nChannelStateDesc: Down\r\n\
        CallerIDNum: +12125550156\r\nCallerIDName: Support: EMEA & Co\r\n\
        ConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nAccountCode:\r\n\
        Context: from-trunk\r\nExten: 12125550100\r\nUniqueid: 1700000000.11\r\n\
        Linkedid: 1700000000.11\r\n\r\n\r\n\
        Event: VarSet\r\nChannel: PJSIP/carrier-a-00000011\r\nVariable: CALLBACK_NOTE\r\n\
        Value: call me back\nafter 5 pm\r\nUniqueid: 1700000000.11\r\n\
        Linkedid: 1700000000.11\r\n\r\n\
        Event: Newstate\r\nChannel: PJSIP/carrier-a-00000011\r\nChannelState: 4\r\n\
        ChannelStateDesc: Ring\r\nCallerIDNum: +12125550156\r\nUniqueid: 1700000000.11\r\n\
        Linkedid: 1700000000.11\r\n\r\n";
    let trunk = Chan {
        name: "PJSIP/carrier-a-00000011",
        uniqueid: "1700000000.11",
        linkedid: "1700000000.11",
        context: "from-trunk",
        exten: "12125550100",
        num: "+12125550156",
        cid_name: "Support: EMEA & Co",
    };
    let phone = Chan {
        name: "PJSIP/201-00000012",
        uniqueid: "1700000000.12",
        context: "from-internal",
        exten: "s",
        num: "201",
        cid_name: "Alice Agent",
        ..trunk
    };
    let rtcp = "Event: RTCPSent\r\nPrivilege: reporting,all\r\n\
        Channel: PJSIP/carrier-a-00000011\r\nSSRC: 0x1d2c3b4a\r\nPT: 200(SR)\r\n\
        ReportBlock:\r\nUniqueid: 1700000000.11\r\n\r\n";
    let spelled = |text: String| text.replace("Uniqueid:", "UniqueID:");
    let events = [
        quirks.to_owned(),
        newchannel(&phone, "Down"),
        dial_begin(&trunk, &phone, "201"),
        rtcp.to_owned(),
        spelled(dial_end(&trunk, &phone, "ANSWER")),
        spelled(hangup(&trunk, "16")),
        spelled(hangup(&phone, "16")),
    ];
    Script::parse(&transcript("Asterisk Call Manager/7.0.3", &events.concat()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_case_18_colons_in_values_blank_lines_and_bare_newlines_keep_the_stream_in_sync() {
    let mut rig = Rig::start(case_18(), Options::default(), &[], &["201"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_eq!(call["pbx_call_id"], "1700000000.11");
    assert_inbound(
        call,
        Some("+12125550156"),
        Some("Support: EMEA & Co"),
        Some("201"),
    );
    assert_eq!(call["remote_e164"], "+12125550156");
    assert_eq!(call["outcome"], "answered");
    assert_eq!(legs(call), leg_list(&[("201", "answered")]));
    assert_pops(&pops, "201", call, &["pop", "answered"]);
    assert_eq!(pops["201"][0].data["pop"]["name"], "Support: EMEA & Co");

    // The stream stayed in sync: one login, the link still up, and every event read as
    // one: the call's nine, and the end of the channel list asked at login.
    assert_eq!(rig.server.logins(), 1);
    let links = wait_connected(&rig.app).await;
    assert_eq!(links[0]["last_error"], Value::Null, "{links:#?}");
    assert_eq!(links[0]["events"], 10, "{links:#?}");
    rig.app.stop().await;
}

/// Field case 19: three calls from no usable number, each ringing 201 unanswered.
fn case_19() -> Script {
    let calls = [
        (
            "PJSIP/carrier-a-00000030",
            "<unknown>",
            "Anonymous",
            "from-trunk",
            "12125550100",
            "1700000200.30",
            "1700000200.40",
            "1700000200",
        ),
        (
            "DAHDI/3-1",
            "",
            "",
            "from-pstn",
            "s",
            "1700000300.31",
            "1700000300.41",
            "1700000300",
        ),
        (
            "PJSIP/carrier-a-00000032",
            "anonymous",
            "Restricted",
            "from-trunk",
            "12125550100",
            "1700000400.32",
            "1700000400.42",
            "1700000400",
        ),
    ];
    let mut events = String::new();
    for (name, num, cid_name, context, exten, uniqueid, phone_id, second) in calls {
        let trunk = Chan {
            name,
            uniqueid,
            linkedid: uniqueid,
            context,
            exten,
            num,
            cid_name,
        };
        let phone_name = format!("PJSIP/201-{}", &phone_id[phone_id.len() - 2..]);
        let phone = Chan {
            name: &phone_name,
            uniqueid: phone_id,
            context: "from-internal",
            exten: "s",
            num: "201",
            cid_name: "Alice Agent",
            ..trunk
        };
        let steps = [
            newchannel(&trunk, "Ring"),
            newchannel(&phone, "Down"),
            dial_begin(&trunk, &phone, "201"),
            dial_end(&trunk, &phone, "NOANSWER"),
            hangup(&phone, "16"),
            hangup(&trunk, "16"),
        ];
        for (i, step) in steps.into_iter().enumerate() {
            events.push_str(&stamped(step, &format!("{second}.{:06}", 100 + i)));
        }
    }
    Script::parse(&transcript("Asterisk Call Manager/9.0.0", &events))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_case_19_unknown_empty_and_anonymous_callers_are_recorded_and_match_no_junk() {
    let extra = [("trunk_contexts", "[\"from-trunk\", \"from-pstn\"]")];
    let mut rig = Rig::start(case_19(), Options::default(), &extra, &["201"]).await;
    seed_junk(&rig.app).await;
    rig.play().await;
    let (calls, pops) = rig.settle(3).await;

    let expected = [
        ("1700000200.30", true, false),
        ("1700000300.31", false, true),
        ("1700000400.32", true, false),
    ];
    for (pbx_call_id, withheld, unavailable) in expected {
        let call = by_pbx(&calls, pbx_call_id);
        assert_eq!(call["direction"], "inbound", "{call:#}");
        assert_eq!(call["withheld"], withheld, "{call:#}");
        assert_eq!(call["unavailable"], unavailable, "{call:#}");
        assert_eq!(call["remote_raw"], Value::Null, "{call:#}");
        assert_eq!(call["matches"], json!([]), "{call:#}");
        assert_eq!(call["answered_by"], Value::Null, "{call:#}");
        assert_eq!(call["answered_at"], Value::Null, "{call:#}");
        assert!(
            !call["started_at"].is_null() && !call["ended_at"].is_null(),
            "{call:#}"
        );
        // Rang, nobody answered, the caller did not hang up first: missed.
        assert_eq!(call["outcome"], "missed", "{call:#}");
        assert_eq!(legs(call), leg_list(&[("201", "missed")]), "{call:#}");

        let mut browser = crate::helpers::admin_browser(&rig.app).await;
        let page = format!("/calls/{}", call["id"]);
        let html = browser.get(&page).await.text().await.unwrap();
        assert!(
            !html.contains("unknown&gt;") && !html.contains("<unknown>"),
            "{html}"
        );
        if withheld {
            assert!(html.contains("Withheld number"), "{html}");
        }
    }

    // A pop and a withdraw for each, in order, none showing a number or "<unknown>".
    let events = &pops["201"];
    assert_eq!(
        kinds(events),
        ["pop", "withdraw", "pop", "withdraw", "pop", "withdraw"],
        "{events:#?}"
    );
    for (i, (pbx_call_id, withheld, _)) in expected.into_iter().enumerate() {
        let call = by_pbx(&calls, pbx_call_id);
        let (pop, withdraw) = (&events[2 * i], &events[2 * i + 1]);
        assert_eq!(pop.data["call_id"], call["id"]);
        assert_eq!(withdraw.data["call_id"], call["id"]);
        let shown = &pop.data["pop"];
        assert_eq!(shown["withheld"], withheld, "{shown:#}");
        assert_eq!(shown["caller"], "", "{shown:#}");
        assert_eq!(shown["number_e164"], Value::Null, "{shown:#}");
        assert_eq!(shown["matches"], json!([]), "{shown:#}");
        assert!(!shown.to_string().contains("unknown"), "{shown:#}");
    }
    rig.app.stop().await;
}

/// Field case 21: an analog phone dialling out, a trunk named like an extension calling
/// in, and one phone calling another.
fn case_21() -> Script {
    let chan = |name, uniqueid, linkedid, context, exten, num| Chan {
        name,
        uniqueid,
        linkedid,
        context,
        exten,
        num,
        cid_name: "",
    };
    let analog = chan(
        "DAHDI/7-1",
        "1700000500.40",
        "1700000500.40",
        "from-internal",
        "912125550159",
        "112",
    );
    let carrier = chan(
        "PJSIP/carrier-b-00000041",
        "1700000500.41",
        "1700000500.40",
        "from-trunk",
        "12125550159",
        "<unknown>",
    );
    let provider = chan(
        "PJSIP/5061-00000050",
        "1700000600.50",
        "1700000600.50",
        "from-trunk",
        "12125550100",
        "+12125550168",
    );
    let agent = chan(
        "PJSIP/203-00000051",
        "1700000600.51",
        "1700000600.50",
        "from-internal",
        "s",
        "203",
    );
    let alice = chan(
        "PJSIP/201-00000060",
        "1700000700.60",
        "1700000700.60",
        "from-internal",
        "202",
        "201",
    );
    let bob = chan(
        "PJSIP/202-00000061",
        "1700000700.61",
        "1700000700.60",
        "from-internal",
        "s",
        "202",
    );
    let mut events = String::new();
    for (from, to, dial_string) in [
        (analog, carrier, "carrier-b/12125550159"),
        (provider, agent, "203"),
        (alice, bob, "202"),
    ] {
        events.push_str(&newchannel(&from, "Ring"));
        events.push_str(&newchannel(&to, "Down"));
        events.push_str(&dial_begin(&from, &to, dial_string));
        events.push_str(&dial_end(&from, &to, "ANSWER"));
        events.push_str(&hangup(&to, "16"));
        events.push_str(&hangup(&from, "16"));
    }
    Script::parse(&transcript("Asterisk Call Manager/9.0.0", &events))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_case_21_direction_comes_from_the_endpoint_table_not_the_channel_name() {
    let extra = [
        ("trunks", "[\"PJSIP/carrier-b\", \"PJSIP/5061\"]"),
        ("internal", "[\"PJSIP/201\", \"PJSIP/202\", \"PJSIP/203\"]"),
        ("extensions", "{ \"DAHDI/7\" = \"112\" }"),
    ];
    let listen = ["112", "201", "202", "203", "5061"];
    let mut rig = Rig::start(case_21(), Options::default(), &extra, &listen).await;
    let dialled = seed(&rig.app, "Dialled Co", us_number("+1 212 555 0159")).await;
    let caller = seed(&rig.app, "Calling Co", us_number("+1 212 555 0168")).await;
    rig.play().await;
    let (calls, pops) = rig.settle(3).await;

    // a) The analog phone, extension 112, dials out; the access code 9 is not the number.
    let out = by_pbx(&calls, "1700000500.40");
    assert_eq!(out["direction"], "outbound", "{out:#}");
    assert_eq!(out["extension"], "112", "{out:#}");
    assert_eq!(out["remote_e164"], "+12125550159", "{out:#}");
    assert_eq!(out["matches"][0]["customer_id"], dialled, "{out:#}");
    assert_eq!(out["answered_by"], "112", "{out:#}");
    assert_eq!(legs(out), leg_list(&[("112", "answered")]));
    assert_pops(&pops, "112", out, &[]);

    // b) PJSIP/5061 is a trunk: an inbound call answered by 203, no extension 5061.
    let inbound = by_pbx(&calls, "1700000600.50");
    assert_inbound(inbound, Some("+12125550168"), None, Some("203"));
    assert_eq!(inbound["remote_e164"], "+12125550168");
    assert_eq!(inbound["extension"], "203", "{inbound:#}");
    assert_eq!(inbound["matches"][0]["customer_id"], caller, "{inbound:#}");
    assert_eq!(legs(inbound), leg_list(&[("203", "answered")]));
    assert_pops(&pops, "203", inbound, &["pop", "answered"]);
    assert_pops(&pops, "5061", inbound, &[]);

    // c) 201 calling 202: kept as an internal call, no lookup, no pop.
    let internal = by_pbx(&calls, "1700000700.60");
    assert_eq!(internal["direction"], "internal", "{internal:#}");
    assert_eq!(internal["outcome"], "answered", "{internal:#}");
    assert_eq!(internal["answered_by"], "202", "{internal:#}");
    assert_eq!(internal["matches"], json!([]), "{internal:#}");
    assert_eq!(legs(internal), leg_list(&[("202", "answered")]));
    assert_pops(&pops, "201", internal, &[]);
    assert_pops(&pops, "202", internal, &[]);
    let at_202 = rig.app.api("/api/v1/calls?extension=202").await;
    let listed = at_202
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == internal["id"]);
    assert!(listed, "counted in 202's activity: {at_202:#}");
    rig.app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Bad input.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcript_cut_in_the_middle_of_its_last_hangup_still_ends_the_call_once() {
    // The connection breaks half-way through 201's Hangup, the last event that matters.
    let cut = Cut::after("DeviceStateChange", 7).skip(1);
    let options = Options::default().cut(cut);
    let mut rig = Rig::start(Script::fixture(A), options, &[], &["201"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_inbound(call, Some("+1555010011"), Some("Carol Caller"), Some("201"));
    assert_eq!(call["outcome"], "answered");
    assert_eq!(legs(call), leg_list(&[("201", "answered")]));
    assert_pops(&pops, "201", call, &["pop", "answered"]);
    assert_eq!(rig.server.logins(), 2, "callpop reconnects");
    wait_connected(&rig.app).await;
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_an_event_left_at_the_end_of_the_stream_changes_nothing() {
    // The transcript ends in the middle of an event and the connection stays open.
    let half = "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: SIP/trunk-000000";
    let options = Options::default().inject_after("QueueMemberStatus", 3, half);
    let mut rig = Rig::start(Script::fixture(A), options, &[], &["201"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_inbound(call, Some("+1555010011"), Some("Carol Caller"), Some("201"));
    assert_eq!(call["outcome"], "answered");
    assert_eq!(legs(call), leg_list(&[("201", "answered")]));
    assert_pops(&pops, "201", call, &["pop", "answered"]);
    assert_eq!(rig.server.logins(), 1);
    let links = wait_connected(&rig.app).await;
    assert_eq!(links[0]["last_error"], Value::Null, "{links:#?}");
    rig.app.stop().await;
}

/// Events nobody needs, of every shape: variables, RTCP reports with a bare
/// `ReportBlock:`, events of unknown types with odd lines.
fn irrelevant(i: usize) -> String {
    match i % 4 {
        0 => format!(
            "Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: SIP/other-000000ff\r\n\
             Uniqueid: 1796313000.{i}\r\nLinkedid: 1796313000.{i}\r\nVariable: RTPAUDIOQOS\r\n\
             Value: ssrc=1;themssrc=2;lp=0;rxjitter=0.000;rxcount={i}\r\n\r\n"
        ),
        1 => format!(
            "Event: RTCPSent\r\nPrivilege: reporting,all\r\nChannel: SIP/other-000000ff\r\n\
             SSRC: 0x{i:08x}\r\nReportBlock:\r\nSentPackets: {i}\r\n\r\n"
        ),
        2 => format!(
            "Event: FrobnicatorStatus{i}\r\nPrivilege: system,all\r\nDetail: a: b: c\r\n\
             a line with no colon\r\nEmpty:\r\n\r\n"
        ),
        _ => "Event: DeviceStateChange\r\nPrivilege: call,all\r\nDevice: SIP/299\r\n\
              State: NOT_INUSE\r\n\r\n"
            .to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_irrelevant_events_before_a_call_leaves_one_call_and_the_link_up() {
    const FLOOD: usize = 6000;
    let text = std::fs::read_to_string(crate::helpers::fixture(&format!("asterisk/{A}"))).unwrap();
    let login = "Message: Authentication accepted\r\n\r\n";
    let at = text.find(login).expect("the login answer") + login.len();
    let flood: String = (0..FLOOD).map(irrelevant).collect();
    let script = Script::parse(&format!("{}{flood}{}", &text[..at], &text[at..]));

    let mut rig = Rig::start(script, Options::default(), &[], &["201", "202"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_inbound(call, Some("+1555010011"), Some("Carol Caller"), Some("201"));
    assert_eq!(call["outcome"], "answered");
    assert_eq!(legs(call), leg_list(&[("201", "answered")]));
    assert_pops(&pops, "201", call, &["pop", "answered"]);
    assert_pops(&pops, "202", call, &[]);

    assert_eq!(rig.server.logins(), 1, "the link never dropped");
    let links = wait_connected(&rig.app).await;
    let events = links[0]["events"].as_u64().unwrap();
    assert!(events >= FLOOD as u64, "events counted: {events}");
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_end_never_comes_is_closed_out_with_what_is_known() {
    // Answered by 201, then nothing more of it, on a link that stays up.
    let script = Script::fixture(A).until("HangupRequest", 1);
    let extra = [("stale_after_secs", "2")];
    let mut rig = Rig::start(script, Options::default(), &extra, &["201"]).await;
    rig.play().await;
    let (calls, pops) = rig.settle(1).await;

    let call = &calls[0];
    assert_inbound(call, Some("+1555010011"), Some("Carol Caller"), Some("201"));
    assert_eq!(call["outcome"], "interrupted", "{call:#}");
    assert_eq!(legs(call), leg_list(&[("201", "answered")]));
    assert_pops(&pops, "201", call, &["pop", "answered"]);
    assert_eq!(rig.server.logins(), 1);
    rig.app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Click-to-dial and several links.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_dial_originates_with_callpops_action_id_and_records_one_outbound_call() {
    let extra = [("originate_channel", "\"SIP/{extension}\"")];
    let mut rig = Rig::start(Script::fixture(I), Options::default(), &extra, &["201"]).await;
    rig.play().await;
    wait_connected(&rig.app).await;

    let response = rig
        .app
        .client
        .post(rig.app.url("/api/v1/dial"))
        .bearer_auth(TOKEN)
        .json(&json!({"number": "+1555019902", "extension": "201"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let queued: Value = response.json().await.unwrap();
    assert_eq!(queued["state"], "queued", "{queued:#}");
    let id = queued["id"].as_str().expect("a dial id").to_owned();

    let originate = rig.server.wait_for_action("Originate", WAIT).await;
    let originate = originate.expect("callpop sends an Originate");
    let action_id = originate.get("ActionID").unwrap_or_default();
    assert!(
        !action_id.is_empty() && action_id != "c2d-i-1",
        "{originate:?}"
    );
    assert_eq!(originate.get("Channel"), Some("SIP/201"), "{originate:?}");
    assert_eq!(originate.get("Exten"), Some("+1555019902"), "{originate:?}");
    assert_eq!(
        originate.get("Context"),
        Some("from-internal"),
        "{originate:?}"
    );

    let (calls, pops) = rig.settle(1).await;
    let call = &calls[0];
    assert_eq!(call["direction"], "outbound", "{call:#}");
    assert_eq!(call["pbx_call_id"], "1796314015.26");
    assert_eq!(call["extension"], "201");
    assert_eq!(call["remote_raw"], "+1555019902");
    assert_eq!(call["originated"], true, "{call:#}");
    assert_eq!(call["answered_by"], "201");
    assert_eq!(call["outcome"], "answered");
    assert_pops(&pops, "201", call, &[]);

    let app = &rig.app;
    let dial = eventually(WAIT, async || {
        let dial = app.api(&format!("/api/v1/dial/{id}")).await;
        (dial["state"] == "answered" && !dial["call_id"].is_null()).then_some(dial)
    })
    .await;
    let dial = dial.unwrap_or_else(|| panic!("dial never answered with a call"));
    assert_eq!(dial["call_id"], call["id"], "{dial:#}");
    assert_eq!(dial["link"], "office");
    assert_eq!(dial["extension"], "201");
    assert_eq!(dial["number"], "+1555019902");
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_links_at_once_record_each_call_under_its_own_link() {
    log();
    let office = AmiServer::start(Script::fixture(A), Options::default().held()).await;
    let branch = AmiServer::start(Script::fixture(C), Options::default().held()).await;
    let toml = link_toml("office", office.port(), &[]) + &link_toml("branch", branch.port(), &[]);
    let app = spawn_app_with_config(&[], &toml).await;
    for server in [&office, &branch] {
        let listed = server.wait_for_action("CoreShowChannels", WAIT).await;
        listed.expect("callpop logs in to both");
    }
    let links = wait_connected(&app).await;
    let mut names: Vec<&str> = links.iter().map(|l| l["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["branch", "office"]);

    office.play();
    branch.play();
    assert!(office.wait_finished(WAIT).await && branch.wait_finished(WAIT).await);
    let calls = ended_calls(&app, 2).await;

    let a = by_pbx(&calls, "1796313877.0");
    assert_eq!(a["link"], "office", "{a:#}");
    assert_eq!(a["remote_raw"], "+1555010011");
    assert_eq!(a["answered_by"], "201");
    let c = by_pbx(&calls, "1796313898.4");
    assert_eq!(c["link"], "branch", "{c:#}");
    assert_eq!(c["remote_raw"], "+1555010013");
    assert_eq!(c["answered_by"], "202");
    assert_eq!(legs(c), leg_list(&[("201", "missed"), ("202", "answered")]));
    app.stop().await;
}
