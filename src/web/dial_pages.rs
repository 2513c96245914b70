//! Click-to-dial from the pages: a Call button posts `number`, `back` and
//! `csrf` (and maybe `extension`) to `/dial`, which rings the rep's own
//! phone through the AMI link and sends the browser to `/dial/{id}`. That
//! page follows the dial (queued, accepted, answered or failed with the
//! reason), reloading itself each second until it is over, and links the
//! call record once there is one. No script is needed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::{debug, info, warn};

use super::auth::PageUser;
use super::customers::{local_path, with_nav};
use super::dial::{dial_from, dialable, pick_link};
use super::error::PageError;
use super::pages::{render, Nav};
use super::{AppState, WebError};
use crate::auth::Role;
use crate::telephony::ami::DialState;

#[derive(Template)]
#[template(path = "dial.html")]
struct DialPage {
    nav: Option<Nav>,
    number: String,
    extension: String,
    /// queued, accepted, answered or failed.
    state: String,
    reason: Option<String>,
    call_id: Option<i64>,
    /// Whether the page should reload itself to follow the dial.
    refresh: bool,
    back: Option<String>,
    /// Why no dial was started.
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct DialForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    extension: String,
    /// The link to use when there are several.
    #[serde(default)]
    link: String,
}

/// `POST /dial`: starts the dial, then shows how it goes.
pub async fn start(
    State(state): State<AppState>,
    user: PageUser,
    Form(form): Form<DialForm>,
) -> Result<Response, PageError> {
    let back = local_path(form.back.trim()).map(str::to_owned);
    let started = dialable(&form.number).and_then(|number| {
        let extension = dial_from(&user, Some(form.extension.as_str()))?;
        let link = pick_link(&state, Some(form.link.trim()).filter(|l| !l.is_empty()))?;
        let dial = link
            .originate(&extension, &number)
            .map_err(|e| WebError::Unavailable(e.to_string()))?;
        Ok((dial, link.name.clone()))
    });

    match started {
        Ok((dial, link)) => {
            info!(username = %user.username, extension = %dial.extension, %link, "click-to-dial");
            let mut to = format!("/dial/{}", dial.id);
            if let Some(back) = &back {
                to = format!("{to}?back={}", super::login::encode(back));
            }
            Ok(Redirect::to(&to).into_response())
        }
        Err(e) => {
            let status = match &e {
                WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                WebError::Forbidden(_) => StatusCode::FORBIDDEN,
                WebError::Internal(_) => return Err(with_nav(e, &user)),
                _ => StatusCode::BAD_REQUEST,
            };
            match status {
                StatusCode::FORBIDDEN => {
                    warn!(username = %user.username, error = %e, "dial refused")
                }
                _ => debug!(username = %user.username, error = %e, "dial not started"),
            }
            let page = DialPage {
                nav: Some(user.nav()),
                number: form.number.trim().to_owned(),
                extension: form.extension.trim().to_owned(),
                state: "failed".into(),
                reason: None,
                call_id: None,
                refresh: false,
                back,
                error: Some(sentence(&e.to_string())),
            };
            Ok((status, render(&page)?).into_response())
        }
    }
}

/// A message from the API's wording, as a sentence for a page.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let first = chars
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    format!("{first}{}.", chars.as_str().trim_end_matches('.'))
}

#[derive(Deserialize)]
pub struct Back {
    #[serde(default)]
    back: String,
}

/// `GET /dial/{id}?back=`: how the dial goes.
pub async fn status(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    Query(back): Query<Back>,
) -> Result<Html<String>, PageError> {
    // Someone else's dial is as good as none.
    let dial = state
        .links
        .iter()
        .find_map(|l| l.dial(&id))
        .filter(|d| user.owns(&d.extension) || user.is_at_least(Role::Admin))
        .ok_or_else(|| with_nav(WebError::NotFound, &user))?;
    let call_id = match &dial.linkedid {
        Some(linkedid) => state.store.call_id_by_pbx(&dial.link, linkedid).await?,
        None => None,
    };

    // Keep following until it failed, or it was answered and its call
    // record is known: the call that follows is recorded as it rings.
    let refresh = match dial.state {
        DialState::Queued | DialState::Accepted => true,
        DialState::Answered => call_id.is_none(),
        DialState::Failed => false,
    };
    let state_name = serde_json::to_value(dial.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    render(&DialPage {
        nav: Some(user.nav()),
        number: dial.number,
        extension: dial.extension,
        state: state_name,
        reason: dial.reason,
        call_id,
        refresh,
        back: local_path(back.back.trim()).map(str::to_owned),
        error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(state: &str, reason: Option<&str>, call_id: Option<i64>, refresh: bool) -> String {
        let page = DialPage {
            nav: None,
            number: "+1555019902".into(),
            extension: "201".into(),
            state: state.into(),
            reason: reason.map(str::to_owned),
            call_id,
            refresh,
            back: Some("/customers/7".into()),
            error: None,
        };
        page.render().unwrap()
    }

    #[test]
    fn the_page_says_how_the_dial_goes_and_reloads_only_until_it_is_over() {
        let ringing = page("accepted", None, None, true);
        assert!(ringing.contains("Your phone is ringing") && ringing.contains("http-equiv"));
        let failed = page("failed", Some("the phone is busy"), None, false);
        assert!(
            failed.contains("did not go through: the phone is busy."),
            "{failed}"
        );
        assert!(!failed.contains("http-equiv") && !failed.contains("call-record"));
        let answered = page("answered", None, Some(17), false);
        assert!(answered.contains("href=\"/calls/17\"") && answered.contains("/customers/7"));
    }

    #[test]
    fn messages_become_sentences() {
        let told = sentence("extension 202 is not one of yours");
        assert_eq!(told, "Extension 202 is not one of yours.");
        assert_eq!(sentence("no such link."), "No such link.");
    }
}
