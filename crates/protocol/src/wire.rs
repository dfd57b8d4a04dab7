//! Every type that crosses the network between server, device and relying party.
//!
//! Times are Unix seconds (`i64`). Amounts are integers in the currency's minor unit (yen
//! for JPY). Binary values are base64url without padding. Enums are only ever added to.

use serde::{Deserialize, Serialize};

use crate::ErrorCode;
use crate::keys::{DevicePublicKey, Signature};

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// What the person is asked to approve. `kind` is the tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChallengeDetails {
    Login(LoginContext),
    Withdrawal(WithdrawalContext),
}

impl ChallengeDetails {
    pub fn kind(&self) -> &'static str {
        match self {
            ChallengeDetails::Login(_) => "login",
            ChallengeDetails::Withdrawal(_) => "withdrawal",
        }
    }

    /// Every text field the device shows the person (and signs), named.
    pub fn display_fields(&self) -> Vec<(&'static str, &str)> {
        match self {
            ChallengeDetails::Login(l) => {
                vec![("time", &l.time), ("ip", &l.ip), ("place", &l.place), ("browser", &l.browser)]
            }
            ChallengeDetails::Withdrawal(w) => vec![
                ("bank", &w.bank),
                ("branch", &w.branch),
                ("account_masked", &w.account_masked),
                ("requested_at", &w.requested_at),
            ],
        }
    }

    /// Checks what the person will be shown against the display-text rule
    /// ([`crate::display::check_display_text`], fields of at most `max_chars`) and the masking
    /// rule (a masked account number shows at most [`MAX_SHOWN_ACCOUNT_DIGITS`] digits, of any
    /// script). Both the server (before signing) and the device (before showing) apply it.
    pub fn check_display(&self, max_chars: usize) -> Result<(), String> {
        for (field, value) in self.display_fields() {
            crate::display::check_display_text(value, max_chars).map_err(|p| p.describe(field, max_chars))?;
        }
        if let ChallengeDetails::Withdrawal(w) = self
            && crate::display::digit_count(&w.account_masked) > MAX_SHOWN_ACCOUNT_DIGITS
        {
            return Err(format!("account_masked must show at most {MAX_SHOWN_ACCOUNT_DIGITS} digits (of any script)"));
        }
        Ok(())
    }
}

/// Digits of a destination account number that a challenge may show.
pub const MAX_SHOWN_ACCOUNT_DIGITS: usize = 4;

/// Where and how a login is being attempted, as shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LoginContext {
    /// When the login was attempted, as shown (RFC 3339 with the customer's offset).
    pub time: String,
    pub ip: String,
    /// Approximate place derived from the IP, e.g. "東京都 / Tokyo".
    pub place: String,
    /// Browser and OS, e.g. "Chrome 131 / Windows 11".
    pub browser: String,
}

/// A withdrawal request, as shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WithdrawalContext {
    /// In the minor unit of `currency` (JPY: yen). JSON has one number type: `1000.0` is the
    /// integer 1000 (as JSON Schema and RFC 8785 say), a fraction is refused.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    #[serde(deserialize_with = "integral_u64")]
    pub amount: u64,
    /// ISO 4217 code, e.g. "JPY".
    pub currency: String,
    pub bank: String,
    pub branch: String,
    /// Masked destination account number, e.g. "****5678".
    pub account_masked: String,
    /// When the withdrawal was requested (RFC 3339).
    pub requested_at: String,
}

/// Number matching: the relying party's page shows a number; the person types it into the app.
/// The device learns only how many digits to ask for, never the number itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NumberMatch {
    pub digits: u8,
}

/// A challenge as the server signs and pushes it to devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub id: String,
    pub origin: String,
    pub account_id: String,
    pub nonce: String,
    pub details: ChallengeDetails,
    pub number_match: Option<NumberMatch>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A challenge with the server's ES256 signature over
/// `"inkan/challenge/v1" || 0x00 || JCS(challenge)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedChallenge {
    pub challenge: Challenge,
    pub server_signature: Signature,
}

/// The person's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Deny,
    /// "This was not me": denies, blocks further pushes, alerts the customer.
    DenyFraud,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
            Decision::DenyFraud => "deny_fraud",
        }
    }
}

/// A challenge's state. Persisted: only ever added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ChallengeState {
    Pending,
    Approved,
    Denied,
    DeniedFraud,
    Expired,
    /// Too many wrong numbers were typed.
    Failed,
    /// Withdrawn by the relying party: what it was for no longer waits for it (the login
    /// went on another way, or was abandoned). Devices drop it from their inbox.
    Cancelled,
}

impl ChallengeState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeState::Pending => "pending",
            ChallengeState::Approved => "approved",
            ChallengeState::Denied => "denied",
            ChallengeState::DeniedFraud => "denied_fraud",
            ChallengeState::Expired => "expired",
            ChallengeState::Failed => "failed",
            ChallengeState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
    }

    pub fn is_final(self) -> bool {
        self != ChallengeState::Pending
    }

    pub fn from_decision(decision: Decision) -> Self {
        match decision {
            Decision::Approve => ChallengeState::Approved,
            Decision::Deny => ChallengeState::Denied,
            Decision::DenyFraud => ChallengeState::DeniedFraud,
        }
    }
}

