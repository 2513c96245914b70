//! New customers, and calls from numbers nobody had: `/customers/new`
//! (with `?call=` the caller's number and name are filled in, and the call
//! is attached on save), and `/calls/{id}/attach`, which puts an unknown
//! caller's call and number on a customer that exists.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::{debug, info};

use super::{edit_failed, email, number, search, text, with_nav, MAX_NAME, MAX_NOTES};
use crate::calls::CallRecord;
use crate::store::customers::{
    Customer, CustomerSummary, EditError, NewContact, NewCustomer, NewNumber,
};
use crate::web::auth::{CurrentUser, PageUser};
use crate::web::error::PageError;
use crate::web::pages::{render, Nav};
use crate::web::{AppState, WebError};

#[derive(Template)]
#[template(path = "customer_new.html")]
struct NewPage {
    nav: Option<Nav>,
    form: NewForm,
    /// Which field the message is about, and the message.
    error: Option<(&'static str, String)>,
    kinds: [&'static str; 5],
}

/// The new-customer form's fields, as typed.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NewForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    contact_email: String,
    /// The call this customer is made from, if any.
    #[serde(default)]
    call: Option<i64>,
    /// A checkbox: present when ticked, to move a call that has a customer.
    replace: Option<String>,
}

#[derive(Deserialize)]
pub struct FromCall {
    call: Option<i64>,
}

/// `GET /customers/new?call=`: the form, filled from the call when given.
pub async fn new_form(
    State(state): State<AppState>,
    user: PageUser,
    Query(from): Query<FromCall>,
) -> Result<Html<String>, PageError> {
    let mut form = NewForm {
        kind: "work".into(),
        ..NewForm::default()
    };
    if let Some(call_id) = from.call {
        let call = visible_call(&state, &user, call_id).await?;
        form.number = caller_number(&state, &call).unwrap_or_default();
        form.contact_name = call.remote_name.clone().unwrap_or_default();
        form.call = Some(call_id);
    }
    page(&user, form, None)
}

fn page(
    user: &CurrentUser,
    form: NewForm,
    error: Option<(&'static str, String)>,
) -> Result<Html<String>, PageError> {
    render(&NewPage {
        nav: Some(user.nav()),
        form,
        error,
        kinds: ["work", "mobile", "home", "fax", "other"],
    })
}

/// `POST /customers`: stores the customer with its number and first
/// contact; made from a call, attaches the call and goes back to it.
pub async fn create(
    State(state): State<AppState>,
    user: PageUser,
    Form(form): Form<NewForm>,
) -> Result<Response, PageError> {
    let customer = match read_new(&state, &form) {
        Ok(customer) => customer,
        Err((field, message)) => {
            debug!(field, %message, "new customer refused");
            let html = page(&user, form, Some((field, message)))?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
        }
    };

    let Some(call_id) = form.call else {
        let id = state
            .store
            .insert_customer(&customer)
            .await
            .map_err(|e| with_nav(e.into(), &user))?;
        info!(customer_id = id, username = %user.username, "customer added");
        return Ok(Redirect::to(&format!("/customers/{id}?done=created")).into_response());
    };
    visible_call(&state, &user, call_id).await?;
    let replace = form.replace.is_some();
    let saved = state
        .store
        .insert_customer_for_call(call_id, &customer, replace);
    match saved.await {
        Ok(id) => {
            let username = &user.username;
            info!(customer_id = id, call_id, %username, "customer added from a call");
            Ok(Redirect::to(&format!("/calls/{call_id}")).into_response())
        }
        Err(EditError::Refused(message)) => {
            debug!(call_id, %message, "new customer from a call refused");
            let html = page(&user, form, Some(("replace", message)))?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(e) => Err(edit_failed(e, &user)),
    }
}

/// The customer the form describes: the number goes to the contact when
/// there is one, else to the customer.
fn read_new(state: &AppState, form: &NewForm) -> Result<NewCustomer, (&'static str, String)> {
    let name = text(&form.name, "Name", MAX_NAME, true).map_err(|e| ("name", e))?;
    let notes = text(&form.notes, "Notes", MAX_NOTES, false).map_err(|e| ("notes", e))?;
    let normalizer = state.lookup.normalizer();
    let number = number(normalizer, &form.number, &form.kind).map_err(|e| ("number", e))?;
    let contact_name = text(&form.contact_name, "Contact name", MAX_NAME, false)
        .map_err(|e| ("contact_name", e))?;
    let contact_email = email(&form.contact_email).map_err(|e| ("contact_email", e))?;
    if contact_name.is_empty() && !contact_email.is_empty() {
        return Err((
            "contact_name",
            "Contact name is needed with an email.".into(),
        ));
    }

    let mut customer = NewCustomer {
        name,
        notes,
        ..NewCustomer::default()
    };
    match contact_name.is_empty() {
        true => customer.numbers.extend(number),
        false => customer.contacts.push(NewContact {
            name: contact_name,
            email: contact_email,
            numbers: number.into_iter().collect(),
        }),
    }
    Ok(customer)
}

/// The call `id` if this user may see it; else the page that says why not.
async fn visible_call(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<CallRecord, PageError> {
    let call = state
        .store
        .call(id)
        .await
        .map_err(|e| with_nav(e.into(), user))?;
    let call = call.ok_or_else(|| with_nav(WebError::NotFound, user))?;
    if !user.may_see(&call) {
        let refused =
            WebError::Forbidden("This call did not ring at any of your extensions.".into());
        return Err(with_nav(refused, user));
    }
    Ok(call)
}

/// The caller's number as a rep would type it, unless withheld or absent.
fn caller_number(state: &AppState, call: &CallRecord) -> Option<String> {
    if call.withheld {
        return None;
    }
    let normalizer = state.lookup.normalizer();
    let number = call.remote_e164.as_ref().or(call.remote_raw.as_ref())?;
    Some(normalizer.for_people(&normalizer.normalize(number)))
}

#[derive(Template)]
#[template(path = "attach.html")]
struct AttachPage {
    nav: Option<Nav>,
    call_id: i64,
    number: String,
    caller_name: String,
    /// The customer the call belongs to now, if any.
    current: Option<String>,
    q: String,
    /// `q` for a link's query.
    q_url: String,
    found: Vec<CustomerSummary>,
    searched: bool,
    chosen: Option<Customer>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct AttachQuery {
    #[serde(default)]
    q: String,
    customer: Option<i64>,
}

/// `GET /calls/{id}/attach?q=&customer=`: search a customer, then choose
/// it and maybe a contact.
pub async fn attach_form(
    State(state): State<AppState>,
    user: PageUser,
    Path(call_id): Path<i64>,
    Query(query): Query<AttachQuery>,
) -> Result<Html<String>, PageError> {
    let call = visible_call(&state, &user, call_id).await?;
    let mut page = attach_page(&state, &user, &call, &query.q).await?;
    if let Some(customer) = query.customer {
        page.chosen = state
            .store
            .customer(customer)
            .await?
            .filter(|c| c.merged_into.is_none());
    }
    render(&page)
}

async fn attach_page(
    state: &AppState,
    user: &CurrentUser,
    call: &CallRecord,
    q: &str,
) -> Result<AttachPage, PageError> {
    let searched = !q.trim().is_empty();
    let found = match searched {
        true => {
            search(state, q, 1)
                .await
                .map_err(|e| with_nav(e, user))?
                .customers
        }
        false => Vec::new(),
    };
    let assigned = call.matches.iter().find(|m| m.reason == "assigned");
    let current = assigned.map(|m| m.customer_name.clone());
    Ok(AttachPage {
        nav: Some(user.nav()),
        call_id: call.id,
        number: caller_number(state, call).unwrap_or_else(|| "no number".into()),
        caller_name: call.remote_name.clone().unwrap_or_default(),
        current,
        q: q.trim().to_owned(),
        q_url: crate::web::login::encode(q.trim()),
        found,
        searched,
        chosen: None,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct AttachForm {
    #[serde(default)]
    customer: Option<i64>,
    /// Empty for the customer itself.
    #[serde(default)]
    contact: String,
    /// A checkbox: present when ticked.
    replace: Option<String>,
}

/// `POST /calls/{id}/attach`: the call goes to the chosen customer (and
/// contact), and the caller's number onto them.
pub async fn attach_save(
    State(state): State<AppState>,
    user: PageUser,
    Path(call_id): Path<i64>,
    Form(form): Form<AttachForm>,
) -> Result<Response, PageError> {
    let call = visible_call(&state, &user, call_id).await?;
    let Some(customer_id) = form.customer else {
        debug!(call_id, "attach refused: no customer chosen");
        return Err(with_nav(
            WebError::BadRequest("Choose a customer first.".into()),
            &user,
        ));
    };
    let contact = match form.contact.trim() {
        "" => None,
        text => Some(text.parse::<i64>().map_err(|_| {
            with_nav(
                WebError::BadRequest("Pick a contact from the list.".into()),
                &user,
            )
        })?),
    };

    let number = caller_number(&state, &call).and_then(|_| call_new_number(&state, &call));
    let attached = state
        .store
        .attach_call(
            call_id,
            customer_id,
            contact,
            number.as_ref(),
            form.replace.is_some(),
        )
        .await;
    match attached {
        Ok(()) => {
            info!(call_id, customer_id, username = %user.username, "call attached");
            Ok(Redirect::to(&format!("/calls/{call_id}")).into_response())
        }
        Err(EditError::Refused(message)) => {
            debug!(call_id, customer_id, %message, "attach refused");
            let mut page = attach_page(&state, &user, &call, "").await?;
            page.chosen = state.store.customer(customer_id).await?;
            page.error = Some(message);
            let html = render(&page)?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(e) => Err(edit_failed(e, &user)),
    }
}

/// The caller's number as stored with a customer: its E.164 when the
/// daemon read one, else as received.
fn call_new_number(state: &AppState, call: &CallRecord) -> Option<NewNumber> {
    let raw = call.remote_e164.as_ref().or(call.remote_raw.as_ref())?;
    let number = state.lookup.normalizer().normalize(raw);
    Some(NewNumber {
        number,
        kind: Default::default(),
    })
}
