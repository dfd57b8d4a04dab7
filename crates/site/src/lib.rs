//! `inkan-site`: the brokerage demo web site, its own service with its own database: customers, password login with the second factor (push with number matching, or the
//! e-mailed one-time code, or the app's offline code), risk-based step-up, 180-minute sessions,
//! withdrawals, security settings, notifications by mail, recent activity, and the dev outbox.
//!
//! Server-rendered (maud), Japanese first with an English switch, one small script that only
//! waits for approvals. It uses the verifier only over the verifier's public relying-party API
//! (`inkan-rp-client`) and takes the verifier's events at its signed webhook, like any
//! brokerage's backend would; it does not depend on the verifier's crate. Every form carries a CSRF token (double-submit cookie) and is checked for its
//! `Origin`; every field has a length limit.

#![forbid(unsafe_code)]

pub mod audit;
pub mod codes;
pub mod customers;
pub mod db;
pub mod destinations;
pub mod geo;
pub mod i18n;
pub mod login;
pub mod mail;
pub mod notify;
pub mod pages;
pub mod passkey_db;
pub mod passkeys;
pub mod password;
pub mod risk;
pub mod seed;
pub mod session;
pub mod settings;
pub mod webhook;

use crate::audit::{AuditEntry, AuditEvent};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use subtle::ConstantTimeEq;

use crate::mail::Mailer;
use db::CustomerRow;
use i18n::{Lang, T};
use session::{SessionCheck, SessionRule};

pub use inkan_kit::mask::{mask_email, mask_phone, mask_tail};
pub use inkan_kit::{client_ip, qr, random_bytes, random_id, random_number, random_token, sha256};
pub use inkan_protocol::clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use settings::{Limits, Settings};

pub const SESSION_COOKIE: &str = "inkan_session";
pub const LOGIN_COOKIE: &str = "inkan_login";
pub const CSRF_COOKIE: &str = "inkan_csrf";
pub const LANG_COOKIE: &str = "inkan_lang";
pub const BROWSER_COOKIE: &str = "inkan_browser";
/// Form field holding the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// Bytes of randomness in session, login and CSRF cookies.
pub const COOKIE_TOKEN_BYTES: usize = 32;
/// The path the desktop app serves same-device approval on (inkan-core's `loopback`).
pub const LOOPBACK_APPROVE_PATH: &str = "/v1/approve";
/// Longest a waiting page's status request is held open.
pub const WAIT_POLL_SECS: u64 = 20;
/// Longest e-mail address accepted, in characters (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest password field accepted before the rules are even checked.
pub const MAX_PASSWORD_FIELD_CHARS: usize = 64;
/// Longest account number field.
pub const MAX_ACCOUNT_FIELD_CHARS: usize = 32;

