-- Counting an account's pushes since its last approval must not scan its whole history.
CREATE INDEX challenges_by_account_created ON challenges (account_id, created_at);
