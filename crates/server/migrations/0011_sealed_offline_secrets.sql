-- Offline-code secrets are sealed (AES-256-GCM) under an operator key; the key's id is kept
-- with each row so keys can be rotated. NULL: a row written before sealing, still in the
-- clear until the server seals it at start (Store::seal_plain_offline_secrets).
ALTER TABLE devices ADD COLUMN totp_key_id TEXT;
