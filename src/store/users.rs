//! Users, their extensions, sessions, API tokens and setup links in the
//! database. Secrets arrive here already hashed (see `auth::secret`): the
//! store never sees a password, a cookie or a token in the clear.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{from_millis, millis, on_pool, Store};
use crate::auth::Role;

/// A user as the pages and the API show them.
#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    /// Whether the user can sign in with a password at all.
    pub has_password: bool,
    /// In order: the first is where click-to-dial rings.
    pub extensions: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The name to show: the display name, or the username without one.
    pub fn name(&self) -> &str {
        match self.display_name.trim() {
            "" => &self.username,
            name => name,
        }
    }
}

/// A user to create. `password_hash` is a PHC string, or `None` for a user
/// who signs in with API tokens only.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub extensions: Vec<String>,
}

/// What an admin may change about a user.
#[derive(Clone, Debug)]
pub struct UserChange {
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    pub extensions: Vec<String>,
}

/// A signed-in browser, found by the hash of its cookie.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub user: User,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A session to store: `id` is the hash of the cookie's secret.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: String,
    pub user_id: i64,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An API token as its owner sees it later: never the token itself.
#[derive(Clone, Debug, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What a token or session grants now, read again while a pop stream it
/// opened stays open: one query, the user and their extensions.
#[derive(Clone, Debug)]
pub struct Standing {
    pub user_id: i64,
    pub role: Role,
    pub active: bool,
    /// In order, as [`User::extensions`].
    pub extensions: Vec<String>,
    /// A session's last use and end; `None` for an API token.
    pub session_times: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Why a user could not be written; the rest are database failures.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("the username {0:?} is taken")]
    UsernameTaken(String),
    #[error("extension {extension} already belongs to {owner}")]
    ExtensionTaken { extension: String, owner: String },
    #[error("callpop needs at least one active admin")]
    LastAdmin,
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    active: bool,
    has_password: bool,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    csrf: String,
    session_created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct TokenUserRow {
    #[sqlx(flatten)]
    user: UserRow,
    token_id: i64,
    last_used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ApiTokenRow {
    id: i64,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.role, u.active, \
    (u.password_hash IS NOT NULL) AS has_password, u.created_at";

/// What a transaction that writes a user found: done, or a conflict.
type Checked<T> = Result<T, UserError>;

impl Store {
    pub async fn count_users(&self) -> anyhow::Result<i64> {
        on_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await
        })
        .context("failed to count users")
    }

    /// Creates a user with their extensions. Setup links stop working: there
    /// is a user now.
    pub async fn create_user(&self, user: &NewUser) -> Result<i64, UserError> {
        self.insert_user(user, None)
            .await?
            .ok_or(UserError::NotFound)
    }

    /// Creates the first admin through the setup link whose hash is
    /// `setup_id`. `None` when that link is unknown, used, or a user
    /// exists already; every setup link is spent either way.
    pub async fn create_first_admin(
        &self,
        setup_id: &str,
        user: &NewUser,
    ) -> Result<Option<i64>, UserError> {
        self.insert_user(user, Some(setup_id)).await
    }

    async fn insert_user(&self, user: &NewUser, setup_id: Option<&str>) -> Checked<Option<i64>> {
        let now = millis(Utc::now());
        let result = on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;

            // Through a setup link: that link must exist, and no user yet.
            // Deleting its row first makes a second use of it wait and fail.
            if let Some(setup_id) = setup_id {
                let spent = sqlx::query("DELETE FROM setup_tokens WHERE id = $1")
                    .bind(setup_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&mut *tx)
                    .await?;
                if spent != 1 || users > 0 {
                    tx.commit().await?;
                    return Ok(Ok(None));
                }
            }

            let taken: Option<String> = sqlx::query_scalar(
                "SELECT username FROM users WHERE lower(username) = lower($1)",
            )
            .bind(&user.username)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(taken) = taken {
                return Ok(Err(UserError::UsernameTaken(taken)));
            }
            let owners: Vec<(String, String)> = sqlx::query_as(
                "SELECT e.extension, u.username FROM user_extensions e \
                 JOIN users u ON u.id = e.user_id",
            )
            .fetch_all(&mut *tx)
            .await?;
            if let Some(conflict) = extension_conflict(&owners, &user.extensions) {
                return Ok(Err(conflict));
            }

            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (username, display_name, role, password_hash, active, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&user.username)
            .bind(user.display_name.trim())
            .bind(user.role.as_str())
            .bind(&user.password_hash)
            .bind(true)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            for (position, extension) in user.extensions.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO user_extensions (user_id, extension, position) \
                     VALUES ($1, $2, $3)",
                )
                .bind(id)
                .bind(extension)
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("DELETE FROM setup_tokens").execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<Checked<Option<i64>>, sqlx::Error>(Ok(Some(id)))
        }
        .await);
        result.with_context(|| format!("failed to create user {}", user.username))?
    }

    /// Remembers a setup link (by its hash) until a user exists.
    pub async fn add_setup_token(&self, id: &str) -> anyhow::Result<()> {
        let now = millis(Utc::now());
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO setup_tokens (id, created_at) VALUES ($1, $2)")
                .bind(id)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .context("failed to store a setup link")?;
        Ok(())
    }

    /// Whether the setup link with hash `id` would create the first admin.
    pub async fn setup_token_valid(&self, id: &str) -> anyhow::Result<bool> {
        let found: i64 = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM setup_tokens WHERE id = $1 \
                 AND NOT EXISTS (SELECT 1 FROM users)",
            )
            .bind(id)
            .fetch_one(pool)
            .await
        })
        .context("failed to read setup links")?;
        Ok(found > 0)
    }

    /// Every user, by username.
    pub async fn users(&self) -> anyhow::Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY lower(u.username)");
        let rows: Vec<UserRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await
        })
        .context("failed to list users")?;
        self.with_extensions(rows).await
    }

    pub async fn user(&self, id: i64) -> anyhow::Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let row: Option<UserRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })
        .with_context(|| format!("failed to read user {id}"))?;
        Ok(self.with_extensions(row.into_iter().collect()).await?.pop())
    }

    /// The user with this username, compared without case.
    pub async fn user_by_username(&self, username: &str) -> anyhow::Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE lower(u.username) = lower($1)");
        let row: Option<UserRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(username).fetch_optional(pool).await
        })
        .context("failed to read a user by name")?;
        Ok(self.with_extensions(row.into_iter().collect()).await?.pop())
    }

    /// The stored PHC string of a user's password, if they have one.
    pub async fn password_hash(&self, user_id: i64) -> anyhow::Result<Option<String>> {
        let hash: Option<Option<String>> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })
        .context("failed to read a password hash")?;
        Ok(hash.flatten())
    }

    /// Changes a user's name, role, state and extensions. A user who is
    /// deactivated is signed out everywhere. The last active admin cannot
    /// stop being one.
    pub async fn update_user(&self, id: i64, change: &UserChange) -> Result<(), UserError> {
        let stays_admin = change.role == Role::Admin && change.active;
        let result = on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let now: Option<(String, bool)> =
                sqlx::query_as("SELECT role, active FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((role, active)) = now else {
                return Ok(Err(UserError::NotFound));
            };
            if role == Role::Admin.as_str() && active && !stays_admin {
                let other_admins: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active AND id <> $1",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if other_admins == 0 {
                    return Ok(Err(UserError::LastAdmin));
                }
            }
            let owners: Vec<(String, String)> = sqlx::query_as(
                "SELECT e.extension, u.username FROM user_extensions e \
                 JOIN users u ON u.id = e.user_id WHERE e.user_id <> $1",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            if let Some(conflict) = extension_conflict(&owners, &change.extensions) {
                return Ok(Err(conflict));
            }

            sqlx::query("UPDATE users SET display_name = $1, role = $2, active = $3 WHERE id = $4")
                .bind(change.display_name.trim())
                .bind(change.role.as_str())
                .bind(change.active)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM user_extensions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for (position, extension) in change.extensions.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO user_extensions (user_id, extension, position) \
                     VALUES ($1, $2, $3)",
                )
                .bind(id)
                .bind(extension)
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
            }
            if !change.active {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<Checked<()>, sqlx::Error>(Ok(()))
        }
        .await);
        result.with_context(|| format!("failed to update user {id}"))?
    }

    /// Sets (or, with `None`, removes) a user's password and signs them out
    /// of every session but `keep`, the one that made the change.
    pub async fn set_password(
        &self,
        user_id: i64,
        password_hash: Option<&str>,
        keep: Option<&str>,
    ) -> anyhow::Result<bool> {
        let changed = on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                .bind(user_id)
                .bind(keep.unwrap_or(""))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(changed)
        }
        .await)
        .with_context(|| format!("failed to set the password of user {user_id}"))?;
        Ok(changed == 1)
    }

    /// Takes a form's one-time value (its hash): true the first time,
    /// false for a form sent again. Values older than a week are let go.
    pub async fn use_form(&self, hash: &str, at: DateTime<Utc>) -> anyhow::Result<bool> {
        let week_ago = millis(at - chrono::Duration::days(7));
        on_pool!(self, pool => async {
            let taken = sqlx::query(
                "INSERT INTO form_uses (hash, at) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            )
            .bind(hash)
            .bind(millis(at))
            .execute(pool)
            .await?
            .rows_affected();
            sqlx::query("DELETE FROM form_uses WHERE at < $1")
                .bind(week_ago)
                .execute(pool)
                .await?;
            Ok::<bool, sqlx::Error>(taken == 1)
        }
        .await)
        .context("failed to record a form's use")
    }

    pub async fn create_session(&self, session: &NewSession) -> anyhow::Result<()> {
        let created = millis(session.created_at);
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, csrf, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&session.id)
            .bind(session.user_id)
            .bind(&session.csrf)
            .bind(created)
            .bind(created)
            .bind(millis(session.expires_at))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("failed to store a session")?;
        Ok(())
    }

    /// The session whose cookie hashes to `id`, if its user is active.
    /// Whether it has expired is for the caller to judge.
    pub async fn session(&self, id: &str) -> anyhow::Result<Option<SessionRecord>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, s.csrf, s.created_at AS session_created_at, \
             s.last_seen_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND u.active"
        );
        let row: Option<SessionRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })
        .context("failed to read a session")?;
        let Some(row) = row else { return Ok(None) };
        let (csrf, created, seen, expires) = (
            row.csrf,
            row.session_created_at,
            row.last_seen_at,
            row.expires_at,
        );
        let user = self.with_extensions(vec![row.user]).await?.pop();
        Ok(user.map(|user| SessionRecord {
            user,
            csrf,
            created_at: from_millis(created),
            last_seen_at: from_millis(seen),
            expires_at: from_millis(expires),
        }))
    }

    pub async fn touch_session(&self, id: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
                .bind(millis(now))
                .bind(id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .context("failed to note a session's use")?;
        Ok(())
    }

    pub async fn end_session(&self, id: &str) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .context("failed to end a session")?;
        Ok(())
    }

    /// Removes sessions past their end, or unused since `idle_since`.
    pub async fn end_stale_sessions(
        &self,
        now: DateTime<Utc>,
        idle_since: DateTime<Utc>,
    ) -> anyhow::Result<u64> {
        let ended = on_pool!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(millis(now))
                .bind(millis(idle_since))
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .context("failed to remove old sessions")?;
        Ok(ended)
    }

    /// Stores an API token for a user by its hash; returns its id.
    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        hash: &str,
    ) -> anyhow::Result<i64> {
        let now = millis(Utc::now());
        on_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO api_tokens (user_id, name, hash, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(user_id)
            .bind(name)
            .bind(hash)
            .bind(now)
            .fetch_one(pool)
            .await
        })
        .with_context(|| format!("failed to store an API token for user {user_id}"))
    }

    /// The active user whose API token hashes to `hash`, with the token's
    /// id and when it was last used.
    pub async fn api_token_user(
        &self,
        hash: &str,
    ) -> anyhow::Result<Option<(User, i64, Option<DateTime<Utc>>)>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, t.id AS token_id, t.last_used_at FROM api_tokens t \
             JOIN users u ON u.id = t.user_id WHERE t.hash = $1 AND u.active"
        );
        let row: Option<TokenUserRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(hash).fetch_optional(pool).await
        })
        .context("failed to read an API token")?;
        let Some(row) = row else { return Ok(None) };
        let (token_id, used) = (row.token_id, row.last_used_at.map(from_millis));
        let user = self.with_extensions(vec![row.user]).await?.pop();
        Ok(user.map(|user| (user, token_id, used)))
    }

    pub async fn touch_api_token(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(millis(now))
                .bind(id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .context("failed to note an API token's use")?;
        Ok(())
    }

    /// A user's API tokens, newest first.
    pub async fn api_tokens(&self, user_id: i64) -> anyhow::Result<Vec<ApiToken>> {
        let rows: Vec<ApiTokenRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, name, created_at, last_used_at FROM api_tokens \
                 WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await
        })
        .with_context(|| format!("failed to list the API tokens of user {user_id}"))?;
        Ok(rows
            .into_iter()
            .map(|r| ApiToken {
                id: r.id,
                name: r.name,
                created_at: from_millis(r.created_at),
                last_used_at: r.last_used_at.map(from_millis),
            })
            .collect())
    }

    /// Revokes one of a user's API tokens; false when they have no such one.
    pub async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> anyhow::Result<bool> {
        let done = on_pool!(self, pool => {
            sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
                .bind(token_id)
                .bind(user_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .context("failed to revoke an API token")?;
        Ok(done == 1)
    }

    /// What API token `token_id` grants now: `None` once it is revoked.
    pub async fn token_standing(&self, token_id: i64) -> anyhow::Result<Option<Standing>> {
        let sql = "SELECT u.id, u.role, u.active, e.extension FROM api_tokens t \
            JOIN users u ON u.id = t.user_id LEFT JOIN user_extensions e ON e.user_id = u.id \
            WHERE t.id = $1 ORDER BY e.position";
        let rows: Vec<(i64, String, bool, Option<String>)> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(token_id).fetch_all(pool).await
        })
        .context("failed to read an API token's standing")?;
        let Some((user_id, role, active, _)) = rows.first().cloned() else {
            return Ok(None);
        };
        Ok(Some(Standing {
            user_id,
            role: role.parse().map_err(anyhow::Error::msg)?,
            active,
            extensions: rows.into_iter().filter_map(|r| r.3).collect(),
            session_times: None,
        }))
    }

    /// What the session with id `id` grants now: `None` once it has ended.
    /// Whether it has expired is for the caller to judge.
    pub async fn session_standing(&self, id: &str) -> anyhow::Result<Option<Standing>> {
        type Row = (i64, String, bool, i64, i64, Option<String>);
        let sql = "SELECT u.id, u.role, u.active, s.last_seen_at, s.expires_at, e.extension \
            FROM sessions s JOIN users u ON u.id = s.user_id \
            LEFT JOIN user_extensions e ON e.user_id = u.id WHERE s.id = $1 ORDER BY e.position";
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(id).fetch_all(pool).await
        })
        .context("failed to read a session's standing")?;
        let Some((user_id, role, active, seen, expires, _)) = rows.first().cloned() else {
            return Ok(None);
        };
        Ok(Some(Standing {
            user_id,
            role: role.parse().map_err(anyhow::Error::msg)?,
            active,
            extensions: rows.into_iter().filter_map(|r| r.5).collect(),
            session_times: Some((from_millis(seen), from_millis(expires))),
        }))
    }

    async fn with_extensions(&self, rows: Vec<UserRow>) -> anyhow::Result<Vec<User>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // Ids are integers, so listing them in the SQL text is safe.
        let list = rows
            .iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT user_id, extension FROM user_extensions WHERE user_id IN ({list}) \
             ORDER BY user_id, position"
        );
        let found: Vec<(i64, String)> = on_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await
        })
        .context("failed to read users' extensions")?;
        let mut extensions: HashMap<i64, Vec<String>> = HashMap::new();
        for (user_id, extension) in found {
            extensions.entry(user_id).or_default().push(extension);
        }

        rows.into_iter()
            .map(|row| {
                let role = row.role.parse::<Role>().map_err(anyhow::Error::msg)?;
                Ok(User {
                    extensions: extensions.remove(&row.id).unwrap_or_default(),
                    id: row.id,
                    username: row.username,
                    display_name: row.display_name,
                    role,
                    active: row.active,
                    has_password: row.has_password,
                    created_at: from_millis(row.created_at),
                })
            })
            .collect()
    }
}

