//! Callbacks in the database: a slot on a rep's calendar to call a customer
//! back about a topic, and each rep's calendar feed secret (kept hashed).

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::topics::NAME_OF;
use super::{from_millis, millis, on_pool, Store};

/// A callback to schedule.
#[derive(Clone, Debug)]
pub struct NewCallback {
    pub topic_id: i64,
    /// Whose calendar it goes on.
    pub user_id: i64,
    pub contact_id: Option<i64>,
    pub due_at: DateTime<Utc>,
    pub minutes: i64,
    pub note: String,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A callback as the pages show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Callback {
    pub id: i64,
    pub topic_id: i64,
    pub topic_title: String,
    pub customer_id: i64,
    pub customer_name: String,
    pub user_id: i64,
    pub user: String,
    pub contact: Option<String>,
    pub due_at: DateTime<Utc>,
    pub minutes: i64,
    pub note: String,
    /// `scheduled`, `done` or `cancelled`.
    pub status: String,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_reason: String,
}

impl Callback {
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.due_at + chrono::Duration::minutes(self.minutes)
    }

    pub fn is_scheduled(&self) -> bool {
        self.status == "scheduled"
    }
}

#[derive(sqlx::FromRow)]
struct CallbackRow {
    id: i64,
    topic_id: i64,
    topic_title: String,
    customer_id: i64,
    customer_name: String,
    user_id: i64,
    user_name: String,
    contact_name: Option<String>,
    due_at: i64,
    minutes: i64,
    note: String,
    status: String,
    closed_by: Option<String>,
    closed_at: Option<i64>,
    close_reason: String,
}

impl From<CallbackRow> for Callback {
    fn from(r: CallbackRow) -> Callback {
        Callback {
            id: r.id,
            topic_id: r.topic_id,
            topic_title: r.topic_title,
            customer_id: r.customer_id,
            customer_name: r.customer_name,
            user_id: r.user_id,
            user: r.user_name,
            contact: r.contact_name,
            due_at: from_millis(r.due_at),
            minutes: r.minutes,
            note: r.note,
            status: r.status,
            closed_by: r.closed_by,
            closed_at: r.closed_at.map(from_millis),
            close_reason: r.close_reason,
        }
    }
}

/// A callback was asked for on a topic that is resolved (or gone).
#[derive(Debug, thiserror::Error)]
#[error("topic {0} is not open")]
pub struct TopicNotOpen(pub i64);

fn callback_select(filter: &str) -> String {
    format!(
        "SELECT b.id, b.topic_id, t.title AS topic_title, t.customer_id, \
         cu.name AS customer_name, b.user_id, \
         (SELECT {NAME_OF} FROM users WHERE id = b.user_id) AS user_name, \
         (SELECT name FROM contacts WHERE id = b.contact_id) AS contact_name, b.due_at, \
         b.minutes, b.note, b.status, \
         (SELECT {NAME_OF} FROM users WHERE id = b.closed_by) AS closed_by, b.closed_at, \
         b.close_reason \
         FROM callbacks b JOIN topics t ON t.id = b.topic_id \
         JOIN customers cu ON cu.id = t.customer_id WHERE {filter} ORDER BY b.due_at, b.id"
    )
}

impl Store {
    /// Puts a callback on a calendar, if its topic is still open: the
    /// topic's row is locked first, so a resolve running at the same time
    /// either comes after and cancels this callback, or came before and
    /// this one is refused with [`TopicNotOpen`].
    pub async fn insert_callback(&self, new: &NewCallback) -> anyhow::Result<i64> {
        let inserted: Option<i64> = on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let open = sqlx::query(
                "UPDATE topics SET version = version WHERE id = $1 AND status = 'open'",
            )
            .bind(new.topic_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if open == 0 {
                return Ok(None);
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO callbacks (topic_id, user_id, contact_id, due_at, minutes, note, \
                 created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(new.topic_id)
            .bind(new.user_id)
            .bind(new.contact_id)
            .bind(millis(new.due_at))
            .bind(new.minutes)
            .bind(&new.note)
            .bind(new.created_by)
            .bind(millis(new.created_at))
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Some(id))
        }
        .await)
        .with_context(|| format!("failed to schedule a callback on topic {}", new.topic_id))?;
        inserted.ok_or_else(|| TopicNotOpen(new.topic_id).into())
    }

