//! The pages people read. Every value from a caller is escaped by the
//! templates (askama escapes HTML by default). Every page wants a signed-in
//! user; a rep sees the calls at their own extensions, managers and admins
//! see every call.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect};
use chrono::{DateTime, Utc};

use super::auth::{Admins, PageUser};
use super::error::PageError;
use super::{AppState, WebError};
use crate::calls::{CallFilter, CallRecord};

/// What the top bar of a signed-in page shows, and the token its forms
/// and scripts send back.
#[derive(Clone, Debug)]
pub struct Nav {
    pub name: String,
    pub csrf: String,
    pub admin: bool,
}

#[derive(Template)]
#[template(path = "call.html")]
struct CallPage {
    nav: Option<Nav>,
    call: CallRecord,
    number: String,
    outcome: String,
    started: String,
    answered: String,
    ended: String,
}

#[derive(Template)]
#[template(path = "calls.html")]
struct CallsPage {
    nav: Option<Nav>,
    calls: Vec<CallRecord>,
    everyone: bool,
}

pub async fn home(_user: PageUser) -> impl IntoResponse {
    Redirect::to("/calls")
}

pub async fn admin_home(_user: PageUser<Admins>) -> impl IntoResponse {
    Redirect::to("/admin/users")
}

/// `/calls/{id}`: the page a pop links to.
pub async fn call(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let call = state.store.call(id).await?.ok_or(WebError::NotFound)?;
    if !user.may_see(&call) {
        let refused =
            WebError::Forbidden("This call did not ring at any of your extensions.".into());
        return Err(PageError::from(refused).with_nav(user.nav()));
    }
    let number = match (&call.remote_e164, &call.remote_raw) {
        (Some(e164), _) => {
            let normalizer = state.lookup.normalizer();
            normalizer.for_people(&normalizer.normalize(e164))
        }
        (None, Some(raw)) => raw.clone(),
        (None, None) => "unknown number".into(),
    };
    let page = CallPage {
        nav: Some(user.nav()),
        number,
        outcome: call.outcome.clone().unwrap_or_else(|| "ringing".into()),
        started: when(Some(call.started_at)),
        answered: when(call.answered_at),
        ended: when(call.ended_at),
        call,
    };
    render(&page)
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
    })
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

pub fn render(page: &impl Template) -> Result<Html<String>, PageError> {
    let html = page
        .render()
        .map_err(|e| anyhow::anyhow!("failed to render page: {e}"))?;
    Ok(Html(html))
}
