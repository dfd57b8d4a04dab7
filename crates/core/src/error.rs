//! The core's errors, each with a stable snake_case code that the app and CLI map to
//! Japanese and English text.

use inkan_protocol::ErrorCode;
use inkan_protocol::uri::UriError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("enrollment link: {0}")]
    BadLink(#[from] UriError),
    #[error("the file is not an image this app can read")]
    ImageUnreadable,
    #[error("no QR code was found in the image")]
    QrNotFound,
    #[error("the QR code could not be decoded")]
    QrUnreadable,
    #[error("no keychain is reachable: {0}")]
    KeychainUnavailable(String),
    #[error("the keychain refused access: {0}")]
    KeychainLocked(String),
    #[error("the key for this account is missing from the keychain")]
    KeyMissing,
    #[error("the server's key does not match the key pinned by the enrollment link")]
    ServerKeyMismatch,
    #[error("the challenge's server signature does not verify; it was discarded")]
    ForgedChallenge,
    #[error("the challenge is for another server or account; it was discarded")]
    ChallengeMismatch,
    #[error("the challenge has expired")]
    ChallengeExpired,
    #[error("the challenge's text could disguise what is signed ({0}); it was discarded")]
    UnsafeChallengeText(String),
    #[error("no pending challenge {0}")]
    ChallengeNotFound(String),
    #[error("this challenge needs the number shown on the page")]
    NumberRequired,
    #[error("the number must be {0} digits")]
    NumberMalformed(u8),
    #[error("no account {0:?}")]
    AccountNotFound(String),
    #[error("several accounts match; name one with --account")]
    AccountAmbiguous,
    #[error("the server cannot be reached: {0}")]
    ServerUnreachable(String),
    #[error("the server refused: {message} ({code})")]
    Server { code: ErrorCode, message: String },
    #[error("the server's answer was not understood: {0}")]
    BadResponse(String),
    #[error("local data: {0}")]
    Storage(String),
    #[error("protocol: {0}")]
    Protocol(#[from] inkan_protocol::ProtocolError),
    #[error("passkey refused: {origin} is not the site this passkey belongs to ({reason})")]
    PasskeyWrongOrigin { origin: String, reason: &'static str },
    #[error("no passkey on this device for {0}")]
    PasskeyNotFound(String),
    #[error("the passkey step failed: {0}")]
    PasskeyFailed(String),
    #[error("the site refused: {message} ({code})")]
    SiteRefused { code: &'static str, message: String },
    #[error("the site asks for the one-time code it mailed; none was given")]
    EmailCodeNeeded,
}

impl CoreError {
    /// What the error says beyond its code, for a line that prints the code beside it (the
    /// code is not repeated).
    pub fn detail(&self) -> String {
        match self {
            CoreError::Server { message, .. } => format!("the server refused: {message}"),
            CoreError::SiteRefused { message, .. } => format!("the site refused: {message}"),
            other => other.to_string(),
        }
    }

    /// The stable code. Server refusals keep the server's code.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::BadLink(e) => e.code(),
            CoreError::ImageUnreadable => "image_unreadable",
            CoreError::QrNotFound => "qr_not_found",
            CoreError::QrUnreadable => "qr_unreadable",
            CoreError::KeychainUnavailable(_) => "keychain_unavailable",
            CoreError::KeychainLocked(_) => "keychain_locked",
            CoreError::KeyMissing => "key_missing",
            CoreError::ServerKeyMismatch => "server_key_mismatch",
            CoreError::ForgedChallenge => "forged_challenge",
            CoreError::ChallengeMismatch => "challenge_mismatch",
            CoreError::ChallengeExpired => "challenge_expired",
            CoreError::UnsafeChallengeText(_) => "unsafe_challenge_text",
            CoreError::ChallengeNotFound(_) => "challenge_not_found",
            CoreError::NumberRequired => "number_required",
            CoreError::NumberMalformed(_) => "number_malformed",
            CoreError::AccountNotFound(_) => "account_not_found",
            CoreError::AccountAmbiguous => "account_ambiguous",
            CoreError::ServerUnreachable(_) => "server_unreachable",
            CoreError::Server { code, .. } => code.as_str(),
            CoreError::BadResponse(_) => "bad_response",
            CoreError::Storage(_) => "storage",
            CoreError::Protocol(e) => e.code(),
            CoreError::PasskeyWrongOrigin { .. } => "passkey_wrong_origin",
            CoreError::PasskeyNotFound(_) => "passkey_not_found",
            CoreError::PasskeyFailed(_) => "passkey_failed",
            CoreError::SiteRefused { code, .. } => code,
            CoreError::EmailCodeNeeded => "email_code_needed",
        }
    }

    /// The server's code, when the server refused.
    pub fn server_code(&self) -> Option<ErrorCode> {
        match self {
            CoreError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

pub type CoreResult<T> = Result<T, CoreError>;
