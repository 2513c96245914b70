//! Browser sessions and forms that cannot be forged.
//!
//! Signing in stores a session under the hash of a random secret and hands
//! the secret to the browser as the `callpop_session` cookie (HttpOnly,
//! SameSite=Lax, Secure when `server.base_url` is https). A session ends
//! after [`IDLE`] unused or [`LIFETIME`] in all.
//!
//! Every session has a CSRF token that each form carries in a hidden `csrf`
//! field and that scripts send as `X-CSRF-Token`. Before sign-in, the
//! sign-in and setup forms carry the value of a `callpop_csrf` cookie
//! instead. A POST whose token is missing or wrong, or whose Origin (or
//! Referer) is not `server.base_url`'s, is refused with 403 before any
//! handler runs.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use tracing::{debug, warn};

use super::error::PageError;
use super::AppState;
use crate::auth::secret;
use crate::store::users::{NewSession, User};

pub const COOKIE: &str = "callpop_session";
/// The token the sign-in and setup forms carry before there is a session.
pub const FORM_COOKIE: &str = "callpop_csrf";
/// A session unused this long has ended.
pub const IDLE: Duration = Duration::hours(12);
/// A session ends this long after sign-in, used or not.
pub const LIFETIME: Duration = Duration::days(7);
/// How often a session's last use is written down: not on every request.
const TOUCH_EVERY: Duration = Duration::minutes(1);
/// The largest form body read: a note of 10,000 characters in a script
/// of three UTF-8 bytes each, percent-encoded (nine bytes a character),
/// with room for the rest of the form.
const FORM_LIMIT: usize = 256 * 1024;

/// A signed-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// The hash of the cookie's secret: the session's id in the store.
    pub id: String,
    pub csrf: String,
    pub user: User,
}

/// The session found for a request, kept in its extensions so that it is
/// looked up once however many extractors ask.
#[derive(Clone)]
struct Found(Option<Session>);

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
}

/// A `Set-Cookie` value for one of callpop's cookies; `max_age` of `None`
/// lasts while the browser runs, `Some(0)` removes the cookie. Secure when
/// callpop is reached over https.
pub fn set_cookie(base_url: &str, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if base_url.starts_with("https://") {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).expect("cookie values are URL-safe base64")
}

/// Signs `user_id` in: stores a new session and returns the `Set-Cookie`
/// value that carries it. Sessions past their end are cleared on the way.
pub async fn start(state: &AppState, user_id: i64) -> anyhow::Result<HeaderValue> {
    let now = Utc::now();
    if let Err(e) = state.store.end_stale_sessions(now, now - IDLE).await {
        warn!(error = %format!("{e:#}"), "old sessions not cleared");
    }
    let secret = secret::random()?;
    let session = NewSession {
        id: secret::digest(&secret),
        user_id,
        csrf: secret::random()?,
        created_at: now,
        expires_at: now + LIFETIME,
    };
    state.store.create_session(&session).await?;
    Ok(set_cookie(
        &state.base_url,
        COOKIE,
        &secret,
        Some(LIFETIME.num_seconds()),
    ))
}

/// Ends the request's session, if it has one.
pub async fn end(state: &AppState, headers: &HeaderMap) -> anyhow::Result<()> {
    match cookie(headers, COOKIE).filter(|s| secret::is_secret(s)) {
        Some(secret) => state.store.end_session(&secret::digest(secret)).await,
        None => Ok(()),
    }
}

/// The request's live session, if it has one; looked up once per request.
pub async fn current(parts: &mut Parts, state: &AppState) -> anyhow::Result<Option<Session>> {
    if let Some(Found(found)) = parts.extensions.get::<Found>() {
        return Ok(found.clone());
    }
    let found = lookup(state, &parts.headers, Utc::now()).await?;
    parts.extensions.insert(Found(found.clone()));
    Ok(found)
}

