//! `/account`: every user's own page. They see their role and extensions,
//! change their password, and make and revoke their API tokens (for the
//! desktop agent and scripts). A new token is shown once, on the answer to
//! the form that made it, and stored only as a hash.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::{info, warn};

use super::auth::{CurrentUser, PageUser};
use super::error::PageError;
use super::pages::{render, Nav};
use super::{AppState, WebError};
use crate::auth::{password, secret};
use crate::store::users::ApiToken;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Option<Nav>,
    username: String,
    name: String,
    role: String,
    extensions: Vec<String>,
    tokens: Vec<ApiToken>,
    /// A token just made, shown this once.
    new_token: Option<String>,
    notice: Option<&'static str>,
    error: Option<String>,
    zone: super::calls::Zone,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct ChangePassword {
    current: String,
    password: String,
    password_again: String,
}

#[derive(Deserialize)]
pub struct NewToken {
    name: String,
}

/// `GET /account`.
pub async fn show(
    State(state): State<AppState>,
    user: PageUser,
    Query(done): Query<Done>,
) -> Result<Html<String>, PageError> {
    let notice = match done.done.as_deref() {
        Some("password") => Some("Password changed. Your other sessions were signed out."),
        Some("revoked") => Some("Token revoked."),
        _ => None,
    };
    let page = page(&state, &user, notice, None, None).await?;
    render(&page)
}

/// `POST /account/password`: needs the current password.
pub async fn change_password(
    State(state): State<AppState>,
    user: PageUser,
    Form(form): Form<ChangePassword>,
) -> Result<Response, PageError> {
    let id = user.id.ok_or(WebError::NotFound)?;
    let stored = state.store.password_hash(id).await?;
    let refused = if !password::verify_blocking(form.current, stored).await {
        warn!(username = %user.username, "password change refused: wrong current password");
        Some("Your current password was wrong.".to_owned())
    } else if form.password != form.password_again {
        Some("The two new passwords differ.".to_owned())
    } else {
        password::check_new(&form.password).err()
    };
    if let Some(refused) = refused {
        let page = page(&state, &user, None, Some(refused), None).await?;
        return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
    }

    let hash = password::hash_blocking(form.password).await?;
    let keep = user.session.as_ref().map(|s| s.id.as_str());
    state.store.set_password(id, Some(&hash), keep).await?;
    info!(username = %user.username, "password changed");
    Ok(Redirect::to("/account?done=password").into_response())
}

/// `POST /account/tokens`: makes a token and shows it, once.
pub async fn create_token(
    State(state): State<AppState>,
    user: PageUser,
    Form(form): Form<NewToken>,
) -> Result<Response, PageError> {
    let id = user.id.ok_or(WebError::NotFound)?;
    let name = form.name.trim();
    if let Err(refused) = check_token_name(name) {
        let page = page(&state, &user, None, Some(refused), None).await?;
        return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
    }
    let token = secret::new_api_token()?;
    state
        .store
        .create_api_token(id, name, &secret::digest(&token))
        .await?;
    info!(username = %user.username, token = name, "api token created");

    let page = page(&state, &user, None, None, Some(token)).await?;
    Ok((StatusCode::CREATED, render(&page)?).into_response())
}

/// `POST /account/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    user: PageUser,
    Path(token): Path<i64>,
) -> Result<Response, PageError> {
    let id = user.id.ok_or(WebError::NotFound)?;
    if !state.store.revoke_api_token(id, token).await? {
        return Err(WebError::NotFound.into());
    }
    info!(username = %user.username, token_id = token, "api token revoked");
    Ok(Redirect::to("/account?done=revoked").into_response())
}

/// A token's name: what it is for, say "laptop agent"; 1 to 64 characters.
pub fn check_token_name(name: &str) -> Result<(), String> {
    match (1..=64).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        true => Ok(()),
        false => Err("a token's name is 1 to 64 characters, such as \"laptop agent\"".into()),
    }
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    notice: Option<&'static str>,
    error: Option<String>,
    new_token: Option<String>,
) -> Result<AccountPage, PageError> {
    let id = user.id.ok_or(WebError::NotFound)?;
    Ok(AccountPage {
        nav: Some(user.nav()),
        username: user.username.clone(),
        name: user.name.clone(),
        role: user.role.to_string(),
        extensions: user.extensions.clone(),
        tokens: state.store.api_tokens(id).await?,
        new_token,
        notice,
        error,
        zone: super::calls::Zone::of(state),
    })
}
