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
    /// Failures of any factor in a row (password, withdrawal password, e-mailed code, typed
    /// number, passkey) before the customer's account locks; only an operator unlocks it.
    pub max_failed_logins: u32,
    /// Lifetime of an e-mailed one-time code.
    pub email_code_ttl_secs: i64,
    /// Wrong entries of one e-mailed code before it is void.
    pub max_email_code_attempts: u32,
    /// How long a started login (password accepted, second factor pending) stays open.
    pub login_attempt_ttl_secs: i64,
    /// A web session's lifetime, and each extension (the brokerage's 180 minutes).
    pub web_session_secs: i64,
    /// A request this close to the end extends the session (the brokerage's 5 minutes).
    pub web_session_extension_window_secs: i64,
    /// Largest single withdrawal, in yen.
    pub max_withdrawal_yen: i64,
    /// Lifetime of the known-browser cookie the risk check looks for.
    pub known_browser_cookie_days: i64,
    /// Lifetime of a passkey registration or login ceremony (the challenge sent to the browser).
    pub passkey_ceremony_ttl_secs: i64,
    /// Ceremonies open at once, server-wide (login ceremonies start before anyone is known).
    pub max_open_passkey_ceremonies: i64,
    /// Ceremonies one client address (an IPv6 one by its /64) may have open at once, so a
    /// flood from one place cannot fill the server-wide cap.
    pub max_passkey_ceremonies_per_client: i64,
    /// Security changes need a login (with its second factor) at most this old: adding or
    /// removing an authenticator (a device or a passkey) and changing the authentication
    /// e-mail address. One rule for all of them (`Customer::login_is_fresh`).
    pub fresh_login_secs: i64,
    /// Passkeys one customer may register.
    pub max_passkeys_per_customer: i64,
    /// Longest WebAuthn response accepted from a page, in characters.
    pub max_webauthn_response_chars: usize,
    /// Whether a customer without a passkey may still withdraw with the push (or the e-mailed
    /// code) alone: the published interim path the 2025 guideline allows. The page says so.
    pub withdrawal_push_only_allowed: bool,
    /// After a change of withdrawal destination, how long before money can go to it.
    pub destination_wait_secs: i64,
    /// Impossible travel: the fastest a customer is believed to move between two logins, in
    /// km/h (an airliner and the way to the airport).
    pub impossible_travel_kmh: u32,
    /// Impossible travel: distances under this many kilometres (after both places' accuracy
    /// radii are taken off) never count.
    pub impossible_travel_min_km: u32,
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
    /// The site refuses a webhook delivery signed further than this from its clock.
    pub webhook_tolerance_secs: i64,
    /// Largest webhook delivery body the site accepts.
    pub webhook_max_body_bytes: usize,
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
            push_channel_capacity: 16,
            push_keepalive_secs: inkan_protocol::PUSH_KEEPALIVE_SECS,
            shutdown_grace_secs: 10,
            header_read_timeout_secs: 10,
            unauthenticated_per_minute_per_client: 300,
            wrong_api_keys_per_minute_per_client: 10,
            max_connections_per_client: 512,
            max_channels_per_session: 4,
            max_failed_logins: 5,
            email_code_ttl_secs: 5 * 60,
            max_email_code_attempts: 5,
            login_attempt_ttl_secs: 10 * 60,
            web_session_secs: crate::site::session::SESSION_LIFETIME_SECS,
            web_session_extension_window_secs: crate::site::session::SESSION_EXTENSION_WINDOW_SECS,
            max_withdrawal_yen: 50_000_000,
            known_browser_cookie_days: 400,
            passkey_ceremony_ttl_secs: 5 * 60,
            max_open_passkey_ceremonies: 10_000,
            max_passkey_ceremonies_per_client: 20,
            fresh_login_secs: 10 * 60,
            max_passkeys_per_customer: 10,
            max_webauthn_response_chars: 12 * 1024,
            withdrawal_push_only_allowed: true,
            destination_wait_secs: 24 * 3600,
            impossible_travel_kmh: 1_000,
            impossible_travel_min_km: 500,
            rp_events_page_max: 500,
            rp_event_retention_secs: 7 * 24 * 3600,
            webhook_timeout_secs: 10,
            webhook_retry_min_ms: 250,
            webhook_retry_max_secs: 60,
            webhook_poll_ms: 1000,
            webhook_tolerance_secs: 300,
            webhook_max_body_bytes: 1024 * 1024,
        }
    }
}

