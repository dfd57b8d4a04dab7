//! The app resident in the tray, on a real desktop ([`TestDesktop`]: Xvfb, the Xfce window
//! manager and panel, whose system tray is the StatusNotifierItem host, dunst as the
//! notification daemon, a private bus with the real keychain). With no window open the app is
//! its resident process alone (`inkan-tray`, no WebKit); a request raises a notification with
//! the right words and the pending count in the tray; a click on the notification starts the
//! window straight onto the request; a request decided elsewhere withdraws its notification;
//! closing the window ends the window's processes and the resident one stays. A launch of
//! `inkan-app` hands its link to the running resident process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inkan_e2e::desktop::{DESKTOP_WAIT, TestDesktop, poll_pause, process_tree};
use inkan_e2e::{TestServer, login, withdrawal, workspace_bin};

/// The window's title (`desktop::build_main` names it).
const WINDOW_TITLE: &str = "Inkan 印鑑";

/// The resident process, with the lines it prints in measure mode (the window's included).
struct Resident {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Resident {
    fn start(desktop: &TestDesktop, profile: &std::path::Path) -> Resident {
        let mut child = desktop
            .command(workspace_bin("inkan-tray"))
            .arg("--profile")
            .arg(profile)
            .env("INKAN_APP_BIN", workspace_bin("inkan-app"))
            .env("INKAN_APP_MEASURE", "1")
            .env("INKAN_LOOPBACK_PORT", "0")
            .env("RUST_LOG", "warn,inkan_tray=debug,inkan_app=debug")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the resident process starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (out, sink) = (child.stdout.take().unwrap(), lines.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Resident { child, lines }
    }

    /// Waits for a measure line that starts with `prefix`.
    fn wait_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + DESKTOP_WAIT;
        loop {
            if let Some(l) = self.lines.lock().unwrap().iter().find(|l| l.starts_with(prefix)) {
                return l.clone();
            }
            assert!(Instant::now() < deadline, "no {prefix:?} among {:?}", self.lines.lock().unwrap());
            poll_pause(Duration::from_millis(25));
        }
    }

