//! How a launch of the app reaches the profile's resident process: `inkan-app` (the icon, a
//! deep link, the OS at log-in) starts `inkan-tray` for the profile when none runs, hands it
//! what to open over the session bus, and ends. One resident process runs per profile: it owns
//! the profile's well-known bus name ([`bus_name`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::protocol::Open;

/// The resident process's object and interface on the session bus.
pub const OBJECT_PATH: &str = "/jp/inkan/Tray";
pub const INTERFACE: &str = "jp.inkan.Tray1";
/// How long a launch waits for a resident process it started to take its bus name.
pub const START_WAIT: Duration = Duration::from_secs(15);

#[zbus::proxy(interface = "jp.inkan.Tray1", default_path = "/jp/inkan/Tray")]
trait Resident {
    /// Opens the window onto a [`Open`] (its JSON).
    fn open(&self, request: &str) -> zbus::Result<()>;
    /// Ends the resident process (and its window).
    fn quit(&self) -> zbus::Result<()>;
}

/// Why a launch could not reach the resident process.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("the session bus cannot be reached: {0}")]
    NoBus(String),
    #[error("{0} could not be started: {1}")]
    Start(String, String),
    #[error("the resident process did not start within {0:?}")]
    NotStarted(Duration),
    #[error("the resident process refused: {0}")]
    Refused(String),
}

/// The profile's bus name: one resident process per profile directory.
pub fn bus_name(profile: &Path) -> String {
    let path = profile.canonicalize().unwrap_or_else(|_| profile.to_path_buf());
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("jp.inkan.Tray.p{hex}")
}

/// `inkan-tray` beside this executable (`INKAN_TRAY_BIN` overrides).
pub fn tray_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("INKAN_TRAY_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.with_file_name("inkan-tray")
}

/// Hands `request` to the profile's resident process (`None`: only make sure it runs),
/// starting `tray` for the profile first when none runs.
pub fn hand_over(profile: &Path, request: Option<&Open>, tray: &Path) -> Result<(), LaunchError> {
    std::fs::create_dir_all(profile).map_err(|e| LaunchError::Start(profile.display().to_string(), e.to_string()))?;
    let conn = zbus::blocking::Connection::session().map_err(|e| LaunchError::NoBus(e.to_string()))?;
    let dbus = zbus::blocking::fdo::DBusProxy::new(&conn).map_err(|e| LaunchError::NoBus(e.to_string()))?;
    let name = bus_name(profile);
    let bus_name = zbus::names::BusName::try_from(name.as_str()).expect("a valid bus name");
    let running = |d: &zbus::blocking::fdo::DBusProxy| d.name_has_owner(bus_name.clone()).unwrap_or(false);
    if !running(&dbus) {
        start(profile, tray)?;
        let deadline = Instant::now() + START_WAIT;
        while !running(&dbus) {
            if Instant::now() > deadline {
                return Err(LaunchError::NotStarted(START_WAIT));
            }
            std::thread::park_timeout(Duration::from_millis(25));
        }
    }
    let Some(request) = request else { return Ok(()) };
    let proxy = ResidentProxyBlocking::builder(&conn)
        .destination(name.as_str())
        .and_then(|b| b.build())
        .map_err(|e| LaunchError::Refused(e.to_string()))?;
    proxy.open(&request.to_line()).map_err(|e| LaunchError::Refused(e.to_string()))
}

/// Starts the resident process for `profile`, on its own (it outlives this launch). Its log
/// goes to `resident.log` in the profile (the log holds no secrets).
fn start(profile: &Path, tray: &Path) -> Result<(), LaunchError> {
    let log = std::fs::File::create(profile.join("resident.log")).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
    std::os::unix::process::CommandExt::process_group(
        Command::new(tray).arg("--profile").arg(profile).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log),
        0,
    )
    .spawn()
    .map(drop)
    .map_err(|e| LaunchError::Start(tray.display().to_string(), e.to_string()))
}

/// The desktop entry that makes `inkan://` links open `exe` (what an installed bundle ships).
pub const SCHEME_HANDLER_FILE: &str = "inkan-app-handler.desktop";

/// `--register-scheme` for an unbundled binary: writes a desktop entry for `exe` handling
/// `x-scheme-handler/inkan` into `data_dir/applications` (`$XDG_DATA_HOME`, normally
/// `~/.local/share`) and makes it the default handler with `xdg-mime` where that exists. The
/// entry's path, or what could not be done.
pub fn register_scheme(exe: &Path, data_dir: &Path) -> Result<PathBuf, String> {
    let file = write_scheme_entry(exe, data_dir)?;
    // Both helpers come with desktop-file-utils / xdg-utils; without them the entry is still
    // found by desktops that scan the directory.
    let dir = data_dir.join("applications");
    let _ = Command::new("update-desktop-database").arg(&dir).stdout(Stdio::null()).stderr(Stdio::null()).status();
    match Command::new("xdg-mime").args(["default", SCHEME_HANDLER_FILE, "x-scheme-handler/inkan"]).status() {
        Ok(status) if status.success() => Ok(file),
        Ok(status) => Err(format!("xdg-mime default {SCHEME_HANDLER_FILE}: {status}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(file),
        Err(e) => Err(format!("xdg-mime: {e}")),
    }
}

/// Writes the scheme handler's desktop entry for `exe` into `data_dir/applications`.
fn write_scheme_entry(exe: &Path, data_dir: &Path) -> Result<PathBuf, String> {
    let dir = data_dir.join("applications");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join(SCHEME_HANDLER_FILE);
    // Exec quotes the path (desktop-entry rules: inside quotes, `"`, `` ` ``, `$` and `\` are
    // escaped with a backslash).
    let mut quoted = String::new();
    for c in exe.display().to_string().chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    let entry = format!(
        "[Desktop Entry]\nType=Application\nName=Inkan\nExec=\"{quoted}\" %u\nTerminal=false\nNoDisplay=true\nMimeType=x-scheme-handler/inkan;\n"
    );
    std::fs::write(&file, entry).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_bus_name_per_profile() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let name = super::bus_name(a.path());
        assert!(name.starts_with("jp.inkan.Tray.p") && name.len() == "jp.inkan.Tray.p".len() + 16);
        assert_eq!(name, super::bus_name(&a.path().join(".")), "the same directory, however written");
        assert_ne!(name, super::bus_name(b.path()));
        assert!(zbus::names::WellKnownName::try_from(name.as_str()).is_ok());
    }

    #[test]
    fn the_scheme_handler_entry_opens_the_binary_with_the_link() {
        let data = tempfile::tempdir().unwrap();
        let exe = std::path::Path::new("/opt/My \"Apps\"/inkan-app");
        let file = super::write_scheme_entry(exe, data.path()).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(file, data.path().join("applications").join(super::SCHEME_HANDLER_FILE));
        assert!(text.contains("Exec=\"/opt/My \\\"Apps\\\"/inkan-app\" %u\n"), "{text}");
        assert!(text.contains("MimeType=x-scheme-handler/inkan;\n"), "{text}");
    }
}
