//! Relying-party events: written with the change they report, delivered by signed webhook at
//! least once and in order (across an outage of the relying party and a crash of the
//! verifier), readable by cursor, and processed once by the site however often they arrive.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use inkan_core::Clock;
use inkan_e2e::*;
use inkan_protocol::webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify};
use inkan_protocol::{ChallengeState, Decision, FailedFactor, RpEvent, RpEventData, RpEventPage, WebhookDelivery};
use inkan_server::settings::{SecretString, WebhookSettings};

const SECRET: &str = "a webhook secret of at least 32 bytes, for tests";

/// A relying party's webhook endpoint, as a brokerage would write one: checks the signature
/// and the timestamp, refuses a delivery id it has seen, keeps each event id once. While
/// `down`, it answers 503 to everything.
struct Receiver {
    down: AtomicBool,
    deliveries: AtomicUsize,
    refused: AtomicUsize,
    delivery_ids: Mutex<HashSet<String>>,
    event_ids: Mutex<HashSet<String>>,
    events: Mutex<Vec<RpEvent>>,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if r.down.load(SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let h = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let id = h(DELIVERY_HEADER);
    if verify(
        SECRET.as_bytes(),
        &id,
        &h(TIMESTAMP_HEADER),
        &h(SIGNATURE_HEADER),
        &body,
        inkan_core::SystemClock.now(),
        300,
    )
    .is_err()
        || !r.delivery_ids.lock().unwrap().insert(id)
    {
        r.refused.fetch_add(1, SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let delivery: WebhookDelivery = serde_json::from_slice(&body).expect("a delivery");
    r.deliveries.fetch_add(1, SeqCst);
    for event in delivery.events {
        if r.event_ids.lock().unwrap().insert(event.id.clone()) {
            r.events.lock().unwrap().push(event);
        }
    }
    StatusCode::NO_CONTENT
}

/// The receiver checks timestamps against the real clock (the test server's clock starts
/// there and this test does not move it).
async fn start_receiver() -> (Arc<Receiver>, String) {
    let r = Arc::new(Receiver {
        down: AtomicBool::new(true),
        deliveries: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
        delivery_ids: Mutex::default(),
        event_ids: Mutex::default(),
        events: Mutex::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/inkan", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hooks/inkan", axum::routing::post(receive)).with_state(r.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, url)
}

/// Every event the pull endpoint has, paging `limit` at a time from `after`.
async fn pull_all(t: &TestServer, after: i64, limit: u32, account: Option<&str>) -> Vec<RpEvent> {
    let mut cursor = after;
    let mut all = Vec::new();
    loop {
        let mut url = format!("{}/v1/rp/events?after={cursor}&limit={limit}", t.origin);
        if let Some(a) = account {
            url.push_str(&format!("&account={a}"));
        }
        let page: RpEventPage = t
            .http
            .get(url)
            .bearer_auth(&t.api_key)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        if page.events.is_empty() {
            assert_eq!(page.next_cursor, cursor, "an empty page keeps the cursor");
            return all;
        }
        assert!(page.events.len() <= limit as usize);
        assert_eq!(page.next_cursor, page.events.last().unwrap().seq);
        cursor = page.next_cursor;
        all.extend(page.events);
    }
}

/// A number of the same length with every digit changed.
fn wrong_number(number: &str) -> String {
    number.chars().map(|c| if c == '9' { '0' } else { '9' }).collect()
}

/// Enrolls, types a wrong number, reports "not me", approves a login and revokes, for two
/// accounts: the events every relying party must act on.
async fn make_events(t: &TestServer, a: &str, b: &str) {
    let (device_a, account_a) = t.enrolled_device(memory_keys(), a).await;
    let (device_b, account_b) = t.enrolled_device(memory_keys(), b).await;
    let created = t.challenge(a, withdrawal(10_000), true).await;
    let wrong = wrong_number(created.number_to_show.as_deref().unwrap());
    device_a.decide_by_id(&account_a, &created.challenge_id, Decision::Approve, Some(&wrong)).await.unwrap_err();
    let created = t.challenge(b, login(), false).await;
    device_b.decide_by_id(&account_b, &created.challenge_id, Decision::Approve, None).await.unwrap();
    let created = t.challenge(a, login(), false).await;
    device_a.decide_by_id(&account_a, &created.challenge_id, Decision::DenyFraud, None).await.unwrap();
    t.revoke(a, &account_a.device_id).await;
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_event_reaches_the_webhook_once_in_order_across_an_outage_and_a_crash() {
    let (receiver, url) = start_receiver().await;
    let mut t = TestServer::start_configured(|s| {
        s.webhook = Some(WebhookSettings { url, secret: SecretString::new(SECRET.into()) });
        s.limits.webhook_retry_min_ms = 20;
        s.limits.webhook_retry_max_secs = 1;
        s.limits.webhook_poll_ms = 50;
    })
    .await;

    // The relying party is down while devices enroll, fail, report and are revoked.
    make_events(&t, "30010001", "30010002").await;
    let written = pull_all(&t, 0, 500, None).await;
    let kinds: Vec<&str> = written.iter().map(|e| e.data.kind()).collect();
    for kind in ["device_enrolled", "factor_failed", "fraud_reported", "device_revoked", "challenge_settled"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = t.http.get(format!("{}/metrics", t.origin)).send().await.unwrap().text().await.unwrap();
        let failures: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("inkan_webhook_failures_total "))
            .expect("the failure counter")
            .parse()
            .unwrap();
        if failures >= 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the outage was not noticed:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(receiver.deliveries.load(SeqCst), 0, "nothing got through while down");

    // The verifier dies with every event undelivered, and comes back.
    t.kill();
    t.restart().await;
    receiver.down.store(false, SeqCst);
    wait_until("every event delivered", || receiver.events.lock().unwrap().len() == written.len()).await;

    let got = receiver.events.lock().unwrap().clone();
    assert_eq!(got, written, "the same events, in the order they were written");
    for account in ["30010001", "30010002"] {
        let seqs: Vec<i64> = got.iter().filter(|e| e.account_id == account).map(|e| e.seq).collect();
        assert!(!seqs.is_empty() && seqs.windows(2).all(|w| w[0] < w[1]), "in order per account: {seqs:?}");
    }
    assert_eq!(receiver.refused.load(SeqCst), 0, "every delivery was signed and fresh");

    // New events after recovery follow without a restart.
    let (_device, _account) = t.enrolled_device(memory_keys(), "30010003").await;
    wait_until("the next event", || receiver.events.lock().unwrap().iter().any(|e| e.account_id == "30010003")).await;
    assert_eq!(pull_all(&t, 0, 500, None).await, receiver.events.lock().unwrap().clone());
}

#[tokio::test]
async fn the_pull_endpoint_gives_the_same_events_from_any_cursor() {
    let t = TestServer::start().await;
    make_events(&t, "30020001", "30020002").await;
    let all = pull_all(&t, 0, 500, None).await;
    assert_eq!(all.len(), 8, "{all:?}");
    assert_eq!(pull_all(&t, 0, 1, None).await, all, "one at a time");
    assert_eq!(pull_all(&t, 0, 3, None).await, all, "three at a time");
    for (i, e) in all.iter().enumerate() {
        assert_eq!(pull_all(&t, e.seq, 2, None).await, all[i + 1..], "from the cursor after event {i}");
    }
    let ids: HashSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "ids are unique");
    let only_a: Vec<RpEvent> = all.iter().filter(|e| e.account_id == "30020001").cloned().collect();
    assert_eq!(pull_all(&t, 0, 2, Some("30020001")).await, only_a);

    // The wrong number is there with its factor and attempt count, and the challenge's end.
    let failed = only_a.iter().find(|e| matches!(e.data, RpEventData::FactorFailed { .. })).expect("factor_failed");
    let RpEventData::FactorFailed { factor, attempts, challenge_id, .. } = &failed.data else { unreachable!() };
    assert_eq!((*factor, *attempts), (FailedFactor::NumberMismatch, 1));
    assert!(only_a.iter().any(|e| e.data
        == RpEventData::ChallengeSettled { challenge_id: challenge_id.clone(), state: ChallengeState::Failed }));

    // Bad cursors and limits are refused with a code; no key, no events.
    for query in
        ["after=-1", "after=9007199254740992", "limit=0", "limit=501", "account=no%20spaces", "after=x", "colour=blue"]
    {
        let resp =
            t.http.get(format!("{}/v1/rp/events?{query}", t.origin)).bearer_auth(&t.api_key).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "bad_request", "{query}: {body}");
    }
    let resp = t.http.get(format!("{}/v1/rp/events", t.origin)).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

/// Posts a signed delivery to the site's webhook; returns the status and body.
async fn post_delivery(
    t: &TestServer,
    delivery_id: &str,
    timestamp: i64,
    body: &[u8],
    secret: &str,
) -> (u16, serde_json::Value) {
    let resp = t
        .http
        .post(format!("{}/inkan/webhook", t.site_origin))
        .header("content-type", "application/json")
        .header(DELIVERY_HEADER, delivery_id)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, sign(secret.as_bytes(), timestamp, delivery_id, body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

fn number_mismatch(id: &str, account: &str) -> RpEvent {
    RpEvent {
        id: id.into(),
        seq: 1,
        at: 0,
        account_id: account.into(),
        data: RpEventData::FactorFailed {
            challenge_id: format!("c-{id}"),
            device_id: "d".into(),
            factor: FailedFactor::NumberMismatch,
            attempts: 1,
        },
    }
}

fn delivery(id: &str, events: Vec<RpEvent>) -> Vec<u8> {
    serde_json::to_vec(&WebhookDelivery { delivery_id: id.into(), events }).unwrap()
}

async fn failed_logins(t: &TestServer, account: &str) -> i64 {
    t.site_store().customer(account).await.unwrap().unwrap().failed_logins
}

#[tokio::test]
async fn the_site_refuses_forged_stale_and_replayed_deliveries_and_counts_each_event_once() {
    let t = TestServer::start_site_configured(|s| {
        s.webhook_secret = SecretString::new(SECRET.into());
        s.limits.max_failed_logins = 50;
    })
    .await;
    let account = t.customer("30030001").await;
    let now = t.clock.now();
    let body = delivery("d-1", vec![number_mismatch("ev-1", &account)]);

    // Refused, and nothing counted: another secret, a changed body, an old or future
    // timestamp, missing or malformed headers, a body that is not a delivery, ids that differ.
    let other_secret = "another secret of at least 32 bytes, not the site's";
    assert_eq!(post_delivery(&t, "d-1", now, &body, other_secret).await.0, 401);
    let tampered = delivery("d-1", vec![number_mismatch("ev-1", "30030002")]);
    let resp = t
        .http
        .post(format!("{}/inkan/webhook", t.site_origin))
        .header(DELIVERY_HEADER, "d-1")
        .header(TIMESTAMP_HEADER, now.to_string())
        .header(SIGNATURE_HEADER, sign(SECRET.as_bytes(), now, "d-1", &body))
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a signature over another body");
    let (status, answer) = post_delivery(&t, "d-1", now - 301, &body, SECRET).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("webhook_stale")));
    assert_eq!(post_delivery(&t, "d-1", now + 301, &body, SECRET).await.0, 400);
    let resp = t.http.post(format!("{}/inkan/webhook", t.site_origin)).body(body.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 400, "no headers");
    assert_eq!(post_delivery(&t, "d 1", now, &body, SECRET).await.0, 400, "a malformed delivery id");
    assert_eq!(post_delivery(&t, "d-x", now, b"{\"not\":\"a delivery\"}", SECRET).await.0, 400);
    assert_eq!(post_delivery(&t, "d-2", now, &body, SECRET).await.0, 400, "the body names another delivery");
    let huge = vec![b' '; inkan_site::Limits::default().webhook_max_body_bytes + 1];
    assert_eq!(post_delivery(&t, "d-big", now, &huge, SECRET).await.0, 413);
    assert_eq!(failed_logins(&t, &account).await, 0, "no refused delivery counted anything");

    // Accepted once; the same delivery again is a replay; the same event in a new delivery
    // (the verifier's retry) is not counted again.
    let (status, answer) = post_delivery(&t, "d-1", now, &body, SECRET).await;
    assert_eq!((status, answer["processed"].as_u64()), (200, Some(1)), "{answer}");
    assert_eq!(failed_logins(&t, &account).await, 1);
    let (status, answer) = post_delivery(&t, "d-1", now, &body, SECRET).await;
    assert_eq!((status, answer["error"].as_str()), (409, Some("webhook_replayed")));
    let again = delivery("d-3", vec![number_mismatch("ev-1", &account)]);
    let (status, answer) = post_delivery(&t, "d-3", now, &again, SECRET).await;
    assert_eq!((status, answer["processed"].as_u64()), (200, Some(0)), "{answer}");
    assert_eq!(failed_logins(&t, &account).await, 1, "one count per event");

    // The same new event in eight deliveries at once: counted once.
    let posts = (0..8).map(|i| {
        let t = &t;
        let body = delivery(&format!("d-par-{i}"), vec![number_mismatch("ev-2", "30030001")]);
        async move { post_delivery(t, &format!("d-par-{i}"), now, &body, SECRET).await.0 }
    });
    let statuses = futures_util::future::join_all(posts).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(failed_logins(&t, &account).await, 2, "one count for ev-2 however often it came");
}

#[tokio::test]
async fn wrong_numbers_on_the_device_lock_the_site_account_and_each_mail_goes_once() {
    let t = TestServer::start_site_with(|l| l.max_failed_logins = 3).await;
    let account = t.customer("30040001").await;
    let (device, enrolled) = t.enrolled_device(memory_keys(), &account).await;
    for _ in 0..3 {
        let created = t.challenge(&account, withdrawal(10_000), true).await;
        let wrong = wrong_number(created.number_to_show.as_deref().unwrap());
        device.decide_by_id(&enrolled, &created.challenge_id, Decision::Approve, Some(&wrong)).await.unwrap_err();
    }
    t.mail_with("Account locked").await;
    let row = t.site_store().customer(&account).await.unwrap().unwrap();
    assert_eq!((row.failed_logins, row.locked_at.is_some()), (3, true));
    let created = t.challenge(&account, login(), false).await;
    device.decide_by_id(&enrolled, &created.challenge_id, Decision::DenyFraud, None).await.unwrap();
    t.revoke(&account, &enrolled.device_id).await;
    t.mail_with("Authenticator app removed").await;
    // Give any duplicate delivery time to arrive, then count.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = t.outbox().await;
    for subject in ["Authenticator app added", "Account locked", "\"Not me\" reported", "Authenticator app removed"] {
        assert_eq!(mails.iter().filter(|m| m.1.contains(subject)).count(), 1, "{subject}: {mails:?}");
    }
    let audit = t.audit_events(&account).await;
    assert_eq!(audit.iter().filter(|e| *e == "account_locked").count(), 1, "{audit:?}");
}
