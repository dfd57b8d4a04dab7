//! The demo site's configuration: one typed struct with defaults, read from the command line
//! and the environment, printed at start with secrets redacted. It names the verifier it uses
//! (`INKAN_VERIFIER_URL`) and holds nothing of the verifier's but the relying-party API key
//! and the webhook secret the verifier was given for it.

use std::net::SocketAddr;
use std::path::Path;

use zeroize::Zeroizing;

pub use inkan_kit::SecretString;

/// Every limit the site enforces, by name. Each can be set in the configuration file's
/// `[limits]` table and overridden by an environment variable `INKAN_SITE_LIMIT_<NAME>`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// A connection must send a request's headers within this long after it opens or after
    /// its last response (closes idle and slowloris connections).
    pub header_read_timeout_secs: u64,
    /// Connections one client address may hold open at once (0: no cap; behind a proxy every
    /// connection comes from the proxy's address).
    pub max_connections_per_client: usize,
    /// Requests one client may make per minute to the pages anyone can call before proving
    /// anything: the login and the passkey-login start.
    pub unauthenticated_per_minute_per_client: u32,
    /// On SIGTERM, how long requests in flight may take to finish before they are dropped
    /// (long polls and live channels end at once).
    pub shutdown_grace_secs: u64,
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
    /// A webhook delivery signed further than this from its clock.
    pub webhook_tolerance_secs: i64,
    /// Largest webhook delivery body the site accepts.
    pub webhook_max_body_bytes: usize,
    /// PostgreSQL: connections the site's pool may hold (SQLite has one writer and its own
    /// read pool).
    pub database_connections: u32,
    /// PostgreSQL: how long a request waits for a pool connection (or for a new one to open)
    /// before it fails as "database unavailable".
    pub database_wait_ms: u64,
    /// PostgreSQL: a pool connection idle longer than this is checked (one round trip) before
    /// a request uses it, so one left over from a database restart is replaced rather than
    /// failing a request; a connection in steady use is not checked.
    pub database_idle_check_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024,
            header_read_timeout_secs: 10,
            max_connections_per_client: 512,
            unauthenticated_per_minute_per_client: 300,
            shutdown_grace_secs: 10,
            max_failed_logins: 5,
            email_code_ttl_secs: 5 * 60,
            max_email_code_attempts: 5,
            login_attempt_ttl_secs: 10 * 60,
            web_session_secs: crate::session::SESSION_LIFETIME_SECS,
            web_session_extension_window_secs: crate::session::SESSION_EXTENSION_WINDOW_SECS,
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
            webhook_tolerance_secs: 300,
            webhook_max_body_bytes: 1024 * 1024,
            database_connections: 16,
            database_wait_ms: 3000,
            database_idle_check_ms: 1000,
        }
    }
}

/// The prefix of the environment variables that override one site limit each.
pub const LIMIT_ENV_PREFIX: &str = "INKAN_SITE_LIMIT_";

