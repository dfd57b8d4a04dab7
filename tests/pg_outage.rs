//! PostgreSQL stopped for 10 s under traffic, then started again, with the verifier
//! (`inkan-server`, its own process) running throughout: meanwhile every request that needs
//! the database answers 503 `database_unavailable`, `/readyz` says not ready while `/healthz`
//! stays up; afterwards the same process serves again without a restart, and nothing that
//! was answered 2xx is lost.
//!
//! Its own test binary: it stops the process's PostgreSQL cluster ([`inkan_kit::pg_test`]).

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inkan_core::testing::RawDevice;
use inkan_core::{Clock, SystemClock};
use inkan_e2e::procs::{DEV_API_KEY, Proc, rp_get, rp_post};
use inkan_e2e::*;
use inkan_protocol::{
    ApprovalPayload, ChallengeCreated, ChallengeState, Decision, ErrorBody, ErrorCode, TicketCreated,
};

const API_KEY: &str = DEV_API_KEY;
const ACCOUNT: &str = "70000001";
const DOWN: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Seen {
    created: Vec<String>,
    approved: Vec<String>,
    unavailable: u32,
    other: Vec<String>,
}

/// 2xx: the body; 503 `database_unavailable`: `None`; anything else is recorded as wrong.
async fn call(seen: &Mutex<Seen>, resp: reqwest::Result<reqwest::Response>) -> Option<String> {
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            seen.lock().unwrap().other.push(format!("transport: {e}"));
            return None;
        }
    };
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    if (200..300).contains(&status) {
        return Some(body);
    }
    match serde_json::from_str::<ErrorBody>(&body) {
        Ok(e) if status == 503 && e.code == ErrorCode::DatabaseUnavailable => seen.lock().unwrap().unavailable += 1,
        _ => seen.lock().unwrap().other.push(format!("{status} {body}")),
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_for_ten_seconds_gives_clear_503s_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = inkan_kit::pg_test::fresh_database_url().await.unwrap();
    let cluster = inkan_kit::pg_test::cluster().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let origin = format!("http://127.0.0.1:{port}");
    let _verifier = Proc(
        Command::new(workspace_bin("inkan-server"))
            .args(["--dev", "--data-dir"])
            .arg(dir.path().join("v"))
            .args(["--database-url", &database_url, "--public-origin", &origin])
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("INKAN_LIMIT_DENIAL_COOLDOWN_SECS", "0")
            .env("INKAN_LIMIT_MAX_PUSHES_SINCE_SUCCESS", "100000")
            .env("INKAN_LIMIT_DATABASE_WAIT_MS", "500")
            .env("INKAN_LOG_FORMAT", "text")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("v.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let status_of = |path: &'static str| {
        let (http, origin) = (http.clone(), origin.clone());
        async move { http.get(format!("{origin}{path}")).send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while status_of("/readyz").await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "the verifier did not get ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ticket: TicketCreated =
        rp_post(&http, port, "/v1/rp/enrollment-tickets", &serde_json::json!({"account_id": ACCOUNT})).await;
    let clock = SystemClock;
    let raw = Arc::new(RawDevice::enroll(reqwest::Client::new(), &ticket.uri, clock.now()).await.unwrap());

    // Traffic: create a challenge, read it as the device, approve it; again and again.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let traffic = {
        let (http, origin, seen, running, raw) =
            (http.clone(), origin.clone(), seen.clone(), running.clone(), raw.clone());
        tokio::spawn(async move {
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                let resp = http
                    .post(format!("{origin}/v1/rp/challenges"))
                    .bearer_auth(API_KEY)
                    .json(&serde_json::json!({"account_id": ACCOUNT, "details": login(), "number_match": false}))
                    .send()
                    .await;
                let Some(body) = call(&seen, resp).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let created: ChallengeCreated = serde_json::from_str(&body).unwrap();
                seen.lock().unwrap().created.push(created.challenge_id.clone());
                let Ok(pending) = raw.pending().await else { continue };
                let Some(c) = pending.into_iter().find(|c| c.challenge.id == created.challenge_id) else { continue };
                let sub = raw.sign(&ApprovalPayload::new(
                    &c.challenge,
                    &raw.device_id,
                    Decision::Approve,
                    None,
                    SystemClock.now(),
                ));
                match raw.submit(&c.challenge.id, &sub).await {
                    Ok(_) => seen.lock().unwrap().approved.push(c.challenge.id.clone()),
                    Err(e) if e.code() == "database_unavailable" => seen.lock().unwrap().unavailable += 1,
                    Err(e) => seen.lock().unwrap().other.push(format!("decision: {e}")),
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = seen.lock().unwrap().approved.len();
    assert!(before > 0, "traffic flows before the outage");

    cluster.stop().unwrap();
    let down_since = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(status_of("/readyz").await, 503, "not ready without the database");
    assert_eq!(status_of("/healthz").await, 200, "alive all the same");
    tokio::time::sleep(DOWN.saturating_sub(down_since.elapsed())).await;
    let unavailable_while_down = seen.lock().unwrap().unavailable;
    assert!(unavailable_while_down > 0, "requests meanwhile got 503 database_unavailable");

    cluster.start_again().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while status_of("/readyz").await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "the verifier did not recover without a restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_at = seen.lock().unwrap().approved.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    traffic.await.unwrap();

    // The traffic task is over: the record is this test's alone now.
    let seen = Arc::try_unwrap(seen).ok().expect("the traffic task has ended").into_inner().unwrap();
    eprintln!(
        "pg outage: {} challenges created, {} approved ({} before the stop, {} by the recovery), {} answers 503 database_unavailable",
        seen.created.len(),
        seen.approved.len(),
        before,
        recovered_at,
        seen.unavailable
    );
    assert!(seen.approved.len() > recovered_at, "approvals flow again after the recovery");
    assert!(seen.other.is_empty(), "only 2xx or 503 database_unavailable: {:?}", seen.other);
    // Nothing answered 2xx is lost: every created challenge is there, every approval stands.
    for id in &seen.created {
        let status: inkan_protocol::ChallengeStatus = rp_get(&http, port, &format!("/v1/rp/challenges/{id}")).await;
        if seen.approved.contains(id) {
            assert_eq!(status.state, ChallengeState::Approved, "{id}");
        }
    }
}
