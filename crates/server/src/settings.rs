//! The server's configuration: one typed struct with defaults, read from the command line and
//! the environment, printed at start with secrets redacted.

use std::net::SocketAddr;
use std::path::Path;

use inkan_protocol::keys::SigningKey;
use zeroize::Zeroizing;

/// Every limit the server enforces, by name. Each can be set in the configuration file's
/// `[limits]` table and overridden by an environment variable `INKAN_LIMIT_<NAME>` (the name
/// in upper case): see [`Limits::load`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Lifetime of an enrollment ticket.
    pub ticket_ttl_secs: i64,
    /// Lifetime of an approval challenge.
    pub challenge_ttl_secs: i64,
    /// Lifetime of a device-authentication nonce.
    pub nonce_ttl_secs: i64,
    /// Lifetime of a device session (bearer token for the device API and push channel).
    pub session_ttl_secs: i64,
    /// Pending challenges an account may have at once (push bombing).
    pub max_open_challenges: u32,
    /// Challenges that may be created since the account's last successful login (push bombing).
    pub max_pushes_since_success: u32,
    /// After a denial, no new challenge for the account for this long.
    pub denial_cooldown_secs: i64,
    /// Digits of the number the person types into the app (2 to 6; 6 follows NIST to the letter).
    pub number_match_digits: u8,
    /// Wrong numbers before a challenge fails (1: a wrong code denies at once; every wrong
    /// code also counts toward the account lock).
    pub max_number_attempts: u32,
    /// How far a device's `signed_at` may be from the server's clock.
    pub max_clock_skew_secs: i64,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Longest a relying party's long poll waits.
    pub max_long_poll_secs: u64,
    /// Longest free-text field (names, places, banks), in characters.
    pub max_text_field_chars: usize,
    /// A connection must send a request's headers within this long after it opens or after
    /// its last response (closes idle and slowloris connections).
    pub header_read_timeout_secs: u64,
    /// Live channels one device session may hold open at once (one is needed; the rest cover
    /// a reconnect that races the old channel's end).
    pub max_channels_per_session: usize,
    /// Connections one client address may hold open at once (0: no cap; behind a proxy every
    /// connection comes from the proxy's address).
    pub max_connections_per_client: usize,
    /// Requests one client may make per minute to the paths anyone can call before proving
    /// anything: `/v1/device/nonce`, enrollment, session opening, the site's login and
    /// passkey-login start.
    pub unauthenticated_per_minute_per_client: u32,
    /// Wrong relying-party API keys one client may send per minute; past that even the right
    /// key is refused until the minute is over.
    pub wrong_api_keys_per_minute_per_client: u32,
    /// On SIGTERM, how long requests in flight may take to finish before they are dropped
    /// (long polls and live channels end at once).
    pub shutdown_grace_secs: u64,
    /// How often an idle live channel carries a keep-alive; devices reconnect after three
    /// missed ones.
    pub push_keepalive_secs: u64,
    /// Capacity of each account's in-process push channel.
    pub push_channel_capacity: usize,
    /// Most relying-party events one `GET /v1/rp/events` page (and one webhook delivery) holds.
    pub rp_events_page_max: u32,
    /// Relying-party events are kept this long (and at least until the webhook delivered them).
    pub rp_event_retention_secs: i64,
    /// A webhook delivery that gets no answer within this long failed (and is retried).
    pub webhook_timeout_secs: u64,
    /// First wait before a failed webhook delivery is retried; it doubles on each failure.
    pub webhook_retry_min_ms: u64,
    /// Longest wait between webhook retries.
    pub webhook_retry_max_secs: u64,
    /// How often the webhook sender looks for events even if nothing woke it.
    pub webhook_poll_ms: u64,
    /// PostgreSQL: connections each instance's pool may hold (SQLite has one writer and its
    /// own read pool).
    pub database_connections: u32,
    /// PostgreSQL: how long a request waits for a pool connection (or for a new one to open)
    /// before it answers 503 "database unavailable".
    pub database_wait_ms: u64,
    /// PostgreSQL: a pool connection idle longer than this is checked (one round trip) before
    /// a request uses it, so one left over from a database restart is replaced rather than
    /// failing a request; a connection in steady use is not checked.
    pub database_idle_check_ms: u64,
    /// Several instances on PostgreSQL: how often each re-reads the database for what a lost
    /// notification would have told it (pending challenges of its listeners, the state a long
    /// poll waits for). The longest a lost notification delays a wake-up.
    pub relay_resync_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ticket_ttl_secs: 10 * 60,
            challenge_ttl_secs: 120,
            nonce_ttl_secs: 60,
            session_ttl_secs: 12 * 3600,
            max_open_challenges: 3,
            max_pushes_since_success: 10,
            denial_cooldown_secs: 30,
            number_match_digits: 3,
            max_number_attempts: 1,
            max_clock_skew_secs: 300,
            max_body_bytes: 16 * 1024,
            max_long_poll_secs: 60,
            max_text_field_chars: 200,
            header_read_timeout_secs: 10,
            max_channels_per_session: 4,
            max_connections_per_client: 512,
            unauthenticated_per_minute_per_client: 300,
            wrong_api_keys_per_minute_per_client: 10,
            shutdown_grace_secs: 10,
            push_keepalive_secs: inkan_protocol::PUSH_KEEPALIVE_SECS,
            push_channel_capacity: 16,
            rp_events_page_max: 500,
            rp_event_retention_secs: 7 * 24 * 3600,
            webhook_timeout_secs: 10,
            webhook_retry_min_ms: 250,
            webhook_retry_max_secs: 60,
            webhook_poll_ms: 1000,
            database_connections: 16,
            database_wait_ms: 3000,
            database_idle_check_ms: 1000,
            relay_resync_ms: 1000,
        }
    }
}

