//! `inkan-server`: the brokerage's verification service.
//!
//! It issues enrollment tickets and binds devices to accounts (proof of possession), signs and
//! pushes approval challenges to devices over a live channel (server-sent events), checks the
//! devices' signed decisions against its own record, enforces the anti-push-bombing limits, and
//! answers the relying party (the brokerage's web backend) through an API-key protected API,
//! with an append-only audit log. Storage is SQLite through sqlx.
//!
//! It is not the brokerage's web site (customers, passwords, sessions: a later layer on top),
//! and it never holds a device's private key.
#![forbid(unsafe_code)]

pub mod api;
pub mod error;
pub mod hub;
pub mod mail;
pub mod mask;
pub mod metrics;
pub mod qr;
pub mod ratelimit;
pub mod secrets;
pub mod serve;
pub mod service;
pub mod settings;
pub mod site;
pub mod store;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use inkan_protocol::keys::{SigningKey, b64};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

pub use inkan_protocol::clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use service::{Service, SharedService};
pub use settings::{Limits, Settings};

/// How often overdue challenges are marked expired (and devices told).
pub const EXPIRY_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How often spent nonces and expired device sessions are deleted.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    out
}

/// An identifier of `n` random bytes (base32, see [`inkan_protocol::keys::id_text`]).
pub fn random_id(n: usize) -> String {
    let mut out = vec![0u8; n];
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    inkan_protocol::keys::id_text(&out)
}

/// A secret of `n` random bytes, base64url.
pub fn random_token(n: usize) -> String {
    let mut out = vec![0u8; n];
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    b64(&out)
}

pub fn random_signing_key() -> SigningKey {
    loop {
        let bytes = zeroize::Zeroizing::new(random_bytes::<32>());
        if let Ok(key) = SigningKey::from_bytes(&*bytes) {
            return key;
        }
    }
}

/// The client's address: the connection's peer, or, where the deployment says a proxy in
/// front sets it (`trust_x_forwarded_for`), the first address of `X-Forwarded-For`. One rule
/// for the API and the site.
pub fn client_ip(parts: &axum::http::request::Parts, trust_x_forwarded_for: bool) -> std::net::IpAddr {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let forwarded = trust_x_forwarded_for
        .then(|| parts.headers.get("x-forwarded-for")?.to_str().ok()?.split(',').next()?.trim().parse().ok())
        .flatten();
    forwarded.unwrap_or(peer)
}

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// Gives every request an id (the caller's `X-Request-Id` when it is a short token, else a
/// fresh one), runs it inside a `request` span carrying the id, method and path (never the
/// query or body, where tickets and codes travel), logs its status, and answers the id in
/// `X-Request-Id`.
async fn request_span(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use tracing::Instrument;
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| random_id(8));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut res = next.run(req).instrument(span.clone()).await;
    tracing::info!(parent: &span, status = res.status().as_u16(), "answered");
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", value);
    }
    res
}

/// A server running in this process.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub service: SharedService,
    /// The demo site's own database.
    pub site_store: site::db::SiteStore,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Graceful shutdown: stops accepting; every waiting long poll answers at once with the
    /// challenge's status (the decision, or `pending`: ask again, on another instance), live
    /// channels end so devices reconnect elsewhere, requests in flight finish; then the
    /// server task ends. After [`Limits::shutdown_grace_secs`] whatever is left is dropped.
    pub async fn stop(mut self) {
        self.service.begin_shutdown();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let grace = Duration::from_secs(self.service.settings.limits.shutdown_grace_secs);
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            tracing::warn!(?grace, "connections still open after the grace period: dropping them");
            self.task.abort();
            let _ = (&mut self.task).await;
        }
    }

    /// Ends the server at once, as if the process were killed: the listener closes and every
    /// open connection is dropped; nothing is flushed beyond what each statement committed.
    pub fn kill(self) {
        self.service.begin_shutdown();
        self.task.abort();
    }
}

