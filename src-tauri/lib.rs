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
mod settings;
mod shell;
mod text;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::Manager;

pub use error::CommandError;
pub use settings::{AppSettings, Language, Theme};
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
                a if a.starts_with("inkan:") => opts.link = Some(a.to_owned()),
                _ => {}
            }
        }
        opts
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
    let builder = tauri::Builder::default();
    #[cfg(desktop)]
    let builder = desktop::plugins(builder, &opts);
    #[cfg(mobile)]
    let builder = mobile::plugins(builder);
    builder
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
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
        .run(tauri::generate_context!())
        .expect("the Inkan app could not start");
}
