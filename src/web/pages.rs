//! The pages people read. Every value from a caller is escaped by the
//! templates (askama escapes HTML by default).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect};
use chrono::{DateTime, Utc};

use super::{AppState, WebError};
use crate::calls::{CallFilter, CallRecord};

#[derive(Template)]
#[template(path = "call.html")]
struct CallPage {
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
    calls: Vec<CallRecord>,
}

pub async fn home() -> impl IntoResponse {
    Redirect::to("/calls")
}

/// `/calls/{id}`: the page a pop links to.
pub async fn call(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Html<String>, WebError> {
    let call = state.store.call(id).await?.ok_or(WebError::NotFound)?;
    let number = match (&call.remote_e164, &call.remote_raw) {
        (Some(e164), _) => {
            let normalizer = state.lookup.normalizer();
            normalizer.for_people(&normalizer.normalize(e164))
        }
        (None, Some(raw)) => raw.clone(),
        (None, None) => "unknown number".into(),
    };
    let page = CallPage {
        number,
        outcome: call.outcome.clone().unwrap_or_else(|| "ringing".into()),
        started: when(Some(call.started_at)),
        answered: when(call.answered_at),
        ended: when(call.ended_at),
        call,
    };
    render(&page)
}

/// `/calls`: the latest calls.
pub async fn calls(State(state): State<AppState>) -> Result<Html<String>, WebError> {
    let filter = CallFilter {
        limit: 100,
        ..CallFilter::default()
    };
    render(&CallsPage {
        calls: state.store.calls(&filter).await?,
    })
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

fn render(page: &impl Template) -> Result<Html<String>, WebError> {
    let html = page
        .render()
        .map_err(|e| anyhow::anyhow!("failed to render page: {e}"))?;
    Ok(Html(html))
}
