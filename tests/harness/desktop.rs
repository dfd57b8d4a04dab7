//! A throwaway desktop session for the app's tray and notification tests (and for
//! `scripts/bench-app`, through the `with-test-desktop` binary): its own X server (Xvfb), a
//! private session bus with an unlocked gnome-keyring, the Xfce window manager (closing a
//! window is what a customer's close button does) and panel (its systray is the
//! StatusNotifierItem host and watcher the app's tray icon registers with), and dunst as the
//! notification daemon. Each is the real program from Debian, started here and stopped when
//! the [`TestDesktop`] is dropped; nothing is shared with the session the tests run in.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the desktop waits for one of its parts, or for something to show on it.
pub const DESKTOP_WAIT: Duration = Duration::from_secs(20);

pub struct TestDesktop {
    dir: tempfile::TempDir,
    /// Started last, stopped first.
    children: Vec<(&'static str, Child)>,
    /// `:N`, the X display.
    pub display: String,
    /// The private session bus's address.
    pub bus: String,
}

/// A notification as the daemon showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub id: u32,
    pub app: String,
    pub summary: String,
    pub body: String,
}

/// The Xfce panel with one plugin, the system tray (StatusNotifierItems and XEmbed icons).
const PANEL_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="32"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray"/>
  </property>
</channel>
"#;

/// dunst: every notification is written to a log by a script rule (the test reads what was
/// shown); a click runs the default action.
fn dunstrc(log_script: &Path) -> String {
    format!(
        r#"[global]
    monitor = 0
    follow = none
    width = 420
    origin = top-right
    offset = 10x50
    idle_threshold = 0
    mouse_left_click = do_action, close_current
    history_length = 50
    startup_notification = false

[log_every_notification]
    appname = "*"
    script = {}
"#,
        log_script.display()
    )
}

impl TestDesktop {
    /// Starts every part and waits until each answers. Panics, naming what is missing (the
    /// packages come from `scripts/install-deps`).
    pub fn start() -> TestDesktop {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut children = Vec::new();
        let (display, xvfb) = start_xvfb();
        children.push(("Xvfb", xvfb));
        let config = dir.path().join("config");
        let panel_dir = config.join("xfce4/xfconf/xfce-perchannel-xml");
        std::fs::create_dir_all(&panel_dir).unwrap();
        std::fs::write(panel_dir.join("xfce4-panel.xml"), PANEL_XML).unwrap();
        let (data, runtime) = (dir.path().join("data"), dir.path().join("runtime"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&runtime).unwrap();
        std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        // The bus passes its environment to the services it starts (xfconfd, the keyring).
        let env = [
            ("DISPLAY", display.clone()),
            ("XDG_CONFIG_HOME", config.display().to_string()),
            ("XDG_DATA_HOME", data.display().to_string()),
            ("XDG_RUNTIME_DIR", runtime.display().to_string()),
            ("NO_AT_BRIDGE", "1".to_owned()),
        ];
        let mut daemon = Command::new("dbus-daemon");
        daemon.args(["--session", "--nofork", "--print-address=1"]).envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        let (line, bus_daemon) = spawn_reporting(daemon, "dbus-daemon (package dbus)");
        let bus = line.trim().to_owned();
        assert!(!bus.is_empty(), "dbus-daemon printed no address");
        children.push(("dbus-daemon", bus_daemon));
        let mut desktop = TestDesktop { dir, children, display, bus };
        desktop.unlock_keyring();
        for (name, args) in
            [("xfwm4", &["--compositor=off", "--sm-client-disable"][..]), ("xfce4-panel", &["--sm-client-disable"][..])]
        {
            let child = desktop
                .command(name)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{name}: {e} (packages xfwm4, xfce4-panel)"));
            desktop.children.push((name, child));
        }
        let script = desktop.dir.path().join("log-notification.sh");
        let log = desktop.notification_log();
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\t%s\\t%s\\t%s\\n' \"$DUNST_ID\" \"$DUNST_APP_NAME\" \"$DUNST_SUMMARY\" \"$DUNST_BODY\" >> '{}'\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let rc = desktop.dir.path().join("dunstrc");
        std::fs::write(&rc, dunstrc(&script)).unwrap();
        let dunst = desktop
            .command("dunst")
            .arg("-config")
            .arg(&rc)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("dunst: {e} (package dunst)"));
        desktop.children.push(("dunst", dunst));
        desktop.wait_for_name("org.freedesktop.Notifications");
        desktop.wait_for_name("org.kde.StatusNotifierWatcher");
        desktop
    }

