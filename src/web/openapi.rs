//! The OpenAPI 3 description of `/api/v1`, built from the handlers' own
//! annotations and served at `GET /api/v1/openapi.json`.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{api, calendar, calls, customers, dial, opportunities, topics};

/// How a request failed.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in a sentence.
    pub error: String,
}

/// An edit refused because what it changes moved on since it was read.
#[derive(Serialize, ToSchema)]
pub struct StaleBody {
    pub error: String,
    /// The version now; read again and retry with it.
    pub version: i64,
}

/// The description of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "callpop",
        version = env!("CARGO_PKG_VERSION"),
        description = "Calls, pops, customers, contacts, topics, conversations, callbacks \
                       and opportunities. Every route wants `Authorization: Bearer TOKEN`: \
                       a user's API token (with that user's role) or the bootstrap token; \
                       a role too low gets 403. Errors are `{\"error\": \"...\"}`, except a \
                       body or query that is not of the documented shape, which gets 400, \
                       415 or 422 with a plain-text message."
    ),
    paths(
        api::me,
        api::pops,
        api::calls,
        api::call,
        api::lookup,
        dial::dial,
        dial::status,
        dial::links,
        calls::api_log,
        calls::api_call_conversations,
        topics::api_list,
        topics::api_create,
        topics::api_one,
        topics::api_resolve,
        topics::api_reopen,
        calendar::api_list,
        calendar::api_create,
        calendar::api_one,
        calendar::api_done,
        calendar::api_cancel,
        customers::api::list,
        customers::api::create,
        customers::api::one,
        customers::api::update,
        customers::api::add_contact,
        customers::api::add_number,
        customers::api::update_contact,
        customers::api::remove_contact,
        customers::api::remove_number,
        customers::api::merge,
        customers::api::attach,
        opportunities::api::list,
        opportunities::api::one,
        opportunities::api::update,
        opportunities::api::create,
    ),
    components(schemas(ErrorBody, StaleBody)),
    modifiers(&Bearer),
    security(("bearer" = [])),
    tags(
        (name = "me", description = "Who a token stands for"),
        (name = "pops", description = "Screen pops as server-sent events"),
        (name = "calls", description = "Recorded calls and the number lookup"),
        (name = "dial", description = "Click-to-dial and the PBX links"),
        (name = "conversations", description = "What was discussed on a call"),
        (name = "topics", description = "A customer's topics and their threads"),
        (name = "callbacks", description = "Scheduled callbacks"),
        (name = "customers", description = "Customers, contacts and numbers"),
        (name = "opportunities", description = "The sales channel"),
    )
)]
pub struct ApiDoc;

/// Adds the `bearer` scheme every path names.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("A user's API token, or the bootstrap `api.token`"))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document as JSON, built once.
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serializes")
    })
}

/// `GET /api/v1/openapi.json`: open to anyone; it holds no data.
pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_the_bearer_scheme_and_is_json() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        assert_eq!(doc["info"]["title"], "callpop");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let scheme = &doc["components"]["securitySchemes"]["bearer"];
        assert_eq!(scheme["type"], "http");
        assert_eq!(scheme["scheme"], "bearer");
    }

    #[test]
    fn every_operation_asks_for_the_token_and_says_how_it_fails() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let what = format!("{method} {path}");
                assert_eq!(op["security"][0]["bearer"], serde_json::json!([]), "{what}");
                assert!(op["responses"]["401"].is_object(), "{what}: no 401");
                assert!(op["tags"][0].is_string(), "{what}: no tag");
            }
        }
    }

    #[test]
    fn operation_ids_are_unique_for_generated_clients() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let mut ids = Vec::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                ids.push(
                    op["operationId"]
                        .as_str()
                        .expect("an operationId")
                        .to_owned(),
                );
            }
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "{ids:?}");
    }

    #[test]
    fn schemas_carry_their_doc_comments() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let stale = &doc["components"]["schemas"]["StaleBody"];
        assert!(stale["properties"]["version"]["description"]
            .as_str()
            .unwrap()
            .contains("read again"));
    }
}
