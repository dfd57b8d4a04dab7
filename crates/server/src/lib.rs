//! `inkan-server`: the brokerage's verification service.
//!
//! It issues enrollment tickets and binds devices to accounts (proof of possession), signs and
//! pushes approval challenges to devices over a live channel (server-sent events), checks the
//! devices' signed decisions against its own record, enforces the anti-push-bombing limits, and
//! answers the relying party (the brokerage's web backend) through an API-key protected API,
//! with an append-only audit log. Storage is SQLite through sqlx.
//!
//! It is not the brokerage's web site: that is another service (the demo one is `inkan-site`)
//! which uses this one over the relying-party API and its webhook. It never holds a device's
//! private key.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod error;
pub mod hub;
pub mod metrics;
pub mod relay;
pub mod secrets;
pub use inkan_kit::{mask, qr, ratelimit, serve};
pub mod service;
pub mod settings;
pub mod store;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use inkan_protocol::clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use service::{Service, SharedService};
pub use settings::{Limits, Settings};

/// How often overdue challenges are marked expired (and devices told).
pub const EXPIRY_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How often spent nonces and expired device sessions are deleted.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60);

pub use inkan_kit::{
    client_ip, random_bytes, random_id, random_number, random_signing_key, random_token, request_span, sha256,
};

/// A server running in this process.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub service: SharedService,
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
    let store = store::Store::open_with(&settings.database_url, &settings.limits).await?;
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
    let target =
        settings.webhook.as_ref().map(|hook| webhook::Target { url: hook.url.clone(), secret: hook.secret.clone() });
    let service = Arc::new(Service::new(settings, store, clock));
    let sender = target.map(|target| webhook::spawn(service.clone(), target));
    let relay = match service.store.db() {
        inkan_kit::db::Db::Postgres(pool) => Some(relay::spawn(service.clone(), pool.clone())),
        inkan_kit::db::Db::Sqlite { .. } => None,
    };
    let app = api::router(service.clone()).layer(axum::middleware::from_fn(request_span));
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
                        if let Err(e) = sweeper.store.purge_events(before, sweeper.settings.webhook.is_some()).await {
                            tracing::warn!(error = %e, "relying-party event purge failed");
                        }
                    }
                }
            }
        };
        let serve = serve::serve(listener, app, limits.serve(), connections, async {
            let _ = rx.await;
        });
        tokio::select! {
            () = serve => {}
            _ = sweep => {}
        }
        if let Some(sender) = sender {
            sender.abort();
        }
        if let Some(relay) = relay {
            relay.abort();
        }
    });
    Ok(RunningServer { addr, service, shutdown: Some(tx), task })
}