    /// The environment a program needs to run on this desktop: its display and bus.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DISPLAY", self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus.clone()),
            ("XDG_RUNTIME_DIR", self.dir.path().join("runtime").display().to_string()),
            ("NO_AT_BRIDGE", "1".to_owned()),
        ]
    }

    /// A command that runs on this desktop.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env());
        c
    }

    fn notification_log(&self) -> PathBuf {
        self.dir.path().join("notifications.log")
    }

    /// An unlocked gnome-keyring on the private bus, as `scripts/with-keyring` makes one.
    fn unlock_keyring(&self) {
        let store = self.dir.path().join("keyring");
        std::fs::create_dir_all(&store).unwrap();
        let mut keyring = self
            .command("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .env("XDG_DATA_HOME", &store)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("gnome-keyring-daemon: {e} (package gnome-keyring)"));
        let password = inkan_server::random_token(18);
        keyring.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
        assert!(keyring.wait().unwrap().success(), "gnome-keyring-daemon did not start");
        self.wait_for_name("org.freedesktop.secrets");
    }

    /// Waits until `name` has an owner on the bus.
    pub fn wait_for_name(&self, name: &str) {
        self.wait_until(&format!("{name} on the session bus"), || self.has_name(name).then_some(()));
    }

    /// `busctl --address=BUS --json=short ARGS`, parsed; `None` when it fails.
    pub fn busctl(&self, args: &[&str]) -> Option<serde_json::Value> {
        let out = Command::new("busctl")
            .arg(format!("--address={}", self.bus))
            .arg("--json=short")
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Some(serde_json::Value::Null);
        }
        serde_json::from_slice(&out.stdout).ok().or(Some(serde_json::Value::Null))
    }

    /// Polls `check` until it answers, or panics after [`DESKTOP_WAIT`] naming `what`.
    pub fn wait_until<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + DESKTOP_WAIT;
        loop {
            if let Some(v) = check() {
                return v;
            }
            assert!(Instant::now() < deadline, "waited {DESKTOP_WAIT:?} for {what}");
            poll_pause(Duration::from_millis(50));
        }
    }

    /// The tray icons the panel's watcher holds, as `(bus name, object path)`.
    pub fn tray_items(&self) -> Vec<(String, String)> {
        let v = self.busctl(&[
            "get-property",
            "org.kde.StatusNotifierWatcher",
            "/StatusNotifierWatcher",
            "org.kde.StatusNotifierWatcher",
            "RegisteredStatusNotifierItems",
        ]);
        let items = v.as_ref().and_then(|v| v["data"].as_array()).cloned().unwrap_or_default();
        items
            .iter()
            .filter_map(|i| i.as_str())
            .map(|i| match i.find('/') {
                Some(at) => (i[..at].to_owned(), i[at..].to_owned()),
                None => (i.to_owned(), "/StatusNotifierItem".to_owned()),
            })
            .collect()
    }

    /// A tray icon's tooltip title (the StatusNotifierItem `ToolTip` is `(icon, pixmaps,
    /// title, description)`).
    pub fn tray_tooltip(&self, item: &(String, String)) -> Option<String> {
        let v = self.busctl(&["get-property", &item.0, &item.1, "org.kde.StatusNotifierItem", "ToolTip"])?;
        v["data"][2].as_str().map(str::to_owned)
    }

    /// Whether `name` has an owner on the bus now.
    pub fn has_name(&self, name: &str) -> bool {
        self.name_owner_pid(name).is_some()
    }

    /// The process id of `name`'s owner on the bus.
    pub fn name_owner_pid(&self, name: &str) -> Option<u32> {
        let out = Command::new("busctl")
            .arg(format!("--address={}", self.bus))
            .args(["status", name])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        out.status.success().then(|| text.lines().find_map(|l| l.strip_prefix("PID=")?.parse().ok()))?
    }

    /// A string property of a tray icon (`Title`, `Status`, …).
    pub fn tray_property(&self, item: &(String, String), property: &str) -> Option<String> {
        let v = self.busctl(&["get-property", &item.0, &item.1, "org.kde.StatusNotifierItem", property])?;
        v["data"].as_str().map(str::to_owned)
    }

    /// Every notification shown so far, oldest first.
    pub fn notifications(&self) -> Vec<Shown> {
        let text = std::fs::read_to_string(self.notification_log()).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut f = l.splitn(4, '\t');
                Some(Shown {
                    id: f.next()?.parse().ok()?,
                    app: f.next()?.to_owned(),
                    summary: f.next()?.to_owned(),
                    body: f.next()?.to_owned(),
                })
            })
            .collect()
    }

    /// Waits for the `n`th notification (1-based) and returns it.
    pub fn wait_notification(&self, n: usize) -> Shown {
        self.wait_until(&format!("notification #{n}"), || self.notifications().get(n - 1).cloned())
    }

    /// How many notifications the daemon shows now.
    pub fn displayed(&self) -> usize {
        let out = self.command("dunstctl").args(["count", "displayed"]).output().expect("dunstctl");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
    }

    /// Clicks the newest notification on screen (its default action), as a person would.
    pub fn click_notification(&self) {
        let status = self.command("dunstctl").args(["action", "0"]).status().expect("dunstctl");
        assert!(status.success(), "dunstctl action failed");
    }

    /// Closes a window by its title the way its close button does (the window manager asks
    /// the program to close it).
    pub fn close_window(&self, title: &str) {
        let status = self.command("wmctrl").args(["-c", title]).status().expect("wmctrl (package wmctrl)");
        assert!(status.success(), "wmctrl -c {title:?} failed");
    }

    /// Titles of the windows the window manager holds.
    pub fn windows(&self) -> Vec<String> {
        let out = self.command("wmctrl").arg("-l").output().expect("wmctrl (package wmctrl)");
        // "0x02600003  0 host Inkan 印鑑": id, desktop and host, then the title.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut rest = l.trim_start();
                for _ in 0..3 {
                    rest = rest.split_once(char::is_whitespace)?.1.trim_start();
                }
                Some(rest.to_owned())
            })
            .collect()
    }
}

