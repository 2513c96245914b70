//! Who is asking, and whether they may. Handlers name what they need as an
//! extractor: `PageUser<Admins>` for a page only admins see, `ApiUser` for
//! an API route any signed-in user may call. A page without a session sends
//! the browser to sign in; the API answers 401. A role too low gets 403.
//!
//! The API takes `Authorization: Bearer` with a user's API token (that
//! user's role), or the bootstrap `api.token` from the config (the admin
//! role, standing for no user), or the session cookie of a signed-in page.
//! [`ApiUser::lapsed`] checks that credential again for as long as a pop
//! stream it opened stays open.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use tracing::{debug, info, warn};

use super::error::PageError;
use super::pages::Nav;
use super::session::{self, Session};
use super::{AppState, WebError};
use crate::auth::{secret, Role};
use crate::calls::CallRecord;
use crate::store::users::{Standing, User};
use crate::store::Store;

/// How often an API token's last use is written down.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// The user a request acts for.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    /// `None` for the bootstrap `api.token`, which stands for no user.
    pub id: Option<i64>,
    pub username: String,
    /// The name to show.
    pub name: String,
    pub role: Role,
    /// In order: the first is where click-to-dial rings.
    pub extensions: Vec<String>,
    /// The session, when the request came from a signed-in browser.
    pub session: Option<Session>,
}

impl CurrentUser {
    fn from_user(user: User, session: Option<Session>) -> CurrentUser {
        CurrentUser {
            id: Some(user.id),
            name: user.name().to_owned(),
            username: user.username,
            role: user.role,
            extensions: user.extensions,
            session,
        }
    }

    fn bootstrap() -> CurrentUser {
        CurrentUser {
            id: None,
            username: "api.token".into(),
            name: "api.token".into(),
            role: Role::Admin,
            extensions: Vec::new(),
            session: None,
        }
    }

    pub fn is_at_least(&self, role: Role) -> bool {
        self.role >= role
    }

    /// Whether `extension` is one of this user's own.
    pub fn owns(&self, extension: &str) -> bool {
        self.extensions.iter().any(|x| x == extension)
    }

    /// Whether this user may see the calls and pops of `extension`: their
    /// own, or any for managers and admins.
    pub fn may_watch(&self, extension: &str) -> bool {
        self.is_at_least(Role::Manager) || self.owns(extension)
    }

    /// Whether this user may see `call`: managers and admins see every
    /// call, a rep those that rang, were answered or were transferred at
    /// one of their extensions.
    pub fn may_see(&self, call: &CallRecord) -> bool {
        if self.is_at_least(Role::Manager) {
            return true;
        }
        let mut touched = call
            .extension
            .iter()
            .chain(&call.answered_by)
            .chain(call.legs.iter().map(|l| &l.extension))
            .chain(call.transfers.iter().flat_map(|t| [&t.from, &t.to]));
        touched.any(|x| self.owns(x))
    }

    /// Only calls this user may see, as a filter on the store's lists.
    pub fn calls_filter(&self) -> Option<i64> {
        match self.is_at_least(Role::Manager) {
            true => None,
            false => Some(self.id.unwrap_or(-1)),
        }
    }

    /// What the pages' top bar shows.
    pub fn nav(&self) -> Nav {
        Nav {
            name: self.name.clone(),
            csrf: self
                .session
                .as_ref()
                .map(|s| s.csrf.clone())
                .unwrap_or_default(),
            admin: self.is_at_least(Role::Admin),
            once: crate::auth::secret::random().unwrap_or_default(),
        }
    }
}

/// The least role a route wants, as a type: `PageUser<Managers>`.
pub trait Least {
    const ROLE: Role;
}

/// Every signed-in user.
pub struct Reps;
/// Managers and admins.
pub struct Managers;
/// Admins only.
pub struct Admins;

impl Least for Reps {
    const ROLE: Role = Role::Rep;
}
impl Least for Managers {
    const ROLE: Role = Role::Manager;
}
impl Least for Admins {
    const ROLE: Role = Role::Admin;
}

/// A signed-in browser's user with at least role `R`, for a page.
pub struct PageUser<R: Least = Reps> {
    pub user: CurrentUser,
    role: PhantomData<R>,
}

impl<R: Least> Deref for PageUser<R> {
    type Target = CurrentUser;

    fn deref(&self) -> &CurrentUser {
        &self.user
    }
}

