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