/// The prefix of the environment variables that override one limit each.
pub const LIMIT_ENV_PREFIX: &str = "INKAN_LIMIT_";

impl Limits {
    /// What the accept loop enforces.
    pub fn serve(&self) -> inkan_kit::serve::ServeLimits {
        inkan_kit::serve::ServeLimits {
            header_read_timeout_secs: self.header_read_timeout_secs,
            max_connections_per_client: self.max_connections_per_client,
        }
    }

    /// The defaults, then the file's `[limits]`, then each `INKAN_LIMIT_<NAME>` variable in
    /// `env` ([`inkan_kit::limits::load`]).
    pub fn load(file: Option<&str>, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Limits> {
        inkan_kit::limits::load(file, LIMIT_ENV_PREFIX, env)
    }
}

pub use inkan_kit::{INSECURE_DEV_RP_API_KEY, INSECURE_DEV_WEBHOOK_SECRET};
/// File name of the secret-sealing key that `--dev` keeps in the data directory.
pub const INSECURE_DEV_SECRET_KEY_FILE: &str = "insecure-dev-secret-key";
/// File name of the challenge-signing key that `--dev` keeps in the data directory.
pub const INSECURE_DEV_SIGNING_KEY_FILE: &str = "insecure-dev-server-signing-key";

pub use inkan_kit::SecretString;

/// Where the verifier delivers relying-party events, and the secret that signs them
/// ([`inkan_protocol::webhook`]).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `https://…` (plain `http://` only with `--dev`).
    pub url: String,
    pub secret: SecretString,
}

