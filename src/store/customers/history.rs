//! What a customer's page shows besides the record itself: its topics
//! (open first) with how many calls touched each, and its calls.

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::store::{from_millis, on_pool, Store};

/// One of a customer's topics.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CustomerTopic {
    pub id: i64,
    pub title: String,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Distinct calls with a conversation on this topic.
    pub calls: i64,
}

/// One call of a customer's history.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CustomerCall {
    pub id: i64,
    pub direction: String,
    pub remote_raw: Option<String>,
    pub extension: Option<String>,
    pub started_at: DateTime<Utc>,
    pub outcome: Option<String>,
}

impl Store {
    /// A customer's topics: open ones first, newest first within each.
    pub async fn customer_topics(&self, customer_id: i64) -> anyhow::Result<Vec<CustomerTopic>> {
        type Row = (i64, String, String, i64, Option<i64>, i64);
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT t.id, t.title, t.status, t.opened_at, t.resolved_at, \
                 (SELECT COUNT(DISTINCT v.call_id) FROM conversations v \
                  WHERE v.topic_id = t.id AND v.call_id IS NOT NULL) AS calls \
                 FROM topics t WHERE t.customer_id = $1 \
                 ORDER BY CASE WHEN t.status = 'open' THEN 0 ELSE 1 END, \
                 t.opened_at DESC, t.id DESC",
            )
            .bind(customer_id)
            .fetch_all(pool)
            .await
        })
        .with_context(|| format!("failed to read the topics of customer {customer_id}"))?;

        let topics = rows.into_iter().map(|r| CustomerTopic {
            id: r.0,
            title: r.1,
            status: r.2,
            opened_at: from_millis(r.3),
            resolved_at: r.4.map(from_millis),
            calls: r.5,
        });
        Ok(topics.collect())
    }

    /// A customer's calls, newest first, at most `limit`: those attached to
    /// it and those its numbers matched.
    pub async fn customer_calls(
        &self,
        customer_id: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<CustomerCall>> {
        type Row = (
            i64,
            String,
            Option<String>,
            Option<String>,
            i64,
            Option<String>,
        );
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, direction, remote_raw, extension, started_at, outcome FROM calls \
                 WHERE customer_id = $1 \
                 OR id IN (SELECT call_id FROM call_matches WHERE customer_id = $1) \
                 ORDER BY started_at DESC, id DESC LIMIT $2",
            )
            .bind(customer_id)
            .bind(limit)
            .fetch_all(pool)
            .await
        })
        .with_context(|| format!("failed to read the calls of customer {customer_id}"))?;

        let calls = rows.into_iter().map(|r| CustomerCall {
            id: r.0,
            direction: r.1,
            remote_raw: r.2,
            extension: r.3,
            started_at: from_millis(r.4),
            outcome: r.5,
        });
        Ok(calls.collect())
    }
}
