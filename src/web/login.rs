//! Signing in and out. The sign-in form asks for a username and password;
//! a failure says only that the pair was wrong, waits a little, and counts
//! against that username (see `auth::throttle`).

use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{HeaderMap, HeaderValue, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::{info, warn};

use super::auth::{MaybeSession, PageUser};
use super::error::PageError;
use super::pages::{render, Nav};
use super::session::{self, FORM_COOKIE};
use super::AppState;
use crate::auth::{password, secret};

/// Where a browser goes after sign-in when it did not say.
pub const HOME: &str = "/calls";
/// How long a failed sign-in waits before it answers.
const FAILURE_DELAY: Duration = Duration::from_millis(300);

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
    no_users: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignIn {
    username: String,
    password: String,
    next: Option<String>,
}

/// `GET /login?next=/calls/5`: the form, or straight on when signed in.
pub async fn form(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Query(query): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let next = safe_next(query.next.as_deref());
    if session.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    let page = LoginPage {
        nav: None,
        csrf: String::new(),
        next,
        username: String::new(),
        error: None,
        no_users: state.store.count_users().await? == 0,
    };
    show(&state, &headers, StatusCode::OK, page)
}

/// `POST /login`: signs in and goes on to `next`, or shows the form again.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref());
    let username = form.username.trim().to_owned();
    let again = |error: &str| LoginPage {
        nav: None,
        csrf: String::new(),
        next: next.clone(),
        username: username.clone(),
        error: Some(error.to_owned()),
        no_users: false,
    };
    if !state.throttle.allows(&username) {
        warn!(%username, "sign-in refused: too many failures");
        let page = again("Too many failed sign-ins for this username. Wait a few minutes.");
        return show(&state, &headers, StatusCode::TOO_MANY_REQUESTS, page);
    }

    // Check the password even when there is no such user, so that the
    // answer takes as long either way.
    let user = state.store.user_by_username(&username).await?;
    let stored = match &user {
        Some(u) if u.active => state.store.password_hash(u.id).await?,
        _ => None,
    };
    let had_password = stored.is_some();
    let right = password::verify_blocking(form.password, stored).await;

    let user = match user {
        Some(user) if right => user,
        user => {
            let reason = match user {
                None => "unknown user",
                Some(u) if !u.active => "inactive user",
                Some(_) if !had_password => "user has no password",
                Some(_) => "wrong password",
            };
            warn!(%username, reason, "sign-in refused");
            state.throttle.failed(&username);
            tokio::time::sleep(FAILURE_DELAY).await;
            let page = again("Wrong username or password.");
            return show(&state, &headers, StatusCode::UNAUTHORIZED, page);
        }
    };

    state.throttle.succeeded(&username);
    let cookie = session::start(&state, user.id).await?;
    info!(username = %user.username, role = %user.role, "signed in");
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(SET_COOKIE, cookie);
    response.headers_mut().append(
        SET_COOKIE,
        session::set_cookie(&state.base_url, FORM_COOKIE, "", Some(0)),
    );
    Ok(response)
}

/// `POST /logout`: ends the session and forgets the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    user: PageUser,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    session::end(&state, &headers).await?;
    info!(username = %user.username, "signed out");
    let mut response = Redirect::to("/login").into_response();
    let gone = session::set_cookie(&state.base_url, session::COOKIE, "", Some(0));
    response.headers_mut().append(SET_COOKIE, gone);
    Ok(response)
}

/// Renders the sign-in form with the form token of this browser.
fn show(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    mut page: LoginPage,
) -> Result<Response, PageError> {
    form_page(state, headers, status, |csrf| {
        page.csrf = csrf;
        render(&page)
    })
}

/// A page with a form for someone not signed in: `page` gets the browser's
/// form token, and the browser a cookie with it when it had none.
pub fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: impl FnOnce(String) -> Result<Html<String>, PageError>,
) -> Result<Response, PageError> {
    let (token, cookie) = form_token(state, headers)?;
    let mut response = (status, page(token)?).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The browser's sign-in form token, and a cookie to set when it is new.
fn form_token(
    state: &AppState,
    headers: &HeaderMap,
) -> anyhow::Result<(String, Option<HeaderValue>)> {
    if let Some(token) = session::cookie(headers, FORM_COOKIE).filter(|t| secret::is_secret(t)) {
        return Ok((token.to_owned(), None));
    }
    let token = secret::random()?;
    let cookie = session::set_cookie(&state.base_url, FORM_COOKIE, &token, None);
    Ok((token, Some(cookie)))
}

/// `next` when it is a path on this site, else [`HOME`]: a sign-in link
/// must not send anyone elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if is_local_path(path) => path.to_owned(),
        _ => HOME.to_owned(),
    }
}

fn is_local_path(path: &str) -> bool {
    super::paths::local_path(path).is_some() && !path.starts_with("/login")
}

/// Percent-encodes `text` for a query value; `/` is kept for reading.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        for good in ["/calls", "/calls/5", "/admin/users?done=added", "/"] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "evil.example",
            "/calls\r\nSet-Cookie: x=1",
            "/\tevil",
            "",
            "/login?next=/x",
        ] {
            assert_eq!(safe_next(Some(bad)), HOME, "{bad:?}");
        }
        assert_eq!(safe_next(None), HOME);
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(3000)))), HOME);
    }

    #[test]
    fn next_is_encoded_for_a_query() {
        assert_eq!(encode("/calls/5?x=1&y=a b"), "/calls/5%3Fx%3D1%26y%3Da%20b");
        assert_eq!(encode("/ü"), "/%C3%BC");
    }
}
