-- Users, the extensions each answers, browser sessions, API tokens, and the
-- one-time links that create the first admin. Secrets are never stored:
-- sessions, API tokens and setup links are kept as SHA-256 hashes (hex),
-- passwords as Argon2id PHC strings.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT    NOT NULL,
    display_name   TEXT    NOT NULL DEFAULT '',
    role           TEXT    NOT NULL CHECK (role IN ('rep', 'manager', 'admin')),
    -- NULL: the user cannot sign in with a password (API tokens only).
    password_hash  TEXT,
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     INTEGER NOT NULL
);
-- Usernames are ASCII, so lower() folds them the same on every backend.
CREATE UNIQUE INDEX users_username ON users (lower(username));

-- position orders a user's extensions; the first is where click-to-dial rings.
CREATE TABLE user_extensions (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    extension  TEXT    NOT NULL UNIQUE,
    position   INTEGER NOT NULL
);
CREATE INDEX user_extensions_user ON user_extensions (user_id, position);

CREATE TABLE sessions (
    id            TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    hash          TEXT    NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Valid only while no user exists; creating any user removes them all.
CREATE TABLE setup_tokens (
    id          TEXT    PRIMARY KEY,
    created_at  INTEGER NOT NULL
);
