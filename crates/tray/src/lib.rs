//! `inkan-tray`: the Inkan app's resident half on the Linux desktop, and what the app's two
//! processes share.
//!
//! The app runs as two processes. The resident one (`inkan-tray`, [`resident`]) sits in the
//! tray all day and links no GTK or WebKit: the live channels, the inbox, the tray icon
//! ([`icon`]), OS notifications ([`notifier`]) and the loopback port for same-device approval.
//! The window (`inkan-app --window`, the Tauri shell) is started when something is to be shown
//! and ends when it is closed, so a closed window costs nothing. A launch of `inkan-app`
//! reaches the resident process through [`launcher`]; the processes talk in [`protocol`].
//! The app's settings ([`settings`]) and the words shown outside the window ([`text`]) are here
//! because both processes use them.
//!
//! Not here: deciding anything about a request (the core does), and the window's screens.
#![forbid(unsafe_code)]

pub mod protocol;
pub mod settings;
pub mod text;

#[cfg(target_os = "linux")]
pub mod icon;
#[cfg(target_os = "linux")]
pub mod launcher;
#[cfg(target_os = "linux")]
pub mod notifier;
#[cfg(target_os = "linux")]
pub mod resident;

pub use protocol::{Open, WindowEvent};
pub use settings::{AppSettings, Language, SettingsError, Theme};