/// The first of `wanted` that `owners` (extension, username) already hold.
fn extension_conflict(owners: &[(String, String)], wanted: &[String]) -> Option<UserError> {
    wanted.iter().find_map(|extension| {
        owners
            .iter()
            .find(|(x, _)| x == extension)
            .map(|(_, owner)| UserError::ExtensionTaken {
                extension: extension.clone(),
                owner: owner.clone(),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::customers::testing::{postgres, sqlite};

    fn new_user(username: &str, role: Role, extensions: &[&str]) -> NewUser {
        NewUser {
            username: username.into(),
            display_name: String::new(),
            role,
            password_hash: Some("$argon2id$stand-in".into()),
            extensions: extensions.iter().map(|x| x.to_string()).collect(),
        }
    }

    /// Users, the first admin's link, sessions and tokens; the same on
    /// each backend.
    async fn check_store(store: &Store) {
        // The setup link works only while nobody exists, and only once.
        store.add_setup_token("setup-a").await.unwrap();
        store.add_setup_token("setup-b").await.unwrap();
        assert!(store.setup_token_valid("setup-a").await.unwrap());
        let root = new_user("Root", Role::Admin, &["200"]);
        let wrong = store.create_first_admin("no-such", &root).await.unwrap();
        assert_eq!(wrong, None);
        let root_id = store
            .create_first_admin("setup-a", &root)
            .await
            .unwrap()
            .unwrap();
        for link in ["setup-a", "setup-b"] {
            assert!(!store.setup_token_valid(link).await.unwrap(), "{link}");
            let again = new_user("other", Role::Admin, &[]);
            assert_eq!(store.create_first_admin(link, &again).await.unwrap(), None);
        }
        assert_eq!(store.count_users().await.unwrap(), 1);

        // Usernames are unique without case; extensions belong to one user.
        let alice = store
            .create_user(&new_user("alice", Role::Rep, &["201", "202"]))
            .await;
        let alice = alice.unwrap();
        let taken = store.create_user(&new_user("ALICE", Role::Rep, &[])).await;
        assert!(matches!(taken, Err(UserError::UsernameTaken(ref n)) if n == "alice"));
        let clash = store
            .create_user(&new_user("bob", Role::Rep, &["301", "202"]))
            .await;
        let Err(UserError::ExtensionTaken { extension, owner }) = clash else {
            panic!("{clash:?}")
        };
        assert_eq!((extension.as_str(), owner.as_str()), ("202", "alice"));
        let found = store.user_by_username("ALICE").await.unwrap().unwrap();
        assert_eq!(found.id, alice);
        assert_eq!(found.extensions, ["201", "202"], "in order");
        assert!(found.has_password && found.active);

        // The last active admin stays one.
        let demote = UserChange {
            display_name: "Root".into(),
            role: Role::Manager,
            active: true,
            extensions: vec!["200".into()],
        };
        let refused = store.update_user(root_id, &demote).await;
        assert!(matches!(refused, Err(UserError::LastAdmin)), "{refused:?}");
        let taken = UserChange {
            extensions: vec!["201".into()],
            role: Role::Admin,
            ..demote.clone()
        };
        let refused = store.update_user(root_id, &taken).await;
        assert!(
            matches!(refused, Err(UserError::ExtensionTaken { .. })),
            "{refused:?}"
        );

        // Sessions: found by hash while the user is active; a deactivated
        // user's sessions and tokens stop working.
        let now = Utc::now();
        let session = NewSession {
            id: "session-hash".into(),
            user_id: alice,
            csrf: "csrf-token".into(),
            created_at: now,
            expires_at: now + chrono::Duration::days(7),
        };
        store.create_session(&session).await.unwrap();
        let found = store.session("session-hash").await.unwrap().unwrap();
        assert_eq!((found.user.id, found.csrf.as_str()), (alice, "csrf-token"));
        assert_eq!(millis(found.expires_at), millis(session.expires_at));
        let token = store
            .create_api_token(alice, "laptop", "token-hash")
            .await
            .unwrap();
        let (user, id, used) = store.api_token_user("token-hash").await.unwrap().unwrap();
        assert_eq!((user.username.as_str(), id, used), ("alice", token, None));
        let standing = store.token_standing(token).await.unwrap().unwrap();
        assert_eq!((standing.user_id, standing.active), (alice, true));
        assert_eq!(standing.extensions, ["201", "202"], "in order");
        assert!(standing.session_times.is_none());
        let standing = store.session_standing("session-hash").await.unwrap();
        let times = standing
            .and_then(|s| s.session_times)
            .map(|(_, end)| millis(end));
        assert_eq!(times, Some(millis(session.expires_at)));
        store.touch_api_token(token, now).await.unwrap();
        assert_eq!(
            store.api_tokens(alice).await.unwrap()[0]
                .last_used_at
                .map(millis),
            Some(millis(now))
        );

        let off = UserChange {
            display_name: "Alice".into(),
            role: Role::Rep,
            active: false,
            extensions: vec!["201".into()],
        };
        store.update_user(alice, &off).await.unwrap();
        assert!(store.session("session-hash").await.unwrap().is_none());
        assert!(store.api_token_user("token-hash").await.unwrap().is_none());
        let standing = store.token_standing(token).await.unwrap().unwrap();
        assert!(!standing.active && standing.extensions == ["201"]);
        let ended = store.session_standing("session-hash").await.unwrap();
        assert!(ended.is_none());
        let alice_now = store.user(alice).await.unwrap().unwrap();
        assert_eq!((alice_now.name(), alice_now.active), ("Alice", false));
        assert_eq!(alice_now.extensions, ["201"]);

        // A new password ends every session but the one kept.
        for id in ["keep", "drop"] {
            let session = NewSession {
                id: id.into(),
                user_id: root_id,
                ..session.clone()
            };
            store.create_session(&session).await.unwrap();
        }
        assert!(store
            .set_password(root_id, Some("$new"), Some("keep"))
            .await
            .unwrap());
        assert!(store.session("keep").await.unwrap().is_some());
        assert!(store.session("drop").await.unwrap().is_none());
        assert_eq!(
            store.password_hash(root_id).await.unwrap().as_deref(),
            Some("$new")
        );

        // Old sessions are cleared; tokens are revoked by their owner only.
        let ended = store
            .end_stale_sessions(now + chrono::Duration::days(8), now)
            .await
            .unwrap();
        assert_eq!(ended, 1);
        assert!(!store.revoke_api_token(root_id, token).await.unwrap());
        assert!(store.revoke_api_token(alice, token).await.unwrap());
        assert!(store.token_standing(token).await.unwrap().is_none());
        let names: Vec<_> = store
            .users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["alice", "Root"]);

        // A rep's calls are read through their extensions.
        let mine = crate::calls::CallFilter {
            user_id: Some(alice),
            limit: 10,
            ..Default::default()
        };
        assert!(store.calls(&mine).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn sqlite_store_keeps_users_sessions_and_tokens() {
        check_store(&sqlite().await.store).await;
    }

    #[tokio::test]
    async fn postgres_store_keeps_users_sessions_and_tokens() {
        let Some(db) = postgres().await else { return };
        check_store(&db.store).await;
    }
}
