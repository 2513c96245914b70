//! The few static files the pages use, compiled into the binary so that
//! callpop runs from one file: the browser pop's script.

use axum::http::header;
use axum::response::IntoResponse;

const POP_JS: &str = include_str!("../../static/pop.js");

/// `GET /static/pop.js`: follows the pop stream on every signed-in page.
pub async fn pop_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        POP_JS,
    )
}
