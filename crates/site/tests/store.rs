//! The site store's contract, one list run against both backends: SQLite (a file in a temporary
//! directory) and PostgreSQL (a real cluster, `inkan_kit::pg_test`). Each case is a function
//! of a fresh store; `conformance!` makes one test per case and backend.
//!
//! Covered: the append-only audit log; the failure count and the lock under racing failures;
//! one completion per withdrawal and a balance that cannot go below zero under racing
//! completions and refusals; single use of e-mailed codes, login attempts, passkey ceremonies,
//! passkey counters and webhook deliveries and events under races; the passkey ceremony caps
//! under racing starts; the login environment's upserts; the newest e-mailed code.

use std::sync::Arc;

use inkan_kit::with_db;
use inkan_protocol::{FailedFactor, RpEvent, RpEventData};
use inkan_site::audit::{AuditEntry, AuditEvent};
use inkan_site::db::{BankAccountRow, NewCustomer, NewEmailCode, SiteStore, WithdrawalRow, WithdrawalState};
use inkan_site::passkey_db::{CeremonyOpened, NewCeremony, PasskeyRow};

/// Races are repeated this many times each.
const RACE_ROUNDS: usize = 20;
const NOW: i64 = 1_800_000_000;

struct Fresh {
    store: SiteStore,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("site.sqlite3").display());
    Fresh { store: SiteStore::open(&url, &inkan_site::Limits::default()).await.unwrap(), _dir: Some(dir) }
}

async fn postgres() -> Fresh {
    let url = inkan_kit::pg_test::fresh_database_url().await.unwrap();
    Fresh { store: SiteStore::open(&url, &inkan_site::Limits::default()).await.unwrap(), _dir: None }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fresh = super::sqlite().await;
                    super::$case(Arc::new(fresh.store.clone())).await;
                }
            )*
            use std::sync::Arc;
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fresh = super::postgres().await;
                    super::$case(Arc::new(fresh.store.clone())).await;
                }
            )*
            use std::sync::Arc;
        }
    };
}

conformance!(
    audit_log_is_append_only,
    racing_failures_count_each_and_lock_once,
    racing_completions_never_overdraw,
    one_withdrawal_is_completed_or_refused_once,
    an_email_code_is_spent_once,
    a_login_attempt_finishes_once,
    a_passkey_ceremony_is_taken_once,
    ceremony_caps_hold_under_racing_starts,
    a_passkey_counter_moves_once,
    webhook_deliveries_and_events_are_taken_once,
    the_login_environment_is_remembered_and_updated,
    the_newest_email_code_wins_within_one_second,
);

async fn customer(store: &SiteStore, account_id: &str, cash_balance: i64) {
    store
        .insert_customer(
            NewCustomer {
                account_id,
                name: "試験 太郎",
                email: "taro@example.com",
                phone: "090-0000-0000",
                password_hash: "not a real hash",
                withdrawal_password_hash: "not a real hash",
                cash_balance,
                now: NOW,
            },
            None,
            entry(AuditEvent::CustomerCreated, account_id),
        )
        .await
        .unwrap();
}

fn entry(event: AuditEvent, account_id: &str) -> AuditEntry<'_> {
    AuditEntry {
        at: NOW,
        event,
        account_id: Some(account_id),
        device_id: None,
        challenge_id: None,
        detail: serde_json::json!({}),
    }
}

async fn audit_count(store: &SiteStore, account_id: &str, event: AuditEvent) -> usize {
    let name: &'static str = event.into();
    store.audit_for_account(account_id, 10_000).await.unwrap().iter().filter(|r| r.1 == name).count()
}

/// Runs `n` copies of `f` at once; how many returned true.
async fn race<F, Fut>(n: usize, f: F) -> usize
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut wins = 0;
    for h in handles {
        wins += usize::from(h.await.unwrap());
    }
    wins
}

async fn audit_log_is_append_only(store: Arc<SiteStore>) {
    customer(&store, "1001", 0).await;
    store.audit(NOW, AuditEvent::Logout, Some("1001"), None, None, serde_json::json!({})).await.unwrap();
    with_db!(store.db(), |w, r, pg| {
        assert!(sqlx::query("UPDATE audit_events SET event = 'login_succeeded'").execute(w).await.is_err());
        assert!(sqlx::query("DELETE FROM audit_events").execute(w).await.is_err());
        if pg {
            assert!(sqlx::query("TRUNCATE audit_events").execute(w).await.is_err());
        }
    });
    assert_eq!(audit_count(&store, "1001", AuditEvent::Logout).await, 1);
}

