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