/// The site's state: its settings and database, where its mail goes, its session rule, and
/// the verifier it reaches over HTTP.
pub struct Site {
    pub settings: Settings,
    pub clock: SharedClock,
    /// The site's own database.
    pub store: db::SiteStore,
    pub mailer: Arc<dyn Mailer>,
    pub rule: SessionRule,
    /// Whether `/outbox` exists (the development outbox is the mail transport).
    pub outbox_page: bool,
    /// The WebAuthn relying party; `None` when the public origin has no host name.
    pub webauthn: Option<webauthn_rs::Webauthn>,
    /// Where the page reaches the desktop app for same-device approval, if offered.
    pub loopback_url: Option<String>,
    /// The Content-Security-Policy of every page (connect-src names the loopback app).
    csp: HeaderValue,
    /// Place, country and network of an address, for the risk check, the device and mail.
    pub geo: geo::Geo,
    /// The verifier, reached over its public relying-party API like any brokerage reaches it.
    pub verifier: inkan_rp_client::RpClient,
    /// Woken after a webhook delivery was processed (the enrollment page waits on it).
    pub events_processed: tokio::sync::Notify,
    /// Login and passkey-login starts per client ([`Limits::unauthenticated_per_minute_per_client`]).
    pub unauthenticated: inkan_kit::ratelimit::RateLimiter,
    /// Passkey ceremonies refused for a cap, since start (`/metrics`).
    pub passkey_ceremonies_refused: std::sync::atomic::AtomicU64,
    /// Webhook deliveries taken, and refused, since start (`/metrics`).
    pub webhook_deliveries: std::sync::atomic::AtomicU64,
    pub webhook_refusals: std::sync::atomic::AtomicU64,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Open connections per client address (the accept loop's cap).
    connections: Arc<inkan_kit::serve::ConnectionCounts>,
}

pub type SharedSite = Arc<Site>;

impl Site {
    pub fn new(
        settings: Settings,
        clock: SharedClock,
        store: db::SiteStore,
        mailer: Arc<dyn Mailer>,
        geo: geo::Geo,
        verifier: inkan_rp_client::RpClient,
    ) -> SharedSite {
        let limits = &settings.limits;
        let rule = SessionRule {
            lifetime_secs: limits.web_session_secs,
            extension_window_secs: limits.web_session_extension_window_secs,
        };
        let webauthn = match passkeys::relying_party(&settings.public_origin, limits.passkey_ceremony_ttl_secs) {
            Ok(rp) => Some(rp),
            Err(why) => {
                tracing::warn!(%why, "passkeys are off");
                None
            }
        };
        let loopback_url =
            settings.app_loopback_port.map(|port| format!("http://127.0.0.1:{port}{LOOPBACK_APPROVE_PATH}"));
        let connect = loopback_url.as_deref().map(|u| u.trim_end_matches(LOOPBACK_APPROVE_PATH)).unwrap_or("");
        let csp = HeaderValue::from_str(&format!("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' {connect}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"))
            .expect("CSP is ASCII");
        let outbox_page = matches!(settings.mail, settings::MailTransport::InsecureDevOutbox);
        let unauthenticated = inkan_kit::ratelimit::RateLimiter::new(limits.unauthenticated_per_minute_per_client, 60);
        Arc::new(Site {
            settings,
            clock,
            store,
            mailer,
            rule,
            outbox_page,
            webauthn,
            loopback_url,
            csp,
            geo,
            verifier,
            events_processed: tokio::sync::Notify::new(),
            unauthenticated,
            passkey_ceremonies_refused: Default::default(),
            webhook_deliveries: Default::default(),
            webhook_refusals: Default::default(),
            shutdown: tokio::sync::watch::Sender::new(false),
            connections: Arc::new(inkan_kit::serve::ConnectionCounts::default()),
        })
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Resolves when the site begins to stop (waiting pages answer at once).
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + use<> {
        let mut rx = self.shutdown.subscribe();
        async move {
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }

    fn secure_cookies(&self) -> bool {
        self.settings.public_origin.starts_with("https://")
    }

    /// `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure over TLS; `max_age` None = until
    /// the browser closes, Some(0) = delete.
    pub fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if self.secure_cookies() {
            text.push_str("; Secure");
        }
        if let Some(age) = max_age {
            text.push_str(&format!("; Max-Age={age}"));
        }
        HeaderValue::from_str(&text).expect("cookie values are base64url")
    }

    pub fn limits(&self) -> &Limits {
        &self.settings.limits
    }
}

pub fn router(site: SharedSite) -> Router {
    let limit = site.settings.limits.max_body_bytes;
    Router::new()
        .route("/", get(login::root))
        .route("/static/site.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], pages::CSS) }))
        .route(
            "/static/site.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], pages::JS) }),
        )
        .route("/lang/{code}", get(login::switch_language))
        .route("/login", get(login::login_page).post(login::login_submit))
        .route("/login/verify", get(login::verify_page))
        .route("/login/verify/status", get(login::verify_status))
        .route("/login/verify/code", post(login::verify_code))
        .route("/login/verify/resend", post(login::resend_code))
        .route("/login/verify/email-instead", post(login::email_instead))
        .route("/login/verify/push-again", post(login::push_again))
        .route("/login/passkey/start", post(passkeys::login_start))
        .route("/login/passkey/finish", post(passkeys::login_finish))
        .route("/logout", post(login::logout))
        .route("/home", get(customers::home))
        .route("/withdraw", get(customers::withdraw_page).post(customers::withdraw_submit))
        .route("/withdraw/{id}", get(customers::withdrawal_page))
        .route("/withdraw/{id}/status", get(customers::withdrawal_status))
        .route("/withdraw/{id}/code", post(customers::withdrawal_code))
        .route("/withdraw/{id}/passkey/start", post(passkeys::withdraw_start))
        .route("/withdraw/{id}/passkey/finish", post(passkeys::withdraw_finish))
        .route("/settings", get(customers::settings_page))
        .route("/settings/authenticators/new", get(customers::enroll_page))
        .route("/settings/authenticators/new/status", get(customers::enroll_status))
        .route("/settings/authenticators/{id}/revoke", post(customers::revoke))
        .route("/settings/passkeys/register/start", post(passkeys::register_start))
        .route("/settings/passkeys/register/finish", post(passkeys::register_finish))
        .route("/settings/passkeys/{id}/remove", post(passkeys::remove))
        .route("/settings/destination", get(destinations::change_page).post(destinations::change_submit))
        .route("/settings/destination/{id}", get(destinations::change_confirm_page))
        .route("/settings/destination/{id}/passkey/start", post(destinations::passkey_start))
        .route("/settings/destination/{id}/passkey/finish", post(destinations::passkey_finish))
        .route("/settings/password", post(customers::change_password))
        .route("/settings/email", post(customers::change_email))
        .route("/activity", get(customers::activity))
        .route("/outbox", get(customers::outbox))
        .route("/operator/audit", get(customers::operator_audit))
        .layer(axum::middleware::from_fn_with_state(site.clone(), site_layer))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(site.clone())
        // The verifier's webhook and the operator's probes: no browser, no CSRF cookie.
        .merge(
            Router::new()
                .route("/healthz", get(|| async { "ok" }))
                .route("/livez", get(|| async { "ok" }))
                .route("/readyz", get(ready))
                .route("/metrics", get(metrics))
                .with_state(site.clone()),
        )
        .merge(
            Router::new()
                .route(webhook::PATH, post(webhook::receive))
                .layer(DefaultBodyLimit::max(site.settings.limits.webhook_max_body_bytes))
                .with_state(site),
        )
}

/// Readiness: the site's database reads and writes. (The verifier's own readiness is the
/// verifier's; a page that needs it says so when it is down.)
async fn ready(State(site): State<SharedSite>) -> Response {
    match site.store.check_ready(site.now()).await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the site's database");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"code": "database_unavailable", "message": "データベースを利用できません / the database is unavailable"})),
            )
                .into_response()
        }
    }
}

