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
