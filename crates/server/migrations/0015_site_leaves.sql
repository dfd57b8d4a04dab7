-- The demo site has its own database now (site_migrations/): its tables leave the verifier's.
-- The verifier's audit log keeps the rows the site wrote before the split.
DROP TABLE IF EXISTS site_webhook_deliveries;
DROP TABLE IF EXISTS site_rp_events;
DROP TABLE IF EXISTS last_login_places;
DROP TABLE IF EXISTS known_countries;
DROP TABLE IF EXISTS destination_changes;
DROP TABLE IF EXISTS withdrawal_bindings;
DROP TABLE IF EXISTS passkey_ceremonies;
DROP TABLE IF EXISTS passkeys;
DROP TABLE IF EXISTS webauthn_users;
DROP TABLE IF EXISTS outbox;
DROP TABLE IF EXISTS unlock_tokens;
DROP TABLE IF EXISTS withdrawals;
DROP TABLE IF EXISTS known_networks;
DROP TABLE IF EXISTS known_browsers;
DROP TABLE IF EXISTS email_codes;
DROP TABLE IF EXISTS login_attempts;
DROP TABLE IF EXISTS web_sessions;
DROP TABLE IF EXISTS bank_accounts;
DROP TABLE IF EXISTS customers;