async fn racing_failures_count_each_and_lock_once(store: Arc<SiteStore>) {
    const MAX: i64 = 5;
    for round in 0..RACE_ROUNDS {
        let account = format!("2{round:03}");
        customer(&store, &account, 0).await;
        store
            .insert_web_session(
                &[round as u8; 32],
                &account,
                NOW,
                NOW + 600,
                entry(AuditEvent::LoginSucceeded, &account),
            )
            .await
            .unwrap();
        let locked = race(12, |_| {
            let (store, account) = (store.clone(), account.clone());
            async move {
                let count = store
                    .count_failure(&account, NOW, MAX, AuditEvent::LoginPasswordWrong, serde_json::json!({}))
                    .await
                    .unwrap();
                count.locked_now
            }
        })
        .await;
        assert_eq!(locked, 1, "round {round}: one failure locks");
        let row = store.customer(&account).await.unwrap().unwrap();
        assert_eq!(row.failed_logins, 12, "round {round}: every failure counts");
        assert_eq!(row.locked_at, Some(NOW));
        assert_eq!(audit_count(&store, &account, AuditEvent::LoginPasswordWrong).await, 12);
        assert_eq!(audit_count(&store, &account, AuditEvent::AccountLocked).await, 1);
        assert!(store.web_session(&[round as u8; 32]).await.unwrap().is_none(), "the lock ends the sessions");
    }
}

async fn destination(store: &SiteStore, account_id: &str) -> String {
    let id = format!("b-{account_id}");
    let row = BankAccountRow {
        id: id.clone(),
        account_id: account_id.to_owned(),
        bank: "0001".into(),
        branch: "001".into(),
        number: "1234567".into(),
        holder: "シケン タロウ".into(),
        usable_from: 0,
    };
    store.insert_bank_account(&row, NOW).await.unwrap();
    id
}

async fn withdrawal(store: &SiteStore, id: &str, account_id: &str, bank: &str, amount: i64) {
    let row = WithdrawalRow {
        id: id.to_owned(),
        account_id: account_id.to_owned(),
        amount,
        bank_account_id: bank.to_owned(),
        state: WithdrawalState::AwaitingApproval,
        needs_push: true,
        challenge_id: None,
        number: None,
        created_at: NOW,
        finished_at: None,
    };
    store.insert_withdrawal_requested(&row, None, &entry(AuditEvent::WithdrawalRequested, account_id)).await.unwrap();
}

async fn racing_completions_never_overdraw(store: Arc<SiteStore>) {
    for round in 0..RACE_ROUNDS {
        let account = format!("3{round:03}");
        customer(&store, &account, 100_000).await;
        let bank = destination(&store, &account).await;
        // Eight withdrawals of 30,000 yen against 100,000: three can complete.
        for n in 0..8 {
            withdrawal(&store, &format!("w-{account}-{n}"), &account, &bank, 30_000).await;
        }
        let completed = race(8, |n| {
            let (store, account) = (store.clone(), account.clone());
            async move {
                let id = format!("w-{account}-{n}");
                store.complete_withdrawal(&id, NOW, &entry(AuditEvent::WithdrawalCompleted, &account)).await.unwrap()
            }
        })
        .await;
        assert_eq!(completed, 3, "round {round}");
        assert_eq!(store.customer(&account).await.unwrap().unwrap().cash_balance, 10_000, "round {round}");
        assert_eq!(audit_count(&store, &account, AuditEvent::WithdrawalCompleted).await, 3, "round {round}");
    }
}

async fn one_withdrawal_is_completed_or_refused_once(store: Arc<SiteStore>) {
    customer(&store, "4000", 10_000_000).await;
    let bank = destination(&store, "4000").await;
    for round in 0..RACE_ROUNDS {
        let id = format!("w-{round}");
        withdrawal(&store, &id, "4000", &bank, 1_000).await;
        let settled = race(6, |n| {
            let (store, id) = (store.clone(), id.clone());
            async move {
                if n % 2 == 0 {
                    store.complete_withdrawal(&id, NOW, &entry(AuditEvent::WithdrawalCompleted, "4000")).await.unwrap()
                } else {
                    store.refuse_withdrawal(&id, NOW, &entry(AuditEvent::WithdrawalRefused, "4000")).await.unwrap()
                }
            }
        })
        .await;
        assert_eq!(settled, 1, "round {round}");
    }
    let completed = audit_count(&store, "4000", AuditEvent::WithdrawalCompleted).await as i64;
    let refused = audit_count(&store, "4000", AuditEvent::WithdrawalRefused).await;
    assert_eq!(completed as usize + refused, RACE_ROUNDS, "one audit row per withdrawal");
    assert_eq!(store.customer("4000").await.unwrap().unwrap().cash_balance, 10_000_000 - completed * 1_000);
}

