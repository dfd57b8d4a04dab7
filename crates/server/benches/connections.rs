//! Memory benchmark: how much the server's resident memory grows per live device connection.
//!
//! Starts the release `inkan-server` as its own process (so only its memory is counted),
//! enrolls N devices on N accounts through the real device API, opens each one's push channel
//! (SSE) and keeps them all open, then reads the server's VmRSS. To show the channels are live
//! it pushes a challenge to a sample of them and waits for it to arrive.
//!
//! Run: `cargo bench -p inkan-server --bench connections` (needs an open-files limit above N;
//! client and server are separate processes, each holding one end of every connection).
//! Knobs: INKAN_BENCH_CONNECTIONS (default 10000); INKAN_BENCH_SERVER_WRAPPER, a command to run
//! the server under (e.g. `valgrind --tool=massif`), to see where the memory goes.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use inkan_core::testing::RawDevice;
use inkan_protocol::TicketCreated;

/// Devices enrolled and connected at once.
const PARALLEL_SETUP: usize = 32;
/// Channels that are sent a challenge to prove they are live.
const LIVE_SAMPLE: usize = 50;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Bench {
    http: reqwest::Client,
    origin: String,
    api_key: String,
}

impl Bench {
    /// Enrolls a device for `account` through the device API and opens its push channel.
    async fn connect(&self, account: &str) -> reqwest::Response {
        let ticket: TicketCreated = self
            .http
            .post(format!("{}/v1/rp/enrollment-tickets", self.origin))
            .bearer_auth(&self.api_key)
            .json(&serde_json::json!({"account_id": account}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let now = inkan_protocol::clock::Clock::now(&inkan_protocol::clock::SystemClock);
        let device = RawDevice::enroll(self.http.clone(), &ticket.uri, now).await.unwrap();
        device.events().await.unwrap()
    }
}

/// Reads the channel until a challenge event arrives (keep-alive comments come first on an
/// idle channel), or gives up after `wait`.
async fn receives_challenge(resp: &mut reqwest::Response, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Ok(Some(bytes))) = tokio::time::timeout_at(deadline, resp.chunk()).await {
        if String::from_utf8_lossy(&bytes).contains("event: challenge") {
            return true;
        }
    }
    false
}

fn main() {
    let n: usize = std::env::var("INKAN_BENCH_CONNECTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let limit = open_files_limit();
    if limit < (n + 512) as u64 {
        eprintln!("open-files limit {limit} is too low for {n} connections: raise it (`ulimit -n`)");
        std::process::exit(1);
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let origin = format!("http://127.0.0.1:{port}");
    let api_key = inkan_server::random_token(24);
    let wrapper = std::env::var("INKAN_BENCH_SERVER_WRAPPER").unwrap_or_default();
    let mut command: Vec<String> = wrapper.split_whitespace().map(str::to_owned).collect();
    command.push(env!("CARGO_BIN_EXE_inkan-server").to_owned());
    let mut server = std::process::Command::new(&command[0])
        .args(&command[1..])
        .args(["--dev", "--data-dir"])
        .arg(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("INKAN_RP_API_KEY", &api_key)
        // Every device of the benchmark comes from 127.0.0.1: lift the per-client caps that
        // protect a public deployment from one client holding thousands of connections.
        .env("INKAN_LIMIT_MAX_CONNECTIONS_PER_CLIENT", "0")
        .env("INKAN_LIMIT_UNAUTHENTICATED_PER_MINUTE_PER_CLIENT", "4000000000")
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let pid = server.id();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let bench = Bench { http: reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap(), origin, api_key };
        for _ in 0..2000 {
            if bench.http.get(format!("{}/healthz", bench.origin)).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let baseline = rss_kib(pid);
        let start = Instant::now();
        let bench = &bench;
        let channels: Vec<reqwest::Response> = futures_util::stream::iter(0..n)
            .map(|i| async move { bench.connect(&format!("b{i:07}")).await })
            .buffered(PARALLEL_SETUP)
            .collect()
            .await;
        let setup = start.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let loaded = rss_kib(pid);

        // Prove a sample of the channels is live: a challenge reaches each.
        let step = (n / LIVE_SAMPLE).max(1);
        let mut live = 0;
        let mut channels = channels;
        for (i, resp) in channels.iter_mut().enumerate() {
            if i % step != 0 {
                continue;
            }
            let account = format!("b{i:07}");
            bench
                .http
                .post(format!("{}/v1/rp/challenges", bench.origin))
                .bearer_auth(&bench.api_key)
                .json(&serde_json::json!({"account_id": account, "details": {"kind": "login", "time": "now", "ip": "127.0.0.1", "place": "bench", "browser": "bench"}}))
                .send()
                .await
                .unwrap();
            if receives_challenge(resp, Duration::from_secs(5)).await {
                live += 1;
            }
        }
        println!("connections benchmark: {n} live push channels (SSE), one device per account, server in its own process");
        println!(
            "server_rss_baseline={:.1}MiB server_rss_loaded={:.1}MiB growth_per_connection={:.1}KiB setup={:.1}s ({:.0} enrollments+connections/s) live_sample={live}/{}",
            baseline as f64 / 1024.0,
            loaded as f64 / 1024.0,
            (loaded.saturating_sub(baseline)) as f64 / n as f64,
            setup.as_secs_f64(),
            n as f64 / setup.as_secs_f64(),
            n.div_ceil(step),
        );
        drop(channels);
    });
    // Stop it the way an operator would (SIGTERM), so a wrapper such as massif writes its report.
    let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = server.wait();
}
