//! `/api/v1`: pops as server-sent events, recorded calls, and the lookup
//! explained. Every route here sits behind the bearer token.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{AppState, WebError};
use crate::calls::{CallFilter, CallRecord};
use crate::pop::sse;
use crate::telephony::Direction;

#[derive(Deserialize)]
pub struct PopsQuery {
    extension: Option<String>,
}

/// `GET /api/v1/pops?extension=201`: the pop stream of one extension, or
/// of all of them without `extension`.
pub async fn pops(
    State(state): State<AppState>,
    Query(query): Query<PopsQuery>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    sse::stream(&state.hub, query.extension, last)
}

#[derive(Deserialize)]
pub struct CallsQuery {
    since: Option<String>,
    until: Option<String>,
    extension: Option<String>,
    direction: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/calls`: recorded calls, newest first.
pub async fn calls(
    State(state): State<AppState>,
    Query(query): Query<CallsQuery>,
) -> Result<Json<Vec<CallRecord>>, WebError> {
    let filter = CallFilter {
        since: time_param("since", query.since.as_deref())?,
        until: time_param("until", query.until.as_deref())?,
        extension: query.extension.filter(|x| !x.is_empty()),
        direction: direction_param(query.direction.as_deref())?,
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    };
    Ok(Json(state.store.calls(&filter).await?))
}

/// `GET /api/v1/calls/{id}`: one call with its matches and legs.
pub async fn call(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CallRecord>, WebError> {
    state
        .store
        .call(id)
        .await?
        .map(Json)
        .ok_or(WebError::NotFound)
}

#[derive(Deserialize)]
pub struct LookupQuery {
    number: String,
}

/// `GET /api/v1/lookup?number=`: what a call from that number would match,
/// and why.
pub async fn lookup(
    State(state): State<AppState>,
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