async fn an_email_code_is_spent_once(store: Arc<SiteStore>) {
    customer(&store, "5000", 0).await;
    for round in 0..RACE_ROUNDS {
        let (id, subject) = (format!("c-{round}"), format!("s-{round}"));
        store
            .insert_email_code(
                NewEmailCode {
                    id: &id,
                    account_id: "5000",
                    purpose: "login",
                    subject_id: &subject,
                    code_hash: &[1; 32],
                    now: NOW,
                    expires_at: NOW + 300,
                },
                entry(AuditEvent::EmailCodeSent, "5000"),
            )
            .await
            .unwrap();
        let spent = race(8, |_| {
            let (store, id) = (store.clone(), id.clone());
            async move { store.use_email_code(&id, NOW, entry(AuditEvent::EmailCodeAccepted, "5000")).await.unwrap() }
        })
        .await;
        assert_eq!(spent, 1, "round {round}");
        // Wrong entries race too: each one counts.
        race(8, |_| {
            let (store, id) = (store.clone(), id.clone());
            async move { store.add_email_code_attempt(&id, "5000", NOW).await.unwrap() > 0 }
        })
        .await;
        assert_eq!(store.latest_email_code(&subject).await.unwrap().unwrap().attempts, 8, "round {round}");
    }
    // Each change commits with its audit row, and only the change that happened is audited.
    let events = audit_events(&store, "5000").await;
    assert_eq!(count(&events, "email_code_sent"), RACE_ROUNDS);
    assert_eq!(count(&events, "email_code_accepted"), RACE_ROUNDS, "one per code spent, none for the losers");
    assert_eq!(count(&events, "email_code_wrong"), 8 * RACE_ROUNDS);
}

async fn audit_events(store: &SiteStore, account_id: &str) -> Vec<String> {
    store.audit_for_account(account_id, 100_000).await.unwrap().into_iter().map(|r| r.1).collect()
}

fn count(events: &[String], name: &str) -> usize {
    events.iter().filter(|e| *e == name).count()
}

async fn a_login_attempt_finishes_once(store: Arc<SiteStore>) {
    customer(&store, "6000", 0).await;
    for round in 0..RACE_ROUNDS {
        let token = [round as u8; 32];
        store
            .insert_attempt(
                inkan_site::db::NewAttempt {
                    token_hash: &token,
                    account_id: "6000",
                    now: NOW,
                    expires_at: NOW + 600,
                    ip: "192.0.2.1",
                    browser: "test",
                    risk: "[]",
                    needs_push: true,
                    needs_email: false,
                },
                entry(AuditEvent::LoginPasswordOk, "6000"),
            )
            .await
            .unwrap();
        let switched = entry(AuditEvent::LoginSwitchedToEmailCode, "6000");
        store.set_attempt_factor(&token, inkan_site::db::AttemptFactor::SwitchToEmail, Some(switched)).await.unwrap();
        store.set_attempt_factor(&token, inkan_site::db::AttemptFactor::Email, None).await.unwrap();
        let attempt = store.attempt(&token).await.unwrap().unwrap();
        assert!(!attempt.needs_push && attempt.needs_email && attempt.email_done && !attempt.push_done);
        let finished = race(8, |_| {
            let store = store.clone();
            async move {
                store.finish_attempt(&token, NOW, Some(entry(AuditEvent::LoginAttemptEnded, "6000"))).await.unwrap()
            }
        })
        .await;
        assert_eq!(finished, 1, "round {round}");
    }
    let events = audit_events(&store, "6000").await;
    assert_eq!(count(&events, "login_password_ok"), RACE_ROUNDS);
    assert_eq!(count(&events, "login_switched_to_email_code"), RACE_ROUNDS);
    assert_eq!(count(&events, "login_attempt_ended"), RACE_ROUNDS, "one per attempt finished, none for the losers");
}

fn ceremony<'a>(token: &'a [u8], client: &'a str) -> NewCeremony<'a> {
    NewCeremony { token_hash: token, kind: "login", account_id: None, state: "{}", expires_at: NOW + 300, client }
}

