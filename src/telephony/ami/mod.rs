//! The Asterisk Manager Interface link: a TCP client that logs in to
//! Asterisk, reads its events and turns the channels they describe into
//! calls. The connection only frames bytes ([`frame`]) and writes actions
//! ([`action`]); what the events mean for a call lives in the assembly.

pub mod action;
pub mod frame;

pub mod assemble;
pub mod classify;
pub mod link;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config;
use crate::telephony::CallEvent;

pub use link::{Dial, DialState, Handle, Status};

/// How long a call's first ring may wait for Asterisk to say whether the
/// caller's number may be shown; the answer normally takes a millisecond.
const PRESENTATION_WAIT_MS: i64 = 300;

/// Starts the link a `[[links]]` entry describes; it runs until
/// `shutdown` completes.
pub fn start(
    link: &config::Link,
    events: mpsc::Sender<CallEvent>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (Arc<Handle>, tokio::task::JoinHandle<()>) {
    let set = |items: &[String]| items.iter().cloned().collect();
    let settings = assemble::Settings {
        endpoints: classify::Endpoints {
            trunks: set(&link.trunks),
            internal: set(&link.internal),
            extensions: link.extensions.clone(),
            trunk_contexts: set(&link.trunk_contexts),
            internal_contexts: set(&link.internal_contexts),
        },
        ask_presentation: link.ask_presentation,
        presentation_wait: chrono::Duration::milliseconds(PRESENTATION_WAIT_MS),
        stale_after: chrono::Duration::seconds(link.stale_after_secs as i64),
    };
    let target = link::Target {
        host: link.host.clone(),
        port: link.port,
        username: link.username.clone(),
        secret: link.secret.clone(),
        ping: Duration::from_secs(link.ping_secs),
        originate_channel: link.originate_channel.clone(),
        originate_context: link.originate_context.clone(),
    };
    let assembler = assemble::Assembler::new(&link.name, settings);
    link::start(&link.name, target, assembler, events, shutdown)
}
