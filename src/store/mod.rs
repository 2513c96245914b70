//! The database: one `Store` over SQLite (the default, one file) or PostgreSQL
//! (for several daemons behind a load balancer), chosen by the URL's scheme.
//!
//! Queries are written once, with `$1` placeholders that both backends read,
//! and run against whichever pool the store holds (see [`on_pool!`]). Times
//! are stored as milliseconds since the Unix epoch so that comparisons and
//! arithmetic mean the same on both backends.

pub mod callbacks;
pub mod calls;
pub mod conversations;
pub mod customers;
pub mod opportunities;
pub mod topics;
pub mod users;

use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body against whichever pool the store holds: `$pool` is a
/// `&SqlitePool` in one arm and a `&PgPool` in the other, so the body is
/// compiled once per backend from the same SQL text.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            crate::store::Pool::Sqlite($pool) => $body,
            crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

impl Store {
    /// Opens the database named by `url` and brings its schema up to date.
    /// A `sqlite:` file and its folder are created when missing.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(open_sqlite(url).await?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .connect(url)
                .await
                .context("failed to connect to postgres")?;
            Pool::Postgres(pool)
        } else {
            // The URL is not repeated: it may hold a password.
            anyhow::bail!("database.url must start with sqlite: or postgres:");
        };
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .context("failed to migrate the database")
    }

    /// Which backend this store uses, for logs.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

async fn open_sqlite(url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .context("failed to read database.url")?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL with NORMAL survives a crash of the daemon without losing a
        // committed call; only a power cut can take the last transactions.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Another process writing (an import) holds the lock for its whole
        // transaction; a call waits for it rather than go unrecorded.
        .busy_timeout(std::time::Duration::from_secs(60));

    let path = options.get_filename().to_owned();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create database folder {}", dir.display()))?;
    }

    // A file database does not drop connections the way a server can, so
    // skip the ping sqlx sends on every acquire: it is a round trip on the
    // lookup's hot path.
    SqlitePoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .with_context(|| format!("failed to open sqlite database {}", path.display()))
}

/// Milliseconds since the Unix epoch, as stored.
pub fn millis(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// The stored form back to a time; out-of-range values clamp to the epoch.
pub fn from_millis(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