impl<R: Least> FromRequestParts<AppState> for PageUser<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = session::current(parts, state)
            .await
            .map_err(|e| PageError::from(e).into_response())?;
        let Some(session) = session else {
            return Err(to_sign_in(parts).into_response());
        };
        let user = CurrentUser::from_user(session.user.clone(), Some(session));
        if !user.is_at_least(R::ROLE) {
            info!(username = %user.username, path = %parts.uri.path(), "page refused: role");
            return Err(PageError::forbidden(R::ROLE)
                .with_nav(user.nav())
                .into_response());
        }
        Ok(PageUser {
            user,
            role: PhantomData,
        })
    }
}

/// Where a browser without a session goes: sign in, then come back here.
/// A form sent without a session cannot be sent again by a redirect, so
/// after it the browser comes back to the start.
fn to_sign_in(parts: &Parts) -> Redirect {
    let here = match parts.method {
        axum::http::Method::GET => parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        _ => "/",
    };
    Redirect::to(&format!("/login?next={}", super::login::encode(here)))
}

/// What an API request authenticated with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// The bootstrap `api.token` of the config: nothing to revoke.
    Bootstrap,
    /// A user's API token, by its id.
    Token(i64),
    /// A signed-in browser's session, by its id (its cookie's hash).
    Session(String),
}

/// The user behind an API request with at least role `R`.
pub struct ApiUser<R: Least = Reps> {
    pub user: CurrentUser,
    pub credential: Credential,
    role: PhantomData<R>,
}

impl<R: Least> Deref for ApiUser<R> {
    type Target = CurrentUser;

    fn deref(&self) -> &CurrentUser {
        &self.user
    }
}

impl<R: Least> FromRequestParts<AppState> for ApiUser<R> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let (user, credential) = api_caller(parts, state).await?;
        if !user.is_at_least(R::ROLE) {
            info!(username = %user.username, path = %parts.uri.path(), "api refused: role");
            let holders = R::ROLE.holders();
            return Err(WebError::Forbidden(format!("this is for {holders}")));
        }
        Ok(ApiUser {
            user,
            credential,
            role: PhantomData,
        })
    }
}

impl<R: Least> ApiUser<R> {
    /// Completes once this request's credential no longer stands (a token
    /// revoked, a session ended or expired, the user deactivated) or no
    /// longer lets the user watch `followed` (`None`: every extension),
    /// checked every `every` with one query. Never completes for the
    /// bootstrap token. Store failures count as lapsed: a stream closed
    /// for nothing is reopened, one left open may be a leak.
    pub fn lapsed(
        &self,
        store: Store,
        followed: Option<Vec<String>>,
        every: Duration,
    ) -> impl Future<Output = ()> + Send + 'static {
        let credential = self.credential.clone();
        let user_id = self.id;
        async move {
            let start = tokio::time::Instant::now() + every;
            let mut ticks = tokio::time::interval_at(start, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let standing = match &credential {
                    Credential::Token(id) => store.token_standing(*id).await,
                    Credential::Session(id) => store.session_standing(id).await,
                    // The config's token: nothing to revoke.
                    Credential::Bootstrap => return std::future::pending().await,
                };
                let reason = match standing {
                    Ok(standing) => lapse(&credential, standing, followed.as_deref(), Utc::now()),
                    Err(e) => {
                        let error = format!("{e:#}");
                        warn!(user_id, error, "pop stream closed: credential check failed");
                        return;
                    }
                };
                if let Some(reason) = reason {
                    info!(user_id, reason, "pop stream closed: access lapsed");
                    return;
                }
            }
        }
    }
}

/// Why a credential that stands as `standing` (`None`: gone) no longer
/// lets its user watch `followed`, if it does not.
fn lapse(
    credential: &Credential,
    standing: Option<Standing>,
    followed: Option<&[String]>,
    now: DateTime<Utc>,
) -> Option<String> {
    let Some(standing) = standing else {
        return Some(match credential {
            Credential::Session(_) => "session ended".into(),
            _ => "token revoked".into(),
        });
    };
    if !standing.active {
        return Some("user deactivated".into());
    }
    if let Some((last_seen, expires)) = standing.session_times {
        if now >= expires || now - last_seen >= session::IDLE {
            return Some("session expired".into());
        }
    }
    let any = standing.role >= Role::Manager;
    match followed {
        None if !any => Some("no longer a manager".into()),
        None => None,
        Some(xs) => xs
            .iter()
            .find(|x| !any && !standing.extensions.contains(x))
            .map(|x| format!("extension {x} no longer theirs")),
    }
}

