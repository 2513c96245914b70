//! `/api/v1`: who the caller is, pops as server-sent events, recorded
//! calls, and the lookup explained. Every route wants a bearer token or a
//! signed-in page's session (see `auth`); a rep gets the pops and calls of
//! their own extensions, managers and admins those of any.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::auth::ApiUser;
use super::{AppState, WebError};
use crate::calls::{CallFilter, CallRecord};
use crate::pop::sse;
use crate::telephony::Direction;

/// `GET /api/v1/me`: the user a token or session stands for.
pub async fn me(user: ApiUser) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "extensions": user.extensions,
    }))
}

/// `GET /api/v1/pops?extension=201&extension=202`: the pop stream of the
/// extensions named, or without `extension` of the caller's own (of all of
/// them for the bootstrap token, which has none).
pub async fn pops(
    State(state): State<AppState>,
    user: ApiUser,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<impl IntoResponse, WebError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| WebError::BadRequest(format!("unreadable query: {e}")))?;
    let named: Vec<String> = pairs
        .into_iter()
        .filter(|(k, v)| k == "extension" && !v.is_empty())
        .map(|(_, v)| v)
        .collect();
    if let Some(x) = named.iter().find(|x| !user.may_watch(x)) {
        return Err(WebError::Forbidden(format!(
            "extension {x} is not one of yours"
        )));
    }
    let extensions = match named {
        named if !named.is_empty() => Some(named),
        _ if user.id.is_none() => None,
        _ if user.extensions.is_empty() => {
            return Err(WebError::BadRequest(
                "you have no extension yet: an admin adds them under Users; \
                 or name one with extension="
                    .into(),
            ))
        }
        _ => Some(user.extensions.clone()),
    };
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    Ok(sse::stream(&state.hub, extensions, last))
}

#[derive(Deserialize)]
pub struct CallsQuery {
    since: Option<String>,
    until: Option<String>,
    extension: Option<String>,
    direction: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/calls`: recorded calls the caller may see, newest first.
pub async fn calls(
    State(state): State<AppState>,
    user: ApiUser,
    Query(query): Query<CallsQuery>,
) -> Result<Json<Vec<CallRecord>>, WebError> {
    let extension = query.extension.filter(|x| !x.is_empty());
    if let Some(x) = extension.as_deref().filter(|x| !user.may_watch(x)) {
        return Err(WebError::Forbidden(format!(
            "extension {x} is not one of yours"
        )));
    }
    let filter = CallFilter {
        since: time_param("since", query.since.as_deref())?,
        until: time_param("until", query.until.as_deref())?,
        extension,
        direction: direction_param(query.direction.as_deref())?,
        user_id: user.calls_filter(),
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    };
    Ok(Json(state.store.calls(&filter).await?))
}

/// `GET /api/v1/calls/{id}`: one call with its matches and legs.
pub async fn call(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<CallRecord>, WebError> {
    let call = state.store.call(id).await?.ok_or(WebError::NotFound)?;
    if !user.may_see(&call) {
        return Err(WebError::Forbidden(
            "this call did not ring at any of your extensions".into(),
        ));
    }
    Ok(Json(call))
}

#[derive(Deserialize)]
pub struct LookupQuery {
    number: String,
}

/// `GET /api/v1/lookup?number=`: what a call from that number would match,
/// and why.
pub async fn lookup(
    State(state): State<AppState>,
    _user: ApiUser,
    Query(query): Query<LookupQuery>,
) -> Result<impl IntoResponse, WebError> {
    let explained = state.lookup.explain(&query.number).await?;
    Ok(Json(explained))
}

fn time_param(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, WebError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(value)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| {
            WebError::BadRequest(format!("{name} must be an RFC 3339 time, got {value:?}"))
        })
}

fn direction_param(value: Option<&str>) -> Result<Option<Direction>, WebError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some("inbound") => Ok(Some(Direction::Inbound)),
        Some("outbound") => Ok(Some(Direction::Outbound)),
        Some(other) => Err(WebError::BadRequest(format!(
            "direction must be inbound or outbound, got {other:?}"
        ))),
    }
}
