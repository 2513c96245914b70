//! The sales pages: `/opportunities` is the channel every sales person
//! sees (open opportunities by stage with their totals, and the stage
//! changes of the last two weeks); an opportunity is opened on a topic at
//! `/topics/{id}/opportunities/new` and edited at `/opportunities/{id}`.

pub mod api;

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{Duration, NaiveDate, Utc};
use serde::Deserialize;
use tracing::{debug, info, warn};

use super::auth::{CurrentUser, PageUser};
use super::calls::Zone;
use super::customers::{edit_failed, text, with_nav, MAX_NAME, STALE};
use super::error::PageError;
use super::pages::{render, Nav};
use super::{AppState, WebError};
use crate::config::is_currency_code;
use crate::store::customers::EditError;
use crate::store::opportunities::{minor_digits, money, parse_money, Opportunity};
use crate::store::opportunities::{OpportunityFields, Stage, StageChange, TopicHead};
use crate::store::users::User;

/// How far back the channel's recent changes reach.
const RECENT_DAYS: i64 = 14;
/// The most open opportunities the channel shows.
const CHANNEL_LIMIT: i64 = 500;

/// The values of an opportunity form, as typed.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct OpportunityForm {
    #[serde(default)]
    pub title: String,
    /// In the currency's units, such as "1250.00".
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub stage: String,
    /// YYYY-MM-DD, or empty.
    #[serde(default)]
    pub expected_close: String,
    /// A user's id, or empty for nobody.
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub version: i64,
    /// The call the form was opened from, to go back to.
    #[serde(default)]
    pub call: Option<i64>,
}

/// A form field and what is wrong with it.
pub type FieldError = (&'static str, String);

/// Reads an opportunity form. `was` is the stored opportunity for an edit:
/// an expected close date in the past is refused unless it is the one
/// already stored, or the sale is closed.
pub fn read_form(
    form: &OpportunityForm,
    users: &[User],
    today: NaiveDate,
    was: Option<&Opportunity>,
) -> Result<OpportunityFields, FieldError> {
    let title = text(&form.title, "Title", MAX_NAME, true).map_err(|e| ("title", e))?;
    let currency = form.currency.trim().to_ascii_uppercase();
    if !is_currency_code(&currency) {
        let message = format!(
            "Currency {:?} is not a code like USD or EUR.",
            form.currency.trim()
        );
        return Err(("currency", message));
    }
    let value_minor = parse_money(&form.value, &currency).map_err(|e| ("value", e))?;
    let stage = match form.stage.trim() {
        "" => Stage::New,
        other => other.parse::<Stage>().map_err(|e| ("stage", e))?,
    };

    let expected_close = match form.expected_close.trim() {
        "" => None,
        date => Some(NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
            (
                "expected_close",
                format!("Expected close {date:?} is not a date like 2026-03-31."),
            )
        })?),
    };
    let unchanged = was.is_some_and(|o| o.expected_close == expected_close);
    if expected_close.is_some_and(|d| d < today) && !unchanged && !stage.is_closed() {
        let message = format!("Expected close is in the past; today is {today}.");
        return Err(("expected_close", message));
    }

    let owner_id = match form.owner.trim() {
        "" => None,
        id => {
            let id = id.parse::<i64>().ok();
            let known = users.iter().find(|u| Some(u.id) == id && u.active);
            Some(
                known
                    .ok_or(("owner", "Pick the owner from the list.".to_owned()))?
                    .id,
            )
        }
    };
    Ok(OpportunityFields {
        title,
        value_minor,
        currency,
        stage,
        expected_close,
        owner_id,
    })
}

/// The form's values for a stored opportunity.
fn form_of(o: &Opportunity) -> OpportunityForm {
    let digits = minor_digits(&o.currency);
    let scale = 10i64.pow(digits);
    let value = match digits {
        0 => o.value_minor.to_string(),
        _ => format!(
            "{}.{:0w$}",
            o.value_minor / scale,
            o.value_minor % scale,
            w = digits as usize
        ),
    };
    OpportunityForm {
        title: o.title.clone(),
        value,
        currency: o.currency.clone(),
        stage: o.stage.as_str().into(),
        expected_close: o.expected_close.map(|d| d.to_string()).unwrap_or_default(),
        owner: o.owner_id.map(|id| id.to_string()).unwrap_or_default(),
        version: o.version,
        call: None,
    }
}

/// What the form's owner list shows.
pub struct OwnerOption {
    pub id: String,
    pub name: String,
}

fn owners(users: &[User]) -> Vec<OwnerOption> {
    let active = users.iter().filter(|u| u.active);
    active
        .map(|u| OwnerOption {
            id: u.id.to_string(),
            name: u.name().to_owned(),
        })
        .collect()
}

/// The company's today, for expected close dates.
fn today(state: &AppState) -> NaiveDate {
    Utc::now().with_timezone(&state.company.tz()).date_naive()
}

