//! Desktop edges: the window, made when it is opened and destroyed when it is closed, with
//! WebKitGTK's settings applied before its first load; links from the OS; user verification.
//!
//! On Linux the app is two processes: the resident one (`inkan-tray`: tray, notifications,
//! live channels, no GTK or WebKit) and this one, the window, which it starts when something is
//! to be shown and which ends when the person closes it. The resident process tells the window
//! what to show on its standard input ([`follow_resident`]). Elsewhere (macOS, Windows) this
//! process keeps the tray itself and stays in it when the window closes.

use std::sync::Arc;

use tauri::{App, AppHandle, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use crate::LaunchOptions;
use crate::error::CommandResult;
use crate::shell::Shell;
#[cfg(not(target_os = "linux"))]
use inkan_tray::text;

/// The one window's label (`capabilities/default.json` grants its commands by this name).
pub const MAIN_WINDOW: &str = "main";

/// Brings the window forward, building it (and its webview) first when it is closed.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    let window = match app.get_webview_window(MAIN_WINDOW) {
        Some(w) => w,
        None => match build_main(app) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "the window could not be opened");
                return;
            }
        },
    };
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
}

fn build_main<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<WebviewWindow<R>> {
    // On Linux the webview is made on a blank page, tuned, and only then sent to the app's
    // page, so WebKitGTK's settings hold from the first load.
    #[cfg(target_os = "linux")]
    let url = WebviewUrl::External("about:blank".parse().expect("a URL"));
    #[cfg(not(target_os = "linux"))]
    let url = WebviewUrl::App("index.html".into());
    let window = WebviewWindowBuilder::new(app, MAIN_WINDOW, url)
        .title("Inkan 印鑑")
        .inner_size(440.0, 780.0)
        .min_inner_size(340.0, 520.0)
        .visible(false)
        .build()?;
    #[cfg(target_os = "linux")]
    {
        window.with_webview(|w| webkit::tune(&w.inner()))?;
        window.navigate(webkit::APP_URL.parse().expect("a URL"))?;
    }
    Ok(window)
}

/// Desktop user verification is the UI's explicit confirm step before this command; no
/// OS prompt is wired on desktop yet (see README: Windows Hello / Touch ID would go here).
pub async fn verify_user(_app: &AppHandle, _challenge: &inkan_protocol::Challenge) -> CommandResult<()> {
    Ok(())
}

// ---- Linux: the window process ---------------------------------------------------------

#[cfg(target_os = "linux")]
pub fn plugins<R: Runtime>(builder: tauri::Builder<R>, _opts: &LaunchOptions) -> tauri::Builder<R> {
    builder
}

/// The window opens at once; closing it ends this process (the resident one stays).
#[cfg(target_os = "linux")]
pub fn setup(app: &mut App, shell: &Arc<Shell>, opts: &LaunchOptions) -> Result<(), Box<dyn std::error::Error>> {
    webkit::before_first_window();
    show_main(app.handle());
    if opts.window {
        follow_resident(shell.clone());
    }
    Ok(())
}

/// Nothing keeps this process once its window closes.
#[cfg(target_os = "linux")]
pub fn keep_running<R: Runtime>(_app: &AppHandle<R>) -> bool {
    false
}

/// The tray's count is the resident process's.
#[cfg(target_os = "linux")]
pub fn show_pending_count<R: Runtime>(_app: &AppHandle<R>, _n: usize, _lang: crate::Language) {}

/// Reads what the resident process asks this window to show, one [`inkan_tray::Open`] line
/// at a time on standard input, until the resident process goes.
#[cfg(target_os = "linux")]
fn follow_resident(shell: Arc<Shell>) {
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            match inkan_tray::Open::from_line(&line) {
                Some(open) => {
                    let shell = shell.clone();
                    tauri::async_runtime::spawn(async move { shell.show(open).await });
                }
                None => tracing::warn!("an unreadable line from the resident process was ignored"),
            }
        }
    });
}

