//! The HTTP side: the API under `/api/v1`, the pages, `/healthz` and
//! `/metrics`, served on a listener the caller binds.

mod api;
mod auth;
mod dial;
mod error;
mod metrics;
mod pages;

use std::future::Future;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tracing::info;

use crate::config::Secret;
use crate::lookup::Lookup;
use crate::pop::Hub;
use crate::store::Store;
use crate::telephony::ami;
use crate::telephony::sip::Endpoint;

pub use error::WebError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub hub: Hub,
    pub lookup: Arc<Lookup<Store>>,
    pub api_token: Option<Secret>,
    pub sip: Option<Arc<Endpoint>>,
    /// The PBX links besides SIP (AMI), for their state and click-to-dial.
    pub links: Vec<Arc<ami::Handle>>,
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/pops", get(api::pops))
        .route("/calls", get(api::calls))
        .route("/calls/{id}", get(api::call))
        .route("/lookup", get(api::lookup))
        .route("/links", get(dial::links))
        .route("/dial", post(dial::dial))
        .route("/dial/{id}", get(dial::status))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));

    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::render))
        .route("/", get(pages::home))
        .route("/calls", get(pages::calls))
        .route("/calls/{id}", get(pages::call))
        .nest("/api/v1", api)
        .with_state(state)
}

/// Serves the web side on a listener the caller bound, until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "web listening");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
