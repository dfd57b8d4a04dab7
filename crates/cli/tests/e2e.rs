//! The `inkan` CLI as QA automation drives it: separate processes, `--json` output, several
//! virtual devices side by side through `--profile`, the real keychain underneath.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use base64::Engine;
use inkan_e2e::*;
use serde_json::Value;

struct Cli {
    bin: std::path::PathBuf,
    profile: std::path::PathBuf,
}

impl Cli {
    fn new(t: &TestServer, name: &str) -> Cli {
        Cli { bin: env!("CARGO_BIN_EXE_inkan").into(), profile: t.dir.path().join(name) }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--profile").arg(&self.profile).arg("--json").args(args).stdin(Stdio::null());
        c
    }

    /// Runs to completion: (success, the last JSON line printed).
    fn run(&self, args: &[&str]) -> (bool, Value) {
        let out = self.command(args).output().expect("inkan runs");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let last = stdout
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no output; stderr: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.success(), serde_json::from_str(last).unwrap_or_else(|_| panic!("not JSON: {last}")))
    }

    fn ok(&self, args: &[&str]) -> Value {
        let (ok, v) = self.run(args);
        assert!(ok, "inkan {args:?} failed: {v}");
        v
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, v) = self.run(args);
        assert!(!ok, "inkan {args:?} should fail: {v}");
        v["error"].as_str().expect("an error code").to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qa_enrolls_from_a_qr_file_and_decides_from_the_command_line() {
    let _keys = platform_keys();
    let t = TestServer::start().await;
    let ticket = t.ticket("40011111").await;
    let png = t.dir.path().join("ticket.png");
    std::fs::write(&png, base64::engine::general_purpose::STANDARD.decode(&ticket.qr_png_base64).unwrap()).unwrap();

    let cli = Cli::new(&t, "qa-device-1");
    let enrolled = cli.ok(&["enroll", "--qr", png.to_str().unwrap(), "--name", "QA device 1"]);
    assert_eq!(enrolled["enrolled"]["account_id"], "40011111");
    let accounts = cli.ok(&["accounts"]);
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    let local_id = accounts[0]["id"].as_str().unwrap().to_owned();

    // A second virtual device on another account, side by side.
    let other = Cli::new(&t, "qa-device-2");
    other.ok(&["enroll", &t.ticket("40022222").await.uri, "--name", "QA device 2"]);

    let created = t.challenge("40011111", withdrawal(777_000), true).await;
    let pending = cli.ok(&["pending"]);
    assert_eq!(pending[0]["challenge_id"], created.challenge_id.as_str());
    assert_eq!(pending[0]["details"]["amount"], 777_000);
    assert_eq!(pending[0]["number_digits"], 3);
    assert_eq!(other.ok(&["pending"]).as_array().unwrap().len(), 0, "the other device sees nothing");

    assert_eq!(cli.fails(&["approve", &created.challenge_id]), "number_required");
    assert_eq!(cli.fails(&["approve", &created.challenge_id, "--number", "1"]), "number_malformed");
    assert_eq!(other.fails(&["approve", &created.challenge_id, "--number", "123"]), "challenge_not_found");
    let number = created.number_to_show.unwrap();
    let approved = cli.ok(&["approve", &created.challenge_id, "--number", &number]);
    assert_eq!(approved["state"], "approved");
    assert_eq!(t.status(&created.challenge_id).await.state, inkan_protocol::ChallengeState::Approved);

    let second = t.challenge("40011111", login(), false).await;
    let denied = cli.ok(&["deny", &second.challenge_id, "--not-me"]);
    assert_eq!(denied["state"], "denied_fraud");
    assert!(t.push_state("40011111").await.push_blocked);

    let code = cli.ok(&["code"]);
    assert_eq!(code["code"].as_str().unwrap().len(), 6);
    let history = cli.ok(&["history"]);
    assert_eq!(history.as_array().unwrap().len(), 2);

    assert_eq!(cli.fails(&["enroll", "this is not a link"]), "uri_not_a_link");
    assert_eq!(cli.fails(&["enroll", &ticket.uri]), "ticket_already_used");
    assert_eq!(cli.fails(&["enroll", "--qr", "/nonexistent.png"]), "image_unreadable");

    cli.ok(&["remove", &local_id]);
    assert_eq!(cli.ok(&["accounts"]).as_array().unwrap().len(), 0);
    let other_id = other.ok(&["accounts"])[0]["id"].as_str().unwrap().to_owned();
    other.ok(&["remove", &other_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_challenges_as_they_arrive() {
    let _keys = platform_keys();
    let t = TestServer::start().await;
    let cli = Cli::new(&t, "watcher");
    cli.ok(&["enroll", &t.ticket("40033333").await.uri]);
    let mut child = cli.command(&["watch"]).stdout(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                break;
            }
        }
    });
    let next = |want: &str| loop {
        let v = rx.recv_timeout(EVENT_WAIT).unwrap_or_else(|_| panic!("no {want} event"));
        if v["event"] == want {
            break v;
        }
    };
    next("connected");
    let created = t.challenge("40033333", withdrawal(12_345), false).await;
    let pushed = next("challenge");
    assert_eq!(pushed["challenge"]["challenge_id"], created.challenge_id.as_str());
    assert!(pushed["challenge"]["summary"].as_str().unwrap().contains("12,345 JPY"));
    cli.ok(&["approve", &created.challenge_id]);
    let resolved = next("resolved");
    assert_eq!(resolved["state"], "approved");
    child.kill().unwrap();
    let _ = child.wait();
    let id = cli.ok(&["accounts"])[0]["id"].as_str().unwrap().to_owned();
    cli.ok(&["remove", &id]);
}