/// The environment variables that configure the webhook.
pub const WEBHOOK_URL_ENV: &str = "INKAN_RP_WEBHOOK_URL";
pub const WEBHOOK_SECRET_ENV: &str = "INKAN_RP_WEBHOOK_SECRET";
/// The relying party's web origin (its pages), which the app takes same-device requests from.
pub const RP_WEB_ORIGIN_ENV: &str = "INKAN_RP_WEB_ORIGIN";
/// The relying party's name for people, Japanese (`INKAN_RP_NAME`) and English (`INKAN_RP_NAME_EN`).
pub const RP_NAME_ENV: &str = "INKAN_RP_NAME";
pub const RP_NAME_EN_ENV: &str = "INKAN_RP_NAME_EN";
pub use inkan_protocol::MAX_RP_NAME_CHARS;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The origin devices and relying parties reach this server at; part of every signed message.
    pub public_origin: String,
    pub listen: SocketAddr,
    /// `sqlite://path?mode=rwc` (the embedded default).
    pub database_url: String,
    pub rp_api_key: SecretString,
    /// The server's ES256 challenge-signing key; devices pin its public half at enrollment.
    pub signing_key: SigningKey,
    /// The operator keys that seal offline-code secrets at rest (`INKAN_SECRET_KEYS`).
    pub secret_keys: crate::secrets::SecretKeys,
    /// Development mode: plain http origin, the insecure default API key and signing key file.
    pub dev: bool,
    pub limits: Limits,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_x_forwarded_for: bool,
    /// The relying party's webhook (`None`: events are read with `GET /v1/rp/events` only).
    pub webhook: Option<WebhookSettings>,
    /// The origin of the relying party's web pages (`INKAN_RP_WEB_ORIGIN`): the enrolled app
    /// takes same-device approval requests from pages of this origin only. `None`: the public
    /// origin (pages served by the same origin as the API).
    pub rp_web_origin: Option<String>,
    /// The relying party's name for people (`INKAN_RP_NAME`, `INKAN_RP_NAME_EN`): the enrolled
    /// app shows it wherever it names who is asking, and a ticket's default label starts with
    /// it. `None`: the app names the server by its host.
    pub rp_name: Option<inkan_protocol::RpName>,
}

impl Settings {
    /// Settings for tests and embedding: a fresh random signing key, given origin and database.
    pub fn for_tests(public_origin: &str, database_url: &str) -> Self {
        Settings {
            public_origin: public_origin.to_owned(),
            listen: "127.0.0.1:0".parse().expect("loopback address"),
            database_url: database_url.to_owned(),
            rp_api_key: SecretString::new(crate::random_token(32)),
            signing_key: crate::random_signing_key(),
            secret_keys: crate::secrets::SecretKeys::parse(&crate::secrets::SecretKeys::generate_spec("test"))
                .expect("a generated key parses"),
            dev: true,
            limits: Limits::default(),
            trust_x_forwarded_for: false,
            webhook: None,
            rp_web_origin: None,
            rp_name: None,
        }
    }

    /// Refuses combinations that are unsafe outside development.
    pub fn check(&self) -> anyhow::Result<()> {
        let origin = inkan_protocol::uri::normalize_origin(&self.public_origin)
            .map_err(|e| anyhow::anyhow!("public origin {:?}: {e}", self.public_origin))?;
        anyhow::ensure!(origin == self.public_origin, "public origin must be written as {origin:?}");
        if !self.dev {
            anyhow::ensure!(
                self.public_origin.starts_with("https://"),
                "production settings need an https public origin (plain http is for --dev)"
            );
            anyhow::ensure!(
                self.rp_api_key.expose() != INSECURE_DEV_RP_API_KEY,
                "production settings refuse the insecure development API key"
            );
        }
        anyhow::ensure!(
            self.rp_api_key.expose().len() >= 16,
            "the relying-party API key must be at least 16 characters"
        );
        anyhow::ensure!((2..=6).contains(&self.limits.number_match_digits), "number_match_digits must be 2 to 6");
        anyhow::ensure!(self.limits.rp_events_page_max >= 1, "rp_events_page_max must be at least 1");
        if let Some(web) = &self.rp_web_origin {
            let normal = inkan_protocol::uri::normalize_origin(web)
                .map_err(|e| anyhow::anyhow!("{RP_WEB_ORIGIN_ENV} {web:?}: {e}"))?;
            anyhow::ensure!(&normal == web, "{RP_WEB_ORIGIN_ENV} must be written as {normal:?}");
            anyhow::ensure!(
                self.dev || web.starts_with("https://"),
                "{RP_WEB_ORIGIN_ENV} must be https (plain http is for --dev)"
            );
        }
        if let Some(name) = &self.rp_name {
            for (what, text) in [(RP_NAME_ENV, &name.ja), (RP_NAME_EN_ENV, &name.en)] {
                // Shown on devices: the one display-text rule.
                crate::service::check_text(what, text, MAX_RP_NAME_CHARS).map_err(|why| anyhow::anyhow!(why))?;
            }
        }
        if let Some(hook) = &self.webhook {
            let url =
                reqwest::Url::parse(&hook.url).map_err(|e| anyhow::anyhow!("{WEBHOOK_URL_ENV} {:?}: {e}", hook.url))?;
            anyhow::ensure!(
                url.scheme() == "https" || (self.dev && url.scheme() == "http"),
                "{WEBHOOK_URL_ENV} must be https (plain http is for --dev)"
            );
            anyhow::ensure!(
                hook.secret.expose().len() >= inkan_protocol::webhook::MIN_SECRET_BYTES,
                "{WEBHOOK_SECRET_ENV} must be at least {} characters",
                inkan_protocol::webhook::MIN_SECRET_BYTES
            );
        }
        Ok(())
    }
}

