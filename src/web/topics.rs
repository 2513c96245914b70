//! The topic page, `/topics/{id}`: every conversation on the topic across
//! calls and reps, its callbacks and opportunities, how many calls it took,
//! and resolving and reopening it. The same under `/api/v1/topics`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};
use utoipa::{IntoParams, ToSchema};

use super::auth::{ApiUser, CurrentUser, PageUser};
use super::calls::{local, MAX_TITLE};
use super::error::PageError;
use super::openapi::ErrorBody;
use super::pages::{render, Nav};
use super::{AppState, WebError};
use crate::store::callbacks::Callback;
use crate::store::conversations::Conversation;
use crate::store::topics::{Topic, TopicError, TopicEvent, TopicOpportunity};

/// The longest note a resolve or reopen keeps.
pub const MAX_NOTE: usize = 2_000;

#[derive(Template)]
#[template(path = "topic.html")]
struct TopicPage {
    nav: Option<Nav>,
    topic: Topic,
    events: Vec<(TopicEvent, String)>,
    conversations: Vec<(Conversation, String)>,
    callbacks: Vec<(Callback, String)>,
    opportunities: Vec<TopicOpportunity>,
    note: String,
    error: Option<String>,
    back: String,
}

/// What the resolve and reopen forms send.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChangeForm {
    /// The topic's version the page showed.
    pub version: String,
    pub note: String,
    /// Where to go afterwards (a path on this site).
    pub back: String,
}

/// `/topics/{id}`.
pub async fn show(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let page = topic_page(&state, &user, id, String::new(), None, String::new()).await?;
    render(&page)
}

/// Resolves the topic, cancelling its scheduled callbacks.
pub async fn resolve(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Form(form): Form<ChangeForm>,
) -> Result<Response, PageError> {
    change(&state, &user, id, form, true).await
}

/// Reopens a resolved topic.
pub async fn reopen(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Form(form): Form<ChangeForm>,
) -> Result<Response, PageError> {
    change(&state, &user, id, form, false).await
}

async fn change(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    form: ChangeForm,
    resolving: bool,
) -> Result<Response, PageError> {
    let note = form.note.trim().to_owned();
    let back = safe_back(&form.back).unwrap_or_else(|| format!("/topics/{id}"));
    let (typed, typed_back) = (form.note.clone(), form.back.clone());
    let refuse = |status: StatusCode, message: String| async move {
        let page = topic_page(state, user, id, typed, Some(message), typed_back).await?;
        Ok::<Response, PageError>((status, render(&page)?).into_response())
    };
    if note.chars().count() > MAX_NOTE {
        debug!(topic_id = id, username = %user.username, "topic note too long");
        let message = format!("A note has at most {MAX_NOTE} characters.");
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, message).await;
    }
    let Ok(version) = form.version.trim().parse::<i64>() else {
        state.store.topic(id).await?.ok_or(WebError::NotFound)?;
        warn!(topic_id = id, username = %user.username, "topic change refused: no version");
        let message = "The form did not say which version of the topic it saw.".to_owned();
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, message).await;
    };

    let now = Utc::now();
    let done = match resolving {
        true => state
            .store
            .resolve_topic(id, version, user.id, &user.name, &note, now)
            .await
            .map(Some),
        false => state
            .store
            .reopen_topic(id, version, user.id, &note, now)
            .await
            .map(|_| None),
    };
    match done {
        Ok(cancelled) => {
            info!(topic_id = id, username = %user.username, resolving, ?cancelled,
                  "topic changed");
            Ok(Redirect::to(&back).into_response())
        }
        Err(TopicError::NotFound) => Err(PageError::from(WebError::NotFound).with_nav(user.nav())),
        Err(TopicError::Store(e)) => Err(e.into()),
        Err(refused) => {
            warn!(topic_id = id, username = %user.username, error = %refused,
                  "topic change refused");
            let message = format!("{refused}. Nothing was changed; check below and try again.");
            refuse(StatusCode::CONFLICT, message).await
        }
    }
}

/// `back` when it is a path on this site, not a link elsewhere.
pub fn safe_back(back: &str) -> Option<String> {
    super::paths::local_path(back).map(str::to_owned)
}

async fn topic_page(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    note: String,
    error: Option<String>,
    back: String,
) -> Result<TopicPage, PageError> {
    let Some(topic) = state.store.topic(id).await? else {
        return Err(PageError::from(WebError::NotFound).with_nav(user.nav()));
    };
    let tz = state.company.tz();
    let when = |t| local(tz, Some(t));
    let events = state.store.topic_events(id).await?;
    let conversations = state.store.topic_conversations(id).await?;
    let callbacks = state.store.topic_callbacks(id).await?;
    Ok(TopicPage {
        nav: Some(user.nav()),
        events: events
            .into_iter()
            .map(|e| (e.clone(), when(e.at)))
            .collect(),
        conversations: conversations
            .into_iter()
            .map(|c| (c.clone(), when(c.at)))
            .collect(),
        callbacks: callbacks
            .into_iter()
            .map(|c| (c.clone(), when(c.due_at)))
            .collect(),
        opportunities: state.store.topic_opportunities(id).await?,
        topic,
        note,
        error,
        back: safe_back(&back).unwrap_or_default(),
    })
}

/// Which topics the API lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopicsQuery {
    /// The customer whose topics to list.
    pub customer: i64,
    /// Only open ones.
    #[serde(default)]
    pub open: bool,
}