/// Prometheus text: the site's own counters.
async fn metrics(State(site): State<SharedSite>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let lines = [
        (
            "inkan_site_database_unavailable_total",
            "Requests answered database unavailable.",
            inkan_kit::sqlite::DATABASE_UNAVAILABLE.load(Relaxed),
        ),
        (
            "inkan_site_passkey_ceremonies_refused_total",
            "Passkey ceremonies refused for a cap.",
            site.passkey_ceremonies_refused.load(Relaxed),
        ),
        ("inkan_site_webhook_deliveries_total", "Webhook deliveries taken.", site.webhook_deliveries.load(Relaxed)),
        (
            "inkan_site_webhook_refusals_total",
            "Webhook deliveries refused (signature, time, format).",
            site.webhook_refusals.load(Relaxed),
        ),
        (
            "inkan_site_connections_refused_total",
            "Connections refused over the per-client cap.",
            site.connections.refused.load(Relaxed),
        ),
    ];
    let mut text = String::new();
    for (name, help, value) in lines {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// The site running in this process.
pub struct RunningSite {
    pub addr: std::net::SocketAddr,
    pub site: SharedSite,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSite {
    /// Graceful shutdown: waiting pages answer at once, requests in flight finish; after
    /// [`Limits::shutdown_grace_secs`] whatever is left is dropped.
    pub async fn stop(mut self) {
        self.site.shutdown.send_replace(true);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let grace = std::time::Duration::from_secs(self.site.settings.limits.shutdown_grace_secs);
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            tracing::warn!(?grace, "connections still open after the grace period: dropping them");
            self.task.abort();
            let _ = (&mut self.task).await;
        }
    }

    /// Ends the site at once, as if the process were killed.
    pub fn kill(self) {
        self.site.shutdown.send_replace(true);
        self.task.abort();
    }
}

/// Opens the site's database, binds `listener` (or `settings.listen`), and serves until stopped.
pub async fn start(
    settings: Settings,
    clock: SharedClock,
    listener: Option<tokio::net::TcpListener>,
) -> anyhow::Result<RunningSite> {
    settings.check()?;
    let store = db::SiteStore::open(&settings.database_url, &settings.limits).await?;
    let listener = match listener {
        Some(l) => l,
        None => tokio::net::TcpListener::bind(settings.listen).await?,
    };
    let addr = listener.local_addr()?;
    let mailer: Arc<dyn mail::Mailer> = match &settings.mail {
        settings::MailTransport::InsecureDevOutbox => {
            Arc::new(mail::InsecureDevOutbox { store: store.clone(), clock: clock.clone() })
        }
        settings::MailTransport::Smtp { url } => {
            Arc::new(mail::SmtpMailer::new(url.expose(), &settings.mail_from, settings.dkim.as_ref())?)
        }
    };
    let geo = geo::Geo::open(&settings.geo)?;
    let verifier = inkan_rp_client::RpClient::new(&settings.verifier_url, settings.rp_api_key.expose())?;
    let site = Site::new(settings, clock, store, mailer, geo, verifier);
    let app = router(site.clone()).layer(axum::middleware::from_fn(inkan_kit::request_span));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let limits = site.settings.limits.serve();
    let connections = site.connections.clone();
    let task = tokio::spawn(async move {
        inkan_kit::serve::serve(listener, app, limits, connections, async {
            let _ = rx.await;
        })
        .await;
    });
    Ok(RunningSite { addr, site, shutdown: Some(tx), task })
}

/// A CSRF token for this browser: the cookie's, or a fresh one this response sets.
#[derive(Clone)]
pub struct CsrfToken(pub String);

/// Gives every visitor a CSRF cookie and every page its security headers.
async fn site_layer(State(site): State<SharedSite>, mut req: Request, next: Next) -> Response {
    let existing = cookie_value(req.headers(), CSRF_COOKIE).filter(|v| v.len() >= 40).map(str::to_owned);
    let fresh = existing.is_none();
    let token = existing.unwrap_or_else(|| crate::random_token(COOKIE_TOKEN_BYTES));
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if fresh {
        h.append(header::SET_COOKIE, site.cookie(CSRF_COOKIE, &token, None));
    }
    h.insert(header::CONTENT_SECURITY_POLICY, site.csp.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    res
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Who is asking: language, CSRF token, address, browser, the path (for the language switch).
pub struct Visitor {
    pub lang: Lang,
    pub csrf: String,
    pub ip: IpAddr,
    pub user_agent: String,
    pub path: String,
    headers: HeaderMap,
}

impl Visitor {
    pub fn cookie(&self, name: &str) -> Option<&str> {
        cookie_value(&self.headers, name)
    }

    pub fn t(&self, t: T) -> &'static str {
        t.get(self.lang)
    }
}

impl FromRequestParts<SharedSite> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, site: &SharedSite) -> Result<Self, Self::Rejection> {
        let lang = cookie_value(&parts.headers, LANG_COOKIE).and_then(Lang::parse).unwrap_or_default();
        let csrf = parts.extensions.get::<CsrfToken>().map(|t| t.0.clone()).unwrap_or_default();
        let ip = crate::client_ip(parts, site.settings.trust_x_forwarded_for);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(512)
            .collect();
        Ok(Visitor { lang, csrf, ip, user_agent, path: parts.uri.path().to_owned(), headers: parts.headers.clone() })
    }
}

/// A logged-in customer, from the session cookie; applies the 180/5-minute rule on every
/// request. Without a live session: a redirect to the login page.
pub struct Customer {
    pub row: CustomerRow,
    pub session_hash: Vec<u8>,
}

impl Customer {
    /// The one rule for security changes (adding or removing a device or a passkey, changing
    /// the authentication e-mail): this session's login, with its second factor, is at most
    /// [`crate::Limits::fresh_login_secs`] old. A session kept alive for hours by the 180-minute
    /// rule is not enough.
    pub async fn login_is_fresh(&self, site: &SharedSite) -> SiteResult<bool> {
        let started = site.store.web_session_started(&self.session_hash).await?.unwrap_or(i64::MIN);
        Ok(site.now().saturating_sub(started) <= site.limits().fresh_login_secs)
    }

    /// Active devices and passkeys: the customer's authenticators.
    pub async fn authenticator_count(&self, site: &SharedSite) -> SiteResult<usize> {
        let devices = site.verifier.devices(&self.row.account_id).await?;
        let passkeys = site.store.passkeys(&self.row.account_id).await?;
        Ok(devices.iter().filter(|d| d.revoked_at.is_none()).count() + passkeys.len())
    }
}

/// The page for a security change asked of a session whose login is not fresh: why, and a
/// button that logs out so the customer can log in again (403).
pub fn fresh_login_needed(site: &SharedSite, v: &Visitor, c: &Customer) -> Response {
    let minutes = site.limits().fresh_login_secs / 60;
    let body = html! {
        (pages::error(&T::FreshLoginNeeded.fill(v.lang, &[&minutes])))
        form method="post" action="/logout" { (pages::csrf(v)) button type="submit" { (v.t(T::LogInAgain)) } }
        p { a href="/settings" { (v.t(T::Cancel)) } }
    };
    (StatusCode::FORBIDDEN, pages::layout(v, T::SettingsTitle, Some(&c.row), body)).into_response()
}

/// Asks to confirm removing the customer's last authenticator, saying what they fall back to.
/// `action` is the form's own URL; the confirmation posts it again with `confirm=1`.
pub fn confirm_last_authenticator(v: &Visitor, c: &Customer, action: &str) -> Response {
    let body = html! {
        (pages::error(v.t(T::LastAuthenticatorWarning)))
        form method="post" action=(action) {
            (pages::csrf(v))
            input type="hidden" name="confirm" value="1";
            button type="submit" { (v.t(T::ConfirmRemove)) }
        }
        p { a href="/settings" { (v.t(T::Cancel)) } }
    };
    pages::layout(v, T::LastAuthenticatorTitle, Some(&c.row), body).into_response()
}

impl FromRequestParts<SharedSite> for Customer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, site: &SharedSite) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let hash = crate::sha256(token.as_bytes());
        let store = &site.store;
        let Some((account_id, expires_at)) = store.web_session(&hash).await.map_err(internal)? else {
            return Err(to_login());
        };
        match site.rule.on_request(expires_at, site.now()) {
            SessionCheck::Expired => {
                let expired =
                    AuditEntry::of_account(site.now(), AuditEvent::SessionExpired, &account_id, serde_json::json!({}));
                store.delete_web_session(&hash, expired).await.map_err(internal)?;
                let mut res = Redirect::to("/login?expired=1").into_response();
                res.headers_mut().append(header::SET_COOKIE, site.cookie(SESSION_COOKIE, "", Some(0)));
                return Err(res);
            }
            SessionCheck::Valid { expires_at, extended: true } => {
                store.extend_web_session(&hash, expires_at).await.map_err(internal)?;
            }
            SessionCheck::Valid { .. } => {}
        }
        let row = store.customer(&account_id).await.map_err(internal)?.ok_or_else(to_login)?;
        Ok(Customer { row, session_hash: hash })
    }
}

