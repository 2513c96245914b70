//! Callbacks and the calendar: scheduling a callback beside the owner's day
//! (a clash is a warning to confirm, the past is refused), marking one done
//! or cancelled, `/calendar` with each rep's week, and each user's calendar
//! feed at a secret URL for the calendar app they already use.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};
use utoipa::{IntoParams, ToSchema};

use super::auth::{ApiUser, CurrentUser, PageUser};
use super::calls::{local, parse_local, YEARS};
use super::error::PageError;
use super::openapi::ErrorBody;
use super::pages::{render, Nav};
use super::topics::safe_back;
use super::{AppState, WebError};
use crate::auth::{secret, Role};
use crate::store::callbacks::{Callback, NewCallback, TopicNotOpen};
use crate::store::topics::Topic;
use crate::store::users::User;

/// The longest note a callback keeps.
const MAX_NOTE: usize = 1_000;
/// How long a callback may be, in minutes.
const MINUTES: std::ops::RangeInclusive<i64> = 5..=480;

/// What the callback form holds, as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallbackForm {
    /// Whose calendar: a user id.
    pub user: String,
    /// `YYYY-MM-DD` in the company's zone.
    pub date: String,
    /// `HH:MM`.
    pub time: String,
    /// A free slot picked from the day view, `HH:MM`; wins over `time`.
    pub slot: String,
    pub minutes: String,
    pub note: String,
    /// Set when the rep saw the clash warning and schedules anyway.
    pub confirm: String,
    /// The call page to go back to.
    pub call: String,
}

#[derive(Template)]
#[template(path = "callback_new.html")]
struct CallbackPage {
    nav: Option<Nav>,
    topic: Topic,
    form: CallbackForm,
    /// Everyone whose calendar this user may fill.
    owners: Vec<(i64, String)>,
    day: Vec<(Callback, String)>,
    /// The working day in half hours: the time, and whether it is free.
    slots: Vec<(String, bool)>,
    day_label: String,
    zone: String,
    error: Option<String>,
    clashes: Vec<(Callback, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    pub call: Option<i64>,
    pub user: Option<i64>,
    pub date: Option<String>,
}

/// `/topics/{id}/callbacks/new`: the form beside the owner's day.
pub async fn new_form(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Query(query): Query<CallbackQuery>,
) -> Result<Html<String>, PageError> {
    let tz = state.company.tz();
    let tomorrow = (Utc::now().with_timezone(&tz) + Duration::days(1)).date_naive();
    let form = CallbackForm {
        user: query
            .user
            .or(user.id)
            .map(|u| u.to_string())
            .unwrap_or_default(),
        date: query.date.unwrap_or_else(|| tomorrow.to_string()),
        time: String::new(),
        minutes: "15".into(),
        call: query.call.map(|c| c.to_string()).unwrap_or_default(),
        ..CallbackForm::default()
    };
    render(&callback_page(&state, &user, id, form, None, Vec::new()).await?)
}

/// Schedules a callback, or says why not with the form as typed.
pub async fn create(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Form(form): Form<CallbackForm>,
) -> Result<Response, PageError> {
    let topic = state.store.topic(id).await?.ok_or(WebError::NotFound)?;
    let again = |status: StatusCode, error: String, clashes: Vec<Callback>| {
        let (state, user, form) = (&state, &user, form.clone());
        async move {
            let page = callback_page(state, user, id, form, Some(error), clashes).await?;
            Ok::<Response, PageError>((status, render(&page)?).into_response())
        }
    };
    if !topic.is_open() {
        debug!(topic_id = id, "callback refused: topic resolved");
        let message = "This topic is resolved; reopen it to schedule a callback.".into();
        return again(StatusCode::CONFLICT, message, Vec::new()).await;
    }

    let owner = match form.user.trim().parse::<i64>().ok().or(user.id) {
        Some(owner) => owner,
        None => {
            return again(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Pick a rep.".into(),
                vec![],
            )
            .await
        }
    };
    if Some(owner) != user.id && !user.is_at_least(Role::Manager) {
        warn!(topic_id = id, owner, username = %user.username,
              "callback refused: a rep scheduling on another's calendar");
        let message = "Reps schedule callbacks on their own calendar.".into();
        return again(StatusCode::FORBIDDEN, message, Vec::new()).await;
    }
    if state.store.user(owner).await?.is_none_or(|u| !u.active) {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "No such rep.".into(),
            vec![],
        )
        .await;
    }

