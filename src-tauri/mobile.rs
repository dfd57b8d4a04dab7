//! Mobile edges (Android, iOS): the camera for QR enrollment and biometric user verification.
//! This machine cannot build mobile targets; keep this small and obvious (see README).

use tauri::{App, AppHandle, Runtime};
use tauri_plugin_biometric::{AuthOptions, BiometricExt};

use crate::error::{CommandError, CommandResult};
use crate::shell::Shell;

pub fn plugins<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.plugin(tauri_plugin_barcode_scanner::init()).plugin(tauri_plugin_biometric::init())
}

pub fn setup(_app: &mut App, _shell: &std::sync::Arc<Shell>) -> Result<(), Box<dyn std::error::Error>> {
    Ok(())
}

/// Approvals need the person's biometric (or device passcode) first.
pub async fn verify_user(app: &AppHandle, _challenge: &inkan_protocol::Challenge) -> CommandResult<()> {
    app.biometric()
        .authenticate(
            "承認するには本人確認が必要です / Confirm it is you to approve".into(),
            AuthOptions { allow_device_credential: true, ..Default::default() },
        )
        .map_err(|e| CommandError::not_verified(e.to_string()))
}
