//! Load benchmark: passkey logins on loopback, one after another, printed as latency
//! percentiles. One login = the login page's start (the relying party, webauthn-rs, makes and
//! stores a ceremony) -> the core's client and authenticator (passkey crate, keys in the
//! in-memory store) check the origin and sign -> finish (verify, counter, session, login
//! notice queued). Server and client share this process.
//!
//! Run: `cargo bench -p inkan-e2e --bench passkey_login` (INKAN_BENCH_ROUNDS, default 300).

use std::time::{Duration, Instant};

use inkan_core::{PasskeyStore, Passkeys};
use inkan_e2e::site::{PASSWORD, Visitor};
use inkan_e2e::{TestServer, memory_keys};
use serde_json::Value;
use url::Url;

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let rounds: usize = std::env::var("INKAN_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let t = TestServer::start_localhost().await;
        let account = t.customer("70000001").await;
        let mut v = Visitor::new(&t.site_origin, "203.0.113.10");
        v.login_password(&account, PASSWORD).await;
        v.post("/login/verify/code", &[("code", &t.latest_email_code().await)]).await;
        let pk = Passkeys::new(PasskeyStore::new(t.dir.path(), memory_keys()));
        let origin = Url::parse(&t.site_origin).unwrap();
        let start = json_of(&v.post_once("/settings/passkeys/register/start", &[]).await.body);
        let created = pk.register(&origin, start["options"].clone()).await.unwrap();
        let ceremony = start["ceremony"].as_str().unwrap().to_owned();
        v.post_once(
            "/settings/passkeys/register/finish",
            &[("ceremony", &ceremony), ("credential", &created.to_string())],
        )
        .await;

        let mut all = Vec::with_capacity(rounds);
        let began = Instant::now();
        for i in 0..rounds {
            let mut w = Visitor::new(&t.site_origin, "203.0.113.10");
            let t0 = Instant::now();
            let start = json_of(&w.post_once("/login/passkey/start", &[]).await.body);
            let assertion = pk.authenticate(&origin, start["options"].clone()).await.unwrap();
            let ceremony = start["ceremony"].as_str().unwrap().to_owned();
            let done = w
                .post_once("/login/passkey/finish", &[("ceremony", &ceremony), ("credential", &assertion.to_string())])
                .await;
            assert_eq!(json_of(&done.body)["ok"], true, "login {i}: {}", done.body);
            all.push(t0.elapsed());
        }
        let elapsed = began.elapsed();
        all.sort();
        println!(
            "passkey_login rounds={} p50={:.3}ms p90={:.3}ms p99={:.3}ms max={:.3}ms logins/s={:.1} ({} cores)",
            all.len(),
            percentile(&all, 0.50).as_secs_f64() * 1e3,
            percentile(&all, 0.90).as_secs_f64() * 1e3,
            percentile(&all, 0.99).as_secs_f64() * 1e3,
            all.last().unwrap().as_secs_f64() * 1e3,
            all.len() as f64 / elapsed.as_secs_f64(),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
        );
    });
}
