//! The commands the UI may call (each allowed by name in `capabilities/default.json`). Each
//! is a line or two into the [`Shell`] or the core.

use std::sync::Arc;

use inkan_protocol::Decision;
use tauri::State;

use crate::AppSettings;
use crate::error::{CommandError, CommandResult};
use crate::shell::Shell;
use crate::views::*;

type S<'a> = State<'a, Arc<Shell>>;

pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        get_settings,
        set_settings,
        list_accounts,
        rename_account,
        remove_account,
        preview_link,
        preview_qr_image,
        cancel_enroll,
        enroll,
        pending,
        decide,
        history,
        offline_code,
        take_focus,
        ui_painted,
    ]
}

#[tauri::command]
fn get_settings(shell: S<'_>) -> AppSettings {
    shell.settings()
}

#[tauri::command]
fn set_settings(shell: S<'_>, settings: AppSettings) -> CommandResult<()> {
    shell.set_settings(settings)
}

#[tauri::command]
fn list_accounts(shell: S<'_>) -> CommandResult<Vec<AccountView>> {
    shell.accounts()
}

#[tauri::command]
fn rename_account(shell: S<'_>, id: String, name: String) -> CommandResult<()> {
    shell.rename(&id, &name)
}

#[tauri::command]
async fn remove_account(shell: S<'_>, id: String) -> CommandResult<()> {
    shell.remove(&id).await
}

#[tauri::command]
fn preview_link(shell: S<'_>, link: String, source: LinkSource) -> CommandResult<LinkPreview> {
    shell.preview(&link, source)
}

/// The image's bytes come as the raw request body (no JSON, no base64).
#[tauri::command]
async fn preview_qr_image(shell: S<'_>, request: tauri::ipc::Request<'_>) -> CommandResult<LinkPreview> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(CommandError::new("image_unreadable", "send the image's bytes as the request body"));
    };
    let shell = shell.inner().clone();
    let bytes = bytes.clone();
    tauri::async_runtime::spawn_blocking(move || shell.preview_image(&bytes))
        .await
        .map_err(|e| CommandError::new("app_internal", e.to_string()))?
}

#[tauri::command]
fn cancel_enroll(shell: S<'_>) {
    shell.cancel_enroll()
}

#[tauri::command]
async fn enroll(shell: S<'_>, device_name: String) -> CommandResult<AccountView> {
    shell.inner().enroll(&device_name).await
}

#[tauri::command]
fn pending(shell: S<'_>) -> Vec<ChallengeView> {
    shell.pending()
}

/// Signs and sends the decision on the challenge exactly as the shell holds it (the UI only
/// names it). Approvals pass user verification first where the platform has it.
#[tauri::command]
async fn decide(
    app: tauri::AppHandle,
    shell: S<'_>,
    challenge_id: String,
    decision: Decision,
    number: Option<String>,
) -> CommandResult<DecisionView> {
    let item = shell
        .pending_challenge(&challenge_id)
        .ok_or_else(|| CommandError::from(inkan_core::CoreError::ChallengeNotFound(challenge_id.clone())))?;
    let account = shell.core().account(Some(&item.account))?;
    if decision == Decision::Approve {
        crate::verify_user(&app, &item.challenge).await?;
    }
    match shell.core().decide(&account, &item.challenge, decision, number.as_deref()).await {
        Ok(outcome) => {
            shell.forget_challenge(&challenge_id);
            Ok(DecisionView { challenge_id, state: outcome.state })
        }
        Err(e) => {
            // A challenge the server no longer holds open leaves the inbox; a wrong number
            // does not (the person may type it again while attempts remain).
            if matches!(
                e.server_code(),
                Some(
                    inkan_protocol::ErrorCode::ChallengeExpired
                        | inkan_protocol::ErrorCode::ChallengeNotPending
                        | inkan_protocol::ErrorCode::ChallengeUnknown
                )
            ) || matches!(e, inkan_core::CoreError::ChallengeExpired)
            {
                shell.forget_challenge(&challenge_id);
            }
            Err(e.into())
        }
    }
}

#[tauri::command]
fn history(shell: S<'_>) -> CommandResult<Vec<HistoryItem>> {
    let accounts = shell.core().accounts()?;
    let name = |id: &str| accounts.iter().find(|a| a.id == id).map(|a| a.name.clone()).unwrap_or_default();
    let mut items: Vec<HistoryItem> = shell
        .core()
        .history()?
        .into_iter()
        .map(|h| {
            let n = name(&h.account);
            HistoryItem::new(h, n)
        })
        .collect();
    items.sort_by_key(|h| std::cmp::Reverse(h.at));
    Ok(items)
}

#[tauri::command]
async fn offline_code(shell: S<'_>, account: String) -> CommandResult<OfflineCodeView> {
    let acc = shell.core().account(Some(&account))?;
    let code = shell.core().offline_code(&acc).await?;
    Ok(OfflineCodeView { account, code: code.code, seconds_left: code.seconds_left, period: acc.totp_period })
}

/// What the window should show first (a clicked notification's request, a link from outside,
/// a same-device request), once; `None` when nothing waits.
#[tauri::command]
fn take_focus(shell: S<'_>) -> Option<Focus> {
    shell.take_focus()
}

#[tauri::command]
fn ui_painted(shell: S<'_>, ids: Vec<String>) {
    shell.painted(ids)
}
