//! The desktop agent against a daemon on port 0, rung over SIP (and by a
//! replaying Asterisk), showing pops on a private D-Bus session bus whose
//! notification server records every Notify and CloseNotification and can
//! click an action: what each pop says, field case 23, "Log call",
//! withdrawal and answering, a dropped connection, a daemon restart, and
//! the binary itself (login, autostart, no notification service).
//!
//! The agent runs in-process through `callpop::agent::run`, with an opener
//! the test reads, behind a relay that shows when its stream is open.

#[path = "notify_server.rs"]
mod notify_server;

mod binary;
mod relay;
mod restart;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callpop::agent::{self, AgentError, Settings};
use callpop::config::Secret;
use callpop::lookup::Normalizer;
use callpop::pop::notify::DesktopNotifier;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::ami_server::{AmiServer, Options, Script};
use crate::helpers::{
    header, spawn_app, spawn_app_with_config, status, Request, SipUdp, TestApp, TOKEN,
};
use notify_server::{Notify, PrivateBus, Server};
use relay::Relay;

/// The longest wait for anything that should happen.
const WAIT: Duration = Duration::from_secs(10);
/// Nothing more for this long: nothing more is coming.
const QUIET: Duration = Duration::from_millis(700);

/// A server that reads markup (S1 in case 23), and one that does not (S2).
const S1: &[&str] = &["body", "body-markup", "actions"];
const S2: &[&str] = &["body"];

/// The display name Asterisk's scenario h sends.
const MARKUP_NAME: &str = "Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本";

/// The desktop agent running in this process.
struct Agent {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), AgentError>>,
    /// What "Log call" opened.
    links: mpsc::UnboundedReceiver<String>,
    /// What it printed for want of a notification service.
    printed: Printed,
}

impl Agent {
    /// Starts the agent for `server` with `token`, following `extensions`
    /// (none: the token user's own).
    fn start(server: &str, token: &str, extensions: &[&str]) -> Agent {
        let (tx, links) = mpsc::unbounded_channel();
        let opener = move |link: &str| tx.send(link.to_owned()).map_err(io::Error::other);
        let extensions = extensions.iter().map(|x| x.to_string()).collect();
        let settings = Settings::new(server, Secret::new(token), extensions).unwrap();
        let printed = Printed::default();

        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(agent::run(
            settings,
            DesktopNotifier::new(opener),
            printed.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        Agent {
            stop: Some(stop),
            task,
            links,
            printed,
        }
    }

    /// Starts the agent behind a relay to `app` and waits until its stream
    /// is open.
    async fn beside(app: &TestApp, extensions: &[&str]) -> (Agent, Relay) {
        let relay = Relay::start(app.web).await;
        let agent = Agent::start(&relay.url(), TOKEN, extensions);
        relay.answered(1).await;
        (agent, relay)
    }

    fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    async fn stop(mut self) -> Result<(), AgentError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("the agent stops when told")
            .unwrap()
    }
}

/// A terminal the test can read.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl Printed {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for Printed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A call as a PBX places it to extension `to`, with a display name.
struct Call {
    invite: Request,
    name: Option<String>,
}

impl Call {
    fn new(to: &str, from: &str, name: Option<&str>) -> Call {
        Call {
            invite: Request::new("INVITE", to, from),
            name: name.map(str::to_owned),
        }
    }

    /// A caller who withholds the number: From is anonymous, the number
    /// only asserted, with `Privacy: id` (RFC 3323, 3325).
    fn withheld(to: &str, number: &str) -> Call {
        let mut invite = Request::new("INVITE", to, "anonymous");
        invite.headers = vec![
            format!("P-Asserted-Identity: <sip:{number}@pbx.invalid>"),
            "Privacy: id".to_owned(),
        ];
        Call {
            invite,
            name: Some("Anonymous".to_owned()),
        }
    }

