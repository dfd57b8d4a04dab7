-- Withdrawals confirmed with a passkey (JSDA 2025): what the passkey assertion was bound to.
-- `binding` is SHA-256 over the withdrawal id, amount and the full destination as they were
-- when the customer confirmed; the push step and completion check it again, so a destination
-- or amount changed in between voids the withdrawal.
CREATE TABLE withdrawal_bindings (
    withdrawal_id TEXT PRIMARY KEY REFERENCES withdrawals (id),
    binding       TEXT NOT NULL,
    passkey_at    INTEGER            -- when the passkey assertion for it was accepted
);
