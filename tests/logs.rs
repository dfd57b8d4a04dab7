//! The logs of both services are JSON lines with a request id, and carry no secret at any
//! level: the verifier and the demo site binaries run with `RUST_LOG=trace` through an
//! enrollment, a session, a challenge with a typed number, an approval, an offline code, the
//! webhook deliveries and the site's login (right and wrong passwords), and both logs are
//! searched for every secret those steps used.
//!
//! Needs the binaries built (`cargo build --workspace --bins`, which `scripts/test` does).

use std::process::{Command, Stdio};
use std::sync::Arc;

use inkan_core::{Authenticator, KeyStore, MemoryKeyStore, Profile, SystemClock};
use inkan_e2e::workspace_bin;
use inkan_protocol::{ChallengeDetails, CreateChallengeRequest, Decision, LoginContext};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The value of `name="csrf"` in a page, and the CSRF cookie from `Set-Cookie`.
fn csrf_of(body: &str, headers: &reqwest::header::HeaderMap) -> (String, String) {
    let at = body.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    let token = body[at..at + body[at..].find('"').unwrap()].to_owned();
    let cookie = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("inkan_csrf="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .expect("a CSRF cookie");
    (token, cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_json_with_request_ids_and_hold_no_secret_at_any_level() {
    let dir = tempfile::tempdir().unwrap();
    let (port, site_port) = (free_port(), free_port());
    let origin = format!("http://localhost:{port}");
    let site_origin = format!("http://localhost:{site_port}");
    let api_key = inkan_server::random_token(24);
    let webhook_secret = inkan_server::random_token(32);
    let log_path = dir.path().join("server.log");
    let site_log_path = dir.path().join("site.log");
    let mut server = Command::new(workspace_bin("inkan-server"))
        .args(["--dev", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "trace")
        .env("INKAN_LOG_FORMAT", "json")
        .env("INKAN_RP_API_KEY", &api_key)
        .env("INKAN_RP_WEBHOOK_URL", format!("http://127.0.0.1:{site_port}/inkan/webhook"))
        .env("INKAN_RP_WEBHOOK_SECRET", &webhook_secret)
        .env("INKAN_RP_WEB_ORIGIN", &site_origin)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut site = Command::new(workspace_bin("inkan-site"))
        .args(["--dev", "--data-dir"])
        .arg(dir.path().join("site"))
        .args(["--verifier-url", &format!("http://127.0.0.1:{port}")])
        .args(["serve", "--listen", &format!("127.0.0.1:{site_port}")])
        .env("RUST_LOG", "trace")
        .env("INKAN_LOG_FORMAT", "json")
        .env("INKAN_RP_API_KEY", &api_key)
        .env("INKAN_SITE_WEBHOOK_SECRET", &webhook_secret)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&site_log_path).unwrap())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    for o in [&origin, &site_origin] {
        let mut ready = false;
        for _ in 0..200 {
            if http.get(format!("{o}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
                ready = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(ready, "{o} starts");
    }

    // Enrollment, a session, a challenge with a number typed into the device, the approval.
    let account = "10000001";
    let ticket: serde_json::Value = http
        .post(format!("{origin}/v1/rp/enrollment-tickets"))
        .bearer_auth(&api_key)
        .json(&serde_json::json!({"account_id": account}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = ticket["uri"].as_str().unwrap().to_owned();
    let ticket_secret = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "t" || k == "ticket")
        .map(|(_, v)| v.into_owned())
        .expect("the ticket in the link");
    let keys = Arc::new(MemoryKeyStore::new());
    let device =
        Authenticator::new(Profile::open(dir.path().join("device")).unwrap(), keys.clone(), Arc::new(SystemClock))
            .unwrap();
    let acct = device.enroll(&link, "log test").await.unwrap();
    let raw =
        inkan_core::testing::RawDevice::from_account(&keys, &acct, inkan_core::Clock::now(&SystemClock)).await.unwrap();
    let details = ChallengeDetails::Login(LoginContext {
        time: "2026-12-02T10:00:00+09:00".into(),
        ip: "203.0.113.7".into(),
        place: "東京都".into(),
        browser: "Chrome 131 / Windows".into(),
    });
    let created: inkan_protocol::ChallengeCreated = http
        .post(format!("{origin}/v1/rp/challenges"))
        .bearer_auth(&api_key)
        .json(&CreateChallengeRequest { account_id: account.into(), details, number_match: true })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let number = created.number_to_show.clone().unwrap();
    let pending = device.pending(&acct).await.unwrap();
    device.decide(&acct, &pending[0].challenge, Decision::Approve, Some(&number)).await.unwrap();
    let code = device.offline_code(&acct).await.unwrap().code;
    let valid: serde_json::Value = http
        .post(format!("{origin}/v1/rp/accounts/{account}/verify-code"))
        .bearer_auth(&api_key)
        .json(&serde_json::json!({"code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(valid["valid"], true);

    // The site: the demo customer's password (printed once on standard output), then a login
    // with a wrong password and with the right one.
    let mut stdout = std::io::BufReader::new(site.stdout.take().unwrap());
    let mut printed = String::new();
    while !printed.contains("withdrawal password:") {
        assert!(std::io::BufRead::read_line(&mut stdout, &mut printed).unwrap() > 0, "{printed}");
    }
    let password_of = |label: &str| {
        let line = printed.lines().find(|l| l.contains(label)).unwrap_or_else(|| panic!("{label} in {printed}"));
        line.rsplit(' ').next().unwrap().to_owned()
    };
    let password = password_of("パスワード / password:");
    let withdrawal_password = password_of("withdrawal password:");
    let page = http.get(format!("{site_origin}/login")).send().await.unwrap();
    let headers = page.headers().clone();
    let (csrf, cookie) = csrf_of(&page.text().await.unwrap(), &headers);
    for typed in ["Wrong-pass-2026!", password.as_str()] {
        let body = format!("csrf={csrf}&account={account}&password={}", urlencode(typed));
        http.post(format!("{site_origin}/login"))
            .header("cookie", &cookie)
            .header("origin", &site_origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
    }
    for child in [&mut server, &mut site] {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
    }

    let verifier_log = std::fs::read_to_string(&log_path).unwrap();
    let site_log = std::fs::read_to_string(&site_log_path).unwrap();
    let totp_secret = inkan_protocol::keys::b64(&keys.get(&acct.totp_entry()).unwrap().unwrap());
    let dev_keys = ["insecure-dev-server-signing-key", "insecure-dev-secret-key"]
        .map(|f| std::fs::read_to_string(dir.path().join("data").join(f)).unwrap().trim().to_owned());
    let secrets = [
        ("the API key", api_key.as_str()),
        ("the ticket", ticket_secret.as_str()),
        ("the device session token", raw.token.as_str()),
        ("the offline-code secret", totp_secret.as_str()),
        ("the offline code", code.as_str()),
        ("the password", password.as_str()),
        ("the wrong password", "Wrong-pass-2026!"),
        ("the withdrawal password", withdrawal_password.as_str()),
        ("the signing key", dev_keys[0].as_str()),
        ("the secret-sealing key", dev_keys[1].split(':').nth(1).unwrap()),
        ("the webhook secret", webhook_secret.as_str()),
    ];
    for (name, log) in [("verifier", &verifier_log), ("site", &site_log)] {
        for (what, secret) in secrets {
            assert!(secret.len() >= 6, "{what} is a real value");
            assert!(!log.contains(secret), "{what} appears in the {name}'s log");
        }
        // JSON lines, and requests carry their id.
        let lines: Vec<serde_json::Value> =
            log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
        assert!(lines.len() > 10, "trace logging wrote {} lines for the {name}", lines.len());
        let answered: Vec<&serde_json::Value> = lines.iter().filter(|l| l["fields"]["message"] == "answered").collect();
        assert!(answered.len() >= 3, "{} requests logged by the {name}", answered.len());
        assert!(answered.iter().all(|l| l["span"]["request_id"].as_str().is_some_and(|id| !id.is_empty())));
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
