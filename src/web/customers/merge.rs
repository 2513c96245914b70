//! `/customers/{id}/merge`: managers and admins find a duplicate of a
//! customer and merge it into this one, which keeps everything of both.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::{debug, info};

use super::{edit_failed, search, with_nav};
use crate::store::customers::{Customer, CustomerSummary, EditError};
use crate::web::auth::{CurrentUser, Managers, PageUser};
use crate::web::error::PageError;
use crate::web::pages::{render, Nav};
use crate::web::{AppState, WebError};

#[derive(Template)]
#[template(path = "merge.html")]
struct MergePage {
    nav: Option<Nav>,
    customer: Customer,
    q: String,
    searched: bool,
    /// Customers found, this one left out.
    found: Vec<CustomerSummary>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct MergeQuery {
    #[serde(default)]
    q: String,
}

/// `GET /customers/{id}/merge?q=`.
pub async fn merge_form(
    State(state): State<AppState>,
    user: PageUser<Managers>,
    Path(id): Path<i64>,
    Query(query): Query<MergeQuery>,
) -> Result<Html<String>, PageError> {
    render(&merge_page(&state, &user, id, &query.q, None).await?)
}

async fn merge_page(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    q: &str,
    error: Option<String>,
) -> Result<MergePage, PageError> {
    let customer = state
        .store
        .customer(id)
        .await
        .map_err(|e| with_nav(e.into(), user))?;
    let customer = customer.ok_or_else(|| with_nav(WebError::NotFound, user))?;
    let searched = !q.trim().is_empty();
    let mut found = match searched {
        true => {
            search(state, q, 1)
                .await
                .map_err(|e| with_nav(e, user))?
                .customers
        }
        false => Vec::new(),
    };
    found.retain(|c| c.id != id);
    Ok(MergePage {
        nav: Some(user.nav()),
        customer,
        q: q.trim().to_owned(),
        searched,
        found,
        error,
    })
}

#[derive(Deserialize)]
pub struct MergeForm {
    /// The duplicate, merged into this customer.
    #[serde(default)]
    duplicate: Option<i64>,
}

/// `POST /customers/{id}/merge {duplicate}`.
pub async fn merge(
    State(state): State<AppState>,
    user: PageUser<Managers>,
    Path(id): Path<i64>,
    Form(form): Form<MergeForm>,
) -> Result<Response, PageError> {
    let Some(duplicate) = form.duplicate else {
        debug!(customer_id = id, "merge refused: no duplicate chosen");
        let page = merge_page(&state, &user, id, "", Some("Choose the duplicate.".into())).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    };

    match state.store.merge_customers(id, duplicate).await {
        Ok(moved) => {
            info!(
                kept = id,
                merged = duplicate,
                username = %user.username,
                contacts = moved.contacts,
                numbers = moved.numbers,
                topics = moved.topics,
                calls = moved.calls,
                opportunities = moved.opportunities,
                "customers merged"
            );
            Ok(Redirect::to(&format!("/customers/{id}?done=merged")).into_response())
        }
        Err(EditError::Refused(message)) => {
            debug!(kept = id, merged = duplicate, %message, "merge refused");
            let page = merge_page(&state, &user, id, "", Some(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(edit_failed(e, &user)),
    }
}