    /// The request's bytes with the display name in From, quoted as SIP
    /// quotes it.
    fn bytes(&self, request: &Request) -> Vec<u8> {
        let text = String::from_utf8(request.bytes()).unwrap();
        let Some(name) = &self.name else {
            return text.into_bytes();
        };
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        let from = format!("From: \"{quoted}\" <sip:");
        text.replacen("From: <sip:", &from, 1).into_bytes()
    }

    /// Rings until the daemon says 180 Ringing.
    async fn ring(&self, udp: &SipUdp) {
        udp.send(&self.bytes(&self.invite)).await;
        loop {
            let answer = self.answer(udp).await;
            match status(&answer) {
                100 => continue,
                180 => return,
                _ => panic!("unexpected answer to an INVITE: {answer}"),
            }
        }
    }

    /// The next answer about this call, passing over any about others.
    async fn answer(&self, udp: &SipUdp) -> String {
        loop {
            let answer = udp.answer().await;
            if header(&answer, "call-id") == Some(self.invite.call_id.as_str()) {
                return answer;
            }
        }
    }

    /// The caller gives up.
    async fn cancel(&self, udp: &SipUdp) {
        self.end(udp, None).await;
    }

    /// The rep's own phone answered: the PBX cancels the ringing with
    /// "completed elsewhere" (field case 11).
    async fn answered_here(&self, udp: &SipUdp) {
        let reason = "Reason: SIP;cause=200;text=\"Call completed elsewhere\"";
        self.end(udp, Some(reason)).await;
    }