/// A bearer token if the request has an Authorization header, else the
/// session cookie (with its CSRF header on anything but GET).
async fn api_caller(
    parts: &mut Parts,
    state: &AppState,
) -> Result<(CurrentUser, Credential), WebError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = token.map(str::trim) else {
            debug!(path = %parts.uri.path(), "api request without a bearer token");
            return Err(WebError::Unauthorized);
        };
        return bearer(state, token, parts.uri.path()).await;
    }

    let Some(session) = session::current(parts, state).await? else {
        debug!(path = %parts.uri.path(), "api request without a token or session");
        return Err(WebError::Unauthorized);
    };
    if let Err(reason) = session::check_api_csrf(parts, &session, &state.base_url) {
        warn!(path = %parts.uri.path(), reason, "api request refused: csrf check failed");
        return Err(WebError::Forbidden(reason));
    }
    let credential = Credential::Session(session.id.clone());
    Ok((
        CurrentUser::from_user(session.user.clone(), Some(session)),
        credential,
    ))
}

async fn bearer(
    state: &AppState,
    token: &str,
    path: &str,
) -> Result<(CurrentUser, Credential), WebError> {
    if let Some(expected) = &state.api_token {
        if secret::constant_time_eq(token.as_bytes(), expected.expose().as_bytes()) {
            return Ok((CurrentUser::bootstrap(), Credential::Bootstrap));
        }
    }
    if secret::is_api_token(token) {
        if let Some((user, id, used)) = state.store.api_token_user(&secret::digest(token)).await? {
            let now = Utc::now();
            if used.is_none_or(|t| now - t >= TOUCH_EVERY) {
                state.store.touch_api_token(id, now).await?;
            }
            return Ok((CurrentUser::from_user(user, None), Credential::Token(id)));
        }
    }
    warn!(path, "api request with an unknown token");
    Err(WebError::Unauthorized)
}

/// The request's live session, if any; never refuses.
pub struct MaybeSession(pub Option<Session>);

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        Ok(MaybeSession(session::current(parts, state).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(role: Role, active: bool, extensions: &[&str]) -> Option<Standing> {
        Some(Standing {
            user_id: 7,
            role,
            active,
            extensions: extensions.iter().map(|x| x.to_string()).collect(),
            session_times: None,
        })
    }

    #[test]
    fn a_stream_lapses_with_its_credential_or_its_extensions() {
        let now = Utc::now();
        let (token, session) = (Credential::Token(1), Credential::Session("hash".into()));
        let on_201 = ["201".to_owned()];
        // Why a stream following 201 (or everything with `None`) lapses;
        // empty while it stands.
        let why = |c: &Credential, s: Option<Standing>, f: Option<&[String]>| {
            lapse(c, s, f, now).unwrap_or_default()
        };
        let f = Some(&on_201[..]);

        assert_eq!(why(&token, standing(Role::Rep, true, &["201"]), f), "");
        assert_eq!(why(&token, None, f), "token revoked");
        assert_eq!(why(&session, None, f), "session ended");
        assert_eq!(
            why(&token, standing(Role::Rep, false, &["201"]), f),
            "user deactivated"
        );
        let moved = standing(Role::Rep, true, &["202"]);
        assert_eq!(why(&token, moved, f), "extension 201 no longer theirs");
        assert_eq!(why(&token, standing(Role::Manager, true, &[]), f), "");
        assert_eq!(why(&token, standing(Role::Manager, true, &[]), None), "");
        let demoted = standing(Role::Rep, true, &["201"]);
        assert_eq!(why(&token, demoted, None), "no longer a manager");

        // A session stands as long as the pages would take it.
        let timed = |seen: chrono::Duration, ends: chrono::Duration| {
            let mut s = standing(Role::Rep, true, &["201"]).unwrap();
            s.session_times = Some((now - seen, now + ends));
            Some(s)
        };
        let hour = chrono::Duration::hours(1);
        assert_eq!(why(&session, timed(hour, hour), f), "");
        assert_eq!(
            why(&session, timed(session::IDLE, hour), f),
            "session expired"
        );
        assert_eq!(why(&session, timed(hour, -hour), f), "session expired");
    }
}
