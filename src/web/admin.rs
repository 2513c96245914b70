//! `/admin/users`: admins list users, add them, change a user's name, role,
//! extensions and whether they may sign in, set a new password, and revoke
//! their API tokens.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::info;

use super::auth::{Admins, PageUser};
use super::error::PageError;
use super::pages::{render, Nav};
use super::{AppState, WebError};
use crate::auth::{check_username, parse_extensions, password, Role};
use crate::store::users::{ApiToken, NewUser, User, UserChange, UserError};

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Option<Nav>,
    users: Vec<User>,
    notice: Option<&'static str>,
    error: Option<String>,
    form: UserFields,
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    nav: Option<Nav>,
    user: User,
    tokens: Vec<ApiToken>,
    notice: Option<&'static str>,
    error: Option<String>,
    form: UserFields,
    zone: super::calls::Zone,
}

/// A user form's values, kept to show the form again after a mistake.
#[derive(Default)]
struct UserFields {
    username: String,
    display_name: String,
    extensions: String,
    active: bool,
    /// Each role, and whether it is the one chosen.
    roles: Vec<(&'static str, bool)>,
}

impl UserFields {
    fn new(username: &str, name: &str, role: Role, extensions: &str, active: bool) -> Self {
        UserFields {
            username: username.into(),
            display_name: name.into(),
            extensions: extensions.into(),
            active,
            roles: Role::ALL.iter().map(|r| (r.as_str(), *r == role)).collect(),
        }
    }