fn internal(e: impl Into<anyhow::Error>) -> Response {
    SiteError::Internal(e.into()).into_response()
}

/// A posted form whose CSRF token and `Origin` were checked; fields by name.
pub struct Form(HashMap<String, String>);

impl Form {
    /// The field's value ("" when absent); longer than `max_chars` is an error.
    pub fn field(&self, name: &'static str, max_chars: usize) -> Result<&str, SiteError> {
        let value = self.0.get(name).map(String::as_str).unwrap_or("");
        if value.chars().count() > max_chars {
            return Err(SiteError::FieldTooLong(name));
        }
        Ok(value)
    }

    /// A name or other text a customer types that others are shown (passkey names, bank and
    /// branch names), trimmed; empty stays empty for the caller to judge. Otherwise it must
    /// keep the one display-text rule that device names and challenge details keep
    /// ([`inkan_protocol::display::check_display_text`]): no control characters, line breaks
    /// or invisible formatting characters, so nothing a mail or a device shows is disguised.
    pub fn text_field(&self, name: &'static str, max_chars: usize) -> Result<&str, SiteError> {
        let value = self.field(name, max_chars)?.trim();
        match inkan_protocol::display::check_display_text(value, max_chars) {
            Ok(()) | Err(inkan_protocol::display::TextProblem::Empty) => Ok(value),
            Err(_) => Err(SiteError::InvalidText(name)),
        }
    }
}

