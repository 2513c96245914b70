//! Customers, contacts and phone numbers in the database.
//!
//! A customer is written with its contacts and numbers in one transaction, so
//! a pop never shows half a customer. Each number is stored as written and in
//! every form lookup reads (E.164, country code, national number, reversed
//! digits); the store is the [`Directory`] the daemon's lookup runs on, and
//! each of its queries is one index lookup.

use std::fmt;
use std::str::FromStr;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::{from_millis, millis, on_pool, Store};
use crate::lookup::{suffix_overlap, Directory, Entry, Number};

/// What a phone number is for; `work` unless said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NumberKind {
    #[default]
    Work,
    Mobile,
    Home,
    Fax,
    Other,
}

/// A kind of number callpop does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind {0:?}: expected work, mobile, home, fax or other")]
pub struct UnknownKind(pub String);

impl NumberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::Work => "work",
            NumberKind::Mobile => "mobile",
            NumberKind::Home => "home",
            NumberKind::Fax => "fax",
            NumberKind::Other => "other",
        }
    }
}

impl FromStr for NumberKind {
    type Err = UnknownKind;

    fn from_str(text: &str) -> Result<NumberKind, UnknownKind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "work" => Ok(NumberKind::Work),
            "mobile" => Ok(NumberKind::Mobile),
            "home" => Ok(NumberKind::Home),
            "fax" => Ok(NumberKind::Fax),
            "other" => Ok(NumberKind::Other),
            _ => Err(UnknownKind(text.to_string())),
        }
    }
}

impl fmt::Display for NumberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A number to store, already read by the normaliser.
#[derive(Clone, Debug)]
pub struct NewNumber {
    pub number: Number,
    pub kind: NumberKind,
}

/// A contact person to store with their own numbers.
#[derive(Clone, Debug, Default)]
pub struct NewContact {
    pub name: String,
    pub email: String,
    pub numbers: Vec<NewNumber>,
}

/// A customer to store: its own numbers (a switchboard), and its contacts.
#[derive(Clone, Debug, Default)]
pub struct NewCustomer {
    pub name: String,
    pub notes: String,
    pub numbers: Vec<NewNumber>,
    pub contacts: Vec<NewContact>,
}

/// A stored customer with its contacts and numbers.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub notes: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped on every edit; an edit names the version it started from.
    pub version: i64,
    /// Set when this customer was merged into another.
    pub merged_into: Option<i64>,
    pub contacts: Vec<Contact>,
    pub numbers: Vec<StoredNumber>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Contact {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub version: i64,
}

/// A stored number; `contact_id` is set when it is a contact's own.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct StoredNumber {
    pub id: i64,
    pub contact_id: Option<i64>,
    pub raw: String,
    pub e164: Option<String>,
    pub country_code: Option<u16>,
    pub national: Option<String>,
    pub rev_digits: String,
    pub kind: String,
}

/// One line of the customer list.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CustomerSummary {
    pub id: i64,
    pub name: String,
    pub contacts: i64,
    pub numbers: i64,
}

/// Which slice of a list to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u32,
}

impl Default for Page {
    fn default() -> Page {
        Page {
            limit: 50,
            offset: 0,
        }
    }
}