    let new = match parse_callback(&state, &form, id, owner, user.id) {
        Ok(new) => new,
        Err(message) => {
            debug!(topic_id = id, username = %user.username, %message, "callback not valid");
            return again(StatusCode::UNPROCESSABLE_ENTITY, message, Vec::new()).await;
        }
    };
    let clashes = state
        .store
        .clashing_callbacks(owner, new.due_at, new.minutes)
        .await?;
    if !clashes.is_empty() && form.confirm != "yes" {
        debug!(
            topic_id = id,
            owner,
            clashes = clashes.len(),
            "callback clashes"
        );
        let message = "This overlaps another callback on that calendar. Tick \
                       \"schedule anyway\" to keep both, or pick a free slot."
            .into();
        return again(StatusCode::CONFLICT, message, clashes).await;
    }

    let callback_id = match state.store.insert_callback(&new).await {
        Ok(id) => id,
        Err(e) if e.is::<TopicNotOpen>() => {
            let message = "This topic was resolved meanwhile; nothing was scheduled.".into();
            return again(StatusCode::CONFLICT, message, Vec::new()).await;
        }
        Err(e) => return Err(e.into()),
    };
    info!(callback_id, topic_id = id, owner, username = %user.username, "callback scheduled");
    let back = match form.call.trim().parse::<i64>() {
        Ok(call) => format!("/calls/{call}?customer={}", topic.customer_id),
        Err(_) => format!("/topics/{id}"),
    };
    Ok(Redirect::to(&back).into_response())
}

/// Reads the date, time, length and note; refuses the past.
fn parse_callback(
    state: &AppState,
    form: &CallbackForm,
    topic_id: i64,
    owner: i64,
    by: Option<i64>,
) -> Result<NewCallback, String> {
    let tz = state.company.tz();
    let time = match form.slot.trim() {
        "" => form.time.trim(),
        slot => slot,
    };
    let text = format!("{} {}", form.date.trim(), time);
    let due_at = parse_local(tz, &text).ok_or_else(|| {
        let readable = chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M")
            .is_ok_and(|t| YEARS.contains(&t.year()));
        match readable {
            // Read, but not a time there: the hour skipped when clocks go on.
            true => format!("{text} does not exist in {tz}: the clocks skip it; pick another."),
            false => "Give a date as YYYY-MM-DD and a time as HH:MM.".to_owned(),
        }
    })?;
    let now = Utc::now();
    if due_at <= now {
        return Err("That time has passed; pick one in the future.".into());
    }
    let minutes = match form.minutes.trim() {
        "" => 15,
        text => text.parse::<i64>().unwrap_or(0),
    };
    if !MINUTES.contains(&minutes) {
        return Err(format!(
            "A callback lasts {} to {} minutes.",
            MINUTES.start(),
            MINUTES.end()
        ));
    }
    let note = form.note.trim();
    if note.chars().count() > MAX_NOTE {
        return Err(format!("A note has at most {MAX_NOTE} characters."));
    }
    Ok(NewCallback {
        topic_id,
        user_id: owner,
        contact_id: None,
        due_at,
        minutes,
        note: note.to_owned(),
        created_by: by,
        created_at: now,
    })
}

