-- Customers, their people and numbers; calls and the legs that rang.
-- Times are milliseconds since the Unix epoch (UTC), the same on every backend.

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    notes       TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX customers_name ON customers (name);

CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    email        TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE INDEX contacts_customer ON contacts (customer_id);

-- raw: as entered; e164: normalised, NULL when the number could not be read;
-- national: the national significant number; rev_digits: the digits of the
-- number without international or trunk prefix, reversed, for suffix matches.
CREATE TABLE phone_numbers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    contact_id   INTEGER REFERENCES contacts (id) ON DELETE CASCADE,
    raw          TEXT    NOT NULL,
    e164         TEXT,
    country_code INTEGER,
    national     TEXT,
    rev_digits   TEXT    NOT NULL,
    kind         TEXT    NOT NULL DEFAULT 'work'
);
CREATE INDEX phone_numbers_e164 ON phone_numbers (e164);
CREATE INDEX phone_numbers_national ON phone_numbers (national);
CREATE INDEX phone_numbers_rev ON phone_numbers (rev_digits);
CREATE INDEX phone_numbers_customer ON phone_numbers (customer_id);

-- One row per call, written when it rings. outcome is NULL while the call is
-- open; see calls::Outcome for the closed values.
CREATE TABLE calls (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    link          TEXT    NOT NULL,
    pbx_call_id   TEXT    NOT NULL,
    direction     TEXT    NOT NULL,
    remote_raw    TEXT,
    remote_e164   TEXT,
    remote_name   TEXT,
    withheld      INTEGER NOT NULL DEFAULT 0,
    extension     TEXT,
    answered_by   TEXT,
    customer_id   INTEGER REFERENCES customers (id) ON DELETE SET NULL,
    contact_id    INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
    started_at    INTEGER NOT NULL,
    answered_at   INTEGER,
    ended_at      INTEGER,
    outcome       TEXT
);
CREATE UNIQUE INDEX calls_pbx ON calls (link, pbx_call_id);
CREATE INDEX calls_started ON calls (started_at);
CREATE INDEX calls_open ON calls (outcome) WHERE outcome IS NULL;

-- Every customer a call's number matched, with why.
CREATE TABLE call_matches (
    call_id      INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    customer_id  INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    contact_id   INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
    reason       TEXT    NOT NULL
);
CREATE INDEX call_matches_call ON call_matches (call_id);

-- Every extension a call rang at, and how that ringing ended.
CREATE TABLE call_legs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id     INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    extension   TEXT    NOT NULL,
    rang_at     INTEGER NOT NULL,
    ended_at    INTEGER,
    outcome     TEXT
);
CREATE INDEX call_legs_call ON call_legs (call_id);

-- A thread of conversations about one problem of one customer. Open topics
-- are counted in pops; the CRM adds conversations, callbacks and
-- opportunities around them.
CREATE TABLE topics (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    title        TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'open',
    opened_at    INTEGER NOT NULL,
    resolved_at  INTEGER
);
CREATE INDEX topics_customer ON topics (customer_id, status);