/// Inserts one customer with its numbers and contacts on `$tx`, a
/// transaction of either backend; a macro because the same statements run on
/// two connection types. Evaluates to the customer's id.
macro_rules! insert_customer {
    ($tx:ident, $customer:expr, $now:expr) => {{
        let customer: &NewCustomer = $customer;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO customers (name, notes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&customer.name)
        .bind(&customer.notes)
        .bind($now)
        .bind($now)
        .fetch_one(&mut *$tx)
        .await?;

        for number in &customer.numbers {
            insert_number!($tx, id, None::<i64>, number);
        }
        for contact in &customer.contacts {
            let contact_id: i64 = sqlx::query_scalar(
                "INSERT INTO contacts (customer_id, name, email, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(id)
            .bind(&contact.name)
            .bind(&contact.email)
            .bind($now)
            .fetch_one(&mut *$tx)
            .await?;
            for number in &contact.numbers {
                insert_number!($tx, id, Some(contact_id), number);
            }
        }
        Ok::<i64, sqlx::Error>(id)
    }};
}

macro_rules! insert_number {
    ($tx:ident, $customer_id:expr, $contact_id:expr, $number:expr) => {{
        let new: &NewNumber = $number;
        let n = &new.number;
        sqlx::query(
            "INSERT INTO phone_numbers \
             (customer_id, contact_id, raw, e164, country_code, national, rev_digits, kind) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($customer_id)
        .bind($contact_id)
        .bind(&n.raw)
        .bind(n.e164.as_deref())
        .bind(n.country_code.map(i64::from))
        .bind(n.national.as_deref())
        .bind(&n.rev_digits)
        .bind(new.kind.as_str())
        .execute(&mut *$tx)
        .await?;
    }};
}

mod edit;
mod history;

pub use edit::{EditError, MergeCounts};
pub use history::{CustomerCall, CustomerTopic};

impl Store {
    /// Stores one customer with its contacts and numbers; returns its id.
    pub async fn insert_customer(&self, customer: &NewCustomer) -> anyhow::Result<i64> {
        let ids = self
            .insert_customers(std::slice::from_ref(customer))
            .await?;
        Ok(ids[0])
    }

    /// Stores customers in one transaction: all of them or, on any failure,
    /// none. Returns their ids in order.
    pub async fn insert_customers(&self, customers: &[NewCustomer]) -> anyhow::Result<Vec<i64>> {
        let now = millis(Utc::now());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.context("failed to begin a transaction")?;
            let mut ids = Vec::with_capacity(customers.len());
            for customer in customers {
                let id = async { insert_customer!(tx, customer, now) }
                    .await
                    .with_context(|| format!("failed to insert customer {:?}", customer.name))?;
                ids.push(id);
            }
            tx.commit().await.context("failed to commit customers")?;
            Ok(ids)
        })
    }

    /// The customer `id` with its contacts and numbers, if there is one.
    pub async fn customer(&self, id: i64) -> anyhow::Result<Option<Customer>> {
        type Head = (i64, String, String, i64, i64, i64, Option<i64>);
        let head: Option<Head> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, name, notes, created_at, updated_at, version, merged_into \
                 FROM customers WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
        })
        .with_context(|| format!("failed to read customer {id}"))?;
        let Some((id, name, notes, created_at, updated_at, version, merged_into)) = head else {
            return Ok(None);
        };

        let contacts: Vec<Contact> = on_pool!(self, pool => {
            let sql = "SELECT id, name, email, version FROM contacts \
                       WHERE customer_id = $1 ORDER BY id";
            sqlx::query_as(sql)
                .bind(id)
                .fetch_all(pool)
                .await
        })
        .with_context(|| format!("failed to read the contacts of customer {id}"))?;
        let numbers = self.numbers_of(id).await?;

        Ok(Some(Customer {
            id,
            name,
            notes,
            created_at: from_millis(created_at),
            updated_at: from_millis(updated_at),
            version,
            merged_into,
            contacts,
            numbers,
        }))
    }

    async fn numbers_of(&self, customer_id: i64) -> anyhow::Result<Vec<StoredNumber>> {
        type Row = (
            i64,
            Option<i64>,
            String,
            Option<String>,
            Option<i64>,
            Option<String>,
            String,
            String,
        );
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, contact_id, raw, e164, country_code, national, rev_digits, kind \
                 FROM phone_numbers WHERE customer_id = $1 ORDER BY id",
            )
            .bind(customer_id)
            .fetch_all(pool)
            .await
        })
        .with_context(|| format!("failed to read the numbers of customer {customer_id}"))?;

        let numbers = rows.into_iter().map(|r| StoredNumber {
            id: r.0,
            contact_id: r.1,
            raw: r.2,
            e164: r.3,
            country_code: r.4.and_then(|c| u16::try_from(c).ok()),
            national: r.5,
            rev_digits: r.6,
            kind: r.7,
        });
        Ok(numbers.collect())
    }

    /// Customers whose name, or a contact's name or email, contains `name`
    /// (any case), by name, one page. Merged customers are left out.
    ///
    /// The pattern has a leading wildcard, so this reads the whole table:
    /// fine for the customer list, never used on the call path. SQLite folds
    /// case for ASCII letters only.
    pub async fn search_customers(
        &self,
        name: &str,
        page: Page,
    ) -> anyhow::Result<Vec<CustomerSummary>> {
        let pattern = format!("%{}%", escape_like(&name.to_lowercase()));
        on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT c.id, c.name, \
                 (SELECT COUNT(*) FROM contacts k WHERE k.customer_id = c.id) AS contacts, \
                 (SELECT COUNT(*) FROM phone_numbers p WHERE p.customer_id = c.id) AS numbers \
                 FROM customers c WHERE c.merged_into IS NULL \
                 AND (LOWER(c.name) LIKE $1 ESCAPE '\\' OR c.id IN \
                      (SELECT k.customer_id FROM contacts k WHERE LOWER(k.name) LIKE $1 \
                       ESCAPE '\\' OR LOWER(k.email) LIKE $1 ESCAPE '\\')) \
                 ORDER BY c.name, c.id LIMIT $2 OFFSET $3",
            )
            .bind(&pattern)
            .bind(i64::from(page.limit))
            .bind(i64::from(page.offset))
            .fetch_all(pool)
            .await
        })
        .context("failed to search customers")
    }
}