async fn callback_page(
    state: &AppState,
    user: &CurrentUser,
    topic_id: i64,
    form: CallbackForm,
    error: Option<String>,
    clashes: Vec<Callback>,
) -> Result<CallbackPage, PageError> {
    let Some(topic) = state.store.topic(topic_id).await? else {
        return Err(PageError::from(WebError::NotFound).with_nav(user.nav()));
    };
    let tz = state.company.tz();
    let owners: Vec<(i64, String)> = match user.is_at_least(Role::Manager) {
        true => state
            .store
            .users()
            .await?
            .into_iter()
            .filter(|u| u.active)
            .map(|u: User| (u.id, u.name().to_owned()))
            .collect(),
        false => user
            .id
            .map(|id| (id, user.name.clone()))
            .into_iter()
            .collect(),
    };

    // The owner's day, so a free slot can be picked.
    let owner = form.user.trim().parse::<i64>().ok().or(user.id);
    let date = NaiveDate::parse_from_str(form.date.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| YEARS.contains(&d.year()));
    let mut day = Vec::new();
    let mut day_label = "—".to_owned();
    let mut slots = Vec::new();
    if let (Some(owner), Some(date)) = (owner, date) {
        let (from, until) = day_bounds(tz, date);
        day_label = date.format("%A %Y-%m-%d").to_string();
        let visible = Some(owner) == user.id || user.is_at_least(Role::Manager);
        if visible {
            for b in state.store.user_callbacks(owner, from, until).await? {
                let at = local(tz, Some(b.due_at));
                day.push((b, at));
            }
            slots = free_slots(tz, date, &day, Utc::now());
        }
    }
    let with_time = |b: Callback| {
        let at = local(tz, Some(b.due_at));
        (b, at)
    };
    Ok(CallbackPage {
        nav: Some(user.nav()),
        topic,
        form,
        owners,
        day,
        slots,
        day_label,
        zone: state.company.time_zone.clone(),
        error,
        clashes: clashes.into_iter().map(with_time).collect(),
    })
}

/// The half hours from 08:00 to 18:00 of `date` that are still to come,
/// each free unless a scheduled callback overlaps it.
fn free_slots(
    tz: chrono_tz::Tz,
    date: NaiveDate,
    day: &[(Callback, String)],
    now: DateTime<Utc>,
) -> Vec<(String, bool)> {
    let mut slots = Vec::new();
    for half in 16..36 {
        let text = format!("{:02}:{:02}", half / 2, half % 2 * 30);
        let Some(start) = parse_local(tz, &format!("{date} {text}")) else {
            continue;
        };
        if start <= now {
            continue;
        }
        let end = start + Duration::minutes(30);
        let busy = day
            .iter()
            .any(|(b, _)| b.is_scheduled() && b.due_at < end && b.ends_at() > start);
        slots.push((text, !busy));
    }
    slots
}

/// The first instant of `date` in `tz` and of the day after.
fn day_bounds(tz: chrono_tz::Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap()))
    };
    (start(date), start(date + Duration::days(1)))
}

/// What the done and cancel buttons send.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CloseForm {
    pub back: String,
}

/// Marks a callback done.
pub async fn done(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Form(form): Form<CloseForm>,
) -> Result<Response, PageError> {
    close(&state, &user, id, "done", form).await
}

/// Cancels a callback.
pub async fn cancel(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<i64>,
    Form(form): Form<CloseForm>,
) -> Result<Response, PageError> {
    close(&state, &user, id, "cancelled", form).await
}

async fn close(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    status: &str,
    form: CloseForm,
) -> Result<Response, PageError> {
    match close_one(state, user, id, status).await {
        Ok(()) => {
            let back = safe_back(&form.back).unwrap_or_else(|| "/calendar".into());
            Ok(Redirect::to(&back).into_response())
        }
        Err(e) => Err(PageError::from(e).with_nav(user.nav())),
    }
}