/// WebKitGTK's settings for a small, short-lived window.
#[cfg(target_os = "linux")]
mod webkit {
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, MemoryPressureSettings, SettingsExt, WebContextExt, WebViewExt,
        WebsiteDataManager,
    };

    /// Where the embedded UI is served on Linux (Tauri's `tauri://` scheme).
    pub const APP_URL: &str = "tauri://localhost";

    /// The network process may use this much before WebKit frees its caches (MiB).
    pub const NETWORK_MEMORY_LIMIT_MIB: u32 = 64;

    /// Once, before the first window: the network process's memory-pressure limits.
    pub fn before_first_window() {
        let mut pressure = MemoryPressureSettings::new();
        pressure.set_memory_limit(NETWORK_MEMORY_LIMIT_MIB);
        WebsiteDataManager::set_memory_pressure_settings(&mut pressure);
    }

    /// Before the first load: software rendering (no GL context, compositor or DMA-BUF
    /// buffers for a window of text and buttons), the document-viewer cache model (no page
    /// cache, no back/forward cache), and nothing the UI does not use.
    pub fn tune(view: &webkit2gtk::WebView) {
        if let Some(context) = view.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
        if let Some(settings) = WebViewExt::settings(view) {
            // Saves about 60 MiB in the web process. Not under WebDriver: WebKitWebDriver's
            // screenshots never complete on a view without compositing (WebKitGTK 2.50), and
            // the real-window test takes them; tests/tray.rs runs the window as customers do.
            if !crate::under_automation() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
            settings.set_enable_page_cache(false);
            settings.set_enable_webgl(false);
            settings.set_enable_webaudio(false);
            settings.set_enable_media(false);
            settings.set_enable_html5_database(false);
            settings.set_enable_html5_local_storage(false);
        }
    }
}

// ---- macOS, Windows: this process keeps the tray ------------------------------------------

#[cfg(not(target_os = "linux"))]
const TRAY_ID: &str = "inkan";

/// Whether the app lives on in the tray once its window closes (a tray icon was made).
#[cfg(not(target_os = "linux"))]
pub struct Resident(pub bool);

/// With the default profile a second launch (for instance the OS opening an `inkan://` link)
/// hands its arguments to the running app and exits; QA's `--profile` devices are separate
/// instances by design.
#[cfg(not(target_os = "linux"))]
pub fn plugins<R: Runtime>(builder: tauri::Builder<R>, opts: &LaunchOptions) -> tauri::Builder<R> {
    if opts.profile.is_some() {
        return builder;
    }
    builder.plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
        let Some(shell) = app.try_state::<Arc<Shell>>() else { return };
        let open = match argv.iter().find(|a| a.starts_with("inkan:")) {
            Some(link) => inkan_tray::Open::Link { link: link.clone() },
            None => inkan_tray::Open::Window,
        };
        let shell = shell.inner().clone();
        tauri::async_runtime::spawn(async move { shell.show(open).await });
    }))
}

#[cfg(not(target_os = "linux"))]
pub fn setup(app: &mut App, shell: &Arc<Shell>, opts: &LaunchOptions) -> Result<(), Box<dyn std::error::Error>> {
    use tauri::menu::{Menu, MenuItem};
    use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
    use tauri_plugin_deep_link::DeepLinkExt;
    let lang = shell.settings().language;
    let open = MenuItem::with_id(app, "open", text::menu_open(lang), true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", text::menu_quit(lang), true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let open_from_tray = |app: &AppHandle<_>| {
        if let Some(shell) = app.try_state::<Arc<Shell>>() {
            shell.open_from_tray();
        }
    };
    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(text::pending_count(0, lang))
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(move |app, event| match event.id.as_ref() {
            "open" => open_from_tray(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(move |tray, event| {
            if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                open_from_tray(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    let has_tray = match tray.build(app) {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "no tray icon");
            false
        }
    };
    app.manage(Resident(has_tray));
    if !(has_tray && (opts.minimised || shell.settings().start_minimised)) {
        show_main(app.handle());
    }
    // Links the OS opens while the app runs (macOS).
    let s = shell.clone();
    app.deep_link().on_open_url(move |event| {
        if let Some(url) = event.urls().first() {
            let (s, link) = (s.clone(), url.to_string());
            tauri::async_runtime::spawn(async move { s.show(inkan_tray::Open::Link { link }).await });
        }
    });
    if std::env::args().any(|a| a == "--register-scheme") {
        // Bundles register `inkan://` at install; an unbundled binary can ask for it.
        app.deep_link().register_all()?;
    }
    Ok(())
}

/// The app's last window closed: it stays in the tray when there is one.
#[cfg(not(target_os = "linux"))]
pub fn keep_running<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<Resident>().is_some_and(|r| r.0)
}

#[cfg(not(target_os = "linux"))]
pub fn show_pending_count<R: Runtime>(app: &AppHandle<R>, n: usize, lang: crate::Language) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let label = text::pending_count(n, lang);
        let _ = tray.set_tooltip(Some(&label));
        let _ = tray.set_title(if n == 0 { None } else { Some(n.to_string()) });
    }
}