/// The prefix of the environment variables that override one limit each.
pub const LIMIT_ENV_PREFIX: &str = "INKAN_LIMIT_";

/// The configuration file: `[limits]`, every field optional (defaults otherwise).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    limits: Limits,
}

impl Limits {
    /// The defaults, then the file's `[limits]` (TOML, unknown names refused), then each
    /// `INKAN_LIMIT_<NAME>` variable in `env` (a number or `true`/`false`; unknown names
    /// refused, so a misspelt override cannot go unnoticed).
    pub fn load(file: Option<&str>, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Limits> {
        let limits = match file {
            Some(text) => {
                toml::from_str::<ConfigFile>(text).map_err(|e| anyhow::anyhow!("configuration file: {e}"))?.limits
            }
            None => Limits::default(),
        };
        let mut value = serde_json::to_value(&limits)?;
        let fields = value.as_object_mut().expect("limits are a table");
        for (key, text) in env {
            let Some(name) = key.strip_prefix(LIMIT_ENV_PREFIX) else { continue };
            let name = name.to_ascii_lowercase();
            let slot = fields.get_mut(&name).ok_or_else(|| anyhow::anyhow!("{key}: there is no limit named {name}"))?;
            *slot = serde_json::from_str(text.trim())
                .map_err(|_| anyhow::anyhow!("{key}: {text:?} is not a number or true/false"))?;
        }
        serde_json::from_value(value).map_err(|e| anyhow::anyhow!("limits: {e}"))
    }
}

/// The relying-party API key that `--dev` accepts when none is configured. Public knowledge:
/// the production configuration refuses to start with it.
pub const INSECURE_DEV_RP_API_KEY: &str = "insecure-dev-rp-api-key";
/// File name of the secret-sealing key that `--dev` keeps in the data directory.
pub const INSECURE_DEV_SECRET_KEY_FILE: &str = "insecure-dev-secret-key";
/// File name of the challenge-signing key that `--dev` keeps in the data directory.
pub const INSECURE_DEV_SIGNING_KEY_FILE: &str = "insecure-dev-server-signing-key";

/// A secret string: wiped on drop, printed as `[redacted]`.
#[derive(Clone)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(s: String) -> Self {
        SecretString(Zeroizing::new(s))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where the site's mail goes.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// Kept in the database and shown at `/outbox`: demo and QA only.
    InsecureDevOutbox,
    /// lettre over SMTP: `smtp://host:port`, `smtps://…`, `smtp://…?tls=required`, with
    /// optional `user:password@` (hence a secret).
    Smtp { url: SecretString },
}

/// How mail is signed (DKIM, RFC 6376): `d=` is the domain, aligned with the From address so
/// that DMARC, and BIMI on top of it, can pass.
#[derive(Debug, Clone)]
pub struct DkimSettings {
    /// The selector: the key's DNS name is `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The signing domain (`d=`): the From address's domain or a parent of it.
    pub domain: String,
    /// An RSA key (2048 bits or more) as PKCS#1 or PKCS#8 PEM, or an Ed25519 key as the
    /// base64 of its 32-byte seed (RFC 8463).
    pub private_key: SecretString,
}

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
pub const SITE_WEBHOOK_SECRET_ENV: &str = "INKAN_SITE_WEBHOOK_SECRET";