/// Loads the development signing key from the data directory, creating it (mode 0600) on
/// first start. Only `--dev` calls this; production passes the key in the environment.
pub fn load_or_create_dev_signing_key(data_dir: &Path) -> anyhow::Result<SigningKey> {
    let path = data_dir.join(INSECURE_DEV_SIGNING_KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let bytes = Zeroizing::new(inkan_protocol::keys::unb64(text.trim())?);
        return Ok(SigningKey::from_bytes(&bytes)?);
    }
    let key = crate::random_signing_key();
    let encoded = Zeroizing::new(inkan_protocol::keys::b64(&key.to_bytes()));
    inkan_kit::write_private_file(&path, encoded.as_bytes())?;
    Ok(key)
}

/// The `--dev` secret-sealing key: read from the data directory, or made there (mode 0600).
pub fn load_or_create_dev_secret_keys(data_dir: &Path) -> anyhow::Result<crate::secrets::SecretKeys> {
    let path = data_dir.join(INSECURE_DEV_SECRET_KEY_FILE);
    let spec = match std::fs::read_to_string(&path) {
        Ok(text) => Zeroizing::new(text.trim().to_owned()),
        Err(_) => {
            let spec = crate::secrets::SecretKeys::generate_spec("dev");
            inkan_kit::write_private_file(&path, spec.as_bytes())?;
            spec
        }
    };
    Ok(crate::secrets::SecretKeys::parse(&spec)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn limits_come_from_defaults_then_the_file_then_the_environment() {
        let file = "[limits]\nmax_open_challenges = 5\nchallenge_ttl_secs = 90\n";
        let limits = Limits::load(
            Some(file),
            env(&[
                ("INKAN_LIMIT_CHALLENGE_TTL_SECS", "60"),
                ("PATH", "/bin"),
                ("INKAN_LIMIT_NUMBER_MATCH_DIGITS", "4"),
            ]),
        )
        .unwrap();
        assert_eq!(limits.max_open_challenges, 5);
        assert_eq!(limits.challenge_ttl_secs, 60, "the environment wins");
        assert_eq!(limits.number_match_digits, 4);
        assert_eq!(limits.max_long_poll_secs, Limits::default().max_long_poll_secs);
    }

    #[test]
    fn unknown_or_malformed_limits_are_refused() {
        assert!(Limits::load(Some("[limits]\nmax_open_challenge = 5\n"), []).is_err(), "misspelt in the file");
        assert!(Limits::load(None, env(&[("INKAN_LIMIT_MAX_OPEN_CHALLENGE", "5")])).is_err(), "misspelt variable");
        assert!(Limits::load(None, env(&[("INKAN_LIMIT_MAX_OPEN_CHALLENGES", "five")])).is_err());
        assert!(Limits::load(None, env(&[("INKAN_LIMIT_MAX_OPEN_CHALLENGES", "-1")])).is_err());
    }
}
