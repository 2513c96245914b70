-- The CRM around the calls: who opened and resolved each topic, the
-- conversations logged on topics, callbacks on reps' calendars, and
-- opportunities with every stage they went through. Times are milliseconds
-- since the Unix epoch (UTC); money is in minor units (cents).

-- Rows people edit carry a version: an edit made on a stale page names the
-- version it started from and is refused when the row has moved on.
ALTER TABLE customers ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE contacts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE topics ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE topics ADD COLUMN opened_by INTEGER REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE topics ADD COLUMN resolved_by INTEGER REFERENCES users (id) ON DELETE SET NULL;

-- A merged customer points at the one it was merged into; its contacts,
-- numbers, topics and calls moved there.
ALTER TABLE customers ADD COLUMN merged_into INTEGER REFERENCES customers (id);

CREATE INDEX contacts_name ON contacts (name);
CREATE INDEX contacts_email ON contacts (email);
CREATE INDEX calls_customer ON calls (customer_id, started_at);
-- A customer's page lists the calls its numbers matched; merging moves them.
CREATE INDEX call_matches_customer ON call_matches (customer_id);

-- Every opening, resolving and reopening of a topic: who, when, and why
-- (a resolve may note what settled it).
CREATE TABLE topic_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    topic_id   INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('opened', 'resolved', 'reopened')),
    note       TEXT    NOT NULL DEFAULT '',
    at         INTEGER NOT NULL
);
CREATE INDEX topic_events_topic ON topic_events (topic_id, at);

-- What was discussed about one topic, in a call (call_id) or logged by hand.
-- One call may carry several conversations, one per topic.
CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    topic_id    INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    call_id     INTEGER REFERENCES calls (id) ON DELETE SET NULL,
    user_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    contact_id  INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
    notes       TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX conversations_topic ON conversations (topic_id, at);
CREATE INDEX conversations_call ON conversations (call_id);
CREATE INDEX conversations_user ON conversations (user_id, at);

-- A callback on a rep's calendar: from due_at for minutes. It is done when
-- the rep calls back, cancelled (with a reason) when its topic is resolved.
CREATE TABLE callbacks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    topic_id      INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_id    INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
    due_at        INTEGER NOT NULL,
    minutes       INTEGER NOT NULL DEFAULT 15 CHECK (minutes > 0),
    note          TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL DEFAULT 'scheduled'
                          CHECK (status IN ('scheduled', 'done', 'cancelled')),
    created_by    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    closed_by     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    closed_at     INTEGER,
    close_reason  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX callbacks_user_due ON callbacks (user_id, status, due_at);
CREATE INDEX callbacks_topic ON callbacks (topic_id, status);

-- Each user's calendar feed: a secret URL a calendar app reads without a
-- session. Only the secret's SHA-256 is kept; a new link replaces the old.
CREATE TABLE calendar_feeds (
    user_id     INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

-- A sale being worked on, opened on a topic. expected_close is a calendar
-- date (YYYY-MM-DD) in the company's time zone.
CREATE TABLE opportunities (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    topic_id        INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    customer_id     INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    title           TEXT    NOT NULL,
    value_minor     INTEGER NOT NULL DEFAULT 0 CHECK (value_minor >= 0),
    currency        TEXT    NOT NULL,
    stage           TEXT    NOT NULL DEFAULT 'new'
                            CHECK (stage IN ('new', 'qualified', 'proposal', 'won', 'lost')),
    expected_close  TEXT,
    owner_id        INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    closed_at       INTEGER,
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX opportunities_stage ON opportunities (stage, updated_at);
CREATE INDEX opportunities_topic ON opportunities (topic_id);
CREATE INDEX opportunities_owner ON opportunities (owner_id, stage);

-- Every stage an opportunity entered, first 'new' included: the closing
-- figures are read from here.
CREATE TABLE opportunity_stages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    opportunity_id  INTEGER NOT NULL REFERENCES opportunities (id) ON DELETE CASCADE,
    stage           TEXT    NOT NULL,
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX opportunity_stages_opportunity ON opportunity_stages (opportunity_id, at);
CREATE INDEX opportunity_stages_at ON opportunity_stages (at);

-- Forms that create something carry a one-time value; each value is taken
-- once (kept as its SHA-256), so a form sent twice creates one thing.
CREATE TABLE form_uses (
    hash  TEXT    PRIMARY KEY,
    at    INTEGER  NOT NULL
);
CREATE INDEX form_uses_at ON form_uses (at);
