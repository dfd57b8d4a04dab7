//! The one error that crosses the Tauri boundary. The UI branches on `code` (the core's
//! stable codes, the server's codes, or the shell's own below), never on `message`.

use inkan_core::CoreError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CommandError {
    pub code: String,
    /// English, for logs and bug reports; not shown as is.
    pub message: String,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CommandError { code: code.to_owned(), message: message.into() }
    }

    /// No enrollment link is waiting to be confirmed.
    pub fn no_link() -> Self {
        Self::new("enroll_no_link", "open an enrollment link or QR image first")
    }

    /// A name that is empty or too long.
    pub fn bad_name(max: usize) -> Self {
        Self::new("name_invalid", format!("a name must be 1 to {max} characters"))
    }

    /// The QR image is larger than the app reads.
    pub fn image_too_large(max: usize) -> Self {
        Self::new("image_too_large", format!("the image is larger than {max} bytes"))
    }

    /// The person did not pass user verification (biometric or OS prompt).
    pub fn not_verified(message: impl Into<String>) -> Self {
        Self::new("user_not_verified", message)
    }
}

impl From<CoreError> for CommandError {
    fn from(e: CoreError) -> Self {
        CommandError { code: e.code().to_owned(), message: e.to_string() }
    }
}

impl From<tauri::Error> for CommandError {
    fn from(e: tauri::Error) -> Self {
        CommandError::new("app_internal", e.to_string())
    }
}

pub type CommandResult<T> = Result<T, CommandError>;
