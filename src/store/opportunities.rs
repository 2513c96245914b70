//! Opportunities in the database: sales opened on a topic, and every stage
//! each one entered, with who moved it and when, for the closing figures.
//!
//! An opportunity and its stage rows are written in one transaction; an
//! edit names the version it started from and is refused when the row has
//! moved on. Won and lost are closed: `closed_at` is set when one is
//! entered and cleared when the opportunity is reopened.

use std::fmt;
use std::str::FromStr;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};

use super::customers::EditError;
use super::{from_millis, millis, on_pool, Store};

/// Where a sale stands.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    #[default]
    New,
    Qualified,
    Proposal,
    Won,
    Lost,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::New,
        Stage::Qualified,
        Stage::Proposal,
        Stage::Won,
        Stage::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Qualified => "qualified",
            Stage::Proposal => "proposal",
            Stage::Won => "won",
            Stage::Lost => "lost",
        }
    }

    /// Won and lost: the sale is over.
    pub fn is_closed(self) -> bool {
        matches!(self, Stage::Won | Stage::Lost)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(text: &str) -> Result<Stage, String> {
        Stage::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| {
                format!("unknown stage {text:?}: expected new, qualified, proposal, won or lost")
            })
    }
}

/// The fields of an opportunity people set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpportunityFields {
    pub title: String,
    /// In the currency's minor units (cents).
    pub value_minor: i64,
    /// An ISO 4217 code.
    pub currency: String,
    pub stage: Stage,
    pub expected_close: Option<NaiveDate>,
    pub owner_id: Option<i64>,
}

/// A stored opportunity, with the names the pages show.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Opportunity {
    pub id: i64,
    pub topic_id: i64,
    pub topic_title: String,
    pub customer_id: i64,
    pub customer_name: String,
    pub title: String,
    pub value_minor: i64,
    pub currency: String,
    pub stage: Stage,
    pub expected_close: Option<NaiveDate>,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl Opportunity {
    /// The value as people read it: "12,500.00 USD".
    pub fn value(&self) -> String {
        money(self.value_minor, &self.currency)
    }
}

/// How many digits of a currency's amounts are its minor units: 2 unless
/// ISO 4217 says otherwise for the code.
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// An amount in minor units written in the currency's units, with
/// thousands separated: `money(1250000, "USD")` is "12,500.00 USD".
pub fn money(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let scale = 10i64.pow(digits);
    let (units, fraction) = (minor.abs() / scale, minor.abs() % scale);
    let units = units.to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if minor < 0 { "-" } else { "" };
    match digits {
        0 => format!("{sign}{grouped} {currency}"),
        _ => format!(
            "{sign}{grouped}.{fraction:0w$} {currency}",
            w = digits as usize
        ),
    }
}

/// An amount typed in the currency's units ("1250", "1,250.5") as minor
/// units; refused when negative, not a number, with more decimals than the
/// currency has, or beyond a trillion.
pub fn parse_money(text: &str, currency: &str) -> Result<i64, String> {
    let digits = minor_digits(currency);
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '_'))
        .collect();
    if cleaned.is_empty() {
        return Ok(0);
    }
    let refuse = || format!("Value {:?} is not an amount like 1250.00.", text.trim());
    let (units, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty() && fraction.is_empty() || !all_digits(units) || !all_digits(fraction) {
        return Err(refuse());
    }
    if fraction.len() > digits as usize {
        return Err(format!(
            "Value has more decimals than {currency} has ({digits})."
        ));
    }
    if units.len() > 13 {
        return Err("Value is too large: at most a trillion.".into());
    }
    let units: i64 = if units.is_empty() {
        0
    } else {
        units.parse().map_err(|_| refuse())?
    };
    let padded = format!("{fraction:0<w$}", w = digits as usize);
    let fraction: i64 = if padded.is_empty() {
        0
    } else {
        padded.parse().map_err(|_| refuse())?
    };
    Ok(units * 10i64.pow(digits) + fraction)
}

/// One stage an opportunity entered.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct StageChange {
    pub opportunity_id: i64,
    pub title: String,
    pub customer_name: String,
    pub stage: Stage,
    pub user_name: Option<String>,
    pub at: DateTime<Utc>,
}

