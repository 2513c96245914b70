//! Opportunities as JSON under `/api/v1`: list (open ones, or all), read
//! one with its stages, open one on a topic, and edit one naming the
//! version read. Values are checked as the pages check them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa::{IntoParams, ToSchema};

use super::{read_form, today, OpportunityForm};
use crate::store::opportunities::{Opportunity, Stage, StageChange};
use crate::web::auth::ApiUser;
use crate::web::customers::api::{edit_error, refused, Created, Saved};
use crate::web::openapi::{ErrorBody, StaleBody};
use crate::web::{AppState, WebError};

/// Query of `GET /api/v1/opportunities`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only those not won or lost (the default), or all.
    #[serde(default = "yes")]
    pub open: bool,
    /// At most this many; 200 unless said, 1000 at most.
    pub limit: Option<i64>,
}

fn yes() -> bool {
    true
}

/// An opportunity with every stage it entered, newest first.
#[derive(Serialize, ToSchema)]
pub struct OpportunityDetail {
    #[serde(flatten)]
    pub opportunity: Opportunity,
    pub stages: Vec<StageChange>,
}

/// Body of `POST /api/v1/topics/{id}/opportunities` and of
/// `PATCH /api/v1/opportunities/{id}`; a patch names every field.
#[derive(Deserialize, ToSchema)]
pub struct OpportunityInput {
    pub title: String,
    /// In the currency's units, as text: "1250.00".
    #[serde(default)]
    pub value: String,
    /// An ISO 4217 code; `company.currency` unless said.
    pub currency: Option<String>,
    #[serde(default)]
    pub stage: Stage,
    /// YYYY-MM-DD in the company's time zone; not in the past.
    pub expected_close: Option<String>,
    /// The owning user; the caller unless said.
    pub owner_id: Option<i64>,
    /// For a patch: the version read.
    #[serde(default)]
    pub version: i64,
}

impl OpportunityInput {
    fn form(&self, state: &AppState, caller: Option<i64>) -> OpportunityForm {
        OpportunityForm {
            title: self.title.clone(),
            value: self.value.clone(),
            currency: self
                .currency
                .clone()
                .unwrap_or_else(|| state.company.currency.clone()),
            stage: self.stage.as_str().into(),
            expected_close: self.expected_close.clone().unwrap_or_default(),
            owner: self
                .owner_id
                .or(caller)
                .map(|id| id.to_string())
                .unwrap_or_default(),
            version: self.version,
            call: None,
        }
    }
}

/// `GET /api/v1/opportunities?open=&limit=`.
#[utoipa::path(
    get, path = "/api/v1/opportunities", tag = "opportunities",
    operation_id = "list_opportunities",
    params(ListQuery),
    responses(
        (status = 200, description = "Open (or all) opportunities", body = Vec<Opportunity>),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    _user: ApiUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Opportunity>>, WebError> {
    let limit = query.limit.unwrap_or(200).clamp(1, 1000);
    Ok(Json(state.store.opportunities(query.open, limit).await?))
}

/// `GET /api/v1/opportunities/{id}`.
#[utoipa::path(
    get, path = "/api/v1/opportunities/{id}", tag = "opportunities",
    operation_id = "get_opportunity",
    params(("id" = i64, Path, description = "The opportunity")),
    responses(
        (status = 200, description = "The opportunity with every stage it entered",
         body = OpportunityDetail),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such opportunity", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn one(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<OpportunityDetail>, WebError> {
    let opportunity = state
        .store
        .opportunity(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let stages = state
        .store
        .stage_changes(DateTime::UNIX_EPOCH, Some(id), 1000)
        .await?;
    Ok(Json(OpportunityDetail {
        opportunity,
        stages,
    }))
}

/// `POST /api/v1/topics/{id}/opportunities`.
#[utoipa::path(
    post, path = "/api/v1/topics/{id}/opportunities", tag = "opportunities",
    operation_id = "open_opportunity",
    params(("id" = i64, Path, description = "The topic")),
    request_body = OpportunityInput,
    responses(
        (status = 201, description = "Opened", body = Created),
        (status = 400, description = "A value refused: the message says which",
         body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such topic", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    Path(topic_id): Path<i64>,
    Json(input): Json<OpportunityInput>,
) -> Result<(StatusCode, Json<Created>), Response> {
    let users = state.store.users().await.map_err(internal)?;
    let form = input.form(&state, user.id);
    let fields = read_form(&form, &users, today(&state), None)
        .map_err(|(_, message)| refused(message).into_response())?;
    let id = state
        .store
        .insert_opportunity(topic_id, &fields, user.id)
        .await
        .map_err(edit_error)?;
    info!(opportunity_id = id, topic_id, username = %user.username, "opportunity opened");
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// `PATCH /api/v1/opportunities/{id}`.
#[utoipa::path(
    patch, path = "/api/v1/opportunities/{id}", tag = "opportunities",
    operation_id = "update_opportunity",
    params(("id" = i64, Path, description = "The opportunity")),
    request_body = OpportunityInput,
    responses(
        (status = 200, description = "Saved", body = Saved),
        (status = 400, description = "A value refused: the message says which",
         body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such opportunity", body = ErrorBody),
        (status = 409, description = "Changed by someone else since it was read",
         body = StaleBody),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<OpportunityInput>,
) -> Result<Json<Saved>, Response> {
    let was = state.store.opportunity(id).await.map_err(internal)?;
    let was = was
        .ok_or(WebError::NotFound)
        .map_err(IntoResponse::into_response)?;
    let users = state.store.users().await.map_err(internal)?;
    let form = input.form(&state, was.owner_id);
    let fields = read_form(&form, &users, today(&state), Some(&was))
        .map_err(|(_, message)| refused(message).into_response())?;
    let version = state
        .store
        .update_opportunity(id, input.version, &fields, user.id)
        .await
        .map_err(edit_error)?;
    info!(opportunity_id = id, version, username = %user.username, "opportunity edited");
    Ok(Json(Saved { version }))
}

fn internal(e: anyhow::Error) -> Response {
    WebError::Internal(e).into_response()
}
