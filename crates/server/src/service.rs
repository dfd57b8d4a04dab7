//! What the server decides: enrollment, device authentication, challenges and decisions.
//!
//! HTTP handlers are thin wrappers around these methods (so the load benchmark and tests can
//! reason about one place). Each method takes `now` from the clock once and passes it down.

use std::sync::Arc;

use base64::Engine;
use inkan_protocol::keys::{DevicePublicKey, b64};
use inkan_protocol::{
    ApprovalPayload, Challenge, ChallengeCreated, ChallengeDetails, ChallengeState, ChallengeStatus,
    CreateChallengeRequest, DecisionOutcome, DecisionSubmission, DeviceAuthPayload, DeviceInfo, EnrollPayload,
    EnrollRequest, EnrollResponse, EnrollmentUri, Label, NonceResponse, NumberMatch, PushEvent, SessionRequest,
    SessionResponse, SignedChallenge, TicketCreated, TotpParams, totp,
};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::hub::{Hub, HubEvent};
use crate::mask::mask_tail;
use crate::settings::Settings;
use crate::store::{
    AuditEntry, AuditEvent, ChallengeRow, NewChallenge, NewDevice, PushGate, PushStateChange, RecordedDecision, Store,
};
use crate::{qr, random_bytes, random_id, random_number, random_token, sha256};
use inkan_protocol::clock::SharedClock;

/// Longest device name and platform string accepted at enrollment, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;
/// Longest account id, in characters.
pub const MAX_ACCOUNT_ID_CHARS: usize = 64;
/// Random bytes in ids, nonces and session tokens.
pub const ID_BYTES: usize = 16;
pub const TOKEN_BYTES: usize = 32;
/// Offline-code steps accepted either side of now.
pub const TOTP_SKEW_STEPS: u64 = 1;

pub struct Service {
    pub settings: Settings,
    pub store: Store,
    pub hub: Hub,
    pub clock: SharedClock,
    /// Woken after a transaction that wrote relying-party events (the webhook sender waits
    /// on it; it also polls, so a missed wake-up only delays).
    pub events_written: tokio::sync::Notify,
    server_public_key: DevicePublicKey,
    /// The signing key, prepared once for `ring` (each challenge is signed with it).
    challenge_signer: inkan_protocol::keys::FastSigner,
    /// Flips to `true` when the server stops: push channels and long polls end at once.
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Open connections per client address (the accept loop's cap).
    pub connections: Arc<crate::serve::ConnectionCounts>,
    /// Live channels per device session (token hash): [`crate::Limits::max_channels_per_session`].
    pub channels: Arc<crate::serve::SlotCounts<Vec<u8>>>,
    /// Requests per client to the paths anyone can call (API and site).
    pub unauthenticated: crate::ratelimit::RateLimiter,
    /// Wrong API keys per client.
    pub wrong_api_keys: crate::ratelimit::RateLimiter,
    /// Counters and gauges for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// An authenticated device (from its session token).
#[derive(Debug, Clone)]
pub struct AuthedDevice {
    pub device_id: String,
    pub account_id: String,
    pub public_key: DevicePublicKey,
}

/// `Err(message)` unless `value` passes the one display-text rule
/// ([`inkan_protocol::display::check_display_text`]); the caller picks the error.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), String> {
    inkan_protocol::display::check_display_text(value, max).map_err(|p| p.describe(field, max))
}

fn check_account_id(account_id: &str) -> ApiResult<()> {
    if account_id.is_empty()
        || account_id.len() > MAX_ACCOUNT_ID_CHARS
        || !account_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::BadRequest(format!(
            "account_id must be 1 to {MAX_ACCOUNT_ID_CHARS} characters of A-Z a-z 0-9 - _"
        )));
    }
    Ok(())
}

