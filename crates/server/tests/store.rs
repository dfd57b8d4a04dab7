//! The store's contract, one list run against both backends: SQLite (a file in a temporary
//! directory) and PostgreSQL (a real cluster, `inkan_kit::pg_test`). Each case is a function
//! of a fresh store; `conformance!` makes one test per case and backend.
//!
//! Covered: the append-only audit log, single use (tickets, nonces, offline-code steps), one
//! outcome per challenge under racing decisions, the push limits under racing creations,
//! events in `seq` order under concurrent writers, the webhook cursor never moving back, and
//! the purges.

use std::sync::Arc;

use inkan_kit::db::WriteRow;
use inkan_kit::with_db;
use inkan_protocol::{ChallengeState, RpEventData};
use inkan_server::store::{AuditEvent, EventEntry, NewChallenge, NewDevice, RecordedDecision, Store};

/// Races are repeated this many times each.
const RACE_ROUNDS: usize = 20;

struct Fresh {
    store: Store,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.sqlite3").display());
    Fresh { store: Store::open(&url).await.unwrap(), _dir: Some(dir) }
}

async fn postgres() -> Fresh {
    let url = inkan_kit::pg_test::fresh_database_url().await.unwrap();
    Fresh { store: Store::open(&url).await.unwrap(), _dir: None }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fresh = super::sqlite().await;
                    super::$case(&fresh.store).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fresh = super::postgres().await;
                    super::$case(&fresh.store).await;
                }
            )*
        }
    };
}

conformance!(
    audit_log_is_append_only,
    spent_nonces_and_expired_sessions_are_purged,
    old_events_are_purged_once_delivered_or_by_age_without_a_webhook,
    a_ticket_redeemed_twice_at_once_binds_one_device,
    a_nonce_taken_twice_at_once_is_taken_once,
    an_offline_code_step_is_used_once,
    racing_decisions_give_one_outcome,
    racing_creations_respect_the_push_limit,
    events_keep_seq_order_under_concurrent_writers,
    the_webhook_cursor_never_moves_back,
    expiry_settles_each_challenge_once,
);

async fn raw(store: &Store, sql: &'static str) -> Result<u64, String> {
    with_db!(store.db(), |w, r, pg| sqlx::query(sql)
        .execute(w)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| e.to_string()))
}

async fn audit_log_is_append_only(store: &Store) {
    store.audit(1, AuditEvent::LoginReported, Some("a"), None, None, serde_json::json!({})).await.unwrap();
    let update = raw(store, "UPDATE audit_events SET event = 'rewritten'").await;
    assert!(update.unwrap_err().contains("append-only"));
    let delete = raw(store, "DELETE FROM audit_events").await;
    assert!(delete.unwrap_err().contains("append-only"));
    assert_eq!(store.audit_for_account("a", 10).await.unwrap().len(), 1);
}

async fn spent_nonces_and_expired_sessions_are_purged(store: &Store) {
    store.insert_nonce("old", 100).await.unwrap();
    store.insert_nonce("fresh", 300).await.unwrap();
    store.insert_session(b"old-token-hash", "d", 100).await.unwrap();
    store.insert_session(b"fresh-token-hash", "d", 300).await.unwrap();
    assert_eq!(store.purge_expired(200).await.unwrap(), (1, 1));
    assert_eq!(store.take_nonce("old").await.unwrap(), None);
    assert_eq!(store.take_nonce("fresh").await.unwrap(), Some(300));
    assert!(store.session(b"old-token-hash").await.unwrap().is_none());
    assert!(store.session(b"fresh-token-hash").await.unwrap().is_some());
    // The one-read form the device requests use: the session with its device, or nothing.
    assert!(store.session_device(b"old-token-hash").await.unwrap().is_none());
    assert!(store.session_device(b"no-such-hash").await.unwrap().is_none());
    store.insert_ticket("ts", b"ts", "acct-s", "l", 0, 1000).await.unwrap();
    assert!(store.redeem_ticket("ts", device("dev-s", "acct-s")).await.unwrap());
    store.insert_session(b"dev-s-hash", "dev-s", 300).await.unwrap();
    let found = store.session_device(b"dev-s-hash").await.unwrap().expect("the session with its device");
    assert_eq!(found.session_expires_at, 300);
    assert_eq!((found.device.id.as_str(), found.device.account_id.as_str()), ("dev-s", "acct-s"));
    assert_eq!(found.device.public_key, b"key");
}

async fn write_event(store: &Store, at: i64, account_id: &str, data: RpEventData) {
    let entry = EventEntry { at, account_id, data };
    with_db!(store.db(), |w, r, pg| entry.write(w).await).unwrap();
}

