//! `inkan-kit`: the plumbing both Inkan services (the verifier and the demo brokerage site) are
//! built on, and nothing of either: the accept loop with its connection limits, per-client
//! rate limits, request ids, randomness, secrets in memory, QR codes, masking, SQLite opened
//! the one way both use, the append-only audit row, and limits loaded by name.
//!
//! The site never depends on the verifier; both depend on this.
#![forbid(unsafe_code)]

pub mod db;
pub mod limits;
pub mod main_support;
pub mod mask;
pub mod pg_test;
pub mod qr;
pub mod ratelimit;
pub mod serve;
pub mod sqlite;

use std::net::SocketAddr;

/// The relying-party API key both services' `--dev` use when none is configured, so that the
/// two find each other. Public knowledge: production settings refuse to start with it.
pub const INSECURE_DEV_RP_API_KEY: &str = "insecure-dev-rp-api-key";
/// The webhook secret the verifier's `--dev` signs with and the site's `--dev` checks, when
/// none is configured. Public knowledge: outside `--dev` a secret must be given.
pub const INSECURE_DEV_WEBHOOK_SECRET: &str = "insecure-dev-webhook-secret-not-for-production";

use inkan_protocol::keys::{SigningKey, b64};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

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
pub async fn request_span(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
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

/// A uniformly random number of `digits` digits (leading zeros kept).
pub fn random_number(digits: u8) -> String {
    let modulus = 10u32.pow(u32::from(digits));
    let zone = u32::MAX - (u32::MAX % modulus);
    loop {
        let b = random_bytes::<4>();
        let v = u32::from_be_bytes(b);
        if v < zone {
            return format!("{:0width$}", v % modulus, width = digits as usize);
        }
    }
}

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

/// Writes a new file readable by its owner only (mode 0600 on unix); refuses to overwrite.
pub fn write_private_file(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
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
