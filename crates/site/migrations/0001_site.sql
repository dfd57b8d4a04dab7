-- The demo brokerage site's own database (customers, sessions, withdrawals, passkeys, its
-- webhook bookkeeping, its append-only audit log and the development outbox). It shares no
-- table with the verifier, which it reaches only over the relying-party API.

-- The brokerage demo site: customers, web sessions, login attempts, e-mail codes, risk memory,
-- withdrawals, the dev outbox. Personal data is stored in full and masked wherever it is shown.

CREATE TABLE customers (
    account_id               TEXT PRIMARY KEY,
    name                     TEXT NOT NULL,
    email                    TEXT NOT NULL,     -- the authentication e-mail address (認証メールアドレス)
    phone                    TEXT NOT NULL,
    password_hash            TEXT NOT NULL,     -- argon2id PHC string
    withdrawal_password_hash TEXT NOT NULL,     -- argon2id PHC string
    cash_balance             INTEGER NOT NULL,  -- yen
    failed_logins            INTEGER NOT NULL DEFAULT 0,
    locked_at                INTEGER,
    created_at               INTEGER NOT NULL
);

CREATE TABLE bank_accounts (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    bank       TEXT NOT NULL,
    branch     TEXT NOT NULL,
    number     TEXT NOT NULL,
    holder     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX bank_accounts_by_customer ON bank_accounts (account_id);

CREATE TABLE web_sessions (
    token_hash BLOB PRIMARY KEY,    -- SHA-256 of the cookie value
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

CREATE TABLE login_attempts (
    token_hash   BLOB PRIMARY KEY,  -- SHA-256 of the cookie value
    account_id   TEXT NOT NULL REFERENCES customers (account_id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT NOT NULL,
    browser      TEXT NOT NULL,
    risk         TEXT NOT NULL,     -- JSON array of risk reason codes
    needs_push   INTEGER NOT NULL,
    needs_email  INTEGER NOT NULL,
    push_done    INTEGER NOT NULL DEFAULT 0,
    email_done   INTEGER NOT NULL DEFAULT 0,
    challenge_id TEXT,
    number       TEXT,
    finished_at  INTEGER
);

CREATE TABLE email_codes (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    purpose    TEXT NOT NULL,       -- login | withdrawal
    subject_id TEXT NOT NULL,       -- the login attempt's or withdrawal's id
    code_hash  BLOB NOT NULL,       -- SHA-256 of id || code
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used_at    INTEGER
);
CREATE INDEX email_codes_by_subject ON email_codes (subject_id);

CREATE TABLE known_browsers (
    token_hash BLOB NOT NULL,
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (token_hash, account_id)
);

CREATE TABLE known_networks (
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    network    TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (account_id, network)
);

CREATE TABLE withdrawals (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES customers (account_id),
    amount          INTEGER NOT NULL,
    bank_account_id TEXT NOT NULL REFERENCES bank_accounts (id),
    state           TEXT NOT NULL,  -- awaiting_approval | completed | refused
    needs_push      INTEGER NOT NULL,
    challenge_id    TEXT,
    number          TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX withdrawals_by_customer ON withdrawals (account_id, created_at);

CREATE TABLE unlock_tokens (
    token_hash BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

-- Mail kept by the insecure development outbox (never used with an SMTP transport).
CREATE TABLE outbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body    TEXT NOT NULL
);

-- Passkeys (WebAuthn, webauthn-rs): each customer's WebAuthn user handle, their passkeys
-- (public key, sign counter, backup flags), and the open registration / login ceremonies.
-- Nothing here is secret: a passkey's private key never leaves the customer's authenticator.

CREATE TABLE webauthn_users (
    account_id  TEXT PRIMARY KEY REFERENCES customers (account_id),
    user_handle TEXT NOT NULL UNIQUE  -- random UUID: the WebAuthn user.id, never the account number
);

CREATE TABLE passkeys (
    cred_id         TEXT PRIMARY KEY,  -- base64url credential id
    account_id      TEXT NOT NULL REFERENCES customers (account_id),
    name            TEXT NOT NULL,
    credential      TEXT NOT NULL,     -- webauthn-rs Passkey (JSON): public key, counter, flags
    sign_count      INTEGER NOT NULL,
    backup_eligible INTEGER NOT NULL,
    backup_state    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    suspended_at    INTEGER            -- the counter went backwards: possibly cloned; refused
);
CREATE INDEX passkeys_by_customer ON passkeys (account_id);

CREATE TABLE passkey_ceremonies (
    token_hash BLOB PRIMARY KEY,       -- SHA-256 of the ceremony token the page holds
    kind       TEXT NOT NULL,          -- register | login
    account_id TEXT,                   -- register: whose passkey it will be
    state      TEXT NOT NULL,          -- webauthn-rs ceremony state (JSON): the challenge sent
    expires_at INTEGER NOT NULL
);
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies (expires_at);

-- Withdrawals confirmed with a passkey (JSDA 2025): what the passkey assertion was bound to.
-- `binding` is SHA-256 over the withdrawal id, amount and the full destination as they were
-- when the customer confirmed; the push step and completion check it again, so a destination
-- or amount changed in between voids the withdrawal.
CREATE TABLE withdrawal_bindings (
    withdrawal_id TEXT PRIMARY KEY REFERENCES withdrawals (id),
    binding       TEXT NOT NULL,
    passkey_at    INTEGER            -- when the passkey assertion for it was accepted
);

-- Changing the withdrawal destination (出金先口座の変更, JSDA 2025): confirmed with a passkey
-- and the withdrawal password, then usable only after a waiting period; the replaced
-- destination is retired at once.
ALTER TABLE bank_accounts ADD COLUMN usable_from INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bank_accounts ADD COLUMN retired_at INTEGER;

CREATE TABLE destination_changes (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    bank       TEXT NOT NULL,
    branch     TEXT NOT NULL,
    number     TEXT NOT NULL,
    holder     TEXT NOT NULL,          -- full-width katakana
    state      TEXT NOT NULL,          -- awaiting_passkey | done | refused
    created_at INTEGER NOT NULL,
    done_at    INTEGER
);
CREATE INDEX destination_changes_by_customer ON destination_changes (account_id, created_at);

-- Passkey ceremonies remember which client address opened them, so one client cannot fill
-- the server-wide cap (Limits::max_passkey_ceremonies_per_client).
ALTER TABLE passkey_ceremonies ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX passkey_ceremonies_by_client ON passkey_ceremonies (client);

-- Where each customer logs in from, for the risk check: the countries of their successful
-- logins (a login from another country steps up), and the place of the last one (a login
-- too far away too soon after it is impossible travel). Written with the login's other
-- remembered environment (Store::remember_login_environment), in one transaction.
CREATE TABLE known_countries (
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    country    TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (account_id, country)
);

CREATE TABLE last_login_places (
    account_id  TEXT PRIMARY KEY REFERENCES customers (account_id),
    at          INTEGER NOT NULL,
    latitude    REAL NOT NULL,
    longitude   REAL NOT NULL,
    accuracy_km REAL NOT NULL
);

-- The demo site's side of the webhook: the events it has processed (each once, whatever
-- number of times it arrives) and the delivery ids it has accepted (a replayed delivery is
-- refused). Written in the transaction that acts on the event.
CREATE TABLE site_rp_events (
    event_id     TEXT PRIMARY KEY,
    processed_at INTEGER NOT NULL
);

CREATE TABLE site_webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
);
CREATE INDEX site_webhook_deliveries_at ON site_webhook_deliveries (received_at);

-- The site's audit log: append-only, like the verifier's.
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

-- One row that the readiness check rewrites: a real write (and, with synchronous=FULL, a real
-- sync), so a full disk or a read-only database shows as "not ready".
CREATE TABLE readiness_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