/// A phishing relay: forwards everything to the real site, rewriting the `Origin` it is sent
/// (as a real-time phishing proxy does) so the site's own checks pass. Listens on 127.0.0.2.
async fn phishing_relay(real: std::net::SocketAddr, real_origin: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.expect("bind 127.0.0.2");
    let fake_origin = format!("http://{}", listener.local_addr().unwrap());
    let fake = fake_origin.clone();
    tokio::spawn(async move {
        while let Ok((mut victim, _)) = listener.accept().await {
            let (fake, real_origin) = (fake.clone(), real_origin.clone());
            tokio::spawn(async move {
                let mut site = tokio::net::TcpStream::connect(real).await.unwrap();
                let (mut vr, mut vw) = victim.split();
                let (mut sr, mut sw) = site.split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = vr.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        let text = String::from_utf8_lossy(&buf[..n]).replace(&fake, &real_origin);
                        if sw.write_all(text.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                    let _ = sw.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut sr, &mut vw).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    fake_origin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qa_registers_a_passkey_and_logs_in_with_it_alone_and_a_relay_gets_nothing() {
    use std::io::Write;
    let _keys = platform_keys();
    let t = TestServer::start_localhost().await;
    let account = t.customer("40033333").await;
    let cli = Cli::new(&t, "qa-passkeys");
    cli.ok(&["enroll", &t.ticket(&account).await.uri, "--name", "QA passkeys"]);

    // First login from this CLI: a new "browser", so the site also mails a code (read from
    // stdin), and the CLI approves the push with the page's number itself.
    let mut child = cli
        .command(&["passkey", "register", "--site", &t.site_origin, "--account", &account, "--name", "QA CLI"])
        .env("INKAN_SITE_PASSWORD", inkan_e2e::site::PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let code = t.latest_email_code().await;
    writeln!(child.stdin.as_mut().unwrap(), "{code}").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let registered: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(registered["name"], "QA CLI");
    let listed = cli.ok(&["passkey", "list"]);
    assert_eq!(listed[0]["credential_id"], registered["registered"]);
    assert_eq!(listed[0]["rp_id"], "localhost");

    let login = cli.ok(&["passkey", "login", "--site", &t.site_origin]);
    assert_eq!(login["logged_in"], true, "{login}");
    assert_eq!(login["passkey"], registered["registered"]);
    let rows = t.audit_rows(&account).await;
    assert!(rows.iter().any(|r| r["event"] == "login_succeeded" && r["detail"].to_string().contains("passkey")));

    // The same login through a real-time phishing relay: the site answers (the relay fixes
    // the Origin), but this device will not sign for the relay's origin.
    let logins = |rows: Vec<Value>| rows.iter().filter(|r| r["event"] == "login_succeeded").count();
    let before = logins(t.audit_rows(&account).await);
    let relay = phishing_relay(t.site_addr, t.site_origin.clone()).await;
    assert_eq!(cli.fails(&["passkey", "login", "--site", &relay]), "passkey_wrong_origin");
    let (_, e) = cli.run(&["passkey", "login", "--site", &relay]);
    assert!(e["message"].as_str().unwrap().contains(&relay), "{e}");
    assert_eq!(logins(t.audit_rows(&account).await), before, "the relay got no session");

    // Removed on the device: the next login finds nothing to sign with.
    cli.ok(&["passkey", "remove", registered["registered"].as_str().unwrap()]);
    assert_eq!(cli.fails(&["passkey", "login", "--site", &t.site_origin]), "passkey_not_found");
}

/// A second relying party, written in Python with the standard library only
/// (`tests/rp_python/minimal_rp.py`), enrolls a device, logs a customer in with a push and
/// number matching, reports a login, and reads the events by cursor and by signed webhook:
/// the public API is enough for a brokerage in another language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relying_party_in_python_logs_a_customer_in_through_the_api_alone() {
    let _keys = platform_keys();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let secret = "a webhook secret for the Python relying party, 32+";
    let t = TestServer::start_configured(|s| {
        s.webhook = Some(inkan_e2e::inkan_server::settings::WebhookSettings {
            url: format!("http://127.0.0.1:{port}/inkan-events"),
            secret: inkan_e2e::inkan_server::settings::SecretString::new(secret.into()),
        });
        s.limits.webhook_retry_min_ms = 50;
        s.limits.webhook_retry_max_secs = 1;
    })
    .await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/rp_python/minimal_rp.py");
    let cli = Cli::new(&t, "python-rp-device");
    let mut python = Command::new("python3");
    python
        .arg(&script)
        .env("INKAN_RP", &t.origin)
        .env("INKAN_RP_KEY", &t.api_key)
        .env("INKAN_BIN", &cli.bin)
        .env("INKAN_PROFILE", &cli.profile)
        .env("WEBHOOK_PORT", port.to_string())
        .env("WEBHOOK_SECRET", secret)
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || python.output().expect("python3 runs")).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Python relying party failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["ok"], true, "{summary}");
    assert!(summary["deliveries"].as_u64().unwrap() >= 1, "{summary}");
}
