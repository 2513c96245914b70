//! Changes people make to customers from the pages: name and notes,
//! contacts, numbers, merging duplicates, and attaching a call to a
//! customer. Each change is one transaction; an edit names the version it
//! started from and is refused when the row has moved on since.

use chrono::Utc;

use super::{NewContact, NewCustomer, NewNumber};
use crate::store::{millis, on_pool, Store};

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("not found")]
    NotFound,
    /// Someone changed the row after the form was read; it is now at this
    /// version.
    #[error("changed by someone else since this page was read (now version {0})")]
    Stale(i64),
    /// The change makes no sense as asked; the text says why.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] anyhow::Error),
}

impl From<sqlx::Error> for EditError {
    fn from(e: sqlx::Error) -> EditError {
        EditError::Db(anyhow::Error::new(e).context("failed to write to the database"))
    }
}

/// What a merge moved to the customer that was kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct MergeCounts {
    pub contacts: u64,
    pub numbers: u64,
    pub topics: u64,
    pub calls: u64,
    pub opportunities: u64,
}

/// A customer's version and where it was merged, inside a transaction;
/// `NotFound` when there is no such customer.
macro_rules! customer_head {
    ($tx:ident, $id:expr) => {{
        let head: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT version, merged_into FROM customers WHERE id = $1")
                .bind($id)
                .fetch_optional(&mut *$tx)
                .await?;
        head.ok_or(EditError::NotFound)?
    }};
}

/// Refuses a contact that is not `customer`'s.
macro_rules! check_contact {
    ($tx:ident, $customer:expr, $contact:expr) => {
        if let Some(contact) = $contact {
            let owner: Option<i64> =
                sqlx::query_scalar("SELECT customer_id FROM contacts WHERE id = $1")
                    .bind(contact)
                    .fetch_optional(&mut *$tx)
                    .await?;
            if owner != Some($customer) {
                return Err(EditError::Refused(format!(
                    "contact {contact} is not one of customer {}'s",
                    $customer
                )));
            }
        }
    };
}

