//! Benchmark: the verifier as it is deployed, in its own processes (the release
//! `inkan-server`), driven over loopback by this process playing the relying party and the
//! devices. It prints, in one run:
//! - approval round trips (create → live channel → signed approval → long poll answered):
//!   p50/p99, round trips per second and the servers' CPU per round trip (from
//!   `/proc/<pid>/stat`; on PostgreSQL also the database processes' CPU, `postgres_cpu`), on
//!   SQLite with one instance, PostgreSQL with one instance, and
//!   PostgreSQL with three instances behind HAProxy (everything through the balancer);
//! - 10,000 device live channels spread over the three instances (enrolled through the
//!   balancer, each channel opened on one instance in turn: this machine's hard limit of 20,000
//!   open files per process is too few for HAProxy to carry them all), with each instance's
//!   resident memory.
//!
//! PostgreSQL is the test cluster ([`inkan_kit::pg_test`]) with `fsync=on`, so both backends
//! sync every commit.
//!
//! Run: `cargo build --release -p inkan-server && (ulimit -n 20000; cargo bench -p inkan-e2e --bench instances)`
//! Knobs: INKAN_BENCH_ROUNDS (per setup and concurrency, default 2000), INKAN_BENCH_CHANNELS
//! (default 10000), INKAN_BENCH_SETUPS (which setups: a comma-separated list of `sqlite`, `pg`,
//! `pg3`; default all), INKAN_BENCH_CALLGRIND (a directory: each server runs under valgrind's
//! callgrind and writes `callgrind.out.<pid>` there, for counting where its CPU goes).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use inkan_core::{Authenticator, Clock, Profile, SystemClock, WatchEvent};
use inkan_e2e::procs::*;
use inkan_e2e::{login, memory_keys};
use inkan_protocol::{ChallengeCreated, ChallengeState, ChallengeStatus, Decision, TicketCreated};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// User + system CPU of a process so far (`/proc/<pid>/stat`, clock ticks of 10 ms).
fn cpu(pid: u32) -> Duration {
    let (user, system) = cpu_split(pid);
    user + system
}

/// User and system CPU of a process so far, apart.
fn cpu_split(pid: u32) -> (Duration, Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    (Duration::from_millis(field(11) * 10), Duration::from_millis(field(12) * 10))
}

/// CPU so far of every PostgreSQL process on the machine (the test cluster's postmaster and
/// backends), by pid: the database's share of a round trip, which the servers' own figure
/// leaves out on PostgreSQL (on SQLite the database's work is inside the server).
fn postgres_cpu() -> std::collections::HashMap<u32, Duration> {
    let mut found = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if stat.contains(" (postgres) ") {
            found.insert(pid, cpu(pid));
        }
    }
    found
}

/// CPU the PostgreSQL processes used since `before` (a backend that exited meanwhile is not
/// counted: the pools keep theirs open).
fn postgres_cpu_since(before: &std::collections::HashMap<u32, Duration>) -> Duration {
    postgres_cpu().iter().map(|(pid, now)| now.saturating_sub(before.get(pid).copied().unwrap_or_default())).sum()
}

fn release_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = dir.join("inkan-server");
    assert!(bin.exists(), "{} is missing: cargo build --release -p inkan-server", bin.display());
    bin
}

/// The server binary, or with INKAN_BENCH_CALLGRIND a script in `dir` that runs it under
/// callgrind (the script execs valgrind, so the process measured is the server's).
fn server_command(dir: &Path) -> PathBuf {
    let bin = release_bin();
    let Ok(out) = std::env::var("INKAN_BENCH_CALLGRIND") else { return bin };
    let script = dir.join("inkan-server-callgrind");
    let text = format!(
        "#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file={out}/callgrind.out.%p {} \"$@\"\n",
        bin.display()
    );
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    script
}