/// Old relying-party events go: with a webhook, only once it has delivered them; without one
/// (pull only), by age alone, so the table does not grow without end.
async fn old_events_are_purged_once_delivered_or_by_age_without_a_webhook(store: &Store) {
    for at in [100, 150, 300] {
        write_event(store, at, "a", RpEventData::DeviceRevoked { device_id: "d".into(), name: "n".into() }).await;
    }
    let first = store.events_after(0, None, 10).await.unwrap()[0].seq;
    assert_eq!(store.purge_events(200, true).await.unwrap(), 0, "undelivered events stay while a webhook waits");
    store.advance_webhook_cursor(first).await.unwrap();
    assert_eq!(store.purge_events(200, true).await.unwrap(), 1, "the delivered old one goes");
    assert_eq!(store.purge_events(200, false).await.unwrap(), 1, "without a webhook, age alone decides");
    assert_eq!(store.purge_events(200, false).await.unwrap(), 0, "the recent one stays");
}

fn device<'a>(id: &'a str, account_id: &'a str) -> NewDevice<'a> {
    NewDevice {
        id,
        account_id,
        name: "phone",
        platform: "test",
        public_key: b"key",
        totp_secret: b"sealed",
        totp_key_id: "k",
        enrolled_at: 10,
    }
}

async fn a_ticket_redeemed_twice_at_once_binds_one_device(store: &Store) {
    for round in 0..RACE_ROUNDS {
        let ticket = format!("t{round}");
        let account = format!("acct{round}");
        store.insert_ticket(&ticket, ticket.as_bytes(), &account, "l", 0, 1000).await.unwrap();
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let (x, y) = tokio::join!(
            store.redeem_ticket(&ticket, device(&a, &account)),
            store.redeem_ticket(&ticket, device(&b, &account))
        );
        assert_eq!([x.unwrap(), y.unwrap()].iter().filter(|w| **w).count(), 1, "round {round}");
        assert_eq!(store.devices_for_account(&account).await.unwrap().len(), 1);
        let enrolled = store.events_after(0, Some(&account), 10).await.unwrap();
        assert_eq!(enrolled.len(), 1, "one device_enrolled event");
    }
}

async fn a_nonce_taken_twice_at_once_is_taken_once(store: &Store) {
    for round in 0..RACE_ROUNDS {
        let nonce = format!("n{round}");
        store.insert_nonce(&nonce, 1000).await.unwrap();
        let (x, y) = tokio::join!(store.take_nonce(&nonce), store.take_nonce(&nonce));
        assert_eq!([x.unwrap(), y.unwrap()].iter().filter(|t| t.is_some()).count(), 1, "round {round}");
    }
}

async fn an_offline_code_step_is_used_once(store: &Store) {
    store.insert_ticket("t", b"h", "acct", "l", 0, 1000).await.unwrap();
    assert!(store.redeem_ticket("t", device("d", "acct")).await.unwrap());
    let (x, y) = tokio::join!(store.use_totp_step("acct", "d", 7, 0), store.use_totp_step("acct", "d", 7, 0));
    assert_eq!([x.unwrap(), y.unwrap()].iter().filter(|w| **w).count(), 1);
    assert!(!store.use_totp_step("acct", "d", 6, 0).await.unwrap(), "an earlier step after a later one is a replay");
    assert!(store.use_totp_step("acct", "d", 8, 0).await.unwrap());
    // Each state change commits with its audit row: the ticket's creation, and each step
    // spent (7 once, 8), none for the replays.
    let events: Vec<String> = store.audit_for_account("acct", 100).await.unwrap().into_iter().map(|r| r.1).collect();
    assert_eq!(events.iter().filter(|e| *e == "ticket_created").count(), 1, "{events:?}");
    assert_eq!(events.iter().filter(|e| *e == "offline_code_accepted").count(), 2, "{events:?}");
}

fn challenge<'a>(id: &'a str, account_id: &'a str, created_at: i64) -> NewChallenge<'a> {
    NewChallenge {
        id,
        account_id,
        challenge_json: "{}",
        server_signature: "sig",
        number_to_match: None,
        created_at,
        expires_at: created_at + 60,
    }
}

async fn create(store: &Store, id: &str, account: &str, created_at: i64, max_open: i64) -> bool {
    store
        .insert_challenge_gated(
            challenge(id, account, created_at),
            serde_json::json!({}),
            |gate| if gate.open_challenges < max_open { Ok(()) } else { Err(()) },
            |_| Some("too_many_open"),
        )
        .await
        .unwrap()
        .is_ok()
}

