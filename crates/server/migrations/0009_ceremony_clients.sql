-- Passkey ceremonies remember which client address opened them, so one client cannot fill
-- the server-wide cap (Limits::max_passkey_ceremonies_per_client).
ALTER TABLE passkey_ceremonies ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX passkey_ceremonies_by_client ON passkey_ceremonies (client);
