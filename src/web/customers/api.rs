//! Customers as JSON under `/api/v1`: list and search, read one with its
//! topics, calls and opportunities, create, edit (naming the version read),
//! add contacts and numbers, merge (managers and admins), and attach a
//! call. Values are checked as the pages check them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};
use utoipa::{IntoParams, ToSchema};

use super::{email, number, search, text, MAX_NAME, MAX_NOTES};
use crate::store::customers::{
    Customer, CustomerCall, CustomerSummary, CustomerTopic, EditError, MergeCounts, NewContact,
    NewCustomer, NewNumber,
};
use crate::store::opportunities::Opportunity;
use crate::web::auth::{ApiUser, Managers};
use crate::web::openapi::{ErrorBody, StaleBody};
use crate::web::{AppState, WebError};

/// Query of `GET /api/v1/customers`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Name, contact name, email, or a phone number in any format.
    #[serde(default)]
    pub q: String,
    /// From 1; 50 customers a page.
    pub page: Option<u32>,
}

/// One page of customers.
#[derive(Serialize, ToSchema)]
pub struct CustomerList {
    pub customers: Vec<CustomerSummary>,
    /// Set when `q` was read as a phone number.
    pub by_number: bool,
    /// Whether another page follows.
    pub more: bool,
}

/// A customer with what its page shows: the customer's own fields (with
/// its contacts and numbers, and its `version`), and these.
#[derive(Serialize, ToSchema)]
pub struct CustomerDetail {
    #[serde(flatten)]
    pub customer: Customer,
    /// Open topics first.
    pub topics: Vec<CustomerTopic>,
    /// Newest first, at most 100.
    pub calls: Vec<CustomerCall>,
    pub opportunities: Vec<Opportunity>,
}

/// A phone number to store.
#[derive(Deserialize, ToSchema)]
pub struct NumberInput {
    /// In any format; read in the home region unless it has a country code.
    pub number: String,
    /// work (the default), mobile, home, fax or other.
    #[serde(default)]
    pub kind: String,
}

/// A contact person to store.
#[derive(Deserialize, ToSchema)]
pub struct ContactInput {
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub numbers: Vec<NumberInput>,
}

/// Body of `POST /api/v1/customers`.
#[derive(Deserialize, ToSchema)]
pub struct CustomerInput {
    pub name: String,
    #[serde(default)]
    pub notes: String,
    /// The customer's own numbers (a switchboard).
    #[serde(default)]
    pub numbers: Vec<NumberInput>,
    #[serde(default)]
    pub contacts: Vec<ContactInput>,
}

/// Body of `PATCH /api/v1/customers/{id}`: what to change, and the
/// version it was read at.
#[derive(Deserialize, ToSchema)]
pub struct CustomerPatch {
    pub name: Option<String>,
    pub notes: Option<String>,
    pub version: i64,
}

/// Body of `POST /api/v1/customers/{id}/contacts/{contact}`: the contact's
/// name and email, and the version it was read at.
#[derive(Deserialize, ToSchema)]
pub struct ContactPatch {
    pub name: String,
    #[serde(default)]
    pub email: String,
    pub version: i64,
}

/// Body of `POST /api/v1/customers/{id}/numbers`.
#[derive(Deserialize, ToSchema)]
pub struct NewNumberInput {
    pub number: String,
    #[serde(default)]
    pub kind: String,
    /// The contact the number is theirs, if not the customer's own.
    pub contact_id: Option<i64>,
}

/// Body of `POST /api/v1/customers/{id}/merge`.
#[derive(Deserialize, ToSchema)]
pub struct MergeInput {
    /// The customer merged into this one.
    pub duplicate: i64,
}

/// Body of `POST /api/v1/calls/{id}/attach`.
#[derive(Deserialize, ToSchema)]
pub struct AttachInput {
    pub customer_id: i64,
    pub contact_id: Option<i64>,
    /// Move a call that already belongs to another customer.
    #[serde(default)]
    pub replace: bool,
}