impl Service {
    pub fn new(settings: Settings, store: Store, clock: SharedClock) -> Self {
        let server_public_key = settings.signing_key.public_key();
        let challenge_signer = inkan_protocol::keys::FastSigner::new(&settings.signing_key)
            .expect("a SigningKey is a valid P-256 scalar, and its public key is its own");
        let hub = Hub::new(settings.limits.push_channel_capacity);
        let unauthenticated =
            crate::ratelimit::RateLimiter::new(settings.limits.unauthenticated_per_minute_per_client, 60);
        let wrong_api_keys =
            crate::ratelimit::RateLimiter::new(settings.limits.wrong_api_keys_per_minute_per_client, 60);
        Service {
            settings,
            store,
            hub,
            clock,
            events_written: tokio::sync::Notify::new(),
            server_public_key,
            challenge_signer,
            shutdown: tokio::sync::watch::channel(false).0,
            connections: Arc::default(),
            channels: Arc::default(),
            unauthenticated,
            wrong_api_keys,
            metrics: Arc::default(),
        }
    }

    /// Ends every push channel and long poll.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves when the server begins to stop.
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + use<> {
        let mut rx = self.shutdown.subscribe();
        async move {
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn server_public_key(&self) -> &DevicePublicKey {
        &self.server_public_key
    }

    fn limits(&self) -> &crate::settings::Limits {
        &self.settings.limits
    }

    /// Checks a time a device sent: `bad_request` outside 0 ..= 2^53-1 (the integers canonical
    /// JSON can sign), `clock_skew` beyond the allowed distance from `now`. Any `i64` is
    /// handled: the distance is taken without overflow.
    fn check_sent_time(&self, sent: i64, now: i64) -> ApiResult<()> {
        if !(0..=inkan_protocol::jcs::MAX_SAFE_INTEGER as i64).contains(&sent) {
            return Err(ApiError::BadRequest("signed_at must be Unix seconds between 0 and 2^53-1".into()));
        }
        if sent.abs_diff(now) > self.limits().max_clock_skew_secs.unsigned_abs() {
            return Err(ApiError::ClockSkew);
        }
        Ok(())
    }

    // ---- enrollment ------------------------------------------------------------------

    pub async fn create_ticket(&self, account_id: &str, label: Option<&str>) -> ApiResult<TicketCreated> {
        check_account_id(account_id)?;
        let label = match label {
            // Shown on the device before the person confirms: the display-text rule applies.
            Some(l) => {
                check_text("label", l, inkan_protocol::uri::MAX_LABEL_CHARS).map_err(ApiError::BadRequest)?;
                l.to_owned()
            }
            // One label for an account however its ticket was made (the site's page, the
            // `ticket` command): the relying party's name and the masked account.
            None => match &self.settings.rp_name {
                Some(name) => format!("{} {}", name.ja, mask_tail(account_id)),
                None => format!("Inkan {}", mask_tail(account_id)),
            },
        };
        let now = self.now();
        let secret = random_token(inkan_protocol::uri::TICKET_BYTES);
        let uri =
            EnrollmentUri::new(&self.settings.public_origin, &secret, &self.server_public_key.fingerprint(), &label)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let id = random_id(ID_BYTES);
        let expires_at = now + self.limits().ticket_ttl_secs;
        // The ticket and its audit row commit together.
        self.store.insert_ticket(&id, &sha256(secret.as_bytes()), account_id, &label, now, expires_at).await?;
        let text = uri.to_uri_string();
        let (qr_svg, qr_png) = qr::svg_and_png(&text).map_err(ApiError::Internal)?;
        Ok(TicketCreated {
            ticket_id: id,
            qr_svg,
            qr_png_base64: base64::engine::general_purpose::STANDARD.encode(qr_png),
            uri: text,
            expires_at,
        })
    }

    pub async fn enroll(&self, req: EnrollRequest) -> ApiResult<EnrollResponse> {
        let now = self.now();
        check_text("device_name", &req.device_name, MAX_DEVICE_NAME_CHARS).map_err(ApiError::BadRequest)?;
        check_text("platform", &req.platform, MAX_DEVICE_NAME_CHARS).map_err(ApiError::BadRequest)?;
        let ticket = self.store.ticket_by_hash(&sha256(req.ticket.as_bytes())).await?.ok_or(ApiError::TicketUnknown)?;
        if ticket.used_at.is_some() {
            self.store
                .audit(
                    now,
                    AuditEvent::TicketReuseRefused,
                    Some(&ticket.account_id),
                    None,
                    None,
                    json!({"ticket_id": ticket.id}),
                )
                .await?;
            return Err(ApiError::TicketAlreadyUsed);
        }
        if now > ticket.expires_at {
            return Err(ApiError::TicketExpired);
        }
        let payload = EnrollPayload {
            origin: self.settings.public_origin.clone(),
            ticket: req.ticket.clone(),
            device_public_key: req.device_public_key.clone(),
            device_name: req.device_name.clone(),
            platform: req.platform.clone(),
        };
        if Label::Enroll.verify(&req.device_public_key, &payload, &req.signature).is_err() {
            self.store
                .audit(
                    now,
                    AuditEvent::EnrollBadSignature,
                    Some(&ticket.account_id),
                    None,
                    None,
                    json!({"ticket_id": ticket.id}),
                )
                .await?;
            return Err(ApiError::BadSignature);
        }
        let device_id = random_id(ID_BYTES);
        let totp_secret = zeroize::Zeroizing::new(random_bytes::<{ totp::SECRET_BYTES }>().to_vec());
        let (totp_key_id, sealed_totp) = self.settings.secret_keys.seal(&device_id, &totp_secret);
        let device = NewDevice {
            id: &device_id,
            account_id: &ticket.account_id,
            name: &req.device_name,
            platform: &req.platform,
            public_key: &req.device_public_key.to_sec1(),
            totp_secret: &sealed_totp,
            totp_key_id: &totp_key_id,
            enrolled_at: now,
        };
        if !self.store.redeem_ticket(&ticket.id, device).await? {
            return Err(ApiError::TicketAlreadyUsed);
        }
        self.events_written.notify_one();
        tracing::info!(account = %mask_tail(&ticket.account_id), device_id, "device enrolled");
        Ok(EnrollResponse {
            device_id,
            account_id: ticket.account_id,
            account_label: ticket.label,
            server_public_key: self.server_public_key.clone(),
            totp: TotpParams {
                secret: b64(&totp_secret),
                digits: totp::DEFAULT_DIGITS,
                period: totp::DEFAULT_PERIOD,
                algorithm: "SHA1".into(),
            },
            web_origin: self.settings.rp_web_origin.clone(),
            rp_name: self.settings.rp_name.clone(),
        })
    }

    // ---- device authentication -------------------------------------------------------

    pub async fn issue_nonce(&self) -> ApiResult<NonceResponse> {
        let now = self.now();
        let nonce = random_token(ID_BYTES);
        let expires_at = now + self.limits().nonce_ttl_secs;
        self.store.insert_nonce(&nonce, expires_at).await?;
        Ok(NonceResponse { nonce, expires_at })
    }

    pub async fn open_session(&self, req: SessionRequest) -> ApiResult<SessionResponse> {
        let now = self.now();
        let expires = self.store.take_nonce(&req.nonce).await?.ok_or(ApiError::NonceUnknown)?;
        if now > expires {
            return Err(ApiError::NonceUnknown);
        }
        self.check_sent_time(req.signed_at, now)?;
        let device = self.active_device(&req.device_id).await?;
        let payload = DeviceAuthPayload {
            origin: self.settings.public_origin.clone(),
            device_id: req.device_id.clone(),
            nonce: req.nonce,
            signed_at: req.signed_at,
        };
        Label::DeviceAuth.verify(&device.public_key, &payload, &req.signature).map_err(|_| ApiError::BadSignature)?;
        let token = random_token(TOKEN_BYTES);
        let expires_at = now + self.limits().session_ttl_secs;
        self.store.insert_session(&sha256(token.as_bytes()), &device.device_id, expires_at).await?;
        Ok(SessionResponse { token, expires_at })
    }

    async fn active_device(&self, device_id: &str) -> ApiResult<AuthedDevice> {
        let row = self.store.device(device_id).await?.ok_or(ApiError::DeviceUnknown)?;
        Self::usable_device(row)
    }

    /// The device, unless revoked.
    fn usable_device(row: crate::store::DeviceRow) -> ApiResult<AuthedDevice> {
        if row.revoked_at.is_some() {
            return Err(ApiError::DeviceRevoked);
        }
        let public_key = DevicePublicKey::from_sec1(&row.public_key).map_err(|e| ApiError::Internal(e.into()))?;
        Ok(AuthedDevice { device_id: row.id, account_id: row.account_id, public_key })
    }

    /// Resolves a bearer token to its device.
    pub async fn authenticate(&self, token: &str) -> ApiResult<AuthedDevice> {
        Ok(self.authenticate_session(token).await?.0)
    }

    /// Resolves a bearer token to its device, the session's expiry (the live channel ends
    /// there) and the token's hash (the key its live channels are counted under).
    pub async fn authenticate_session(&self, token: &str) -> ApiResult<(AuthedDevice, i64, Vec<u8>)> {
        let hash = sha256(token.as_bytes());
        let found = self.store.session_device(&hash).await?.ok_or(ApiError::Unauthorized)?;
        let expires_at = found.session_expires_at;
        if self.now() > expires_at {
            return Err(ApiError::SessionExpired);
        }
        Ok((Self::usable_device(found.device)?, expires_at, hash))
    }

    // ---- challenges ------------------------------------------------------------------

    fn check_details(&self, details: &ChallengeDetails) -> ApiResult<()> {
        if let ChallengeDetails::Withdrawal(w) = details {
            if w.amount == 0 || w.amount > inkan_protocol::jcs::MAX_SAFE_INTEGER {
                return Err(ApiError::InvalidDetails("amount must be between 1 and 2^53-1".into()));
            }
            if w.currency.len() != 3 || !w.currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ApiError::InvalidDetails("currency must be an ISO 4217 code such as JPY".into()));
            }
        }
        details.check_display(self.limits().max_text_field_chars).map_err(ApiError::InvalidDetails)
    }

