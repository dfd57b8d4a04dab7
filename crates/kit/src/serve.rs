//! The accept loop: HTTP/1 connections with the limits a public service needs, which
//! `axum::serve` does not let us set.
//!
//! - A connection must send a request's headers within [`ServeLimits::header_read_timeout_secs`],
//!   counted from the moment it is opened or becomes idle after a response (hyper's header
//!   read timeout), so idle and slowloris connections are closed.
//! - One client address may hold at most [`ServeLimits::max_connections_per_client`] connections;
//!   past that a new connection gets `429 rate_limited` and is closed at once (0: no cap, for
//!   a deployment behind a proxy, where every connection comes from the proxy).
//! - Graceful shutdown: on the signal the listener stops accepting, every connection finishes
//!   the request in flight and closes; the caller bounds how long that may take.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// What the accept loop enforces (each a named setting of the service that serves).
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// A connection must send a request's headers within this long after it opens or after
    /// its last response.
    pub header_read_timeout_secs: u64,
    /// Connections one client address may hold open at once (0: no cap).
    pub max_connections_per_client: usize,
}

/// Things held open per key (connections per client address, live channels per device
/// session); a [`Slot`] gives its place back on drop. Taking a slot checks and counts in one
/// step under the lock.
pub struct SlotCounts<K> {
    open: Mutex<HashMap<K, usize>>,
    /// Takes refused for being over the cap, since start.
    pub refused: std::sync::atomic::AtomicU64,
}

impl<K> Default for SlotCounts<K> {
    fn default() -> Self {
        SlotCounts { open: Mutex::new(HashMap::new()), refused: std::sync::atomic::AtomicU64::new(0) }
    }
}

/// Open connections per client address.
pub type ConnectionCounts = SlotCounts<IpAddr>;

pub struct Slot<K: std::hash::Hash + Eq + Clone> {
    counts: Arc<SlotCounts<K>>,
    key: K,
}

impl<K: std::hash::Hash + Eq + Clone> SlotCounts<K> {
    /// A slot for `key`, unless it already holds `max` (0: no cap).
    pub fn take(self: &Arc<Self>, key: K, max: usize) -> Option<Slot<K>> {
        let mut open = self.open.lock().expect("slot counts");
        let n = open.entry(key.clone()).or_insert(0);
        if max != 0 && *n >= max {
            self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
        *n += 1;
        Some(Slot { counts: self.clone(), key })
    }

    /// Slots held now (all keys).
    pub fn total(&self) -> usize {
        self.open.lock().expect("slot counts").values().sum()
    }
}

impl<K: std::hash::Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().expect("slot counts");
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// What a connection over its client's cap is told before it is closed.
const OVER_CAP: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 86\r\n\r\n{\"code\":\"rate_limited\",\"message\":\"too many open connections from this client address\"}";

/// Serves `app` on `listener` until `shutdown` resolves, then lets open connections finish
/// their request in flight and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    counts: Arc<ConnectionCounts>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let header_timeout = Duration::from_secs(limits.header_read_timeout_secs);
    let max_per_client = limits.max_connections_per_client;
    // Dropped on shutdown: every connection task sees it and shuts its connection down.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    // Each connection task holds a clone; `closed()` resolves when all have finished.
    let (done_tx, done_rx) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = counts.take(peer.ip(), max_per_client) else {
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(OVER_CAP)).await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req.map(Body::new)
        });
        let hyper_service = TowerToHyperService::new(service);
        let mut stop_rx = stop_rx.clone();
        let done_rx = done_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _done = done_rx;
            // HTTP/1 only (what the devices, relying parties and browsers here speak): no
            // protocol sniffing before the header timer starts.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), hyper_service)
                .with_upgrades();
            tokio::pin!(conn);
            let mut stopping = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, %peer, "connection ended");
                        }
                        break;
                    }
                    _ = stop_rx.changed(), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
}
