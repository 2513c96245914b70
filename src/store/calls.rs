//! Call records in the database: written when a call rings, updated as it
//! is answered and ends, read by the API and the pages.

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::{from_millis, millis, on_pool, Store};
use crate::calls::{
    CallFilter, CallMatch, CallRecord, Leg, LegOutcome, NewCall, Outcome, Transfer,
};
use crate::telephony::TransferKind;

#[derive(sqlx::FromRow)]
struct CallRow {
    id: i64,
    link: String,
    pbx_call_id: String,
    direction: String,
    remote_raw: Option<String>,
    remote_e164: Option<String>,
    remote_name: Option<String>,
    withheld: bool,
    extension: Option<String>,
    answered_by: Option<String>,
    started_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    outcome: Option<String>,
    originated: bool,
}

#[derive(sqlx::FromRow)]
struct MatchRow {
    call_id: i64,
    customer_id: i64,
    customer_name: String,
    contact_id: Option<i64>,
    contact_name: Option<String>,
    reason: String,
}

#[derive(sqlx::FromRow)]
struct LegRow {
    extension: String,
    rang_at: i64,
    ended_at: Option<i64>,
    outcome: Option<String>,
}

const CALL_COLUMNS: &str = "id, link, pbx_call_id, direction, remote_raw, remote_e164, \
    remote_name, withheld, extension, answered_by, started_at, answered_at, ended_at, outcome, \
    originated";