    /// Push-bombing limits, checked before a challenge is created.
    fn check_push_limits(&self, gate: &PushGate, now: i64) -> ApiResult<()> {
        if gate.active_devices == 0 {
            return Err(ApiError::NoDevices);
        }
        if gate.push_blocked_at.is_some() {
            return Err(ApiError::PushBlocked);
        }
        if let Some(until) = gate.cooldown_until
            && now < until
        {
            return Err(ApiError::CooldownActive { until });
        }
        if gate.open_challenges >= i64::from(self.limits().max_open_challenges) {
            return Err(ApiError::TooManyOpenChallenges);
        }
        if gate.pushes_since_success >= i64::from(self.limits().max_pushes_since_success) {
            return Err(ApiError::TooManyPushes);
        }
        Ok(())
    }

    pub async fn create_challenge(&self, req: CreateChallengeRequest) -> ApiResult<ChallengeCreated> {
        check_account_id(&req.account_id)?;
        self.check_details(&req.details)?;
        let now = self.now();
        let digits = self.limits().number_match_digits;
        let number = req.number_match.then(|| random_number(digits));
        let challenge = Challenge {
            id: random_id(ID_BYTES),
            origin: self.settings.public_origin.clone(),
            account_id: req.account_id.clone(),
            nonce: random_token(ID_BYTES),
            details: req.details,
            number_match: req.number_match.then_some(NumberMatch { digits }),
            created_at: now,
            expires_at: now + self.limits().challenge_ttl_secs,
        };
        let signature =
            Label::Challenge.sign_fast(&self.challenge_signer, &challenge).map_err(|e| ApiError::Internal(e.into()))?;
        let json_text = serde_json::to_string(&challenge).map_err(|e| ApiError::Internal(e.into()))?;
        self.store
            .insert_challenge_gated(
                NewChallenge {
                    id: &challenge.id,
                    account_id: &challenge.account_id,
                    challenge_json: &json_text,
                    server_signature: &signature.to_b64(),
                    number_to_match: number.as_deref(),
                    created_at: now,
                    expires_at: challenge.expires_at,
                },
                json!({"kind": challenge.details.kind(), "number_match": req.number_match}),
                |gate| self.check_push_limits(gate, now),
                |refused| (!matches!(refused, ApiError::NoDevices)).then(|| refused.code().as_str()),
            )
            .await??;
        self.metrics.challenge_created();
        let created = ChallengeCreated {
            challenge_id: challenge.id.clone(),
            expires_at: challenge.expires_at,
            number_to_show: number,
        };
        let account_id = challenge.account_id.clone();
        self.hub.publish(
            &account_id,
            HubEvent::Push(PushEvent::Challenge(Box::new(SignedChallenge { challenge, server_signature: signature }))),
        );
        Ok(created)
    }