struct Setup {
    name: &'static str,
    procs: Vec<Proc>,
    _lb: Option<Proc>,
    front: u16,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

const ENV_LIMITS: [(&str, &str); 4] = [
    ("INKAN_LIMIT_MAX_CONNECTIONS_PER_CLIENT", "0"),
    ("INKAN_LIMIT_UNAUTHENTICATED_PER_MINUTE_PER_CLIENT", "100000000"),
    ("INKAN_LIMIT_MAX_PUSHES_SINCE_SUCCESS", "100000000"),
    ("INKAN_LIMIT_MAX_OPEN_CHALLENGES", "1000"),
];

async fn start(name: &'static str, instances: usize, postgres: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let database_url = if postgres {
        inkan_kit::pg_test::fresh_database_url().await.unwrap()
    } else {
        format!("sqlite://{}?mode=rwc", dir.path().join("inkan.sqlite3").display())
    };
    let ports: Vec<u16> = (0..instances).map(|_| free_port()).collect();
    let lb = (instances > 1 || std::env::var("INKAN_BENCH_LB").is_ok()).then(free_port);
    let front = lb.unwrap_or(ports[0]);
    let origin = format!("http://127.0.0.1:{front}");
    let mut env: Vec<(&str, String)> = ENV_LIMITS.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    env.push(("INKAN_SERVER_SIGNING_KEY", inkan_protocol::keys::b64(&[9u8; 32])));
    env.push(("RUST_LOG", "warn".into()));
    let mut procs = Vec::new();
    for (n, port) in ports.iter().enumerate() {
        procs.push(verifier(
            &server_command(dir.path()),
            dir.path(),
            &format!("v{n}"),
            *port,
            &origin,
            &database_url,
            &env,
        ));
        ready(&http, *port).await; // one at a time: the first migrates
    }
    let lb_proc = lb.map(|lb| haproxy(dir.path(), lb, &ports));
    ready(&http, front).await;
    Setup { name, procs, _lb: lb_proc, front, ports, _dir: dir }
}

async fn ticket(http: &reqwest::Client, front: u16, account: &str) -> TicketCreated {
    rp_post(http, front, "/v1/rp/enrollment-tickets", &serde_json::json!({"account_id": account})).await
}

/// A device on `account` that approves every challenge it is pushed.
async fn auto_approver(http: &reqwest::Client, setup: &Setup, dir: &Path, account: &str) {
    let device = Arc::new(
        Authenticator::new(Profile::open(dir.join(account)).unwrap(), memory_keys(), Arc::new(SystemClock)).unwrap(),
    );
    let enrolled = device.enroll(&ticket(http, setup.front, account).await.uri, "bench").await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let (watcher, watched) = (device.clone(), enrolled.clone());
    tokio::spawn(async move { watcher.watch(&watched, tx).await });
    while !matches!(rx.recv().await, Some(WatchEvent::Connected { .. })) {}
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if let WatchEvent::Challenge(p) = event {
                let (device, account) = (device.clone(), enrolled.clone());
                tokio::spawn(async move {
                    if let Err(e) = device.decide(&account, &p.challenge, Decision::Approve, None).await {
                        eprintln!("approve failed: {e}");
                    }
                });
            }
        }
    });
}

