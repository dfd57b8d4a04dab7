//! Flood benchmark: a real device's approval round trips while one client address holds
//! thousands of idle sockets and slow-header (slowloris) connections against the server.
//!
//! Starts the release `inkan-server` as its own process with its default limits, measures
//! round trips of one device (127.0.0.1) alone, then again while an attacker on 127.0.0.3
//! keeps FLOOD_IDLE silent sockets and FLOOD_SLOW slow-header clients open (reopening each as
//! the server closes it, a second later: the per-client connection cap answers 429 and
//! closes, the header timeout closes the rest). Prints p50/p99 of both runs, how many flood connections the server
//! refused or closed, and whether `/readyz` answered throughout. Every loop is bounded in
//! count and time, and traffic stays on loopback.
//!
//! One round trip: the relying party creates a login challenge -> the device lists its
//! pending challenges, signs its approval and submits it -> the relying party's long poll
//! returns `approved`.
//!
//! Run: `ulimit -n 20000; cargo bench -p inkan-server --bench flood`
//! Knobs: INKAN_BENCH_ROUNDS (default 300), INKAN_BENCH_FLOOD_IDLE (2000),
//!        INKAN_BENCH_FLOOD_SLOW (2000).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use inkan_core::testing::RawDevice;
use inkan_protocol::{ApprovalPayload, ChallengeState, ChallengeStatus, Decision, TicketCreated};
use tokio::io::AsyncWriteExt;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() as f64) - 1.0) * p).round() as usize]
}

struct Rp {
    http: reqwest::Client,
    origin: String,
    api_key: String,
}

async fn round_trip(rp: &Rp, device: &RawDevice, account: &str) -> Duration {
    let start = Instant::now();
    let created: inkan_protocol::ChallengeCreated = rp
        .http
        .post(format!("{}/v1/rp/challenges", rp.origin))
        .bearer_auth(&rp.api_key)
        .json(&serde_json::json!({"account_id": account, "details": {"kind": "login", "time": "2026-12-02T10:00:00+09:00", "ip": "203.0.113.7", "place": "東京都", "browser": "Chrome"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pending = device.pending().await.unwrap();
    let challenge = &pending.iter().find(|c| c.challenge.id == created.challenge_id).unwrap().challenge;
    let now = inkan_protocol::clock::Clock::now(&inkan_protocol::clock::SystemClock);
    let sub = device.sign(&ApprovalPayload::new(challenge, &device.device_id, Decision::Approve, None, now));
    device.submit(&challenge.id, &sub).await.unwrap();
    let status: ChallengeStatus = rp
        .http
        .get(format!("{}/v1/rp/challenges/{}/wait?timeout=10", rp.origin, challenge.id))
        .bearer_auth(&rp.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status.state, ChallengeState::Approved);
    start.elapsed()
}

/// Round trips on accounts of their own (the push caps count per account, since the last
/// login: an approved login resets them).
async fn measure(rp: &Rp, device: &RawDevice, account: &str, rounds: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        times.push(round_trip(rp, device, account).await);
    }
    times.sort();
    times
}

/// One attacker connection, reopened a second after the server closes it, until `stop`: the
/// attacker holds as many sockets as it can (a reconnect storm as fast as the CPU allows would
/// measure the two shared cores, not the server's limits).
async fn attacker(target: std::net::SocketAddr, slow: bool, stop: Arc<AtomicBool>, closed: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.3:0".parse().unwrap()).unwrap();
        let Ok(mut conn) = socket.connect(target).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if slow {
            let _ = conn.write_all(b"POST /v1/device/nonce HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
        }
        // Hold it (dripping a byte a second when slow) until the server closes it.
        let mut buf = [0u8; 256];
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let read = tokio::time::timeout(Duration::from_secs(1), tokio::io::AsyncReadExt::read(&mut conn, &mut buf));
            match read.await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => continue,
                Err(_) if slow => {
                    if conn.write_all(b"a").await.is_err() {
                        break;
                    }
                }
                Err(_) => {}
            }
        }
        closed.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn main() {
    let rounds = env_num("INKAN_BENCH_ROUNDS", 300);
    let idle = env_num("INKAN_BENCH_FLOOD_IDLE", 2000);
    let slow = env_num("INKAN_BENCH_FLOOD_SLOW", 2000);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let origin = format!("http://127.0.0.1:{port}");
    let api_key = inkan_server::random_token(24);
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_inkan-server"))
        .args(["--dev", "--data-dir"])
        .arg(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("INKAN_RP_API_KEY", &api_key)
        .env("RUST_LOG", "error")
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let rp = Rp { http: reqwest::Client::new(), origin: origin.clone(), api_key };
        for _ in 0..400 {
            if rp.http.get(format!("{origin}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let ticket: TicketCreated = rp
            .http
            .post(format!("{origin}/v1/rp/enrollment-tickets"))
            .bearer_auth(&rp.api_key)
            .json(&serde_json::json!({"account_id": "90000001"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let now = inkan_protocol::clock::Clock::now(&inkan_protocol::clock::SystemClock);
        let device = RawDevice::enroll(reqwest::Client::new(), &ticket.uri, now).await.unwrap();
        measure(&rp, &device, "90000001", 20).await; // warm up
        let alone = measure(&rp, &device, "90000001", rounds).await;

        let stop = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicU64::new(0));
        let target: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut attackers = Vec::new();
        for i in 0..idle + slow {
            attackers.push(tokio::spawn(attacker(target, i >= idle, stop.clone(), closed.clone())));
        }
        tokio::time::sleep(Duration::from_secs(3)).await; // the flood builds up
        let flooded = measure(&rp, &device, "90000001", rounds).await;
        let ready = rp.http.get(format!("{origin}/readyz")).send().await.is_ok_and(|r| r.status().is_success());
        let metrics = rp.http.get(format!("{origin}/metrics")).send().await.unwrap().text().await.unwrap();
        stop.store(true, Ordering::Relaxed);
        for a in attackers {
            let _ = tokio::time::timeout(Duration::from_secs(3), a).await;
        }
        let refused = metrics
            .lines()
            .find(|l| l.starts_with("inkan_rate_limited_total{limit=\"connections\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap_or("?")
            .to_owned();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("flood benchmark: one device's round trips, server in its own process, {idle} idle + {slow} slow-header sockets from 127.0.0.3");
        println!(
            "alone:   p50={:.2}ms p99={:.2}ms ({rounds} round trips)",
            ms(percentile(&alone, 0.5)),
            ms(percentile(&alone, 0.99))
        );
        println!(
            "flooded: p50={:.2}ms p99={:.2}ms ({rounds} round trips) readyz_during_flood={ready} flood_connections_closed_by_server={} refused_over_cap={refused}",
            ms(percentile(&flooded, 0.5)),
            ms(percentile(&flooded, 0.99)),
            closed.load(Ordering::Relaxed)
        );
    });
    let _ = std::process::Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = server.wait();
}
