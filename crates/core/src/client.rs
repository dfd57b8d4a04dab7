//! The HTTP client for one Inkan server's device API. Server refusals come back as
//! [`CoreError::Server`] with the server's stable code.

use std::time::Duration;

use inkan_protocol::ErrorBody;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{CoreError, CoreResult};

/// Time allowed to open a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for one ordinary request (not the push channel).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest response body read into memory.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

pub fn http_client() -> CoreResult<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("inkan-core/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CoreError::ServerUnreachable(e.to_string()))
}

/// One server, reached at `origin`.
#[derive(Clone, Copy)]
pub struct Api<'a> {
    pub http: &'a reqwest::Client,
    pub origin: &'a str,
}

fn unreachable(e: reqwest::Error) -> CoreError {
    CoreError::ServerUnreachable(e.without_url().to_string())
}

impl Api<'_> {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin, path)
    }

    pub async fn get<R: DeserializeOwned>(&self, path: &str, bearer: Option<&str>) -> CoreResult<R> {
        let mut req = self.http.get(self.url(path)).timeout(REQUEST_TIMEOUT);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        Self::read(req.send().await.map_err(unreachable)?).await
    }

    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &B,
    ) -> CoreResult<R> {
        let mut req = self.http.post(self.url(path)).timeout(REQUEST_TIMEOUT).json(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        Self::read(req.send().await.map_err(unreachable)?).await
    }

    /// Opens the push channel (server-sent events) and returns the streaming response.
    /// No overall timeout: the channel stays open until either side closes it.
    pub async fn events(&self, token: &str) -> CoreResult<reqwest::Response> {
        let resp = self
            .http
            .get(self.url("/v1/device/events"))
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .send();
        // The answer's head must come within the ordinary request time (a dead path would
        // otherwise hold it forever); the body then streams without an overall limit.
        let resp = tokio::time::timeout(REQUEST_TIMEOUT, resp)
            .await
            .map_err(|_| CoreError::ServerUnreachable("no answer to the push channel request".into()))?
            .map_err(unreachable)?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(Self::read::<serde_json::Value>(resp)
            .await
            .err()
            .unwrap_or_else(|| CoreError::BadResponse("push channel".into())))
    }

    /// Reads a JSON answer, or turns an error answer into [`CoreError::Server`].
    pub async fn read<R: DeserializeOwned>(resp: reqwest::Response) -> CoreResult<R> {
        let status = resp.status();
        if resp.content_length().is_some_and(|n| n as usize > MAX_RESPONSE_BYTES) {
            return Err(CoreError::BadResponse("response too large".into()));
        }
        let bytes = resp.bytes().await.map_err(unreachable)?;
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(CoreError::BadResponse("response too large".into()));
        }
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| CoreError::BadResponse(e.to_string()));
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(CoreError::Server { code: body.code, message: body.message }),
            Err(_) => Err(CoreError::BadResponse(format!("HTTP {status}"))),
        }
    }
}