    pub(crate) fn signed(row: &ChallengeRow) -> ApiResult<SignedChallenge> {
        let challenge: Challenge =
            serde_json::from_str(&row.challenge_json).map_err(|e| ApiError::Internal(e.into()))?;
        let server_signature =
            inkan_protocol::Signature::from_b64(&row.server_signature).map_err(|e| ApiError::Internal(e.into()))?;
        Ok(SignedChallenge { challenge, server_signature })
    }

    /// A login completed at the relying party without a push (passkey, e-mailed code): the
    /// push cap counts from here. The change and its audit row commit together.
    pub async fn login_succeeded(&self, account_id: &str) -> ApiResult<inkan_protocol::LoginRecorded> {
        check_account_id(account_id)?;
        let now = self.now();
        let audit = AuditEntry {
            at: now,
            event: AuditEvent::LoginReported,
            account_id: Some(account_id),
            device_id: None,
            challenge_id: None,
            detail: json!({}),
        };
        self.store.set_push_state_audited(account_id, PushStateChange::LastSuccess(now), audit).await?;
        Ok(inkan_protocol::LoginRecorded { account_id: account_id.to_owned(), at: now })
    }

    /// Whether an enrollment ticket was used, is still open, or expired.
    pub async fn ticket_status(&self, ticket_id: &str) -> ApiResult<inkan_protocol::TicketStatus> {
        let row = self.store.ticket_status(ticket_id).await?.ok_or(ApiError::TicketUnknown)?;
        let state = match row.used_at {
            Some(_) => inkan_protocol::TicketState::Used,
            None if self.now() > row.expires_at => inkan_protocol::TicketState::Expired,
            None => inkan_protocol::TicketState::Open,
        };
        Ok(inkan_protocol::TicketStatus {
            ticket_id: row.id,
            account_id: row.account_id,
            state,
            expires_at: row.expires_at,
            device_id: row.device_id,
        })
    }

