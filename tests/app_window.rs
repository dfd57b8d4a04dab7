//! The real app window: the release-shaped `inkan-app` binary under Xvfb, driven through
//! tauri-driver + WebKitWebDriver, against the real server and the real Secret Service
//! keychain. Run by scripts/test inside `xvfb-run` and `scripts/with-keyring` after
//! `cargo build --bins`; it fails (never skips) when any of those is missing.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use inkan_e2e::{TestServer, login, platform_keys, withdrawal};
use inkan_protocol::{ChallengeState, ErrorCode};
use serde_json::{Value, json};

/// How long the window test waits for something to appear on screen.
const UI_WAIT: Duration = Duration::from_secs(20);
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn app_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("INKAN_APP_BIN") {
        return p.into();
    }
    // target/debug/deps/app_window-… -> target/debug/inkan-app
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("inkan-app");
    assert!(bin.exists(), "{} is missing: build it first (`cargo build --bins`, as scripts/test does)", bin.display());
    bin
}

fn tauri_driver() -> PathBuf {
    let from_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("tauri-driver")).find(|p| p.exists()));
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"));
    from_path.or(home.filter(|p| p.exists())).expect("tauri-driver is missing: scripts/install-deps installs it")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Driver {
    child: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    artifacts: PathBuf,
}

impl Drop for Driver {
    /// Ends tauri-driver and everything it started (WebKitWebDriver, the app): they share a
    /// process group, so none is left holding the test's output open.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
    }
}

