//! The authenticator engine: enroll, authenticate to the server, receive and check
//! challenges, sign decisions, offline codes. The app and the CLI are thin layers over it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use inkan_protocol::clock::SharedClock;
use inkan_protocol::display::check_display_text;
use inkan_protocol::keys::{DevicePublicKey, SigningKey, unb64};
use inkan_protocol::{
    ApprovalPayload, Challenge, ChallengeState, Decision, DecisionOutcome, DecisionSubmission, DeviceAuthPayload,
    EnrollPayload, EnrollRequest, EnrollResponse, EnrollmentUri, ErrorCode, Label, NonceResponse, PushEvent,
    SessionRequest, SessionResponse, SignedChallenge, totp,
};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use crate::client::{Api, http_client};
use crate::error::{CoreError, CoreResult};
use crate::inbox::{PendingChallenge, summary, verify_challenge};
use crate::keystore::KeyStore;
use crate::profile::{Account, HistoryEntry, Profile, device_key_entry, totp_entry};
use crate::sse::SseParser;

/// Random bytes in a local account id.
pub const LOCAL_ID_BYTES: usize = 12;
/// A session is renewed this long before the server would expire it.
pub const SESSION_RENEW_MARGIN_SECS: i64 = 60;
/// Push channel reconnect delays: first, and the cap of the doubling.
pub const RECONNECT_FIRST: Duration = Duration::from_millis(250);
pub const RECONNECT_MAX: Duration = Duration::from_secs(30);
/// How long the live channel may stay silent (no event, no keep-alive) before the device
/// takes the path as dead and reconnects: three of the server's keep-alives
/// ([`inkan_protocol::PUSH_KEEPALIVE_SECS`]). A path that drops packets without closing the
/// connection is noticed within this time.
pub const DEFAULT_PUSH_SILENCE_LIMIT: Duration = Duration::from_secs(3 * inkan_protocol::PUSH_KEEPALIVE_SECS);

/// What the live channel reports.
#[derive(Debug)]
pub enum WatchEvent {
    Connected {
        account: String,
    },
    Challenge(PendingChallenge),
    Resolved {
        account: String,
        outcome: DecisionOutcome,
    },
    /// A pushed challenge failed the device's checks and was discarded.
    Discarded {
        account: String,
        challenge_id: String,
        error: CoreError,
    },
    Disconnected {
        account: String,
        error: CoreError,
        retry_in: Duration,
    },
    /// The channel stopped for good (device revoked or unknown, key missing).
    Stopped {
        account: String,
        error: CoreError,
    },
}

/// An offline code and how long it stays valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineCode {
    pub code: String,
    pub seconds_left: u32,
}

pub struct Authenticator {
    profile: Profile,
    keys: Arc<dyn KeyStore>,
    clock: SharedClock,
    http: reqwest::Client,
    sessions: Mutex<HashMap<String, (String, i64)>>,
    push_silence_limit: Duration,
    /// Device keys held in memory after their first use, by keychain entry; `None` (the
    /// default, and the app's choice) reads the keychain for every signature.
    key_cache: Option<Mutex<HashMap<String, Zeroizing<Vec<u8>>>>>,
}

fn random_id(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    inkan_protocol::keys::id_text(&b)
}

pub(crate) fn new_signing_key() -> SigningKey {
    loop {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *bytes).expect("the operating system's random source failed");
        if let Ok(key) = SigningKey::from_bytes(&*bytes) {
            return key;
        }
    }
}

/// Errors after which reconnecting cannot help.
fn is_final(e: &CoreError) -> bool {
    matches!(e.server_code(), Some(ErrorCode::DeviceRevoked | ErrorCode::DeviceUnknown))
        || matches!(e, CoreError::KeyMissing | CoreError::KeychainUnavailable(_) | CoreError::KeychainLocked(_))
}