async fn racing_decisions_give_one_outcome(store: &Store) {
    store.insert_ticket("t", b"h", "acct", "l", 0, 1000).await.unwrap();
    assert!(store.redeem_ticket("t", device("d", "acct")).await.unwrap());
    for round in 0..RACE_ROUNDS {
        let id = format!("c{round}");
        assert!(create(store, &id, "acct", 20, i64::MAX).await);
        let decide = |state| {
            store.record_decision(RecordedDecision {
                challenge_id: &id,
                account_id: "acct",
                device_id: "d",
                state,
                signature: "s",
                now: 30,
                push_state: None,
            })
        };
        let row = store.challenge(&id).await.unwrap().unwrap();
        let (approve, deny, expire) = tokio::join!(
            decide(ChallengeState::Approved),
            decide(ChallengeState::Denied),
            store.finish_challenge(&row, ChallengeState::Expired, 30, None)
        );
        let wins = [approve.unwrap(), deny.unwrap(), expire.unwrap()];
        assert_eq!(wins.iter().filter(|w| **w).count(), 1, "round {round}: {wins:?}");
        let settled: Vec<_> = store
            .events_after(0, Some("acct"), 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| matches!(&e.data, RpEventData::ChallengeSettled { challenge_id, .. } if *challenge_id == id))
            .collect();
        assert_eq!(settled.len(), 1, "round {round}: one settled event");
    }
    assert_eq!(store.pending_challenges("acct", 0).await.unwrap().len(), 0);
}

async fn racing_creations_respect_the_push_limit(store: &Store) {
    for round in 0..RACE_ROUNDS {
        let account = format!("acct{round}");
        let ids: Vec<String> = (0..4).map(|i| format!("c{round}-{i}")).collect();
        let results = futures_util::future::join_all(ids.iter().map(|id| create(store, id, &account, 20, 1))).await;
        assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "round {round}: {results:?}");
        assert_eq!(store.pending_challenges(&account, 0).await.unwrap().len(), 1);
    }
}

async fn events_keep_seq_order_under_concurrent_writers(store: &Store) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let store = Arc::new(store.clone());
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let data = RpEventData::DeviceRevoked { device_id: format!("d{w}-{i}"), name: "n".into() };
                write_event(&store, 1, &format!("acct{w}"), data).await;
            }
        }));
    }
    // A reader follows the events as they commit, by cursor: it must see every one, in order.
    let mut seen = Vec::new();
    let mut cursor = 0;
    while seen.len() < WRITERS * EACH {
        for e in store.events_after(cursor, None, 50).await.unwrap() {
            assert!(e.seq > cursor);
            cursor = e.seq;
            seen.push(e);
        }
        tokio::task::yield_now().await;
        if tasks.iter().all(|t| t.is_finished()) && store.events_after(cursor, None, 1).await.unwrap().is_empty() {
            break;
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(seen.len(), WRITERS * EACH, "the cursor reader missed events");
    for w in 0..WRITERS {
        let order: Vec<String> = seen
            .iter()
            .filter(|e| e.account_id == format!("acct{w}"))
            .map(|e| match &e.data {
                RpEventData::DeviceRevoked { device_id, .. } => device_id.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected: Vec<String> = (0..EACH).map(|i| format!("d{w}-{i}")).collect();
        assert_eq!(order, expected, "in order per account");
    }
}

async fn the_webhook_cursor_never_moves_back(store: &Store) {
    assert_eq!(store.webhook_cursor().await.unwrap(), 0);
    store.advance_webhook_cursor(5).await.unwrap();
    store.advance_webhook_cursor(3).await.unwrap();
    assert_eq!(store.webhook_cursor().await.unwrap(), 5);
    store.advance_webhook_cursor(9).await.unwrap();
    assert_eq!(store.webhook_cursor().await.unwrap(), 9);
}

async fn expiry_settles_each_challenge_once(store: &Store) {
    for i in 0..10 {
        assert!(create(store, &format!("c{i}"), "acct", 0, i64::MAX).await);
    }
    let (a, b) = tokio::join!(store.expire_due(1000), store.expire_due(1000));
    let mut all: Vec<String> = a.unwrap().into_iter().chain(b.unwrap()).map(|(id, _)| id).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 10);
    let settled = store.events_after(0, Some("acct"), 100).await.unwrap();
    assert_eq!(settled.iter().filter(|e| matches!(e.data, RpEventData::ChallengeSettled { .. })).count(), 10);
}