async fn lookup(
    state: &AppState,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Session>> {
    let Some(secret) = cookie(headers, COOKIE) else {
        return Ok(None);
    };
    if !secret::is_secret(secret) {
        debug!("malformed session cookie ignored");
        return Ok(None);
    }
    let id = secret::digest(secret);
    let Some(record) = state.store.session(&id).await? else {
        debug!("unknown session cookie ignored");
        return Ok(None);
    };

    // Past its end, or unused too long: the session is over.
    if now >= record.expires_at || now - record.last_seen_at >= IDLE {
        debug!(username = %record.user.username, "session expired");
        state.store.end_session(&id).await?;
        return Ok(None);
    }
    if now - record.last_seen_at >= TOUCH_EVERY {
        state.store.touch_session(&id, now).await?;
    }
    Ok(Some(Session {
        id,
        csrf: record.csrf,
        user: record.user,
    }))
}

/// Checks every POST to a signed-in page: the form's `csrf` field must be
/// the session's token. A request without a live session goes on to its
/// handler, which sends it to sign in.
pub async fn guard_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_safe(request.method()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let session = match current(&mut parts, &state).await {
        Ok(Some(session)) => session,
        Ok(None) => return next.run(Request::from_parts(parts, body)).await,
        Err(e) => return PageError::from(e).into_response(),
    };
    checked_form(state, parts, body, &session.csrf, next).await
}

/// Checks every POST to the sign-in and setup forms: the form's `csrf`
/// field must be the value of the `callpop_csrf` cookie the form came with.
pub async fn guard_sign_in(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_safe(request.method()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let expected = cookie(&parts.headers, FORM_COOKIE)
        .filter(|t| secret::is_secret(t))
        .map(str::to_owned);
    match expected {
        Some(expected) => checked_form(state, parts, body, &expected, next).await,
        None => refuse(&parts, "no sign-in form cookie"),
    }
}

/// Reads the form, compares its `csrf` field with `expected` and the
/// request's origin with base_url, then hands the request on, body intact.
async fn checked_form(
    state: AppState,
    parts: Parts,
    body: Body,
    expected: &str,
    next: Next,
) -> Response {
    if let Err(reason) = same_origin(&parts.headers, &state.base_url) {
        return refuse(&parts, &reason);
    }
    let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return PageError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Form too large",
                "The form sent more than callpop reads.",
            )
            .into_response()
        }
    };
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let given = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    match given {
        Some(given) if secret::constant_time_eq(given.as_bytes(), expected.as_bytes()) => {}
        Some(_) => return refuse(&parts, "wrong csrf token"),
        None => return refuse(&parts, "no csrf token"),
    }

    // A form that creates something is taken once.
    let once = fields
        .iter()
        .find(|(k, _)| k == "once")
        .map(|(_, v)| v.as_str());
    if let Some(once) = once.filter(|v| !v.is_empty()) {
        match state
            .store
            .use_form(&secret::digest(once), Utc::now())
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                warn!(path = %parts.uri.path(), "form refused: sent before");
                return PageError::new(
                    StatusCode::CONFLICT,
                    "Form already sent",
                    "This form was sent before and was acted on then; nothing was done \
                     again. Go back to the page and reload it to see what it holds now.",
                )
                .into_response();
            }
            Err(e) => return PageError::from(e).into_response(),
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// For scripts in a signed-in page calling the API: `X-CSRF-Token` must be
/// the session's token on anything but GET, and the origin base_url's.
pub fn check_api_csrf(parts: &Parts, session: &Session, base_url: &str) -> Result<(), String> {
    if is_safe(&parts.method) {
        return Ok(());
    }
    same_origin(&parts.headers, base_url)?;
    let given = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok());
    match given {
        Some(given) if secret::constant_time_eq(given.as_bytes(), session.csrf.as_bytes()) => {
            Ok(())
        }
        Some(_) => Err("wrong X-CSRF-Token".into()),
        None => Err("no X-CSRF-Token".into()),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn refuse(parts: &Parts, reason: &str) -> Response {
    warn!(path = %parts.uri.path(), reason, "form refused: csrf check failed");
    PageError::new(
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form was out of date, or it did not come from callpop's own pages, so nothing \
         was changed. Go back, reload the page and try again.",
    )
    .into_response()
}

/// When the browser says where a request came from (Origin, else Referer),
/// it must be base_url's scheme, host and port.
pub fn same_origin(headers: &HeaderMap, base_url: &str) -> Result<(), String> {
    let ours = origin_of(base_url).unwrap_or(base_url);
    let theirs = match (headers.get(header::ORIGIN), headers.get(header::REFERER)) {
        (Some(origin), _) => origin.to_str().unwrap_or("?"),
        (None, Some(referer)) => referer.to_str().ok().and_then(origin_of).unwrap_or("?"),
        (None, None) => return Ok(()),
    };
    match theirs.eq_ignore_ascii_case(ours) {
        true => Ok(()),
        false => Err(format!(
            "request from {theirs}, but server.base_url is {ours}"
        )),
    }
}

/// `scheme://host[:port]` of a URL: everything before its path.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..scheme.len() + 3 + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn cookies_are_read_by_name() {
        let h = headers(&[
            ("cookie", "a=1; callpop_session=abc ; b=2"),
            ("cookie", "c=3"),
        ]);
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), Some("3"));
        assert_eq!(cookie(&h, "callpop"), None);
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_over_https() {
        let plain = set_cookie("http://127.0.0.1:8080", COOKIE, "abc", Some(60));
        assert_eq!(
            plain,
            "callpop_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        let secure = set_cookie("https://crm.example.com", FORM_COOKIE, "x", None);
        assert_eq!(
            secure,
            "callpop_csrf=x; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
    }

    #[test]
    fn origins_must_be_base_urls() {
        let base = "https://crm.example.com/";
        assert!(
            same_origin(&headers(&[]), base).is_ok(),
            "nothing said: the token decides"
        );
        let ok = headers(&[("origin", "https://crm.example.com")]);
        assert!(same_origin(&ok, base).is_ok());
        let referer = headers(&[("referer", "https://crm.example.com/admin/users?x=1")]);
        assert!(same_origin(&referer, base).is_ok());
        for (name, value) in [
            ("origin", "https://evil.example"),
            ("origin", "http://crm.example.com"),
            ("origin", "https://crm.example.com:8443"),
            ("origin", "null"),
            ("referer", "https://crm.example.com.evil.example/x"),
        ] {
            let err = same_origin(&headers(&[(name, value)]), base).unwrap_err();
            assert!(err.contains("https://crm.example.com"), "{value}: {err}");
        }
    }

    #[test]
    fn an_origin_is_what_comes_before_the_path() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            origin_of("https://h.example/a/b?c"),
            Some("https://h.example")
        );
        assert_eq!(origin_of("https://h.example?c"), Some("https://h.example"));
        assert_eq!(origin_of("nonsense"), None);
    }
}