impl Drop for TestDesktop {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(3);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                poll_pause(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The pause between two polls of an outside process (the panel, the notification daemon, an
/// exiting child) that offers nothing to wait on.
#[allow(clippy::disallowed_methods)] // polling other processes: there is no clock to inject
pub fn poll_pause(d: Duration) {
    std::thread::sleep(d);
}

/// Starts a daemon that reports where it listens as its first line of output (a display, a
/// bus address): that line, and the running daemon. `what` names it in a failure.
fn spawn_reporting(mut command: Command, what: &str) -> (String, Child) {
    let mut child =
        command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (line, child)
}

/// Xvfb on the first free display, which it reports itself.
fn start_xvfb() -> (String, Child) {
    let mut command = Command::new("Xvfb");
    command.args(["-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"]);
    let (line, xvfb) = spawn_reporting(command, "Xvfb (package xvfb)");
    let n: u32 = line.trim().parse().unwrap_or_else(|_| panic!("Xvfb reported no display: {line:?}"));
    (format!(":{n}"), xvfb)
}

/// A process and everything it started (the app's WebKit processes), by name, from /proc.
pub fn process_tree(pid: u32) -> Vec<(u32, String)> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
        let Some((name, rest)) = stat.split_once(" (").and_then(|(_, r)| r.rsplit_once(") ")) else { continue };
        let ppid = rest.split_whitespace().nth(1).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
        parent_of.push((p, ppid, name.to_owned()));
    }
    let mut tree = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        if let Some((_, _, name)) = parent_of.iter().find(|(q, _, _)| *q == p) {
            tree.push((p, name.clone()));
        }
        todo.extend(parent_of.iter().filter(|(_, pp, _)| *pp == p).map(|(q, _, _)| *q));
    }
    tree
}
