//! The call-logging page, `/calls/{id}`, where a pop leads: the caller, the
//! customer and contact, the open topics with their latest conversations,
//! and the form that logs what was discussed. A form with a mistake comes
//! back with everything typed and the message beside the field; nothing is
//! written. `/calls/new` logs a call the PBX never reported.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};
use utoipa::ToSchema;

use super::auth::{ApiUser, CurrentUser, PageUser};
use super::error::PageError;
use super::openapi::ErrorBody;
use super::pages::{render, Nav};
use super::{AppState, WebError};
use crate::calls::{CallMatch, CallRecord, NewCall};
use crate::store::conversations::{
    ContactChoice, Conversation, ConversationError, Logged, NewConversation, TopicChoice,
};
use crate::store::customers::Customer;
use crate::store::topics::Topic;
use crate::telephony::Direction;

/// The longest notes a conversation keeps.
pub const MAX_NOTES: usize = 10_000;
/// The longest topic title or contact name.
pub const MAX_TITLE: usize = 200;
/// How many of a topic's latest conversations the call page shows.
const RECENT: usize = 3;

/// What the rep typed into the log form, as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogForm {
    pub customer: String,
    /// An open topic's id, or `new`.
    pub topic: String,
    /// The new topic's title.
    pub title: String,
    /// A contact's id, `new`, or empty for nobody.
    pub contact: String,
    pub contact_name: String,
    pub notes: String,
    /// How many conversations the call had when the page was read: a form
    /// sent twice finds more and is refused.
    pub seen: String,
    /// `another` to come back for the next topic.
    pub then: String,
}

/// Messages beside the fields of the log form.
#[derive(Clone, Debug, Default)]
pub struct LogErrors {
    pub form: Option<String>,
    pub topic: Option<String>,
    pub contact: Option<String>,
    pub notes: Option<String>,
}

impl LogErrors {
    fn any(&self) -> bool {
        self.form.is_some()
            || self.topic.is_some()
            || self.contact.is_some()
            || self.notes.is_some()
    }
}

/// An open topic with its latest conversations.
pub struct TopicView {
    pub topic: Topic,
    /// The latest conversations, with when in the company's zone.
    pub recent: Vec<(Conversation, String)>,
}

#[derive(Template)]
#[template(path = "call.html")]
struct CallPage {
    nav: Option<Nav>,
    call: CallRecord,
    path: String,
    number: String,
    /// The number click-to-dial rings, when the caller's is known.
    dial: Option<String>,
    outcome: String,
    started: String,
    answered: String,
    ended: String,
    /// Customers the number matched, when the rep must pick one.
    choices: Vec<CallMatch>,
    customer: Option<Customer>,
    topics: Vec<TopicView>,
    logged: Vec<Conversation>,
    form: LogForm,
    errors: LogErrors,
    notice: Option<String>,
    zone: Zone,
}

#[derive(Debug, Default, Deserialize)]
pub struct CallQuery {
    pub customer: Option<i64>,
    pub logged: Option<u32>,
}

/// `/calls/{id}`: the page a pop links to.
pub async fn show(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Query(query): Query<CallQuery>,
) -> Result<Html<String>, PageError> {
    let call = visible_call(&state, &user, id).await?;
    let notice = query.logged.map(|n| match n {
        1 => "Saved. Log the next topic below.".to_owned(),
        _ => "Saved.".to_owned(),
    });
    let form = LogForm::default();
    let page = call_page(
        &state,
        &user,
        call,
        query.customer,
        form,
        LogErrors::default(),
    )
    .await?;
    render(&CallPage { notice, ..page })
}