    /// Relying-party events after the cursor, of one account or all: at most
    /// [`crate::Limits::rp_events_page_max`] (and at most `limit`).
    pub async fn events_after(
        &self,
        after: i64,
        account_id: Option<&str>,
        limit: Option<u32>,
    ) -> ApiResult<inkan_protocol::RpEventPage> {
        if !(0..=inkan_protocol::jcs::MAX_SAFE_INTEGER as i64).contains(&after) {
            return Err(ApiError::BadRequest("after must be 0 or a seq from an earlier page (at most 2^53-1)".into()));
        }
        if let Some(account) = account_id {
            check_account_id(account)?;
        }
        let max = self.limits().rp_events_page_max;
        let limit = match limit {
            None => max,
            Some(n) if (1..=max).contains(&n) => n,
            Some(_) => return Err(ApiError::BadRequest(format!("limit must be between 1 and {max}"))),
        };
        let events = self.store.events_after(after, account_id, i64::from(limit)).await?;
        let next_cursor = events.last().map_or(after, |e| e.seq);
        Ok(inkan_protocol::RpEventPage { events, next_cursor })
    }

    /// The device's account's pending challenges, signed.
    pub async fn pending_for(&self, device: &AuthedDevice) -> ApiResult<Vec<SignedChallenge>> {
        let rows = self.store.pending_challenges(&device.account_id, self.now()).await?;
        rows.iter().map(Self::signed).collect()
    }

    fn status_of(row: &ChallengeRow, now: i64) -> ChallengeStatus {
        let mut state = row.state();
        if state == ChallengeState::Pending && now > row.expires_at {
            state = ChallengeState::Expired;
        }
        ChallengeStatus {
            challenge_id: row.id.clone(),
            account_id: row.account_id.clone(),
            state,
            created_at: row.created_at,
            expires_at: row.expires_at,
            decided_at: row.decided_at,
            device_id: row.device_id.clone(),
        }
    }

    pub async fn challenge_status(&self, id: &str) -> ApiResult<ChallengeStatus> {
        let row = self.store.challenge(id).await?.ok_or(ApiError::ChallengeUnknown)?;
        Ok(Self::status_of(&row, self.now()))
    }

    /// The relying party withdraws a pending challenge: it becomes `cancelled` (audited with the
    /// change), devices drop it, waiting long polls return. A challenge already settled keeps
    /// its outcome: the answer is its status either way.
    pub async fn cancel_challenge(&self, id: &str) -> ApiResult<ChallengeStatus> {
        let row = self.store.challenge(id).await?.ok_or(ApiError::ChallengeUnknown)?;
        if row.state() == ChallengeState::Pending {
            self.finish(&row, ChallengeState::Cancelled, self.now(), None).await?;
        }
        self.challenge_status(id).await
    }

