//! Same-device approval: the authenticator on a desktop listens on a loopback port, and the
//! brokerage's page, opened in a browser on that desktop, asks it to take up the login (or
//! withdrawal) the page is waiting for, with the number the page shows, so the person need
//! not type it across.
//!
//! What makes it safe (the design is written out in ARCHITECTURE.md):
//! - **Origin**: a browser sets `Origin` itself; a page cannot forge it. A request is taken
//!   only when `Origin` is exactly the origin of an enrolled account (scheme, host, port) that
//!   has that challenge pending. A phishing copy of the page has another origin and gets a
//!   refusal; a request without `Origin` (not from a browser page) is refused too.
//! - **Bound to the login attempt**: the request names the challenge the site made for this
//!   browser's login attempt and the number shown only on that attempt's page. The answer is
//!   no token: the device signs its approval of that challenge and sends it to the server over
//!   its own channel, and the server lets only the attempt that owns the challenge proceed. A
//!   replayed request finds the challenge decided and is refused.
//! - The request carries nothing secret and gets nothing secret back; the device key stays in
//!   the keychain and the person still confirms (the [`LoopbackHandler`] decides how).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::authenticator::Authenticator;
use crate::error::CoreError;
use crate::inbox::PendingChallenge;
use crate::profile::Account;

/// The port the site's page calls, unless the deployment sets another on both sides.
pub const DEFAULT_LOOPBACK_PORT: u16 = inkan_protocol::DEFAULT_LOOPBACK_PORT;
/// Largest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Largest request body.
pub const MAX_BODY_BYTES: usize = 1024;
/// Time a connection may take to send its request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The one path served.
pub const APPROVE_PATH: &str = "/v1/approve";

/// What the page sends: the challenge its login attempt waits for and the number it shows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopbackRequest {
    pub challenge_id: String,
    pub number: String,
}

/// What became of a request the handler took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopbackOutcome {
    /// Approved and accepted by the server.
    Approved,
    /// Shown to the person, who decides in the app.
    Shown,
    /// The person declined.
    Declined,
}

/// What the app (or the CLI) does with a request that passed every check.
#[async_trait::async_trait]
pub trait LoopbackHandler: Send + Sync + 'static {
    async fn take(
        &self,
        auth: &Authenticator,
        account: &Account,
        pending: &PendingChallenge,
        number: &str,
    ) -> Result<LoopbackOutcome, CoreError>;
}

/// Approves at once: for QA automation (`inkan loopback --approve`) and tests.
pub struct ApproveAtOnce;

#[async_trait::async_trait]
impl LoopbackHandler for ApproveAtOnce {
    async fn take(
        &self,
        auth: &Authenticator,
        account: &Account,
        pending: &PendingChallenge,
        number: &str,
    ) -> Result<LoopbackOutcome, CoreError> {
        let outcome = auth.decide(account, &pending.challenge, inkan_protocol::Decision::Approve, Some(number)).await?;
        Ok(match outcome.state {
            inkan_protocol::ChallengeState::Approved => LoopbackOutcome::Approved,
            _ => LoopbackOutcome::Declined,
        })
    }
}

/// Why a request was refused (the `error` of the JSON answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoOrigin,
    WrongOrigin,
    NotFound,
    Malformed,
    TooLarge,
    MethodNotAllowed,
    Failed,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NoOrigin => "origin_missing",
            Refusal::WrongOrigin => "origin_not_enrolled",
            Refusal::NotFound => "challenge_not_pending",
            Refusal::Malformed => "malformed_request",
            Refusal::TooLarge => "request_too_large",
            Refusal::MethodNotAllowed => "method_not_allowed",
            Refusal::Failed => "approval_failed",
        }
    }

    fn status(self) -> u16 {
        match self {
            Refusal::NoOrigin | Refusal::WrongOrigin => 403,
            Refusal::NotFound => 404,
            Refusal::Malformed => 400,
            Refusal::TooLarge => 413,
            Refusal::MethodNotAllowed => 405,
            Refusal::Failed => 502,
        }
    }
}

struct Request {
    method: String,
    path: String,
    origin: Option<String>,
    body: Vec<u8>,
}

