-- Calls started by callpop (click-to-dial), and calls handed from one
-- extension to another.

ALTER TABLE calls ADD COLUMN originated BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE call_transfers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id     INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    from_ext    TEXT    NOT NULL,
    to_ext      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX call_transfers_call ON call_transfers (call_id);
