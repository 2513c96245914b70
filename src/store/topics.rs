//! Topics in the database: for now what pops need, the open topics of the
//! customers a caller matched.

use std::collections::HashMap;

use anyhow::Context;

use super::{on_pool, Store};
use crate::calls::tracker::Topics;

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
}