    fn of(user: &User) -> UserFields {
        let extensions = user.extensions.join(", ");
        UserFields::new(
            &user.username,
            &user.display_name,
            user.role,
            &extensions,
            user.active,
        )
    }
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct AddUser {
    username: String,
    #[serde(default)]
    display_name: String,
    role: String,
    #[serde(default)]
    extensions: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct EditUser {
    #[serde(default)]
    display_name: String,
    role: String,
    #[serde(default)]
    extensions: String,
    /// A checkbox: present when ticked.
    active: Option<String>,
}

#[derive(Deserialize)]
pub struct NewPassword {
    password: String,
    password_again: String,
}

/// `GET /admin/users`.
pub async fn list(
    State(state): State<AppState>,
    admin: PageUser<Admins>,
    Query(done): Query<Done>,
) -> Result<Html<String>, PageError> {
    render(&UsersPage {
        nav: Some(admin.nav()),
        users: state.store.users().await?,
        notice: notice(done.done.as_deref()),
        error: None,
        form: UserFields::new("", "", Role::Rep, "", true),
    })
}

/// `POST /admin/users`: adds a user, then shows them.
pub async fn add(
    State(state): State<AppState>,
    admin: PageUser<Admins>,
    Form(form): Form<AddUser>,
) -> Result<Response, PageError> {
    let username = form.username.trim().to_owned();
    let role = form.role.parse::<Role>();
    let checked = check_username(&username)
        .and_then(|()| match form.password.is_empty() {
            true => Ok(()),
            false => password::check_new(&form.password),
        })
        .and_then(|()| parse_extensions(&form.extensions));
    let refused = match (role.clone(), checked) {
        (Ok(role), Ok(extensions)) => {
            let password_hash = match form.password.is_empty() {
                true => None,
                false => Some(password::hash_blocking(form.password).await?),
            };
            let user = NewUser {
                username: username.clone(),
                display_name: form.display_name.clone(),
                role,
                password_hash,
                extensions,
            };
            match state.store.create_user(&user).await {
                Ok(id) => {
                    info!(by = %admin.username, %username, %role, "user added");
                    return Ok(
                        Redirect::to(&format!("/admin/users/{id}?done=added")).into_response()
                    );
                }
                Err(e) => refusal(e)?,
            }
        }
        (Err(e), _) | (_, Err(e)) => e,
    };

    let role = role.unwrap_or(Role::Rep);
    let page = UsersPage {
        nav: Some(admin.nav()),
        users: state.store.users().await?,
        notice: None,
        error: Some(refused),
        form: UserFields::new(&username, &form.display_name, role, &form.extensions, true),
    };
    Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
}

/// `GET /admin/users/{id}`.
pub async fn show(
    State(state): State<AppState>,
    admin: PageUser<Admins>,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Html<String>, PageError> {
    let user = state.store.user(id).await?.ok_or(WebError::NotFound)?;
    render(&UserPage {
        nav: Some(admin.nav()),
        tokens: state.store.api_tokens(id).await?,
        zone: super::calls::Zone::of(&state),
        notice: notice(done.done.as_deref()),
        error: None,
        form: UserFields::of(&user),
        user,
    })
}

/// `POST /admin/users/{id}`: name, role, extensions and whether active.
pub async fn edit(
    State(state): State<AppState>,
    admin: PageUser<Admins>,
    Path(id): Path<i64>,
    Form(form): Form<EditUser>,
) -> Result<Response, PageError> {
    let user = state.store.user(id).await?.ok_or(WebError::NotFound)?;
    let active = form.active.is_some();
    let role = form.role.parse::<Role>();
    let refused = match (role.clone(), parse_extensions(&form.extensions)) {
        (Ok(role), Ok(extensions)) => {
            let change = UserChange {
                display_name: form.display_name.clone(),
                role,
                active,
                extensions,
            };
            match state.store.update_user(id, &change).await {
                Ok(()) => {
                    info!(by = %admin.username, username = %user.username, %role, active,
                        "user changed");
                    return Ok(
                        Redirect::to(&format!("/admin/users/{id}?done=saved")).into_response()
                    );
                }
                Err(e) => refusal(e)?,
            }
        }
        (Err(e), _) | (_, Err(e)) => e,
    };

    let role = role.unwrap_or(user.role);
    let form = UserFields::new(
        &user.username,
        &form.display_name,
        role,
        &form.extensions,
        active,
    );
    let page = UserPage {
        nav: Some(admin.nav()),
        tokens: state.store.api_tokens(id).await?,
        zone: super::calls::Zone::of(&state),
        notice: None,
        error: Some(refused),
        form,
        user,
    };
    Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
}

/// `POST /admin/users/{id}/password`: a new password; the user is signed
/// out everywhere (but the admin's own session, when it is theirs).
pub async fn set_password(
    State(state): State<AppState>,
    admin: PageUser<Admins>,
    Path(id): Path<i64>,
    Form(form): Form<NewPassword>,
) -> Result<Response, PageError> {
    let user = state.store.user(id).await?.ok_or(WebError::NotFound)?;
    let checked = password::check_new(&form.password).and_then(|()| {
        match form.password == form.password_again {
            true => Ok(()),
            false => Err("the two passwords differ".to_owned()),
        }
    });
    if let Err(refused) = checked {
        let page = UserPage {
            nav: Some(admin.nav()),
            tokens: state.store.api_tokens(id).await?,
            zone: super::calls::Zone::of(&state),
            notice: None,
            error: Some(refused),
            form: UserFields::of(&user),
            user,
        };
        return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
    }

    let hash = password::hash_blocking(form.password).await?;
    let keep = admin.session.as_ref().map(|s| s.id.as_str());
    state.store.set_password(id, Some(&hash), keep).await?;
    info!(by = %admin.username, username = %user.username, "password set");
    Ok(Redirect::to(&format!("/admin/users/{id}?done=password")).into_response())
}

/// `POST /admin/users/{id}/tokens/{token}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    admin: PageUser<Admins>,
    Path((id, token)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    if !state.store.revoke_api_token(id, token).await? {
        return Err(WebError::NotFound.into());
    }
    info!(by = %admin.username, user_id = id, token_id = token, "api token revoked");
    Ok(Redirect::to(&format!("/admin/users/{id}?done=revoked")).into_response())
}

/// A conflict to show on the form; a database failure is passed on.
fn refusal(e: UserError) -> Result<String, PageError> {
    match e {
        UserError::Store(e) => Err(e.into()),
        UserError::NotFound => Err(WebError::NotFound.into()),
        conflict => Ok(conflict.to_string()),
    }
}

/// What a redirect's `?done=` says; unknown values say nothing.
fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "welcome" => Some("Welcome: you are callpop's first admin. Add the others here."),
        "added" => Some("User added."),
        "saved" => Some("Saved."),
        "password" => Some("Password set. They were signed out everywhere."),
        "revoked" => Some("Token revoked."),
        _ => None,
    }
}