    pub async fn callback(&self, id: i64) -> anyhow::Result<Option<Callback>> {
        let sql = callback_select("b.id = $1");
        let row: Option<CallbackRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })
        .with_context(|| format!("failed to read callback {id}"))?;
        Ok(row.map(Callback::from))
    }

    /// A user's callbacks of every status due from `from` until `until`.
    pub async fn user_callbacks(
        &self,
        user_id: i64,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Callback>> {
        let sql = callback_select("b.user_id = $1 AND b.due_at >= $2 AND b.due_at < $3");
        let rows: Vec<CallbackRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(user_id)
                .bind(millis(from))
                .bind(millis(until))
                .fetch_all(pool)
                .await
        })
        .with_context(|| format!("failed to read the callbacks of user {user_id}"))?;
        Ok(rows.into_iter().map(Callback::from).collect())
    }

    /// A user's callbacks still scheduled, however old: the feed and the
    /// overdue list.
    pub async fn scheduled_callbacks(&self, user_id: i64) -> anyhow::Result<Vec<Callback>> {
        let sql = callback_select("b.user_id = $1 AND b.status = 'scheduled'");
        let rows: Vec<CallbackRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await
        })
        .with_context(|| format!("failed to read the scheduled callbacks of user {user_id}"))?;
        Ok(rows.into_iter().map(Callback::from).collect())
    }

    /// Every callback on a topic, whatever its status.
    pub async fn topic_callbacks(&self, topic_id: i64) -> anyhow::Result<Vec<Callback>> {
        let sql = callback_select("b.topic_id = $1");
        let rows: Vec<CallbackRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(topic_id).fetch_all(pool).await
        })
        .with_context(|| format!("failed to read the callbacks of topic {topic_id}"))?;
        Ok(rows.into_iter().map(Callback::from).collect())
    }

    /// A user's scheduled callbacks that overlap `from` for `minutes`.
    pub async fn clashing_callbacks(
        &self,
        user_id: i64,
        from: DateTime<Utc>,
        minutes: i64,
    ) -> anyhow::Result<Vec<Callback>> {
        let (start, end) = (millis(from), millis(from) + minutes * 60_000);
        let sql = callback_select(
            "b.user_id = $1 AND b.status = 'scheduled' AND b.due_at < $2 \
             AND b.due_at + b.minutes * 60000 > $3",
        );
        let rows: Vec<CallbackRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(user_id)
                .bind(end)
                .bind(start)
                .fetch_all(pool)
                .await
        })
        .with_context(|| format!("failed to check the calendar of user {user_id}"))?;
        Ok(rows.into_iter().map(Callback::from).collect())
    }

    /// Marks a scheduled callback done or cancelled; false when it was not
    /// scheduled any more (someone closed it first).
    pub async fn close_callback(
        &self,
        id: i64,
        status: &str,
        by: Option<i64>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        anyhow::ensure!(
            status == "done" || status == "cancelled",
            "a callback closes as done or cancelled, not {status:?}"
        );
        let closed = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE callbacks SET status = $1, closed_by = $2, closed_at = $3, \
                 close_reason = $4 WHERE id = $5 AND status = 'scheduled'",
            )
            .bind(status)
            .bind(by)
            .bind(millis(at))
            .bind(reason)
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
        .with_context(|| format!("failed to close callback {id}"))?;
        Ok(closed == 1)
    }

    /// Sets a user's calendar feed secret (its digest), replacing any old one.
    pub async fn set_calendar_feed(
        &self,
        user_id: i64,
        hash: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO calendar_feeds (user_id, hash, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET hash = $2, created_at = $3",
            )
            .bind(user_id)
            .bind(hash)
            .bind(millis(at))
            .execute(pool)
            .await
            .map(|_| ())
        })
        .with_context(|| format!("failed to set the calendar feed of user {user_id}"))?;
        Ok(())
    }

    /// Whose feed a secret's digest opens, if anyone's: a deactivated
    /// user's opens nothing.
    pub async fn calendar_feed_user(&self, hash: &str) -> anyhow::Result<Option<i64>> {
        on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT f.user_id FROM calendar_feeds f JOIN users u ON u.id = f.user_id \
                 WHERE f.hash = $1 AND u.active",
            )
            .bind(hash)
            .fetch_optional(pool)
            .await
        })
        .context("failed to read calendar feeds")
    }

    /// When the user's feed link was made, if they have one.
    pub async fn calendar_feed_since(&self, user_id: i64) -> anyhow::Result<Option<DateTime<Utc>>> {
        let at: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT created_at FROM calendar_feeds WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })
        .with_context(|| format!("failed to read the calendar feed of user {user_id}"))?;
        Ok(at.map(from_millis))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::store::conversations::{
        ContactChoice, ConversationError, NewConversation, TopicChoice,
    };
    use crate::store::customers::testing::{postgres, sqlite};
    use crate::store::customers::NewCustomer;
    use crate::store::topics::TopicError;
    use crate::store::users::NewUser;

    async fn user(store: &Store, name: &str) -> i64 {
        let new = NewUser {
            username: name.into(),
            display_name: String::new(),
            role: crate::auth::Role::Rep,
            password_hash: None,
            extensions: Vec::new(),
        };
        store.create_user(&new).await.unwrap()
    }

    async fn customer(store: &Store, name: &str) -> i64 {
        let new = NewCustomer {
            name: name.into(),
            ..NewCustomer::default()
        };
        store.insert_customer(&new).await.unwrap()
    }

    fn conversation(customer_id: i64, topic: TopicChoice, user: i64) -> NewConversation {
        NewConversation {
            customer_id,
            call_id: None,
            topic,
            contact: ContactChoice::New("Carla".into()),
            notes: "what was said".into(),
            user_id: Some(user),
            at: Utc::now(),
        }
    }

    /// A topic's life: logged on, a callback on it, a foreign topic and a
    /// stale resolve refused with nothing written, then resolved with its
    /// callback cancelled, and reopened.
    async fn check_store(store: &Store) {
        let (anna, ben) = (user(store, "anna").await, user(store, "ben").await);
        let (acme, other) = (
            customer(store, "Acme").await,
            customer(store, "Other").await,
        );

        // A new topic and a new contact come with the conversation.
        let new = conversation(acme, TopicChoice::New("Invoice".into()), anna);
        let logged = store.log_conversation(&new).await.unwrap();
        let topic = store.topic(logged.topic_id).await.unwrap().unwrap();
        assert_eq!(
            (topic.title.as_str(), topic.version, topic.reps),
            ("Invoice", 1, 1)
        );
        assert_eq!(topic.opened_by.as_deref(), Some("anna"));
        assert!(logged.contact_id.is_some());

        // Another customer's topic is refused, and nothing is written: not
        // even the new contact that came with it.
        let theirs = store
            .create_topic(other, "Theirs", None, Utc::now())
            .await
            .unwrap();
        let foreign = conversation(acme, TopicChoice::Open(theirs), anna);
        let refused = store.log_conversation(&foreign).await.unwrap_err();
        assert!(
            matches!(refused, ConversationError::ForeignTopic),
            "{refused:?}"
        );
        assert!(store.topic_conversations(theirs).await.unwrap().is_empty());
        let contacts = store.customer(acme).await.unwrap().unwrap().contacts;
        assert_eq!(
            contacts.len(),
            1,
            "the refused conversation added no contact"
        );

        // A new topic with another customer's contact: the topic written
        // before the contact was checked is rolled back.
        let mut theirs_too = conversation(acme, TopicChoice::New("Orphan".into()), anna);
        let new_contact = crate::store::customers::NewContact {
            name: "Theirs".into(),
            ..Default::default()
        };
        let with_contact = NewCustomer {
            name: "Third".into(),
            contacts: vec![new_contact],
            ..NewCustomer::default()
        };
        let third = store.insert_customer(&with_contact).await.unwrap();
        let their_contact = store.customer(third).await.unwrap().unwrap().contacts[0].id;
        theirs_too.contact = ContactChoice::Known(their_contact);
        let refused = store.log_conversation(&theirs_too).await.unwrap_err();
        assert!(
            matches!(refused, ConversationError::ForeignContact),
            "{refused:?}"
        );
        let titles: Vec<String> = store
            .topics_of_customer(acme, false)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.title)
            .collect();
        assert_eq!(titles, ["Invoice"]);

        // Anna's callback, and the clash it makes.
        let due = Utc::now() + Duration::days(1);
        let callback = NewCallback {
            topic_id: topic.id,
            user_id: anna,
            contact_id: None,
            due_at: due,
            minutes: 15,
            note: String::new(),
            created_by: Some(anna),
            created_at: Utc::now(),
        };
        let id = store.insert_callback(&callback).await.unwrap();
        let clash = store
            .clashing_callbacks(anna, due + Duration::minutes(10), 15)
            .await;
        assert_eq!(clash.unwrap().len(), 1);
        let after = store
            .clashing_callbacks(anna, due + Duration::minutes(15), 15)
            .await;
        assert!(after.unwrap().is_empty(), "back to back is no clash");

        // A stale resolve changes nothing.
        let stale = store
            .resolve_topic(topic.id, 7, Some(ben), "ben", "", Utc::now())
            .await;
        assert!(matches!(stale, Err(TopicError::Stale(1))), "{stale:?}");
        assert!(store.callback(id).await.unwrap().unwrap().is_scheduled());

        // Ben resolves it: Anna's callback is cancelled with why.
        let cancelled = store
            .resolve_topic(topic.id, 1, Some(ben), "ben", "refunded", Utc::now())
            .await
            .unwrap();
        assert_eq!(cancelled, 1);
        let gone = store.callback(id).await.unwrap().unwrap();
        assert_eq!(gone.status, "cancelled");
        assert_eq!(gone.close_reason, "topic resolved by ben");
        assert_eq!(gone.closed_by.as_deref(), Some("ben"));
        assert!(store.scheduled_callbacks(anna).await.unwrap().is_empty());
        assert!(store
            .clashing_callbacks(anna, due, 15)
            .await
            .unwrap()
            .is_empty());
        let resolved = store.topic(topic.id).await.unwrap().unwrap();
        assert_eq!(
            (resolved.status.as_str(), resolved.version),
            ("resolved", 2)
        );
        assert_eq!(resolved.resolved_by.as_deref(), Some("ben"));

        // Nor does it take a callback, however late the request comes.
        let late = store.insert_callback(&callback).await.unwrap_err();
        assert!(late.is::<TopicNotOpen>(), "{late:#}");
        assert!(store.scheduled_callbacks(anna).await.unwrap().is_empty());

        // A resolved topic takes no conversation; reopened, it does.
        let closed = conversation(acme, TopicChoice::Open(topic.id), ben);
        let refused = store.log_conversation(&closed).await.unwrap_err();
        assert!(
            matches!(refused, ConversationError::TopicClosed),
            "{refused:?}"
        );
        store
            .reopen_topic(topic.id, 2, Some(ben), "came back", Utc::now())
            .await
            .unwrap();
        store.log_conversation(&closed).await.unwrap();
        let events: Vec<String> = store
            .topic_events(topic.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(events, ["opened", "resolved", "reopened"]);
        let topic = store.topic(topic.id).await.unwrap().unwrap();
        assert_eq!((topic.reps, topic.calls), (2, 0), "no call: logged by hand");

        // A call logged by hand is written ended, under its customer, and
        // counts as a call of the topic it is logged on.
        let manual = crate::calls::NewCall {
            link: "manual".into(),
            pbx_call_id: "manual-1".into(),
            direction: crate::telephony::Direction::Outbound,
            remote_raw: Some("555 0142".into()),
            remote_e164: None,
            remote_name: None,
            withheld: false,
            extension: "201".into(),
            customer_id: Some(acme),
            contact_id: None,
            matches: Vec::new(),
            started_at: Utc::now(),
        };
        let call = store.insert_manual_call(&manual).await.unwrap();
        assert_eq!(store.call_customer(call).await.unwrap(), Some(acme));
        let record = store.call(call).await.unwrap().unwrap();
        assert_eq!(record.outcome.as_deref(), Some("answered"));
        assert_eq!(record.answered_by.as_deref(), Some("201"));
        let on_call = NewConversation {
            call_id: Some(call),
            ..conversation(acme, TopicChoice::Open(topic.id), anna)
        };
        store.log_conversation(&on_call).await.unwrap();
        assert_eq!(store.topic(topic.id).await.unwrap().unwrap().calls, 1);
        assert_eq!(store.call_conversations(call).await.unwrap().len(), 1);

        // The feed secret is replaced, not added to.
        store
            .set_calendar_feed(anna, "first", Utc::now())
            .await
            .unwrap();
        store
            .set_calendar_feed(anna, "second", Utc::now())
            .await
            .unwrap();
        assert_eq!(store.calendar_feed_user("first").await.unwrap(), None);
        assert_eq!(
            store.calendar_feed_user("second").await.unwrap(),
            Some(anna)
        );

        // A deactivated user's feed opens nothing.
        let off = crate::store::users::UserChange {
            display_name: String::new(),
            role: crate::auth::Role::Rep,
            active: false,
            extensions: Vec::new(),
        };
        store.update_user(anna, &off).await.unwrap();
        assert_eq!(store.calendar_feed_user("second").await.unwrap(), None);
    }

    #[tokio::test]
    async fn sqlite_store_keeps_topics_conversations_and_callbacks() {
        check_store(&sqlite().await.store).await;
    }

    #[tokio::test]
    async fn postgres_store_keeps_topics_conversations_and_callbacks() {
        let Some(db) = postgres().await else { return };
        check_store(&db.store).await;
    }
}
