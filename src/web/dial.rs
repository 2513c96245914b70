//! Click-to-dial and the links' state: `POST /api/v1/dial` rings the
//! caller's own phone through an AMI link and dials the number once they
//! pick up; `GET /api/v1/dial/{id}` says what became of it. The links'
//! state is for managers and admins.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa::ToSchema;

use super::auth::{ApiUser, CurrentUser, Managers};
use super::openapi::ErrorBody;
use super::{AppState, WebError};
use crate::auth::{check_extension, Role};
use crate::telephony::ami::{self, Dial, DialState};

/// `GET /api/v1/links`: every PBX link and whether it is up.
#[utoipa::path(
    get, path = "/api/v1/links", tag = "dial",
    operation_id = "links",
    responses(
        (status = 200, description = "Each PBX link and its state", body = Vec<ami::Status>),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "For managers and admins", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn links(
    State(state): State<AppState>,
    _user: ApiUser<Managers>,
) -> Json<Vec<ami::Status>> {
    Json(state.links.iter().map(|l| l.status()).collect())
}

/// Body of `POST /api/v1/dial`.
#[derive(Deserialize, ToSchema)]
pub struct DialRequest {
    /// Digits, spaces and + - ( ) . * #.
    number: String,
    /// The extension to ring first; the caller's first unless said.
    extension: Option<String>,
    /// The AMI link to use; needed when there are several.
    link: Option<String>,
}

/// A click-to-dial and how it goes.
#[derive(Serialize, ToSchema)]
pub struct DialView {
    id: String,
    link: String,
    extension: String,
    number: String,
    state: DialState,
    /// What the PBX last said of it; why it failed, when it did.
    reason: Option<String>,
    /// The call record that followed, once there is one.
    call_id: Option<i64>,
}

/// `POST /api/v1/dial {number, extension?, link?}`: rings the caller's
/// first extension, or the one named when it is theirs; admins may name
/// any extension.
#[utoipa::path(
    post, path = "/api/v1/dial", tag = "dial",
    operation_id = "dial",
    request_body = DialRequest,
    responses(
        (status = 202, description = "Ringing the caller's phone", body = DialView),
        (status = 400, description = "Not a number, no extension, or no such link",
         body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "An extension not the caller's", body = ErrorBody),
        (status = 503, description = "No AMI link, or it is down", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn dial(
    State(state): State<AppState>,
    user: ApiUser,
    Json(request): Json<DialRequest>,
) -> Result<(StatusCode, Json<DialView>), WebError> {
    let number = dialable(&request.number)?;
    let extension = dial_from(&user, request.extension.as_deref())?;
    let link = pick_link(&state, request.link.as_deref())?;
    let dial = link
        .originate(&extension, &number)
        .map_err(|e| WebError::Unavailable(e.to_string()))?;
    info!(username = %user.username, %extension, link = %link.name, "click-to-dial");
    Ok((StatusCode::ACCEPTED, Json(view(dial, None))))
}

/// The extension a user's click-to-dial rings.
pub(super) fn dial_from(user: &CurrentUser, named: Option<&str>) -> Result<String, WebError> {
    let named = named.map(str::trim).filter(|x| !x.is_empty());
    let Some(extension) = named else {
        return user.extensions.first().cloned().ok_or_else(|| {
            WebError::BadRequest(
                "no extension to ring: name one with \"extension\", or have an admin give \
                 you one"
                    .into(),
            )
        });
    };
    check_extension(extension).map_err(WebError::BadRequest)?;
    if !user.owns(extension) && !user.is_at_least(Role::Admin) {
        return Err(WebError::Forbidden(format!(
            "extension {extension} is not one of yours"
        )));
    }
    Ok(extension.to_owned())
}

/// `GET /api/v1/dial/{id}`.
#[utoipa::path(
    get, path = "/api/v1/dial/{id}", tag = "dial",
    operation_id = "dial_status",
    params(("id" = String, Path, description = "The dial's id")),
    responses(
        (status = 200, description = "How the dial goes", body = DialView),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such dial of the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn status(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<DialView>, WebError> {
    // Someone else's dial is as good as none.
    let dial = state
        .links
        .iter()
        .find_map(|l| l.dial(&id))
        .filter(|d| user.owns(&d.extension) || user.is_at_least(Role::Admin))
        .ok_or(WebError::NotFound)?;
    let call_id = match &dial.linkedid {
        Some(linkedid) => state.store.call_id_by_pbx(&dial.link, linkedid).await?,
        None => None,
    };
    Ok(Json(view(dial, call_id)))
}

fn view(dial: Dial, call_id: Option<i64>) -> DialView {
    DialView {
        id: dial.id,
        link: dial.link,
        extension: dial.extension,
        number: dial.number,
        state: dial.state,
        reason: dial.reason,
        call_id,
    }
}

/// The number as the PBX should dial it: digits, `+`, `*` and `#`, with
/// the spaces, dashes, dots and brackets people write removed. Anything
/// else is refused, so nothing but a number reaches the dialplan.
pub(super) fn dialable(number: &str) -> Result<String, WebError> {
    let refuse =
        || WebError::BadRequest("number may hold only digits, spaces and + - ( ) . * #".into());
    let mut out = String::new();
    for c in number.trim().chars() {
        match c {
            '0'..='9' | '*' | '#' => out.push(c),
            '+' if out.is_empty() => out.push(c),
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => return Err(refuse()),
        }
    }
    if !out.bytes().any(|b| b.is_ascii_digit()) || out.len() > 32 {
        return Err(refuse());
    }
    Ok(out)
}

pub(super) fn pick_link(
    state: &AppState,
    name: Option<&str>,
) -> Result<Arc<ami::Handle>, WebError> {
    let found = match name {
        Some(name) => state.links.iter().find(|l| l.name == name),
        None if state.links.len() == 1 => state.links.first(),
        None if state.links.is_empty() => {
            return Err(WebError::Unavailable(
                "click-to-dial needs an AMI link in [[links]]".into(),
            ))
        }
        None => {
            return Err(WebError::BadRequest(
                "several links: say which one with \"link\"".into(),
            ))
        }
    };
    found
        .cloned()
        .ok_or_else(|| WebError::BadRequest("no such link".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_cleaned_or_refused() {
        assert_eq!(dialable("+1 (555) 019-902").unwrap(), "+1555019902");
        assert_eq!(dialable(" 0044.20.7946.0958 ").unwrap(), "00442079460958");
        assert_eq!(dialable("*72#").unwrap(), "*72#");
        for bad in [
            "",
            "abc",
            "+",
            "555\r\nAction: Logoff",
            "5+5",
            "555;1",
            "1".repeat(40).as_str(),
        ] {
            assert!(dialable(bad).is_err(), "{bad:?}");
        }
    }

    fn user(role: Role, extensions: &[&str]) -> CurrentUser {
        CurrentUser {
            id: Some(1),
            username: "alice".into(),
            name: "Alice".into(),
            role,
            extensions: extensions.iter().map(|x| x.to_string()).collect(),
            session: None,
        }
    }

    #[test]
    fn dial_rings_the_callers_own_extension() {
        let rep = user(Role::Rep, &["201", "202"]);
        assert_eq!(dial_from(&rep, None).unwrap(), "201", "the first");
        assert_eq!(dial_from(&rep, Some(" 202 ")).unwrap(), "202");
        assert!(matches!(
            dial_from(&rep, Some("203")),
            Err(WebError::Forbidden(_))
        ));
        assert!(matches!(
            dial_from(&rep, Some("2 3")),
            Err(WebError::BadRequest(_))
        ));
        let manager = user(Role::Manager, &["301"]);
        assert!(matches!(
            dial_from(&manager, Some("201")),
            Err(WebError::Forbidden(_))
        ));
        let admin = user(Role::Admin, &[]);
        assert_eq!(
            dial_from(&admin, Some("201")).unwrap(),
            "201",
            "admins name any"
        );
        assert!(matches!(
            dial_from(&admin, None),
            Err(WebError::BadRequest(_))
        ));
    }
}
