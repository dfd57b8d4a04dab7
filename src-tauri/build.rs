//! Tauri's build step, with an app manifest: every command of the shell needs a permission,
//! and `capabilities/default.json` grants exactly the ones the main window uses.
fn main() {
    let commands = &[
        "get_settings",
        "set_settings",
        "list_accounts",
        "rename_account",
        "remove_account",
        "preview_link",
        "preview_qr_image",
        "cancel_enroll",
        "enroll",
        "pending",
        "decide",
        "history",
        "offline_code",
        "take_focus",
        "ui_painted",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build step");
}