/// Logs one conversation from the call page.
pub async fn log(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Form(form): Form<LogForm>,
) -> Result<Response, PageError> {
    let call = visible_call(&state, &user, id).await?;
    let allowed = customers_of(&state, &call).await?;
    let customer = form.customer.trim().parse::<i64>().ok();
    let Some(customer) = customer.filter(|c| allowed.contains(c)) else {
        warn!(call_id = id, customer = %form.customer, username = %user.username,
              "conversation refused: customer not matched by the call");
        let errors = LogErrors {
            form: Some("Pick the customer this call is about first.".into()),
            ..LogErrors::default()
        };
        return again(
            &state,
            &user,
            call,
            None,
            form,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };

    // A form sent twice, or one read before someone else logged on this
    // call, finds the log moved on.
    let logged = state.store.call_conversations(id).await?;
    if form.seen.trim() != logged.len().to_string() {
        warn!(call_id = id, seen = %form.seen, now = logged.len(), username = %user.username,
              "conversation refused: stale or replayed form");
        let errors = LogErrors {
            form: Some(
                "This call's log changed since the page was loaded (was the form sent twice?). \
                 Check the conversations above; your text is kept below."
                    .into(),
            ),
            ..LogErrors::default()
        };
        return again(
            &state,
            &user,
            call,
            Some(customer),
            form,
            errors,
            StatusCode::CONFLICT,
        )
        .await;
    }

    let (new, errors) = parse_log(&form, customer, Some(id), &user);
    let Some(new) = new else {
        debug!(call_id = id, username = %user.username, "conversation not valid");
        return again(
            &state,
            &user,
            call,
            Some(customer),
            form,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match state.store.log_conversation(&new).await {
        Ok(Logged {
            topic_id,
            conversation_id,
            ..
        }) => {
            info!(call_id = id, topic_id, conversation_id, username = %user.username,
                  "conversation logged");
            let another = u8::from(form.then == "another");
            let to = format!("/calls/{id}?customer={customer}&logged={another}#log");
            Ok(Redirect::to(&to).into_response())
        }
        Err(ConversationError::Store(e)) => Err(e.into()),
        Err(refused) => {
            warn!(call_id = id, username = %user.username, error = %refused,
                  "conversation refused");
            let errors = match refused {
                ConversationError::ForeignContact => LogErrors {
                    contact: Some(format!("{refused}.")),
                    ..LogErrors::default()
                },
                ConversationError::ForeignCall => LogErrors {
                    form: Some("Pick the customer this call is about first.".into()),
                    ..LogErrors::default()
                },
                _ => LogErrors {
                    topic: Some(format!("{refused}.")),
                    ..LogErrors::default()
                },
            };
            again(
                &state,
                &user,
                call,
                Some(customer),
                form,
                errors,
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}

/// Reads the log form; the conversation to log, or what is wrong with it.
fn parse_log(
    form: &LogForm,
    customer_id: i64,
    call_id: Option<i64>,
    user: &CurrentUser,
) -> (Option<NewConversation>, LogErrors) {
    let mut errors = LogErrors::default();
    let title = form.title.trim();
    let topic = match form.topic.trim() {
        "new" | "" if title.is_empty() => {
            errors.topic = Some("Pick an open topic or type a title for a new one.".into());
            None
        }
        "new" | "" if title.chars().count() > MAX_TITLE => {
            errors.topic = Some(format!("A title has at most {MAX_TITLE} characters."));
            None
        }
        "new" | "" => Some(TopicChoice::New(title.to_owned())),
        id => match id.parse() {
            Ok(id) => Some(TopicChoice::Open(id)),
            Err(_) => {
                errors.topic = Some("Pick a topic from the list.".into());
                None
            }
        },
    };

    let name = form.contact_name.trim();
    let contact = match form.contact.trim() {
        "" if name.is_empty() => Some(ContactChoice::Nobody),
        "" | "new" if name.is_empty() => {
            errors.contact = Some("Type the new contact's name.".into());
            None
        }
        "" | "new" if name.chars().count() > MAX_TITLE => {
            errors.contact = Some(format!("A name has at most {MAX_TITLE} characters."));
            None
        }
        "" | "new" => Some(ContactChoice::New(name.to_owned())),
        id => match id.parse() {
            Ok(id) => Some(ContactChoice::Known(id)),
            Err(_) => {
                errors.contact = Some("Pick a contact from the list.".into());
                None
            }
        },
    };

    let notes = form.notes.trim();
    if notes.is_empty() {
        errors.notes = Some("Write what was discussed.".into());
    } else if notes.chars().count() > MAX_NOTES {
        errors.notes = Some(format!(
            "Notes have at most {MAX_NOTES} characters; these have {}.",
            notes.chars().count()
        ));
    }
    if errors.any() {
        return (None, errors);
    }
    let new = NewConversation {
        customer_id,
        call_id,
        topic: topic.expect("checked above"),
        contact: contact.expect("checked above"),
        notes: notes.to_owned(),
        user_id: user.id,
        at: Utc::now(),
    };
    (Some(new), errors)
}

/// The call page again, with what was typed and why it was not saved.
async fn again(
    state: &AppState,
    user: &CurrentUser,
    call: CallRecord,
    customer: Option<i64>,
    form: LogForm,
    errors: LogErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let page = call_page(state, user, call, customer, form, errors).await?;
    Ok((status, render(&page)?).into_response())
}

/// The call, when this user may see it.
async fn visible_call(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<CallRecord, PageError> {
    let call = state.store.call(id).await?.ok_or(WebError::NotFound)?;
    if !user.may_see(&call) {
        let refused =
            WebError::Forbidden("This call did not ring at any of your extensions.".into());
        return Err(PageError::from(refused).with_nav(user.nav()));
    }
    Ok(call)
}

/// The customers a call may be logged under: those its number matched,
/// and the one it was filed under.
async fn customers_of(state: &AppState, call: &CallRecord) -> anyhow::Result<Vec<i64>> {
    let mut ids: Vec<i64> = call.matches.iter().map(|m| m.customer_id).collect();
    if let Some(filed) = state.store.call_customer(call.id).await? {
        ids.push(filed);
    }
    Ok(ids)
}

async fn call_page(
    state: &AppState,
    user: &CurrentUser,
    call: CallRecord,
    wanted: Option<i64>,
    form: LogForm,
    errors: LogErrors,
) -> Result<CallPage, PageError> {
    // The customer: the one asked for if the call may carry it, else the
    // only one it may carry; with several, the rep picks.
    let allowed = customers_of(state, &call).await?;
    let mut distinct = allowed.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let chosen = match wanted.filter(|w| allowed.contains(w)) {
        Some(id) => Some(id),
        None if distinct.len() == 1 => Some(distinct[0]),
        None => None,
    };
    let customer = match chosen {
        Some(id) => state.store.customer(id).await?,
        None => None,
    };
    let choices = match customer {
        Some(_) => Vec::new(),
        None if call.matches.len() > 1 => call.matches.clone(),
        None => Vec::new(),
    };

    let mut topics = Vec::new();
    if let Some(c) = &customer {
        for topic in state.store.topics_of_customer(c.id, true).await? {
            let mut recent = state.store.topic_conversations(topic.id).await?;
            recent = recent.split_off(recent.len().saturating_sub(RECENT));
            let recent = recent
                .into_iter()
                .map(|c| {
                    let at = local(state.company.tz(), Some(c.at));
                    (c, at)
                })
                .collect();
            topics.push(TopicView { topic, recent });
        }
    }
    let logged = state.store.call_conversations(call.id).await?;

    let normalizer = state.lookup.normalizer();
    let number = match (&call.remote_e164, &call.remote_raw) {
        (Some(e164), _) => normalizer.for_people(&normalizer.normalize(e164)),
        (None, Some(raw)) => raw.clone(),
        (None, None) => "unknown number".into(),
    };
    let dial = match call.withheld {
        true => None,
        false => call.remote_e164.clone().or(call.remote_raw.clone()),
    };
    let tz = state.company.tz();
    let mut form = form;
    form.seen = logged.len().to_string();
    if let Some(c) = &customer {
        form.customer = c.id.to_string();
    }
    Ok(CallPage {
        nav: Some(user.nav()),
        path: format!("/calls/{}", call.id),
        number,
        dial,
        outcome: call.outcome.clone().unwrap_or_else(|| "ringing".into()),
        started: local(tz, Some(call.started_at)),
        answered: local(tz, call.answered_at),
        ended: local(tz, call.ended_at),
        choices,
        customer,
        topics,
        logged,
        form,
        errors,
        notice: None,
        zone: Zone(tz),
        call,
    })
}

/// A time in the company's zone, for people.
pub fn local(tz: chrono_tz::Tz, t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "—".into())
}

/// The company's zone, for templates that show times: `{{ zone.at(t) }}`.
#[derive(Clone, Copy, Debug)]
pub struct Zone(pub chrono_tz::Tz);

impl Zone {
    pub fn of(state: &AppState) -> Zone {
        Zone(state.company.tz())
    }

    /// A time as [`local`] writes it.
    pub fn at(&self, t: impl Instant) -> String {
        local(self.0, Some(t.utc()))
    }

    /// The day of a time, in the company's zone.
    pub fn date(&self, t: impl Instant) -> String {
        t.utc()
            .with_timezone(&self.0)
            .format("%Y-%m-%d")
            .to_string()
    }
}

/// A UTC time, or a reference to one, as templates hand them to [`Zone`].
pub trait Instant {
    fn utc(&self) -> DateTime<Utc>;
}

impl Instant for DateTime<Utc> {
    fn utc(&self) -> DateTime<Utc> {
        *self
    }
}

impl<T: Instant + ?Sized> Instant for &T {
    fn utc(&self) -> DateTime<Utc> {
        (**self).utc()
    }
}

/// What the rep typed into the manual log form.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ManualForm {
    /// `inbound` or `outbound`.
    pub direction: String,
    pub number: String,
    /// An optional customer id the call is filed under.
    pub customer: String,
    /// `YYYY-MM-DDTHH:MM` in the company's zone; empty for now.
    pub when: String,
}

#[derive(Template)]
#[template(path = "call_new.html")]
struct ManualPage {
    nav: Option<Nav>,
    form: ManualForm,
    error: Option<String>,
    zone: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ManualQuery {
    pub customer: Option<i64>,
    pub number: Option<String>,
}

/// `/calls/new`: log a call the PBX did not report.
pub async fn manual_form(
    State(state): State<AppState>,
    user: PageUser,
    Query(query): Query<ManualQuery>,
) -> Result<Html<String>, PageError> {
    let form = ManualForm {
        direction: "outbound".into(),
        number: query.number.unwrap_or_default(),
        customer: query.customer.map(|c| c.to_string()).unwrap_or_default(),
        when: String::new(),
    };
    render(&ManualPage {
        nav: Some(user.nav()),
        form,
        error: None,
        zone: state.company.time_zone.clone(),
    })
}

/// Records a manual call and opens its call page.
pub async fn manual_create(
    State(state): State<AppState>,
    user: PageUser,
    Form(form): Form<ManualForm>,
) -> Result<Response, PageError> {
    match record_manual(&state, &user, &form).await {
        Ok(id) => Ok(Redirect::to(&format!("/calls/{id}")).into_response()),
        Err(ManualError::Invalid(message)) => {
            debug!(username = %user.username, %message, "manual call not valid");
            let page = ManualPage {
                nav: Some(user.nav()),
                form,
                error: Some(message),
                zone: state.company.time_zone.clone(),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(ManualError::Store(e)) => Err(e.into()),
    }
}

enum ManualError {
    Invalid(String),
    Store(anyhow::Error),
}

impl From<anyhow::Error> for ManualError {
    fn from(e: anyhow::Error) -> ManualError {
        ManualError::Store(e)
    }
}

/// Checks a manual call and writes it as one ended, answered call by this
/// user, filed under the customer given or the one its number matches.
async fn record_manual(
    state: &AppState,
    user: &CurrentUser,
    form: &ManualForm,
) -> Result<i64, ManualError> {
    let invalid = |m: &str| ManualError::Invalid(m.to_owned());
    let direction = match form.direction.as_str() {
        "inbound" => Direction::Inbound,
        "outbound" => Direction::Outbound,
        _ => return Err(invalid("Pick inbound or outbound.")),
    };
    let raw = form.number.trim();
    let written_as_number = raw.chars().any(|c| c.is_ascii_digit())
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()./*#".contains(c));
    if !written_as_number || raw.len() > 40 {
        return Err(invalid(
            "Type the number: digits, with spaces, + - ( ) . if you like (at most 40).",
        ));
    }
    let tz = state.company.tz();
    let at = match form.when.trim() {
        "" => Utc::now(),
        text => match parse_local(tz, text) {
            Some(at) if at <= Utc::now() + chrono::Duration::minutes(5) => at,
            Some(_) => return Err(invalid("A call logged by hand cannot be in the future.")),
            None => return Err(invalid("Write the time as YYYY-MM-DD HH:MM.")),
        },
    };

    let found = state.lookup.find(raw).await?;
    let matches: Vec<CallMatch> = found
        .matches
        .into_iter()
        .map(|m| CallMatch {
            customer_id: m.customer_id,
            customer_name: m.customer_name,
            contact_id: m.contact_id,
            contact_name: m.contact_name,
            reason: m.reason.to_string(),
        })
        .collect();
    let customer = match form.customer.trim() {
        "" => match matches.as_slice() {
            [only] => Some(only.customer_id),
            _ => None,
        },
        text => match text.parse::<i64>() {
            Ok(id) if state.store.customer(id).await?.is_some() => Some(id),
            _ => return Err(invalid("There is no such customer.")),
        },
    };

    let extension = user.extensions.first().cloned().unwrap_or_default();
    let call = NewCall {
        link: "manual".into(),
        pbx_call_id: format!("manual-{}", crate::auth::secret::random()?),
        direction,
        remote_raw: Some(raw.to_owned()),
        remote_e164: found.caller.e164.clone(),
        remote_name: None,
        withheld: false,
        extension,
        customer_id: customer,
        contact_id: None,
        matches,
        started_at: at,
    };
    let id = state.store.insert_manual_call(&call).await?;
    info!(call_id = id, username = %user.username, "manual call logged");
    Ok(id)
}

/// Years a typed date may fall in: far from the ends of chrono's range, so
/// that day and week arithmetic on it cannot overflow.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

/// Reads `YYYY-MM-DD HH:MM` (or with a `T`) as a time in `tz`.
pub fn parse_local(tz: chrono_tz::Tz, text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim().replace('T', " ");
    let naive = NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M").ok()?;
    if !YEARS.contains(&naive.year()) {
        return None;
    }
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// A conversation to log through the API.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConversationRequest {
    /// The customer it is about.
    pub customer_id: i64,
    /// The call it was held in, if any.
    pub call_id: Option<i64>,
    /// An open topic of the customer; or give `new_topic`.
    pub topic_id: Option<i64>,
    /// The title of a new topic.
    pub new_topic: Option<String>,
    /// A contact of the customer; or give `new_contact`.
    pub contact_id: Option<i64>,
    /// The name of a new contact.
    pub new_contact: Option<String>,
    /// What was discussed.
    pub notes: String,
}

/// Where a logged conversation went.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationResponse {
    pub conversation_id: i64,
    pub topic_id: i64,
    pub contact_id: Option<i64>,
}

/// `POST /api/v1/conversations`.
#[utoipa::path(
    post, path = "/api/v1/conversations", tag = "conversations",
    operation_id = "log_conversation",
    request_body = ConversationRequest,
    responses(
        (status = 201, description = "Logged", body = ConversationResponse),
        (status = 400, description = "A topic, contact or notes refused, or a call that is \
                                      not about the customer", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A call that never reached the rep", body = ErrorBody),
        (status = 404, description = "No such customer or call", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_log(
    State(state): State<AppState>,
    user: ApiUser,
    Json(request): Json<ConversationRequest>,
) -> Result<(StatusCode, Json<ConversationResponse>), WebError> {
    if let Some(call_id) = request.call_id {
        let call = state.store.call(call_id).await?.ok_or(WebError::NotFound)?;
        if !user.may_see(&call) {
            return Err(WebError::Forbidden(
                "this call did not ring at your extensions".into(),
            ));
        }
    }
    let form = LogForm {
        topic: request.topic_id.map(|t| t.to_string()).unwrap_or_default(),
        title: request.new_topic.unwrap_or_default(),
        contact: request
            .contact_id
            .map(|c| c.to_string())
            .unwrap_or_default(),
        contact_name: request.new_contact.unwrap_or_default(),
        notes: request.notes,
        ..LogForm::default()
    };
    let (new, errors) = parse_log(&form, request.customer_id, request.call_id, &user);
    let Some(new) = new else {
        let message = [errors.topic, errors.contact, errors.notes]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        return Err(WebError::BadRequest(message));
    };
    if state.store.customer(request.customer_id).await?.is_none() {
        return Err(WebError::NotFound);
    }
    match state.store.log_conversation(&new).await {
        Ok(logged) => Ok((
            StatusCode::CREATED,
            Json(ConversationResponse {
                conversation_id: logged.conversation_id,
                topic_id: logged.topic_id,
                contact_id: logged.contact_id,
            }),
        )),
        Err(ConversationError::Store(e)) => Err(e.into()),
        Err(refused) => Err(WebError::BadRequest(refused.to_string())),
    }
}

/// `GET /api/v1/calls/{id}/conversations`.
#[utoipa::path(
    get, path = "/api/v1/calls/{id}/conversations", tag = "conversations",
    operation_id = "call_conversations",
    params(("id" = i64, Path, description = "The call")),
    responses(
        (status = 200, description = "The call's conversations", body = Vec<Conversation>),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A call that never reached the rep", body = ErrorBody),
        (status = 404, description = "No such call", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_call_conversations(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Conversation>>, WebError> {
    let call = state.store.call(id).await?.ok_or(WebError::NotFound)?;
    if !user.may_see(&call) {
        return Err(WebError::Forbidden(
            "this call did not ring at your extensions".into(),
        ));
    }
    Ok(Json(state.store.call_conversations(id).await?))
}
