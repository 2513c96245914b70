//! The pages people read. Every value from a caller is escaped by the
//! templates (askama escapes HTML by default). Every page wants a signed-in
//! user; a rep sees the calls at their own extensions, managers and admins
//! see every call.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect};

use super::auth::{Admins, PageUser};
use super::calls::Zone;
use super::error::PageError;
use super::AppState;
use crate::calls::{CallFilter, CallRecord};

/// What the top bar of a signed-in page shows, and the token its forms
/// and scripts send back.
#[derive(Clone, Debug)]
pub struct Nav {
    pub name: String,
    pub csrf: String,
    pub admin: bool,
    /// A fresh value for forms that create something: each is accepted
    /// once, so a form sent twice (a double click, a reload, the back
    /// button) creates one thing.
    pub once: String,
}

#[derive(Template)]
#[template(path = "calls.html")]
struct CallsPage {
    nav: Option<Nav>,
    calls: Vec<CallRecord>,
    everyone: bool,
    zone: Zone,
}

pub async fn home(_user: PageUser) -> impl IntoResponse {
    Redirect::to("/calls")
}

pub async fn admin_home(_user: PageUser<Admins>) -> impl IntoResponse {
    Redirect::to("/admin/users")
}

/// `/calls`: the latest calls this user may see.
pub async fn calls(
    State(state): State<AppState>,
    user: PageUser,
) -> Result<Html<String>, PageError> {
    let filter = CallFilter {
        limit: 100,
        user_id: user.calls_filter(),
        ..CallFilter::default()
    };
    render(&CallsPage {
        nav: Some(user.nav()),
        calls: state.store.calls(&filter).await?,
        everyone: user.calls_filter().is_none(),
        zone: Zone::of(&state),
    })
}

pub fn render(page: &impl Template) -> Result<Html<String>, PageError> {
    let html = page
        .render()
        .map_err(|e| anyhow::anyhow!("failed to render page: {e}"))?;
    Ok(Html(html))
}
