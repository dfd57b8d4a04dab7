//! What the app's processes say to each other: the launcher and the tray ask the resident
//! process to open the window onto something ([`Open`], over the session bus), the resident
//! process hands the same to its window process (a JSON line each on its standard input), and
//! the window tells the resident process what changed ([`WindowEvent`], a JSON line each on its
//! standard output; other lines there are the window's measure-mode timings, passed through).

use serde::{Deserialize, Serialize};

/// What the window should show when it opens or comes forward.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "open", rename_all = "snake_case", deny_unknown_fields)]
pub enum Open {
    /// The window as it was (or its first screen).
    Window,
    /// The list of waiting requests.
    Pending,
    /// One waiting request (its notification was clicked).
    Challenge { id: String },
    /// A request a page in a browser on this computer handed over, with the number it shows.
    SameDevice { id: String, number: String },
    /// An enrollment link from outside (a deep link, a second launch). A secret until used.
    Link { link: String },
}

impl std::fmt::Debug for Open {
    /// Names what is opened, never the link (its ticket is a secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Open::Window => f.write_str("Window"),
            Open::Pending => f.write_str("Pending"),
            Open::Challenge { id } => write!(f, "Challenge({id})"),
            Open::SameDevice { id, .. } => write!(f, "SameDevice({id})"),
            Open::Link { .. } => f.write_str("Link([redacted])"),
        }
    }
}

impl Open {
    /// Its JSON line.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an Open serialises")
    }

    /// A line read back; `None` for anything else.
    pub fn from_line(line: &str) -> Option<Open> {
        serde_json::from_str(line.trim()).ok()
    }
}

/// What the window process tells the resident process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowEvent {
    /// An account was registered, renamed or removed: watch what the profile holds now.
    AccountsChanged,
}

impl WindowEvent {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a WindowEvent serialises")
    }

    pub fn from_line(line: &str) -> Option<WindowEvent> {
        let line = line.trim();
        line.starts_with('{').then(|| serde_json::from_str(line).ok())?
    }
}

/// Prints a measure-mode line, `<what> epoch_ms=<wall time>`, on standard output at once:
/// scripts/bench-app compares the stamps of the resident process and the window process.
pub fn print_measure_line(what: &str) {
    print_line(&format!("{what} epoch_ms={}", epoch_ms()))
}

/// One line on standard output, flushed at once.
pub fn print_line(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[allow(clippy::disallowed_methods)] // measurement output only: wall time for a script to compare
fn epoch_ms() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_links_stay_out_of_logs() {
        for open in [
            Open::Window,
            Open::Pending,
            Open::Challenge { id: "abc".into() },
            Open::SameDevice { id: "abc".into(), number: "471".into() },
            Open::Link { link: "inkan://enroll?v=1&ticket=SECRET".into() },
        ] {
            assert_eq!(Open::from_line(&open.to_line()), Some(open.clone()));
            assert!(!format!("{open:?}").contains("SECRET"));
        }
        assert_eq!(Open::from_line("{\"open\":\"bogus\"}"), None);
        assert_eq!(Open::from_line("not json"), None);
        assert_eq!(WindowEvent::from_line(&WindowEvent::AccountsChanged.to_line()), Some(WindowEvent::AccountsChanged));
        assert_eq!(WindowEvent::from_line("card_painted id=x epoch_ms=1"), None);
    }
}
