-- Events for the relying party (device enrolled or revoked, "not me", a wrong typed number, a
-- challenge settled): written in the same transaction as the change they report, kept until
-- delivered by webhook and past the retention period, readable by cursor at GET /v1/rp/events.
-- `seq` only grows (AUTOINCREMENT never reuses a value), so a cursor never skips an event.
CREATE TABLE rp_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    at         INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX rp_events_account ON rp_events (account_id, seq);
CREATE INDEX rp_events_at ON rp_events (at);

CREATE TRIGGER rp_events_no_update BEFORE UPDATE ON rp_events
BEGIN SELECT RAISE(ABORT, 'rp_events rows are never changed'); END;

-- How far the webhook sender got: every event with seq <= this was answered 2xx.
CREATE TABLE rp_webhook_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