/// `GET /api/v1/topics?customer=`.
#[utoipa::path(
    get, path = "/api/v1/topics", tag = "topics",
    operation_id = "list_topics",
    params(TopicsQuery),
    responses(
        (status = 200, description = "The customer's topics with their call counts",
         body = Vec<Topic>),
        (status = 400, description = "No customer named", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_list(
    State(state): State<AppState>,
    _user: ApiUser,
    Query(query): Query<TopicsQuery>,
) -> Result<Json<Vec<Topic>>, WebError> {
    Ok(Json(
        state
            .store
            .topics_of_customer(query.customer, query.open)
            .await?,
    ))
}

/// A topic with its whole thread: the topic's own fields, and these.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicResponse {
    #[serde(flatten)]
    pub topic: Topic,
    /// Opened, resolved, reopened: oldest first.
    pub events: Vec<TopicEvent>,
    pub conversations: Vec<Conversation>,
    pub callbacks: Vec<Callback>,
}

/// `GET /api/v1/topics/{id}`.
#[utoipa::path(
    get, path = "/api/v1/topics/{id}", tag = "topics",
    operation_id = "get_topic",
    params(("id" = i64, Path, description = "The topic")),
    responses(
        (status = 200, description = "The topic with its thread", body = TopicResponse),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such topic", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_one(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<TopicResponse>, WebError> {
    let topic = state.store.topic(id).await?.ok_or(WebError::NotFound)?;
    Ok(Json(TopicResponse {
        topic,
        events: state.store.topic_events(id).await?,
        conversations: state.store.topic_conversations(id).await?,
        callbacks: state.store.topic_callbacks(id).await?,
    }))
}

/// A topic to open.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTopicRequest {
    pub customer_id: i64,
    /// 1 to 200 characters.
    pub title: String,
}

/// `POST /api/v1/topics`.
#[utoipa::path(
    post, path = "/api/v1/topics", tag = "topics",
    operation_id = "open_topic",
    request_body = NewTopicRequest,
    responses(
        (status = 201, description = "The topic opened", body = Topic),
        (status = 400, description = "A title empty or too long", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_create(
    State(state): State<AppState>,
    user: ApiUser,
    Json(request): Json<NewTopicRequest>,
) -> Result<(StatusCode, Json<Topic>), WebError> {
    let title = request.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(WebError::BadRequest(format!(
            "title must be 1 to {MAX_TITLE} characters"
        )));
    }
    if state.store.customer(request.customer_id).await?.is_none() {
        return Err(WebError::NotFound);
    }
    let id = state
        .store
        .create_topic(request.customer_id, title, user.id, Utc::now())
        .await?;
    let topic = state.store.topic(id).await?.ok_or(WebError::NotFound)?;
    Ok((StatusCode::CREATED, Json(topic)))
}

/// A resolve or reopen through the API.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ChangeRequest {
    /// The version the caller saw; refused when the topic moved on.
    pub version: i64,
    #[serde(default)]
    pub note: String,
}

/// `POST /api/v1/topics/{id}/resolve`.
#[utoipa::path(
    post, path = "/api/v1/topics/{id}/resolve", tag = "topics",
    operation_id = "resolve_topic",
    params(("id" = i64, Path, description = "The topic")),
    request_body = ChangeRequest,
    responses(
        (status = 200, description = "The topic, resolved; its callbacks cancelled",
         body = Topic),
        (status = 400, description = "Already resolved, moved past that version, or the \
                                      note too long", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such topic", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_resolve(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    Json(request): Json<ChangeRequest>,
) -> Result<Json<Topic>, WebError> {
    api_change(&state, &user, id, request, true).await
}

/// `POST /api/v1/topics/{id}/reopen`.
#[utoipa::path(
    post, path = "/api/v1/topics/{id}/reopen", tag = "topics",
    operation_id = "reopen_topic",
    params(("id" = i64, Path, description = "The topic")),
    request_body = ChangeRequest,
    responses(
        (status = 200, description = "The topic, open again", body = Topic),
        (status = 400, description = "Not resolved, moved past that version, or the note \
                                      too long", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such topic", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_reopen(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    Json(request): Json<ChangeRequest>,
) -> Result<Json<Topic>, WebError> {
    api_change(&state, &user, id, request, false).await
}

async fn api_change(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    request: ChangeRequest,
    resolving: bool,
) -> Result<Json<Topic>, WebError> {
    if request.note.chars().count() > MAX_NOTE {
        return Err(WebError::BadRequest(format!(
            "note has at most {MAX_NOTE} characters"
        )));
    }
    let (now, note) = (Utc::now(), request.note.trim());
    let done = match resolving {
        true => state
            .store
            .resolve_topic(id, request.version, user.id, &user.name, note, now)
            .await
            .map(|_| ()),
        false => {
            state
                .store
                .reopen_topic(id, request.version, user.id, note, now)
                .await
        }
    };
    match done {
        Ok(()) => Ok(Json(
            state.store.topic(id).await?.ok_or(WebError::NotFound)?,
        )),
        Err(TopicError::NotFound) => Err(WebError::NotFound),
        Err(TopicError::Store(e)) => Err(e.into()),
        Err(refused) => {
            warn!(topic_id = id, username = %user.username, error = %refused,
                  "topic change refused");
            Err(WebError::BadRequest(refused.to_string()))
        }
    }
}