/// Opens the store, binds `listener` (or `settings.listen`), and serves until stopped.
pub async fn start(
    settings: Settings,
    clock: SharedClock,
    listener: Option<TcpListener>,
) -> anyhow::Result<RunningServer> {
    settings.check()?;
    let store = store::Store::open(&settings.database_url).await?;
    let resealed = store.reseal_offline_secrets(&settings.secret_keys).await?;
    if resealed > 0 {
        tracing::info!(
            resealed,
            key = settings.secret_keys.current_id(),
            "offline-code secrets sealed under the current key"
        );
    }
    let listener = match listener {
        Some(l) => l,
        None => TcpListener::bind(settings.listen).await?,
    };
    let addr = listener.local_addr()?;
    let site_store = site::db::SiteStore::open(&settings.site_database_url).await?;
    let mailer: Arc<dyn mail::Mailer> = match &settings.mail {
        settings::MailTransport::InsecureDevOutbox => {
            Arc::new(mail::InsecureDevOutbox { store: site_store.clone(), clock: clock.clone() })
        }
        settings::MailTransport::Smtp { url } => {
            Arc::new(mail::SmtpMailer::new(url.expose(), &settings.mail_from, settings.dkim.as_ref())?)
        }
    };
    let outbox_page = matches!(settings.mail, settings::MailTransport::InsecureDevOutbox);
    let geo = site::geo::Geo::open(&settings.geo)?;
    // Where this process reaches itself: the embedded site's webhook and its verifier client.
    let loopback = std::net::SocketAddr::new(
        if addr.ip().is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { addr.ip() },
        addr.port(),
    );
    // Events go to the configured relying party, or else to the embedded site under a secret
    // that lives only in this process (the site checks every delivery like any RP would).
    let (target, site_secret) = match &settings.webhook {
        Some(hook) => (webhook::Target { url: hook.url.clone(), secret: hook.secret.clone() }, None),
        None => {
            let secret =
                settings.site_webhook_secret.clone().unwrap_or_else(|| settings::SecretString::new(random_token(32)));
            let url = format!("http://{loopback}{}", site::webhook::PATH);
            (webhook::Target { url, secret: secret.clone() }, Some(secret))
        }
    };
    let service = Arc::new(Service::new(settings, store, clock));
    // The site reaches the verifier over its public API, on loopback, like any brokerage.
    let verifier = inkan_rp_client::RpClient::new(&format!("http://{loopback}"), service.settings.rp_api_key.expose())?;
    let site = site::Site::new(service.clone(), site_store.clone(), mailer, outbox_page, geo, site_secret, verifier);
    let sender = webhook::spawn(service.clone(), target);
    let app = api::router(service.clone()).merge(site::router(site)).layer(axum::middleware::from_fn(request_span));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let sweeper = service.clone();
    let limits = service.settings.limits.clone();
    let connections = service.connections.clone();
    let task = tokio::spawn(async move {
        let sweep = async move {
            let mut sweep = tokio::time::interval(EXPIRY_SWEEP_INTERVAL);
            let mut purge = tokio::time::interval(PURGE_INTERVAL);
            loop {
                tokio::select! {
                    _ = sweep.tick() => {
                        if let Err(e) = sweeper.sweep_expired().await {
                            tracing::warn!(error = %e, "expiry sweep failed");
                        }
                    }
                    _ = purge.tick() => {
                        match sweeper.store.purge_expired(sweeper.now()).await {
                            Ok((nonces, sessions)) => tracing::debug!(nonces, sessions, "purged expired nonces and sessions"),
                            Err(e) => tracing::warn!(error = %e, "purge failed"),
                        }
                        let before = sweeper.now() - sweeper.settings.limits.rp_event_retention_secs;
                        if let Err(e) = sweeper.store.purge_events(before).await {
                            tracing::warn!(error = %e, "relying-party event purge failed");
                        }
                    }
                }
            }
        };
        let serve = serve::serve(listener, app, &limits, connections, async {
            let _ = rx.await;
        });
        tokio::select! {
            () = serve => {}
            _ = sweep => {}
        }
        sender.abort();
    });
    Ok(RunningServer { addr, service, site_store, shutdown: Some(tx), task })
}
