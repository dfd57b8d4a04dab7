//! Desktop edges: one instance per profile, the tray with the pending count, closing to the
//! tray, links from the OS, and user verification.

use std::sync::Arc;

use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{App, AppHandle, Manager, Runtime, WindowEvent};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::error::CommandResult;
use crate::settings::Language;
use crate::shell::Shell;
use crate::views::LinkSource;
use crate::{LaunchOptions, text};

const TRAY_ID: &str = "inkan";

/// Desktop-only plugins. With the default profile a second launch (for instance the OS
/// opening an `inkan://` link) hands its arguments to the running app and exits; QA's
/// `--profile` devices are separate instances by design.
pub fn plugins<R: Runtime>(builder: tauri::Builder<R>, opts: &LaunchOptions) -> tauri::Builder<R> {
    if opts.profile.is_some() {
        return builder;
    }
    builder.plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
        show_main(app);
        if let Some(link) = argv.iter().find(|a| a.starts_with("inkan:"))
            && let Some(shell) = app.try_state::<Arc<Shell>>()
        {
            shell.open_link(link, LinkSource::DeepLink);
        }
    }))
}

pub fn setup(app: &mut App, shell: &Arc<Shell>, opts: &LaunchOptions) -> Result<(), Box<dyn std::error::Error>> {
    let lang = shell.settings().language;
    let open = MenuItem::with_id(app, "open", text::menu_open(lang), true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", text::menu_quit(lang), true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(text::pending_count(0, lang))
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_main(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                show_main(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    // A desktop without a tray (some Linux sessions) still gets the window.
    let has_tray = match tray.build(app) {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "no tray icon");
            false
        }
    };
    if let Some(window) = app.get_webview_window("main") {
        if has_tray {
            // Closing the window keeps the app in the tray, where approvals still arrive.
            let w = window.clone();
            window.on_window_event(move |event| {
                if let WindowEvent::CloseRequested { api, .. } = event {
                    api.prevent_close();
                    let _ = w.hide();
                }
            });
        }
        if !(has_tray && (opts.minimised || shell.settings().start_minimised)) {
            window.show()?;
        }
    }
    // Links the OS opens while the app runs (macOS; Linux and Windows go through the
    // single-instance hand-over above).
    let s = shell.clone();
    app.deep_link().on_open_url(move |event| {
        if let Some(url) = event.urls().first() {
            s.open_link(url.as_str(), LinkSource::DeepLink);
        }
    });
    if std::env::args().any(|a| a == "--register-scheme") {
        // Bundles register `inkan://` at install; an unbundled binary can ask for it.
        app.deep_link().register_all()?;
    }
    Ok(())
}

pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

pub fn show_pending_count<R: Runtime>(app: &AppHandle<R>, n: usize, lang: Language) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let label = text::pending_count(n, lang);
        let _ = tray.set_tooltip(Some(&label));
        let _ = tray.set_title(if n == 0 { None } else { Some(n.to_string()) });
    }
}

/// Desktop user verification is the UI's explicit confirm step before this command; no
/// OS prompt is wired on desktop yet (see README: Windows Hello / Touch ID would go here).
pub async fn verify_user(_app: &AppHandle, _challenge: &inkan_protocol::Challenge) -> CommandResult<()> {
    Ok(())
}
