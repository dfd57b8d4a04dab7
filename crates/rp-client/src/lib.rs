//! A typed client of the Inkan verifier's relying-party API (`/v1/rp/...`), and the check of
//! its signed webhook deliveries. Everything a brokerage's backend does with Inkan goes
//! through here, over HTTP: the wire types are `inkan-protocol`'s, the contract is the
//! verifier's OpenAPI description (`GET /v1/openapi.json`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), inkan_rp_client::RpError> {
//! let rp = inkan_rp_client::RpClient::new("https://inkan.broker.example", "the API key")?;
//! let ticket = rp.create_ticket("10000001", None).await?;
//! println!("scan {}", ticket.uri);
//! # Ok(()) }
//! ```

use std::time::Duration;

use inkan_protocol::webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookRefusal};
use inkan_protocol::{
    AccountPushState, ChallengeCreated, ChallengeStatus, CreateChallengeRequest, CreateTicketRequest, DeviceInfo,
    ErrorBody, ErrorCode, LoginRecorded, RpEventPage, TicketCreated, TicketStatus, WebhookDelivery,
};
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

/// Longest a request waits for an answer, long polls aside (they wait their own timeout more).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long an idle connection is kept for the next request.
pub const POOL_IDLE: Duration = Duration::from_secs(5);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpError {
    /// The verifier refused, with its stable code.
    #[error("{status} {code:?}: {message}")]
    Api { status: u16, code: ErrorCode, message: String },
    /// No answer, or not one this client understands.
    #[error("the verifier could not be reached or answered oddly: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("the origin {0:?} is not an http(s) origin")]
    BadOrigin(String),
}

impl RpError {
    /// The verifier's error code, if it answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            RpError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

pub type RpResult<T> = Result<T, RpError>;

/// A client of one verifier, with the relying party's API key.
#[derive(Clone)]
pub struct RpClient {
    http: reqwest::Client,
    origin: String,
    api_key: std::sync::Arc<Zeroizing<String>>,
}

impl std::fmt::Debug for RpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpClient").field("origin", &self.origin).field("api_key", &"[redacted]").finish()
    }
}

