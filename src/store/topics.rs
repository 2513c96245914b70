//! Topics in the database: the threads a customer's conversations hang on.
//! Pops read how many are open; the pages read, open, resolve and reopen
//! them. Resolving cancels every callback still scheduled on the topic in
//! the same transaction, so no calendar keeps a slot for a settled matter.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{from_millis, millis, on_pool, Store};
use crate::calls::tracker::Topics;

/// Reads the topic inside transaction `$tx`: missing, moved past
/// `$version`, or not in `$from` (the state a change starts from).
macro_rules! check_topic {
    ($tx:ident, $id:expr, $version:expr, $from:expr) => {{
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT status, version FROM topics WHERE id = $1")
                .bind($id)
                .fetch_optional(&mut *$tx)
                .await?;
        match row {
            None => Checked::Missing,
            Some((_, now)) if now != $version => Checked::Stale(now),
            Some((status, _)) if status != $from => Checked::Already,
            Some(_) => Checked::Done(0),
        }
    }};
}

/// Inserts a topic event inside transaction `$tx`.
macro_rules! insert_event {
    ($tx:ident, $topic:expr, $user:expr, $kind:expr, $note:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO topic_events (topic_id, user_id, kind, note, at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($topic)
        .bind($user)
        .bind($kind)
        .bind($note)
        .bind($at)
        .execute(&mut *$tx)
        .await
    };
}
pub(crate) use insert_event;

/// Inserts a topic and its 'opened' event inside transaction `$tx`; the
/// new topic's id.
macro_rules! insert_topic {
    ($tx:ident, $customer:expr, $title:expr, $user:expr, $at:expr) => {
        async {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO topics (customer_id, title, status, opened_at, opened_by) \
                 VALUES ($1, $2, 'open', $3, $4) RETURNING id",
            )
            .bind($customer)
            .bind($title)
            .bind($at)
            .bind($user)
            .fetch_one(&mut *$tx)
            .await?;
            $crate::store::topics::insert_event!($tx, id, $user, "opened", "", $at)?;
            Ok::<i64, sqlx::Error>(id)
        }
        .await
    };
}
pub(crate) use insert_topic;

/// How a user's name is read in SQL: the display name, else the username.
pub(crate) const NAME_OF: &str = "COALESCE(NULLIF(TRIM(display_name), ''), username)";

/// A topic as the pages show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Topic {
    pub id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub title: String,
    /// `open` or `resolved`.
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub opened_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    /// Rises with every resolve and reopen; an edit names the one it saw.
    pub version: i64,
    /// Distinct calls with a conversation on this topic.
    pub calls: i64,
    /// Distinct users who logged a conversation on it.
    pub reps: i64,
}

impl Topic {
    pub fn is_open(&self) -> bool {
        self.status == "open"
    }
}

