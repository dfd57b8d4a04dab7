//! The Inkan app's Tauri shell: typed commands and events over `inkan-core`, and the desktop
//! and mobile edges (tray, notifications, single instance, deep links, user verification).
//!
//! It is deliberately thin: enrolling, checking challenges, signing and the push channel are
//! the core's; the shell keeps the live inbox, turns the core's events into UI events, and
//! carries stable error codes ([`CommandError`]) that the UI turns into Japanese or English.
//! The webview never sees a private key, an offline-code secret or an enrollment ticket:
//! links are kept here and shown only as a [`LinkPreview`].
#![forbid(unsafe_code)]

mod commands;
#[cfg(desktop)]
mod desktop;
mod error;
#[cfg(mobile)]
mod mobile;
mod shell;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::Manager;

pub use error::CommandError;
pub use inkan_tray::{AppSettings, Language, Theme};
pub use shell::Shell;
pub use views::*;

#[cfg(desktop)]
use desktop::verify_user;
#[cfg(mobile)]
use mobile::verify_user;

/// How the app was started: from the command line (desktop) or the platform (mobile).
#[derive(Debug, Default, Clone)]
pub struct LaunchOptions {
    /// `--profile DIR` or `INKAN_PROFILE`: a separate device (for QA, several side by side).
    pub profile: Option<PathBuf>,
    /// `--minimised`: start in the tray only.
    pub minimised: bool,
    /// `--window` (Linux): this process is the window the resident process started; it reads
    /// what to show on standard input and reports changes on standard output.
    pub window: bool,
    /// An `inkan://enroll?...` link given as an argument (desktop deep links arrive so).
    pub link: Option<String>,
    /// `INKAN_APP_MEASURE=1`: print start-up and paint timings on standard output.
    pub measure: bool,
}

impl LaunchOptions {
    pub fn from_env() -> Self {
        let mut opts =
            LaunchOptions { profile: std::env::var_os("INKAN_PROFILE").map(PathBuf::from), ..Default::default() };
        opts.measure = std::env::var("INKAN_APP_MEASURE").is_ok_and(|v| v == "1");
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--profile" => opts.profile = args.next().map(PathBuf::from),
                "--minimised" | "--minimized" => opts.minimised = true,
                "--window" => opts.window = true,
                a if a.starts_with("inkan:") => opts.link = Some(a.to_owned()),
                _ => {}
            }
        }
        opts
    }
}

/// Whether WebDriver drives this process (tauri-driver says so): it is then the window itself.
pub(crate) fn under_automation() -> bool {
    std::env::var("TAURI_WEBVIEW_AUTOMATION").is_ok_and(|v| v == "true")
}

/// Linux: a launch that is not the window hands what it was asked to the profile's resident
/// process (starting it when none runs) and ends; the exit status.
#[cfg(target_os = "linux")]
fn launch(opts: &LaunchOptions) -> i32 {
    let profile = match opts.profile.clone().map(Ok).unwrap_or_else(inkan_core::Profile::default_dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("エラー / Error: {e}");
            return 1;
        }
    };
    if std::env::args().any(|a| a == "--register-scheme") {
        // Bundles register `inkan://` at install; an unbundled binary asks for it here.
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
        let exe = std::env::current_exe();
        match (data, exe) {
            (Some(data), Ok(exe)) => match inkan_tray::launcher::register_scheme(&exe, &data) {
                Ok(file) => eprintln!("inkan:// を登録しました / registered inkan:// ({})", file.display()),
                Err(e) => {
                    eprintln!("エラー: inkan:// を登録できませんでした / Error: could not register inkan://: {e}")
                }
            },
            _ => eprintln!(
                "エラー: inkan:// を登録できませんでした / Error: could not register inkan://: no data directory"
            ),
        }
    }
    let open = match (&opts.link, opts.minimised) {
        (Some(link), _) => Some(inkan_tray::Open::Link { link: link.clone() }),
        (None, true) => None,
        (None, false) => Some(inkan_tray::Open::Window),
    };
    match inkan_tray::launcher::hand_over(&profile, open.as_ref(), &inkan_tray::launcher::tray_binary()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("エラー: Inkan を起動できませんでした / Error: Inkan could not start: {e}");
            1
        }
    }
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let started = std::time::Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,inkan_app=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let opts = LaunchOptions::from_env();
    #[cfg(target_os = "linux")]
    if !opts.window && !under_automation() {
        std::process::exit(launch(&opts));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = under_automation();
    let builder = tauri::Builder::default();
    #[cfg(desktop)]
    let builder = desktop::plugins(builder, &opts);
    #[cfg(mobile)]
    let builder = mobile::plugins(builder);
    #[cfg(not(target_os = "linux"))]
    let builder = builder.plugin(tauri_plugin_notification::init());
    builder
        .plugin(tauri_plugin_deep_link::init())
        .invoke_handler(commands::handler())
        .setup(move |app| {
            let shell = Arc::new(Shell::open(app.handle().clone(), &opts, started)?);
            app.manage(shell.clone());
            #[cfg(desktop)]
            desktop::setup(app, &shell, &opts)?;
            #[cfg(mobile)]
            mobile::setup(app, &shell)?;
            shell.start();
            #[cfg(desktop)]
            shell.start_loopback();
            if let Some(link) = &opts.link {
                shell.open_link(link, views::LinkSource::DeepLink);
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the Inkan app could not start")
        .run(|_app, _event| {
            // The window closed: with a tray the app stays, its Rust process alone.
            #[cfg(desktop)]
            if let tauri::RunEvent::ExitRequested { code: None, api, .. } = _event
                && desktop::keep_running(_app)
            {
                api.prevent_exit();
            }
        });
}
