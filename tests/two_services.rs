//! The verifier and the demo site as two operating-system processes (the release shape: the
//! `inkan-server` and `inkan-site` binaries, each with its own data directory), linked only by
//! HTTP. The site is killed and stays down for a minute while a customer's devices enroll, one
//! types a wrong number, one reports "not me" and one is revoked; the verifier keeps every
//! event and retries; when the site is back it takes each event once, in order: the failed
//! factor is counted once toward the lock, "not me" sends one mail, and its own audit log
//! records the enrolments, the report and the revocation.
//!
//! Needs the binaries built (`cargo build --workspace --bins`, which `scripts/test` does).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use inkan_core::{Authenticator, Profile, SystemClock};
use inkan_e2e::procs::{DEV_API_KEY, Proc, free_port, metric, ready, rp_post};
use inkan_e2e::*;
use inkan_protocol::{Decision, TicketCreated};

/// How long the site stays down.
const SITE_DOWN: Duration = Duration::from_secs(60);
const SECRET: &str = "the two-process test's webhook secret, 32+ bytes";
const API_KEY: &str = DEV_API_KEY;
const ACCOUNT: &str = "50000001";

struct Ports {
    verifier: u16,
    site: u16,
}

fn verifier(dir: &Path, p: &Ports) -> Proc {
    let child = Command::new(workspace_bin("inkan-server"))
        .args(["--dev", "--data-dir"])
        .arg(dir.join("verifier"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", p.verifier)])
        .env("INKAN_RP_WEBHOOK_URL", format!("http://127.0.0.1:{}/inkan/webhook", p.site))
        .env("INKAN_RP_WEBHOOK_SECRET", SECRET)
        .env("INKAN_RP_WEB_ORIGIN", format!("http://127.0.0.1:{}", p.site))
        // A failed delivery is retried at most 2 s later, so the test sees recovery quickly.
        .env("INKAN_LIMIT_WEBHOOK_RETRY_MAX_SECS", "2")
        .env("INKAN_LOG_FORMAT", "text")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("inkan-server starts");
    Proc(child)
}

fn site_command(dir: &Path, p: &Ports) -> Command {
    let mut c = Command::new(workspace_bin("inkan-site"));
    c.args(["--dev", "--data-dir"])
        .arg(dir.join("site"))
        .args(["--verifier-url", &format!("http://127.0.0.1:{}", p.verifier)])
        .env("INKAN_SITE_WEBHOOK_SECRET", SECRET)
        .env("INKAN_LOG_FORMAT", "text");
    c
}

fn site(dir: &Path, p: &Ports) -> Proc {
    let child = site_command(dir, p)
        .args(["serve", "--listen", &format!("127.0.0.1:{}", p.site)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("inkan-site starts");
    Proc(child)
}

async fn ticket(http: &reqwest::Client, p: &Ports) -> TicketCreated {
    rp_post(http, p.verifier, "/v1/rp/enrollment-tickets", &serde_json::json!({"account_id": ACCOUNT})).await
}

async fn create_challenge(
    http: &reqwest::Client,
    p: &Ports,
    details: inkan_protocol::ChallengeDetails,
) -> inkan_protocol::ChallengeCreated {
    let body = inkan_protocol::CreateChallengeRequest { account_id: ACCOUNT.into(), details, number_match: true };
    rp_post(http, p.verifier, "/v1/rp/challenges", &serde_json::to_value(body).unwrap()).await
}

fn device(dir: &Path, name: &str) -> Authenticator {
    Authenticator::new(Profile::open(dir.join(name)).unwrap(), memory_keys(), Arc::new(SystemClock)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_down_for_a_minute_loses_no_event_and_counts_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = Ports { verifier: free_port(), site: free_port() };
    let http = reqwest::Client::new();
    let created = site_command(dir.path(), &p)
        .args(["customer", "create", "--account", ACCOUNT, "--email", "two@example.com", "--passwords-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"TwoProc-2026-ok\nTwoProcWd-2026\n")?;
            c.wait()
        })
        .unwrap();
    assert!(created.success(), "the customer is created with the site's operator command");
    let _verifier = verifier(dir.path(), &p);
    let mut site_proc = Some(site(dir.path(), &p));
    ready(&http, p.verifier).await;
    ready(&http, p.site).await;

    // A first device while both run: the site hears of it.
    let phone = device(dir.path(), "phone");
    let phone_account = phone.enroll(&ticket(&http, &p).await.uri, "phone").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while metric(&http, p.site, "inkan_site_webhook_deliveries_total").await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the site got no delivery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The site dies. While it is down: a second device enrolls, the phone types a wrong
    // number, the second device is revoked.
    drop(site_proc.take());
    let down_since = tokio::time::Instant::now();
    let failures_before = metric(&http, p.verifier, "inkan_webhook_failures_total").await;
    let laptop = device(dir.path(), "laptop");
    let laptop_account = laptop.enroll(&ticket(&http, &p).await.uri, "laptop").await.unwrap();
    let challenge = create_challenge(&http, &p, withdrawal(20_000)).await;
    let shown = challenge.number_to_show.as_deref().unwrap();
    let wrong: String = shown.chars().map(|c| if c == '9' { '0' } else { char::from(c as u8 + 1) }).collect();
    phone.decide_by_id(&phone_account, &challenge.challenge_id, Decision::Approve, Some(&wrong)).await.unwrap_err();
    // After the denial's cool-down, a login the customer did not start: "not me".
    tokio::time::sleep(Duration::from_secs(31)).await;
    let challenge = create_challenge(&http, &p, login()).await;
    phone.decide_by_id(&phone_account, &challenge.challenge_id, Decision::DenyFraud, None).await.unwrap();
    http.post(format!(
        "http://127.0.0.1:{}/v1/rp/accounts/{ACCOUNT}/devices/{}/revoke",
        p.verifier, laptop_account.device_id
    ))
    .bearer_auth(API_KEY)
    .send()
    .await
    .unwrap()
    .error_for_status()
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while metric(&http, p.verifier, "inkan_webhook_failures_total").await <= failures_before {
        assert!(tokio::time::Instant::now() < deadline, "the verifier did not notice the site was down");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(SITE_DOWN.saturating_sub(down_since.elapsed())).await;

    // Back after a minute, on the same database: every event arrives, each is taken once.
    let _site = site(dir.path(), &p);
    ready(&http, p.site).await;
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        dir.path().join("site").join("inkan-site.sqlite3").display()
    ))
    .await
    .unwrap();
    let site_events = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT event FROM audit_events WHERE account_id = ? AND event IN ('device_enrolled', 'device_revoked', 'number_mismatch', 'fraud_reported') ORDER BY id",
        )
        .bind(ACCOUNT)
        .fetch_all(&db)
        .await
        .unwrap()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let events = site_events().await;
        if events.len() >= 5 {
            assert_eq!(
                events,
                ["device_enrolled", "device_enrolled", "number_mismatch", "fraud_reported", "device_revoked"]
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "events after the outage: {events:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed: i64 = sqlx::query_scalar("SELECT failed_logins FROM customers WHERE account_id = ?")
        .bind(ACCOUNT)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(failed, 1, "the wrong number counts once toward the lock");
    // Whatever the verifier sends again from now on is no news to the site.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(site_events().await.len(), 5, "nothing processed twice");
    let not_me_mails: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE subject LIKE '%Not me%'").fetch_one(&db).await.unwrap();
    assert_eq!(not_me_mails, 1, "one mail for the report");
}