#[derive(Debug, Clone)]
pub struct Settings {
    /// The origin devices and relying parties reach this server at; part of every signed message.
    pub public_origin: String,
    pub listen: SocketAddr,
    /// `sqlite://path?mode=rwc` (the embedded default).
    pub database_url: String,
    /// The demo site's own database (never the verifier's).
    pub site_database_url: String,
    pub rp_api_key: SecretString,
    /// The server's ES256 challenge-signing key; devices pin its public half at enrollment.
    pub signing_key: SigningKey,
    /// The operator keys that seal offline-code secrets at rest (`INKAN_SECRET_KEYS`).
    pub secret_keys: crate::secrets::SecretKeys,
    /// Development mode: plain http origin, the insecure default API key and signing key file.
    pub dev: bool,
    pub limits: Limits,
    pub mail: MailTransport,
    /// The sender of every mail, e.g. `いんかん証券 <no-reply@broker.example>`.
    pub mail_from: String,
    /// The DKIM signing key of every mail; production settings refuse to start without it.
    pub dkim: Option<DkimSettings>,
    /// The GeoIP databases and what counts as a hosting network or a home country.
    pub geo: crate::site::geo::GeoSettings,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_x_forwarded_for: bool,
    /// The loopback port the customers' desktop app listens on; the site's page calls it for
    /// same-device approval (`None`: the page does not offer it).
    pub app_loopback_port: Option<u16>,
    /// The relying party's webhook (`None`: events go to the embedded demo site).
    pub webhook: Option<WebhookSettings>,
    /// The secret the embedded demo site checks webhook deliveries with, when it is the
    /// receiver (`INKAN_SITE_WEBHOOK_SECRET`; `None`: one made at start, known to this process
    /// only).
    pub site_webhook_secret: Option<SecretString>,
}

/// The site's SQLite database next to the verifier's (`inkan.sqlite3` gives
/// `inkan-site.sqlite3`); an in-memory URL stays in memory, a separate database all the same.
pub fn site_database_beside(database_url: &str) -> String {
    match database_url.rsplit_once(".sqlite3") {
        Some((stem, rest)) => format!("{stem}-site.sqlite3{rest}"),
        None => database_url.to_owned(),
    }
}

/// The sender `--dev` uses when none is configured.
pub const DEV_MAIL_FROM: &str = "Inkan Securities demo <no-reply@inkan.example>";