impl RpClient {
    pub fn new(origin: &str, api_key: &str) -> RpResult<RpClient> {
        let origin = origin.trim_end_matches('/').to_owned();
        if !(origin.starts_with("https://") || origin.starts_with("http://")) {
            return Err(RpError::BadOrigin(origin));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            // Idle connections are dropped before a server's idle timeout can close them
            // under a request.
            .pool_idle_timeout(POOL_IDLE)
            .build()?;
        Ok(RpClient { http, origin, api_key: std::sync::Arc::new(Zeroizing::new(api_key.to_owned())) })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> RpResult<T> {
        let resp = req.bearer_auth(self.api_key.as_str()).send().await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp.json().await?);
        }
        let body: ErrorBody = resp.json().await?;
        Err(RpError::Api { status: status.as_u16(), code: body.code, message: body.message })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> RpResult<T> {
        self.send(self.http.get(self.url(path))).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: Option<&impl serde::Serialize>) -> RpResult<T> {
        let req = self.http.post(self.url(path));
        self.send(match body {
            Some(b) => req.json(b),
            None => req,
        })
        .await
    }

    /// An enrollment QR code for the account (`label`: what the app shows; default the
    /// account masked).
    pub async fn create_ticket(&self, account_id: &str, label: Option<&str>) -> RpResult<TicketCreated> {
        let req = CreateTicketRequest { account_id: account_id.to_owned(), label: label.map(str::to_owned) };
        self.post("/v1/rp/enrollment-tickets", Some(&req)).await
    }

    /// Whether the QR code was used, is open, or expired.
    pub async fn ticket_status(&self, ticket_id: &str) -> RpResult<TicketStatus> {
        self.get(&format!("/v1/rp/enrollment-tickets/{}", segment(ticket_id))).await
    }

    pub async fn create_challenge(&self, req: &CreateChallengeRequest) -> RpResult<ChallengeCreated> {
        self.post("/v1/rp/challenges", Some(req)).await
    }

    pub async fn challenge_status(&self, challenge_id: &str) -> RpResult<ChallengeStatus> {
        self.get(&format!("/v1/rp/challenges/{}", segment(challenge_id))).await
    }

    /// Waits up to `timeout_secs` for the challenge to be settled; returns its status either way.
    pub async fn wait(&self, challenge_id: &str, timeout_secs: u64) -> RpResult<ChallengeStatus> {
        let path = format!("/v1/rp/challenges/{}/wait?timeout={timeout_secs}", segment(challenge_id));
        self.send(self.http.get(self.url(&path)).timeout(REQUEST_TIMEOUT + Duration::from_secs(timeout_secs))).await
    }

    pub async fn cancel(&self, challenge_id: &str) -> RpResult<ChallengeStatus> {
        self.post(&format!("/v1/rp/challenges/{}/cancel", segment(challenge_id)), None::<&()>).await
    }

    pub async fn account_state(&self, account_id: &str) -> RpResult<AccountPushState> {
        self.get(&format!("/v1/rp/accounts/{}", segment(account_id))).await
    }

    pub async fn devices(&self, account_id: &str) -> RpResult<Vec<DeviceInfo>> {
        self.get(&format!("/v1/rp/accounts/{}/devices", segment(account_id))).await
    }

    pub async fn revoke_device(&self, account_id: &str, device_id: &str) -> RpResult<()> {
        let path = format!("/v1/rp/accounts/{}/devices/{}/revoke", segment(account_id), segment(device_id));
        let _: serde_json::Value = self.post(&path, None::<&()>).await?;
        Ok(())
    }

    /// Clears a "not me" block.
    pub async fn unblock(&self, account_id: &str) -> RpResult<()> {
        let _: serde_json::Value =
            self.post(&format!("/v1/rp/accounts/{}/unblock", segment(account_id)), None::<&()>).await?;
        Ok(())
    }

    /// Whether `code` is a valid offline code of one of the account's devices (each is good once).
    pub async fn verify_code(&self, account_id: &str, code: &str) -> RpResult<bool> {
        let body = serde_json::json!({"code": code});
        let answer: serde_json::Value =
            self.post(&format!("/v1/rp/accounts/{}/verify-code", segment(account_id)), Some(&body)).await?;
        Ok(answer["valid"].as_bool().unwrap_or(false))
    }

    /// A login that succeeded without a push: the push cap counts from it.
    pub async fn report_login(&self, account_id: &str) -> RpResult<LoginRecorded> {
        self.post(&format!("/v1/rp/accounts/{}/logins", segment(account_id)), None::<&()>).await
    }

    /// Events after `after`, oldest first (of one account, if given).
    pub async fn events(&self, after: i64, limit: Option<u32>, account_id: Option<&str>) -> RpResult<RpEventPage> {
        let mut path = format!("/v1/rp/events?after={after}");
        if let Some(limit) = limit {
            path.push_str(&format!("&limit={limit}"));
        }
        if let Some(account) = account_id {
            path.push_str(&format!("&account={}", segment(account)));
        }
        self.get(&path).await
    }

    /// The account's audit rows, newest first.
    pub async fn audit(&self, account_id: &str) -> RpResult<Vec<serde_json::Value>> {
        self.get(&format!("/v1/rp/accounts/{}/audit", segment(account_id))).await
    }
}

/// A path segment, percent-encoded (ids are base64url, but nothing here trusts that).
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' || b == b'~' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks a webhook delivery (headers and body as received) and reads it. The caller still
/// refuses a delivery id it has seen, and processes each event id once.
pub fn verify_delivery(
    secret: &[u8],
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<WebhookDelivery, WebhookRefusal> {
    let get = |name| header(name).unwrap_or_default();
    let delivery_id = get(DELIVERY_HEADER);
    inkan_protocol::webhook::verify(
        secret,
        &delivery_id,
        &get(TIMESTAMP_HEADER),
        &get(SIGNATURE_HEADER),
        body,
        now,
        tolerance_secs,
    )?;
    let delivery: WebhookDelivery = serde_json::from_slice(body).map_err(|_| WebhookRefusal::Malformed)?;
    if delivery.delivery_id != delivery_id {
        return Err(WebhookRefusal::Malformed);
    }
    Ok(delivery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("abc-_9"), "abc-_9");
        assert_eq!(segment("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(segment("口"), "%E5%8F%A3");
    }

    #[test]
    fn a_delivery_is_read_only_when_signed_fresh_and_consistent() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let body = br#"{"delivery_id":"d1","events":[]}"#;
        let sig = inkan_protocol::webhook::sign(secret, 100, "d1", body);
        let headers = |id: &'static str, ts: &'static str, sig: String| {
            move |name: &str| match name {
                DELIVERY_HEADER => Some(id.to_owned()),
                TIMESTAMP_HEADER => Some(ts.to_owned()),
                SIGNATURE_HEADER => Some(sig.clone()),
                _ => None,
            }
        };
        assert_eq!(
            verify_delivery(secret, headers("d1", "100", sig.clone()), body, 100, 300).unwrap().delivery_id,
            "d1"
        );
        assert_eq!(
            verify_delivery(secret, headers("d1", "100", sig), body, 1000, 300).unwrap_err(),
            WebhookRefusal::Stale
        );
        let other = br#"{"delivery_id":"d2","events":[]}"#;
        let sig = inkan_protocol::webhook::sign(secret, 100, "d1", other);
        assert_eq!(
            verify_delivery(secret, headers("d1", "100", sig), other, 100, 300).unwrap_err(),
            WebhookRefusal::Malformed,
            "the body names another delivery"
        );
        assert_eq!(verify_delivery(secret, |_| None, body, 100, 300).unwrap_err(), WebhookRefusal::Malformed);
    }
}
