//! Load benchmark: full approval round trips on loopback, printed as latency percentiles and
//! round trips per second.
//!
//! One round trip = the relying party creates a login or withdrawal challenge (alternately:
//! the push cap counts pushes since the last successful login, which an approved login is)
//! -> the server signs and
//! pushes it over the live channel -> the device (inkan-core) checks the server signature,
//! signs its approval and submits it -> the server verifies and records it -> the relying
//! party's long poll returns `approved`. Server, devices and relying party share this process
//! (and the machine's cores); devices keep keys in the in-memory store, and the challenges
//! carry no number to match (nobody is there to type it).
//!
//! Run: `cargo bench -p inkan-e2e --bench roundtrip`
//! Knobs: INKAN_BENCH_ROUNDS (per concurrency level, default 3000),
//!        INKAN_BENCH_CONCURRENCY (comma list, default "1,4,16").

use std::sync::Arc;
use std::time::{Duration, Instant};

use inkan_core::WatchEvent;
use inkan_e2e::{TestServer, login, memory_keys, withdrawal};
use inkan_protocol::{ChallengeState, Decision};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{} cores, {cpu}", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0))
}

/// A device that approves every challenge it is pushed, as fast as it can.
async fn auto_approver(t: &TestServer, account_id: &str) {
    let (device, account) = t.enrolled_device(memory_keys(), account_id).await;
    let device = Arc::new(device);
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let watcher = device.clone();
    let watched = account.clone();
    tokio::spawn(async move { watcher.watch(&watched, tx).await });
    loop {
        if let Some(WatchEvent::Connected { .. }) = rx.recv().await {
            break;
        }
    }
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if let WatchEvent::Challenge(p) = event {
                let (device, account) = (device.clone(), account.clone());
                tokio::spawn(async move {
                    if let Err(e) = device.decide(&account, &p.challenge, Decision::Approve, None).await {
                        eprintln!("approve failed: {e}");
                    }
                });
            }
        }
    });
}

fn main() {
    let rounds = env_num("INKAN_BENCH_ROUNDS", 3000);
    let levels: Vec<usize> = std::env::var("INKAN_BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,4,16".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        println!("roundtrip benchmark on {} (server, devices and relying party in one process)", machine());
        for &concurrency in &levels {
            let t = Arc::new(TestServer::start().await);
            let accounts: Vec<String> = (0..concurrency).map(|i| format!("9{i:07}")).collect();
            for a in &accounts {
                auto_approver(&t, a).await;
            }
            // Warm up connections and caches.
            let per_worker = rounds.div_ceil(concurrency);
            let start = Instant::now();
            let mut workers = Vec::new();
            for a in accounts.clone() {
                let t = t.clone();
                workers.push(tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(per_worker);
                    for i in 0..per_worker {
                        let t0 = Instant::now();
                        let details = if i % 2 == 0 { login() } else { withdrawal(1000 + i as u64) };
                        let created = t.challenge(&a, details, false).await;
                        let status = t.wait(&created.challenge_id, 30).await;
                        assert_eq!(status.state, ChallengeState::Approved, "round trip {i} ended {:?}", status.state);
                        latencies.push(t0.elapsed());
                    }
                    latencies
                }));
            }
            let mut all = Vec::new();
            for w in workers {
                all.extend(w.await.unwrap());
            }
            let elapsed = start.elapsed();
            all.sort();
            let mean = all.iter().sum::<Duration>() / all.len() as u32;
            println!(
                "concurrency={concurrency:<3} round_trips={:<6} p50={:>7.3}ms p90={:>7.3}ms p99={:>7.3}ms max={:>7.3}ms mean={:>7.3}ms throughput={:>7.1}/s",
                all.len(),
                percentile(&all, 0.50).as_secs_f64() * 1e3,
                percentile(&all, 0.90).as_secs_f64() * 1e3,
                percentile(&all, 0.99).as_secs_f64() * 1e3,
                all.last().unwrap().as_secs_f64() * 1e3,
                mean.as_secs_f64() * 1e3,
                all.len() as f64 / elapsed.as_secs_f64()
            );
        }
    });
}