    /// Waits until the challenge leaves `pending` or `timeout` passes; returns its status.
    pub async fn wait_for_decision(&self, id: &str, timeout: std::time::Duration) -> ApiResult<ChallengeStatus> {
        // Subscribe before the read that decides whether to wait, so a decision in between is
        // not missed. A challenge pushed from here has its account in memory; any other is
        // read once for its account first.
        let mut rx = match self.hub.account_of(id) {
            Some(account) => self.hub.subscribe(&account),
            None => {
                let row = self.store.challenge(id).await?.ok_or(ApiError::ChallengeUnknown)?;
                if row.state().is_final() {
                    return Ok(Self::status_of(&row, self.now()));
                }
                self.hub.subscribe(&row.account_id)
            }
        };
        let row = self.store.challenge(id).await?.ok_or(ApiError::ChallengeUnknown)?;
        let status = Self::status_of(&row, self.now());
        if status.state.is_final() {
            return Ok(status);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let stopping = self.stopping();
        tokio::pin!(stopping);
        // Several instances: the decision may be posted to another one, and its note lost on
        // the way ([`crate::relay`]); the database is re-read on the relay's timer.
        let several = self.store.db().is_postgres();
        let mut recheck =
            tokio::time::interval(std::time::Duration::from_millis(self.settings.limits.relay_resync_ms.max(50)));
        recheck.tick().await;
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout_at(deadline, rx.recv()) => next,
                _ = recheck.tick(), if several => {
                    if self.challenge_status(id).await?.state.is_final() {
                        break;
                    }
                    continue;
                }
                _ = &mut stopping => break,
            };
            match next {
                Err(_) => break,
                Ok(Ok(HubEvent::Push(PushEvent::Resolved(outcome)))) if outcome.challenge_id == id => {
                    // Settled here: the row now says what the hub recorded, no need to read it.
                    if let Some(settled) = self.hub.settled(id)
                        && settled.state == outcome.state
                    {
                        return Ok(ChallengeStatus {
                            state: settled.state,
                            decided_at: Some(settled.decided_at),
                            device_id: settled.device_id,
                            ..status
                        });
                    }
                    break;
                }
                Ok(Ok(_)) => continue,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => break,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
            }
        }
        self.challenge_status(id).await
    }

    /// Checks and records a device's signed decision.
    pub async fn decide(
        &self,
        device: &AuthedDevice,
        challenge_id: &str,
        sub: DecisionSubmission,
    ) -> ApiResult<DecisionOutcome> {
        let now = self.now();
        let row = self.store.challenge(challenge_id).await?.ok_or(ApiError::ChallengeUnknown)?;
        if row.account_id != device.account_id {
            return Err(ApiError::ChallengeUnknown);
        }
        let state = row.state();
        if state != ChallengeState::Pending {
            self.store
                .audit(
                    now,
                    AuditEvent::DecisionRefused,
                    Some(&row.account_id),
                    Some(&device.device_id),
                    Some(&row.id),
                    json!({"reason": "not_pending", "state": state.as_str()}),
                )
                .await?;
            return Err(ApiError::ChallengeNotPending(state));
        }
        if now > row.expires_at {
            self.finish(&row, ChallengeState::Expired, now, None).await?;
            return Err(ApiError::ChallengeExpired);
        }
        self.check_sent_time(sub.signed_at, now)?;
        if sub.signed_at > row.expires_at {
            return Err(ApiError::ChallengeExpired);
        }
        let signed = Self::signed(&row)?;
        let payload = ApprovalPayload::new(
            &signed.challenge,
            &device.device_id,
            sub.decision,
            sub.matched_number.clone(),
            sub.signed_at,
        );
        if Label::Approval.verify(&device.public_key, &payload, &sub.signature).is_err() {
            self.store
                .audit(
                    now,
                    AuditEvent::DecisionBadSignature,
                    Some(&row.account_id),
                    Some(&device.device_id),
                    Some(&row.id),
                    json!({"decision": sub.decision.as_str()}),
                )
                .await?;
            return Err(ApiError::BadSignature);
        }
        if sub.decision == inkan_protocol::Decision::Approve
            && let Some(expected) = &row.number_to_match
        {
            let typed = sub.matched_number.as_deref().ok_or(ApiError::NumberRequired)?;
            if !bool::from(typed.as_bytes().ct_eq(expected.as_bytes())) {
                let max = i64::from(self.limits().max_number_attempts);
                let Some(attempts) = self.store.record_wrong_number(&row, &device.device_id, now, max).await? else {
                    return Err(self.lost_race(&row.id).await);
                };
                self.events_written.notify_one();
                if attempts >= max {
                    self.publish_resolved(
                        &row.account_id,
                        &row.id,
                        ChallengeState::Failed,
                        now,
                        Some(&device.device_id),
                    );
                }
                return Err(ApiError::NumberMismatch { attempts_left: (max - attempts).max(0) as u32 });
            }
        }
        let new_state = ChallengeState::from_decision(sub.decision);
        let is_login = matches!(signed.challenge.details, ChallengeDetails::Login(_));
        let push_state = match sub.decision {
            // An approved login is a successful login: the push cap starts again. An approved
            // withdrawal is not (the cap counts pushes since the last successful login).
            inkan_protocol::Decision::Approve if is_login => Some(PushStateChange::LastSuccess(now)),
            inkan_protocol::Decision::Approve => None,
            inkan_protocol::Decision::Deny => {
                Some(PushStateChange::CooldownUntil(now + self.limits().denial_cooldown_secs))
            }
            inkan_protocol::Decision::DenyFraud => Some(PushStateChange::Blocked(Some(now))),
        };
        let recorded = self
            .store
            .record_decision(RecordedDecision {
                challenge_id: &row.id,
                account_id: &row.account_id,
                device_id: &device.device_id,
                state: new_state,
                signature: &sub.signature.to_b64(),
                now,
                push_state,
            })
            .await?;
        if !recorded {
            return Err(self.lost_race(&row.id).await);
        }
        self.events_written.notify_one();
        self.metrics.decided_after(now - row.created_at);
        if sub.decision == inkan_protocol::Decision::DenyFraud {
            tracing::warn!(account = %mask_tail(&row.account_id), challenge_id = %row.id, "\"not me\" reported: pushes blocked");
        }
        self.publish_resolved(&row.account_id, &row.id, new_state, now, Some(&device.device_id));
        Ok(DecisionOutcome { challenge_id: row.id, state: new_state })
    }

    /// Records a final state that no device signed (expired, failed, cancelled) with its audit
    /// row, and tells listeners. `false`: lost a race.
    async fn finish(
        &self,
        row: &ChallengeRow,
        state: ChallengeState,
        now: i64,
        device_id: Option<&str>,
    ) -> ApiResult<bool> {
        if !self.store.finish_challenge(row, state, now, device_id).await? {
            return Ok(false);
        }
        self.events_written.notify_one();
        self.publish_resolved(&row.account_id, &row.id, state, now, device_id);
        Ok(true)
    }

    /// Tells the account's devices and waiting relying parties that a challenge is settled.
    /// `decided_at` and `device_id` are what the change wrote to the challenge's row.
    fn publish_resolved(
        &self,
        account_id: &str,
        challenge_id: &str,
        state: ChallengeState,
        decided_at: i64,
        device_id: Option<&str>,
    ) {
        self.metrics.challenge_settled(state);
        let settled = crate::hub::Settled { state, decided_at, device_id: device_id.map(str::to_owned) };
        self.hub.mark_settled(challenge_id, settled);
        let outcome = DecisionOutcome { challenge_id: challenge_id.to_owned(), state };
        self.hub.publish(account_id, HubEvent::Push(PushEvent::Resolved(outcome)));
    }

    /// The error for a decision that lost the race: the state the challenge is in now.
    async fn lost_race(&self, challenge_id: &str) -> ApiError {
        match self.store.challenge(challenge_id).await {
            Ok(Some(row)) => ApiError::ChallengeNotPending(row.state()),
            Ok(None) => ApiError::ChallengeUnknown,
            Err(e) => e.into(),
        }
    }

    /// Marks overdue challenges expired and tells listeners. Run periodically.
    pub async fn sweep_expired(&self) -> ApiResult<usize> {
        let now = self.now();
        self.hub.forget_expired(now);
        let expired = self.store.expire_due(now).await?;
        if !expired.is_empty() {
            self.events_written.notify_one();
        }
        for (id, account) in &expired {
            self.publish_resolved(account, id, ChallengeState::Expired, now, None);
        }
        Ok(expired.len())
    }

    // ---- devices and account state ---------------------------------------------------

    pub async fn list_devices(&self, account_id: &str) -> ApiResult<Vec<DeviceInfo>> {
        Ok(self
            .store
            .devices_for_account(account_id)
            .await?
            .into_iter()
            .map(|d| DeviceInfo {
                device_id: d.id,
                account_id: d.account_id,
                name: d.name,
                platform: d.platform,
                enrolled_at: d.enrolled_at,
                last_used_at: d.last_used_at,
                revoked_at: d.revoked_at,
            })
            .collect())
    }

    pub async fn revoke_device(&self, account_id: &str, device_id: &str) -> ApiResult<()> {
        let now = self.now();
        if !self.store.revoke_device(account_id, device_id, now).await? {
            return Err(ApiError::DeviceUnknown);
        }
        self.events_written.notify_one();
        self.hub.publish(account_id, HubEvent::DeviceRevoked(device_id.to_owned()));
        Ok(())
    }

    pub async fn account_push_state(&self, account_id: &str) -> ApiResult<inkan_protocol::AccountPushState> {
        let now = self.now();
        let gate = self.store.push_gate(account_id, now).await?;
        Ok(inkan_protocol::AccountPushState {
            account_id: account_id.to_owned(),
            push_blocked: gate.push_blocked_at.is_some(),
            cooldown_until: gate.cooldown_until.filter(|u| *u > now),
            open_challenges: gate.open_challenges as u32,
        })
    }

    /// Clears a "not me" block (the customer confirmed, through the brokerage, that all is well).
    pub async fn unblock_pushes(&self, account_id: &str) -> ApiResult<()> {
        let now = self.now();
        let audit = AuditEntry {
            at: now,
            event: AuditEvent::PushUnblocked,
            account_id: Some(account_id),
            device_id: None,
            challenge_id: None,
            detail: json!({}),
        };
        self.store.set_push_state_audited(account_id, PushStateChange::Blocked(None), audit).await?;
        Ok(())
    }

    /// Checks an offline code from any active device of the account. Each code is good once:
    /// a step at or before the device's last accepted one is refused as a replay.
    pub async fn verify_offline_code(&self, account_id: &str, code: &str) -> ApiResult<bool> {
        let now = self.now();
        for device in self.store.devices_for_account(account_id).await? {
            if device.revoked_at.is_some() {
                continue;
            }
            let Some((stored, key_id)) = self.store.totp_secret(&device.id).await? else { continue };
            let secret = match key_id {
                Some(key_id) => match self.settings.secret_keys.open(&key_id, &device.id, &stored) {
                    Ok(secret) => secret,
                    Err(e) => {
                        // A row that does not open (altered, or its key not configured) gives
                        // no code; the other devices still count.
                        tracing::error!(device_id = %device.id, error = %e, "offline-code secret does not open");
                        continue;
                    }
                },
                // Written before sealing (the server seals such rows at start).
                None => zeroize::Zeroizing::new(stored),
            };
            let Some(step) =
                totp::verify(&secret, code, now, totp::DEFAULT_PERIOD, totp::DEFAULT_DIGITS, TOTP_SKEW_STEPS)
            else {
                continue;
            };
            // The step is spent and its acceptance audited in one transaction.
            if self.store.use_totp_step(account_id, &device.id, step as i64, now).await? {
                return Ok(true);
            }
            self.store
                .audit(now, AuditEvent::OfflineCodeReplayRefused, Some(account_id), Some(&device.id), None, json!({}))
                .await?;
            return Ok(false);
        }
        self.store.audit(now, AuditEvent::OfflineCodeRefused, Some(account_id), None, None, json!({})).await?;
        Ok(false)
    }
}

pub type SharedService = Arc<Service>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_their_digits() {
        for d in 2..=6 {
            let n = random_number(d);
            assert_eq!(n.len(), d as usize);
            assert!(n.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