/// Closes a callback its owner, or a manager or admin, closes.
async fn close_one(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    status: &str,
) -> Result<(), WebError> {
    let callback = state.store.callback(id).await?.ok_or(WebError::NotFound)?;
    if Some(callback.user_id) != user.id && !user.is_at_least(Role::Manager) {
        warn!(callback_id = id, username = %user.username, "callback change refused: not theirs");
        return Err(WebError::Forbidden(
            "Reps close their own callbacks only.".into(),
        ));
    }
    let reason = format!("marked {status} by {}", user.name);
    if !state
        .store
        .close_callback(id, status, user.id, &reason, Utc::now())
        .await?
    {
        debug!(callback_id = id, "callback already closed");
        return Err(WebError::BadRequest(
            "This callback was already closed.".into(),
        ));
    }
    info!(callback_id = id, status, username = %user.username, "callback closed");
    Ok(())
}

/// One day of a week view.
struct Day {
    label: String,
    callbacks: Vec<(Callback, String, bool)>,
}

/// One rep's week, or their line in the team overview.
struct RepWeek {
    id: i64,
    name: String,
    days: Vec<Day>,
    due: usize,
    done: usize,
    overdue: Vec<(Callback, String)>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    nav: Option<Nav>,
    week: String,
    previous: String,
    next: String,
    reps: Vec<RepWeek>,
    team: bool,
    zone: String,
    feed: Option<String>,
    feed_since: Option<String>,
    path: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    /// `YYYY-Www`, the ISO week; this week when absent.
    pub week: Option<String>,
    pub user: Option<i64>,
}

/// `/calendar`: your week, or for managers every rep's.
pub async fn show(
    State(state): State<AppState>,
    user: PageUser,
    Query(query): Query<CalendarQuery>,
) -> Result<Response, PageError> {
    Ok(render(&calendar_page(&state, &user, query, None).await?)?.into_response())
}

async fn calendar_page(
    state: &AppState,
    user: &CurrentUser,
    query: CalendarQuery,
    feed: Option<String>,
) -> Result<CalendarPage, PageError> {
    let tz = state.company.tz();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let monday = match query.week.as_deref().and_then(parse_week) {
        Some(monday) => monday,
        None => today - Duration::days(today.weekday().num_days_from_monday().into()),
    };
    let manager = user.is_at_least(Role::Manager);
    let people: Vec<(i64, String)> = match (query.user, manager) {
        (Some(other), _) if Some(other) == user.id => vec![(other, user.name.clone())],
        (Some(other), true) => match state.store.user(other).await? {
            Some(u) => vec![(u.id, u.name().to_owned())],
            None => return Err(PageError::from(WebError::NotFound).with_nav(user.nav())),
        },
        (Some(_), false) => {
            let refused = WebError::Forbidden("Reps see their own calendar.".into());
            return Err(PageError::from(refused).with_nav(user.nav()));
        }
        (None, true) => state
            .store
            .users()
            .await?
            .into_iter()
            .filter(|u| u.active)
            .map(|u| (u.id, u.name().to_owned()))
            .collect(),
        (None, false) => user
            .id
            .map(|id| (id, user.name.clone()))
            .into_iter()
            .collect(),
    };

    let now = Utc::now();
    let mut reps = Vec::new();
    for (id, name) in people {
        reps.push(rep_week(state, tz, id, name, monday, now).await?);
    }
    let feed_since = match user.id {
        Some(id) => state
            .store
            .calendar_feed_since(id)
            .await?
            .map(|t| local(tz, Some(t))),
        None => None,
    };
    let week = iso_week(monday);
    Ok(CalendarPage {
        nav: Some(user.nav()),
        previous: iso_week(monday - Duration::days(7)),
        next: iso_week(monday + Duration::days(7)),
        team: query.user.is_none() && manager,
        path: format!("/calendar?week={week}"),
        week,
        reps,
        zone: state.company.time_zone.clone(),
        feed,
        feed_since,
    })
}

