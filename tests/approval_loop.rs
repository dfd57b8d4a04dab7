//! The approval loop end to end, with the device key in the real Secret Service keychain:
//! enroll, receive a challenge over the live channel, decide, and the relying party sees it.

use std::sync::Arc;

use base64::Engine;
use inkan_core::WatchEvent;
use inkan_e2e::*;
use inkan_protocol::{ChallengeDetails, ChallengeState, Decision, ErrorCode};

const ACCOUNT: &str = "10012345";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_is_approved_over_the_live_channel() {
    let t = TestServer::start().await;
    let (device, account) = t.enrolled_device(platform_keys(), ACCOUNT).await;
    assert_eq!(account.account_id, ACCOUNT);
    // The label is the verifier's: its relying-party name and the masked account.
    assert_eq!(account.name, "いんかん証券 ****2345");
    assert_eq!(account.rp_name.as_ref(), Some(&*DEMO_RP_NAME), "the brokerage's name, for the app to show");
    let device = Arc::new(device);
    let mut events = watch(device.clone(), account.clone());
    next_matching(&mut events, |e| matches!(e, WatchEvent::Connected { .. }).then_some(())).await;

    let created = t.challenge(ACCOUNT, withdrawal(1_250_000), true).await;
    let number = created.number_to_show.clone().expect("a number to show on the page");
    assert_eq!(number.len(), 3);

    // The relying party's page waits on the long poll while the person decides.
    let waiting = t.spawn_wait(&created.challenge_id);

    let pending = next_matching(&mut events, |e| match e {
        WatchEvent::Challenge(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(pending.challenge.id, created.challenge_id);
    let ChallengeDetails::Withdrawal(w) = &pending.challenge.details else { panic!("a withdrawal") };
    assert_eq!((w.amount, w.currency.as_str(), w.account_masked.as_str()), (1_250_000, "JPY", "****5678"));
    assert_eq!(pending.challenge.number_match.map(|n| n.digits), Some(3));

    let outcome =
        device.decide(&account, &pending.challenge, Decision::Approve, Some(&number)).await.expect("approved");
    assert_eq!(outcome.state, ChallengeState::Approved);

    let status = waiting.await.unwrap();
    assert_eq!(status.state, ChallengeState::Approved);
    assert_eq!(status.device_id.as_deref(), Some(account.device_id.as_str()));
    let resolved = next_matching(&mut events, |e| match e {
        WatchEvent::Resolved { outcome, .. } => Some(outcome),
        _ => None,
    })
    .await;
    assert_eq!(resolved.state, ChallengeState::Approved);

    let history = device.history().unwrap();
    assert_eq!(history[0].decision, Decision::Approve);
    assert!(history[0].summary.contains("1,250,000 JPY"), "{}", history[0].summary);
    let devices = t.devices(ACCOUNT).await;
    assert_eq!(devices.len(), 1);
    assert!(devices[0].last_used_at.is_some());
    let audit = t.audit_events(ACCOUNT).await;
    for e in ["ticket_created", "device_enrolled", "challenge_created", "challenge_approved"] {
        assert!(audit.contains(&e.to_owned()), "{e} missing from {audit:?}");
    }
    device.remove(&account).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_puts_pushes_on_a_cooldown() {
    let t = TestServer::start().await;
    let (device, account) = t.enrolled_device(platform_keys(), ACCOUNT).await;
    let created = t.challenge(ACCOUNT, login(), false).await;
    let outcome = device.decide_by_id(&account, &created.challenge_id, Decision::Deny, None).await.unwrap();
    assert_eq!(outcome.state, ChallengeState::Denied);
    assert_eq!(t.status(&created.challenge_id).await.state, ChallengeState::Denied);

    let refused = t.try_challenge(ACCOUNT, login(), false).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::CooldownActive);
    t.clock.advance(inkan_server::Limits::default().denial_cooldown_secs + 1);
    t.challenge(ACCOUNT, login(), false).await;
    device.remove(&account).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_me_blocks_further_pushes_until_cleared() {
    let t = TestServer::start().await;
    let (device, account) = t.enrolled_device(platform_keys(), ACCOUNT).await;
    let created = t.challenge(ACCOUNT, withdrawal(300_000), true).await;
    // "Not me" needs no number: the person never saw the page.
    let outcome = device.decide_by_id(&account, &created.challenge_id, Decision::DenyFraud, None).await.unwrap();
    assert_eq!(outcome.state, ChallengeState::DeniedFraud);
    assert_eq!(t.status(&created.challenge_id).await.state, ChallengeState::DeniedFraud);
    assert!(t.push_state(ACCOUNT).await.push_blocked);

    let refused = t.try_challenge(ACCOUNT, login(), false).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::PushBlocked);
    t.clock.advance(3600);
    assert_eq!(t.try_challenge(ACCOUNT, login(), false).await.unwrap_err().code, ErrorCode::PushBlocked);

    t.unblock(ACCOUNT).await;
    t.challenge(ACCOUNT, login(), false).await;
    let audit = t.audit_events(ACCOUNT).await;
    assert!(
        audit.contains(&"challenge_denied_fraud".to_owned()) && audit.contains(&"push_unblocked".to_owned()),
        "{audit:?}"
    );
    device.remove(&account).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolls_from_the_qr_image_and_shows_offline_codes() {
    let t = TestServer::start().await;
    let ticket = t.ticket(ACCOUNT).await;
    let png = base64::engine::general_purpose::STANDARD.decode(&ticket.qr_png_base64).unwrap();
    let keys = platform_keys();
    let device = t.device(keys.clone());
    let account = device.enroll_from_qr_image(&png, "QA phone").await.expect("enrolled from the QR image");
    assert!(keys.get(&account.device_key_entry()).unwrap().is_some(), "device key in the keychain");
    assert!(keys.get(&account.totp_entry()).unwrap().is_some(), "offline-code secret in the keychain");
    // Nothing secret in the profile directory.
    for entry in std::fs::read_dir(device.profile().dir()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("totp_secret") && !text.contains("private"), "{text}");
    }

    let code = device.offline_code(&account).await.unwrap();
    assert_eq!(code.code.len(), 6);
    assert!(t.verify_code(ACCOUNT, &code.code).await, "the current code is accepted");
    assert!(!t.verify_code(ACCOUNT, &code.code).await, "the same code twice is a replay");
    assert!(t.audit_events(ACCOUNT).await.contains(&"offline_code_replay_refused".to_owned()));
    t.clock.advance(30);
    let next = device.offline_code(&account).await.unwrap();
    assert!(t.verify_code(ACCOUNT, &next.code).await, "the next step's code is accepted");
    t.clock.advance(120);
    assert!(!t.verify_code(ACCOUNT, &code.code).await, "a code four steps old is refused");

    device.remove(&account).await.unwrap();
    assert!(keys.get(&account.device_key_entry()).unwrap().is_none(), "removed from the keychain");
    assert!(keys.get(&account.totp_entry()).unwrap().is_none());
    assert!(device.accounts().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_flow_loses_nothing() {
    let mut t = TestServer::start().await;
    let (device, account) = t.enrolled_device(platform_keys(), ACCOUNT).await;
    let device = Arc::new(device);
    let mut events = watch(device.clone(), account.clone());
    next_matching(&mut events, |e| matches!(e, WatchEvent::Connected { .. }).then_some(())).await;
    let created = t.challenge(ACCOUNT, withdrawal(50_000), false).await;
    let pending = next_matching(&mut events, |e| match e {
        WatchEvent::Challenge(p) => Some(p),
        _ => None,
    })
    .await;

    t.kill();
    next_matching(&mut events, |e| matches!(e, WatchEvent::Disconnected { .. }).then_some(())).await;
    let err = device.decide(&account, &pending.challenge, Decision::Approve, None).await.unwrap_err();
    assert_eq!(err.code(), "server_unreachable", "{err}");

    t.restart().await;
    // The device reconnects by itself and is handed the still-pending challenge again.
    let again = next_matching(&mut events, |e| match e {
        WatchEvent::Challenge(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(again.challenge, pending.challenge);
    device.decide(&account, &again.challenge, Decision::Approve, None).await.unwrap();
    assert_eq!(t.status(&created.challenge_id).await.state, ChallengeState::Approved);
    device.remove(&account).await.unwrap();
}

/// A long poll woken by a settlement answers exactly what the stored row says (state, time,
/// device), however the challenge settles: approved, denied, failed on a wrong number,
/// cancelled by the relying party, expired by the sweeper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_answers_what_the_row_says_for_every_way_a_challenge_settles() {
    let t = TestServer::start_with(|l| {
        l.denial_cooldown_secs = 0;
        l.max_pushes_since_success = 1000;
    })
    .await;
    let (device, account) = t.enrolled_device(memory_keys(), ACCOUNT).await;
    for way in ["approve", "deny", "fail", "cancel", "expire"] {
        let created = t.challenge(ACCOUNT, login(), way == "fail").await;
        let id = created.challenge_id.clone();
        let waiting = t.spawn_wait(&id);
        // The poll is waiting before the challenge settles.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        match way {
            "approve" => {
                device.decide_by_id(&account, &id, Decision::Approve, None).await.unwrap();
            }
            "deny" => {
                device.decide_by_id(&account, &id, Decision::Deny, None).await.unwrap();
            }
            "fail" => {
                let wrong = if created.number_to_show.as_deref() == Some("000") { "001" } else { "000" };
                device.decide_by_id(&account, &id, Decision::Approve, Some(wrong)).await.unwrap_err();
            }
            "cancel" => {
                t.service().cancel_challenge(&id).await.unwrap();
            }
            _ => {
                t.clock.advance(inkan_server::Limits::default().challenge_ttl_secs + 1);
                // The background sweeper may get there first; either way it expires once.
                t.service().sweep_expired().await.unwrap();
            }
        }
        let answered = waiting.await.unwrap();
        assert!(answered.state.is_final(), "{way}: {answered:?}");
        assert_eq!(answered, t.status(&id).await, "{way}: the long poll's answer is the stored row");
    }
}
