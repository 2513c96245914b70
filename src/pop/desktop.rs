//! `pop.desktop = true`: every pop is also shown on this machine's own
//! desktop, for the single-machine setup where the daemon runs on the rep's
//! computer.

use std::future::Future;

use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

use super::hub::Hub;
use super::notify::{DesktopNotifier, NotifyError, XdgOpen};
use super::screen::Screen;

/// Shows the hub's pops on the local desktop until `shutdown` completes.
pub async fn follow(hub: Hub, shutdown: impl Future<Output = ()>) {
    let notifier = DesktopNotifier::new(XdgOpen);
    let mut screen = Screen::new();
    let sub = hub.subscribe(None, None);
    let (mut missed, mut events) = (sub.missed.into_iter(), sub.events);
    tokio::pin!(shutdown);
    info!("desktop pops on");

    let mut warned = false;
    loop {
        // Pops already showing when this started come first.
        let event = match missed.next() {
            Some(event) => Ok(event),
            None => tokio::select! {
                event = events.recv() => event,
                _ = &mut shutdown => break,
            },
        };
        let event = match event {
            Ok(event) => event,
            Err(RecvError::Lagged(n)) => {
                warn!(skipped = n, "desktop pops fell behind");
                continue;
            }
            Err(RecvError::Closed) => break,
        };

        let Some(change) = screen.event(&event) else {
            continue;
        };
        // Say it once: a desktop without a notification service stays so.
        if let Err(e) = notifier.apply(&change).await {
            if !warned || !matches!(e, NotifyError::NoService) {
                warn!(call_id = event.call_id, error = %e, "desktop pop not shown");
            }
            warned = true;
        }
    }
    notifier.withdraw_all().await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pop::hub::{Pop, PopMatch};
    use crate::pop::notify::test_server::{PrivateBus, Server};

    fn pop(call_id: i64) -> Pop {
        Pop {
            call_id,
            extension: "201".into(),
            caller: "(212) 555-0100".into(),
            number_e164: Some("+12125550100".into()),
            name: Some("Jane Roe".into()),
            withheld: false,
            matches: vec![PopMatch {
                customer_id: 1,
                customer: "Acme".into(),
                contact_id: Some(2),
                contact: Some("Jane Roe".into()),
                reason: "exact".into(),
                open_topics: 1,
                latest_topic: Some("Invoice".into()),
            }],
            link: format!("http://127.0.0.1:8080/calls/{call_id}"),
            rang_at: chrono::Utc::now(),
            answered: false,
        }
    }

    async fn until<T>(mut check: impl FnMut() -> Option<T>) -> T {
        for _ in 0..250 {
            if let Some(found) = check() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the desktop never showed it");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hub_pops_show_on_the_desktop_and_go_when_withdrawn() {
        let Some(bus) = PrivateBus::start().await else {
            return;
        };
        let server = Server::start(&bus, &["body", "actions"]).await;
        let hub = Hub::new();
        hub.pop(pop(1));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(follow(hub.clone(), async {
            let _ = stopped.await;
        }));

        // A pop showing before the notifier started is shown too.
        let first = until(|| server.notifies().first().cloned()).await;
        assert_eq!(first.summary, "Call from Acme", "{first:?}");
        assert!(first.body.contains("(212) 555-0100"), "{first:?}");

        hub.pop(pop(2));
        let second = until(|| server.notifies().get(1).cloned()).await;
        hub.answered("201", 2);
        hub.withdraw("201", 1);
        server.wait_for_close(first.id).await;
        let answered = until(|| server.notifies().get(2).cloned()).await;
        assert_eq!(answered.replaces_id, second.id, "marked answered in place");
        assert!(
            !server.closes().contains(&second.id),
            "the answered pop stays"
        );

        let _ = stop.send(());
        task.await.unwrap();
        bus.stop().await;
    }
}