impl Limits {
    /// The defaults, then the file's `[limits]`, then each `INKAN_SITE_LIMIT_<NAME>`.
    pub fn load(file: Option<&str>, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Limits> {
        inkan_kit::limits::load(file, LIMIT_ENV_PREFIX, env)
    }

    /// What the accept loop enforces.
    pub fn serve(&self) -> inkan_kit::serve::ServeLimits {
        inkan_kit::serve::ServeLimits {
            header_read_timeout_secs: self.header_read_timeout_secs,
            max_connections_per_client: self.max_connections_per_client,
        }
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

pub use inkan_kit::{INSECURE_DEV_RP_API_KEY, INSECURE_DEV_WEBHOOK_SECRET};
/// Where `--dev` finds the verifier when `INKAN_VERIFIER_URL` is not given.
pub const DEV_VERIFIER_URL: &str = "http://127.0.0.1:8400";

#[derive(Debug, Clone)]
pub struct Settings {
    /// The origin customers' browsers reach the site at (cookies, WebAuthn, form origins).
    pub public_origin: String,
    pub listen: SocketAddr,
    /// The site's own database: `sqlite://path?mode=rwc`.
    pub database_url: String,
    /// The verifier's relying-party API, e.g. `https://auth.broker.example`.
    pub verifier_url: String,
    /// The key the site presents to the verifier's relying-party API (and the operator page's
    /// password).
    pub rp_api_key: SecretString,
    /// The secret the verifier signs webhook deliveries to this site with.
    pub webhook_secret: SecretString,
    /// Development mode: plain-http origin, the insecure defaults, the mail outbox.
    pub dev: bool,
    pub limits: Limits,
    pub mail: MailTransport,
    /// The sender of every mail, e.g. `いんかん証券 <no-reply@broker.example>`.
    pub mail_from: String,
    /// The DKIM signing key of every mail; production settings refuse to start without it.
    pub dkim: Option<DkimSettings>,
    /// The GeoIP databases and what counts as a hosting network or a home country.
    pub geo: crate::geo::GeoSettings,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_x_forwarded_for: bool,
    /// The loopback port the customers' desktop app listens on; the page calls it for
    /// same-device approval (`None`: the page does not offer it).
    pub app_loopback_port: Option<u16>,
}

/// The sender `--dev` uses when none is configured.
pub const DEV_MAIL_FROM: &str = "Inkan Securities demo <no-reply@inkan.example>";

impl Settings {
    /// Settings for tests: the given origin, database, verifier and secrets, the dev outbox.
    pub fn for_tests(
        public_origin: &str,
        database_url: &str,
        verifier_url: &str,
        rp_api_key: &str,
        webhook_secret: &str,
    ) -> Self {
        Settings {
            public_origin: public_origin.to_owned(),
            listen: "127.0.0.1:0".parse().expect("loopback address"),
            database_url: database_url.to_owned(),
            verifier_url: verifier_url.to_owned(),
            rp_api_key: SecretString::new(rp_api_key.to_owned()),
            webhook_secret: SecretString::new(webhook_secret.to_owned()),
            dev: true,
            limits: Limits::default(),
            mail: MailTransport::InsecureDevOutbox,
            mail_from: DEV_MAIL_FROM.to_owned(),
            dkim: None,
            geo: crate::geo::GeoSettings::default(),
            trust_x_forwarded_for: false,
            app_loopback_port: Some(inkan_protocol::DEFAULT_LOOPBACK_PORT),
        }
    }

    /// Refuses combinations that are unsafe outside development.
    pub fn check(&self) -> anyhow::Result<()> {
        let origin = inkan_protocol::uri::normalize_origin(&self.public_origin)
            .map_err(|e| anyhow::anyhow!("public origin {:?}: {e}", self.public_origin))?;
        anyhow::ensure!(origin == self.public_origin, "public origin must be written as {origin:?}");
        let verifier = reqwest::Url::parse(&self.verifier_url)
            .map_err(|e| anyhow::anyhow!("INKAN_VERIFIER_URL {:?}: {e}", self.verifier_url))?;
        if !self.dev {
            anyhow::ensure!(
                self.public_origin.starts_with("https://"),
                "production settings need an https public origin (plain http is for --dev)"
            );
            anyhow::ensure!(verifier.scheme() == "https", "INKAN_VERIFIER_URL must be https (plain http is for --dev)");
            anyhow::ensure!(
                self.rp_api_key.expose() != INSECURE_DEV_RP_API_KEY,
                "production settings refuse the insecure development API key"
            );
            anyhow::ensure!(
                self.webhook_secret.expose() != INSECURE_DEV_WEBHOOK_SECRET,
                "production settings refuse the insecure development webhook secret"
            );
            anyhow::ensure!(
                matches!(self.mail, MailTransport::Smtp { .. }),
                "production settings need an SMTP server (the mail outbox is for --dev)"
            );
            anyhow::ensure!(
                self.dkim.is_some(),
                "production settings need a DKIM key for outgoing mail (INKAN_DKIM_SELECTOR, INKAN_DKIM_DOMAIN, INKAN_DKIM_KEY_FILE): unsigned mail fails DMARC"
            );
        }
        anyhow::ensure!(
            self.webhook_secret.expose().len() >= inkan_protocol::webhook::MIN_SECRET_BYTES,
            "INKAN_SITE_WEBHOOK_SECRET must be at least {} characters",
            inkan_protocol::webhook::MIN_SECRET_BYTES
        );
        if let Some(dkim) = &self.dkim {
            crate::mail::DkimSigner::new(dkim, &self.mail_from)?;
        }
        anyhow::ensure!(self.limits.max_failed_logins >= 1, "max_failed_logins must be at least 1");
        anyhow::ensure!(
            self.limits.web_session_extension_window_secs < self.limits.web_session_secs,
            "the session extension window must be shorter than the session"
        );
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
    inkan_kit::write_private_file(&path, text.as_bytes())?;
    Ok(SecretString::new(text))
}
