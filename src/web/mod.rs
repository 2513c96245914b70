//! The HTTP side: the API under `/api/v1`, the pages, sign-in, `/healthz`
//! and `/metrics`, served on a listener the caller binds.
//!
//! Every route is listed once in [`routes`] with who may use it; the router
//! is built from that table, and the tests walk it.

mod account;
mod admin;
mod api;
mod assets;
mod auth;
mod calendar;
mod calls;
mod customers;
mod dial;
mod dial_pages;
mod error;
mod login;
mod metrics;
mod openapi;
mod opportunities;
mod pages;
mod paths;
mod session;
mod setup;
mod topics;

use std::future::Future;
use std::sync::Arc;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use tokio::net::TcpListener;
use tracing::info;

use crate::auth::throttle::Throttle;
use crate::auth::Role;
use crate::config::Secret;
use crate::lookup::Lookup;
use crate::pop::Hub;
use crate::store::Store;
use crate::telephony::ami;
use crate::telephony::sip::Endpoint;

pub use account::check_token_name;
pub use error::WebError;
pub use setup::new_link as new_setup_link;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub hub: Hub,
    pub lookup: Arc<Lookup<Store>>,
    /// The bootstrap API token: the admin role, standing for no user.
    pub api_token: Option<Secret>,
    /// How often an open pop stream checks that its token or session still
    /// stands (`api.stream_check_secs`).
    pub stream_check: std::time::Duration,
    pub sip: Option<Arc<Endpoint>>,
    /// The PBX links besides SIP (AMI), for their state and click-to-dial.
    pub links: Vec<Arc<ami::Handle>>,
    /// `server.base_url`: forms must come from it; https makes cookies Secure.
    pub base_url: String,
    /// Failed sign-ins per username.
    pub throttle: Arc<Throttle>,
    /// The `[company]` section: its time zone for calendars and forms.
    pub company: crate::config::Company,
}

/// Who may use a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: `/healthz` and `/metrics`.
    Open,
    /// Anyone, with forms checked against the sign-in form cookie: signing
    /// in and the first admin's setup.
    SignIn,
    /// A page for a signed-in user with at least this role; without a
    /// session it sends the browser to `/login`.
    Page(Role),
    /// The API, for a bearer token or session of at least this role;
    /// without either it answers 401.
    Api(Role),
}

/// One route: its method, path (with `{param}`s) and who may use it.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// Every route callpop serves, with who may use it.
pub fn routes() -> Vec<Route> {
    table().into_iter().map(|(route, _)| route).collect()
}