async fn rep_week(
    state: &AppState,
    tz: chrono_tz::Tz,
    id: i64,
    name: String,
    monday: NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<RepWeek> {
    let (from, _) = day_bounds(tz, monday);
    let (until, _) = day_bounds(tz, monday + Duration::days(7));
    let callbacks = state.store.user_callbacks(id, from, until).await?;
    let mut days = Vec::new();
    for offset in 0..7 {
        let date = monday + Duration::days(offset);
        let (start, end) = day_bounds(tz, date);
        let on_day = callbacks
            .iter()
            .filter(|b| b.due_at >= start && b.due_at < end)
            .map(|b| {
                let overdue = b.is_scheduled() && b.due_at < now;
                (
                    b.clone(),
                    b.due_at.with_timezone(&tz).format("%H:%M").to_string(),
                    overdue,
                )
            })
            .collect();
        let label = date.format("%a %m-%d").to_string();
        days.push(Day {
            label,
            callbacks: on_day,
        });
    }
    let overdue = state
        .store
        .scheduled_callbacks(id)
        .await?
        .into_iter()
        .filter(|b| b.due_at < now)
        .map(|b| {
            let at = local(tz, Some(b.due_at));
            (b, at)
        })
        .collect();
    Ok(RepWeek {
        id,
        name,
        due: callbacks.iter().filter(|b| b.is_scheduled()).count(),
        done: callbacks.iter().filter(|b| b.status == "done").count(),
        days,
        overdue,
    })
}

/// `YYYY-Www` to that week's Monday.
fn parse_week(text: &str) -> Option<NaiveDate> {
    let (year, week) = text.trim().split_once("-W")?;
    let year = year.parse().ok().filter(|y| YEARS.contains(y))?;
    NaiveDate::from_isoywd_opt(year, week.parse().ok()?, Weekday::Mon)
}

fn iso_week(monday: NaiveDate) -> String {
    let week = monday.iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}

/// Makes a new feed link for the signed-in user, replacing the old one, and
/// shows it once.
pub async fn new_feed(
    State(state): State<AppState>,
    user: PageUser,
) -> Result<Response, PageError> {
    let Some(id) = user.id else {
        return Err(WebError::NotFound.into());
    };
    let token = secret::random()?;
    state
        .store
        .set_calendar_feed(id, &secret::digest(&token), Utc::now())
        .await?;
    info!(username = %user.username, "calendar feed link replaced");
    let url = format!("{}/feeds/{token}.ics", state.base_url.trim_end_matches('/'));
    let page = calendar_page(&state, &user, CalendarQuery::default(), Some(url)).await?;
    Ok((StatusCode::CREATED, render(&page)?).into_response())
}

/// `/feeds/{secret}.ics`: the user's scheduled callbacks as iCalendar. No
/// session: the secret in the URL is the key, and an unknown one is a 404.
pub async fn feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, WebError> {
    let Some(token) = file.strip_suffix(".ics").filter(|t| secret::is_secret(t)) else {
        debug!("calendar feed refused: malformed link");
        return Err(WebError::NotFound);
    };
    let Some(user_id) = state
        .store
        .calendar_feed_user(&secret::digest(token))
        .await?
    else {
        debug!("calendar feed refused: unknown link");
        return Err(WebError::NotFound);
    };
    let callbacks = state.store.scheduled_callbacks(user_id).await?;
    let body = ics(&state.base_url, &callbacks);
    Ok((
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        body,
    )
        .into_response())
}

/// The callbacks as an iCalendar document. The library escapes `,` `;`
/// `\` and line feeds but not a bare carriage return, which some calendar
/// apps read as a line break: text is cleaned of control characters first
/// (line feeds kept in the note), so no one can add lines to the feed.
fn ics(base_url: &str, callbacks: &[Callback]) -> String {
    use icalendar::{Calendar, Component, Event, EventLike};

    let line = |text: &str| text.replace(|c: char| c.is_control(), " ");
    let note = |text: &str| {
        let text = text.replace("\r\n", "\n");
        text.replace(|c: char| c.is_control() && c != '\n', " ")
    };
    let mut calendar = Calendar::new();
    calendar.name("callpop callbacks");
    for b in callbacks {
        let event = Event::new()
            .uid(&format!("callback-{}@callpop", b.id))
            .summary(&line(&format!(
                "Call back {}: {}",
                b.customer_name, b.topic_title
            )))
            .description(&note(&b.note))
            .url(&format!(
                "{}/topics/{}",
                base_url.trim_end_matches('/'),
                b.topic_id
            ))
            .starts(b.due_at)
            .ends(b.ends_at())
            .done();
        calendar.push(event);
    }
    calendar.done().to_string()
}

/// Which callbacks the API lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbacksQuery {
    /// Whose; your own when absent. Others' are for managers and admins.
    pub user: Option<i64>,
    /// From this time (RFC 3339); every scheduled one when absent.
    pub from: Option<DateTime<Utc>>,
    /// Until this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

/// `GET /api/v1/callbacks`.
#[utoipa::path(
    get, path = "/api/v1/callbacks", tag = "callbacks",
    operation_id = "list_callbacks",
    params(CallbacksQuery),
    responses(
        (status = 200, description = "Scheduled callbacks, or all in the range",
         body = Vec<Callback>),
        (status = 400, description = "Whose callbacks was not said", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A rep asking for another's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_list(
    State(state): State<AppState>,
    user: ApiUser,
    Query(query): Query<CallbacksQuery>,
) -> Result<Json<Vec<Callback>>, WebError> {
    let Some(owner) = query.user.or(user.id) else {
        return Err(WebError::BadRequest("say whose callbacks: ?user=".into()));
    };
    if Some(owner) != user.id && !user.is_at_least(Role::Manager) {
        return Err(WebError::Forbidden("reps see their own callbacks".into()));
    }
    let list = match (query.from, query.until) {
        (None, None) => state.store.scheduled_callbacks(owner).await?,
        (from, until) => {
            let from = from.unwrap_or(DateTime::<Utc>::MIN_UTC);
            let until = until.unwrap_or(DateTime::<Utc>::MAX_UTC);
            state.store.user_callbacks(owner, from, until).await?
        }
    };
    Ok(Json(list))
}

/// `GET /api/v1/callbacks/{id}`.
#[utoipa::path(
    get, path = "/api/v1/callbacks/{id}", tag = "callbacks",
    operation_id = "get_callback",
    params(("id" = i64, Path, description = "The callback")),
    responses(
        (status = 200, description = "The callback", body = Callback),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A rep asking for another's", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_one(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<Callback>, WebError> {
    let callback = state.store.callback(id).await?.ok_or(WebError::NotFound)?;
    if Some(callback.user_id) != user.id && !user.is_at_least(Role::Manager) {
        return Err(WebError::Forbidden("reps see their own callbacks".into()));
    }
    Ok(Json(callback))
}

/// A callback to schedule through the API.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCallbackRequest {
    pub topic_id: i64,
    /// Whose calendar; your own when absent.
    pub user_id: Option<i64>,
    /// When to call back (RFC 3339); must be in the future.
    pub due_at: DateTime<Utc>,
    /// How long, 5 to 480; 15 unless said.
    #[serde(default = "fifteen")]
    pub minutes: i64,
    /// At most 1000 characters.
    #[serde(default)]
    pub note: String,
    /// Schedule even when it overlaps another callback of the owner.
    #[serde(default)]
    pub allow_clash: bool,
}

fn fifteen() -> i64 {
    15
}

/// The callback made, or the ones it clashes with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledResponse {
    /// The callback made; none when refused for a clash.
    pub callback: Option<Callback>,
    /// The owner's callbacks it overlaps.
    pub clashes: Vec<Callback>,
}