impl Authenticator {
    pub fn new(profile: Profile, keys: Arc<dyn KeyStore>, clock: SharedClock) -> CoreResult<Self> {
        Ok(Authenticator {
            profile,
            keys,
            clock,
            http: http_client()?,
            sessions: Mutex::new(HashMap::new()),
            push_silence_limit: DEFAULT_PUSH_SILENCE_LIMIT,
            key_cache: None,
        })
    }

    /// Keeps each device key in this process's memory after it is first written or read, as
    /// an agent does, so that a process holding hundreds of devices (the CLI's fleet) does
    /// not go to the keychain, whose calls are serialized, for every session and signature.
    /// The keys stay in the keychain as well; the copies are zeroed when dropped.
    pub fn with_key_cache(mut self) -> Self {
        self.key_cache = Some(Mutex::new(HashMap::new()));
        self
    }

    fn cache_key(&self, entry: &str, bytes: &[u8]) {
        if let Some(cache) = &self.key_cache {
            cache.lock().expect("key cache").insert(entry.to_owned(), Zeroizing::new(bytes.to_vec()));
        }
    }

    fn forget_key(&self, entry: &str) {
        if let Some(cache) = &self.key_cache {
            cache.lock().expect("key cache").remove(entry);
        }
    }

    /// Changes how long the live channel may stay silent before it is taken as dead (for a
    /// server whose keep-alive interval differs from the default).
    pub fn with_push_silence_limit(mut self, limit: Duration) -> Self {
        self.push_silence_limit = limit;
        self
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    // ---- keychain, off the async threads --------------------------------------------

    async fn key_put(&self, entry: String, secret: Zeroizing<Vec<u8>>) -> CoreResult<()> {
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || keys.put(&entry, &secret))
            .await
            .map_err(|e| CoreError::Storage(e.to_string()))?
    }

