//! `pop.desktop = true`: every pop is also shown on this machine's own
//! desktop, for the single-machine setup where the daemon runs on the rep's
//! computer.

use std::future::Future;

use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

use super::hub::{EventKind, Hub, Pop};
use super::notify::{DesktopNotifier, NotifyError, PopView, XdgOpen};

/// Shows the hub's pops on the local desktop until `shutdown` completes.
pub async fn follow(hub: Hub, shutdown: impl Future<Output = ()>) {
    let notifier = DesktopNotifier::new(XdgOpen);
    let mut events = hub.subscribe(None, None).events;
    tokio::pin!(shutdown);
    info!("desktop pops on");

    let mut warned = false;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = &mut shutdown => return,
        };
        let event = match event {
            Ok(event) => event,
            Err(RecvError::Lagged(n)) => {
                warn!(skipped = n, "desktop pops fell behind");
                continue;
            }
            Err(RecvError::Closed) => return,
        };

        let shown = match (&event.kind, &event.pop) {
            (EventKind::Pop, Some(pop)) => notifier.show(&view(pop)).await,
            (EventKind::Answered, Some(pop)) => notifier.mark_answered(&view(pop)).await,
            _ => {
                notifier.withdraw(event.call_id).await;
                Ok(())
            }
        };
        // Say it once: a desktop without a notification service stays so.
        if let Err(e) = shown {
            if !warned || !matches!(e, NotifyError::NoService) {
                warn!(call_id = event.call_id, error = %e, "desktop pop not shown");
            }
            warned = true;
        }
    }
}

fn view(pop: &Pop) -> PopView {
    let first = pop.matches.iter().find(|m| m.open_topics > 0);
    PopView {
        call_id: pop.call_id,
        caller: pop.caller.clone(),
        name: pop.name.clone(),
        withheld: pop.withheld,
        customers: pop.matches.iter().map(label).collect(),
        open_topics: pop
            .matches
            .iter()
            .map(|m| m.open_topics.clamp(0, u32::MAX as i64) as u32)
            .sum(),
        latest_topic: first.and_then(|m| m.latest_topic.clone()),
        link: pop.link.clone(),
        answered: pop.answered,
    }
}

fn label(m: &super::hub::PopMatch) -> String {
    match &m.contact {
        Some(contact) => format!("{contact} ({})", m.customer),
        None => m.customer.clone(),
    }
}