#[derive(Template)]
#[template(path = "opportunity_new.html")]
struct NewPage {
    nav: Option<Nav>,
    topic: TopicHead,
    form: OpportunityForm,
    error: Option<FieldError>,
    stages: [Stage; 5],
    owners: Vec<OwnerOption>,
}

#[derive(Deserialize)]
pub struct FromCall {
    call: Option<i64>,
}

/// `GET /topics/{id}/opportunities/new?call=`: the title from the topic,
/// the company's currency, the current user as owner.
pub async fn new_form(
    State(state): State<AppState>,
    user: PageUser,
    Path(topic_id): Path<i64>,
    Query(from): Query<FromCall>,
) -> Result<Html<String>, PageError> {
    let topic = topic(&state, &user, topic_id).await?;
    let form = OpportunityForm {
        title: topic.title.clone(),
        currency: state.company.currency.clone(),
        stage: Stage::New.as_str().into(),
        owner: user.id.map(|id| id.to_string()).unwrap_or_default(),
        call: from.call,
        ..OpportunityForm::default()
    };
    let users = state.store.users().await?;
    render(&NewPage {
        nav: Some(user.nav()),
        topic,
        form,
        error: None,
        stages: Stage::ALL,
        owners: owners(&users),
    })
}

/// `POST /topics/{id}/opportunities`: opens it, then goes back to the call
/// it was opened from, or to the opportunity.
pub async fn create(
    State(state): State<AppState>,
    user: PageUser,
    Path(topic_id): Path<i64>,
    Form(form): Form<OpportunityForm>,
) -> Result<Response, PageError> {
    let topic = topic(&state, &user, topic_id).await?;
    let users = state.store.users().await?;
    let fields = match read_form(&form, &users, today(&state), None) {
        Ok(fields) => fields,
        Err((field, message)) => {
            debug!(topic_id, field, %message, "opportunity refused");
            let page = NewPage {
                nav: Some(user.nav()),
                topic,
                form,
                error: Some((field, message)),
                stages: Stage::ALL,
                owners: owners(&users),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };

    let id = state
        .store
        .insert_opportunity(topic_id, &fields, user.id)
        .await
        .map_err(|e| edit_failed(e, &user))?;
    info!(opportunity_id = id, topic_id, username = %user.username, "opportunity opened");
    let to = match form.call {
        Some(call) => format!("/calls/{call}"),
        None => format!("/opportunities/{id}?done=opened"),
    };
    Ok(Redirect::to(&to).into_response())
}

async fn topic(state: &AppState, user: &CurrentUser, id: i64) -> Result<TopicHead, PageError> {
    let topic = state
        .store
        .topic_head(id)
        .await
        .map_err(|e| with_nav(e.into(), user))?;
    topic.ok_or_else(|| with_nav(WebError::NotFound, user))
}

#[derive(Template)]
#[template(path = "opportunity.html")]
struct EditPage {
    nav: Option<Nav>,
    opportunity: Opportunity,
    form: OpportunityForm,
    error: Option<FieldError>,
    notice: Option<&'static str>,
    stages: [Stage; 5],
    owners: Vec<OwnerOption>,
    history: Vec<StageChange>,
    zone: Zone,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /opportunities/{id}`.
pub async fn show(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Html<String>, PageError> {
    let opportunity = load(&state, &user, id).await?;
    let notice = match done.done.as_deref() {
        Some("opened") => Some("Opportunity opened."),
        Some("saved") => Some("Saved."),
        _ => None,
    };
    let form = form_of(&opportunity);
    render(&edit_page(&state, &user, opportunity, form, None, notice).await?)
}

async fn edit_page(
    state: &AppState,
    user: &CurrentUser,
    opportunity: Opportunity,
    form: OpportunityForm,
    error: Option<FieldError>,
    notice: Option<&'static str>,
) -> Result<EditPage, PageError> {
    let epoch = chrono::DateTime::UNIX_EPOCH;
    let history = state
        .store
        .stage_changes(epoch, Some(opportunity.id), 100)
        .await?;
    let users = state.store.users().await?;
    Ok(EditPage {
        nav: Some(user.nav()),
        opportunity,
        form,
        error,
        notice,
        stages: Stage::ALL,
        owners: owners(&users),
        history,
        zone: Zone::of(state),
    })
}

/// `POST /opportunities/{id}`: saves it if nobody changed it since the form
/// was read; a new stage is written down.
pub async fn edit(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Form(form): Form<OpportunityForm>,
) -> Result<Response, PageError> {
    let opportunity = load(&state, &user, id).await?;
    let users = state.store.users().await?;
    let fields = match read_form(&form, &users, today(&state), Some(&opportunity)) {
        Ok(fields) => fields,
        Err((field, message)) => {
            debug!(opportunity_id = id, field, %message, "opportunity edit refused");
            let page = edit_page(
                &state,
                &user,
                opportunity,
                form,
                Some((field, message)),
                None,
            );
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page.await?)?).into_response());
        }
    };

    match state
        .store
        .update_opportunity(id, form.version, &fields, user.id)
        .await
    {
        Ok(version) => {
            let (stage, username) = (fields.stage.as_str(), &user.username);
            info!(opportunity_id = id, version, stage, %username, "opportunity edited");
            Ok(Redirect::to(&format!("/opportunities/{id}?done=saved")).into_response())
        }
        Err(EditError::Stale(current)) => {
            warn!(
                opportunity_id = id,
                version = form.version,
                current,
                "opportunity edit refused: stale"
            );
            // The typed values stay; the version becomes the current one,
            // so that saving again overwrites knowingly.
            let mut form = form;
            form.version = current;
            let error = Some(("title", STALE.to_owned()));
            let page = edit_page(&state, &user, opportunity, form, error, None).await?;
            Ok((StatusCode::CONFLICT, render(&page)?).into_response())
        }
        Err(e) => Err(edit_failed(e, &user)),
    }
}

async fn load(state: &AppState, user: &CurrentUser, id: i64) -> Result<Opportunity, PageError> {
    let found = state
        .store
        .opportunity(id)
        .await
        .map_err(|e| with_nav(e.into(), user))?;
    found.ok_or_else(|| with_nav(WebError::NotFound, user))
}

/// One stage of the channel: its open opportunities and their totals.
pub struct StageGroup {
    pub stage: Stage,
    pub opportunities: Vec<Opportunity>,
    /// One total per currency, written for people.
    pub totals: Vec<String>,
}

#[derive(Template)]
#[template(path = "opportunities.html")]
struct ChannelPage {
    nav: Option<Nav>,
    groups: Vec<StageGroup>,
    recent: Vec<StageChange>,
    days: i64,
    zone: Zone,
}

/// Open opportunities grouped by stage, in stage order, with totals per
/// currency.
pub fn group_by_stage(open: Vec<Opportunity>) -> Vec<StageGroup> {
    let mut groups: Vec<StageGroup> = Vec::new();
    for stage in Stage::ALL.into_iter().filter(|s| !s.is_closed()) {
        let opportunities: Vec<Opportunity> =
            open.iter().filter(|o| o.stage == stage).cloned().collect();
        let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
        for o in &opportunities {
            *sums.entry(o.currency.as_str()).or_default() += o.value_minor;
        }
        let totals = sums
            .iter()
            .map(|(currency, sum)| money(*sum, currency))
            .collect();
        groups.push(StageGroup {
            stage,
            opportunities,
            totals,
        });
    }
    groups
}

/// `GET /opportunities`: the sales channel.
pub async fn channel(
    State(state): State<AppState>,
    user: PageUser,
) -> Result<Html<String>, PageError> {
    let open = state.store.opportunities(true, CHANNEL_LIMIT).await?;
    let since = Utc::now() - Duration::days(RECENT_DAYS);
    render(&ChannelPage {
        nav: Some(user.nav()),
        groups: group_by_stage(open),
        recent: state.store.stage_changes(since, None, 200).await?,
        days: RECENT_DAYS,
        zone: Zone::of(&state),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(value: &str, currency: &str, close: &str) -> OpportunityForm {
        OpportunityForm {
            title: "Renewal".into(),
            value: value.into(),
            currency: currency.into(),
            expected_close: close.into(),
            ..OpportunityForm::default()
        }
    }

    #[test]
    fn forms_are_read_or_refused_by_field() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let read = read_form(&form("1,250.5", "usd", "2026-12-04"), &[], today, None).unwrap();
        assert_eq!((read.value_minor, read.currency.as_str()), (125_050, "USD"));
        assert_eq!(read.stage, Stage::New);
        let refused = |f: OpportunityForm| read_form(&f, &[], today, None).unwrap_err().0;
        assert_eq!(refused(form("12", "US", "")), "currency");
        assert_eq!(refused(form("-5", "USD", "")), "value");
        assert_eq!(refused(form("1.234", "USD", "")), "value");
        assert_eq!(refused(form("1", "USD", "2026-12-03")), "expected_close");
        assert_eq!(refused(form("1", "USD", "31/12/2026")), "expected_close");
        let mut owned = form("1", "USD", "");
        owned.owner = "7".into();
        assert_eq!(refused(owned), "owner");
        let mut closed = form("1", "USD", "2026-01-01");
        closed.stage = "won".into();
        assert!(
            read_form(&closed, &[], today, None).is_ok(),
            "a closed sale may be dated back"
        );
    }

    #[test]
    fn amounts_read_and_written_in_the_currencys_units() {
        assert_eq!(parse_money("1250", "JPY"), Ok(1250));
        assert!(parse_money("1250.5", "JPY").is_err());
        assert_eq!(parse_money("0.125", "KWD"), Ok(125));
        assert_eq!(parse_money("", "USD"), Ok(0));
        assert!(parse_money(".", "USD").is_err());
        assert!(parse_money("99999999999999", "USD").is_err());
        assert_eq!(money(1_250_050, "USD"), "12,500.50 USD");
        assert_eq!(money(1250, "JPY"), "1,250 JPY");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
    }
}
