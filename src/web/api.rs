//! `/api/v1`: who the caller is, pops as server-sent events, recorded
//! calls, and the lookup explained. Every route wants a bearer token or a
//! signed-in page's session (see `auth`); a rep gets the pops and calls of
//! their own extensions, managers and admins those of any.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiUser;
use super::openapi::ErrorBody;
use super::{AppState, WebError};
use crate::calls::{CallFilter, CallRecord};
use crate::pop::sse;
use crate::telephony::Direction;

/// The user a token or session stands for.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// None for the bootstrap token, which stands for no user.
    pub id: Option<i64>,
    pub username: String,
    pub name: String,
    pub role: crate::auth::Role,
    /// In order: the first is where click-to-dial rings.
    pub extensions: Vec<String>,
}

/// `GET /api/v1/me`: the user a token or session stands for.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "me",
    operation_id = "me",
    responses(
        (status = 200, description = "Who the caller is", body = Me),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn me(user: ApiUser) -> Json<Me> {
    let user = user.user;
    Json(Me {
        id: user.id,
        username: user.username,
        name: user.name,
        role: user.role,
        extensions: user.extensions,
    })
}

/// `GET /api/v1/pops?extension=201&extension=202`: the pop stream of the
/// extensions named, or without `extension` of the caller's own (of all of
/// them for the bootstrap token, which has none). The stream closes once
/// its token or session no longer stands or no longer covers those
/// extensions, checked every `api.stream_check_secs`.
#[utoipa::path(
    get, path = "/api/v1/pops", tag = "pops",
    operation_id = "pops",
    params(
        ("extension" = Option<Vec<String>>, Query, explode = true,
         description = "Extensions to watch; the caller's own when absent"),
        ("Last-Event-ID" = Option<u64>, Header,
         description = "The last event seen: the pops still ringing since are sent again"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream",
         description = "Server-sent events: `snapshot` first, then `pop`, `answered` and \
                        `withdraw`, each a JSON object"),
        (status = 400, description = "No extension to watch, or an unreadable query",
         body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "An extension not the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
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
    let lapsed = user.lapsed(state.store.clone(), extensions.clone(), state.stream_check);
    Ok(sse::stream(&state.hub, extensions, last, lapsed))
}

/// Which calls `GET /api/v1/calls` lists.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallsQuery {
    /// From this time (RFC 3339).
    since: Option<String>,
    /// Until this time (RFC 3339).
    until: Option<String>,
    /// Only calls at this extension; a rep may name only their own.
    extension: Option<String>,
    /// `inbound` or `outbound`.
    direction: Option<String>,
    /// At most this many; 100 unless said, 1000 at most.
    limit: Option<i64>,
}

/// `GET /api/v1/calls`: recorded calls the caller may see, newest first.
#[utoipa::path(
    get, path = "/api/v1/calls", tag = "calls",
    operation_id = "list_calls",
    params(CallsQuery),
    responses(
        (status = 200, description = "Call records, newest first: for a rep those that \
                                      reached their extensions", body = Vec<CallRecord>),
        (status = 400, description = "A time or direction not understood", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "An extension not the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
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
#[utoipa::path(
    get, path = "/api/v1/calls/{id}", tag = "calls",
    operation_id = "get_call",
    params(("id" = i64, Path, description = "The call")),
    responses(
        (status = 200, description = "The call: direction, numbers, times, outcome, matched \
                                      customers and each extension it rang", body = CallRecord),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A call that never reached the rep", body = ErrorBody),
        (status = 404, description = "No such call", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
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

/// The number `GET /api/v1/lookup` explains.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// In any format.
    number: String,
}

/// `GET /api/v1/lookup?number=`: what a call from that number would match,
/// and why.
#[utoipa::path(
    get, path = "/api/v1/lookup", tag = "calls",
    operation_id = "lookup",
    params(LookupQuery),
    responses(
        (status = 200, description = "The number as read, what it matched and why",
         body = crate::lookup::Explanation),
        (status = 400, description = "No number", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
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
