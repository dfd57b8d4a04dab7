-- Inkan server schema, version 1. States and events are text enums that are only added to.

CREATE TABLE enrollment_tickets (
    id          TEXT PRIMARY KEY,
    ticket_hash BLOB NOT NULL UNIQUE,   -- SHA-256 of the ticket secret; the secret is never stored
    account_id  TEXT NOT NULL,
    label       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    device_id   TEXT
);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    platform     TEXT NOT NULL,
    public_key   BLOB NOT NULL,         -- uncompressed SEC1 P-256 point
    totp_secret  BLOB NOT NULL,
    enrolled_at  INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX devices_by_account ON devices (account_id);

CREATE TABLE device_sessions (
    token_hash BLOB PRIMARY KEY,        -- SHA-256 of the bearer token
    device_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE auth_nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE TABLE challenges (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL,
    challenge_json     TEXT NOT NULL,   -- the signed Challenge, canonical JSON
    server_signature   TEXT NOT NULL,
    number_to_match    TEXT,
    number_attempts    INTEGER NOT NULL DEFAULT 0,
    state              TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    decided_at         INTEGER,
    device_id          TEXT,
    decision_signature TEXT
);
CREATE INDEX challenges_by_account_state ON challenges (account_id, state);
CREATE INDEX challenges_by_state_expiry ON challenges (state, expires_at);

CREATE TABLE account_push_state (
    account_id      TEXT PRIMARY KEY,
    push_blocked_at INTEGER,
    cooldown_until  INTEGER,
    last_success_at INTEGER
);

CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    event        TEXT NOT NULL,
    account_id   TEXT,
    device_id    TEXT,
    challenge_id TEXT,
    detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_account ON audit_events (account_id, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