/// The id of what was made.
#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// The version an edit made.
#[derive(Serialize, ToSchema)]
pub struct Saved {
    pub version: i64,
}

/// `GET /api/v1/customers?q=&page=`.
#[utoipa::path(
    get, path = "/api/v1/customers", tag = "customers",
    operation_id = "list_customers",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of customers, 50 a page", body = CustomerList),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    _user: ApiUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<CustomerList>, WebError> {
    let found = search(&state, &query.q, query.page.unwrap_or(1).max(1)).await?;
    Ok(Json(CustomerList {
        customers: found.customers,
        by_number: found.by_number,
        more: found.more,
    }))
}

/// `GET /api/v1/customers/{id}`.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}", tag = "customers",
    operation_id = "get_customer",
    params(("id" = i64, Path, description = "The customer")),
    responses(
        (status = 200, description = "The customer with its topics, calls and opportunities",
         body = CustomerDetail),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn one(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<CustomerDetail>, WebError> {
    let customer = state.store.customer(id).await?.ok_or(WebError::NotFound)?;
    Ok(Json(CustomerDetail {
        topics: state.store.customer_topics(id).await?,
        calls: state.store.customer_calls(id, 100).await?,
        opportunities: state.store.customer_opportunities(id).await?,
        customer,
    }))
}

/// `POST /api/v1/customers`.
#[utoipa::path(
    post, path = "/api/v1/customers", tag = "customers",
    operation_id = "create_customer",
    request_body = CustomerInput,
    responses(
        (status = 201, description = "Added", body = Created),
        (status = 400, description = "A value refused: the message says which",
         body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    Json(input): Json<CustomerInput>,
) -> Result<(StatusCode, Json<Created>), WebError> {
    let customer = read_customer(&state, &input).map_err(refused)?;
    let id = state.store.insert_customer(&customer).await?;
    info!(customer_id = id, username = %user.username, "customer added");
    Ok((StatusCode::CREATED, Json(Created { id })))
}

fn read_customer(state: &AppState, input: &CustomerInput) -> Result<NewCustomer, String> {
    let mut contacts = Vec::new();
    for contact in &input.contacts {
        contacts.push(read_contact(state, contact)?);
    }
    Ok(NewCustomer {
        name: text(&input.name, "Name", MAX_NAME, true)?,
        notes: text(&input.notes, "Notes", MAX_NOTES, false)?,
        numbers: read_numbers(state, &input.numbers)?,
        contacts,
    })
}

fn read_contact(state: &AppState, input: &ContactInput) -> Result<NewContact, String> {
    Ok(NewContact {
        name: text(&input.name, "Contact name", MAX_NAME, true)?,
        email: email(&input.email)?,
        numbers: read_numbers(state, &input.numbers)?,
    })
}

fn read_numbers(state: &AppState, input: &[NumberInput]) -> Result<Vec<NewNumber>, String> {
    let normalizer = state.lookup.normalizer();
    let mut numbers = Vec::new();
    for n in input {
        let read = number(normalizer, &n.number, &n.kind)?;
        numbers.push(read.ok_or("Number is needed.")?);
    }
    Ok(numbers)
}

/// `PATCH /api/v1/customers/{id}`.
#[utoipa::path(
    patch, path = "/api/v1/customers/{id}", tag = "customers",
    operation_id = "update_customer",
    params(("id" = i64, Path, description = "The customer")),
    request_body = CustomerPatch,
    responses(
        (status = 200, description = "Saved", body = Saved),
        (status = 400, description = "A value refused", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "Changed by someone else since it was read",
         body = StaleBody),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    Json(patch): Json<CustomerPatch>,
) -> Result<Json<Saved>, Response> {
    let current = state.store.customer(id).await.map_err(web)?;
    let current = current
        .ok_or(WebError::NotFound)
        .map_err(IntoResponse::into_response)?;
    let name = patch.name.as_deref().unwrap_or(&current.name);
    let notes = patch.notes.as_deref().unwrap_or(&current.notes);
    let name = text(name, "Name", MAX_NAME, true).map_err(|e| refused(e).into_response())?;
    let notes = text(notes, "Notes", MAX_NOTES, false).map_err(|e| refused(e).into_response())?;

    let version = state
        .store
        .update_customer(id, patch.version, &name, &notes)
        .await
        .map_err(edit_error)?;
    info!(customer_id = id, version, username = %user.username, "customer edited");
    Ok(Json(Saved { version }))
}

/// `POST /api/v1/customers/{id}/contacts`.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/contacts", tag = "customers",
    operation_id = "add_contact",
    params(("id" = i64, Path, description = "The customer")),
    request_body = ContactInput,
    responses(
        (status = 201, description = "The contact added", body = Created),
        (status = 400, description = "A value refused", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn add_contact(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<ContactInput>,
) -> Result<(StatusCode, Json<Created>), Response> {
    let contact = read_contact(&state, &input).map_err(|e| refused(e).into_response())?;
    let contact_id = state
        .store
        .add_contact(id, &contact)
        .await
        .map_err(edit_error)?;
    info!(customer_id = id, contact_id, username = %user.username, "contact added");
    Ok((StatusCode::CREATED, Json(Created { id: contact_id })))
}

/// `POST /api/v1/customers/{id}/contacts/{contact}`.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/contacts/{contact}", tag = "customers",
    operation_id = "update_contact",
    params(
        ("id" = i64, Path, description = "The customer"),
        ("contact" = i64, Path, description = "The contact"),
    ),
    request_body = ContactPatch,
    responses(
        (status = 200, description = "Saved", body = Saved),
        (status = 400, description = "A value refused", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such contact of that customer", body = ErrorBody),
        (status = 409, description = "Changed by someone else since it was read",
         body = StaleBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_contact(
    State(state): State<AppState>,
    user: ApiUser,
    Path((id, contact_id)): Path<(i64, i64)>,
    Json(patch): Json<ContactPatch>,
) -> Result<Json<Saved>, Response> {
    let refuse = |e: String| refused(e).into_response();
    let name = text(&patch.name, "Name", MAX_NAME, true).map_err(refuse)?;
    let email = email(&patch.email).map_err(refuse)?;
    let version = state
        .store
        .update_contact(id, contact_id, patch.version, &name, &email)
        .await
        .map_err(edit_error)?;
    info!(customer_id = id, contact_id, version, username = %user.username, "contact edited");
    Ok(Json(Saved { version }))
}

/// `POST /api/v1/customers/{id}/contacts/{contact}/remove`: the contact
/// and their numbers.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/contacts/{contact}/remove", tag = "customers",
    operation_id = "remove_contact",
    params(
        ("id" = i64, Path, description = "The customer"),
        ("contact" = i64, Path, description = "The contact"),
    ),
    responses(
        (status = 204, description = "Removed, with their numbers"),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such contact of that customer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn remove_contact(
    State(state): State<AppState>,
    user: ApiUser,
    Path((id, contact_id)): Path<(i64, i64)>,
) -> Result<StatusCode, Response> {
    state
        .store
        .remove_contact(id, contact_id)
        .await
        .map_err(edit_error)?;
    info!(customer_id = id, contact_id, username = %user.username, "contact removed");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/customers/{id}/numbers/{number}/remove`.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/numbers/{number}/remove", tag = "customers",
    operation_id = "remove_number",
    params(
        ("id" = i64, Path, description = "The customer"),
        ("number" = i64, Path, description = "The number's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such number of that customer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn remove_number(
    State(state): State<AppState>,
    user: ApiUser,
    Path((id, number_id)): Path<(i64, i64)>,
) -> Result<StatusCode, Response> {
    state
        .store
        .remove_number(id, number_id)
        .await
        .map_err(edit_error)?;
    info!(customer_id = id, number_id, username = %user.username, "number removed");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/customers/{id}/numbers`.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/numbers", tag = "customers",
    operation_id = "add_number",
    params(("id" = i64, Path, description = "The customer")),
    request_body = NewNumberInput,
    responses(
        (status = 201, description = "The number added", body = Created),
        (status = 400, description = "Not a number, or a contact not the customer's",
         body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn add_number(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<NewNumberInput>,
) -> Result<(StatusCode, Json<Created>), Response> {
    let read = number(state.lookup.normalizer(), &input.number, &input.kind)
        .and_then(|n| n.ok_or_else(|| "Number is needed.".to_owned()))
        .map_err(|e| refused(e).into_response())?;
    let number_id = state
        .store
        .add_number(id, input.contact_id, &read)
        .await
        .map_err(edit_error)?;
    info!(customer_id = id, number_id, username = %user.username, "number added");
    Ok((StatusCode::CREATED, Json(Created { id: number_id })))
}

/// `POST /api/v1/customers/{id}/merge`: managers and admins.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/merge", tag = "customers",
    operation_id = "merge_customers",
    params(("id" = i64, Path, description = "The customer kept")),
    request_body = MergeInput,
    responses(
        (status = 200, description = "How much moved to the customer kept", body = MergeCounts),
        (status = 400, description = "Merging a customer into itself, or one already \
                                      merged", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "For managers and admins", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn merge(
    State(state): State<AppState>,
    user: ApiUser<Managers>,
    Path(id): Path<i64>,
    Json(input): Json<MergeInput>,
) -> Result<Json<MergeCounts>, Response> {
    let moved = state
        .store
        .merge_customers(id, input.duplicate)
        .await
        .map_err(edit_error)?;
    info!(kept = id, merged = input.duplicate, username = %user.username, "customers merged");
    Ok(Json(moved))
}

/// `POST /api/v1/calls/{id}/attach`: the call, and the caller's number,
/// go to a customer.
#[utoipa::path(
    post, path = "/api/v1/calls/{id}/attach", tag = "customers",
    operation_id = "attach_call",
    params(("id" = i64, Path, description = "The call")),
    request_body = AttachInput,
    responses(
        (status = 204, description = "Attached"),
        (status = 400, description = "The call belongs to another customer (send \
                                      `replace` to move it), or a contact not the customer's",
         body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A call that never reached the rep", body = ErrorBody),
        (status = 404, description = "No such call or customer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn attach(
    State(state): State<AppState>,
    user: ApiUser,
    Path(call_id): Path<i64>,
    Json(input): Json<AttachInput>,
) -> Result<StatusCode, Response> {
    let call = state.store.call(call_id).await.map_err(web)?;
    let call = call
        .ok_or(WebError::NotFound)
        .map_err(IntoResponse::into_response)?;
    if !user.may_see(&call) {
        let refused =
            WebError::Forbidden("this call did not ring at any of your extensions".into());
        return Err(refused.into_response());
    }
    let raw = call
        .remote_e164
        .as_ref()
        .or(call.remote_raw.as_ref())
        .filter(|_| !call.withheld);
    let number = raw.map(|raw| NewNumber {
        number: state.lookup.normalizer().normalize(raw),
        kind: Default::default(),
    });
    state
        .store
        .attach_call(
            call_id,
            input.customer_id,
            input.contact_id,
            number.as_ref(),
            input.replace,
        )
        .await
        .map_err(edit_error)?;
    info!(call_id, customer_id = input.customer_id, username = %user.username, "call attached");
    Ok(StatusCode::NO_CONTENT)
}

/// A value the API refuses, logged as the ordinary mistake it is.
pub fn refused(message: String) -> WebError {
    debug!(%message, "api input refused");
    WebError::BadRequest(message)
}

fn web(e: anyhow::Error) -> Response {
    WebError::Internal(e).into_response()
}

/// A store's refusal as the API answers it: a stale version is 409.
pub fn edit_error(e: EditError) -> Response {
    match e {
        EditError::NotFound => WebError::NotFound.into_response(),
        EditError::Stale(current) => {
            warn!(current, "api edit refused: stale version");
            let body = serde_json::json!({
                "error": "changed by someone else since it was read",
                "version": current,
            });
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        EditError::Refused(message) => refused(message).into_response(),
        EditError::Db(e) => web(e),
    }
}