fn table() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    let (rep, manager, admin) = (Role::Rep, Role::Manager, Role::Admin);
    vec![
        route(M::GET, "/healthz", Open, || async { "ok" }),
        route(M::GET, "/metrics", Open, metrics::render),
        route(M::GET, "/static/pop.js", Open, assets::pop_js),
        route(M::GET, "/login", SignIn, login::form),
        route(M::POST, "/login", SignIn, login::sign_in),
        route(M::GET, "/setup/{token}", SignIn, setup::form),
        route(M::POST, "/setup/{token}", SignIn, setup::create),
        route(M::POST, "/logout", Page(rep), login::sign_out),
        route(M::GET, "/", Page(rep), pages::home),
        route(M::GET, "/calls", Page(rep), pages::calls),
        route(M::GET, "/calls/{id}", Page(rep), calls::show),
        route(M::GET, "/account", Page(rep), account::show),
        route(
            M::POST,
            "/account/password",
            Page(rep),
            account::change_password,
        ),
        route(M::POST, "/account/tokens", Page(rep), account::create_token),
        route(
            M::POST,
            "/account/tokens/{id}/revoke",
            Page(rep),
            account::revoke_token,
        ),
        route(M::GET, "/admin", Page(admin), pages::admin_home),
        route(M::GET, "/admin/users", Page(admin), admin::list),
        route(M::POST, "/admin/users", Page(admin), admin::add),
        route(M::GET, "/admin/users/{id}", Page(admin), admin::show),
        route(M::POST, "/admin/users/{id}", Page(admin), admin::edit),
        route(
            M::POST,
            "/admin/users/{id}/password",
            Page(admin),
            admin::set_password,
        ),
        route(
            M::POST,
            "/admin/users/{id}/tokens/{token}/revoke",
            Page(admin),
            admin::revoke_token,
        ),
        route(M::GET, "/api/v1/openapi.json", Open, openapi::document),
        route(M::GET, "/api/v1/me", Api(rep), api::me),
        route(M::GET, "/api/v1/pops", Api(rep), api::pops),
        route(M::GET, "/api/v1/calls", Api(rep), api::calls),
        route(M::GET, "/api/v1/calls/{id}", Api(rep), api::call),
        route(M::GET, "/api/v1/lookup", Api(rep), api::lookup),
        route(M::POST, "/api/v1/dial", Api(rep), dial::dial),
        route(M::GET, "/api/v1/dial/{id}", Api(rep), dial::status),
        route(M::GET, "/api/v1/links", Api(manager), dial::links),
        route(M::GET, "/calls/new", Page(rep), calls::manual_form),
        route(M::POST, "/calls/new", Page(rep), calls::manual_create),
        route(M::POST, "/calls/{id}/conversations", Page(rep), calls::log),
        route(M::GET, "/topics/{id}", Page(rep), topics::show),
        route(M::POST, "/topics/{id}/resolve", Page(rep), topics::resolve),
        route(M::POST, "/topics/{id}/reopen", Page(rep), topics::reopen),
        route(
            M::GET,
            "/topics/{id}/callbacks/new",
            Page(rep),
            calendar::new_form,
        ),
        route(
            M::POST,
            "/topics/{id}/callbacks",
            Page(rep),
            calendar::create,
        ),
        route(M::POST, "/callbacks/{id}/done", Page(rep), calendar::done),
        route(
            M::POST,
            "/callbacks/{id}/cancel",
            Page(rep),
            calendar::cancel,
        ),
        route(M::GET, "/calendar", Page(rep), calendar::show),
        route(M::POST, "/calendar/feed", Page(rep), calendar::new_feed),
        route(M::GET, "/feeds/{file}", Open, calendar::feed),
        route(M::POST, "/api/v1/conversations", Api(rep), calls::api_log),
        route(
            M::GET,
            "/api/v1/calls/{id}/conversations",
            Api(rep),
            calls::api_call_conversations,
        ),
        route(M::GET, "/api/v1/topics", Api(rep), topics::api_list),
        route(M::POST, "/api/v1/topics", Api(rep), topics::api_create),
        route(M::GET, "/api/v1/topics/{id}", Api(rep), topics::api_one),
        route(
            M::POST,
            "/api/v1/topics/{id}/resolve",
            Api(rep),
            topics::api_resolve,
        ),
        route(
            M::POST,
            "/api/v1/topics/{id}/reopen",
            Api(rep),
            topics::api_reopen,
        ),
        route(M::GET, "/api/v1/callbacks", Api(rep), calendar::api_list),
        route(M::POST, "/api/v1/callbacks", Api(rep), calendar::api_create),
        route(
            M::GET,
            "/api/v1/callbacks/{id}",
            Api(rep),
            calendar::api_one,
        ),
        route(
            M::POST,
            "/api/v1/callbacks/{id}/done",
            Api(rep),
            calendar::api_done,
        ),
        route(
            M::POST,
            "/api/v1/callbacks/{id}/cancel",
            Api(rep),
            calendar::api_cancel,
        ),
        route(M::GET, "/customers", Page(rep), customers::list),
        route(M::POST, "/customers", Page(rep), customers::create),
        route(M::GET, "/customers/new", Page(rep), customers::new_form),
        route(M::GET, "/customers/{id}", Page(rep), customers::show),
        route(M::POST, "/customers/{id}", Page(rep), customers::edit),
        route(
            M::POST,
            "/customers/{id}/contacts",
            Page(rep),
            customers::add_contact,
        ),
        route(
            M::POST,
            "/customers/{id}/contacts/{contact}",
            Page(rep),
            customers::edit_contact,
        ),
        route(
            M::POST,
            "/customers/{id}/contacts/{contact}/remove",
            Page(rep),
            customers::remove_contact,
        ),
        route(
            M::POST,
            "/customers/{id}/numbers",
            Page(rep),
            customers::add_number,
        ),
        route(
            M::POST,
            "/customers/{id}/numbers/{number}/remove",
            Page(rep),
            customers::remove_number,
        ),
        route(
            M::GET,
            "/customers/{id}/merge",
            Page(manager),
            customers::merge_form,
        ),
        route(
            M::POST,
            "/customers/{id}/merge",
            Page(manager),
            customers::merge,
        ),
        route(
            M::GET,
            "/calls/{id}/attach",
            Page(rep),
            customers::attach_form,
        ),
        route(
            M::POST,
            "/calls/{id}/attach",
            Page(rep),
            customers::attach_save,
        ),
        route(M::POST, "/dial", Page(rep), dial_pages::start),
        route(M::GET, "/dial/{id}", Page(rep), dial_pages::status),
        route(M::GET, "/opportunities", Page(rep), opportunities::channel),
        route(
            M::GET,
            "/opportunities/{id}",
            Page(rep),
            opportunities::show,
        ),
        route(
            M::POST,
            "/opportunities/{id}",
            Page(rep),
            opportunities::edit,
        ),
        route(
            M::GET,
            "/topics/{id}/opportunities/new",
            Page(rep),
            opportunities::new_form,
        ),
        route(
            M::POST,
            "/topics/{id}/opportunities",
            Page(rep),
            opportunities::create,
        ),
        route(M::GET, "/api/v1/customers", Api(rep), customers::api::list),
        route(
            M::POST,
            "/api/v1/customers",
            Api(rep),
            customers::api::create,
        ),
        route(
            M::GET,
            "/api/v1/customers/{id}",
            Api(rep),
            customers::api::one,
        ),
        route(
            M::PATCH,
            "/api/v1/customers/{id}",
            Api(rep),
            customers::api::update,
        ),
        route(
            M::POST,
            "/api/v1/customers/{id}/contacts",
            Api(rep),
            customers::api::add_contact,
        ),
        route(
            M::POST,
            "/api/v1/customers/{id}/numbers",
            Api(rep),
            customers::api::add_number,
        ),
        route(
            M::POST,
            "/api/v1/customers/{id}/contacts/{contact}",
            Api(rep),
            customers::api::update_contact,
        ),
        route(
            M::POST,
            "/api/v1/customers/{id}/contacts/{contact}/remove",
            Api(rep),
            customers::api::remove_contact,
        ),
        route(
            M::POST,
            "/api/v1/customers/{id}/numbers/{number}/remove",
            Api(rep),
            customers::api::remove_number,
        ),
        route(
            M::POST,
            "/api/v1/customers/{id}/merge",
            Api(manager),
            customers::api::merge,
        ),
        route(
            M::POST,
            "/api/v1/calls/{id}/attach",
            Api(rep),
            customers::api::attach,
        ),
        route(
            M::GET,
            "/api/v1/opportunities",
            Api(rep),
            opportunities::api::list,
        ),
        route(
            M::GET,
            "/api/v1/opportunities/{id}",
            Api(rep),
            opportunities::api::one,
        ),
        route(
            M::PATCH,
            "/api/v1/opportunities/{id}",
            Api(rep),
            opportunities::api::update,
        ),
        route(
            M::POST,
            "/api/v1/topics/{id}/opportunities",
            Api(rep),
            opportunities::api::create,
        ),
    ]
}

fn route<H, T>(
    method: Method,
    path: &'static str,
    access: Access,
    handler: H,
) -> (Route, MethodRouter<AppState>)
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
    (
        Route {
            method,
            path,
            access,
        },
        on(filter, handler),
    )
}

pub fn router(state: AppState) -> Router {
    // Forms are checked before any handler runs: signed-in pages against
    // the session's token, sign-in forms against their cookie's.
    let (mut pages, mut sign_in, mut rest) = (Router::new(), Router::new(), Router::new());
    for (route, handler) in table() {
        match route.access {
            Access::Page(_) => pages = pages.route(route.path, handler),
            Access::SignIn => sign_in = sign_in.route(route.path, handler),
            Access::Open | Access::Api(_) => rest = rest.route(route.path, handler),
        }
    }
    let pages = pages.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        session::guard_pages,
    ));
    let sign_in = sign_in.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        session::guard_sign_in,
    ));

    pages.merge(sign_in).merge(rest).with_state(state)
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
