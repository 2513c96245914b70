//! A customer's contacts and numbers, from the forms of the customer page:
//! add a contact (with a number), edit or remove one, add a number to the
//! customer or to a contact, remove a number.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::{debug, info, warn};

use super::{again, edit_failed, email, number, text, Fields, Retry, MAX_NAME, STALE};
use crate::store::customers::{EditError, NewContact};
use crate::web::auth::PageUser;
use crate::web::error::PageError;
use crate::web::AppState;

#[derive(Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    version: i64,
}

impl ContactForm {
    fn fields(&self) -> Fields {
        Fields {
            name: self.name.clone(),
            email: self.email.clone(),
            number: self.number.clone(),
            kind: self.kind.clone(),
            version: self.version,
            ..Fields::default()
        }
    }
}

/// `POST /customers/{id}/contacts`: a new contact, maybe with a number.
pub async fn add_contact(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Form(form): Form<ContactForm>,
) -> Result<Response, PageError> {
    let normalizer = state.lookup.normalizer();
    let checked = text(&form.name, "Name", MAX_NAME, true).and_then(|name| {
        let email = email(&form.email)?;
        let numbers = number(normalizer, &form.number, &form.kind)?;
        Ok(NewContact {
            name,
            email,
            numbers: numbers.into_iter().collect(),
        })
    });
    let contact = match checked {
        Ok(contact) => contact,
        Err(message) => {
            debug!(customer_id = id, %message, "contact refused");
            let mut fields = form.fields();
            fields.error = Some(message);
            return again(&state, &user, id, Retry::NewContact(fields)).await;
        }
    };

    let contact_id = state
        .store
        .add_contact(id, &contact)
        .await
        .map_err(|e| edit_failed(e, &user))?;
    info!(customer_id = id, contact_id, username = %user.username, "contact added");
    Ok(Redirect::to(&format!("/customers/{id}?done=contact")).into_response())
}

/// `POST /customers/{id}/contacts/{contact}`: a contact's name and email,
/// if nobody changed them since the form was read.
pub async fn edit_contact(
    State(state): State<AppState>,
    user: PageUser,
    Path((id, contact_id)): Path<(i64, i64)>,
    Form(form): Form<ContactForm>,
) -> Result<Response, PageError> {
    let checked =
        text(&form.name, "Name", MAX_NAME, true).and_then(|name| Ok((name, email(&form.email)?)));
    let (name, email) = match checked {
        Ok(values) => values,
        Err(message) => {
            debug!(customer_id = id, contact_id, %message, "contact edit refused");
            let mut fields = form.fields();
            fields.error = Some(message);
            return again(&state, &user, id, Retry::Contact(contact_id, fields)).await;
        }
    };

    let saved = state
        .store
        .update_contact(id, contact_id, form.version, &name, &email)
        .await;
    match saved {
        Ok(version) => {
            info!(customer_id = id, contact_id, version, "contact edited");
            Ok(Redirect::to(&format!("/customers/{id}?done=contact-saved")).into_response())
        }
        Err(EditError::Stale(current)) => {
            warn!(
                contact_id,
                version = form.version,
                current,
                "contact edit refused: stale"
            );
            let mut fields = form.fields();
            fields.error = Some(STALE.into());
            again(&state, &user, id, Retry::Contact(contact_id, fields)).await
        }
        Err(e) => Err(edit_failed(e, &user)),
    }
}

/// `POST /customers/{id}/contacts/{contact}/remove`.
pub async fn remove_contact(
    State(state): State<AppState>,
    user: PageUser,
    Path((id, contact_id)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    state
        .store
        .remove_contact(id, contact_id)
        .await
        .map_err(|e| edit_failed(e, &user))?;
    info!(customer_id = id, contact_id, username = %user.username, "contact removed");
    Ok(Redirect::to(&format!("/customers/{id}?done=contact-removed")).into_response())
}

#[derive(Deserialize)]
pub struct NumberForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    kind: String,
    /// Empty for the customer's own number.
    #[serde(default)]
    contact: String,
}

/// `POST /customers/{id}/numbers`: a number for the customer or one of its
/// contacts.
pub async fn add_number(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Form(form): Form<NumberForm>,
) -> Result<Response, PageError> {
    let contact = match form.contact.trim() {
        "" => Ok(None),
        text => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| "Pick a contact from the list.".into()),
    };
    let checked = contact.and_then(|contact| {
        let number = number(state.lookup.normalizer(), &form.number, &form.kind)?;
        Ok((contact, number.ok_or("Number is needed.")?))
    });
    let (contact, number) = match checked {
        Ok(values) => values,
        Err(message) => {
            debug!(customer_id = id, %message, "number refused");
            let fields = Fields {
                number: form.number.clone(),
                kind: form.kind.clone(),
                contact: form.contact.trim().parse().ok(),
                error: Some(message),
                ..Fields::default()
            };
            return again(&state, &user, id, Retry::NewNumber(fields)).await;
        }
    };

    let number_id = state
        .store
        .add_number(id, contact, &number)
        .await
        .map_err(|e| edit_failed(e, &user))?;
    info!(customer_id = id, number_id, username = %user.username, "number added");
    Ok(Redirect::to(&format!("/customers/{id}?done=number")).into_response())
}

/// `POST /customers/{id}/numbers/{number}/remove`.
pub async fn remove_number(
    State(state): State<AppState>,
    user: PageUser,
    Path((id, number_id)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    state
        .store
        .remove_number(id, number_id)
        .await
        .map_err(|e| edit_failed(e, &user))?;
    info!(customer_id = id, number_id, username = %user.username, "number removed");
    Ok(Redirect::to(&format!("/customers/{id}?done=number-removed")).into_response())
}
