-- The demo site's schema on PostgreSQL: the same tables, columns and guards as the SQLite
-- migration (crates/site/migrations/0001_site.sql), in PostgreSQL's types. Times are Unix
-- seconds (BIGINT), hashes BYTEA, flags BOOLEAN, JSON documents TEXT (stored and compared as
-- text, as on SQLite). It shares no table with the verifier, which it reaches only over the
-- relying-party API. Personal data is stored in full and masked wherever it is shown.

CREATE TABLE customers (
    account_id               TEXT PRIMARY KEY,
    name                     TEXT NOT NULL,
    email                    TEXT NOT NULL,     -- the authentication e-mail address (認証メールアドレス)
    phone                    TEXT NOT NULL,
    password_hash            TEXT NOT NULL,     -- argon2id PHC string
    withdrawal_password_hash TEXT NOT NULL,     -- argon2id PHC string
    cash_balance             BIGINT NOT NULL,   -- yen
    failed_logins            BIGINT NOT NULL DEFAULT 0,
    locked_at                BIGINT,
    created_at               BIGINT NOT NULL
);

CREATE TABLE bank_accounts (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES customers (account_id),
    bank        TEXT NOT NULL,
    branch      TEXT NOT NULL,
    number      TEXT NOT NULL,
    holder      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    -- A changed destination (出金先口座の変更, JSDA 2025) is usable only after a waiting
    -- period; the replaced one is retired at once.
    usable_from BIGINT NOT NULL DEFAULT 0,
    retired_at  BIGINT
);
CREATE INDEX bank_accounts_by_customer ON bank_accounts (account_id);

CREATE TABLE web_sessions (
    token_hash BYTEA PRIMARY KEY,   -- SHA-256 of the cookie value
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

CREATE TABLE login_attempts (
    token_hash   BYTEA PRIMARY KEY, -- SHA-256 of the cookie value
    account_id   TEXT NOT NULL REFERENCES customers (account_id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ip           TEXT NOT NULL,
    browser      TEXT NOT NULL,
    risk         TEXT NOT NULL,     -- JSON array of risk reason codes
    needs_push   BOOLEAN NOT NULL,
    needs_email  BOOLEAN NOT NULL,
    push_done    BOOLEAN NOT NULL DEFAULT FALSE,
    email_done   BOOLEAN NOT NULL DEFAULT FALSE,
    challenge_id TEXT,
    number       TEXT,
    finished_at  BIGINT
);

CREATE TABLE email_codes (
    id         TEXT PRIMARY KEY,
    -- Insertion order, for codes sent within one second (SQLite orders by its rowid).
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    purpose    TEXT NOT NULL,       -- login | withdrawal
    subject_id TEXT NOT NULL,       -- the login attempt's or withdrawal's id
    code_hash  BYTEA NOT NULL,      -- SHA-256 of id || code
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    used_at    BIGINT
);
CREATE INDEX email_codes_by_subject ON email_codes (subject_id);

CREATE TABLE known_browsers (
    token_hash BYTEA NOT NULL,
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (token_hash, account_id)
);

CREATE TABLE known_networks (
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    network    TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (account_id, network)
);

CREATE TABLE withdrawals (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES customers (account_id),
    amount          BIGINT NOT NULL,
    bank_account_id TEXT NOT NULL REFERENCES bank_accounts (id),
    state           TEXT NOT NULL,  -- awaiting_passkey | awaiting_approval | completed | refused
    needs_push      BOOLEAN NOT NULL,
    challenge_id    TEXT,
    number          TEXT,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX withdrawals_by_customer ON withdrawals (account_id, created_at);

CREATE TABLE unlock_tokens (
    token_hash BYTEA PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- Mail kept by the insecure development outbox (never used with an SMTP transport).
CREATE TABLE outbox (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body    TEXT NOT NULL
);

-- Passkeys (WebAuthn, webauthn-rs). Nothing here is secret: a passkey's private key never
-- leaves the customer's authenticator.
CREATE TABLE webauthn_users (
    account_id  TEXT PRIMARY KEY REFERENCES customers (account_id),
    user_handle TEXT NOT NULL UNIQUE  -- random UUID: the WebAuthn user.id, never the account number
);

CREATE TABLE passkeys (
    cred_id         TEXT PRIMARY KEY,  -- base64url credential id
    account_id      TEXT NOT NULL REFERENCES customers (account_id),
    name            TEXT NOT NULL,
    credential      TEXT NOT NULL,     -- webauthn-rs Passkey (JSON): public key, counter, flags
    sign_count      BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state    BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    suspended_at    BIGINT             -- the counter went backwards: possibly cloned; refused
);
CREATE INDEX passkeys_by_customer ON passkeys (account_id);

-- Open registration / login ceremonies, with the client address that opened each (so one
-- client cannot fill the server-wide cap). Their caps are checked under an advisory lock
-- (passkey_db.rs, CEREMONY_LOCK).
CREATE TABLE passkey_ceremonies (
    token_hash BYTEA PRIMARY KEY,      -- SHA-256 of the ceremony token the page holds
    kind       TEXT NOT NULL,          -- register | login
    account_id TEXT,                   -- register: whose passkey it will be
    state      TEXT NOT NULL,          -- webauthn-rs ceremony state (JSON): the challenge sent
    expires_at BIGINT NOT NULL,
    client     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies (expires_at);
CREATE INDEX passkey_ceremonies_by_client ON passkey_ceremonies (client);

-- Withdrawals confirmed with a passkey (JSDA 2025): what the passkey assertion was bound to.
CREATE TABLE withdrawal_bindings (
    withdrawal_id TEXT PRIMARY KEY REFERENCES withdrawals (id),
    binding       TEXT NOT NULL,
    passkey_at    BIGINT             -- when the passkey assertion for it was accepted
);

CREATE TABLE destination_changes (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    bank       TEXT NOT NULL,
    branch     TEXT NOT NULL,
    number     TEXT NOT NULL,
    holder     TEXT NOT NULL,          -- full-width katakana
    state      TEXT NOT NULL,          -- awaiting_passkey | done | refused
    created_at BIGINT NOT NULL,
    done_at    BIGINT
);
CREATE INDEX destination_changes_by_customer ON destination_changes (account_id, created_at);

-- Where each customer logs in from, for the risk check.
CREATE TABLE known_countries (
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    country    TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (account_id, country)
);

CREATE TABLE last_login_places (
    account_id  TEXT PRIMARY KEY REFERENCES customers (account_id),
    at          BIGINT NOT NULL,
    latitude    DOUBLE PRECISION NOT NULL,
    longitude   DOUBLE PRECISION NOT NULL,
    accuracy_km DOUBLE PRECISION NOT NULL
);

-- The site's side of the webhook: events processed (each once) and delivery ids accepted (a
-- replayed delivery is refused). Written in the transaction that acts on the event.
CREATE TABLE site_rp_events (
    event_id     TEXT PRIMARY KEY,
    processed_at BIGINT NOT NULL
);

CREATE TABLE site_webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);
CREATE INDEX site_webhook_deliveries_at ON site_webhook_deliveries (received_at);

-- The site's audit log: append-only, like the verifier's.
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

-- One row that the readiness check rewrites: a real write, so a read-only or unreachable
-- database shows as "not ready".
CREATE TABLE readiness_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at BIGINT NOT NULL
);
