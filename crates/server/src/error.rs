//! The server's errors and their one mapping to HTTP responses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use inkan_protocol::{ChallengeState, ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("missing or wrong credentials")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("signature does not verify over the server's record")]
    BadSignature,
    #[error("enrollment ticket is not known")]
    TicketUnknown,
    #[error("enrollment ticket has expired")]
    TicketExpired,
    #[error("enrollment ticket was already used")]
    TicketAlreadyUsed,
    #[error("device is not known")]
    DeviceUnknown,
    #[error("device has been revoked")]
    DeviceRevoked,
    #[error("device session has expired; authenticate again")]
    SessionExpired,
    #[error("nonce is unknown, used or expired")]
    NonceUnknown,
    #[error("challenge is not known")]
    ChallengeUnknown,
    #[error("challenge has expired")]
    ChallengeExpired,
    #[error("challenge is no longer pending (it is {})", .0.as_str())]
    ChallengeNotPending(ChallengeState),
    #[error("this challenge needs the number shown on the page")]
    NumberRequired,
    #[error("the number does not match; {attempts_left} attempts left")]
    NumberMismatch { attempts_left: u32 },
    #[error("the device clock is too far from the server's")]
    ClockSkew,
    #[error("too many open challenges for this account")]
    TooManyOpenChallenges,
    #[error("too many pushes since the last successful approval")]
    TooManyPushes,
    #[error("a recent denial put pushes on hold until {until}")]
    CooldownActive { until: i64 },
    #[error("pushes are blocked after a \"not me\" report; the customer must clear it")]
    PushBlocked,
    #[error("the account has no active device")]
    NoDevices,
    #[error("invalid challenge details: {0}")]
    InvalidDetails(String),
    #[error("the request's values cannot be used: {0}")]
    InvalidRequest(String),
    #[error("too many requests from this client; wait a minute and try again")]
    RateLimited,
    #[error("the database is unavailable right now; try again shortly (nothing was changed)")]
    DatabaseUnavailable(#[source] sqlx::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

pub use inkan_kit::sqlite::is_unavailable;

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            inkan_kit::sqlite::DATABASE_UNAVAILABLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ApiError::DatabaseUnavailable(e)
        } else {
            ApiError::Internal(e.into())
        }
    }
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::BodyTooLarge(_) => ErrorCode::BodyTooLarge,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::BadSignature => ErrorCode::BadSignature,
            ApiError::TicketUnknown => ErrorCode::TicketUnknown,
            ApiError::TicketExpired => ErrorCode::TicketExpired,
            ApiError::TicketAlreadyUsed => ErrorCode::TicketAlreadyUsed,
            ApiError::DeviceUnknown => ErrorCode::DeviceUnknown,
            ApiError::DeviceRevoked => ErrorCode::DeviceRevoked,
            ApiError::SessionExpired => ErrorCode::SessionExpired,
            ApiError::NonceUnknown => ErrorCode::NonceUnknown,
            ApiError::ChallengeUnknown => ErrorCode::ChallengeUnknown,
            ApiError::ChallengeExpired => ErrorCode::ChallengeExpired,
            ApiError::ChallengeNotPending(_) => ErrorCode::ChallengeNotPending,
            ApiError::NumberRequired => ErrorCode::NumberRequired,
            ApiError::NumberMismatch { attempts_left: 0 } => ErrorCode::NumberMismatch,
            ApiError::NumberMismatch { .. } => ErrorCode::NumberMismatchTryAgain,
            ApiError::ClockSkew => ErrorCode::ClockSkew,
            ApiError::TooManyOpenChallenges => ErrorCode::TooManyOpenChallenges,
            ApiError::TooManyPushes => ErrorCode::TooManyPushes,
            ApiError::CooldownActive { .. } => ErrorCode::CooldownActive,
            ApiError::PushBlocked => ErrorCode::PushBlocked,
            ApiError::NoDevices => ErrorCode::NoDevices,
            ApiError::InvalidDetails(_) => ErrorCode::InvalidDetails,
            ApiError::Internal(_) => ErrorCode::Internal,
            ApiError::DatabaseUnavailable(_) => ErrorCode::DatabaseUnavailable,
            ApiError::RateLimited => ErrorCode::RateLimited,
            ApiError::InvalidRequest(_) => ErrorCode::InvalidRequest,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidDetails(_) | ApiError::NumberRequired => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized | ApiError::SessionExpired | ApiError::NonceUnknown => StatusCode::UNAUTHORIZED,
            ApiError::BadSignature | ApiError::DeviceRevoked | ApiError::NumberMismatch { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::TicketUnknown | ApiError::DeviceUnknown | ApiError::ChallengeUnknown => {
                StatusCode::NOT_FOUND
            }
            ApiError::TicketExpired | ApiError::ChallengeExpired => StatusCode::GONE,
            ApiError::TicketAlreadyUsed | ApiError::ChallengeNotPending(_) | ApiError::NoDevices => {
                StatusCode::CONFLICT
            }
            ApiError::ClockSkew | ApiError::InvalidRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyOpenChallenges
            | ApiError::TooManyPushes
            | ApiError::CooldownActive { .. }
            | ApiError::PushBlocked
            | ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(e) => tracing::error!(error = %e, "internal error"),
            ApiError::DatabaseUnavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            _ => {}
        }
        let body = ErrorBody { code: self.code(), message: self.to_string() };
        (self.status(), Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