impl FromRequest<SharedSite> for Form {
    type Rejection = SiteError;

    async fn from_request(req: Request, site: &SharedSite) -> Result<Self, SiteError> {
        if let Some(origin) = req.headers().get(header::ORIGIN)
            && origin.as_bytes() != site.settings.public_origin.as_bytes()
        {
            return Err(SiteError::Csrf);
        }
        let cookie = cookie_value(req.headers(), CSRF_COOKIE).unwrap_or("").to_owned();
        let body = Bytes::from_request(req, site).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                SiteError::TooLarge
            } else {
                SiteError::BadRequest
            }
        })?;
        let mut fields = HashMap::new();
        for (k, v) in form_urlencoded::parse(&body) {
            fields.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        let given = fields.get(CSRF_FIELD).map(String::as_str).unwrap_or("");
        if cookie.len() < 40 || !bool::from(given.as_bytes().ct_eq(cookie.as_bytes())) {
            return Err(SiteError::Csrf);
        }
        Ok(Form(fields))
    }
}

/// Everything that ends a page request with an error page (bilingual: the visitor's language
/// may be what failed to load).
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("the form's security token is missing or wrong, or it came from another site")]
    Csrf,
    #[error("field {0} is too long")]
    FieldTooLong(&'static str),
    #[error("field {0} contains control, line-break or invisible formatting characters")]
    InvalidText(&'static str),
    #[error("request body too large")]
    TooLarge,
    #[error("malformed request")]
    BadRequest,
    #[error("not found")]
    NotFound,
    #[error("the database is unavailable right now")]
    Unavailable,
    #[error("too many requests from this client")]
    RateLimited,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SiteError {
    fn from(e: sqlx::Error) -> Self {
        if inkan_kit::sqlite::is_unavailable(&e) {
            inkan_kit::sqlite::DATABASE_UNAVAILABLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(error = %e, "database unavailable");
            return SiteError::Unavailable;
        }
        SiteError::Internal(e.into())
    }
}

impl From<inkan_rp_client::RpError> for SiteError {
    fn from(e: inkan_rp_client::RpError) -> Self {
        match &e {
            inkan_rp_client::RpError::Api { status: 503, .. } => SiteError::Unavailable,
            inkan_rp_client::RpError::Transport(_) => {
                tracing::warn!(error = %e, "the verifier cannot be reached");
                SiteError::Unavailable
            }
            _ => SiteError::Internal(anyhow::anyhow!("the verifier answered {e}")),
        }
    }
}

/// A time on a page, in JST and the page's language: 2026年12月2日 6:43 / 2 Dec 2026, 06:43
/// (mails carry both languages and keep [`inkan_protocol::display::jst_minutes`]).
pub fn when(lang: Lang, unix: i64) -> String {
    match lang {
        Lang::Ja => inkan_protocol::display::jst_date_ja(unix),
        Lang::En => inkan_protocol::display::jst_date_en(unix),
    }
}

/// What an error code means, in the page's language, from the registry the app and the CLI
/// share ([`inkan_protocol::error_text`]).
pub fn error_text(code: &str, lang: Lang) -> String {
    inkan_protocol::error_text::error_text(code, lang == Lang::Ja)
}

/// What the customer is told when the verifier refused to push to their app (`code`, a
/// refusal of [`is_refusal`]): pushes stopped after a "not me" report are explained in words,
/// with the way in that still works and how to have them restarted; the rest in the words of
/// the shared registry.
pub fn push_unavailable(code: &str, lang: Lang) -> String {
    if code == inkan_protocol::ErrorCode::PushBlocked.as_str() {
        return i18n::T::PushBlockedExplained.get(lang).to_owned();
    }
    i18n::T::PushUnavailable.fill(lang, &[&error_text(code, lang)])
}

/// A refusal the customer is told about (push blocked, cool-down, too many pushes, no
/// device): the verifier said no for a reason of the account. `false`: the site's own fault
/// or the verifier's (a malformed request, an outage): an error page.
pub fn is_refusal(e: &inkan_rp_client::RpError) -> bool {
    matches!(e, inkan_rp_client::RpError::Api { status, .. } if !matches!(status, 400 | 401 | 422) && *status < 500)
}

impl SiteError {
    pub fn code(&self) -> &'static str {
        match self {
            SiteError::Csrf => "csrf_check_failed",
            SiteError::FieldTooLong(_) => "field_too_long",
            SiteError::InvalidText(_) => "invalid_text",
            SiteError::TooLarge => "body_too_large",
            SiteError::BadRequest => "bad_request",
            SiteError::NotFound => "not_found",
            SiteError::Unavailable => "database_unavailable",
            SiteError::RateLimited => "rate_limited",
            SiteError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            SiteError::Csrf => StatusCode::FORBIDDEN,
            SiteError::FieldTooLong(_) | SiteError::InvalidText(_) | SiteError::BadRequest => StatusCode::BAD_REQUEST,
            SiteError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            SiteError::NotFound => StatusCode::NOT_FOUND,
            SiteError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            SiteError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            SiteError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message, in one language.
    fn message(&self, lang: Lang) -> String {
        match self {
            SiteError::Csrf => match lang {
                Lang::Ja => "フォームの有効期限が切れたか、別のサイトから送信されました。ページを開き直してから、もう一度操作してください。".into(),
                Lang::En => "The form expired or was sent from another site. Reload the page and try again.".into(),
            },
            SiteError::FieldTooLong(field) => T::FieldTooLong.fill(lang, &[field]),
            SiteError::InvalidText(field) => T::FieldInvalidText.fill(lang, &[field]),
            SiteError::TooLarge => match lang {
                Lang::Ja => "送信された内容が大きすぎます。".into(),
                Lang::En => "What was sent is too large.".into(),
            },
            SiteError::BadRequest => match lang {
                Lang::Ja => "リクエストの形式が正しくありません。".into(),
                Lang::En => "The request is malformed.".into(),
            },
            SiteError::NotFound => match lang {
                Lang::Ja => "ページが見つかりません。".into(),
                Lang::En => "Page not found.".into(),
            },
            SiteError::RateLimited => match lang {
                Lang::Ja => "短い時間に多くの操作がありました。1分ほど待ってから、もう一度お試しください。".into(),
                Lang::En => "Too many attempts in a short time. Wait a minute, then try again.".into(),
            },
            SiteError::Unavailable => match lang {
                Lang::Ja => "ただいまシステムに接続できません。何も変更されていません。しばらくしてからもう一度お試しください。".into(),
                Lang::En => "We cannot reach our system right now. Nothing was changed. Please try again shortly.".into(),
            },
            SiteError::Internal(_) => match lang {
                Lang::Ja => "ただいま処理できません。しばらくしてからもう一度お試しください。".into(),
                Lang::En => "We cannot handle this right now. Please try again shortly.".into(),
            },
        }
    }
}

impl IntoResponse for SiteError {
    fn into_response(self) -> Response {
        if let SiteError::Internal(e) = &self {
            tracing::error!(error = %e, "site request failed");
        }
        let body = pages::error_page(self.code(), &self.message(Lang::Ja), &self.message(Lang::En));
        (self.status(), body).into_response()
    }
}

pub type SiteResult<T> = Result<T, SiteError>;

/// 303 to `to`.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Mails the customer in the background: a notification must not fail the action it reports.
pub fn mail_later(site: &SharedSite, mail: crate::mail::Mail) {
    let site = site.clone();
    tokio::spawn(async move {
        let subject = mail.subject.clone();
        if let Err(e) = site.mailer.send(mail).await {
            tracing::warn!(error = %e, subject, "notification mail failed");
        }
    });
}
