//! The app's own preferences (language, theme, notifications, start in the tray), kept as a
//! small JSON file beside the profile's accounts. Nothing secret is in it. The window writes
//! it; the resident process reads it for each notification and tray label.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The settings file could not be read or written (its path and why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// The file in the profile directory.
pub const SETTINGS_FILE: &str = "app-settings.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Japanese first.
    #[default]
    Ja,
    En,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct AppSettings {
    pub language: Language,
    pub theme: Theme,
    /// An OS notification when a challenge arrives.
    pub notifications: bool,
    /// Start in the tray, without a window (desktop).
    pub start_minimised: bool,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings { language: Language::Ja, theme: Theme::System, notifications: true, start_minimised: false }
    }
}

fn path(dir: &Path) -> PathBuf {
    dir.join(SETTINGS_FILE)
}

impl AppSettings {
    /// The saved settings, or the defaults when there are none. A damaged file is reported,
    /// not silently replaced.
    pub fn load(dir: &Path) -> Result<Self, SettingsError> {
        match std::fs::read(path(dir)) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| SettingsError(format!("{}: {e}", path(dir).display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(SettingsError(format!("{}: {e}", path(dir).display()))),
        }
    }

    /// The saved settings, or the defaults (with a warning) when the file is unreadable.
    pub fn load_or_default(dir: &Path) -> Self {
        Self::load(dir).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "settings unreadable; using the defaults");
            Self::default()
        })
    }

    /// Saved through a temporary file and a rename, so a crash never leaves half a file.
    pub fn save(&self, dir: &Path) -> Result<(), SettingsError> {
        let tmp = dir.join(format!("{SETTINGS_FILE}.tmp"));
        let io = |e: std::io::Error| SettingsError(format!("{}: {e}", tmp.display()));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).expect("settings serialise")).map_err(io)?;
        std::fs::rename(&tmp, path(dir)).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(AppSettings::load(dir.path()).unwrap(), AppSettings::default());
        let s = AppSettings { language: Language::En, theme: Theme::Dark, notifications: false, start_minimised: true };
        s.save(dir.path()).unwrap();
        assert_eq!(AppSettings::load(dir.path()).unwrap(), s);
        // Older files lacking a field still load, with the default for it.
        std::fs::write(dir.path().join(SETTINGS_FILE), br#"{"language":"en"}"#).unwrap();
        assert_eq!(AppSettings::load(dir.path()).unwrap().language, Language::En);
        std::fs::write(dir.path().join(SETTINGS_FILE), b"{not json").unwrap();
        assert!(AppSettings::load(dir.path()).unwrap_err().0.contains(SETTINGS_FILE));
        assert_eq!(AppSettings::load_or_default(dir.path()), AppSettings::default());
    }
}