/// What an opportunity is opened on: its topic's customer and title.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicHead {
    pub id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub title: String,
    pub status: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    topic_id: i64,
    topic_title: String,
    customer_id: i64,
    customer_name: String,
    title: String,
    value_minor: i64,
    currency: String,
    stage: String,
    expected_close: Option<String>,
    owner_id: Option<i64>,
    owner_name: Option<String>,
    created_at: i64,
    updated_at: i64,
    closed_at: Option<i64>,
    version: i64,
}

const SELECT: &str = "SELECT o.id, o.topic_id, t.title AS topic_title, o.customer_id, \
    c.name AS customer_name, o.title, o.value_minor, o.currency, o.stage, o.expected_close, \
    o.owner_id, CASE WHEN u.display_name = '' THEN u.username ELSE u.display_name END \
    AS owner_name, o.created_at, o.updated_at, o.closed_at, o.version \
    FROM opportunities o JOIN topics t ON t.id = o.topic_id \
    JOIN customers c ON c.id = o.customer_id LEFT JOIN users u ON u.id = o.owner_id";

const USER_NAME: &str = "CASE WHEN u.display_name = '' THEN u.username ELSE u.display_name END";

impl Row {
    fn into_opportunity(self) -> Opportunity {
        Opportunity {
            id: self.id,
            topic_id: self.topic_id,
            topic_title: self.topic_title,
            customer_id: self.customer_id,
            customer_name: self.customer_name,
            title: self.title,
            value_minor: self.value_minor,
            currency: self.currency,
            // The schema allows no other value.
            stage: self.stage.parse().unwrap_or_default(),
            expected_close: self.expected_close.and_then(|d| d.parse().ok()),
            owner_id: self.owner_id,
            owner_name: self.owner_name,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
            closed_at: self.closed_at.map(from_millis),
            version: self.version,
        }
    }
}