async fn a_passkey_ceremony_is_taken_once(store: Arc<SiteStore>) {
    for round in 0..RACE_ROUNDS {
        let token = [round as u8; 32];
        assert_eq!(
            store.insert_ceremony(ceremony(&token, "c"), NOW, 1000, 1000).await.unwrap(),
            CeremonyOpened::Opened
        );
        let taken = race(8, |_| {
            let store = store.clone();
            async move { store.take_ceremony(&token, "login").await.unwrap().is_some() }
        })
        .await;
        assert_eq!(taken, 1, "round {round}");
    }
}

async fn ceremony_caps_hold_under_racing_starts(store: Arc<SiteStore>) {
    const PER_CLIENT: i64 = 3;
    const SERVER_WIDE: i64 = 10;
    for round in 0..RACE_ROUNDS {
        // One client, many starts at once: exactly its share opens.
        let client = format!("client-{round}");
        let opened = race(12, |n| {
            let (store, client) = (store.clone(), client.clone());
            async move {
                let token = [round as u8, n as u8, 1];
                store.insert_ceremony(ceremony(&token, &client), NOW, 1_000_000, PER_CLIENT).await.unwrap()
                    == CeremonyOpened::Opened
            }
        })
        .await;
        assert_eq!(opened as i64, PER_CLIENT, "round {round}: one client's share");
    }
    // Many clients at once against the server-wide cap (the earlier rounds' ceremonies have
    // expired by then).
    let later = NOW + 1000;
    let opened = race(30, |n| {
        let store = store.clone();
        async move {
            let token = [255, n as u8, 2];
            let client = format!("many-{n}");
            let c = NewCeremony { expires_at: later + 300, ..ceremony(&token, &client) };
            store.insert_ceremony(c, later, SERVER_WIDE, PER_CLIENT).await.unwrap() == CeremonyOpened::Opened
        }
    })
    .await;
    assert_eq!(opened as i64, SERVER_WIDE, "the server-wide cap");
}

async fn a_passkey_counter_moves_once(store: Arc<SiteStore>) {
    customer(&store, "7000", 0).await;
    let key = PasskeyRow {
        cred_id: "cred".into(),
        account_id: "7000".into(),
        name: "鍵".into(),
        credential: "{}".into(),
        sign_count: 0,
        backup_eligible: true,
        backup_state: false,
        created_at: NOW,
        last_used_at: None,
        suspended_at: None,
    };
    store.insert_passkey(&key, entry(AuditEvent::PasskeyRegistered, "7000")).await.unwrap();
    for round in 0..RACE_ROUNDS as i64 {
        // One assertion presented to several logins at once: one moves the counter.
        let used = race(6, |_| {
            let (store, next) =
                (store.clone(), PasskeyRow { sign_count: round + 1, backup_state: true, ..key.clone() });
            async move { store.use_passkey("cred", round, &next, NOW).await.unwrap() }
        })
        .await;
        assert_eq!(used, 1, "round {round}");
    }
    let stored = store.passkey("cred").await.unwrap().unwrap();
    assert_eq!(stored.sign_count, RACE_ROUNDS as i64);
    assert!(stored.backup_eligible && stored.backup_state);
    store.suspend_passkey("cred", NOW, entry(AuditEvent::PasskeyCloneSuspected, "7000")).await.unwrap();
    store.suspend_passkey("cred", NOW, entry(AuditEvent::PasskeyCloneSuspected, "7000")).await.unwrap();
    assert!(!store.use_passkey("cred", RACE_ROUNDS as i64, &key, NOW).await.unwrap(), "a suspended key is refused");
    let removed = || entry(AuditEvent::PasskeyRemoved, "7000");
    assert_eq!(store.delete_passkey("7000", "cred", removed()).await.unwrap().as_deref(), Some("鍵"));
    assert_eq!(store.delete_passkey("7000", "cred", removed()).await.unwrap(), None);
    let events = audit_events(&store, "7000").await;
    assert_eq!(count(&events, "passkey_registered"), 1);
    assert_eq!(count(&events, "passkey_clone_suspected"), 1, "suspended once: the second call changed nothing");
    assert_eq!(count(&events, "passkey_removed"), 1, "removed once");
}