impl Settings {
    /// Settings for tests and embedding: a fresh random signing key, given origin and database.
    pub fn for_tests(public_origin: &str, database_url: &str) -> Self {
        Settings {
            app_loopback_port: Some(inkan_protocol::DEFAULT_LOOPBACK_PORT),
            public_origin: public_origin.to_owned(),
            listen: "127.0.0.1:0".parse().expect("loopback address"),
            database_url: database_url.to_owned(),
            site_database_url: site_database_beside(database_url),
            rp_api_key: SecretString::new(crate::random_token(32)),
            signing_key: crate::random_signing_key(),
            secret_keys: crate::secrets::SecretKeys::parse(&crate::secrets::SecretKeys::generate_spec("test"))
                .expect("a generated key parses"),
            dev: true,
            limits: Limits::default(),
            mail: MailTransport::InsecureDevOutbox,
            mail_from: DEV_MAIL_FROM.to_owned(),
            dkim: None,
            geo: crate::site::geo::GeoSettings::default(),
            trust_x_forwarded_for: false,
            webhook: None,
            site_webhook_secret: None,
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
        if !self.dev {
            anyhow::ensure!(
                matches!(self.mail, MailTransport::Smtp { .. }),
                "production settings need an SMTP server (the mail outbox is for --dev)"
            );
            anyhow::ensure!(
                self.dkim.is_some(),
                "production settings need a DKIM key for outgoing mail (INKAN_DKIM_SELECTOR, INKAN_DKIM_DOMAIN, INKAN_DKIM_KEY_FILE): unsigned mail fails DMARC"
            );
        }
        if let Some(dkim) = &self.dkim {
            crate::mail::DkimSigner::new(dkim, &self.mail_from)?;
        }
        anyhow::ensure!(self.limits.max_failed_logins >= 1, "max_failed_logins must be at least 1");
        anyhow::ensure!(
            self.limits.web_session_extension_window_secs < self.limits.web_session_secs,
            "the session extension window must be shorter than the session"
        );
        anyhow::ensure!((2..=6).contains(&self.limits.number_match_digits), "number_match_digits must be 2 to 6");
        anyhow::ensure!(self.limits.rp_events_page_max >= 1, "rp_events_page_max must be at least 1");
        if let Some(secret) = &self.site_webhook_secret {
            anyhow::ensure!(
                secret.expose().len() >= inkan_protocol::webhook::MIN_SECRET_BYTES,
                "{SITE_WEBHOOK_SECRET_ENV} must be at least {} characters",
                inkan_protocol::webhook::MIN_SECRET_BYTES
            );
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

/// File name of the DKIM key that `--dev` keeps in the data directory.
pub const INSECURE_DEV_DKIM_KEY_FILE: &str = "insecure-dev-dkim-key";
/// The DKIM selector `--dev` signs with when none is configured.
pub const DEV_DKIM_SELECTOR: &str = "inkan-dev";

/// Reads a private key file, refusing one that its group or others can read (unix).
pub fn read_private_key_file(path: &Path) -> anyhow::Result<SecretString> {
    let shown = path.display();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("鍵ファイル {shown} を読めません / cannot read the key file {shown}: {e}"))?
            .permissions()
            .mode();
        anyhow::ensure!(
            mode & 0o077 == 0,
            "鍵ファイル {shown} を所有者以外も読めます / the key file {shown} is readable by others (mode {:o}; chmod 600 it)",
            mode & 0o777
        );
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("鍵ファイル {shown} を読めません / cannot read the key file {shown}: {e}"))?;
    Ok(SecretString::new(text))
}

/// The `--dev` DKIM key (Ed25519): read from the data directory, or made there (mode 0600).
pub fn load_or_create_dev_dkim_key(data_dir: &Path) -> anyhow::Result<SecretString> {
    let path = data_dir.join(INSECURE_DEV_DKIM_KEY_FILE);
    if path.exists() {
        return read_private_key_file(&path);
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let text = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, *seed);
    write_private_file(&path, text.as_bytes())?;
    Ok(SecretString::new(text))
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
    write_private_file(&path, encoded.as_bytes())?;
    Ok(key)
}

/// The `--dev` secret-sealing key: read from the data directory, or made there (mode 0600).
pub fn load_or_create_dev_secret_keys(data_dir: &Path) -> anyhow::Result<crate::secrets::SecretKeys> {
    let path = data_dir.join(INSECURE_DEV_SECRET_KEY_FILE);
    let spec = match std::fs::read_to_string(&path) {
        Ok(text) => Zeroizing::new(text.trim().to_owned()),
        Err(_) => {
            let spec = crate::secrets::SecretKeys::generate_spec("dev");
            write_private_file(&path, spec.as_bytes())?;
            spec
        }
    };
    Ok(crate::secrets::SecretKeys::parse(&spec)?)
}

fn write_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)?;
    Ok(())
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
                ("INKAN_LIMIT_WITHDRAWAL_PUSH_ONLY_ALLOWED", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(limits.max_open_challenges, 5);
        assert_eq!(limits.challenge_ttl_secs, 60, "the environment wins");
        assert!(!limits.withdrawal_push_only_allowed);
        assert_eq!(limits.max_failed_logins, Limits::default().max_failed_logins);
    }

    #[test]
    fn unknown_or_malformed_limits_are_refused() {
        assert!(Limits::load(Some("[limits]\nmax_open_challenge = 5\n"), []).is_err(), "misspelt in the file");
        assert!(Limits::load(None, env(&[("INKAN_LIMIT_MAX_OPEN_CHALLENGE", "5")])).is_err(), "misspelt variable");
        assert!(Limits::load(None, env(&[("INKAN_LIMIT_MAX_OPEN_CHALLENGES", "five")])).is_err());
        assert!(Limits::load(None, env(&[("INKAN_LIMIT_MAX_OPEN_CHALLENGES", "-1")])).is_err());
    }
}