impl Store {
    /// Writes a call that has just started ringing, its first leg and every
    /// customer it matched, in one transaction. A call the link already
    /// reported (same link and PBX id) is not written twice: its id is
    /// returned instead.
    pub async fn insert_call(&self, call: &NewCall) -> anyhow::Result<i64> {
        let started = millis(call.started_at);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let existing: Option<i64> =
                sqlx::query_scalar("SELECT id FROM calls WHERE link = $1 AND pbx_call_id = $2")
                    .bind(&call.link)
                    .bind(&call.pbx_call_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(id) = existing {
                return Ok(id);
            }

            let id: i64 = sqlx::query_scalar(
                "INSERT INTO calls (link, pbx_call_id, direction, remote_raw, remote_e164, \
                 remote_name, withheld, extension, customer_id, contact_id, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
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
            .bind(started)
            .fetch_one(&mut *tx)
            .await?;

            sqlx::query("INSERT INTO call_legs (call_id, extension, rang_at) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(&call.extension)
                .bind(started)
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
        })
        .with_context(|| format!("failed to record call {}", call.pbx_call_id))
    }

    /// Records that the call also rings at `extension`.
    pub async fn add_leg(
        &self,
        call_id: i64,
        extension: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO call_legs (call_id, extension, rang_at) VALUES ($1, $2, $3)")
                .bind(call_id)
                .bind(extension)
                .bind(millis(at))
                .execute(pool)
                .await
                .map(|_| ())
        })
        .with_context(|| format!("failed to record leg of call {call_id} at {extension}"))?;
        Ok(())
    }

    /// Records how the ringing at `extension` ended; a leg already ended is
    /// left as it is.
    pub async fn end_leg(
        &self,
        call_id: i64,
        extension: &str,
        at: DateTime<Utc>,
        outcome: LegOutcome,
    ) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE call_legs SET ended_at = $1, outcome = $2 \
                 WHERE call_id = $3 AND extension = $4 AND outcome IS NULL",
            )
            .bind(millis(at))
            .bind(outcome.as_str())
            .bind(call_id)
            .bind(extension)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .with_context(|| format!("failed to end leg of call {call_id} at {extension}"))?;
        Ok(())
    }

    /// Records who answered; the first answer stands.
    pub async fn answer_call(
        &self,
        call_id: i64,
        extension: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE calls SET answered_by = $1, answered_at = $2 \
                 WHERE id = $3 AND answered_at IS NULL",
            )
            .bind(extension)
            .bind(millis(at))
            .bind(call_id)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .with_context(|| format!("failed to record answer of call {call_id}"))?;
        Ok(())
    }

    /// Closes a call with its outcome; legs still ringing are closed with it.
    pub async fn end_call(
        &self,
        call_id: i64,
        at: DateTime<Utc>,
        outcome: Outcome,
        open_legs: LegOutcome,
    ) -> anyhow::Result<()> {
        let at = millis(at);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE calls SET ended_at = $1, outcome = $2 WHERE id = $3 AND outcome IS NULL")
                .bind(at)
                .bind(outcome.as_str())
                .bind(call_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE call_legs SET ended_at = $1, outcome = $2 \
                 WHERE call_id = $3 AND outcome IS NULL",
            )
            .bind(at)
            .bind(open_legs.as_str())
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })
        .with_context(|| format!("failed to close call {call_id}"))
    }

    /// The id of the call a link reported under `pbx_call_id`.
    pub async fn call_id_by_pbx(
        &self,
        link: &str,
        pbx_call_id: &str,
    ) -> anyhow::Result<Option<i64>> {
        on_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM calls WHERE link = $1 AND pbx_call_id = $2")
                .bind(link)
                .bind(pbx_call_id)
                .fetch_optional(pool)
                .await
        })
        .with_context(|| format!("failed to find call {pbx_call_id} of link {link}"))
    }

    /// Marks a call as started by callpop.
    pub async fn mark_originated(&self, call_id: i64) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE calls SET originated = TRUE WHERE id = $1")
                .bind(call_id)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .with_context(|| format!("failed to mark call {call_id} as originated"))
    }

    /// Forgets a call's number and its customer matches: the caller had
    /// restricted presentation, and the PBX said so late.
    pub async fn withhold_caller(&self, call_id: i64) -> anyhow::Result<()> {
        on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE calls SET withheld = TRUE, remote_raw = NULL, remote_e164 = NULL \
                 WHERE id = $1",
            )
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM call_matches WHERE call_id = $1")
                .bind(call_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }.await)
        .with_context(|| format!("failed to withhold the caller of call {call_id}"))
    }

    /// Records that a call was handed from one extension to another.
    pub async fn add_transfer(&self, call_id: i64, transfer: &Transfer) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO call_transfers (call_id, from_ext, to_ext, kind, at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(call_id)
            .bind(&transfer.from)
            .bind(&transfer.to)
            .bind(transfer.kind.as_str())
            .bind(millis(transfer.at))
            .execute(pool)
            .await
            .map(|_| ())
        })
        .with_context(|| format!("failed to record transfer of call {call_id}"))
    }

    /// Closes every call still open as interrupted: at start-up for calls a
    /// crash left open, at shutdown for calls that will end unseen.
    /// Returns how many were closed.
    pub async fn close_open_calls(&self, at: DateTime<Utc>) -> anyhow::Result<u64> {
        let at = millis(at);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE call_legs SET ended_at = $1, outcome = $2 WHERE outcome IS NULL \
                 AND call_id IN (SELECT id FROM calls WHERE outcome IS NULL)",
            )
            .bind(at)
            .bind(LegOutcome::Missed.as_str())
            .execute(&mut *tx)
            .await?;
            let closed = sqlx::query(
                "UPDATE calls SET ended_at = $1, outcome = $2 WHERE outcome IS NULL",
            )
            .bind(at)
            .bind(Outcome::Interrupted.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(closed)
        })
        .context("failed to close calls left open")
    }

    /// One call with its matches and legs.
    pub async fn call(&self, id: i64) -> anyhow::Result<Option<CallRecord>> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
        let row: Option<CallRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })
        .with_context(|| format!("failed to read call {id}"))?;
        let Some(row) = row else { return Ok(None) };

        let mut call = record(row);
        call.matches = self
            .matches_of(&[id])
            .await?
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        call.legs = self.legs_of(id).await?;
        call.transfers = self.transfers_of(id).await?;
        Ok(Some(call))
    }

    /// Calls newest first, with their matches (legs are left out).
    pub async fn calls(&self, filter: &CallFilter) -> anyhow::Result<Vec<CallRecord>> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls \
             WHERE ($1 IS NULL OR started_at >= $1) AND ($2 IS NULL OR started_at < $2) \
             AND ($3 IS NULL OR extension = $3 OR id IN \
                  (SELECT call_id FROM call_legs WHERE extension = $3)) \
             AND ($4 IS NULL OR direction = $4) \
             AND ($6 IS NULL OR extension IN ({mine}) OR answered_by IN ({mine}) \
                  OR id IN (SELECT call_id FROM call_legs WHERE extension IN ({mine})) \
                  OR id IN (SELECT call_id FROM call_transfers \
                            WHERE from_ext IN ({mine}) OR to_ext IN ({mine}))) \
             ORDER BY started_at DESC, id DESC LIMIT $5",
            mine = "SELECT extension FROM user_extensions WHERE user_id = $6"
        );
        let since = filter.since.map(millis);
        let until = filter.until.map(millis);
        let direction = filter.direction.map(|d| d.as_str());
        let rows: Vec<CallRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(since)
                .bind(until)
                .bind(&filter.extension)
                .bind(direction)
                .bind(filter.limit)
                .bind(filter.user_id)
                .fetch_all(pool)
                .await
        })
        .context("failed to list calls")?;

        let mut calls: Vec<CallRecord> = rows.into_iter().map(record).collect();
        let ids: Vec<i64> = calls.iter().map(|c| c.id).collect();
        for (call_id, m) in self.matches_of(&ids).await? {
            if let Some(call) = calls.iter_mut().find(|c| c.id == call_id) {
                call.matches.push(m);
            }
        }
        Ok(calls)
    }

    async fn matches_of(&self, ids: &[i64]) -> anyhow::Result<Vec<(i64, CallMatch)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT m.call_id, m.customer_id, cu.name AS customer_name, m.contact_id, \
             co.name AS contact_name, m.reason FROM call_matches m \
             JOIN customers cu ON cu.id = m.customer_id \
             LEFT JOIN contacts co ON co.id = m.contact_id \
             WHERE m.call_id IN ({list}) ORDER BY m.call_id, cu.name"
        );
        let rows: Vec<MatchRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await
        })
        .context("failed to read call matches")?;
        Ok(rows
            .into_iter()
            .map(|r| (r.call_id, call_match(r)))
            .collect())
    }

    async fn legs_of(&self, call_id: i64) -> anyhow::Result<Vec<Leg>> {
        let rows: Vec<LegRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT extension, rang_at, ended_at, outcome FROM call_legs \
                 WHERE call_id = $1 ORDER BY rang_at, id",
            )
            .bind(call_id)
            .fetch_all(pool)
            .await
        })
        .with_context(|| format!("failed to read legs of call {call_id}"))?;
        Ok(rows
            .into_iter()
            .map(|r| Leg {
                extension: r.extension,
                rang_at: from_millis(r.rang_at),
                ended_at: r.ended_at.map(from_millis),
                outcome: r.outcome,
            })
            .collect())
    }
}