impl Driver {
    async fn start_with_env(profile: &std::path::Path, env: &[(&str, &str)]) -> Driver {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "no X display: run this test under xvfb-run (scripts/test does)"
        );
        let (port, native) = (free_port(), free_port());
        let child = Command::new(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .env("INKAN_PROFILE", profile)
            .env("RUST_LOG", "warn,inkan_app=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("tauri-driver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + UI_WAIT;
        let session = loop {
            let resp = http
                .post(format!("{base}/session"))
                .json(&json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app_binary()}}}}))
                .send()
                .await;
            match resp {
                Ok(r) => {
                    let v: Value = r.json().await.unwrap();
                    break v["value"]["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
                        .to_owned();
                }
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => panic!("tauri-driver did not answer: {e}"),
            }
        };
        let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-artifacts/app");
        std::fs::create_dir_all(&artifacts).unwrap();
        Driver { child, http, base, session, artifacts }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    async fn find(&self, css: &str) -> Option<String> {
        let v =
            self.call(reqwest::Method::POST, "/elements", Some(json!({"using": "css selector", "value": css}))).await;
        v.as_array().and_then(|a| a.first()).and_then(|e| e[ELEMENT].as_str()).map(str::to_owned)
    }

    /// Waits for an element to be on screen (the UI reacts to pushes; there is no fixed delay).
    async fn wait(&self, css: &str) -> String {
        let deadline = Instant::now() + UI_WAIT;
        loop {
            if let Some(id) = self.find(css).await {
                return id;
            }
            if Instant::now() > deadline {
                self.screenshot("timeout").await;
                let body = self
                    .call(
                        reqwest::Method::POST,
                        "/execute/sync",
                        Some(json!({"script": "return document.body.innerText", "args": []})),
                    )
                    .await;
                panic!("{css} did not appear within {UI_WAIT:?}; the window shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Runs `step` on the element `css` names, finding it again and repeating while WebDriver
    /// answers with an error (a re-render replaced it: the inbox re-renders the window whenever
    /// a challenge comes or goes; or something still covers it); fails after [`UI_WAIT`].
    async fn on_element(&self, css: &str, what: &str, step: impl AsyncFn(&str) -> Value) -> Value {
        let deadline = Instant::now() + UI_WAIT;
        loop {
            let id = self.wait(css).await;
            let v = step(&id).await;
            match v.get("error").and_then(Value::as_str) {
                None => return v,
                Some(e) if Instant::now() < deadline => eprintln!("{what} {css}: {e}; again"),
                Some(e) => panic!("{what} {css}: {e}: {v}"),
            }
        }
    }

    async fn click(&self, css: &str) {
        self.on_element(css, "click", async |id| {
            // Into the middle of the scrolling area, clear of the bottom tab bar.
            let script = json!({"script": "arguments[0].scrollIntoView({block: 'center'})", "args": [{ELEMENT: id}]});
            self.call(reqwest::Method::POST, "/execute/sync", Some(script)).await;
            self.call(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({}))).await
        })
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, "type into", async |id| {
            let cleared = self.call(reqwest::Method::POST, &format!("/element/{id}/clear"), Some(json!({}))).await;
            if cleared.get("error").is_some() {
                return cleared;
            }
            self.call(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text}))).await
        })
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let v = self
            .on_element(css, "text of", async |id| {
                self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None).await
            })
            .await;
        v.as_str().unwrap_or_else(|| panic!("text of {css}: {v}")).to_owned()
    }

    /// A screenshot named for the state `css` shows, taken once that element is on screen:
    /// scrolled into view, then painted.
    async fn shot(&self, name: &str, css: &str) {
        self.on_element(css, "show", async |id| {
            let script = json!({"script": "arguments[0].scrollIntoView({block: 'center'})", "args": [{ELEMENT: id}]});
            self.call(reqwest::Method::POST, "/execute/sync", Some(script)).await
        })
        .await;
        // A moment for the scroll to be painted (WebKitWebDriver's async scripts do not run
        // here; this wait is for the picture only, nothing is asserted on time).
        tokio::time::sleep(Duration::from_millis(150)).await;
        self.screenshot(name).await;
    }

    async fn screenshot(&self, name: &str) {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        if let Some(b64) = v.as_str()
            && let Ok(png) = base64::engine::general_purpose::STANDARD.decode(b64)
        {
            let _ = std::fs::write(self.artifacts.join(format!("{name}.png")), png);
        }
    }

    async fn quit(&self) {
        self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await.ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_approve_a_withdrawal_then_report_not_me_in_the_real_window() {
    let keys = platform_keys();
    let mut server = TestServer::start().await;
    let account = "20000001";
    let profile = tempfile::tempdir().unwrap();
    let loopback_port = free_port();
    let ui = Driver::start_with_env(profile.path(), &[("INKAN_LOOPBACK_PORT", &loopback_port.to_string())]).await;
    ui.wait("nav .tab").await;
    ui.shot("01-start", "nav .tab[aria-current=page]").await;

    // Bad input first: a garbage link is refused with a clear message and nothing is kept.
    ui.click("button.tab[data-screen=enroll]").await;
    ui.type_into("#link", "https://example.com/not-an-inkan-link").await;
    ui.click("#read-link").await;
    assert!(ui.text("[data-code=uri_wrong_scheme]").await.contains("Inkan の登録用リンクではありません"));

    // An image without a QR code, opened from the file picker.
    let images = tempfile::tempdir().unwrap();
    let no_qr = images.path().join("no-qr.png");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/../icons/icon.png"), &no_qr).unwrap();
    ui.type_into("#qr-file", no_qr.to_str().unwrap()).await;
    assert!(ui.text("[data-code=qr_not_found]").await.contains("QR コードが見つかりませんでした"));

    // Enroll from the ticket's QR image: the preview shows server and masked account before
    // confirming. The server is down at first: a clear error, nothing enrolled, the preview
    // kept; once it is back, the same confirm enrolls.
    let ticket = server.ticket(account).await;
    let qr = images.path().join("ticket.png");
    std::fs::write(&qr, base64::engine::general_purpose::STANDARD.decode(&ticket.qr_png_base64).unwrap()).unwrap();
    ui.type_into("#qr-file", qr.to_str().unwrap()).await;
    assert_eq!(ui.text(".row.server dd").await, "127.0.0.1");
    assert!(ui.text(".row.account dd").await.contains("****0001"), "the account is masked");
    ui.shot("02-enroll-preview", ".preview .row.account").await;
    server.kill();
    ui.click("#confirm-enroll").await;
    assert!(ui.text("[data-code=server_unreachable]").await.contains("サーバーに接続できません"));
    assert!(!profile.path().join("accounts.json").exists(), "nothing enrolled while the server was down");
    server.restart().await;
    ui.click("#confirm-enroll").await;
    ui.wait("[data-state=enrolled]").await;
    ui.shot("03-enrolled", "[data-state=enrolled]").await;
    let devices = server.devices(account).await;
    assert_eq!(devices.len(), 1, "the server has the new device");
    // The device key went into the real keychain, not a file.
    let accounts: Value =
        serde_json::from_slice(&std::fs::read(profile.path().join("accounts.json")).unwrap()).unwrap();
    let local_id = accounts[0]["id"].as_str().expect("one local account").to_owned();
    assert!(keys.get(&format!("{local_id}/device-key")).unwrap().is_some(), "device key in the Secret Service");
    let totp = keys.get(&format!("{local_id}/totp")).unwrap().expect("offline-code secret in the Secret Service");
    let totp_text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*totp);
    for file in std::fs::read_dir(profile.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(&totp_text), "no secret in the profile's files");
    }

    // The same ticket again: refused by the server, said plainly, nothing half-enrolled.
    ui.click("button.tab[data-screen=enroll]").await;
    ui.type_into("#link", &ticket.uri).await;
    ui.click("#read-link").await;
    ui.click("#confirm-enroll").await;
    assert!(ui.text("[data-code=ticket_already_used]").await.contains("すでに使われています"));
    assert_eq!(server.devices(account).await.len(), 1);

    // A withdrawal challenge arrives live; the card shows amount and destination.
    ui.click("button.tab[data-screen=pending]").await;
    ui.wait("[data-channel], .empty").await;
    let created = server.challenge(account, withdrawal(1_250_000), true).await;
    let number = created.number_to_show.clone().expect("number matching");
    let card = format!("article.card[data-challenge=\"{}\"]", created.challenge_id);
    ui.wait(&card).await;
    ui.click(&format!("{card} button")).await;
    assert_eq!(ui.text(".amount.big").await, "1,250,000 円");
    assert!(ui.text(".row.dest dd").await.contains("****5678"));
    ui.shot("04-withdrawal", ".amount.big").await;

    // A wrong number denies that request at once (and counts as a failure); the window says so.
    let wrong: String = number.chars().map(|c| if c == '9' { '0' } else { '9' }).collect();
    ui.type_into("#number", &wrong).await;
    ui.click("#approve").await;
    ui.click("#confirm-approve").await;
    assert!(ui.text("[data-code=number_mismatch]").await.contains("数字が違うため"));
    assert_eq!(server.status(&created.challenge_id).await.state, ChallengeState::Failed);
    // It stays said after the inbox drops the request (no "handled elsewhere"), with no way
    // to answer again.
    ui.wait(&format!("[data-challenge=\"{}\"] [data-code=number_mismatch]", created.challenge_id)).await;
    assert!(ui.find("#approve").await.is_none());
    // The brokerage's page starts again: a new request, the right number approves.
    ui.click("button.tab[data-screen=pending]").await;
    let created = server.challenge(account, withdrawal(1_250_000), true).await;
    let number = created.number_to_show.clone().expect("number matching");
    let card = format!("article.card[data-challenge=\"{}\"]", created.challenge_id);
    ui.click(&format!("{card} button")).await;
    ui.type_into("#number", &number).await;
    ui.click("#approve").await;
    ui.shot("05-confirm", "#confirm-approve").await;
    ui.click("#confirm-approve").await;
    ui.wait("[data-state=approved]").await;
    ui.shot("06-approved", "[data-state=approved]").await;
    assert_eq!(server.wait(&created.challenge_id, 5).await.state, ChallengeState::Approved);

    // Same-device approval: the site's page in a browser here hands over its login through the
    // loopback port. Another origin is refused; the enrolled one opens the challenge in the
    // window with the number filled in, and the person confirms.
    ui.click("button.tab[data-screen=pending]").await;
    let created = server.challenge(account, login(), true).await;
    ui.wait(&format!("article.card[data-challenge=\"{}\"]", created.challenge_id)).await;
    let body = json!({"challenge_id": created.challenge_id, "number": created.number_to_show}).to_string();
    let (status, answer) = same_device(loopback_port, "https://inkan-shoken.example", &body).await;
    assert_eq!((status, answer["error"].as_str()), (403, Some("origin_not_enrolled")));
    let (status, answer) = same_device(loopback_port, &server.site_origin, &body).await;
    assert_eq!((status, answer["state"].as_str()), (200, Some("shown")), "{answer}");
    ui.wait(".same-device").await;
    ui.shot("06b-same-device", ".same-device").await;
    assert_eq!(server.status(&created.challenge_id).await.state, ChallengeState::Pending, "the person decides");
    ui.click("#approve").await;
    ui.click("#confirm-approve").await;
    ui.wait("[data-state=approved]").await;
    assert_eq!(server.wait(&created.challenge_id, 5).await.state, ChallengeState::Approved);

    // A login the person did not start: "this was not me" blocks further pushes.
    ui.click("button.tab[data-screen=pending]").await;
    let created = server.challenge(account, login(), true).await;
    let card = format!("article.card[data-challenge=\"{}\"]", created.challenge_id);
    ui.click(&format!("{card} button")).await;
    ui.click("#not-me").await;
    ui.click("#confirm-fraud").await;
    assert!(ui.text("[data-state=denied_fraud]").await.contains("プッシュ通知は停止されました"));
    ui.shot("07-not-me", "[data-state=denied_fraud]").await;
    assert_eq!(server.wait(&created.challenge_id, 5).await.state, ChallengeState::DeniedFraud);
    assert!(server.push_state(account).await.push_blocked);
    let refused = server.try_challenge(account, login(), true).await.expect_err("pushes are blocked");
    assert_eq!(refused.code, ErrorCode::PushBlocked);

    // History shows both decisions; settings switch the window to English.
    ui.click("button.tab[data-screen=history]").await;
    ui.wait(".history li:nth-child(2)").await;
    ui.click("button.tab[data-screen=settings]").await;
    ui.click("input[name=lang][value=en]").await;
    assert_eq!(ui.text("button.tab[data-screen=history]").await, "History");
    ui.shot("08-english", "button.tab[data-screen=history]").await;
    ui.quit().await;
}

/// What the site's page does for same-device approval: POST with its `Origin`.
async fn same_device(port: u16, origin: &str, body: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/approve"))
        .header("origin", origin)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("the app listens on its loopback port");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keychain_the_window_says_so_and_nothing_is_enrolled() {
    let server = TestServer::start().await;
    let profile = tempfile::tempdir().unwrap();
    // The app's session bus has no Secret Service (nor anything else).
    let ui = Driver::start_with_env(
        profile.path(),
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/inkan-test-bus"), ("INKAN_LOOPBACK_PORT", "0")],
    )
    .await;
    let ticket = server.ticket("20000002").await;
    ui.click("button.tab[data-screen=enroll]").await;
    ui.type_into("#link", &ticket.uri).await;
    ui.click("#read-link").await;
    ui.click("#confirm-enroll").await;
    assert!(ui.text("[data-code=keychain_unavailable]").await.contains("キーチェーンが使えません"));
    ui.shot("09-no-keychain", "[data-code=keychain_unavailable]").await;
    assert!(server.devices("20000002").await.is_empty(), "the ticket was not spent");
    assert!(!profile.path().join("accounts.json").exists());
    ui.quit().await;
}
