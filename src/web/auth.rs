//! Bearer tokens for `/api/v1`. Until users exist the one token is
//! `api.token` from the config; with none set, the API stays closed.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::{debug, warn};

use super::{AppState, WebError};

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, WebError> {
    let Some(expected) = &state.api_token else {
        warn!("api request refused: no api.token configured");
        return Err(WebError::Unauthorized);
    };
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(token) if constant_time_eq(token.as_bytes(), expected.expose().as_bytes()) => {
            Ok(next.run(request).await)
        }
        Some(_) => {
            warn!(path = %request.uri().path(), "api request with an unknown token");
            Err(WebError::Unauthorized)
        }
        None => {
            debug!(path = %request.uri().path(), "api request without a bearer token");
            Err(WebError::Unauthorized)
        }
    }
}

/// Compares without returning early, so timing does not reveal how much of
/// a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
