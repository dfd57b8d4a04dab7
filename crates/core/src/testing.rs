//! A device driven by hand, below [`crate::Authenticator`], for tests and benchmarks (feature
//! `testing`): it sends what an attacker or a buggy client would (tampered payloads, replays,
//! races) and opens many push channels cheaply. Never part of a shipped program.

use inkan_protocol::keys::SigningKey;
use inkan_protocol::{
    ApprovalPayload, DecisionOutcome, DecisionSubmission, DeviceAuthPayload, EnrollPayload, EnrollRequest,
    EnrollResponse, EnrollmentUri, Label, SessionRequest, SignedChallenge,
};

use crate::authenticator::{new_signing_key, open_session};
use crate::client::Api;
use crate::error::{CoreError, CoreResult};
use crate::keystore::{KeyStore, MemoryKeyStore};
use crate::profile::Account;

pub struct RawDevice {
    pub key: SigningKey,
    pub device_id: String,
    pub origin: String,
    pub token: String,
    http: reqwest::Client,
}

impl RawDevice {
    fn api(&self) -> Api<'_> {
        Api { http: &self.http, origin: &self.origin }
    }

    /// A fresh key and the signed enrollment request for `link`'s ticket, not sent: races send
    /// the same ticket to several servers.
    pub fn enroll_request(link: &str) -> CoreResult<(SigningKey, EnrollRequest)> {
        let uri = EnrollmentUri::parse(link)?;
        let key = new_signing_key();
        let payload = EnrollPayload {
            origin: uri.origin.clone(),
            ticket: uri.ticket.clone(),
            device_public_key: key.public_key(),
            device_name: "raw device".into(),
            platform: "test".into(),
        };
        let request = EnrollRequest {
            ticket: uri.ticket.clone(),
            device_public_key: key.public_key(),
            device_name: payload.device_name.clone(),
            platform: payload.platform.clone(),
            signature: Label::Enroll.sign(&key, &payload)?,
        };
        Ok((key, request))
    }

    /// Enrolls a fresh key from an enrollment link and opens a session.
    pub async fn enroll(http: reqwest::Client, link: &str, now: i64) -> CoreResult<RawDevice> {
        let origin = EnrollmentUri::parse(link)?.origin;
        let (key, request) = Self::enroll_request(link)?;
        let api = Api { http: &http, origin: &origin };
        let enrolled: EnrollResponse = api.post("/v1/device/enroll", None, &request).await?;
        let token = open_session(&api, &key, &enrolled.device_id, now).await?.token;
        Ok(RawDevice { key, device_id: enrolled.device_id, origin, token, http })
    }

    /// The signed request that opens a session over `nonce`, not sent: races send the same
    /// nonce to several servers.
    pub fn session_request(&self, nonce: &str, now: i64) -> CoreResult<SessionRequest> {
        let payload = DeviceAuthPayload {
            origin: self.origin.clone(),
            device_id: self.device_id.clone(),
            nonce: nonce.to_owned(),
            signed_at: now,
        };
        let signature = Label::DeviceAuth.sign(&self.key, &payload)?;
        Ok(SessionRequest { device_id: self.device_id.clone(), nonce: nonce.to_owned(), signed_at: now, signature })
    }

    /// Takes `account`'s key out of `keys` and opens a session with it.
    pub async fn from_account(keys: &MemoryKeyStore, account: &Account, now: i64) -> CoreResult<RawDevice> {
        let bytes = keys.get(&account.device_key_entry())?.ok_or(CoreError::KeyMissing)?;
        let key = SigningKey::from_bytes(&bytes)?;
        let http = crate::client::http_client()?;
        let token =
            open_session(&Api { http: &http, origin: &account.origin }, &key, &account.device_id, now).await?.token;
        Ok(RawDevice { key, device_id: account.device_id.clone(), origin: account.origin.clone(), token, http })
    }

    /// The same device and session, its requests sent to `origin` (one instance of several).
    pub fn at(&self, origin: &str) -> RawDevice {
        RawDevice {
            key: self.key.clone(),
            device_id: self.device_id.clone(),
            origin: origin.to_owned(),
            token: self.token.clone(),
            http: self.http.clone(),
        }
    }

    pub async fn pending(&self) -> CoreResult<Vec<SignedChallenge>> {
        self.api().get("/v1/device/challenges", Some(&self.token)).await
    }

    /// Signs `payload`, whatever it says.
    pub fn sign(&self, payload: &ApprovalPayload) -> DecisionSubmission {
        DecisionSubmission {
            decision: payload.decision,
            matched_number: payload.matched_number.clone(),
            signed_at: payload.signed_at,
            signature: Label::Approval.sign(&self.key, payload).expect("payload canonicalises"),
        }
    }

    /// Submits `sub` as the decision on `challenge_id`.
    pub async fn submit(&self, challenge_id: &str, sub: &DecisionSubmission) -> CoreResult<DecisionOutcome> {
        self.api().post(&format!("/v1/device/challenges/{challenge_id}/decision"), Some(&self.token), sub).await
    }

    /// Opens the push channel and returns the streaming response.
    pub async fn events(&self) -> CoreResult<reqwest::Response> {
        self.api().events(&self.token).await
    }
}
