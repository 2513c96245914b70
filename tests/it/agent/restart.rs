//! Never a lost pop: after a dropped connection the agent comes back with
//! `Last-Event-ID`, shows what rang meanwhile, closes what ended and shows
//! nothing twice; a daemon restart is one more reconnect.

use std::net::SocketAddr;

use callpop::app::{self, Listeners};
use callpop::config::Config;
use tokio::net::{TcpListener, UdpSocket};

use super::*;
use crate::helpers::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_replays_what_rang_and_closes_what_ended_meanwhile() {
    let Some(bus) = PrivateBus::start().await else {
        return;
    };
    let server = Server::start(&bus, S1).await;
    let app = spawn_app(&[]).await;
    let (agent, relay) = Agent::beside(&app, &["201"]).await;
    let udp = SipUdp::new(app.sip).await;

    let ends = Call::new("201", "+12125550201", None);
    let stays = Call::new("201", "+12125550202", None);
    ends.ring(&udp).await;
    stays.ring(&udp).await;
    let before = notifies(&server, 2).await;

    // While the connection is down, one call ends and another rings.
    relay.cut();
    ends.cancel(&udp).await;
    let new = Call::new("201", "+12125550203", None);
    new.ring(&udp).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(server.notifies().len(), 2, "nothing gets through a cut");
    assert!(server.closes().is_empty());

    // Back: the ended call closes, the new one shows, the one that kept
    // ringing is not shown again.
    relay.restore();
    server.wait_for_close(before[0].id).await;
    let after = notifies(&server, 3).await;
    assert_eq!(after[2].summary, "Call from (212) 555-0203");
    assert_eq!(after[2].replaces_id, 0);
    tokio::time::sleep(QUIET).await;
    assert_eq!(server.notifies().len(), 3, "{:#?}", server.notifies());
    assert_eq!(server.closes(), [before[0].id]);

    let heads = relay.answered(2).await;
    let reconnect = heads.last().unwrap().to_ascii_lowercase();
    let last_id = reconnect
        .lines()
        .find_map(|l| l.strip_prefix("last-event-id: "))
        .unwrap_or_else(|| panic!("no Last-Event-ID in {reconnect}"));
    assert!(last_id.trim().parse::<u64>().is_ok(), "{reconnect}");
    assert!(
        !heads[0].to_ascii_lowercase().contains("last-event-id"),
        "{heads:?}"
    );

    stays.cancel(&udp).await;
    new.cancel(&udp).await;
    server.wait_for_close(before[1].id).await;
    server.wait_for_close(after[2].id).await;
    agent.stop().await.unwrap();
    app.stop().await;
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_restart_is_a_reconnect_and_loses_no_pop() {
    let Some(bus) = PrivateBus::start().await else {
        return;
    };
    let server = Server::start(&bus, S1).await;
    let mut daemon = Daemon::start().await;
    let relay = Relay::start(daemon.web).await;
    let agent = Agent::start(&relay.url(), TOKEN, &["201"]);
    relay.answered(1).await;
    let udp = SipUdp::new(daemon.sip).await;

    let before = Call::new("201", "+12125550211", None);
    before.ring(&udp).await;
    let shown = notifies(&server, 1).await[0].clone();

    // The call ringing when the daemon stops is closed out with it.
    daemon.stop().await;
    daemon.start_again().await;
    let after = Call::new("201", "+12125550212", None);
    after.ring(&udp).await;

    server.wait_for_close(shown.id).await;
    let seen = notifies(&server, 2).await;
    assert_eq!(seen[1].summary, "Call from (212) 555-0212");
    assert!(agent.is_running(), "a restart is not the agent's end");
    relay.answered(2).await;

    after.cancel(&udp).await;
    server.wait_for_close(seen[1].id).await;
    agent.stop().await.unwrap();
    daemon.stop().await;
    bus.stop().await;
}

/// A daemon whose ports and database outlive it, so that it can stop and
/// start again as a restart does.
struct Daemon {
    web: SocketAddr,
    sip: SocketAddr,
    dir: tempfile::TempDir,
    running: Option<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)>,
}

impl Daemon {
    async fn start() -> Daemon {
        let web = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sip = app::bind_sip("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mut daemon = Daemon {
            web: web.local_addr().unwrap(),
            sip: sip.0.local_addr().unwrap(),
            dir: tempfile::tempdir().unwrap(),
            running: None,
        };
        daemon.run(web, sip).await;
        daemon
    }

    async fn start_again(&mut self) {
        let web = TcpListener::bind(self.web).await.unwrap();
        let sip = app::bind_sip(self.sip).await.unwrap();
        self.run(web, sip).await;
    }

    /// Stops it the way a signal does.
    async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            task.await.unwrap().unwrap();
        }
    }

    async fn run(&mut self, web: TcpListener, sip: (UdpSocket, TcpListener)) {
        let url = format!("sqlite://{}", self.dir.path().join("callpop.db").display());
        let vars = [
            ("CALLPOP_DATABASE__URL", url),
            ("CALLPOP_API__TOKEN", TOKEN.into()),
        ];
        let vars = vars.map(|(k, v)| (k.to_owned(), v));
        let mut config = Config::load_from(None, vars).unwrap();
        config.server.base_url = format!("http://{}", self.web);

        let (stop, stopped) = oneshot::channel::<()>();
        let listeners = Listeners {
            web,
            sip: Some(sip),
        };
        let task = tokio::spawn(app::run(config, listeners, async move {
            let _ = stopped.await;
        }));
        self.running = Some((stop, task));

        let health = format!("http://{}/healthz", self.web);
        let up = async || {
            reqwest::get(&health)
                .await
                .ok()?
                .status()
                .is_success()
                .then_some(())
        };
        eventually(WAIT, up).await.expect("the daemon comes up");
    }
}
