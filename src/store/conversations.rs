//! Conversations in the database: what was discussed about one topic, in a
//! call or logged by hand. Logging one may open its topic and add the
//! contact spoken with; all of it is written in one transaction, and only
//! after the topic and contact are found to belong to the call's customer.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::topics::{insert_topic, NAME_OF};
use super::{from_millis, millis, on_pool, Store};

/// The topic a conversation goes on.
#[derive(Clone, Debug)]
pub enum TopicChoice {
    /// An open topic of the customer.
    Open(i64),
    /// A new topic with this title.
    New(String),
}

/// Who was spoken with.
#[derive(Clone, Debug)]
pub enum ContactChoice {
    Nobody,
    /// A contact of the customer.
    Known(i64),
    /// A new contact with this name.
    New(String),
}

/// A conversation to log.
#[derive(Clone, Debug)]
pub struct NewConversation {
    pub customer_id: i64,
    pub call_id: Option<i64>,
    pub topic: TopicChoice,
    pub contact: ContactChoice,
    pub notes: String,
    pub user_id: Option<i64>,
    pub at: DateTime<Utc>,
}

/// Where a logged conversation went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logged {
    pub conversation_id: i64,
    pub topic_id: i64,
    pub contact_id: Option<i64>,
}

/// Why a conversation was not logged.
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("that topic is not one of this customer's")]
    ForeignTopic,
    #[error("that topic is resolved; reopen it first or start a new one")]
    TopicClosed,
    #[error("that contact is not one of this customer's")]
    ForeignContact,
    /// The call is not about this customer: neither filed under it nor
    /// matched to it by the number.
    #[error("that call is not about this customer; pick the customer it is about")]
    ForeignCall,
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// A conversation as the pages show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Conversation {
    pub id: i64,
    pub topic_id: i64,
    pub topic_title: String,
    pub call_id: Option<i64>,
    pub user: Option<String>,
    pub contact: Option<String>,
    pub notes: String,
    pub at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: i64,
    topic_id: i64,
    topic_title: String,
    call_id: Option<i64>,
    user_name: Option<String>,
    contact_name: Option<String>,
    notes: String,
    at: i64,
}

/// What the checks inside the transaction found.
enum Outcome {
    Logged(Logged),
    Refused(ConversationError),
}

fn conversation_select(filter: &str) -> String {
    format!(
        "SELECT c.id, c.topic_id, t.title AS topic_title, c.call_id, \
         (SELECT {NAME_OF} FROM users WHERE id = c.user_id) AS user_name, \
         (SELECT name FROM contacts WHERE id = c.contact_id) AS contact_name, c.notes, c.at \
         FROM conversations c JOIN topics t ON t.id = c.topic_id WHERE {filter} \
         ORDER BY c.at, c.id"
    )
}