    async fn end(&self, udp: &SipUdp, reason: Option<&str>) {
        let mut cancel = self.invite.cancel();
        cancel.headers.extend(reason.map(str::to_owned));
        udp.send(&self.bytes(&cancel)).await;

        // 200 for the CANCEL and 487 for the INVITE, in either order.
        let (mut ok, mut terminated) = (false, None);
        while !ok || terminated.is_none() {
            let answer = self.answer(udp).await;
            match status(&answer) {
                200 => ok = true,
                487 => terminated = Some(answer),
                _ => panic!("unexpected answer to a CANCEL: {answer}"),
            }
        }
        let ack = self.invite.ack(&terminated.unwrap());
        udp.send(&self.bytes(&ack)).await;
    }
}

/// Waits for `n` Notify calls; panics with what came when they do not.
async fn notifies(server: &Server, n: usize) -> Vec<Notify> {
    let seen = server.wait_for_notifies(n, WAIT).await;
    assert!(seen.len() >= n, "expected {n} Notify calls, got {seen:#?}");
    seen
}

/// Clicks an action until `done` sees the agent acted on it. The agent
/// listens for a notification's actions from a task it starts once Notify
/// returned, so a click in the first instant reaches nobody (as it would
/// for a person, who cannot click that fast).
async fn click_until<T>(
    server: &Server,
    id: u32,
    action: &str,
    mut done: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        server.click(id, action).await;
        for _ in 0..5 {
            let waited = tokio::time::timeout(Duration::from_millis(20), done()).await;
            if let Some(found) = waited.ok().flatten() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    panic!("{action} on notification {id} was not acted on");
}

/// The id of the call recorded from `number`, once it is.
async fn call_id(app: &TestApp, number: &str) -> i64 {
    let recorded = async || {
        let calls = app.calls().await;
        let call = calls.iter().find(|c| c["remote_raw"] == number)?;
        call["id"].as_i64()
    };
    match crate::helpers::eventually(WAIT, recorded).await {
        Some(id) => id,
        None => panic!("no call from {number} in {:#?}", app.calls().await),
    }
}

/// Lakeside Supplies, its switchboard and Dana Whitfield on the same
/// number, and three open topics, the latest with markup in its title.
async fn seed_lakeside(app: &TestApp) {
    let csv = "customer,contact,phone\n\
               Lakeside Supplies,,(555) 010-1234\n\
               Lakeside Supplies,Dana Whitfield,+1 555 010 1234\n";
    let normalizer = Normalizer::new("US").unwrap();
    callpop::crm::import::import_customers(&app.store, &normalizer, csv.as_bytes())
        .await
        .unwrap();

    let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
    let titles = [
        "Quote for racking",
        "Invoice 4411",
        "Late delivery <pallets> & damage",
    ];
    for (at, title) in (1_700_000_000_000_i64..).zip(titles) {
        sqlx::query(
            "INSERT INTO topics (customer_id, title, status, opened_at) \
             SELECT id, ?, 'open', ? FROM customers WHERE name = 'Lakeside Supplies'",
        )
        .bind(title)
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pop_for_a_customer_an_unknown_caller_and_a_withheld_one_each_at_once() {
    let Some(bus) = PrivateBus::start().await else {
        return;
    };
    let server = Server::start(&bus, S1).await;
    let app = spawn_app(&[]).await;
    seed_lakeside(&app).await;
    let (agent, _relay) = Agent::beside(&app, &["201"]).await;
    let udp = SipUdp::new(app.sip).await;

    // Three calls ringing at once: three notifications.
    let calls = [
        Call::new("201", "+15550101234", Some("LAKESIDE SUPPL")),
        Call::new("201", "+12125550171", None),
        Call::withheld("201", "+12125550172"),
    ];
    let mut seen = Vec::new();
    for call in &calls {
        call.ring(&udp).await;
        seen.push(notifies(&server, seen.len() + 1).await.pop().unwrap());
    }

    let said: Vec<(&str, &str)> = seen
        .iter()
        .map(|n| (n.summary.as_str(), n.body.as_str()))
        .collect();
    assert_eq!(
        said,
        [
            (
                "Call from Lakeside Supplies",
                "Dana Whitfield\n(555) 010-1234\n\
                 3 open topics · latest: Late delivery &lt;pallets&gt; &amp; damage"
            ),
            ("Call from (212) 555-0171", "Unknown caller\n(212) 555-0171"),
            ("Withheld caller", ""),
        ]
    );
    let ids: Vec<u32> = seen.iter().map(|n| n.id).collect();
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );
    for notify in &seen {
        assert_eq!(notify.replaces_id, 0);
        assert_eq!(notify.app_name, "callpop");
        assert_eq!(
            notify.actions,
            ["log-call", "Log call", "dismiss", "Dismiss"]
        );
    }

    // Each closes when its caller gives up.
    for (call, notify) in calls.iter().zip(&seen) {
        call.cancel(&udp).await;
        server.wait_for_close(notify.id).await;
    }
    assert_eq!(server.notifies().len(), 3, "nothing shown twice");
    agent.stop().await.unwrap();
    app.stop().await;
    bus.stop().await;
}

/// Field case 23's names and scenario h's, in a SIP INVITE's display name,
/// to a server of each kind: the same text, escaped only for markup.
async fn check_caller_text(capabilities: &[&str]) {
    let Some(bus) = PrivateBus::start().await else {
        return;
    };
    let server = Server::start(&bus, capabilities).await;
    let app = spawn_app(&[]).await;
    let (agent, _relay) = Agent::beside(&app, &["201"]).await;
    let udp = SipUdp::new(app.sip).await;

    let long = "A".repeat(300);
    let capped = format!("{}…", "A".repeat(63));
    let cases = [
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
        (long.as_str(), capped.as_str(), capped.as_str()),
        (
            MARKUP_NAME,
            "Zoë Ångström-Nuñez &lt;b&gt;VIP&lt;/b&gt; &amp; Ünïcødé 日本",
            MARKUP_NAME,
        ),
    ];

    let markup = capabilities.contains(&"body-markup");
    for (n, (raw, escaped, plain)) in cases.into_iter().enumerate() {
        let call = Call::new("201", "+12125550171", Some(raw));
        call.ring(&udp).await;
        let seen = notifies(&server, n + 1).await.pop().unwrap();

        let name = if markup { escaped } else { plain };
        assert_eq!(seen.summary, "Call from (212) 555-0171", "{raw:?}");
        assert_eq!(seen.body, format!("{name}\n(212) 555-0171"), "{raw:?}");
        let elsewhere = format!("{:?}{:?}{}", seen.actions, seen.hints, seen.app_icon);
        assert!(
            !elsewhere.contains("Bank") && !elsewhere.contains("Tom"),
            "{elsewhere}"
        );

        call.cancel(&udp).await;
        server.wait_for_close(seen.id).await;
    }
    agent.stop().await.unwrap();
    app.stop().await;
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_text_is_escaped_for_a_server_that_reads_markup() {
    check_caller_text(S1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_text_is_sent_as_it_is_to_a_plain_server() {
    check_caller_text(S2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_call_opens_the_calls_page_and_dismiss_closes() {
    let Some(bus) = PrivateBus::start().await else {
        return;
    };
    let server = Server::start(&bus, S2).await;
    let app = spawn_app(&[]).await;
    let (mut agent, _relay) = Agent::beside(&app, &["201"]).await;
    let udp = SipUdp::new(app.sip).await;

    let first = Call::new("201", "+12125550181", None);
    first.ring(&udp).await;
    let id = notifies(&server, 1).await[0].id;
    let links = &mut agent.links;
    let opened = click_until(&server, id, "log-call", async || links.recv().await).await;
    let call = call_id(&app, "+12125550181").await;
    assert_eq!(opened, app.url(&format!("/calls/{call}")));

    // Dismiss closes it from the agent's side, and opens nothing.
    let second = Call::new("201", "+12125550182", None);
    second.ring(&udp).await;
    let id = notifies(&server, 2).await[1].id;
    let closes = async || server.closes().contains(&id).then_some(());
    click_until(&server, id, "dismiss", closes).await;
    assert!(agent.links.try_recv().is_err(), "dismiss opened a link");

    first.cancel(&udp).await;
    second.cancel(&udp).await;
    agent.stop().await.unwrap();
    app.stop().await;
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pop_closes_when_the_caller_gives_up_and_stays_answered_when_the_rep_answers() {
    let Some(bus) = PrivateBus::start().await else {
        return;
    };
    let server = Server::start(&bus, S1).await;
    let app = spawn_app(&[]).await;
    let (agent, _relay) = Agent::beside(&app, &["201"]).await;
    let udp = SipUdp::new(app.sip).await;

    let gives_up = Call::new("201", "+12125550191", None);
    gives_up.ring(&udp).await;
    let first = notifies(&server, 1).await[0].clone();
    gives_up.cancel(&udp).await;
    server.wait_for_close(first.id).await;

    // Answered at the rep's own phone: marked in place, and kept.
    let answered = Call::new("201", "+12125550192", None);
    answered.ring(&udp).await;
    let ringing = notifies(&server, 2).await[1].clone();
    answered.answered_here(&udp).await;
    let marked = notifies(&server, 3).await[2].clone();
    assert_eq!((marked.replaces_id, marked.id), (ringing.id, ringing.id));
    assert_eq!(marked.summary, "Answered · Call from (212) 555-0192");
    tokio::time::sleep(QUIET).await;
    assert_eq!(server.closes(), [first.id], "the answered pop stays");
    assert_eq!(server.notifies().len(), 3);

    // Stopping the agent takes what it shows down.
    agent.stop().await.unwrap();
    assert_eq!(server.closes(), [first.id, ringing.id]);
    app.stop().await;
    bus.stop().await;
}

/// The `[[links]]` entry for a replaying Asterisk on `port`, as the
/// recordings' Asterisk is set up.
fn ami_link(port: u16) -> String {
    format!(
        "[[links]]\nkind = \"ami\"\nname = \"office\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         username = \"crm\"\nsecret = \"crmsecret\"\ntrunk_contexts = [\"from-trunk\"]\n\
         internal_contexts = [\"from-internal\"]\n"
    )
}

/// Asterisk's queue call (scenario e) rings 201 and 202 and 201 answers:
/// the rep at 202 sees the pop go, the rep at 201 keeps it, answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_rep_answering_closes_the_pop_and_the_one_who_answered_keeps_it() {
    let Some(bus) = PrivateBus::start().await else {
        return;
    };
    let server = Server::start(&bus, S1).await;
    let asterisk = AmiServer::start(
        Script::fixture("ami-e-inbound-queue.txt"),
        Options::default().held(),
    )
    .await;
    let app = spawn_app_with_config(&[], &ami_link(asterisk.port())).await;
    let (at_201, _relay_201) = Agent::beside(&app, &["201"]).await;
    let (at_202, _relay_202) = Agent::beside(&app, &["202"]).await;

    let listed = asterisk.wait_for_action("CoreShowChannels", WAIT).await;
    listed.expect("callpop logs in to the Asterisk");
    asterisk.play();
    assert!(
        asterisk.wait_finished(WAIT).await,
        "the replay did not finish"
    );
    notifies(&server, 3).await;
    tokio::time::sleep(QUIET).await;
    let seen = server.notifies();

    // Two notifications, one per rep; one marked answered in place, the
    // other closed.
    let first: Vec<&Notify> = seen.iter().filter(|n| n.replaces_id == 0).collect();
    assert_eq!(first.len(), 2, "{seen:#?}");
    let marked: Vec<&Notify> = seen.iter().filter(|n| n.replaces_id != 0).collect();
    assert_eq!(marked.len(), 1, "{seen:#?}");
    assert!(
        marked[0].summary.starts_with("Answered · Call from "),
        "{seen:#?}"
    );
    let kept = marked[0].id;
    let other = first.iter().map(|n| n.id).find(|&id| id != kept).unwrap();
    assert_eq!(server.closes(), [other], "{seen:#?}");

    at_201.stop().await.unwrap();
    at_202.stop().await.unwrap();
    app.stop().await;
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_the_agent_with_the_reason() {
    let app = spawn_app(&[]).await;
    let agent = Agent::start(&app.url("/"), "not-the-token", &["201"]);

    let ended = tokio::time::timeout(WAIT, agent.task).await;
    let err = ended
        .expect("a refused token ends the agent")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, AgentError::Unauthorized(_)), "{err:?}");
    assert!(err.to_string().contains("401"), "{err}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_notification_service_pops_are_printed() {
    let Some(bus) = PrivateBus::start().await else {
        return;
    };
    let app = spawn_app(&[]).await;
    let (agent, _relay) = Agent::beside(&app, &["201"]).await;
    let udp = SipUdp::new(app.sip).await;

    let call = Call::new("201", "+12125550171", Some("Tom <b>& Jerry</b>"));
    call.ring(&udp).await;
    let id = call_id(&app, "+12125550171").await;
    let printed = agent.printed.clone();
    let lines = async || {
        let lines = printed.lines();
        (!lines.is_empty()).then_some(lines)
    };
    let lines = crate::helpers::eventually(WAIT, lines)
        .await
        .expect("a printed pop");
    assert_eq!(
        lines,
        [format!(
            "Call from (212) 555-0171 | Tom <b>& Jerry</b> | (212) 555-0171 | {}",
            app.url(&format!("/calls/{id}"))
        )]
    );

    call.cancel(&udp).await;
    let over = async || (agent.printed.lines().len() == 2).then_some(());
    crate::helpers::eventually(WAIT, over)
        .await
        .expect("the end printed");
    assert_eq!(agent.printed.lines()[1], format!("Call {id} is over"));
    assert!(agent.is_running());
    agent.stop().await.unwrap();
    app.stop().await;
    bus.stop().await;
}