// ---- Device API -------------------------------------------------------------------------

/// How often the server sends a keep-alive on an idle live channel, by default
/// (`Limits::push_keepalive_secs`); devices take three missed ones as a dead path.
pub const PUSH_KEEPALIVE_SECS: u64 = 15;

/// Offline-code parameters issued at enrollment (RFC 6238).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpParams {
    /// 20 random bytes, base64url. Goes straight into the device keychain.
    pub secret: String,
    pub digits: u32,
    pub period: u32,
    /// Always "SHA1" in version 1.
    pub algorithm: String,
}

impl std::fmt::Debug for TotpParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpParams")
            .field("secret", &"[redacted]")
            .field("digits", &self.digits)
            .field("period", &self.period)
            .finish()
    }
}

/// `POST /v1/device/enroll`: redeem a ticket, with proof of possession of the new key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub ticket: String,
    pub device_public_key: DevicePublicKey,
    pub device_name: String,
    pub platform: String,
    /// Over [`crate::EnrollPayload`] with label `inkan/enroll/v1`.
    pub signature: Signature,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device_id: String,
    pub account_id: String,
    pub account_label: String,
    /// The server's challenge-signing key; its fingerprint must match the link's `server_key`.
    pub server_public_key: DevicePublicKey,
    pub totp: TotpParams,
    /// The origin of the relying party's web pages, when they are not served from the
    /// verifier's origin: the app takes same-device approval requests from it alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_origin: Option<String>,
    /// The relying party's name for people (the brokerage), in both languages: what the app
    /// shows wherever it names who is asking. Absent from servers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_name: Option<RpName>,
}

/// A relying party's name as its customers know it, Japanese and English
/// (`いんかん証券` / `Inkan Securities`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RpName {
    pub ja: String,
    pub en: String,
}

/// Longest relying-party name, in characters, in either language (display text).
pub const MAX_RP_NAME_CHARS: usize = 40;

/// `POST /v1/device/nonce` answer: a single-use nonce for device authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceResponse {
    pub nonce: String,
    pub expires_at: i64,
}

/// `POST /v1/device/session`: prove possession of the device key over a server nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    pub device_id: String,
    pub nonce: String,
    pub signed_at: i64,
    /// Over [`crate::DeviceAuthPayload`] with label `inkan/device-auth/v1`.
    pub signature: Signature,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    /// Bearer token for the device API and the push channel.
    pub token: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for SessionResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionResponse").field("token", &"[redacted]").field("expires_at", &self.expires_at).finish()
    }
}

/// `POST /v1/device/challenges/{id}/decision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionSubmission {
    pub decision: Decision,
    pub matched_number: Option<String>,
    pub signed_at: i64,
    /// Over [`crate::ApprovalPayload`] with label `inkan/approval/v1`.
    pub signature: Signature,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DecisionOutcome {
    pub challenge_id: String,
    pub state: ChallengeState,
}

/// Events on the push channel (`GET /v1/device/events`, server-sent events). The SSE event
/// name is the tag; the data is the JSON of the variant's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum PushEvent {
    /// A new challenge to show.
    Challenge(Box<SignedChallenge>),
    /// A challenge left the pending state (decided elsewhere, expired): drop it from the inbox.
    Resolved(DecisionOutcome),
}

// ---- Relying-party API ------------------------------------------------------------------

/// `POST /v1/rp/enrollment-tickets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketRequest {
    pub account_id: String,
    /// Display hint for the app, e.g. "デモ証券 ****5678". Defaults to the account id masked.
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketCreated {
    pub ticket_id: String,
    pub uri: String,
    pub expires_at: i64,
    pub qr_svg: String,
    /// PNG image, standard base64.
    pub qr_png_base64: String,
}

/// `POST /v1/rp/challenges`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateChallengeRequest {
    pub account_id: String,
    pub details: ChallengeDetails,
    /// Ask the person to type a number shown on the relying party's page.
    #[serde(default)]
    pub number_match: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeCreated {
    pub challenge_id: String,
    pub expires_at: i64,
    /// The number for the relying party's page to show, when number matching was asked for.
    pub number_to_show: Option<String>,
}

/// `GET /v1/rp/challenges/{id}` and `.../wait`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeStatus {
    pub challenge_id: String,
    pub account_id: String,
    pub state: ChallengeState,
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
    pub device_id: Option<String>,
}

/// `GET /v1/rp/accounts/{account}/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: String,
    pub account_id: String,
    pub name: String,
    pub platform: String,
    pub enrolled_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// `GET /v1/rp/accounts/{account}`: the account's push-protection state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountPushState {
    pub account_id: String,
    pub push_blocked: bool,
    pub cooldown_until: Option<i64>,
    pub open_challenges: u32,
}