impl Store {
    /// Logs a conversation: opens its topic or adds its contact first when
    /// they are new, in one transaction. A topic or contact of another
    /// customer, or a resolved topic, is refused and nothing is written.
    pub async fn log_conversation(
        &self,
        new: &NewConversation,
    ) -> Result<Logged, ConversationError> {
        let at = millis(new.at);
        let outcome = on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;

            // The call, if any: about this customer, by its filing or a match.
            if let Some(call_id) = new.call_id {
                let about: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM calls WHERE id = $1 AND customer_id = $2) \
                     OR EXISTS (SELECT 1 FROM call_matches \
                                WHERE call_id = $1 AND customer_id = $2)",
                )
                .bind(call_id)
                .bind(new.customer_id)
                .fetch_one(&mut *tx)
                .await?;
                if !about {
                    return Ok(Outcome::Refused(ConversationError::ForeignCall));
                }
            }

            // The topic: the customer's own and open, or a new one.
            let topic_id = match &new.topic {
                TopicChoice::Open(id) => {
                    let row: Option<(i64, String)> = sqlx::query_as(
                        "SELECT customer_id, status FROM topics WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match row {
                        Some((customer, _)) if customer != new.customer_id => {
                            return Ok(Outcome::Refused(ConversationError::ForeignTopic))
                        }
                        None => return Ok(Outcome::Refused(ConversationError::ForeignTopic)),
                        Some((_, status)) if status != "open" => {
                            return Ok(Outcome::Refused(ConversationError::TopicClosed))
                        }
                        Some(_) => *id,
                    }
                }
                TopicChoice::New(title) => {
                    insert_topic!(tx, new.customer_id, title.as_str(), new.user_id, at)?
                }
            };

            // The contact: the customer's own, a new one, or nobody.
            let contact_id = match &new.contact {
                ContactChoice::Nobody => None,
                ContactChoice::Known(id) => {
                    let customer: Option<i64> =
                        sqlx::query_scalar("SELECT customer_id FROM contacts WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if customer != Some(new.customer_id) {
                        return Ok(Outcome::Refused(ConversationError::ForeignContact));
                    }
                    Some(*id)
                }
                ContactChoice::New(name) => Some(
                    sqlx::query_scalar(
                        "INSERT INTO contacts (customer_id, name, created_at) \
                         VALUES ($1, $2, $3) RETURNING id",
                    )
                    .bind(new.customer_id)
                    .bind(name)
                    .bind(at)
                    .fetch_one(&mut *tx)
                    .await?,
                ),
            };

            let conversation_id: i64 = sqlx::query_scalar(
                "INSERT INTO conversations (topic_id, call_id, user_id, contact_id, notes, at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(topic_id)
            .bind(new.call_id)
            .bind(new.user_id)
            .bind(contact_id)
            .bind(&new.notes)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<Outcome, sqlx::Error>(Outcome::Logged(Logged {
                conversation_id,
                topic_id,
                contact_id,
            }))
        }
        .await)
        .with_context(|| {
            format!(
                "failed to log a conversation for customer {}",
                new.customer_id
            )
        })?;

        match outcome {
            Outcome::Logged(logged) => Ok(logged),
            Outcome::Refused(why) => Err(why),
        }
    }

    /// Every conversation on a topic, oldest first.
    pub async fn topic_conversations(&self, topic_id: i64) -> anyhow::Result<Vec<Conversation>> {
        self.conversations_where("c.topic_id = $1", topic_id)
            .await
            .with_context(|| format!("failed to read the conversations of topic {topic_id}"))
    }

    /// Every conversation logged in a call, oldest first.
    pub async fn call_conversations(&self, call_id: i64) -> anyhow::Result<Vec<Conversation>> {
        self.conversations_where("c.call_id = $1", call_id)
            .await
            .with_context(|| format!("failed to read the conversations of call {call_id}"))
    }

    /// The customer a call was filed under (a manual log, or a caller
    /// attached to a customer), if any.
    pub async fn call_customer(&self, call_id: i64) -> anyhow::Result<Option<i64>> {
        let id: Option<Option<i64>> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT customer_id FROM calls WHERE id = $1")
                .bind(call_id)
                .fetch_optional(pool)
                .await
        })
        .with_context(|| format!("failed to read the customer of call {call_id}"))?;
        Ok(id.flatten())
    }

    /// Writes a call logged by hand as one answered and ended at `call`'s
    /// start, with its leg and matches, in one transaction.
    pub async fn insert_manual_call(&self, call: &crate::calls::NewCall) -> anyhow::Result<i64> {
        let at = millis(call.started_at);
        on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO calls (link, pbx_call_id, direction, remote_raw, remote_e164, \
                 remote_name, withheld, extension, answered_by, customer_id, contact_id, \
                 started_at, answered_at, ended_at, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $11, $11, 'answered') \
                 RETURNING id",
            )
            .bind(&call.link)
            .bind(&call.pbx_call_id)
            .bind(call.direction.as_str())
            .bind(&call.remote_raw)
            .bind(&call.remote_e164)
            .bind(&call.remote_name)
            .bind(call.withheld)
            .bind(&call.extension)
            .bind(call.customer_id)
            .bind(call.contact_id)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO call_legs (call_id, extension, rang_at, ended_at, outcome) \
                 VALUES ($1, $2, $3, $3, 'answered')",
            )
            .bind(id)
            .bind(&call.extension)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            for m in &call.matches {
                sqlx::query(
                    "INSERT INTO call_matches (call_id, customer_id, contact_id, reason) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(m.customer_id)
                .bind(m.contact_id)
                .bind(&m.reason)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<i64, sqlx::Error>(id)
        }
        .await)
        .context("failed to record a call logged by hand")
    }

    async fn conversations_where(
        &self,
        filter: &str,
        id: i64,
    ) -> Result<Vec<Conversation>, sqlx::Error> {
        let sql = conversation_select(filter);
        let rows: Vec<ConversationRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id).fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|r| Conversation {
                id: r.id,
                topic_id: r.topic_id,
                topic_title: r.topic_title,
                call_id: r.call_id,
                user: r.user_name,
                contact: r.contact_name,
                notes: r.notes,
                at: from_millis(r.at),
            })
            .collect())
    }
}
