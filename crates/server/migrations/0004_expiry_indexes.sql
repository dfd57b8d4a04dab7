-- The periodic purge of spent nonces and sessions finds them by expiry.
CREATE INDEX auth_nonces_by_expiry ON auth_nonces (expires_at);
CREATE INDEX device_sessions_by_expiry ON device_sessions (expires_at);