impl Store {
    /// The list lines of the customers `ids` that were not merged away, by
    /// name: what a search by phone number shows.
    pub async fn customer_summaries(&self, ids: &[i64]) -> anyhow::Result<Vec<CustomerSummary>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Ids are integers, so listing them in the SQL text is safe.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT c.id, c.name, \
             (SELECT COUNT(*) FROM contacts k WHERE k.customer_id = c.id) AS contacts, \
             (SELECT COUNT(*) FROM phone_numbers p WHERE p.customer_id = c.id) AS numbers \
             FROM customers c WHERE c.merged_into IS NULL AND c.id IN ({list}) \
             ORDER BY c.name, c.id"
        );
        on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
            .context("failed to read customers by id")
    }
}

/// `%`, `_` and `\` in a name are meant literally.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The stored numbers that may match a caller, in one statement so that a
/// lookup costs one round trip. Every condition is an index lookup: equality
/// on `e164` and `national`; on `rev_digits`, equality with each ending of
/// the caller's digits long enough for a suffix match, and a range for the
/// numbers that end with all of them (for a caller of all nines, only those
/// sort after it). Placeholders: `$1` E.164, `$2` national, `$3` the caller's
/// reversed digits, `$4` the range's upper end, `$5` the limit, then the
/// endings.
fn candidates_sql(endings: usize, bounded: bool) -> String {
    let mut suffix = String::new();
    if endings > 0 {
        let list: Vec<String> = (0..endings).map(|i| format!("${}", i + 6)).collect();
        suffix = format!(" OR p.rev_digits IN ({})", list.join(", "));
        suffix += if bounded {
            " OR (p.rev_digits > $3 AND p.rev_digits < $4)"
        } else {
            " OR (p.rev_digits > $3 AND $4 IS NULL)"
        };
    }
    format!(
        "SELECT p.customer_id, c.name, p.contact_id, k.name, p.raw, p.e164, p.country_code, \
         p.national, p.rev_digits \
         FROM phone_numbers p \
         JOIN customers c ON c.id = p.customer_id \
         LEFT JOIN contacts k ON k.id = p.contact_id \
         WHERE p.e164 = $1 OR p.national = $2{suffix} \
         ORDER BY CASE WHEN p.e164 = $1 THEN 0 WHEN p.national = $2 THEN 1 \
         ELSE 100 - LENGTH(p.rev_digits) END, p.customer_id, p.id \
         LIMIT $5"
    )
}