    async fn key_get(&self, entry: String) -> CoreResult<Option<Zeroizing<Vec<u8>>>> {
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || keys.get(&entry)).await.map_err(|e| CoreError::Storage(e.to_string()))?
    }

    async fn key_delete(&self, entry: String) -> CoreResult<()> {
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || keys.delete(&entry)).await.map_err(|e| CoreError::Storage(e.to_string()))?
    }

    async fn device_key(&self, account: &Account) -> CoreResult<SigningKey> {
        let entry = account.device_key_entry();
        if let Some(cache) = &self.key_cache
            && let Some(bytes) = cache.lock().expect("key cache").get(&entry)
        {
            return Ok(SigningKey::from_bytes(bytes)?);
        }
        let bytes = self.key_get(entry.clone()).await?.ok_or(CoreError::KeyMissing)?;
        let key = SigningKey::from_bytes(&bytes)?;
        self.cache_key(&entry, &bytes);
        Ok(key)
    }

    // ---- accounts --------------------------------------------------------------------

    pub fn accounts(&self) -> CoreResult<Vec<Account>> {
        self.profile.accounts()
    }

    /// The account named by local id, account id or name; with `None`, the only account.
    pub fn account(&self, selector: Option<&str>) -> CoreResult<Account> {
        let all = self.accounts()?;
        let matches: Vec<&Account> = match selector {
            Some(s) => all.iter().filter(|a| a.id == s || a.account_id == s || a.name == s).collect(),
            None => all.iter().collect(),
        };
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(CoreError::AccountNotFound(selector.unwrap_or_default().to_owned())),
            _ => Err(CoreError::AccountAmbiguous),
        }
    }

    pub fn rename(&self, account: &Account, name: &str) -> CoreResult<()> {
        self.profile.rename_account(&account.id, name)
    }

    /// Forgets the account on this device: keychain entries and local record.
    pub async fn remove(&self, account: &Account) -> CoreResult<()> {
        self.forget_key(&account.device_key_entry());
        self.key_delete(account.device_key_entry()).await?;
        self.key_delete(account.totp_entry()).await?;
        self.sessions.lock().expect("sessions").remove(&account.id);
        self.profile.remove_account(&account.id)
    }

    pub fn history(&self) -> CoreResult<Vec<HistoryEntry>> {
        self.profile.history()
    }

    // ---- enrollment ------------------------------------------------------------------

    /// Reads the QR code in an image and enrolls with the link it holds.
    /// Decoding is CPU work (about 20 ms for the server's QR image), so it runs on the
    /// blocking pool: many enrollments at once use every core and never stall the live
    /// channels.
    pub async fn enroll_from_qr_image(&self, image: &[u8], device_name: &str) -> CoreResult<Account> {
        let image = image.to_vec();
        let link = tokio::task::spawn_blocking(move || crate::qr::decode_qr(&image))
            .await
            .map_err(|e| CoreError::Storage(e.to_string()))??;
        self.enroll(&link, device_name).await
    }

    /// Enrolls this device from an enrollment link. On any failure nothing is left behind:
    /// no keychain entry, no local account.
    pub async fn enroll(&self, link: &str, device_name: &str) -> CoreResult<Account> {
        let uri = EnrollmentUri::parse(link)?;
        let api = Api { http: &self.http, origin: &uri.origin };
        // Check the server's key against the link before spending the ticket.
        #[derive(serde::Deserialize)]
        struct ServerKey {
            public_key: DevicePublicKey,
        }
        let server: ServerKey = api.get("/v1/server-key", None).await?;
        if server.public_key.fingerprint() != uri.server_key_fingerprint {
            return Err(CoreError::ServerKeyMismatch);
        }
        let local_id = random_id(LOCAL_ID_BYTES);
        let key = new_signing_key();
        // Into the keychain first: with no keychain, fail before the ticket is used.
        self.key_put(device_key_entry(&local_id), Zeroizing::new(key.to_bytes().to_vec())).await?;
        match self.redeem(&api, &uri, &key, device_name, &local_id).await {
            Ok(account) => {
                self.cache_key(&account.device_key_entry(), &*Zeroizing::new(key.to_bytes()));
                Ok(account)
            }
            Err(e) => {
                let _ = self.key_delete(device_key_entry(&local_id)).await;
                let _ = self.key_delete(totp_entry(&local_id)).await;
                Err(e)
            }
        }
    }

    async fn redeem(
        &self,
        api: &Api<'_>,
        uri: &EnrollmentUri,
        key: &SigningKey,
        device_name: &str,
        local_id: &str,
    ) -> CoreResult<Account> {
        let platform = std::env::consts::OS.to_owned();
        let payload = EnrollPayload {
            origin: uri.origin.clone(),
            ticket: uri.ticket.clone(),
            device_public_key: key.public_key(),
            device_name: device_name.to_owned(),
            platform: platform.clone(),
        };
        let signature = Label::Enroll.sign(key, &payload)?;
        let request = EnrollRequest {
            ticket: uri.ticket.clone(),
            device_public_key: key.public_key(),
            device_name: device_name.to_owned(),
            platform,
            signature,
        };
        let resp: EnrollResponse = api.post("/v1/device/enroll", None, &request).await?;
        if resp.server_public_key.fingerprint() != uri.server_key_fingerprint {
            return Err(CoreError::ServerKeyMismatch);
        }
        let secret = Zeroizing::new(unb64(&resp.totp.secret)?);
        self.key_put(totp_entry(local_id), secret).await?;
        // The pages' origin, if the verifier names one; one that is not an origin is dropped
        // (same-device requests then come from the verifier's origin only).
        let web_origin = resp.web_origin.and_then(|w| match inkan_protocol::uri::normalize_origin(&w) {
            Ok(o) if o != uri.origin => Some(o),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(web_origin = %w, error = %e, "the verifier named a web origin that is not one; ignored");
                None
            }
        });
        // The brokerage's name, shown wherever the app names who is asking: display text by the
        // one rule, or dropped (the app then names the server by its host).
        let rp_name = resp.rp_name.filter(|n| {
            let ok = [&n.ja, &n.en].iter().all(|t| check_display_text(t, inkan_protocol::MAX_RP_NAME_CHARS).is_ok());
            if !ok {
                tracing::warn!("the verifier's relying-party name is not display text; ignored");
            }
            ok
        });
        let account = Account {
            id: local_id.to_owned(),
            name: resp.account_label,
            origin: uri.origin.clone(),
            web_origin,
            rp_name,
            account_id: resp.account_id,
            device_id: resp.device_id,
            device_name: device_name.to_owned(),
            server_public_key: resp.server_public_key,
            totp_digits: resp.totp.digits,
            totp_period: resp.totp.period,
            enrolled_at: self.now(),
        };
        self.profile.add_account(account.clone())?;
        tracing::info!(account = %account.id, origin = %account.origin, "enrolled");
        Ok(account)
    }

    // ---- device session --------------------------------------------------------------

    async fn session(&self, account: &Account) -> CoreResult<String> {
        let now = self.now();
        if let Some((token, exp)) = self.sessions.lock().expect("sessions").get(&account.id)
            && now + SESSION_RENEW_MARGIN_SECS < *exp
        {
            return Ok(token.clone());
        }
        let api = Api { http: &self.http, origin: &account.origin };
        let key = self.device_key(account).await?;
        let resp = open_session(&api, &key, &account.device_id, self.now()).await?;
        self.sessions.lock().expect("sessions").insert(account.id.clone(), (resp.token.clone(), resp.expires_at));
        Ok(resp.token)
    }

    /// Runs `call` with a session token, renewing the session once if the server says so.
    async fn with_session<T, F, Fut>(&self, account: &Account, call: F) -> CoreResult<T>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = CoreResult<T>>,
    {
        let token = self.session(account).await?;
        match call(token).await {
            Err(e) if matches!(e.server_code(), Some(ErrorCode::Unauthorized | ErrorCode::SessionExpired)) => {
                self.sessions.lock().expect("sessions").remove(&account.id);
                call(self.session(account).await?).await
            }
            other => other,
        }
    }

    // ---- challenges ------------------------------------------------------------------

    /// The account's pending challenges, each checked against the pinned server key.
    /// Challenges that fail the check are left out (and logged).
    pub async fn pending(&self, account: &Account) -> CoreResult<Vec<PendingChallenge>> {
        let api = Api { http: &self.http, origin: &account.origin };
        let list: Vec<SignedChallenge> =
            self.with_session(account, |t| async move { api.get("/v1/device/challenges", Some(&t)).await }).await?;
        let now = self.now();
        Ok(list
            .iter()
            .filter_map(|s| match verify_challenge(account, s, now) {
                Ok(challenge) => Some(PendingChallenge { account: account.id.clone(), challenge }),
                Err(e) => {
                    tracing::warn!(challenge_id = %s.challenge.id, code = e.code(), "discarded a challenge");
                    None
                }
            })
            .collect())
    }

    /// Signs and submits a decision on exactly the challenge the person saw.
    pub async fn decide(
        &self,
        account: &Account,
        challenge: &Challenge,
        decision: Decision,
        number: Option<&str>,
    ) -> CoreResult<DecisionOutcome> {
        let matched_number = match (decision, challenge.number_match) {
            (Decision::Approve, Some(nm)) => {
                let typed = number.map(str::trim).filter(|n| !n.is_empty()).ok_or(CoreError::NumberRequired)?;
                if typed.len() != usize::from(nm.digits) || !typed.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(CoreError::NumberMalformed(nm.digits));
                }
                Some(typed.to_owned())
            }
            _ => None,
        };
        let now = self.now();
        if now > challenge.expires_at {
            return Err(CoreError::ChallengeExpired);
        }
        let key = self.device_key(account).await?;
        let submission = sign_decision(&key, challenge, &account.device_id, decision, matched_number, now)?;
        drop(key);
        let api = Api { http: &self.http, origin: &account.origin };
        let path = format!("/v1/device/challenges/{}/decision", challenge.id);
        let answer: CoreResult<DecisionOutcome> = self
            .with_session(account, |t| {
                let (api, path, submission) = (&api, &path, &submission);
                async move { api.post(path, Some(&t), submission).await }
            })
            .await;
        let entry = |state, refused: Option<ErrorCode>| HistoryEntry {
            at: now,
            account: account.id.clone(),
            challenge_id: challenge.id.clone(),
            kind: challenge.details.kind().to_owned(),
            summary: summary(&challenge.details),
            details: Some(challenge.details.clone()),
            decision,
            state,
            refused: refused.map(|c| c.as_str().to_owned()),
        };
        match answer {
            Ok(outcome) => {
                self.profile.record(entry(outcome.state, None))?;
                Ok(outcome)
            }
            // A wrong number ended the request at the server: that, too, is something this
            // device did, and the history says so (with why).
            Err(e) if e.server_code() == Some(ErrorCode::NumberMismatch) => {
                self.profile.record(entry(ChallengeState::Failed, Some(ErrorCode::NumberMismatch)))?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Finds a pending challenge by id (fetched and checked afresh) and decides it.
    pub async fn decide_by_id(
        &self,
        account: &Account,
        challenge_id: &str,
        decision: Decision,
        number: Option<&str>,
    ) -> CoreResult<DecisionOutcome> {
        let pending = self.pending(account).await?;
        let item = pending
            .into_iter()
            .find(|p| p.challenge.id == challenge_id)
            .ok_or_else(|| CoreError::ChallengeNotFound(challenge_id.to_owned()))?;
        self.decide(account, &item.challenge, decision, number).await
    }

    // ---- offline code ----------------------------------------------------------------

    pub async fn offline_code(&self, account: &Account) -> CoreResult<OfflineCode> {
        let secret = self.key_get(account.totp_entry()).await?.ok_or(CoreError::KeyMissing)?;
        let now = self.now();
        Ok(OfflineCode {
            code: totp::code_at(&secret, now, account.totp_period, account.totp_digits),
            seconds_left: totp::seconds_left(now, account.totp_period),
        })
    }

    // ---- live channel ----------------------------------------------------------------

    /// Keeps the account's push channel open, reconnecting with backoff, and reports on `tx`
    /// until a final error (reported as [`WatchEvent::Stopped`]) or until `tx` is closed.
    pub async fn watch(&self, account: &Account, tx: mpsc::Sender<WatchEvent>) {
        let mut delay = RECONNECT_FIRST;
        loop {
            let result = self.stream_once(account, &tx, &mut delay).await;
            if tx.is_closed() {
                return;
            }
            let error = match result {
                Ok(()) => CoreError::ServerUnreachable("the push channel closed".into()),
                Err(e) => e,
            };
            if is_final(&error) {
                let _ = tx.send(WatchEvent::Stopped { account: account.id.clone(), error }).await;
                return;
            }
            let retry_in = jitter(delay);
            let _ = tx.send(WatchEvent::Disconnected { account: account.id.clone(), error, retry_in }).await;
            tokio::time::sleep(retry_in).await;
            delay = (delay * 2).min(RECONNECT_MAX);
        }
    }

    async fn stream_once(
        &self,
        account: &Account,
        tx: &mpsc::Sender<WatchEvent>,
        delay: &mut Duration,
    ) -> CoreResult<()> {
        let token = self.session(account).await?;
        let resp = match (Api { http: &self.http, origin: &account.origin }).events(&token).await {
            Ok(resp) => resp,
            Err(e) => {
                self.sessions.lock().expect("sessions").remove(&account.id);
                return Err(e);
            }
        };
        *delay = RECONNECT_FIRST;
        if tx.send(WatchEvent::Connected { account: account.id.clone() }).await.is_err() {
            return Ok(());
        }
        let mut parser = SseParser::new();
        let mut body = resp.bytes_stream();
        let limit = self.push_silence_limit;
        let silent = || CoreError::ServerUnreachable(format!("the push channel was silent for {} s", limit.as_secs()));
        while let Some(chunk) = tokio::time::timeout(limit, body.next()).await.map_err(|_| silent())? {
            let chunk = chunk.map_err(|e| CoreError::ServerUnreachable(e.without_url().to_string()))?;
            let events = parser.push(&chunk).map_err(|e| CoreError::BadResponse(e.to_string()))?;
            for event in events {
                let Ok(push) = serde_json::from_str::<PushEvent>(&event.data) else {
                    tracing::warn!(event = %event.event, "unreadable push event");
                    continue;
                };
                let report = match push {
                    PushEvent::Challenge(signed) => match verify_challenge(account, &signed, self.now()) {
                        Ok(challenge) => {
                            WatchEvent::Challenge(PendingChallenge { account: account.id.clone(), challenge })
                        }
                        Err(error) => WatchEvent::Discarded {
                            account: account.id.clone(),
                            challenge_id: signed.challenge.id.clone(),
                            error,
                        },
                    },
                    PushEvent::Resolved(outcome) => WatchEvent::Resolved { account: account.id.clone(), outcome },
                };
                if tx.send(report).await.is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Authenticates the device over a fresh server nonce and returns the session.
pub(crate) async fn open_session(
    api: &Api<'_>,
    key: &SigningKey,
    device_id: &str,
    now: i64,
) -> CoreResult<SessionResponse> {
    let nonce: NonceResponse = api.post("/v1/device/nonce", None, &serde_json::json!({})).await?;
    let payload = DeviceAuthPayload {
        origin: api.origin.to_owned(),
        device_id: device_id.to_owned(),
        nonce: nonce.nonce.clone(),
        signed_at: now,
    };
    let signature = Label::DeviceAuth.sign(key, &payload)?;
    api.post(
        "/v1/device/session",
        None,
        &SessionRequest { device_id: device_id.to_owned(), nonce: nonce.nonce, signed_at: now, signature },
    )
    .await
}

/// The signed decision on exactly `challenge` as shown (pure: the vectors test it).
pub fn sign_decision(
    key: &SigningKey,
    challenge: &Challenge,
    device_id: &str,
    decision: Decision,
    matched_number: Option<String>,
    signed_at: i64,
) -> CoreResult<DecisionSubmission> {
    let payload = ApprovalPayload::new(challenge, device_id, decision, matched_number.clone(), signed_at);
    let signature = Label::Approval.sign(key, &payload)?;
    Ok(DecisionSubmission { decision, matched_number, signed_at, signature })
}

/// ±20 % so that many devices do not reconnect in step.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 1];
    let _ = getrandom::fill(&mut b);
    let factor = 0.8 + 0.4 * (f64::from(b[0]) / 255.0);
    d.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkan_protocol::vectors;

    #[test]
    fn signs_the_vector_bytes() {
        let file = vectors::load();
        let challenges = vectors::challenges();
        for (name, challenge, decision, number) in [
            ("approve_withdrawal", &challenges[0], Decision::Approve, Some("42")),
            ("deny_withdrawal", &challenges[0], Decision::Deny, None),
            ("deny_fraud_login", &challenges[1], Decision::DenyFraud, None),
            ("approve_login", &challenges[1], Decision::Approve, None),
        ] {
            let case = file.cases.iter().find(|c| c.name == name).unwrap();
            let sub = sign_decision(
                &vectors::device_key(),
                challenge,
                vectors::DEVICE_ID,
                decision,
                number.map(str::to_owned),
                1_795_510_830,
            )
            .unwrap();
            assert_eq!(sub.signature, case.signature, "{name}");
        }
    }
}