/// `POST /api/v1/callbacks`: 201, or 409 with the clashes.
#[utoipa::path(
    post, path = "/api/v1/callbacks", tag = "callbacks",
    operation_id = "schedule_callback",
    request_body = NewCallbackRequest,
    responses(
        (status = 201, description = "Scheduled", body = ScheduledResponse),
        (status = 400, description = "In the past, a length out of range, a resolved topic, \
                                      a note too long or no such user", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A rep scheduling on another's calendar",
         body = ErrorBody),
        (status = 404, description = "No such topic", body = ErrorBody),
        (status = 409, description = "It clashes; send again with `allow_clash`",
         body = ScheduledResponse),
    ),
    security(("bearer" = []))
)]
pub async fn api_create(
    State(state): State<AppState>,
    user: ApiUser,
    Json(request): Json<NewCallbackRequest>,
) -> Result<(StatusCode, Json<ScheduledResponse>), WebError> {
    let topic = state
        .store
        .topic(request.topic_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let Some(owner) = request.user_id.or(user.id) else {
        return Err(WebError::BadRequest("say whose calendar: user_id".into()));
    };
    if Some(owner) != user.id && !user.is_at_least(Role::Manager) {
        return Err(WebError::Forbidden(
            "reps schedule on their own calendar".into(),
        ));
    }
    if !topic.is_open() {
        return Err(WebError::BadRequest("the topic is resolved".into()));
    }
    let now = Utc::now();
    if request.due_at <= now || !MINUTES.contains(&request.minutes) {
        return Err(WebError::BadRequest(
            "due_at must be in the future and minutes from 5 to 480".into(),
        ));
    }
    if request.note.chars().count() > MAX_NOTE {
        return Err(WebError::BadRequest("note too long".into()));
    }
    if state.store.user(owner).await?.is_none_or(|u| !u.active) {
        return Err(WebError::BadRequest("no such user".into()));
    }
    let clashes = state
        .store
        .clashing_callbacks(owner, request.due_at, request.minutes)
        .await?;
    if !clashes.is_empty() && !request.allow_clash {
        let body = ScheduledResponse {
            callback: None,
            clashes,
        };
        return Ok((StatusCode::CONFLICT, Json(body)));
    }
    let new = NewCallback {
        topic_id: topic.id,
        user_id: owner,
        contact_id: None,
        due_at: request.due_at,
        minutes: request.minutes,
        note: request.note.trim().to_owned(),
        created_by: user.id,
        created_at: now,
    };
    let id = match state.store.insert_callback(&new).await {
        Ok(id) => id,
        Err(e) if e.is::<TopicNotOpen>() => {
            return Err(WebError::BadRequest("the topic is resolved".into()))
        }
        Err(e) => return Err(e.into()),
    };
    let callback = state.store.callback(id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ScheduledResponse { callback, clashes }),
    ))
}