#[derive(sqlx::FromRow)]
struct EntryRow(
    i64,
    String,
    Option<i64>,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    String,
);

impl EntryRow {
    fn into_entry(self) -> Entry {
        Entry {
            customer_id: self.0,
            customer_name: self.1,
            contact_id: self.2,
            contact_name: self.3,
            raw: self.4,
            e164: self.5,
            country_code: self.6.and_then(|c| u16::try_from(c).ok()),
            national: self.7,
            rev_digits: self.8,
        }
    }
}

impl Directory for Store {
    async fn candidates(
        &self,
        caller: &Number,
        min_suffix: usize,
        limit: usize,
    ) -> anyhow::Result<Vec<Entry>> {
        let rev = caller.rev_digits.as_str();
        let endings: Vec<&str> = (min_suffix..=rev.len()).map(|n| &rev[..n]).collect();
        let upper = digits_after(rev);
        let sql = candidates_sql(endings.len(), upper.is_some());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);

        let rows: Vec<EntryRow> = on_pool!(self, pool => {
            let mut query = sqlx::query_as(&sql)
                .bind(caller.e164.as_deref())
                .bind(caller.national.as_deref())
                .bind(rev)
                .bind(upper.as_deref())
                .bind(limit);
            for ending in &endings {
                query = query.bind(*ending);
            }
            query.fetch_all(pool).await
        })
        .context("failed to look up phone numbers")?;

        // Under a collation that does not sort digits as bytes the range
        // could hold more; what does not match is dropped here.
        let entries = rows.into_iter().map(EntryRow::into_entry);
        Ok(entries
            .filter(|e| matches_any(e, caller, min_suffix))
            .collect())
    }
}

fn matches_any(entry: &Entry, caller: &Number, min_suffix: usize) -> bool {
    let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
    same(&entry.e164, &caller.e164)
        || same(&entry.national, &caller.national)
        || suffix_overlap(&entry.rev_digits, &caller.rev_digits, min_suffix).is_some()
}