async fn round_trips(setup: &Setup, concurrency: usize, rounds: usize, base: usize) {
    let http = reqwest::Client::new();
    let devices = tempfile::tempdir().unwrap();
    let accounts: Vec<String> = (0..concurrency).map(|i| format!("{:08}", base + i)).collect();
    for a in &accounts {
        auto_approver(&http, setup, devices.path(), a).await;
    }
    let per_worker = rounds.div_ceil(concurrency);
    let cpu_before: Duration = setup.procs.iter().map(|p| cpu(p.pid())).sum();
    let system_before: Duration = setup.procs.iter().map(|p| cpu_split(p.pid()).1).sum();
    let database_before = postgres_cpu();
    let start = Instant::now();
    let mut workers = Vec::new();
    for a in accounts {
        let (http, front) = (http.clone(), setup.front);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                let t0 = Instant::now();
                let body = serde_json::json!({"account_id": a, "details": login(), "number_match": false});
                let created: ChallengeCreated = rp_post(&http, front, "/v1/rp/challenges", &body).await;
                let wait = format!("/v1/rp/challenges/{}/wait?timeout=30", created.challenge_id);
                let status: ChallengeStatus = rp_get(&http, front, &wait).await;
                assert_eq!(status.state, ChallengeState::Approved);
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
    let cpu_used: Duration = setup.procs.iter().map(|p| cpu(p.pid())).sum::<Duration>() - cpu_before;
    let system_used: Duration =
        setup.procs.iter().map(|p| cpu_split(p.pid()).1).sum::<Duration>().saturating_sub(system_before);
    let database_used = postgres_cpu_since(&database_before);
    let database = if database_used.is_zero() {
        String::new()
    } else {
        format!(" postgres_cpu={:.3}ms/round_trip", database_used.as_secs_f64() * 1e3 / all.len() as f64)
    };
    all.sort();
    println!(
        "{:<28} concurrency={concurrency:<2} round_trips={:<5} p50={:>7.3}ms p99={:>7.3}ms throughput={:>7.1}/s server_cpu={:>6.3}ms/round_trip (kernel {:.3}ms){database}",
        setup.name,
        all.len(),
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.len() as f64 / elapsed.as_secs_f64(),
        cpu_used.as_secs_f64() * 1e3 / all.len() as f64,
        system_used.as_secs_f64() * 1e3 / all.len() as f64,
    );
}

async fn channels(setup: &Setup, count: usize) {
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let rss_before: Vec<u64> = setup.procs.iter().map(|p| rss_kib(p.pid())).collect();
    let start = Instant::now();
    let opened = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::new();
    for i in 0..count {
        let (http, front, permit) = (http.clone(), setup.front, opened.clone().acquire_owned().await.unwrap());
        let ports = setup.ports.clone();
        tasks.push(tokio::spawn(async move {
            let t = ticket(&http, front, &format!("7{i:07}")).await;
            let raw = inkan_core::testing::RawDevice::enroll(http.clone(), &t.uri, SystemClock.now()).await.unwrap();
            let stream = raw.at(&format!("http://127.0.0.1:{}", ports[i % ports.len()])).events().await.unwrap();
            drop(permit);
            stream
        }));
    }
    let mut streams = Vec::with_capacity(count);
    for t in tasks {
        streams.push(t.await.unwrap());
    }
    let took = start.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut total_live = 0;
    let mut parts = Vec::new();
    for (i, p) in setup.procs.iter().enumerate() {
        let rss = rss_kib(p.pid());
        parts.push(format!(
            "v{i}: rss {:.1} MiB (+{:.1})",
            rss as f64 / 1024.0,
            (rss - rss_before[i].min(rss)) as f64 / 1024.0
        ));
        total_live += rss;
    }
    println!(
        "{:<28} live_channels={} enrolled+connected_in={:.1}s total_rss={:.1} MiB  {}",
        setup.name,
        streams.len(),
        took.as_secs_f64(),
        total_live as f64 / 1024.0,
        parts.join("  ")
    );
}

fn main() {
    let rounds = env_num("INKAN_BENCH_ROUNDS", 2000);
    let count = env_num("INKAN_BENCH_CHANNELS", 10_000);
    inkan_kit::pg_test::sync_commits_to_disk();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| t.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned()))
            .unwrap_or_default();
        println!(
            "instances benchmark on {} cores, {cpu}: release inkan-server processes, this process as relying party and devices",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
        );
        let chosen = std::env::var("INKAN_BENCH_SETUPS").unwrap_or_else(|_| "sqlite,pg,pg3".into());
        let chosen: Vec<&str> = chosen.split(',').map(str::trim).collect();
        for (i, (key, name, n, pg)) in [
            ("sqlite", "sqlite, 1 instance", 1, false),
            ("pg", "postgresql, 1 instance", 1, true),
            ("pg3", "postgresql, 3 behind haproxy", 3, true),
        ]
        .into_iter()
        .enumerate()
        {
            if !chosen.contains(&key) {
                continue;
            }
            let setup = start(name, n, pg).await;
            for (j, c) in [1, 8].into_iter().enumerate() {
                round_trips(&setup, c, rounds, 10_000_000 * (i + 1) + 1000 * j).await;
            }
            if n == 3 {
                channels(&setup, count).await;
            }
            if std::env::var("INKAN_BENCH_CALLGRIND").is_ok() {
                // Callgrind writes its counts when the server exits, not on SIGKILL.
                let mut setup = setup;
                for p in &mut setup.procs {
                    let _ = std::process::Command::new("kill").args(["-TERM", &p.pid().to_string()]).status();
                    let _ = p.0.wait();
                }
            }
        }
    });
}