/// `POST /api/v1/callbacks/{id}/done`.
#[utoipa::path(
    post, path = "/api/v1/callbacks/{id}/done", tag = "callbacks",
    operation_id = "callback_done",
    params(("id" = i64, Path, description = "The callback")),
    responses(
        (status = 200, description = "The callback, done", body = Callback),
        (status = 400, description = "Already closed", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A rep closing another's callback", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_done(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<Callback>, WebError> {
    close_one(&state, &user, id, "done").await?;
    Ok(Json(
        state.store.callback(id).await?.ok_or(WebError::NotFound)?,
    ))
}

/// `POST /api/v1/callbacks/{id}/cancel`.
#[utoipa::path(
    post, path = "/api/v1/callbacks/{id}/cancel", tag = "callbacks",
    operation_id = "cancel_callback",
    params(("id" = i64, Path, description = "The callback")),
    responses(
        (status = 200, description = "The callback, cancelled", body = Callback),
        (status = 400, description = "Already closed", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A rep closing another's callback", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_cancel(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<Callback>, WebError> {
    close_one(&state, &user, id, "cancelled").await?;
    Ok(Json(
        state.store.callback(id).await?.ok_or(WebError::NotFound)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_iso_weeks_both_ways() {
        assert_eq!(
            parse_week("262142-W52"),
            None,
            "beyond the years a date may take"
        );
        let monday = parse_week("2026-W49").unwrap();
        assert_eq!(monday.to_string(), "2026-11-30");
        assert_eq!(iso_week(monday), "2026-W49");
        // The first ISO week of 2027 starts in 2027; of 2026, in 2025.
        assert_eq!(parse_week("2026-W01").unwrap().to_string(), "2025-12-29");
        assert_eq!(iso_week(parse_week("2026-W01").unwrap()), "2026-W01");
        assert_eq!(parse_week("2026-W54"), None);
        assert_eq!(parse_week("2026-49"), None);
    }

    #[test]
    fn days_and_typed_times_are_read_in_the_company_zone() {
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let (start, end) = day_bounds(berlin, NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
        assert_eq!(start.to_rfc3339(), "2026-06-30T22:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-07-01T22:00:00+00:00");

        let new_york: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let at = parse_local(new_york, "2026-01-15 13:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-01-15T18:00:00+00:00");
        assert_eq!(parse_local(new_york, "2026-01-15T13:00"), Some(at));
        assert_eq!(parse_local(new_york, "15/01/2026 13:00"), None);
        // 02:30 does not exist on the night clocks go forward.
        assert_eq!(parse_local(new_york, "2026-03-08 02:30"), None);
    }

    #[test]
    fn the_feed_holds_each_callback_with_its_text_escaped() {
        let due = Utc.with_ymd_and_hms(2026, 12, 5, 13, 0, 0).unwrap();
        let callback = Callback {
            id: 7,
            topic_id: 3,
            topic_title: "Invoice; paid, twice".into(),
            customer_id: 1,
            customer_name: "Acme".into(),
            user_id: 1,
            user: "anna".into(),
            contact: None,
            due_at: due,
            minutes: 15,
            note: "line one\nline two".into(),
            status: "scheduled".into(),
            closed_by: None,
            closed_at: None,
            close_reason: String::new(),
        };
        let ics = ics("http://crm.example", &[callback]);
        assert!(ics.contains("UID:callback-7@callpop"), "{ics}");
        assert!(ics.contains("DTSTART:20261205T130000Z"), "{ics}");
        assert!(ics.contains("DTEND:20261205T131500Z"), "{ics}");
        assert!(
            ics.contains("SUMMARY:Call back Acme: Invoice\\; paid\\, twice"),
            "{ics}"
        );
        assert!(ics.contains("DESCRIPTION:line one\\nline two"), "{ics}");
    }

    #[test]
    fn text_with_carriage_returns_adds_no_line_to_the_feed() {
        let due = Utc.with_ymd_and_hms(2026, 12, 5, 13, 0, 0).unwrap();
        let callback = Callback {
            id: 8,
            topic_id: 3,
            topic_title: "Line1\rX-INJ:evil\r\nBEGIN:VEVENT".into(),
            customer_id: 1,
            customer_name: "Acme".into(),
            user_id: 1,
            user: "anna".into(),
            contact: None,
            due_at: due,
            minutes: 15,
            note: "n1\r\nDTSTART:x\rATTENDEE:mailto:x@evil".into(),
            status: "scheduled".into(),
            closed_by: None,
            closed_at: None,
            close_reason: String::new(),
        };
        let ics = ics("http://crm.example", &[callback]);
        let lines: Vec<&str> = ics.split("\r\n").collect();
        assert!(!lines.iter().any(|l| l.contains('\r')), "{ics:?}");
        for injected in ["X-INJ", "DTSTART:x", "ATTENDEE"] {
            assert!(
                !lines.iter().any(|l| l.starts_with(injected)),
                "{injected}: {ics:?}"
            );
        }
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("BEGIN:VEVENT"))
                .count(),
            1
        );
    }
}