/// `GET /v1/rp/enrollment-tickets/{id}`: whether the QR code was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketStatus {
    pub ticket_id: String,
    pub account_id: String,
    pub state: TicketState,
    pub expires_at: i64,
    /// The device it enrolled, once used.
    pub device_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// Waiting for a device to scan it.
    Open,
    /// A device enrolled with it.
    Used,
    /// Past its lifetime, unused.
    Expired,
}

/// `POST /v1/rp/accounts/{account}/logins`: the relying party reports a login that succeeded
/// without a push (passkey, e-mailed code); the push cap counts from `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRecorded {
    pub account_id: String,
    pub at: i64,
}

/// Something that happened on the device side that the relying party must act on, kept by
/// the verifier until delivered (webhook) and readable by cursor (`GET /v1/rp/events`).
/// `id` is unique for ever: a relying party processes each event once, however often it
/// arrives. `seq` grows with every event (events of one account arrive in `seq` order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpEvent {
    pub id: String,
    pub seq: i64,
    pub at: i64,
    pub account_id: String,
    #[serde(flatten)]
    pub data: RpEventData,
}

/// The kinds of [`RpEvent`]: `{"type": "...", "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum RpEventData {
    /// A device enrolled with one of the account's tickets.
    DeviceEnrolled { device_id: String, ticket_id: String, name: String, platform: String },
    /// A device was revoked (by the relying party).
    DeviceRevoked { device_id: String, name: String },
    /// A device answered "this was not me": pushes to the account are blocked.
    FraudReported { challenge_id: String, device_id: String },
    /// A factor failed on the device (a wrong typed number): counts toward the account lock.
    FactorFailed { challenge_id: String, device_id: String, factor: FailedFactor, attempts: u32 },
    /// A challenge reached its final state.
    ChallengeSettled { challenge_id: String, state: ChallengeState },
}

impl RpEventData {
    /// The `type` tag as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            RpEventData::DeviceEnrolled { .. } => "device_enrolled",
            RpEventData::DeviceRevoked { .. } => "device_revoked",
            RpEventData::FraudReported { .. } => "fraud_reported",
            RpEventData::FactorFailed { .. } => "factor_failed",
            RpEventData::ChallengeSettled { .. } => "challenge_settled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailedFactor {
    /// The number typed on the device was not the one shown.
    NumberMismatch,
}

/// `GET /v1/rp/events`: events after the cursor, oldest first. Ask again with `after =
/// next_cursor`; an empty page keeps the cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpEventPage {
    pub events: Vec<RpEvent>,
    pub next_cursor: i64,
}

/// The body of a webhook delivery ([`crate::webhook`] signs it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub delivery_id: String,
    pub events: Vec<RpEvent>,
}

#[cfg(test)]
mod event_tests {
    use super::*;

    #[test]
    fn events_read_back_as_written() {
        let e = RpEvent {
            id: "ev1".into(),
            seq: 7,
            at: 100,
            account_id: "acct".into(),
            data: RpEventData::FactorFailed {
                challenge_id: "c".into(),
                device_id: "d".into(),
                factor: FailedFactor::NumberMismatch,
                attempts: 2,
            },
        };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains(r#""type":"factor_failed""#), "{text}");
        assert!(text.contains(r#""factor":"number_mismatch""#), "{text}");
        assert_eq!(serde_json::from_str::<RpEvent>(&text).unwrap(), e);
        assert_eq!(e.data.kind(), "factor_failed");
        let unknown = r#"{"id":"x","seq":1,"at":1,"account_id":"a","type":"nope","data":{}}"#;
        assert!(serde_json::from_str::<RpEvent>(unknown).is_err());
    }
}

/// A non-negative integer written as JSON: `7` or `7.0` (JSON does not tell the two apart;
/// RFC 8785 writes both as `7`); fractions, negatives and values past 2^53 are refused.
fn integral_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(u) = n.as_u64() {
        return Ok(u);
    }
    match n.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= crate::jcs::MAX_SAFE_INTEGER as f64 => Ok(f as u64),
        _ => Err(serde::de::Error::custom(format!("{n} is not a non-negative integer"))),
    }
}

#[cfg(test)]
mod integral_tests {
    use super::*;

    #[test]
    fn amounts_are_integers_however_json_writes_them() {
        let parse = |amount: &str| {
            serde_json::from_str::<WithdrawalContext>(&format!(
                r#"{{"amount":{amount},"currency":"JPY","bank":"b","branch":"b","account_masked":"****1234","requested_at":"t"}}"#
            ))
            .map(|w| w.amount)
        };
        assert_eq!(parse("1000").unwrap(), 1000);
        assert_eq!(parse("1000.0").unwrap(), 1000);
        assert_eq!(parse("1e3").unwrap(), 1000);
        for bad in ["1000.5", "-1", "-0.5", "1e300", "\"1000\""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
