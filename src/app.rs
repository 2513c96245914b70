//! The daemon put together: the store, the tracker, the links, the pop hub
//! and the web side, started on listeners the caller bound and stopped
//! together when the shutdown future completes.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::auth::throttle::Throttle;
use crate::calls::identify::StoreIdentify;
use crate::calls::tracker::{self, Tracker};
use crate::config::Config;
use crate::lookup::{Lookup, Normalizer};
use crate::pop::Hub;
use crate::store::Store;
use crate::telephony::{ami, sip};
use crate::web::{self, AppState};

/// Events links may queue ahead of the tracker before they wait for it.
const EVENT_QUEUE: usize = 16_384;

/// The sockets the daemon serves on, bound before it starts so that tests
/// can bind port 0 and know the addresses at once.
pub struct Listeners {
    pub web: TcpListener,
    /// UDP and TCP on the same address; `None` when SIP is off.
    pub sip: Option<(UdpSocket, TcpListener)>,
}

impl Listeners {
    /// Binds the addresses the config names.
    pub async fn bind(config: &Config) -> anyhow::Result<Listeners> {
        let web = TcpListener::bind(config.server.listen)
            .await
            .with_context(|| {
                format!("failed to listen on server.listen {}", config.server.listen)
            })?;
        let sip = match config.sip.enabled {
            true => Some(bind_sip(config.sip.listen).await?),
            false => None,
        };
        Ok(Listeners { web, sip })
    }
}

/// Binds SIP's UDP socket and TCP listener on one address. With port 0 the
/// TCP listener takes the port the UDP socket got.
pub async fn bind_sip(addr: SocketAddr) -> anyhow::Result<(UdpSocket, TcpListener)> {
    // A port the system picked for UDP may be taken for TCP (by an outgoing
    // connection, say): then pick again, a few times.
    let tries = if addr.port() == 0 { 20 } else { 1 };
    let mut last = None;
    for _ in 0..tries {
        let udp = UdpSocket::bind(addr)
            .await
            .with_context(|| format!("failed to listen on sip.listen {addr} (udp)"))?;
        let bound = udp.local_addr()?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some((bound, e)),
        }
    }
    let (bound, e) = last.expect("at least one try");
    Err(e).with_context(|| format!("failed to listen on sip.listen {bound} (tcp)"))
}

/// Runs the daemon until `shutdown` completes, then stops the links, lets
/// the tracker write down what it has, and closes the store.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Store::connect(config.database.url.expose()).await?;
    info!(backend = store.backend(), "database ready");
    let closed = store.close_open_calls(Utc::now()).await?;
    if closed > 0 {
        warn!(
            calls = closed,
            "calls left open by the last run closed as interrupted"
        );
    }

    announce_setup(&store, &config.server.base_url).await?;

    let normalizer = Normalizer::new(&config.phone.home_region)?;
    let lookup = Arc::new(Lookup::new(store.clone(), normalizer));
    let hub = Hub::new();
    let (stop_tx, stop_rx) = watch::channel(false);

    // The tracker: every link's events go through it.
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    let settings = tracker::Settings {
        base_url: config.server.base_url.clone(),
        stale_after: Duration::from_secs(config.sip.stale_after_secs),
        // An AMI link closes out its own calls; the tracker's sweep only
        // backs it up.
        link_stale_after: config
            .links
            .iter()
            .map(|l| (l.name.clone(), Duration::from_secs(l.stale_after_secs + 60)))
            .collect::<HashMap<_, _>>(),
    };
    let identify = StoreIdentify::new(lookup.clone(), store.clone());
    let tracker = Tracker::new(store.clone(), identify, hub.clone(), settings);
    let (tracker_stop_tx, tracker_stop_rx) = watch::channel(false);
    let tracking = tokio::spawn(tracker.run(events_rx, stopped(tracker_stop_rx)));

    // The links.
    let mut sip_endpoint = None;
    let mut sip_task = None;
    if let Some((udp, tcp)) = listeners.sip {
        let endpoint = Arc::new(sip::Endpoint::new(
            "sip",
            config.sip.trusted_peers.clone(),
            events_tx.clone(),
        ));
        sip_endpoint = Some(endpoint.clone());
        sip_task = Some(tokio::spawn(sip::serve(
            udp,
            tcp,
            endpoint,
            stopped(stop_rx.clone()),
        )));
    }
    let mut links = Vec::new();
    let mut link_tasks = Vec::new();
    for link in &config.links {
        let (handle, task) = ami::start(link, events_tx.clone(), stopped(stop_rx.clone()));
        info!(link = %link.name, host = %link.host, port = link.port, "ami link starting");
        links.push(handle);
        link_tasks.push(task);
    }
    drop(events_tx);

    if config.pop.desktop {
        tokio::spawn(crate::pop::desktop::follow(
            hub.clone(),
            stopped(stop_rx.clone()),
        ));
    }

    let state = AppState {
        store: store.clone(),
        hub: hub.clone(),
        lookup,
        api_token: config.api.token.clone(),
        stream_check: Duration::from_secs(config.api.stream_check_secs),
        sip: sip_endpoint,
        links,
        base_url: config.server.base_url.clone(),
        throttle: Arc::new(Throttle::new()),
        company: config.company.clone(),
    };
    let web = tokio::spawn(web::serve(listeners.web, state, stopped(stop_rx)));

    // Run until told to stop, then stop in order: links first, so the
    // tracker sees every event they had, then the tracker, then the store.
    shutdown.await;
    info!("shutting down");
    let _ = stop_tx.send(true);
    if let Some(task) = sip_task {
        let _ = task.await;
    }
    for task in link_tasks {
        let _ = task.await;
    }
    let _ = tracker_stop_tx.send(true);
    let _ = tracking.await;
    hub.close();
    let _ = web.await;
    store.close().await;
    info!("stopped");
    Ok(())
}

/// With no user yet, nobody can sign in: print a one-time link that
/// creates the first admin. It goes to standard error, not the log, since
/// it is a credential and logs travel.
async fn announce_setup(store: &Store, base_url: &str) -> anyhow::Result<()> {
    if store.count_users().await? > 0 {
        return Ok(());
    }
    let token = web::new_setup_link(store).await?;
    warn!("no users yet: open the setup link printed below, or run callpop user add");
    eprintln!(
        "create the first admin at {}/setup/{token}",
        base_url.trim_end_matches('/')
    );
    Ok(())
}

/// A future that completes when the stop flag is raised.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
