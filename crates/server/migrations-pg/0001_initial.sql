-- The verifier's schema on PostgreSQL: the same tables, columns and guards as the SQLite
-- migrations (crates/server/migrations) reach at 0015, in one step. Times are Unix seconds
-- (BIGINT), hashes and keys BYTEA, JSON documents TEXT (stored and compared as text, as on
-- SQLite).

CREATE TABLE enrollment_tickets (
    id          TEXT PRIMARY KEY,
    ticket_hash BYTEA NOT NULL UNIQUE,  -- SHA-256 of the ticket secret; the secret is never stored
    account_id  TEXT NOT NULL,
    label       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    device_id   TEXT
);

CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    name           TEXT NOT NULL,
    platform       TEXT NOT NULL,
    public_key     BYTEA NOT NULL,      -- uncompressed SEC1 P-256 point
    totp_secret    BYTEA NOT NULL,      -- sealed under totp_key_id
    enrolled_at    BIGINT NOT NULL,
    last_used_at   BIGINT,
    revoked_at     BIGINT,
    totp_last_step BIGINT,
    totp_key_id    TEXT
);
CREATE INDEX devices_by_account ON devices (account_id);

CREATE TABLE device_sessions (
    token_hash BYTEA PRIMARY KEY,       -- SHA-256 of the bearer token
    device_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX device_sessions_by_expiry ON device_sessions (expires_at);

CREATE TABLE auth_nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX auth_nonces_by_expiry ON auth_nonces (expires_at);

CREATE TABLE challenges (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL,
    challenge_json     TEXT NOT NULL,   -- the signed Challenge, canonical JSON
    server_signature   TEXT NOT NULL,
    number_to_match    TEXT,
    number_attempts    BIGINT NOT NULL DEFAULT 0,
    state              TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    decided_at         BIGINT,
    device_id          TEXT,
    decision_signature TEXT
);
CREATE INDEX challenges_by_account_state ON challenges (account_id, state);
CREATE INDEX challenges_by_state_expiry ON challenges (state, expires_at);
CREATE INDEX challenges_by_account_created ON challenges (account_id, created_at);

CREATE TABLE account_push_state (
    account_id      TEXT PRIMARY KEY,
    push_blocked_at BIGINT,
    cooldown_until  BIGINT,
    last_success_at BIGINT
);

CREATE TABLE audit_events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    event        TEXT NOT NULL,
    account_id   TEXT,
    device_id    TEXT,
    challenge_id TEXT,
    detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_account ON audit_events (account_id, id);

CREATE FUNCTION inkan_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION inkan_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION inkan_append_only();
-- TRUNCATE skips row triggers: refuse it too.
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION inkan_append_only();

CREATE TABLE readiness_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at BIGINT NOT NULL
);

-- Events for relying parties. `seq` is handed out by the sequence at insert; the writers take
-- one advisory lock (store.rs, EVENT_ORDER_LOCK) before inserting, so events commit in `seq`
-- order and a reader never sees n+1 before n.
CREATE TABLE rp_events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    at         BIGINT NOT NULL,
    account_id TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX rp_events_account ON rp_events (account_id, seq);
CREATE INDEX rp_events_at ON rp_events (at);

CREATE FUNCTION inkan_rp_events_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rp_events rows are never changed';
END
$$;
CREATE TRIGGER rp_events_no_update BEFORE UPDATE ON rp_events
    FOR EACH ROW EXECUTE FUNCTION inkan_rp_events_unchanged();

CREATE TABLE rp_webhook_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