/// The smallest digit string greater than every string starting with
/// `prefix`: "1239" gives "124"; none for "999".
fn digits_after(prefix: &str) -> Option<String> {
    let kept = prefix.trim_end_matches('9');
    let last = kept.chars().last()?;
    let next = char::from_digit(last.to_digit(10)? + 1, 10)?;
    Some(format!("{}{next}", &kept[..kept.len() - 1]))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Fresh databases for tests: SQLite in a temporary folder, and
    //! PostgreSQL when it runs on this machine (it must under CI).

    use std::sync::atomic::{AtomicUsize, Ordering};

    use sqlx::Connection;

    use crate::store::Store;

    const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    /// A store on a database of its own, removed when dropped.
    pub(crate) struct TestDb {
        pub(crate) store: Store,
        _dir: Option<tempfile::TempDir>,
        postgres: Option<String>,
    }

    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("failed to create a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("callpop.db").display());
        let store = Store::connect(&url).await.expect("failed to open sqlite");
        TestDb {
            store,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// None, after saying so, when PostgreSQL is unreachable outside CI.
    pub(crate) async fn postgres() -> Option<TestDb> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let admin_url = std::env::var("CALLPOP_TEST_POSTGRES").unwrap_or(POSTGRES.to_string());
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(admin) => admin,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("skipping: postgres unreachable at {admin_url}: {e}");
                return None;
            }
            Err(e) => panic!("postgres unreachable at {admin_url} with CI set: {e}"),
        };

        let name = format!(
            "callpop_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_micros()
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("failed to create a test database");
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("a postgres url names a database");
        let store = Store::connect(&format!("{base}/{name}"))
            .await
            .expect("failed to open postgres");
        Some(TestDb {
            store,
            _dir: None,
            postgres: Some(name),
        })
    }

    impl Drop for TestDb {
        /// Drops the PostgreSQL database even when the test panicked; on a
        /// thread of its own because the test's runtime may be gone.
        fn drop(&mut self) {
            let Some(name) = self.postgres.take() else {
                return;
            };
            let admin_url = std::env::var("CALLPOP_TEST_POSTGRES").unwrap_or(POSTGRES.to_string());
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    sqlx::query(&sql).execute(&mut admin).await?;
                    anyhow::Ok(())
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("failed to drop a test database: {dropped:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{postgres, sqlite};
    use super::*;
    use crate::lookup::{Lookup, Normalizer, Reason};

    fn acme(normalizer: &Normalizer) -> NewCustomer {
        let number = |raw: &str, kind| NewNumber {
            number: normalizer.normalize(raw),
            kind,
        };
        NewCustomer {
            name: "Acme 100% Widgets".into(),
            notes: "pays late".into(),
            numbers: vec![number("+1 212 555 0100", NumberKind::Work)],
            contacts: vec![
                NewContact {
                    name: "Ann Lee".into(),
                    email: "ann@acme.example".into(),
                    numbers: vec![number("(212) 555-0142 x7", NumberKind::Mobile)],
                },
                NewContact {
                    name: "Bob Roe".into(),
                    ..NewContact::default()
                },
            ],
        }
    }

    /// Writes customers, reads them back, searches and looks them up; the
    /// same on each backend.
    async fn check_store(store: &Store) {
        let normalizer = Normalizer::new("US").unwrap();
        let other = NewCustomer {
            name: "Beta".into(),
            ..NewCustomer::default()
        };
        let ids = store
            .insert_customers(&[acme(&normalizer), other])
            .await
            .unwrap();

        let customer = store
            .customer(ids[0])
            .await
            .unwrap()
            .expect("customer stored");
        assert_eq!(customer.name, "Acme 100% Widgets");
        assert_eq!(customer.notes, "pays late");
        let contacts: Vec<_> = customer.contacts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(contacts, ["Ann Lee", "Bob Roe"]);
        let ann = &customer.numbers[1];
        assert_eq!(ann.contact_id, Some(customer.contacts[0].id));
        assert_eq!(ann.raw, "(212) 555-0142 x7");
        assert_eq!(ann.e164.as_deref(), Some("+12125550142"));
        assert_eq!((ann.country_code, ann.kind.as_str()), (Some(1), "mobile"));
        assert_eq!(ann.national.as_deref(), Some("2125550142"));
        assert_eq!(ann.rev_digits, "2410555212");
        assert!(store.customer(ids[1] + 100).await.unwrap().is_none());

        let found = store
            .search_customers("100%", Page::default())
            .await
            .unwrap();
        assert_eq!(
            found
                .iter()
                .map(|c| (c.contacts, c.numbers))
                .collect::<Vec<_>>(),
            [(2, 2)]
        );
        assert!(store
            .search_customers("1_0", Page::default())
            .await
            .unwrap()
            .is_empty());
        let page = Page {
            limit: 1,
            offset: 1,
        };
        let names: Vec<_> = store.search_customers("", page).await.unwrap();
        assert_eq!(
            names.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["Beta"]
        );

        let lookup = Lookup::new(store.clone(), normalizer);
        let reasons = |outcome: crate::lookup::Outcome| -> Vec<(Option<String>, Reason)> {
            outcome
                .matches
                .into_iter()
                .map(|m| (m.contact_name, m.reason))
                .collect()
        };
        let ann = Some("Ann Lee".to_string());
        assert_eq!(
            reasons(lookup.find("+12125550142").await.unwrap()),
            [(ann.clone(), Reason::Exact)]
        );
        assert_eq!(
            reasons(lookup.find("555 0142").await.unwrap()),
            [(ann, Reason::Suffix(7))]
        );
        assert_eq!(
            reasons(lookup.find("9 1 212 555 0100").await.unwrap()),
            [(None, Reason::Suffix(11))]
        );
        assert!(lookup
            .find("+44 212 555 0100")
            .await
            .unwrap()
            .matches
            .is_empty());
    }

    #[tokio::test]
    async fn lookup_reads_indexes_and_never_scans_numbers() {
        let db = sqlite().await;
        let crate::store::Pool::Sqlite(pool) = &db.store.pool else {
            unreachable!()
        };
        for (endings, bounded) in [(5, true), (3, false), (0, true)] {
            let sql = format!("EXPLAIN QUERY PLAN {}", candidates_sql(endings, bounded));
            let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&sql);
            for value in ["+12125550100", "2125550100", "0010555", "0010556", "50"] {
                query = query.bind(value);
            }
            for _ in 0..endings {
                query = query.bind("0010555");
            }
            let plan = query.fetch_all(pool).await.unwrap();
            let plan: Vec<String> = plan.into_iter().map(|row| row.3).collect();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "{plan:#?}"
            );
            assert!(
                plan.iter().any(|s| s.contains("phone_numbers_e164")),
                "{plan:#?}"
            );
        }
    }

    #[tokio::test]
    async fn sqlite_store_keeps_customers_and_finds_them_by_number() {
        let db = sqlite().await;
        check_store(&db.store).await;
    }

    #[tokio::test]
    async fn postgres_store_keeps_customers_and_finds_them_by_number() {
        let Some(db) = postgres().await else { return };
        check_store(&db.store).await;
    }

    #[tokio::test]
    async fn a_failed_insert_writes_nothing() {
        let db = sqlite().await;
        let crate::store::Pool::Sqlite(pool) = &db.store.pool else {
            unreachable!()
        };
        sqlx::query(
            "CREATE TRIGGER refuse BEFORE INSERT ON phone_numbers WHEN NEW.raw = 'refused' \
             BEGIN SELECT RAISE(ABORT, 'refused by test'); END",
        )
        .execute(pool)
        .await
        .unwrap();

        // The second customer fails on its number, after the first was written.
        let normalizer = Normalizer::new("US").unwrap();
        let refused = NewNumber {
            number: normalizer.normalize("refused"),
            kind: NumberKind::Work,
        };
        let bad = NewCustomer {
            name: "Bad".into(),
            numbers: vec![refused],
            ..Default::default()
        };
        let err = db
            .store
            .insert_customers(&[acme(&normalizer), bad])
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "failed to insert customer \"Bad\"");
        assert!(db
            .store
            .search_customers("", Page::default())
            .await
            .unwrap()
            .is_empty());
    }

    /// Compiles only while lookups on the store can be awaited in web
    /// handlers and spawned tasks.
    #[allow(dead_code)]
    fn lookups_are_send(lookup: &Lookup<Store>) {
        fn send<T: Send>(_: T) {}
        fn shared<T: Send + Sync>(_: T) {}
        send(lookup.find("+15550100"));
        send(lookup.explain("+15550100"));
        shared(lookup);
    }

    #[test]
    fn digits_after_bounds_a_prefix() {
        assert_eq!(digits_after("1239").as_deref(), Some("124"));
        assert_eq!(digits_after("0").as_deref(), Some("1"));
        assert_eq!(digits_after("999"), None);
    }

    #[test]
    fn kinds_read_as_written() {
        assert_eq!("Mobile".parse::<NumberKind>(), Ok(NumberKind::Mobile));
        let err = "pager".parse::<NumberKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown kind \"pager\": expected work, mobile, home, fax or other"
        );
    }
}
