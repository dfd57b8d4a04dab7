//! Errors of this crate and the stable error codes that travel on the wire.

use serde::{Deserialize, Serialize};

/// Stable, snake_case error codes. The server sends them in [`crate::ErrorBody`]; the core
/// and the UI branch on them (never on message text). Variants are only ever added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    BodyTooLarge,
    Unauthorized,
    NotFound,
    BadSignature,
    TicketUnknown,
    TicketExpired,
    TicketAlreadyUsed,
    DeviceUnknown,
    DeviceRevoked,
    SessionExpired,
    NonceUnknown,
    ChallengeUnknown,
    ChallengeExpired,
    ChallengeNotPending,
    NumberRequired,
    /// Wrong number typed; the request is over (refused).
    NumberMismatch,
    /// Wrong number typed; the request is still open and may be answered again.
    NumberMismatchTryAgain,
    ClockSkew,
    TooManyOpenChallenges,
    TooManyPushes,
    CooldownActive,
    PushBlocked,
    NoDevices,
    InvalidDetails,
    Internal,
    /// The database cannot be read or written right now (full disk, restarted, locked):
    /// try again shortly; nothing was changed.
    DatabaseUnavailable,
    /// Too many requests from this client (or too many open connections): wait, then retry.
    RateLimited,
    /// Well-formed JSON whose values cannot be used: a key or signature that does not decode,
    /// a missing or unknown field (422).
    InvalidRequest,
    /// A code this build does not know yet (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code (for the registry's completeness test, [`crate::error_text`]).
    pub const ALL: &[ErrorCode] = &[
        ErrorCode::BadRequest,
        ErrorCode::BodyTooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::NotFound,
        ErrorCode::BadSignature,
        ErrorCode::TicketUnknown,
        ErrorCode::TicketExpired,
        ErrorCode::TicketAlreadyUsed,
        ErrorCode::DeviceUnknown,
        ErrorCode::DeviceRevoked,
        ErrorCode::SessionExpired,
        ErrorCode::NonceUnknown,
        ErrorCode::ChallengeUnknown,
        ErrorCode::ChallengeExpired,
        ErrorCode::ChallengeNotPending,
        ErrorCode::NumberRequired,
        ErrorCode::NumberMismatch,
        ErrorCode::NumberMismatchTryAgain,
        ErrorCode::ClockSkew,
        ErrorCode::TooManyOpenChallenges,
        ErrorCode::TooManyPushes,
        ErrorCode::CooldownActive,
        ErrorCode::PushBlocked,
        ErrorCode::NoDevices,
        ErrorCode::InvalidDetails,
        ErrorCode::Internal,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::RateLimited,
        ErrorCode::InvalidRequest,
        ErrorCode::Unknown,
    ];

    /// The wire spelling, e.g. `"challenge_expired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not_found",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::TicketUnknown => "ticket_unknown",
            ErrorCode::TicketExpired => "ticket_expired",
            ErrorCode::TicketAlreadyUsed => "ticket_already_used",
            ErrorCode::DeviceUnknown => "device_unknown",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::NonceUnknown => "nonce_unknown",
            ErrorCode::ChallengeUnknown => "challenge_unknown",
            ErrorCode::ChallengeExpired => "challenge_expired",
            ErrorCode::ChallengeNotPending => "challenge_not_pending",
            ErrorCode::NumberRequired => "number_required",
            ErrorCode::NumberMismatch => "number_mismatch",
            ErrorCode::NumberMismatchTryAgain => "number_mismatch_try_again",
            ErrorCode::ClockSkew => "clock_skew",
            ErrorCode::TooManyOpenChallenges => "too_many_open_challenges",
            ErrorCode::TooManyPushes => "too_many_pushes",
            ErrorCode::CooldownActive => "cooldown_active",
            ErrorCode::PushBlocked => "push_blocked",
            ErrorCode::NoDevices => "no_devices",
            ErrorCode::InvalidDetails => "invalid_details",
            ErrorCode::Internal => "internal",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong inside this crate: parsing, canonicalising, key and signature encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("enrollment link: {0}")]
    Uri(#[from] crate::uri::UriError),
    #[error("canonical JSON: {0}")]
    Canonical(String),
    #[error("public key is not a valid P-256 point")]
    BadPublicKey,
    #[error("private key is not a valid P-256 scalar")]
    BadPrivateKey,
    #[error("signature is malformed")]
    MalformedSignature,
    #[error("signature does not verify")]
    BadSignature,
    #[error("base64url field is malformed")]
    BadBase64,
}

impl ProtocolError {
    /// A stable snake_case code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::Uri(e) => e.code(),
            ProtocolError::Canonical(_) => "canonical_json",
            ProtocolError::BadPublicKey => "bad_public_key",
            ProtocolError::BadPrivateKey => "bad_private_key",
            ProtocolError::MalformedSignature => "malformed_signature",
            ProtocolError::BadSignature => "bad_signature",
            ProtocolError::BadBase64 => "bad_base64",
        }
    }
}