/// The statements of [`Store::attach_call`], inside its transaction.
macro_rules! attach {
    ($tx:ident, $call:expr, $customer:expr, $contact:expr, $number:expr, $replace:expr) => {{
        let (call_id, customer_id, contact_id): (i64, i64, Option<i64>) =
            ($call, $customer, $contact);
        let current: Option<Option<i64>> =
            sqlx::query_scalar("SELECT customer_id FROM calls WHERE id = $1")
                .bind(call_id)
                .fetch_optional(&mut *$tx)
                .await?;
        match current {
            None => return Err(EditError::NotFound),
            Some(Some(other)) if other != customer_id && !$replace => {
                return Err(EditError::Refused(format!(
                    "call {call_id} already belongs to customer {other}: tick replace to \
                     move it"
                )))
            }
            Some(_) => {}
        }

        let number: Option<&NewNumber> = $number;
        if let Some(number) = number {
            // A number the customer has already, anyone's of it, is not
            // written twice.
            let known: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(id) FROM phone_numbers WHERE customer_id = $1 AND rev_digits = $2",
            )
            .bind(customer_id)
            .bind(&number.number.rev_digits)
            .fetch_one(&mut *$tx)
            .await?;
            if known.is_none() && !number.number.rev_digits.is_empty() {
                insert_number!($tx, customer_id, contact_id, number);
            }
        }

        sqlx::query("UPDATE calls SET customer_id = $1, contact_id = $2 WHERE id = $3")
            .bind(customer_id)
            .bind(contact_id)
            .bind(call_id)
            .execute(&mut *$tx)
            .await?;
        sqlx::query("DELETE FROM call_matches WHERE call_id = $1 AND reason = 'assigned'")
            .bind(call_id)
            .execute(&mut *$tx)
            .await?;
        sqlx::query(
            "INSERT INTO call_matches (call_id, customer_id, contact_id, reason) \
             VALUES ($1, $2, $3, 'assigned')",
        )
        .bind(call_id)
        .bind(customer_id)
        .bind(contact_id)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Refuses a change to a customer merged into another.
fn not_merged(id: i64, merged_into: Option<i64>) -> Result<(), EditError> {
    match merged_into {
        Some(kept) => Err(EditError::Refused(format!(
            "customer {id} was merged into customer {kept}: change that one"
        ))),
        None => Ok(()),
    }
}

impl Store {
    /// Changes a customer's name and notes if it is still at `version`;
    /// returns the new version.
    pub async fn update_customer(
        &self,
        id: i64,
        version: i64,
        name: &str,
        notes: &str,
    ) -> Result<i64, EditError> {
        let now = millis(Utc::now());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let (current, merged_into) = customer_head!(tx, id);
            not_merged(id, merged_into)?;
            if current != version {
                return Err(EditError::Stale(current));
            }
            sqlx::query(
                "UPDATE customers SET name = $1, notes = $2, updated_at = $3, \
                 version = version + 1 WHERE id = $4 AND version = $5",
            )
            .bind(name)
            .bind(notes)
            .bind(now)
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(version + 1)
        })
    }

    /// Adds a contact with their numbers to a customer; returns its id.
    pub async fn add_contact(
        &self,
        customer_id: i64,
        contact: &NewContact,
    ) -> Result<i64, EditError> {
        let now = millis(Utc::now());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let (_, merged_into) = customer_head!(tx, customer_id);
            not_merged(customer_id, merged_into)?;
            let contact_id: i64 = sqlx::query_scalar(
                "INSERT INTO contacts (customer_id, name, email, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(customer_id)
            .bind(&contact.name)
            .bind(&contact.email)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            for number in &contact.numbers {
                insert_number!(tx, customer_id, Some(contact_id), number);
            }
            tx.commit().await?;
            Ok(contact_id)
        })
    }

    /// Changes a contact of `customer_id` if it is still at `version`;
    /// returns the new version.
    pub async fn update_contact(
        &self,
        customer_id: i64,
        contact_id: i64,
        version: i64,
        name: &str,
        email: &str,
    ) -> Result<i64, EditError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let current: Option<i64> = sqlx::query_scalar(
                "SELECT version FROM contacts WHERE id = $1 AND customer_id = $2",
            )
            .bind(contact_id)
            .bind(customer_id)
            .fetch_optional(&mut *tx)
            .await?;
            match current {
                None => return Err(EditError::NotFound),
                Some(current) if current != version => return Err(EditError::Stale(current)),
                Some(_) => {}
            }
            sqlx::query(
                "UPDATE contacts SET name = $1, email = $2, version = version + 1 \
                 WHERE id = $3 AND version = $4",
            )
            .bind(name)
            .bind(email)
            .bind(contact_id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(version + 1)
        })
    }

    /// Removes a contact of `customer` and their numbers. Calls,
    /// conversations and callbacks keep their place and lose the contact.
    pub async fn remove_contact(&self, customer: i64, contact: i64) -> Result<(), EditError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM phone_numbers WHERE contact_id = $1 AND customer_id = $2")
                .bind(contact)
                .bind(customer)
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query("DELETE FROM contacts WHERE id = $1 AND customer_id = $2")
                .bind(contact)
                .bind(customer)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if gone == 0 {
                return Err(EditError::NotFound);
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Adds a number to a customer, or to one of its contacts; returns its
    /// id. A contact of another customer is refused.
    pub async fn add_number(
        &self,
        customer_id: i64,
        contact_id: Option<i64>,
        number: &NewNumber,
    ) -> Result<i64, EditError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let (_, merged_into) = customer_head!(tx, customer_id);
            not_merged(customer_id, merged_into)?;
            check_contact!(tx, customer_id, contact_id);
            insert_number!(tx, customer_id, contact_id, number);
            let id: i64 = sqlx::query_scalar(
                "SELECT MAX(id) FROM phone_numbers WHERE customer_id = $1",
            )
            .bind(customer_id)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Removes one of a customer's numbers (its own or a contact's).
    pub async fn remove_number(&self, customer_id: i64, number_id: i64) -> Result<(), EditError> {
        let gone = on_pool!(self, pool => {
            sqlx::query("DELETE FROM phone_numbers WHERE id = $1 AND customer_id = $2")
                .bind(number_id)
                .bind(customer_id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        match gone {
            0 => Err(EditError::NotFound),
            _ => Ok(()),
        }
    }

    /// Moves everything of customer `gone` to customer `kept`: contacts,
    /// numbers, topics, calls, call matches and opportunities; `gone` then
    /// points at `kept`. All of it or nothing.
    pub async fn merge_customers(&self, kept: i64, gone: i64) -> Result<MergeCounts, EditError> {
        if kept == gone {
            return Err(EditError::Refused(
                "a customer cannot be merged into itself".into(),
            ));
        }
        let now = millis(Utc::now());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let (_, kept_merged) = customer_head!(tx, kept);
            if let Some(other) = kept_merged {
                return Err(EditError::Refused(format!(
                    "customer {kept} was itself merged into customer {other}"
                )));
            }
            let (_, gone_merged) = customer_head!(tx, gone);
            if gone_merged.is_some() {
                return Err(EditError::Refused(format!("customer {gone} is already merged")));
            }

            let mut counts = MergeCounts::default();
            let moves: [(&str, &mut u64); 5] = [
                ("contacts", &mut counts.contacts),
                ("phone_numbers", &mut counts.numbers),
                ("topics", &mut counts.topics),
                ("calls", &mut counts.calls),
                ("opportunities", &mut counts.opportunities),
            ];
            for (table, count) in moves {
                // Table names come from the list above, never from a caller.
                let sql = format!("UPDATE {table} SET customer_id = $1 WHERE customer_id = $2");
                *count = sqlx::query(&sql)
                    .bind(kept)
                    .bind(gone)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }

            // A call that matched both keeps one match, the kept customer's.
            sqlx::query(
                "DELETE FROM call_matches WHERE customer_id = $2 AND call_id IN \
                 (SELECT call_id FROM call_matches WHERE customer_id = $1)",
            )
            .bind(kept)
            .bind(gone)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE call_matches SET customer_id = $1 WHERE customer_id = $2")
                .bind(kept)
                .bind(gone)
                .execute(&mut *tx)
                .await?;

            sqlx::query(
                "UPDATE customers SET merged_into = $1, updated_at = $3, \
                 version = version + 1 WHERE id = $2",
            )
            .bind(kept)
            .bind(gone)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE customers SET updated_at = $2, version = version + 1 WHERE id = $1",
            )
            .bind(kept)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(counts)
        })
    }

    /// Attaches call `call_id` to a customer (and maybe a contact of it),
    /// adding `number` to them when they do not have it yet. A call that
    /// already belongs to another customer is refused unless `replace`.
    pub async fn attach_call(
        &self,
        call_id: i64,
        customer_id: i64,
        contact_id: Option<i64>,
        number: Option<&NewNumber>,
        replace: bool,
    ) -> Result<(), EditError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let (_, merged_into) = customer_head!(tx, customer_id);
            not_merged(customer_id, merged_into)?;
            check_contact!(tx, customer_id, contact_id);
            attach!(tx, call_id, customer_id, contact_id, number, replace);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Stores a new customer made from call `call_id` and attaches the
    /// call to it and its first contact, in one transaction; returns the
    /// customer's id. The number is expected among the customer's or the
    /// first contact's. A call that has a customer already is refused, and
    /// nothing written, unless `replace`.
    pub async fn insert_customer_for_call(
        &self,
        call_id: i64,
        customer: &NewCustomer,
        replace: bool,
    ) -> Result<i64, EditError> {
        let now = millis(Utc::now());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let customer_id = async { insert_customer!(tx, customer, now) }.await?;
            let contact_id: Option<i64> =
                sqlx::query_scalar("SELECT MIN(id) FROM contacts WHERE customer_id = $1")
                    .bind(customer_id)
                    .fetch_one(&mut *tx)
                    .await?;
            attach!(tx, call_id, customer_id, contact_id, None::<&NewNumber>, replace);
            tx.commit().await?;
            Ok(customer_id)
        })
    }
}

#[cfg(test)]
mod tests;
