//! Three verifier processes (`inkan-server`) on one PostgreSQL, behind a real HAProxy, with no
//! sticky sessions; the device and the relying party connect only through the load balancer,
//! except where a step names the instance it goes to.
//!
//! - A challenge created through an instance that does not hold the device's live channel
//!   reaches the device; the decision, posted wherever the balancer sends it, wakes a long poll
//!   waiting on a third instance.
//! - `kill -9` of the instance that holds the device's live channel and a pending long poll: the
//!   device reconnects through the balancer and gets its pending challenge; the relying party
//!   polls again and gets the outcome; the challenge is settled once.
//! - The webhook is sent by one instance at a time.
//! - Races across instances, each repeated 20 times: approve posted to one instance and deny to
//!   another; one enrollment ticket redeemed on two; one session nonce spent on two. Exactly
//!   one wins every time, and the other gets its own error code. (The push limits racing on one
//!   database are the store's conformance cases, `crates/server/tests/store.rs`, run on
//!   PostgreSQL.)
//!
//! Needs the binaries built (`cargo build --workspace --bins`), PostgreSQL's and HAProxy's
//! (`scripts/install-deps` installs both).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use inkan_core::testing::RawDevice;
use inkan_core::{Authenticator, Clock, Profile, SystemClock, WatchEvent};
use inkan_e2e::procs::*;
use inkan_e2e::*;
use inkan_protocol::{ApprovalPayload, ChallengeCreated, ChallengeState, ChallengeStatus, Decision, TicketCreated};

const API_KEY: &str = DEV_API_KEY;
const ACCOUNT: &str = "60000001";
/// The one challenge-signing key every instance is given (devices pin it).
const SIGNING_KEY: [u8; 32] = [7; 32];
/// Longest a step waits for something that should take milliseconds.
const STEP: Duration = Duration::from_secs(20);
/// Each race across instances is run this many times.
const RACE_ROUNDS: usize = 20;

fn instance(dir: &Path, n: usize, port: u16, lb: u16, database_url: &str) -> Proc {
    let env = [
        ("INKAN_SERVER_SIGNING_KEY", inkan_protocol::keys::b64(&SIGNING_KEY)),
        // Nobody receives a webhook here; deliveries fail and are retried, by one instance.
        ("INKAN_RP_WEBHOOK_URL", format!("http://127.0.0.1:{}/hook", free_port())),
        ("INKAN_RP_WEBHOOK_SECRET", "the multi-instance test's webhook secret, 32+ bytes".into()),
        ("INKAN_LIMIT_WEBHOOK_RETRY_MAX_SECS", "1".into()),
        ("INKAN_LIMIT_MAX_CONNECTIONS_PER_CLIENT", "0".into()),
        // The races deny half the time; no cool-down between rounds.
        ("INKAN_LIMIT_DENIAL_COOLDOWN_SECS", "0".into()),
    ];
    let origin = format!("http://127.0.0.1:{lb}");
    verifier(&workspace_bin("inkan-server"), dir, &format!("v{n}"), port, &origin, database_url, &env)
}

async fn create(http: &reqwest::Client, port: u16) -> ChallengeCreated {
    let body = serde_json::json!({"account_id": ACCOUNT, "details": login(), "number_match": false});
    rp_post(http, port, "/v1/rp/challenges", &body).await
}

async fn wait(http: &reqwest::Client, port: u16, id: &str, secs: u64) -> ChallengeStatus {
    rp_get(http, port, &format!("/v1/rp/challenges/{id}/wait?timeout={secs}")).await
}

/// The next challenge the device's live channel delivers.
async fn next_challenge(rx: &mut tokio::sync::mpsc::Receiver<WatchEvent>) -> String {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await.expect("a challenge on the live channel") {
            Some(WatchEvent::Challenge(p)) => return p.challenge.id,
            Some(_) => continue,
            None => panic!("the watch ended"),
        }
    }
}