/// Reads one request, within the size limits.
async fn read_request(stream: &mut TcpStream) -> Result<Request, Refusal> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(Refusal::TooLarge);
        }
        let n = stream.read(&mut chunk).await.map_err(|_| Refusal::Malformed)?;
        if n == 0 {
            return Err(Refusal::Malformed);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| Refusal::Malformed)?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, path) = (first.next().unwrap_or("").to_owned(), first.next().unwrap_or("").to_owned());
    let mut origin = None;
    let mut length = 0usize;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { return Err(Refusal::Malformed) };
        match name.trim().to_ascii_lowercase().as_str() {
            // Two Origin headers are as good as none.
            "origin" if origin.is_some() => return Err(Refusal::NoOrigin),
            "origin" => origin = Some(value.trim().to_owned()),
            "content-length" => length = value.trim().parse().map_err(|_| Refusal::Malformed)?,
            "transfer-encoding" => return Err(Refusal::Malformed),
            _ => {}
        }
    }
    if length > MAX_BODY_BYTES {
        return Err(Refusal::TooLarge);
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.map_err(|_| Refusal::Malformed)?;
        if n == 0 {
            return Err(Refusal::Malformed);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Request { method, path, origin, body })
}

/// Answers; CORS headers only for an enrolled origin (anyone else cannot read the answer).
async fn respond(stream: &mut TcpStream, status: u16, allow_origin: Option<&str>, body: &serde_json::Value) {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Bad Gateway",
    };
    let body = if status == 204 { String::new() } else { body.to_string() };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(origin) = allow_origin {
        head.push_str(&format!(
            "Access-Control-Allow-Origin: {origin}\r\nVary: Origin\r\nAccess-Control-Allow-Methods: POST\r\nAccess-Control-Allow-Headers: content-type\r\nAccess-Control-Allow-Private-Network: true\r\nAccess-Control-Max-Age: 600\r\n"
        ));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The enrolled accounts whose server is exactly `origin`.
fn accounts_for(auth: &Authenticator, origin: &str) -> Vec<Account> {
    auth.accounts().unwrap_or_default().into_iter().filter(|a| a.page_origin() == origin).collect()
}

/// Handles one connection: checks, then the handler. The answer as (status, CORS origin, JSON).
async fn handle(
    stream: &mut TcpStream,
    auth: &Authenticator,
    handler: &dyn LoopbackHandler,
) -> (u16, Option<String>, serde_json::Value) {
    let refuse = |r: Refusal, cors: Option<String>| (r.status(), cors, serde_json::json!({"error": r.code()}));
    let req = match tokio::time::timeout(READ_TIMEOUT, read_request(stream)).await {
        Ok(Ok(req)) => req,
        Ok(Err(r)) => return refuse(r, None),
        Err(_) => return refuse(Refusal::Malformed, None),
    };
    let Some(origin) = req.origin.clone() else { return refuse(Refusal::NoOrigin, None) };
    let accounts = accounts_for(auth, &origin);
    if accounts.is_empty() {
        tracing::warn!(%origin, "loopback request from an origin no account is enrolled at; refused");
        return refuse(Refusal::WrongOrigin, None);
    }
    let cors = Some(origin.clone());
    match (req.method.as_str(), req.path.as_str()) {
        ("OPTIONS", APPROVE_PATH) => return (204, cors, serde_json::Value::Null),
        ("POST", APPROVE_PATH) => {}
        _ => return refuse(Refusal::MethodNotAllowed, cors),
    }
    let Ok(body) = serde_json::from_slice::<LoopbackRequest>(&req.body) else {
        return refuse(Refusal::Malformed, cors);
    };
    for account in &accounts {
        let Ok(pending) = auth.pending(account).await else { continue };
        let Some(item) = pending.into_iter().find(|p| p.challenge.id == body.challenge_id) else { continue };
        return match handler.take(auth, account, &item, &body.number).await {
            Ok(outcome) => (200, cors, serde_json::json!({"state": outcome})),
            Err(e) => {
                (Refusal::Failed.status(), cors, serde_json::json!({"error": e.code(), "message": e.to_string()}))
            }
        };
    }
    refuse(Refusal::NotFound, cors)
}

/// Serves the loopback endpoint on `listener` until the task is dropped; one request per
/// connection.
pub async fn serve(listener: TcpListener, auth: Arc<Authenticator>, handler: Arc<dyn LoopbackHandler>) {
    loop {
        let Ok((mut stream, peer)) = listener.accept().await else { continue };
        if !peer.ip().is_loopback() {
            continue;
        }
        let (auth, handler) = (auth.clone(), handler.clone());
        tokio::spawn(async move {
            let (status, cors, body) = handle(&mut stream, &auth, handler.as_ref()).await;
            respond(&mut stream, status, cors.as_deref(), &body).await;
        });
    }
}

/// Binds the loopback port (IPv4 loopback only).
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).await
}