fn mismatch(id: &str, account_id: &str) -> RpEvent {
    RpEvent {
        id: id.to_owned(),
        seq: 1,
        at: NOW,
        account_id: account_id.to_owned(),
        data: RpEventData::FactorFailed {
            challenge_id: format!("ch-{id}"),
            device_id: "dev".into(),
            factor: FailedFactor::NumberMismatch,
            attempts: 1,
        },
    }
}

async fn webhook_deliveries_and_events_are_taken_once(store: Arc<SiteStore>) {
    customer(&store, "8000", 0).await;
    for round in 0..RACE_ROUNDS {
        // The same delivery arriving several times at once: taken once.
        let events = vec![mismatch(&format!("e-{round}"), "8000")];
        let delivery = format!("d-{round}");
        let taken = race(6, |_| {
            let (store, events, delivery) = (store.clone(), events.clone(), delivery.clone());
            async move { store.take_webhook_delivery(&delivery, &events, NOW, 0, 1000).await.unwrap().is_some() }
        })
        .await;
        assert_eq!(taken, 1, "round {round}: one delivery");
        // The same event in several new deliveries at once: processed once.
        let events = vec![mismatch(&format!("f-{round}"), "8000")];
        let processed = race(6, |n| {
            let (store, events) = (store.clone(), events.clone());
            async move {
                let delivery = format!("g-{round}-{n}");
                !store.take_webhook_delivery(&delivery, &events, NOW, 0, 1000).await.unwrap().unwrap().is_empty()
            }
        })
        .await;
        assert_eq!(processed, 1, "round {round}: one event");
    }
    let row = store.customer("8000").await.unwrap().unwrap();
    assert_eq!(row.failed_logins, 2 * RACE_ROUNDS as i64, "each event counts once toward the lock");
    assert_eq!(audit_count(&store, "8000", AuditEvent::NumberMismatch).await, 2 * RACE_ROUNDS);
    // Old delivery ids are forgotten by the next delivery.
    assert!(store.take_webhook_delivery("d-0", &[], NOW + 10, NOW + 1, 1000).await.unwrap().is_some());
}

async fn the_login_environment_is_remembered_and_updated(store: Arc<SiteStore>) {
    customer(&store, "9000", 0).await;
    let place = |lat: f64| inkan_site::geo::Located {
        country: Some("JP".into()),
        coords: Some(inkan_site::geo::Coords { latitude: lat, longitude: 139.7, accuracy_km: 5.0 }),
        place: inkan_site::geo::Place::unknown(),
        asn: None,
        hosting: false,
    };
    store.count_failure("9000", NOW, 100, AuditEvent::LoginPasswordWrong, serde_json::json!({})).await.unwrap();
    store.remember_login_environment("9000", &[9; 32], "192.0.2.0/24", &place(35.6), NOW).await.unwrap();
    // The second login from the same browser, network and country updates them in place.
    store.remember_login_environment("9000", &[9; 32], "192.0.2.0/24", &place(34.7), NOW + 60).await.unwrap();
    assert!(store.is_known_browser(&[9; 32], "9000").await.unwrap());
    assert!(!store.is_known_browser(&[8; 32], "9000").await.unwrap());
    assert!(store.is_known_network("9000", "192.0.2.0/24").await.unwrap());
    assert!(store.is_known_country("9000", "JP").await.unwrap());
    assert!(!store.is_known_country("9000", "US").await.unwrap());
    let last = store.last_login_place("9000").await.unwrap().unwrap();
    assert_eq!((last.at, last.coords.latitude), (NOW + 60, 34.7));
    assert_eq!(store.customer("9000").await.unwrap().unwrap().failed_logins, 0, "a login clears the count");
}

async fn the_newest_email_code_wins_within_one_second(store: Arc<SiteStore>) {
    customer(&store, "9100", 0).await;
    for n in 0..5u8 {
        let id = format!("code-{}", 9 - n);
        store
            .insert_email_code(
                NewEmailCode {
                    id: &id,
                    account_id: "9100",
                    purpose: "withdrawal",
                    subject_id: "w-1",
                    code_hash: &[n; 32],
                    now: NOW,
                    expires_at: NOW + 300,
                },
                entry(AuditEvent::EmailCodeSent, "9100"),
            )
            .await
            .unwrap();
    }
    let latest = store.latest_email_code("w-1").await.unwrap().unwrap();
    assert_eq!((latest.id.as_str(), latest.code_hash, latest.used_at), ("code-5", vec![4; 32], None));
    assert_eq!(store.email_code_count("w-1").await.unwrap(), 5);
}