/// Which instance holds the device's live channel.
async fn channel_holder(http: &reqwest::Client, ports: &[u16]) -> usize {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        for (i, p) in ports.iter().enumerate() {
            if metric(http, *p, "inkan_live_channels").await > 0 {
                return i;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no instance holds the live channel");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_behind_haproxy_share_challenges_and_survive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = inkan_kit::pg_test::fresh_database_url().await.expect("the test PostgreSQL cluster");
    let lb = free_port();
    let ports = [free_port(), free_port(), free_port()];
    let http = reqwest::Client::new();
    // The first instance migrates the empty database; the others find it done.
    let mut procs: Vec<Option<Proc>> = vec![Some(instance(dir.path(), 0, ports[0], lb, &database_url))];
    ready(&http, ports[0]).await;
    for (n, port) in ports.iter().enumerate().skip(1) {
        procs.push(Some(instance(dir.path(), n, *port, lb, &database_url)));
    }
    for port in &ports {
        ready(&http, *port).await;
    }
    let _lb = haproxy(dir.path(), lb, &ports);
    ready(&http, lb).await;

    // Enrolled and connected through the balancer only.
    let ticket: TicketCreated =
        rp_post(&http, lb, "/v1/rp/enrollment-tickets", &serde_json::json!({"account_id": ACCOUNT})).await;
    let device = Arc::new(
        Authenticator::new(Profile::open(dir.path().join("phone")).unwrap(), memory_keys(), Arc::new(SystemClock))
            .unwrap(),
    );
    let account = device.enroll(&ticket.uri, "phone").await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let watcher = {
        let (device, account) = (device.clone(), account.clone());
        tokio::spawn(async move { device.watch(&account, tx).await })
    };
    let holder = channel_holder(&http, &ports).await;
    let others: Vec<usize> = (0..3).filter(|i| *i != holder).collect();

    // Created on another instance, the challenge reaches the device; the long poll waits on
    // the third; the decision goes through the balancer, wherever it lands.
    for round in 0..6 {
        let creator = others[round % 2];
        let poller = others[(round + 1) % 2];
        let created = create(&http, ports[creator]).await;
        assert_eq!(next_challenge(&mut rx).await, created.challenge_id, "round {round}");
        let poll = {
            let (http, id) = (http.clone(), created.challenge_id.clone());
            let port = ports[poller];
            tokio::spawn(async move { wait(&http, port, &id, 30).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        device.decide_by_id(&account, &created.challenge_id, Decision::Approve, None).await.unwrap();
        let status = tokio::time::timeout(STEP, poll).await.expect("the long poll wakes").unwrap();
        assert_eq!(status.state, ChallengeState::Approved, "round {round}");
        // The next login push counts from a successful login.
        rp_post::<serde_json::Value>(&http, lb, &format!("/v1/rp/accounts/{ACCOUNT}/logins"), &serde_json::json!({}))
            .await;
    }

    // kill -9 of the instance holding the live channel, with a long poll pending on it.
    let created = create(&http, ports[others[0]]).await;
    assert_eq!(next_challenge(&mut rx).await, created.challenge_id);
    let doomed_poll = {
        let (http, id, port) = (http.clone(), created.challenge_id.clone(), ports[holder]);
        tokio::spawn(async move {
            http.get(format!("http://127.0.0.1:{port}/v1/rp/challenges/{id}/wait?timeout=30"))
                .bearer_auth(API_KEY)
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(procs[holder].take());
    assert!(doomed_poll.await.unwrap().is_err(), "the killed instance's long poll breaks");
    // The device reconnects through the balancer and is sent its pending challenge again.
    assert_eq!(next_challenge(&mut rx).await, created.challenge_id, "replayed after the reconnect");
    let new_holder = channel_holder(&http, &others.iter().map(|i| ports[*i]).collect::<Vec<_>>()).await;
    assert!(new_holder < 2);
    // The relying party polls again, through the balancer, and gets the outcome.
    let poll = {
        let (http, id) = (http.clone(), created.challenge_id.clone());
        tokio::spawn(async move { wait(&http, lb, &id, 30).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    device.decide_by_id(&account, &created.challenge_id, Decision::Deny, None).await.unwrap();
    assert_eq!(tokio::time::timeout(STEP, poll).await.unwrap().unwrap().state, ChallengeState::Denied);
    // A second decision is refused: one outcome.
    device.decide_by_id(&account, &created.challenge_id, Decision::Approve, None).await.unwrap_err();

    // Every challenge settled exactly once, as the events (read through the balancer) say.
    let events: inkan_protocol::RpEventPage =
        rp_get(&http, lb, &format!("/v1/rp/events?after=0&limit=500&account={ACCOUNT}")).await;
    let mut settled: Vec<&str> = events
        .events
        .iter()
        .filter_map(|e| match &e.data {
            inkan_protocol::RpEventData::ChallengeSettled { challenge_id, .. } => Some(challenge_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(settled.len(), 7, "{settled:?}");
    settled.sort();
    settled.dedup();
    assert_eq!(settled.len(), 7, "no challenge settled twice");
    let seqs: Vec<i64> = events.events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");

    // One webhook sender among the survivors: only one of them tries deliveries.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut trying = 0;
    for i in &others {
        let before = metric(&http, ports[*i], "inkan_webhook_failures_total").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        if metric(&http, ports[*i], "inkan_webhook_failures_total").await > before {
            trying += 1;
        }
    }
    assert_eq!(trying, 1, "exactly one instance sends the webhook");
    watcher.abort();

    // Races across instances: approve sent to one, deny to the other, at once; exactly one
    // wins, every time.
    let ticket: TicketCreated =
        rp_post(&http, lb, "/v1/rp/enrollment-tickets", &serde_json::json!({"account_id": ACCOUNT})).await;
    let clock = SystemClock;
    let raw = RawDevice::enroll(reqwest::Client::new(), &ticket.uri, clock.now()).await.unwrap();
    let (a, b) = (
        raw.at(&format!("http://127.0.0.1:{}", ports[others[0]])),
        raw.at(&format!("http://127.0.0.1:{}", ports[others[1]])),
    );
    for round in 0..RACE_ROUNDS {
        let created = create(&http, lb).await;
        let challenge = raw
            .pending()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.challenge.id == created.challenge_id)
            .expect("pending")
            .challenge;
        let sign = |decision| raw.sign(&ApprovalPayload::new(&challenge, &raw.device_id, decision, None, clock.now()));
        let (approve, deny) = (sign(Decision::Approve), sign(Decision::Deny));
        let (x, y) = tokio::join!(a.submit(&challenge.id, &approve), b.submit(&challenge.id, &deny));
        assert_eq!(u8::from(x.is_ok()) + u8::from(y.is_ok()), 1, "round {round}: {x:?} {y:?}");
        let final_state = wait(&http, lb, &challenge.id, 5).await.state;
        let winner = if x.is_ok() { ChallengeState::Approved } else { ChallengeState::Denied };
        assert_eq!(final_state, winner, "round {round}");
        rp_post::<serde_json::Value>(&http, lb, &format!("/v1/rp/accounts/{ACCOUNT}/logins"), &serde_json::json!({}))
            .await;
    }

    // One enrollment ticket redeemed on two instances at once (two keys), and one session
    // nonce spent on two: exactly one wins, every time, and the other gets its own code.
    let send = |port: u16, path: &'static str, body: serde_json::Value| {
        let http = http.clone();
        async move {
            let r = http.post(format!("http://127.0.0.1:{port}{path}")).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let one_wins = |x: &(u16, serde_json::Value), y: &(u16, serde_json::Value), code: &str, what: &str| {
        let (winner, loser) = match (x.0, y.0) {
            (200, _) => (x, y),
            _ => (y, x),
        };
        assert_eq!(winner.0, 200, "{what}: {x:?} {y:?}");
        assert_eq!(loser.1["code"], code, "{what}: {x:?} {y:?}");
    };
    let (p, q) = (ports[others[0]], ports[others[1]]);
    for round in 0..RACE_ROUNDS {
        let ticket: TicketCreated =
            rp_post(&http, lb, "/v1/rp/enrollment-tickets", &serde_json::json!({"account_id": ACCOUNT})).await;
        let body = || serde_json::to_value(RawDevice::enroll_request(&ticket.uri).unwrap().1).unwrap();
        let (x, y) = tokio::join!(send(p, "/v1/device/enroll", body()), send(q, "/v1/device/enroll", body()));
        one_wins(&x, &y, "ticket_already_used", &format!("ticket, round {round}"));

        let nonce = send(lb, "/v1/device/nonce", serde_json::json!({})).await.1["nonce"].as_str().unwrap().to_owned();
        let body = serde_json::to_value(raw.session_request(&nonce, clock.now()).unwrap()).unwrap();
        let (x, y) = tokio::join!(send(p, "/v1/device/session", body.clone()), send(q, "/v1/device/session", body));
        one_wins(&x, &y, "nonce_unknown", &format!("nonce, round {round}"));
    }
}