/// Writes down that opportunity `$id` entered `$stage`.
macro_rules! insert_stage {
    ($tx:ident, $id:expr, $stage:expr, $by:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO opportunity_stages (opportunity_id, stage, user_id, at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind($id)
        .bind(Stage::as_str($stage))
        .bind($by)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    };
}

impl Store {
    /// The topic an opportunity would be opened on.
    pub async fn topic_head(&self, topic_id: i64) -> anyhow::Result<Option<TopicHead>> {
        let row: Option<(i64, i64, String, String, String)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT t.id, t.customer_id, c.name, t.title, t.status FROM topics t \
                 JOIN customers c ON c.id = t.customer_id WHERE t.id = $1",
            )
            .bind(topic_id)
            .fetch_optional(pool)
            .await
        })
        .with_context(|| format!("failed to read topic {topic_id}"))?;
        Ok(row.map(|r| TopicHead {
            id: r.0,
            customer_id: r.1,
            customer_name: r.2,
            title: r.3,
            status: r.4,
        }))
    }

    /// Opens an opportunity on a topic, for the topic's customer, with its
    /// first stage row; returns its id.
    pub async fn insert_opportunity(
        &self,
        topic_id: i64,
        fields: &OpportunityFields,
        by: Option<i64>,
    ) -> Result<i64, EditError> {
        let now = millis(Utc::now());
        let closed = fields.stage.is_closed().then_some(now);
        let expected = fields.expected_close.map(|d| d.to_string());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let customer: Option<i64> =
                sqlx::query_scalar("SELECT customer_id FROM topics WHERE id = $1")
                    .bind(topic_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let customer = customer.ok_or(EditError::NotFound)?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO opportunities (topic_id, customer_id, title, value_minor, \
                 currency, stage, expected_close, owner_id, created_at, updated_at, closed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id",
            )
            .bind(topic_id)
            .bind(customer)
            .bind(&fields.title)
            .bind(fields.value_minor)
            .bind(&fields.currency)
            .bind(fields.stage.as_str())
            .bind(&expected)
            .bind(fields.owner_id)
            .bind(now)
            .bind(closed)
            .fetch_one(&mut *tx)
            .await?;
            insert_stage!(tx, id, fields.stage, by, now);
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Changes an opportunity if it is still at `version`; a new stage is
    /// written down with who moved it. Returns the new version.
    pub async fn update_opportunity(
        &self,
        id: i64,
        version: i64,
        fields: &OpportunityFields,
        by: Option<i64>,
    ) -> Result<i64, EditError> {
        let now = millis(Utc::now());
        let expected = fields.expected_close.map(|d| d.to_string());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let head: Option<(i64, String, Option<i64>)> = sqlx::query_as(
                "SELECT version, stage, closed_at FROM opportunities WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let (current, stage, closed_at) = head.ok_or(EditError::NotFound)?;
            if current != version {
                return Err(EditError::Stale(current));
            }

            // Closing sets the time; staying closed keeps it; reopening clears it.
            let moved = stage != fields.stage.as_str();
            let closed = match (fields.stage.is_closed(), moved) {
                (false, _) => None,
                (true, true) => Some(now),
                (true, false) => closed_at,
            };
            sqlx::query(
                "UPDATE opportunities SET title = $1, value_minor = $2, currency = $3, \
                 stage = $4, expected_close = $5, owner_id = $6, updated_at = $7, \
                 closed_at = $8, version = version + 1 WHERE id = $9 AND version = $10",
            )
            .bind(&fields.title)
            .bind(fields.value_minor)
            .bind(&fields.currency)
            .bind(fields.stage.as_str())
            .bind(&expected)
            .bind(fields.owner_id)
            .bind(now)
            .bind(closed)
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            if moved {
                insert_stage!(tx, id, fields.stage, by, now);
            }
            tx.commit().await?;
            Ok(version + 1)
        })
    }

    pub async fn opportunity(&self, id: i64) -> anyhow::Result<Option<Opportunity>> {
        let sql = format!("{SELECT} WHERE o.id = $1");
        let row: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })
        .with_context(|| format!("failed to read opportunity {id}"))?;
        Ok(row.map(Row::into_opportunity))
    }

    /// Opportunities, open ones only when `open_only`, by stage then the
    /// latest change first; at most `limit`.
    pub async fn opportunities(
        &self,
        open_only: bool,
        limit: i64,
    ) -> anyhow::Result<Vec<Opportunity>> {
        let sql = format!(
            "{SELECT} WHERE ($1 = 0 OR o.stage NOT IN ('won', 'lost')) \
             ORDER BY CASE o.stage WHEN 'new' THEN 0 WHEN 'qualified' THEN 1 \
             WHEN 'proposal' THEN 2 WHEN 'won' THEN 3 ELSE 4 END, \
             o.updated_at DESC, o.id DESC LIMIT $2"
        );
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(i64::from(open_only))
                .bind(limit)
                .fetch_all(pool)
                .await
        })
        .context("failed to list opportunities")?;
        Ok(rows.into_iter().map(Row::into_opportunity).collect())
    }

    /// A customer's opportunities, open ones first.
    pub async fn customer_opportunities(
        &self,
        customer_id: i64,
    ) -> anyhow::Result<Vec<Opportunity>> {
        let sql = format!(
            "{SELECT} WHERE o.customer_id = $1 \
             ORDER BY CASE WHEN o.stage IN ('won', 'lost') THEN 1 ELSE 0 END, \
             o.updated_at DESC, o.id DESC"
        );
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(customer_id).fetch_all(pool).await
        })
        .with_context(|| format!("failed to read the opportunities of customer {customer_id}"))?;
        Ok(rows.into_iter().map(Row::into_opportunity).collect())
    }

    /// Stage changes since `since`, newest first, at most `limit`; of one
    /// opportunity when `opportunity` is set.
    pub async fn stage_changes(
        &self,
        since: DateTime<Utc>,
        opportunity: Option<i64>,
        limit: i64,
    ) -> anyhow::Result<Vec<StageChange>> {
        let sql = format!(
            "SELECT s.opportunity_id, o.title, c.name, s.stage, {USER_NAME}, s.at \
             FROM opportunity_stages s JOIN opportunities o ON o.id = s.opportunity_id \
             JOIN customers c ON c.id = o.customer_id LEFT JOIN users u ON u.id = s.user_id \
             WHERE s.at >= $1 AND ($2 IS NULL OR s.opportunity_id = $2) \
             ORDER BY s.at DESC, s.id DESC LIMIT $3"
        );
        type Change = (i64, String, String, String, Option<String>, i64);
        let rows: Vec<Change> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(millis(since))
                .bind(opportunity)
                .bind(limit)
                .fetch_all(pool)
                .await
        })
        .context("failed to read stage changes")?;

        let changes = rows.into_iter().map(|r| StageChange {
            opportunity_id: r.0,
            title: r.1,
            customer_name: r.2,
            stage: r.3.parse().unwrap_or_default(),
            user_name: r.4,
            at: from_millis(r.5),
        });
        Ok(changes.collect())
    }
}

#[cfg(test)]
mod tests;