#[derive(sqlx::FromRow)]
struct TransferRow {
    from_ext: String,
    to_ext: String,
    kind: String,
    at: i64,
}

impl Store {
    async fn transfers_of(&self, call_id: i64) -> anyhow::Result<Vec<Transfer>> {
        let rows: Vec<TransferRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT from_ext, to_ext, kind, at FROM call_transfers \
                 WHERE call_id = $1 ORDER BY at, id",
            )
            .bind(call_id)
            .fetch_all(pool)
            .await
        })
        .with_context(|| format!("failed to read transfers of call {call_id}"))?;
        Ok(rows
            .into_iter()
            .map(|r| Transfer {
                from: r.from_ext,
                to: r.to_ext,
                at: from_millis(r.at),
                kind: match r.kind.as_str() {
                    "attended" => TransferKind::Attended,
                    _ => TransferKind::Blind,
                },
            })
            .collect())
    }
}

fn record(r: CallRow) -> CallRecord {
    let unavailable = r.remote_raw.is_none() && !r.withheld;
    CallRecord {
        id: r.id,
        link: r.link,
        pbx_call_id: r.pbx_call_id,
        direction: r.direction,
        remote_raw: r.remote_raw,
        remote_e164: r.remote_e164,
        remote_name: r.remote_name,
        withheld: r.withheld,
        extension: r.extension,
        answered_by: r.answered_by,
        started_at: from_millis(r.started_at),
        answered_at: r.answered_at.map(from_millis),
        ended_at: r.ended_at.map(from_millis),
        outcome: r.outcome,
        originated: r.originated,
        unavailable,
        matches: Vec::new(),
        legs: Vec::new(),
        transfers: Vec::new(),
    }
}

fn call_match(r: MatchRow) -> CallMatch {
    CallMatch {
        customer_id: r.customer_id,
        customer_name: r.customer_name,
        contact_id: r.contact_id,
        contact_name: r.contact_name,
        reason: r.reason,
    }
}

impl crate::calls::tracker::Recorder for Store {
    async fn open(&self, call: &NewCall) -> anyhow::Result<i64> {
        self.insert_call(call).await
    }

    async fn add_leg(
        &self,
        call_id: i64,
        extension: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        Store::add_leg(self, call_id, extension, at).await
    }

    async fn end_leg(
        &self,
        call_id: i64,
        extension: &str,
        at: DateTime<Utc>,
        outcome: LegOutcome,
    ) -> anyhow::Result<()> {
        Store::end_leg(self, call_id, extension, at, outcome).await
    }

    async fn answer(&self, call_id: i64, extension: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.answer_call(call_id, extension, at).await
    }

    async fn end(
        &self,
        call_id: i64,
        at: DateTime<Utc>,
        outcome: Outcome,
        open_legs: LegOutcome,
    ) -> anyhow::Result<()> {
        self.end_call(call_id, at, outcome, open_legs).await
    }

    async fn mark_originated(&self, call_id: i64) -> anyhow::Result<()> {
        Store::mark_originated(self, call_id).await
    }

    async fn add_transfer(&self, call_id: i64, transfer: &Transfer) -> anyhow::Result<()> {
        Store::add_transfer(self, call_id, transfer).await
    }

    async fn withhold_caller(&self, call_id: i64) -> anyhow::Result<()> {
        Store::withhold_caller(self, call_id).await
    }
}
