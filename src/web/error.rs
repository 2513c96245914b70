//! How handlers fail: each error becomes a status and a short message; the
//! details of an internal failure go to the log, not to the client. The
//! API answers JSON ([`WebError`]); pages answer a page ([`PageError`]).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use tracing::error;

use super::pages::Nav;
use crate::auth::Role;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    /// Signed in, but not allowed this.
    #[error("{0}")]
    Forbidden(String),
    /// Something the request needs is not running now.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(e) => {
                error!(error = %format!("{e:#}"), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = axum::Json(serde_json::json!({ "error": self.to_string() }));
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert("www-authenticate", "Bearer".parse().unwrap());
        }
        response
    }
}

/// A page saying what went wrong, with the status that goes with it.
#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
    pub nav: Option<Nav>,
}

impl PageError {
    pub fn new(status: StatusCode, title: &str, message: &str) -> PageError {
        PageError {
            status,
            title: title.into(),
            message: message.into(),
            nav: None,
        }
    }

    /// The page for a signed-in user whose role is below `needed`.
    pub fn forbidden(needed: Role) -> PageError {
        PageError::new(
            StatusCode::FORBIDDEN,
            "Not for your role",
            &format!(
                "This page is for {}. An admin can change roles.",
                needed.holders()
            ),
        )
    }

    pub fn with_nav(mut self, nav: Nav) -> PageError {
        self.nav = Some(nav);
        self
    }
}

impl From<WebError> for PageError {
    fn from(e: WebError) -> PageError {
        let status = e.status();
        let (title, message) = match &e {
            WebError::NotFound => ("Not found", "There is nothing here.".to_owned()),
            WebError::Internal(_) => (
                "Something went wrong",
                "callpop could not finish this. The log says why.".to_owned(),
            ),
            WebError::Forbidden(m) => ("Not allowed", m.clone()),
            other => ("Cannot do that", other.to_string()),
        };
        PageError::new(status, title, &message)
    }
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> PageError {
        PageError::from(WebError::Internal(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                error!(error = %e, "failed to render an error page");
                (self.status, self.message).into_response()
            }
        }
    }
}