    /// The names of the processes the app runs: this one and what it started.
    fn processes(&self) -> Vec<String> {
        process_tree(self.child.id()).into_iter().map(|(_, n)| n).collect()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Resident {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            poll_pause(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a screen locker says on the freedesktop interface; here the test plays the locker
/// (the one part of this desktop that is not a real program: Xvfb has no lock screen).
struct ScreenSaver {
    active: bool,
}

#[zbus::interface(name = "org.freedesktop.ScreenSaver")]
impl ScreenSaver {
    fn get_active(&self) -> bool {
        self.active
    }
}

/// Enrolls this device profile with the CLI, on the desktop's keychain.
fn enroll_with_cli(desktop: &TestDesktop, profile: &std::path::Path, uri: &str) {
    let status = desktop
        .command(workspace_bin("inkan"))
        .arg("--profile")
        .arg(profile)
        .args(["enroll", uri, "--name", "デスクトップ"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "inkan enroll");
}

/// The resident process's tray icon, once the panel holds it.
fn tray_item(desktop: &TestDesktop) -> (String, String) {
    desktop.wait_until("the app's tray icon", || desktop.tray_items().into_iter().next())
}

fn wait_tooltip(desktop: &TestDesktop, item: &(String, String), want: &str) {
    desktop.wait_until(&format!("the tray saying {want:?}"), || {
        (desktop.tray_tooltip(item).as_deref() == Some(want)).then_some(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resident_in_the_tray_notifies_and_opens_the_window_onto_the_request() {
    let desktop = TestDesktop::start();
    let server = TestServer::start().await;
    let profile = tempfile::tempdir().unwrap();
    let (account, other) = ("30000001", "30000002");
    for a in [account, other] {
        enroll_with_cli(&desktop, profile.path(), &server.ticket(a).await.uri);
    }

    // In the tray: no window, no WebKit; the icon registered with the panel.
    let mut app = Resident::start(&desktop, profile.path());
    let item = tray_item(&desktop);
    assert_eq!(desktop.tray_property(&item, "Status").as_deref(), Some("Active"), "{item:?}");
    wait_tooltip(&desktop, &item, "Inkan：承認待ちはありません");
    assert_eq!(app.processes(), vec!["inkan-tray".to_owned()], "resident in the tray, the app is one process");
    assert!(desktop.windows().iter().all(|w| w != WINDOW_TITLE), "no window: {:?}", desktop.windows());

    // A withdrawal: a notification naming the brokerage, the amount and the destination, and
    // the count in the tray. No window is made for it.
    let wd = server.challenge(account, withdrawal(1_250_000), true).await;
    let shown = desktop.wait_notification(1);
    assert_eq!(shown.app, "Inkan");
    assert_eq!(shown.summary, "出金の承認依頼");
    assert_eq!(shown.body, "いんかん証券：1,250,000円 → みずほ銀行 渋谷支店 ****5678");
    app.wait_line(&format!("notified id={}", wd.challenge_id));
    wait_tooltip(&desktop, &item, "Inkan：承認待ち 1 件");
    assert_eq!(desktop.tray_property(&item, "Status").as_deref(), Some("NeedsAttention"));
    assert_eq!(app.processes(), vec!["inkan-tray".to_owned()], "a notification makes no window");

    // The screen is locked: the next request names only what it is and who asks.
    let locker = zbus::connection::Builder::address(desktop.bus.as_str())
        .unwrap()
        .name("org.freedesktop.ScreenSaver")
        .unwrap()
        .serve_at("/org/freedesktop/ScreenSaver", ScreenSaver { active: true })
        .unwrap()
        .build()
        .await
        .unwrap();
    let lg = server.challenge(other, login(), true).await;
    let shown = desktop.wait_notification(2);
    assert_eq!(shown.summary, "ログインの承認依頼");
    assert_eq!(shown.body, "いんかん証券：アプリで内容を確認してください");
    drop(locker);
    for n in desktop.notifications() {
        assert!(!n.body.contains(&wd.challenge_id) && !n.body.contains(&lg.challenge_id), "no ids: {n:?}");
    }
    wait_tooltip(&desktop, &item, "Inkan：承認待ち 2 件");

    // The login is withdrawn by the brokerage: its notification goes, the count drops.
    let cancelled = server
        .http
        .post(format!("{}/v1/rp/challenges/{}/cancel", server.origin, lg.challenge_id))
        .bearer_auth(&server.api_key)
        .send()
        .await
        .unwrap();
    assert!(cancelled.status().is_success(), "{}", cancelled.status());
    desktop.wait_until("the withdrawn request's notification closed", || (desktop.displayed() == 1).then_some(()));
    wait_tooltip(&desktop, &item, "Inkan：承認待ち 1 件");

    // A click on the withdrawal's notification starts the window onto that request.
    desktop.click_notification();
    app.wait_line(&format!("notification_clicked id={}", wd.challenge_id));
    app.wait_line("focus_taken kind=challenge");
    app.wait_line(&format!("card_painted id={}", wd.challenge_id));
    desktop.wait_until("the window", || desktop.windows().iter().any(|w| w == WINDOW_TITLE).then_some(()));
    let with_window = app.processes();
    assert!(with_window.contains(&"inkan-app".to_owned()), "{with_window:?}");
    assert!(with_window.iter().any(|n| n.starts_with("WebKitWebProces")), "{with_window:?}");

    // Closing the window ends the window's processes; the resident one stays, count and all.
    desktop.close_window(WINDOW_TITLE);
    desktop
        .wait_until("the window's processes gone", || (app.processes() == vec!["inkan-tray".to_owned()]).then_some(()));
    assert!(app.running(), "the app stays in the tray");
    assert_eq!(desktop.tray_tooltip(&item).as_deref(), Some("Inkan：承認待ち 1 件"));

    // A second click (a new request) starts the window again.
    let _ = desktop.command("dunstctl").arg("close-all").status();
    let wd2 = server.challenge(other, withdrawal(30_000), true).await;
    app.wait_line(&format!("notified id={}", wd2.challenge_id));
    desktop.click_notification();
    app.wait_line(&format!("card_painted id={}", wd2.challenge_id));
    assert!(app.running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_hands_its_link_to_the_resident_process() {
    let desktop = TestDesktop::start();
    let server = TestServer::start().await;
    let profile = tempfile::tempdir().unwrap();
    let app = Resident::start(&desktop, profile.path());
    tray_item(&desktop);
    // The OS opens an inkan:// link by starting the app: that launch hands the link to the
    // running resident process and ends; the window opens onto what the link enrolls.
    let ticket = server.ticket("30000003").await;
    let launch = desktop
        .command(workspace_bin("inkan-app"))
        .arg(&ticket.uri)
        .env("INKAN_PROFILE", profile.path())
        .env("INKAN_TRAY_BIN", workspace_bin("inkan-tray"))
        .output()
        .unwrap();
    assert!(launch.status.success(), "{}", String::from_utf8_lossy(&launch.stderr));
    app.wait_line("focus_taken kind=link");
    desktop.wait_until("the window", || desktop.windows().iter().any(|w| w == WINDOW_TITLE).then_some(()));
    assert_eq!(
        app.processes().iter().filter(|n| *n == "inkan-tray").count(),
        1,
        "one resident process: {:?}",
        app.processes()
    );
    assert!(server.devices("30000003").await.is_empty(), "nothing enrolled before the person confirms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_starts_the_resident_process_once() {
    let desktop = TestDesktop::start();
    let profile = tempfile::tempdir().unwrap();
    let name = inkan_tray::launcher::bus_name(profile.path());
    assert!(!desktop.has_name(&name));
    let launch = |args: &[&str]| {
        desktop
            .command(workspace_bin("inkan-app"))
            .args(args)
            .env("INKAN_PROFILE", profile.path())
            .env("INKAN_TRAY_BIN", workspace_bin("inkan-tray"))
            .env("INKAN_LOOPBACK_PORT", "0")
            .output()
            .unwrap()
    };
    // Started in the tray (as at log-in): the launch starts the resident process and ends.
    let first = launch(&["--minimised"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(desktop.has_name(&name), "the resident process owns the profile's name");
    let pid = desktop.name_owner_pid(&name);
    // Again: the same resident process, not a second one.
    let again = launch(&["--minimised"]);
    assert!(again.status.success());
    assert_eq!(desktop.name_owner_pid(&name), pid);
    // A bad link is the window's to explain; the launch itself succeeds.
    assert!(launch(&["inkan://enroll?v=1"]).status.success());
    let _ =
        desktop.busctl(&["call", &name, inkan_tray::launcher::OBJECT_PATH, inkan_tray::launcher::INTERFACE, "Quit"]);
    desktop.wait_until("the resident process gone", || (!desktop.has_name(&name)).then_some(()));
}
