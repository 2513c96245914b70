//! The first admin. While no user exists, each start of the daemon prints a
//! one-time link, `/setup/{token}`; its form creates the first admin and
//! signs them in. The link works once, and only while there is no user.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::{HeaderMap, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::{info, warn};

use super::error::PageError;
use super::login::form_page;
use super::pages::{render, Nav};
use super::{session, AppState};
use crate::auth::{parse_extensions, password, secret, Role};
use crate::store::users::NewUser;
use crate::store::Store;

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    nav: Option<Nav>,
    csrf: String,
    token: String,
    username: String,
    display_name: String,
    extensions: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SetupForm {
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    extensions: String,
    password: String,
    password_again: String,
}

/// Stores a fresh setup link and returns its token, to print.
pub async fn new_link(store: &Store) -> anyhow::Result<String> {
    let token = secret::random()?;
    store.add_setup_token(&secret::digest(&token)).await?;
    Ok(token)
}

/// `GET /setup/{token}`: the form, while the link is good.
pub async fn form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if !link_valid(&state, &token).await? {
        return Err(spent());
    }
    let page = SetupPage {
        nav: None,
        csrf: String::new(),
        token,
        username: String::new(),
        display_name: String::new(),
        extensions: String::new(),
        error: None,
    };
    show(&state, &headers, StatusCode::OK, page)
}

/// `POST /setup/{token}`: creates the first admin and signs them in.
pub async fn create(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Result<Response, PageError> {
    if !link_valid(&state, &token).await? {
        return Err(spent());
    }
    let username = form.username.trim().to_owned();
    let checked = crate::auth::check_username(&username)
        .and_then(|()| password::check_new(&form.password))
        .and_then(|()| match form.password == form.password_again {
            true => Ok(()),
            false => Err("the two passwords differ".into()),
        })
        .and_then(|()| parse_extensions(&form.extensions));
    let extensions = match checked {
        Ok(extensions) => extensions,
        Err(error) => {
            let page = SetupPage {
                nav: None,
                csrf: String::new(),
                token,
                username,
                display_name: form.display_name,
                extensions: form.extensions,
                error: Some(error),
            };
            return show(&state, &headers, StatusCode::BAD_REQUEST, page);
        }
    };

    let user = NewUser {
        username: username.clone(),
        display_name: form.display_name,
        role: Role::Admin,
        password_hash: Some(password::hash_blocking(form.password).await?),
        extensions,
    };
    let created = state
        .store
        .create_first_admin(&secret::digest(&token), &user)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let Some(id) = created else {
        warn!(%username, "setup link refused: used already or a user exists");
        return Err(spent());
    };
    info!(%username, "first admin created through the setup link");

    let cookie = session::start(&state, id).await?;
    let mut response = Redirect::to("/admin/users?done=welcome").into_response();
    response.headers_mut().append(SET_COOKIE, cookie);
    Ok(response)
}

async fn link_valid(state: &AppState, token: &str) -> anyhow::Result<bool> {
    if !secret::is_secret(token) {
        return Ok(false);
    }
    state.store.setup_token_valid(&secret::digest(token)).await
}

fn spent() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "This setup link does not work",
        "It was used already, or callpop has users now. Sign in at /login; an admin adds \
         the others under Users.",
    )
}

fn show(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    mut page: SetupPage,
) -> Result<Response, PageError> {
    form_page(state, headers, status, |csrf| {
        page.csrf = csrf;
        render(&page)
    })
}
