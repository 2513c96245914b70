//! The customer pages: `/customers` lists and searches (by name, contact,
//! email, or a phone number in any format), `/customers/{id}` shows one
//! customer with its contacts, numbers, topics, calls and opportunities,
//! and edits it. Creating, attaching calls, contacts and numbers, merging
//! and the JSON API live in the submodules.

pub mod api;
mod create;
mod merge;
mod parts;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::{debug, info, warn};

use super::auth::{CurrentUser, PageUser};
use super::error::PageError;
use super::pages::{render, Nav};
use super::{AppState, WebError};
use crate::auth::Role;
use crate::lookup::Normalizer;
use crate::store::customers::{
    Customer, CustomerCall, CustomerSummary, CustomerTopic, EditError, NewNumber, NumberKind, Page,
    StoredNumber,
};
use crate::store::opportunities::Opportunity;

pub use create::{attach_form, attach_save, create, new_form};
pub use merge::{merge, merge_form};
pub use parts::{add_contact, add_number, edit_contact, remove_contact, remove_number};

/// Customers a page of the list shows.
const PER_PAGE: u32 = 50;
/// Calls the customer page shows.
const CALLS_SHOWN: i64 = 100;

/// The longest values the forms take.
pub const MAX_NAME: usize = 200;
pub const MAX_NOTES: usize = 4000;
pub const MAX_EMAIL: usize = 254;
pub const MAX_NUMBER: usize = 40;

#[derive(Template)]
#[template(path = "customers.html")]
struct ListPage {
    nav: Option<Nav>,
    q: String,
    /// `q` for a link's query.
    q_url: String,
    by_number: bool,
    customers: Vec<CustomerSummary>,
    page: u32,
    more: bool,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    page: Option<u32>,
}

/// `GET /customers?q=&page=`.
pub async fn list(
    State(state): State<AppState>,
    user: PageUser,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    let page = query.page.unwrap_or(1).max(1);
    let found = search(&state, &query.q, page)
        .await
        .map_err(|e| with_nav(e, &user))?;
    render(&ListPage {
        nav: Some(user.nav()),
        q: query.q.trim().to_owned(),
        q_url: super::login::encode(query.q.trim()),
        by_number: found.by_number,
        more: found.more,
        customers: found.customers,
        page,
    })
}

/// What a search found, one page of it.
pub struct Found {
    pub customers: Vec<CustomerSummary>,
    pub by_number: bool,
    /// Whether there is another page.
    pub more: bool,
}

/// Customers matching `q`, page `page` (from 1): by phone number when `q`
/// looks like one, matched as a caller's number is; else by name, contact
/// name or email.
pub async fn search(state: &AppState, q: &str, page: u32) -> Result<Found, WebError> {
    let q = q.trim();
    if looks_like_number(q) {
        let outcome = state.lookup.find(q).await?;
        let mut ids: Vec<i64> = outcome.matches.iter().map(|m| m.customer_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let customers = state.store.customer_summaries(&ids).await?;
        return Ok(Found {
            customers,
            by_number: true,
            more: false,
        });
    }

    let slice = Page {
        limit: PER_PAGE + 1,
        offset: (page - 1).saturating_mul(PER_PAGE),
    };
    let mut customers = state.store.search_customers(q, slice).await?;
    let more = customers.len() > PER_PAGE as usize;
    customers.truncate(PER_PAGE as usize);
    Ok(Found {
        customers,
        by_number: false,
        more,
    })
}

/// Digits with the spaces, dashes, dots, brackets and plus people write,
/// and enough digits to be more than an extension.
fn looks_like_number(q: &str) -> bool {
    let allowed = q
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.' | '/'));
    let digits = q.chars().filter(char::is_ascii_digit).count();
    allowed && digits >= crate::lookup::MIN_SUFFIX_DIGITS
}

/// A number as the pages show it, with what the Call button dials.
pub struct NumberView {
    pub id: i64,
    pub written: String,
    pub dial: String,
    pub kind: String,
}

impl NumberView {
    fn of(number: &StoredNumber, normalizer: &Normalizer) -> NumberView {
        let written = match &number.e164 {
            Some(e164) => normalizer.for_people(&normalizer.normalize(e164)),
            None => number.raw.clone(),
        };
        NumberView {
            id: number.id,
            dial: number.e164.clone().unwrap_or_else(|| number.raw.clone()),
            written,
            kind: number.kind.clone(),
        }
    }
}

/// A contact with their numbers, and the values their edit form shows.
pub struct ContactView {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub version: i64,
    pub numbers: Vec<NumberView>,
    pub error: Option<String>,
}

impl Fields {
    /// Whether the form's contact list has `id` chosen.
    pub fn picks(&self, id: impl std::borrow::Borrow<i64>) -> bool {
        self.contact == Some(*id.borrow())
    }
}

/// The values of a form on the customer page, kept after a mistake.
#[derive(Clone, Debug, Default)]
pub struct Fields {
    pub name: String,
    pub notes: String,
    pub email: String,
    pub number: String,
    pub kind: String,
    pub contact: Option<i64>,
    pub version: i64,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "customer.html")]
