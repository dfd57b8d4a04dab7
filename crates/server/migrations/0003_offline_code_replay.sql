-- The last offline-code time step accepted per device: a code is good once.
ALTER TABLE devices ADD COLUMN totp_last_step INTEGER;