/// One opening, resolving or reopening of a topic.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TopicEvent {
    pub kind: String,
    pub user: Option<String>,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// Why a change to a topic was not made.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("no such topic")]
    NotFound,
    /// Someone changed it since the page was read; holds today's version.
    #[error("the topic was changed by someone else since this page was loaded")]
    Stale(i64),
    /// It is already in the state asked for.
    #[error("the topic is already {0}")]
    Already(&'static str),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

#[derive(sqlx::FromRow)]
struct TopicRow {
    id: i64,
    customer_id: i64,
    customer_name: String,
    title: String,
    status: String,
    opened_at: i64,
    opened_by: Option<String>,
    resolved_at: Option<i64>,
    resolved_by: Option<String>,
    version: i64,
    calls: i64,
    reps: i64,
}

impl From<TopicRow> for Topic {
    fn from(r: TopicRow) -> Topic {
        Topic {
            id: r.id,
            customer_id: r.customer_id,
            customer_name: r.customer_name,
            title: r.title,
            status: r.status,
            opened_at: from_millis(r.opened_at),
            opened_by: r.opened_by,
            resolved_at: r.resolved_at.map(from_millis),
            resolved_by: r.resolved_by,
            version: r.version,
            calls: r.calls,
            reps: r.reps,
        }
    }
}

fn topic_select(filter: &str) -> String {
    format!(
        "SELECT t.id, t.customer_id, cu.name AS customer_name, t.title, t.status, t.opened_at, \
         (SELECT {NAME_OF} FROM users WHERE id = t.opened_by) AS opened_by, t.resolved_at, \
         (SELECT {NAME_OF} FROM users WHERE id = t.resolved_by) AS resolved_by, t.version, \
         (SELECT COUNT(DISTINCT call_id) FROM conversations WHERE topic_id = t.id) AS calls, \
         (SELECT COUNT(DISTINCT user_id) FROM conversations WHERE topic_id = t.id) AS reps \
         FROM topics t JOIN customers cu ON cu.id = t.customer_id WHERE {filter}"
    )
}

/// What a resolve or reopen found before changing anything.
enum Checked {
    Missing,
    Stale(i64),
    Already,
    Done(u64),
}

impl Store {
    /// Each customer's open topics: how many, and the latest one's title.
    /// Customers with none are left out.
    pub async fn open_topics(&self, customers: &[i64]) -> anyhow::Result<HashMap<i64, Topics>> {
        if customers.is_empty() {
            return Ok(HashMap::new());
        }
        // Ids are integers, so listing them in the SQL text is safe.
        let list = customers
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT customer_id, title FROM topics WHERE status = 'open' \
             AND customer_id IN ({list}) ORDER BY opened_at DESC, id DESC"
        );
        let rows: Vec<(i64, String)> = on_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await
        })
        .context("failed to read open topics")?;

        let mut topics: HashMap<i64, Topics> = HashMap::new();
        for (customer, title) in rows {
            let entry = topics.entry(customer).or_default();
            entry.open += 1;
            entry.latest.get_or_insert(title);
        }
        Ok(topics)
    }

    /// One topic with its counts.
    pub async fn topic(&self, id: i64) -> anyhow::Result<Option<Topic>> {
        let sql = topic_select("t.id = $1");
        let row: Option<TopicRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })
        .with_context(|| format!("failed to read topic {id}"))?;
        Ok(row.map(Topic::from))
    }

    /// A customer's topics, open ones first, newest first; only the open
    /// ones when `open_only`.
    pub async fn topics_of_customer(
        &self,
        customer_id: i64,
        open_only: bool,
    ) -> anyhow::Result<Vec<Topic>> {
        let filter = match open_only {
            true => "t.customer_id = $1 AND t.status = 'open'",
            false => "t.customer_id = $1",
        };
        let sql = format!(
            "{} ORDER BY t.status = 'open' DESC, t.opened_at DESC, t.id DESC",
            topic_select(filter)
        );
        let rows: Vec<TopicRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(customer_id).fetch_all(pool).await
        })
        .with_context(|| format!("failed to read the topics of customer {customer_id}"))?;
        Ok(rows.into_iter().map(Topic::from).collect())
    }

    /// Opens a topic for a customer, with its 'opened' event.
    pub async fn create_topic(
        &self,
        customer_id: i64,
        title: &str,
        user_id: Option<i64>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let at = millis(at);
            let id = insert_topic!(tx, customer_id, title, user_id, at)?;
            tx.commit().await?;
            Ok::<i64, sqlx::Error>(id)
        })
        .with_context(|| format!("failed to open a topic for customer {customer_id}"))
    }

    /// Every opening, resolving and reopening of a topic, oldest first.
    pub async fn topic_events(&self, topic_id: i64) -> anyhow::Result<Vec<TopicEvent>> {
        let sql = format!(
            "SELECT e.kind, (SELECT {NAME_OF} FROM users WHERE id = e.user_id), e.note, e.at \
             FROM topic_events e WHERE e.topic_id = $1 ORDER BY e.at, e.id"
        );
        let rows: Vec<(String, Option<String>, String, i64)> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(topic_id).fetch_all(pool).await
        })
        .with_context(|| format!("failed to read the history of topic {topic_id}"))?;
        Ok(rows
            .into_iter()
            .map(|(kind, user, note, at)| TopicEvent {
                kind,
                user,
                note,
                at: from_millis(at),
            })
            .collect())
    }

    /// Resolves a topic the caller saw at `version`: marks it resolved by
    /// `user_id`, records the event with `note`, and cancels every callback
    /// still scheduled on it, whoever owns it, noting that `user_name`
    /// resolved it. One transaction; returns how many callbacks it cancelled.
    pub async fn resolve_topic(
        &self,
        id: i64,
        version: i64,
        user_id: Option<i64>,
        user_name: &str,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, TopicError> {
        let at = millis(at);
        let reason = format!("topic resolved by {user_name}");
        let checked = on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            match check_topic!(tx, id, version, "open") {
                Checked::Done(_) => {}
                other => return Ok(other),
            }
            let moved = sqlx::query(
                "UPDATE topics SET status = 'resolved', resolved_at = $1, resolved_by = $2, \
                 version = version + 1 WHERE id = $3 AND version = $4",
            )
            .bind(at)
            .bind(user_id)
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                return Ok(Checked::Stale(version + 1));
            }
            insert_event!(tx, id, user_id, "resolved", note, at)?;
            let cancelled = sqlx::query(
                "UPDATE callbacks SET status = 'cancelled', closed_by = $1, closed_at = $2, \
                 close_reason = $3 WHERE topic_id = $4 AND status = 'scheduled'",
            )
            .bind(user_id)
            .bind(at)
            .bind(&reason)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok::<Checked, sqlx::Error>(Checked::Done(cancelled))
        }
        .await)
        .with_context(|| format!("failed to resolve topic {id}"))?;
        finish(checked, "resolved")
    }

    /// Reopens a resolved topic the caller saw at `version`, recording who.
    pub async fn reopen_topic(
        &self,
        id: i64,
        version: i64,
        user_id: Option<i64>,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<(), TopicError> {
        let at = millis(at);
        let checked = on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            match check_topic!(tx, id, version, "resolved") {
                Checked::Done(_) => {}
                other => return Ok(other),
            }
            let moved = sqlx::query(
                "UPDATE topics SET status = 'open', resolved_at = NULL, resolved_by = NULL, \
                 version = version + 1 WHERE id = $1 AND version = $2",
            )
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                return Ok(Checked::Stale(version + 1));
            }
            insert_event!(tx, id, user_id, "reopened", note, at)?;
            tx.commit().await?;
            Ok::<Checked, sqlx::Error>(Checked::Done(0))
        }
        .await)
        .with_context(|| format!("failed to reopen topic {id}"))?;
        finish(checked, "open").map(|_| ())
    }
}

fn finish(checked: Checked, state: &'static str) -> Result<u64, TopicError> {
    match checked {
        Checked::Missing => Err(TopicError::NotFound),
        Checked::Stale(now) => Err(TopicError::Stale(now)),
        Checked::Already => Err(TopicError::Already(state)),
        Checked::Done(n) => Ok(n),
    }
}

/// An opportunity opened on a topic, as the topic page lists it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct TopicOpportunity {
    pub id: i64,
    pub title: String,
    pub stage: String,
    pub value_minor: i64,
    pub currency: String,
}

impl Store {
    /// The opportunities opened on a topic, newest first.
    pub async fn topic_opportunities(
        &self,
        topic_id: i64,
    ) -> anyhow::Result<Vec<TopicOpportunity>> {
        on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, title, stage, value_minor, currency FROM opportunities \
                 WHERE topic_id = $1 ORDER BY created_at DESC, id DESC",
            )
            .bind(topic_id)
            .fetch_all(pool)
            .await
        })
        .with_context(|| format!("failed to read the opportunities of topic {topic_id}"))
    }
}