pub struct CustomerPage {
    nav: Option<Nav>,
    customer: Customer,
    contacts: Vec<ContactView>,
    numbers: Vec<NumberView>,
    topics: Vec<CustomerTopic>,
    calls: Vec<CustomerCall>,
    opportunities: Vec<Opportunity>,
    edit: Fields,
    new_contact: Fields,
    new_number: Fields,
    kinds: [&'static str; 5],
    notice: Option<String>,
    /// The session's form token, for the many forms on the page.
    csrf: String,
    back: String,
    may_merge: bool,
    zone: super::calls::Zone,
}

/// Which form on the customer page came back with a mistake.
pub enum Retry {
    None,
    Edit(Fields),
    NewContact(Fields),
    NewNumber(Fields),
    /// A contact's own edit form: its id and the values typed.
    Contact(i64, Fields),
}

/// The customer page, with one form showing what was typed when `retry`
/// says so.
pub async fn customer_page(
    state: &AppState,
    user: &CurrentUser,
    customer: Customer,
    retry: Retry,
    notice: Option<String>,
) -> Result<CustomerPage, WebError> {
    let normalizer = state.lookup.normalizer();
    let id = customer.id;
    let mut contacts: Vec<ContactView> = customer
        .contacts
        .iter()
        .map(|c| ContactView {
            id: c.id,
            name: c.name.clone(),
            email: c.email.clone(),
            version: c.version,
            numbers: customer
                .numbers
                .iter()
                .filter(|n| n.contact_id == Some(c.id))
                .map(|n| NumberView::of(n, normalizer))
                .collect(),
            error: None,
        })
        .collect();
    let numbers = customer
        .numbers
        .iter()
        .filter(|n| n.contact_id.is_none())
        .map(|n| NumberView::of(n, normalizer))
        .collect();

    let mut page = CustomerPage {
        nav: Some(user.nav()),
        edit: Fields {
            name: customer.name.clone(),
            notes: customer.notes.clone(),
            version: customer.version,
            ..Fields::default()
        },
        new_contact: Fields::default(),
        new_number: Fields {
            kind: "work".into(),
            ..Fields::default()
        },
        kinds: ["work", "mobile", "home", "fax", "other"],
        topics: state.store.customer_topics(id).await?,
        calls: state.store.customer_calls(id, CALLS_SHOWN).await?,
        opportunities: state.store.customer_opportunities(id).await?,
        contacts: Vec::new(),
        numbers,
        notice,
        csrf: user.nav().csrf,
        back: format!("/customers/{id}"),
        may_merge: user.is_at_least(Role::Manager),
        zone: super::calls::Zone::of(state),
        customer,
    };
    match retry {
        Retry::None => {}
        Retry::Edit(fields) => page.edit = fields,
        Retry::NewContact(fields) => page.new_contact = fields,
        Retry::NewNumber(fields) => page.new_number = fields,
        Retry::Contact(contact_id, fields) => {
            if let Some(c) = contacts.iter_mut().find(|c| c.id == contact_id) {
                c.name = fields.name;
                c.email = fields.email;
                c.version = fields.version;
                c.error = fields.error;
            }
        }
    }
    page.contacts = contacts;
    Ok(page)
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /customers/{id}`; a merged customer sends the browser to the one
/// it was merged into.
pub async fn show(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let customer = load(&state, &user, id).await?;
    if let Some(kept) = customer.merged_into {
        return Ok(Redirect::to(&format!("/customers/{kept}")).into_response());
    }
    let notice = done.done.as_deref().and_then(notice);
    let page = customer_page(&state, &user, customer, Retry::None, notice)
        .await
        .map_err(|e| with_nav(e, &user))?;
    Ok(render(&page)?.into_response())
}

/// What a `?done=` after a change says.
fn notice(done: &str) -> Option<String> {
    let text = match done {
        "created" => "Customer added.",
        "saved" => "Saved.",
        "contact" => "Contact added.",
        "contact-saved" => "Contact saved.",
        "contact-removed" => "Contact removed.",
        "number" => "Number added.",
        "number-removed" => "Number removed.",
        "merged" => "Customers merged: everything of the duplicate is here now.",
        _ => return None,
    };
    Some(text.to_owned())
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    version: i64,
}

/// `POST /customers/{id}`: changes the name and notes, if nobody changed
/// the customer since the form was read.
pub async fn edit(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Form(form): Form<EditForm>,
) -> Result<Response, PageError> {
    let mut fields = Fields {
        name: form.name.clone(),
        notes: form.notes.clone(),
        version: form.version,
        ..Fields::default()
    };
    let checked = text(&form.name, "Name", MAX_NAME, true)
        .and_then(|name| Ok((name, text(&form.notes, "Notes", MAX_NOTES, false)?)));
    let (name, notes) = match checked {
        Ok(values) => values,
        Err(message) => {
            debug!(customer_id = id, %message, "customer edit refused");
            fields.error = Some(message);
            return again(&state, &user, id, Retry::Edit(fields)).await;
        }
    };

    match state
        .store
        .update_customer(id, form.version, &name, &notes)
        .await
    {
        Ok(version) => {
            info!(customer_id = id, version, username = %user.username, "customer edited");
            Ok(Redirect::to(&format!("/customers/{id}?done=saved")).into_response())
        }
        Err(EditError::Stale(current)) => {
            warn!(
                customer_id = id,
                version = form.version,
                current,
                "customer edit refused: stale"
            );
            fields.error = Some(STALE.into());
            again(&state, &user, id, Retry::Edit(fields)).await
        }
        Err(e) => Err(edit_failed(e, &user)),
    }
}

/// What a stale form is told.
pub const STALE: &str = "Someone changed this since you opened the page. Your text is kept \
    below; the page now shows their version. Check it, then save again.";

/// The customer page again, with `retry`'s form showing what was typed:
/// 409 for a stale form, 422 for a mistake.
/// The edit form of a stale edit keeps the typed text but takes the
/// current version, so that saving again is a choice made knowingly.
pub async fn again(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    retry: Retry,
) -> Result<Response, PageError> {
    let customer = load(state, user, id).await?;
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    let retry = match retry {
        Retry::Edit(mut f) if f.error.as_deref() == Some(STALE) => {
            status = StatusCode::CONFLICT;
            f.version = customer.version;
            Retry::Edit(f)
        }
        Retry::Contact(contact, mut f) if f.error.as_deref() == Some(STALE) => {
            status = StatusCode::CONFLICT;
            let current = customer.contacts.iter().find(|c| c.id == contact);
            f.version = current.map_or(f.version, |c| c.version);
            Retry::Contact(contact, f)
        }
        other => other,
    };
    let page = customer_page(state, user, customer, retry, None)
        .await
        .map_err(|e| with_nav(e, user))?;
    let html = render(&page)?;
    Ok((status, html).into_response())
}

/// The customer `id`, or the not-found page.
async fn load(state: &AppState, user: &CurrentUser, id: i64) -> Result<Customer, PageError> {
    let customer = state
        .store
        .customer(id)
        .await
        .map_err(|e| with_nav(e.into(), user))?;
    customer.ok_or_else(|| with_nav(WebError::NotFound, user))
}

/// An error page with the top bar.
pub fn with_nav(e: WebError, user: &CurrentUser) -> PageError {
    PageError::from(e).with_nav(user.nav())
}

/// The page for a change the store refused for a reason other than a stale
/// form.
pub fn edit_failed(e: EditError, user: &CurrentUser) -> PageError {
    let web = match e {
        EditError::NotFound => WebError::NotFound,
        EditError::Stale(_) => WebError::BadRequest(STALE.into()),
        EditError::Refused(message) => {
            debug!(%message, "change refused");
            WebError::BadRequest(message)
        }
        EditError::Db(e) => WebError::Internal(e),
    };
    with_nav(web, user)
}

/// A form's text trimmed, refused when empty (if `required`) or longer
/// than `max` characters; the message names the field.
pub fn text(value: &str, field: &str, max: usize, required: bool) -> Result<String, String> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(format!("{field} is needed."));
    }
    let length = value.chars().count();
    if length > max {
        return Err(format!(
            "{field} is {length} characters long; at most {max} fit."
        ));
    }
    Ok(value.to_owned())
}

/// A phone number typed into a form, read as the importer reads one (home
/// region unless it starts with a country code), refused when it is not a
/// phone number.
pub fn number(reader: &Normalizer, raw: &str, kind: &str) -> Result<Option<NewNumber>, String> {
    let raw = text(raw, "Number", MAX_NUMBER, false)?;
    if raw.is_empty() {
        return Ok(None);
    }
    let kind = match kind.trim() {
        "" => NumberKind::Work,
        other => other.parse::<NumberKind>().map_err(|e| e.to_string())?,
    };
    let number = reader
        .check(&raw, reader.home())
        .map_err(|e| format!("Number is not a phone number: {e}."))?;
    Ok(Some(NewNumber { number, kind }))
}

/// An email typed into a form: empty, or something with an `@` between text.
pub fn email(value: &str) -> Result<String, String> {
    let value = text(value, "Email", MAX_EMAIL, false)?;
    let shaped = match value.split_once('@') {
        Some((user, host)) => !user.is_empty() && host.contains('.') && !value.contains(' '),
        None => false,
    };
    match value.is_empty() || shaped {
        true => Ok(value),
        false => Err(format!(
            "Email {value:?} is not an address like ann@example.com."
        )),
    }
}

/// `back` when it is a path on this site, for sending a browser back.
pub use super::paths::local_path;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_told_from_names() {
        for q in [
            "(555) 010-1234",
            "+1 555 010 1234",
            "5550101234",
            "555.010.1234",
        ] {
            assert!(looks_like_number(q), "{q}");
        }
        for q in ["Acme", "201", "1_0", "555-01", "Acme 5550101234", ""] {
            assert!(!looks_like_number(q), "{q}");
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("  Ann ", "Name", 10, true).unwrap(), "Ann");
        assert_eq!(text(" ", "Name", 10, true).unwrap_err(), "Name is needed.");
        assert_eq!(text("", "Notes", 10, false).unwrap(), "");
        let long = text("ÅÅÅÅ", "Name", 3, true).unwrap_err();
        assert_eq!(long, "Name is 4 characters long; at most 3 fit.");
    }

    #[test]
    fn emails_and_paths_are_checked() {
        assert_eq!(email(" ann@acme.example ").unwrap(), "ann@acme.example");
        assert_eq!(email("").unwrap(), "");
        assert!(email("ann").is_err() && email("@acme.example").is_err());
        assert_eq!(local_path("/calls/7"), Some("/calls/7"));
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "/a\r\nb",
            "",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn typed_numbers_are_read_in_the_home_region() {
        let us = Normalizer::new("US").unwrap();
        let read = number(&us, "(212) 555-0142", "mobile").unwrap().unwrap();
        assert_eq!(read.number.e164.as_deref(), Some("+12125550142"));
        assert_eq!(read.kind, NumberKind::Mobile);
        assert!(number(&us, "", "work").unwrap().is_none());
        assert!(number(&us, "1-800-FLOWERS", "work").is_err());
        assert!(number(&us, "(212) 555-0142", "pager").is_err());
    }
}
