//! Every way a decision, an enrollment or a request can be wrong: each is refused with its
//! own error code, and nothing changes on the server or the device.

use inkan_kit::with_db;
use std::sync::Arc;

use inkan_core::KeyStore;
use inkan_e2e::*;
use inkan_protocol::{ApprovalPayload, ChallengeDetails, ChallengeState, Decision, ErrorCode};

const ACCOUNT: &str = "20067890";

/// A server, a device enrolled with an in-memory key store, one pending withdrawal.
async fn setup(
    number_match: bool,
) -> (
    TestServer,
    Arc<inkan_core::MemoryKeyStore>,
    inkan_core::Account,
    RawDevice,
    inkan_protocol::Challenge,
    Option<String>,
) {
    let t = TestServer::start().await;
    let keys = memory_keys();
    let (_device, account) = t.enrolled_device(keys.clone(), ACCOUNT).await;
    let raw = RawDevice::from_account(&keys, &account, t.clock.now()).await.unwrap();
    let created = t.challenge(ACCOUNT, withdrawal(1_000_000), number_match).await;
    let challenge =
        raw.pending().await.unwrap().into_iter().find(|c| c.challenge.id == created.challenge_id).unwrap().challenge;
    (t, keys, account, raw, challenge, created.number_to_show)
}

trait Now {
    fn now(&self) -> i64;
}
impl Now for inkan_core::ManualClock {
    fn now(&self) -> i64 {
        inkan_core::Clock::now(self)
    }
}

async fn assert_still_pending(t: &TestServer, id: &str) {
    assert_eq!(t.status(id).await.state, ChallengeState::Pending, "the refused decision changed nothing");
}

#[tokio::test]
async fn tampered_amount_is_rejected() {
    let (t, _, _, raw, challenge, _) = setup(false).await;
    let mut payload = ApprovalPayload::new(&challenge, &raw.device_id, Decision::Approve, None, t.clock.now());
    if let ChallengeDetails::Withdrawal(w) = &mut payload.details {
        w.amount = 1;
    }
    let (status, err) = submit_raw(&raw, &challenge.id, &raw.sign(&payload)).await.unwrap_err();
    assert_eq!((status, err.code), (403, ErrorCode::BadSignature));
    assert_still_pending(&t, &challenge.id).await;
    assert!(t.audit_events(ACCOUNT).await.contains(&"decision_bad_signature".to_owned()));
}

#[tokio::test]
async fn tampered_payee_is_rejected() {
    let (t, _, _, raw, challenge, _) = setup(false).await;
    let mut payload = ApprovalPayload::new(&challenge, &raw.device_id, Decision::Approve, None, t.clock.now());
    if let ChallengeDetails::Withdrawal(w) = &mut payload.details {
        w.bank = "攻撃者銀行 / Attacker Bank".into();
        w.account_masked = "****0000".into();
    }
    let err = submit_raw(&raw, &challenge.id, &raw.sign(&payload)).await.unwrap_err().1;
    assert_eq!(err.code, ErrorCode::BadSignature);
    assert_still_pending(&t, &challenge.id).await;
}

#[tokio::test]
async fn signature_by_another_device_is_rejected() {
    let (t, _, _, raw, challenge, _) = setup(false).await;
    // A second device of the same account signs in the first one's name.
    let other_keys = memory_keys();
    let (_d2, other) = t.enrolled_device(other_keys.clone(), ACCOUNT).await;
    let other_raw = RawDevice::from_account(&other_keys, &other, t.clock.now()).await.unwrap();
    let payload = ApprovalPayload::new(&challenge, &raw.device_id, Decision::Approve, None, t.clock.now());
    let forged = other_raw.sign(&payload);
    assert_eq!(submit_raw(&raw, &challenge.id, &forged).await.unwrap_err().1.code, ErrorCode::BadSignature);
    // A device of another account cannot even see the challenge.
    let stranger_keys = memory_keys();
    let (_d3, stranger) = t.enrolled_device(stranger_keys.clone(), "30000001").await;
    let stranger_raw = RawDevice::from_account(&stranger_keys, &stranger, t.clock.now()).await.unwrap();
    let own = ApprovalPayload::new(&challenge, &stranger_raw.device_id, Decision::Approve, None, t.clock.now());
    assert_eq!(
        submit_raw(&stranger_raw, &challenge.id, &stranger_raw.sign(&own)).await.unwrap_err().1.code,
        ErrorCode::ChallengeUnknown
    );
    assert_still_pending(&t, &challenge.id).await;
}

#[tokio::test]
async fn replayed_decision_is_rejected() {
    let (t, _, _, raw, challenge, _) = setup(false).await;
    let sub = raw.sign(&ApprovalPayload::new(&challenge, &raw.device_id, Decision::Approve, None, t.clock.now()));
    submit_raw(&raw, &challenge.id, &sub).await.expect("first submission");
    let (status, err) = submit_raw(&raw, &challenge.id, &sub).await.unwrap_err();
    assert_eq!((status, err.code), (409, ErrorCode::ChallengeNotPending));
    // The same signature on a newer challenge of the same account does not verify either.
    let second = t.challenge(ACCOUNT, withdrawal(1_000_000), false).await;
    assert_eq!(submit_raw(&raw, &second.challenge_id, &sub).await.unwrap_err().1.code, ErrorCode::BadSignature);
    assert_still_pending(&t, &second.challenge_id).await;
    assert_eq!(t.status(&challenge.id).await.state, ChallengeState::Approved);
}

#[tokio::test]
async fn decision_after_expiry_is_rejected() {
    let (t, _, account, raw, challenge, _) = setup(false).await;
    t.clock.advance(inkan_server::Limits::default().challenge_ttl_secs + 1);
    let sub = raw.sign(&ApprovalPayload::new(&challenge, &raw.device_id, Decision::Approve, None, t.clock.now()));
    let (status, err) = submit_raw(&raw, &challenge.id, &sub).await.unwrap_err();
    assert_eq!((status, err.code), (410, ErrorCode::ChallengeExpired));
    assert_eq!(t.status(&challenge.id).await.state, ChallengeState::Expired);
    // The core refuses before signing, too.
    let core = t.device(memory_keys());
    let err = core.decide(&account, &challenge, Decision::Approve, None).await.unwrap_err();
    assert_eq!(err.code(), "challenge_expired");
}

/// A number of the same length with every digit changed.
fn wrong_number(number: &str) -> String {
    number.chars().map(|c| if c == '9' { '0' } else { '9' }).collect()
}

#[tokio::test]
async fn a_wrong_number_denies_at_once_and_is_counted() {
    let (t, _, _, raw, challenge, number) = setup(true).await;
    let number = number.unwrap();
    assert_eq!(number.len(), 3, "the default typed code has 3 digits");
    let sign = |c: &inkan_protocol::Challenge, n: Option<String>| {
        raw.sign(&ApprovalPayload::new(c, &raw.device_id, Decision::Approve, n, t.clock.now()))
    };
    assert_eq!(
        submit_raw(&raw, &challenge.id, &sign(&challenge, None)).await.unwrap_err().1.code,
        ErrorCode::NumberRequired
    );
    assert_still_pending(&t, &challenge.id).await;
    let (status, err) =
        submit_raw(&raw, &challenge.id, &sign(&challenge, Some(wrong_number(&number)))).await.unwrap_err();
    assert_eq!((status, err.code), (403, ErrorCode::NumberMismatch));
    assert_eq!(t.status(&challenge.id).await.state, ChallengeState::Failed, "a wrong code denies");
    assert!(t.audit_events(ACCOUNT).await.contains(&"number_mismatch".to_owned()));
    // The right number afterwards changes nothing: the challenge is over.
    let late = submit_raw(&raw, &challenge.id, &sign(&challenge, Some(number))).await.unwrap_err();
    assert_eq!(late.1.code, ErrorCode::ChallengeNotPending);

    // A new challenge with its own number is approved.
    let created = t.challenge(ACCOUNT, login(), true).await;
    let second =
        raw.pending().await.unwrap().into_iter().find(|c| c.challenge.id == created.challenge_id).unwrap().challenge;
    let ok = submit_raw(&raw, &second.id, &sign(&second, created.number_to_show)).await.unwrap();
    assert_eq!(ok.state, ChallengeState::Approved);
}

/// With more than one attempt configured, a wrong number leaves the request open and says so
/// with its own code; the last attempt ends it with `number_mismatch`.
#[tokio::test]
async fn with_two_attempts_the_first_wrong_number_leaves_the_request_open() {
    let t = TestServer::start_with(|l| l.max_number_attempts = 2).await;
    let keys = memory_keys();
    let (_device, account) = t.enrolled_device(keys.clone(), ACCOUNT).await;
    let raw = RawDevice::from_account(&keys, &account, t.clock.now()).await.unwrap();
    let created = t.challenge(ACCOUNT, withdrawal(1_000_000), true).await;
    let number = created.number_to_show.unwrap();
    let challenge =
        raw.pending().await.unwrap().into_iter().find(|c| c.challenge.id == created.challenge_id).unwrap().challenge;
    let sign = |n: String| {
        raw.sign(&ApprovalPayload::new(&challenge, &raw.device_id, Decision::Approve, Some(n), t.clock.now()))
    };
    let first = submit_raw(&raw, &challenge.id, &sign(wrong_number(&number))).await.unwrap_err();
    assert_eq!((first.0, first.1.code), (403, ErrorCode::NumberMismatchTryAgain));
    assert_still_pending(&t, &challenge.id).await;
    let last = submit_raw(&raw, &challenge.id, &sign(wrong_number(&number))).await.unwrap_err();
    assert_eq!((last.0, last.1.code), (403, ErrorCode::NumberMismatch));
    assert_eq!(t.status(&challenge.id).await.state, ChallengeState::Failed);
}

#[tokio::test]
async fn device_clock_far_off_is_rejected() {
    let (t, _, _, raw, challenge, _) = setup(false).await;
    let sub =
        raw.sign(&ApprovalPayload::new(&challenge, &raw.device_id, Decision::Approve, None, t.clock.now() - 3600));
    assert_eq!(submit_raw(&raw, &challenge.id, &sub).await.unwrap_err().1.code, ErrorCode::ClockSkew);
    assert_still_pending(&t, &challenge.id).await;
}

/// Times a device sends are checked without overflow: the extremes of `i64` (and values
/// canonical JSON cannot sign) get a 400 `bad_request` answer, at session opening and on a
/// decision, and nothing changes.
#[tokio::test]
async fn extreme_signed_at_values_are_refused_with_a_code() {
    let (t, _, _, raw, challenge, _) = setup(false).await;
    let valid = raw.sign(&ApprovalPayload::new(&challenge, &raw.device_id, Decision::Approve, None, t.clock.now()));
    for extreme in [i64::MIN, i64::MIN + 1, -1, i64::MAX, 1 << 53] {
        let mut sub = serde_json::to_value(&valid).unwrap();
        sub["signed_at"] = extreme.into();
        let (status, err) = t
            .raw_post(
                &format!("/v1/device/challenges/{}/decision", challenge.id),
                Some(&raw.token),
                sub.to_string().into_bytes(),
            )
            .await;
        assert_eq!((status, err.map(|e| e.code)), (400, Some(ErrorCode::BadRequest)), "decision, {extreme}");
        let nonce: inkan_protocol::NonceResponse =
            t.http.post(format!("{}/v1/device/nonce", t.origin)).send().await.unwrap().json().await.unwrap();
        let session = serde_json::json!({
            "device_id": raw.device_id, "nonce": nonce.nonce, "signed_at": extreme, "signature": valid.signature,
        });
        let (status, err) = t.raw_post("/v1/device/session", None, session.to_string().into_bytes()).await;
        assert_eq!((status, err.map(|e| e.code)), (400, Some(ErrorCode::BadRequest)), "session, {extreme}");
    }
    assert_still_pending(&t, &challenge.id).await;
}

#[tokio::test]
async fn revoked_device_can_no_longer_decide() {
    let t = TestServer::start().await;
    let keys = memory_keys();
    let (device, account) = t.enrolled_device(keys.clone(), ACCOUNT).await;
    let device = Arc::new(device);
    let mut events = watch(device.clone(), account.clone());
    next_matching(&mut events, |e| matches!(e, inkan_core::WatchEvent::Connected { .. }).then_some(())).await;
    let created = t.challenge(ACCOUNT, withdrawal(10_000), false).await;
    let pending = device.pending(&account).await.unwrap();
    t.revoke(ACCOUNT, &account.device_id).await;

    let err = device.decide(&account, &pending[0].challenge, Decision::Approve, None).await.unwrap_err();
    assert_eq!(err.code(), "device_revoked", "{err}");
    assert_eq!(t.status(&created.challenge_id).await.state, ChallengeState::Pending);
    let stopped = next_matching(&mut events, |e| match e {
        inkan_core::WatchEvent::Stopped { error, .. } => Some(error),
        _ => None,
    })
    .await;
    assert_eq!(stopped.code(), "device_revoked");
    assert_eq!(t.try_challenge(ACCOUNT, login(), false).await.unwrap_err().code, ErrorCode::NoDevices);
    assert!(t.devices(ACCOUNT).await[0].revoked_at.is_some());
}

/// A revoke refused (the device belongs to another account, or is unknown) changes nothing:
/// the device stays active, its session keeps working, no audit row says it was revoked.
#[tokio::test]
async fn a_refused_revoke_changes_nothing() {
    let t = TestServer::start().await;
    let keys = memory_keys();
    let (_device, account) = t.enrolled_device(keys.clone(), ACCOUNT).await;
    let raw = RawDevice::from_account(&keys, &account, t.clock.now()).await.unwrap();
    t.enrolled_device(memory_keys(), "20060000").await;
    for (who, device) in [("20060000", account.device_id.as_str()), (ACCOUNT, "no-such-device")] {
        let resp = t
            .http
            .post(format!("{}/v1/rp/accounts/{who}/devices/{device}/revoke", t.origin))
            .bearer_auth(&t.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 404);
        assert_eq!(resp.json::<inkan_protocol::ErrorBody>().await.unwrap().code, ErrorCode::DeviceUnknown);
    }
    raw.pending().await.expect("the device's session still works");
    assert!(t.devices(ACCOUNT).await[0].revoked_at.is_none());
    assert!(!t.audit_events(ACCOUNT).await.contains(&"device_revoked".to_owned()));
    t.challenge(ACCOUNT, login(), false).await;
}

/// A live channel opened before its session expired ends with the session: what is created
/// afterwards (an amount, a payee) is never delivered on it.
#[tokio::test]
async fn the_live_channel_ends_when_its_session_expires() {
    let t = TestServer::start().await;
    let keys = memory_keys();
    let (_device, account) = t.enrolled_device(keys.clone(), ACCOUNT).await;
    let raw = RawDevice::from_account(&keys, &account, t.clock.now()).await.unwrap();
    let mut stream = raw.events().await.unwrap();
    let first = t.challenge(ACCOUNT, withdrawal(5_000), false).await;
    let mut seen = String::new();
    while !seen.contains(&first.challenge_id) {
        let chunk = tokio::time::timeout(EVENT_WAIT, stream.chunk()).await.expect("in time").unwrap().expect("open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    t.clock.advance(inkan_server::Limits::default().session_ttl_secs + 1);
    let mut w = withdrawal(9_999_999);
    if let ChallengeDetails::Withdrawal(x) = &mut w {
        x.bank = "攻撃者銀行 / Attacker Bank".into();
    }
    let second = t.challenge(ACCOUNT, w, false).await;
    // It ends (or errs) without carrying the second challenge.
    while let Ok(Some(chunk)) =
        tokio::time::timeout(EVENT_WAIT, stream.chunk()).await.expect("the channel ends in time")
    {
        let text = String::from_utf8_lossy(&chunk);
        assert!(!text.contains(&second.challenge_id) && !text.contains("Attacker"), "delivered after expiry: {text}");
    }
    // The expired session cannot open a new channel either.
    let err = raw.events().await.unwrap_err();
    assert_eq!(err.code(), "session_expired", "{err}");
}

#[tokio::test]
async fn reused_ticket_is_rejected_and_leaves_nothing_behind() {
    let t = TestServer::start().await;
    let ticket = t.ticket(ACCOUNT).await;
    t.device(memory_keys()).enroll(&ticket.uri, "first").await.unwrap();
    let keys = memory_keys();
    let second = t.device(keys.clone());
    let err = second.enroll(&ticket.uri, "second").await.unwrap_err();
    assert_eq!(err.server_code(), Some(ErrorCode::TicketAlreadyUsed), "{err}");
    assert!(keys.is_empty(), "no key left in the keychain");
    assert!(second.accounts().unwrap().is_empty(), "no account left in the profile");
    assert_eq!(t.devices(ACCOUNT).await.len(), 1);
}

#[tokio::test]
async fn expired_ticket_is_rejected() {
    let t = TestServer::start().await;
    let ticket = t.ticket(ACCOUNT).await;
    t.clock.advance(inkan_server::Limits::default().ticket_ttl_secs + 1);
    let keys = memory_keys();
    let err = t.device(keys.clone()).enroll(&ticket.uri, "late").await.unwrap_err();
    assert_eq!(err.server_code(), Some(ErrorCode::TicketExpired));
    assert!(keys.is_empty());
    assert!(t.devices(ACCOUNT).await.is_empty());
}

#[tokio::test]
async fn unknown_ticket_and_forged_server_key_are_rejected_without_spending_the_ticket() {
    let t = TestServer::start().await;
    let ticket = t.ticket(ACCOUNT).await;
    let mut uri = inkan_protocol::EnrollmentUri::parse(&ticket.uri).unwrap();
    let real_key = uri.server_key_fingerprint.clone();
    uri.server_key_fingerprint = inkan_protocol::keys::b64(&[7u8; 32]);
    let keys = memory_keys();
    let device = t.device(keys.clone());
    assert_eq!(device.enroll(&uri.to_uri_string(), "x").await.unwrap_err().code(), "server_key_mismatch");
    uri.server_key_fingerprint = real_key;
    uri.ticket = inkan_protocol::keys::b64(&[9u8; 32]);
    assert_eq!(
        device.enroll(&uri.to_uri_string(), "x").await.unwrap_err().server_code(),
        Some(ErrorCode::TicketUnknown)
    );
    assert!(keys.is_empty());
    // The real ticket still works.
    device.enroll(&ticket.uri, "x").await.unwrap();
}

#[tokio::test]
async fn locked_keychain_fails_enrollment_before_the_ticket_is_spent() {
    let t = TestServer::start().await;
    let ticket = t.ticket(ACCOUNT).await;
    let keys = memory_keys();
    keys.set_failing(true);
    let device = t.device(keys.clone());
    assert_eq!(device.enroll(&ticket.uri, "x").await.unwrap_err().code(), "keychain_locked");
    assert!(device.accounts().unwrap().is_empty());
    keys.set_failing(false);
    device.enroll(&ticket.uri, "x").await.expect("the ticket was not spent");
}

/// Without the key cache (the app) every signature reads the keychain, so a locked keychain
/// stops approvals; with it (the CLI's fleet) the key read once stays in memory, and a removed
/// account's key leaves the cache with the keychain entry.
#[tokio::test]
async fn the_key_cache_is_opt_in_and_forgets_a_removed_account() {
    let t = TestServer::start().await;
    for cached in [false, true] {
        let account_id = if cached { "30000002" } else { "30000001" };
        let keys = memory_keys();
        let device = t.device(keys.clone());
        let device = if cached { device.with_key_cache() } else { device };
        let account = device.enroll(&t.ticket(account_id).await.uri, "x").await.unwrap();
        let c = t.challenge(account_id, login(), false).await;
        keys.set_failing(true);
        let result = device.decide_by_id(&account, &c.challenge_id, Decision::Approve, None).await;
        if cached {
            assert_eq!(result.unwrap().state, inkan_protocol::ChallengeState::Approved);
        } else {
            assert_eq!(result.unwrap_err().code(), "keychain_locked");
        }
        keys.set_failing(false);
        device.remove(&account).await.unwrap();
        assert!(keys.is_empty());
    }
}

#[tokio::test]
async fn malformed_links_and_unreadable_images_are_rejected() {
    let t = TestServer::start().await;
    let device = t.device(memory_keys());
    for (link, code) in [
        ("", "uri_empty"),
        ("hello", "uri_not_a_link"),
        ("https://example.com/enroll", "uri_wrong_scheme"),
        ("inkan://approve?v=1", "uri_wrong_action"),
        ("inkan://enroll?v=9", "uri_unsupported_version"),
        ("inkan://enroll?v=1", "uri_missing_field"),
    ] {
        assert_eq!(device.enroll(link, "x").await.unwrap_err().code(), code, "{link:?}");
    }
    assert_eq!(device.enroll_from_qr_image(b"not an image at all", "x").await.unwrap_err().code(), "image_unreadable");
    let blank = {
        let img = image_png_without_qr();
        device.enroll_from_qr_image(&img, "x").await.unwrap_err()
    };
    assert_eq!(blank.code(), "qr_not_found");
    assert!(device.accounts().unwrap().is_empty());
}

/// A white 64x64 PNG.
fn image_png_without_qr() -> Vec<u8> {
    // The server's QR renderer makes a valid PNG of a QR code; a blank one is made by hand:
    // signature, IHDR (64x64, 8-bit grey), one IDAT of zlib-stored rows, IEND.
    let mut raw = Vec::new();
    for _ in 0..64 {
        raw.push(0u8);
        raw.extend(std::iter::repeat_n(255u8, 64));
    }
    let mut z = vec![0x78, 0x01, 1];
    let len = raw.len() as u16;
    z.extend(len.to_le_bytes());
    z.extend((!len).to_le_bytes());
    z.extend(&raw);
    z.extend(adler32(&raw).to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(64u32.to_be_bytes());
    ihdr.extend(64u32.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", z), (b"IEND", vec![])] {
        png.extend((data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend(&data);
        png.extend(&chunk);
        png.extend(crc32(&chunk).to_be_bytes());
    }
    png
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &d in data {
        a = (a + u32::from(d)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_rejected() {
    let t = TestServer::start().await;
    let big = vec![b' '; inkan_server::Limits::default().max_body_bytes + 1];
    let (status, err) = t.raw_post("/v1/device/enroll", None, big).await;
    assert_eq!((status, err.map(|e| e.code)), (413, Some(ErrorCode::BodyTooLarge)));
    // Well-formed JSON whose values do not fit: 422 invalid_request. Malformed JSON: 400.
    let (status, err) = t.raw_post("/v1/device/enroll", None, b"{\"ticket\": 5}".to_vec()).await;
    assert_eq!((status, err.map(|e| e.code)), (422, Some(ErrorCode::InvalidRequest)));
    let not_a_point = serde_json::json!({
        "ticket": "x", "device_name": "n", "platform": "p",
        "device_public_key": "A".repeat(87), "signature": "A".repeat(86),
    });
    let (status, err) = t.raw_post("/v1/device/enroll", None, not_a_point.to_string().into_bytes()).await;
    assert_eq!((status, err.map(|e| e.code)), (422, Some(ErrorCode::InvalidRequest)), "a key that is not a point");
    let (status, err) = t.raw_post("/v1/rp/challenges", Some(&t.api_key), b"{".to_vec()).await;
    assert_eq!((status, err.map(|e| e.code)), (400, Some(ErrorCode::BadRequest)));
}

#[tokio::test]
async fn relying_party_needs_its_api_key() {
    let t = TestServer::start().await;
    let (status, err) =
        t.raw_post("/v1/rp/enrollment-tickets", Some("wrong-key-wrong-key"), b"{\"account_id\":\"1\"}".to_vec()).await;
    assert_eq!((status, err.map(|e| e.code)), (401, Some(ErrorCode::Unauthorized)));
    let (status, _) = t.raw_post("/v1/rp/enrollment-tickets", None, b"{\"account_id\":\"1\"}".to_vec()).await;
    assert_eq!(status, 401);
    let (status, err) = t.raw_post("/v1/device/challenges/x/decision", Some("no-such-session"), b"{}".to_vec()).await;
    assert_eq!((status, err.map(|e| e.code)), (401, Some(ErrorCode::Unauthorized)));
}

#[tokio::test]
async fn push_bombing_is_capped() {
    let t = TestServer::start().await;
    let (_device, _account) = t.enrolled_device(memory_keys(), ACCOUNT).await;
    let limits = inkan_server::Limits::default();
    for _ in 0..limits.max_open_challenges {
        t.challenge(ACCOUNT, login(), false).await;
    }
    assert_eq!(t.try_challenge(ACCOUNT, login(), false).await.unwrap_err().code, ErrorCode::TooManyOpenChallenges);
    // Expired challenges free their places, but the cap on pushes since the last login holds.
    let mut created = limits.max_open_challenges;
    while created < limits.max_pushes_since_success {
        t.clock.advance(limits.challenge_ttl_secs + 1);
        t.challenge(ACCOUNT, login(), false).await;
        created += 1;
    }
    t.clock.advance(limits.challenge_ttl_secs + 1);
    assert_eq!(t.try_challenge(ACCOUNT, login(), false).await.unwrap_err().code, ErrorCode::TooManyPushes);
    assert!(t.audit_events(ACCOUNT).await.contains(&"challenge_refused".to_owned()));
    // An approved withdrawal is not a login: the cap counts on. A successful login resets it.
    t.service().login_succeeded(ACCOUNT).await.unwrap();
    t.challenge(ACCOUNT, login(), false).await;
}

/// Checking the caps and inserting the challenge are one atomic step: however many creations
/// race for one account, exactly the cap's number pass (open challenges, then pushes since the
/// last login), every round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_challenge_creations_never_exceed_the_push_caps() {
    let t = Arc::new(TestServer::start().await);
    let limits = inkan_server::Limits::default();
    for round in 0..5 {
        let account = format!("3000{round}");
        t.enrolled_device(memory_keys(), &account).await;
        let race = |n: usize| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let (t, account) = (t.clone(), account.clone());
                    tokio::spawn(async move { t.try_challenge(&account, login(), false).await })
                })
                .collect();
            async move {
                let mut passed = 0;
                for h in handles {
                    match h.await.unwrap() {
                        Ok(_) => passed += 1,
                        Err(e) => assert!(
                            matches!(e.code, ErrorCode::TooManyOpenChallenges | ErrorCode::TooManyPushes),
                            "{e:?}"
                        ),
                    }
                }
                passed
            }
        };
        assert_eq!(race(40).await, limits.max_open_challenges, "open challenges, round {round}");
        assert_eq!(t.push_state(&account).await.open_challenges, limits.max_open_challenges);
        // With the open ones expired, the cap on pushes since the last login holds the same way.
        let mut total = limits.max_open_challenges;
        while total < limits.max_pushes_since_success {
            t.clock.advance(limits.challenge_ttl_secs + 1);
            let passed = race(40).await;
            assert!(passed <= limits.max_open_challenges, "round {round}: {passed} passed at once");
            total += passed;
        }
        assert_eq!(total, limits.max_pushes_since_success, "pushes since login, round {round}");
        t.clock.advance(limits.challenge_ttl_secs + 1);
        assert_eq!(race(20).await, 0, "round {round}: the cap since the last login is reached");
    }
}

/// The device shows exactly what it signs: bidirectional overrides, zero-width characters and
/// other invisible formatting in any display field, and full-width digits that would show more
/// of an account number than the masking rule allows, are refused with `invalid_details`.
#[tokio::test]
async fn display_text_that_could_disguise_what_is_signed_is_refused() {
    let t = TestServer::start().await;
    t.enrolled_device(memory_keys(), ACCOUNT).await;
    let disguised =
        ["\u{202E}knaB rekcattA", "Mizuho\u{200B}Bank", "Bank\u{2066}x\u{2069}", "\u{FEFF}Bank", "Bank\nline"];
    for text in disguised {
        let mut w = withdrawal(10_000);
        if let ChallengeDetails::Withdrawal(x) = &mut w {
            x.bank = text.into();
        }
        let err = t.try_challenge(ACCOUNT, w, false).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidDetails, "bank {text:?}");
        let mut l = login();
        if let ChallengeDetails::Login(x) = &mut l {
            x.browser = text.into();
        }
        assert_eq!(
            t.try_challenge(ACCOUNT, l, false).await.unwrap_err().code,
            ErrorCode::InvalidDetails,
            "browser {text:?}"
        );
    }
    for masked in ["****５６７８９", "１２３４５６７８", "****٥٦٧٨9"] {
        let mut w = withdrawal(10_000);
        if let ChallengeDetails::Withdrawal(x) = &mut w {
            x.account_masked = masked.into();
        }
        assert_eq!(t.try_challenge(ACCOUNT, w, false).await.unwrap_err().code, ErrorCode::InvalidDetails, "{masked}");
    }
    assert_eq!(t.push_state(ACCOUNT).await.open_challenges, 0, "nothing was created");
    t.challenge(ACCOUNT, withdrawal(10_000), false).await;
}

#[tokio::test]
async fn invalid_challenge_details_are_rejected() {
    let t = TestServer::start().await;
    t.enrolled_device(memory_keys(), ACCOUNT).await;
    let mut w = withdrawal(0);
    assert_eq!(t.try_challenge(ACCOUNT, w.clone(), false).await.unwrap_err().code, ErrorCode::InvalidDetails);
    if let ChallengeDetails::Withdrawal(x) = &mut w {
        x.amount = 10;
        x.account_masked = "1234567890".into();
    }
    assert_eq!(
        t.try_challenge(ACCOUNT, w, false).await.unwrap_err().code,
        ErrorCode::InvalidDetails,
        "an unmasked account number"
    );
    assert_eq!(t.try_challenge("bad account!", login(), false).await.unwrap_err().code, ErrorCode::BadRequest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_and_deny_racing_resolve_to_exactly_one_outcome() {
    let (t, _, _, raw, first, _) = setup(false).await;
    let raw = Arc::new(raw);
    let mut challenge = first;
    for round in 0..10 {
        let approve =
            raw.sign(&ApprovalPayload::new(&challenge, &raw.device_id, Decision::Approve, None, t.clock.now()));
        let deny = raw.sign(&ApprovalPayload::new(&challenge, &raw.device_id, Decision::Deny, None, t.clock.now()));
        let (a, d) = {
            let (r1, r2, id1, id2) = (raw.clone(), raw.clone(), challenge.id.clone(), challenge.id.clone());
            tokio::join!(
                tokio::spawn(async move { submit_raw(&r1, &id1, &approve).await }),
                tokio::spawn(async move { submit_raw(&r2, &id2, &deny).await })
            )
        };
        let (a, d) = (a.unwrap(), d.unwrap());
        assert!(a.is_ok() != d.is_ok(), "round {round}: exactly one wins: {a:?} / {d:?}");
        let loser = a.as_ref().err().or(d.as_ref().err()).unwrap();
        assert_eq!(loser.1.code, ErrorCode::ChallengeNotPending);
        let winner = a.as_ref().ok().or(d.as_ref().ok()).unwrap().state;
        assert_eq!(t.status(&challenge.id).await.state, winner);
        // Next round: a fresh challenge (past the cooldown a denial starts; the customer has
        // logged in since, so the push cap starts again).
        t.clock.advance(inkan_server::Limits::default().denial_cooldown_secs + 1);
        t.service().login_succeeded(ACCOUNT).await.unwrap();
        let created = t.challenge(ACCOUNT, withdrawal(1_000 + round), false).await;
        challenge = raw
            .pending()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.challenge.id == created.challenge_id)
            .unwrap()
            .challenge;
    }
}

#[tokio::test]
async fn keys_in_memory_store_are_wiped_on_remove() {
    let t = TestServer::start().await;
    let keys = memory_keys();
    let (device, account) = t.enrolled_device(keys.clone(), ACCOUNT).await;
    assert_eq!(keys.len(), 2);
    device.remove(&account).await.unwrap();
    assert!(keys.get(&account.device_key_entry()).unwrap().is_none());
    assert!(keys.is_empty());
}

#[tokio::test]
async fn device_sessions_need_a_known_device_and_a_fresh_nonce() {
    let t = TestServer::start().await;
    let keys = memory_keys();
    let (_device, account) = t.enrolled_device(keys.clone(), ACCOUNT).await;
    let key =
        inkan_protocol::keys::SigningKey::from_bytes(&keys.get(&account.device_key_entry()).unwrap().unwrap()).unwrap();
    let http = reqwest::Client::new();
    let t = &t;
    let session = |device_id: String, nonce: String, signed_at: i64| {
        let payload = inkan_protocol::DeviceAuthPayload {
            origin: t.origin.clone(),
            device_id: device_id.clone(),
            nonce: nonce.clone(),
            signed_at,
        };
        let signature = inkan_protocol::Label::DeviceAuth.sign(&key, &payload).unwrap();
        let body =
            serde_json::to_vec(&inkan_protocol::SessionRequest { device_id, nonce, signed_at, signature }).unwrap();
        async move { t.raw_post("/v1/device/session", None, body).await }
    };
    let fresh_nonce = || async {
        let n: inkan_protocol::NonceResponse =
            http.post(format!("{}/v1/device/nonce", t.origin)).send().await.unwrap().json().await.unwrap();
        n.nonce
    };
    let now = t.clock.now();
    // Unknown device.
    let (status, err) = session("nosuchdevice".into(), fresh_nonce().await, now).await;
    assert_eq!((status, err.map(|e| e.code)), (404, Some(ErrorCode::DeviceUnknown)));
    // A nonce works once.
    let nonce = fresh_nonce().await;
    assert_eq!(session(account.device_id.clone(), nonce.clone(), now).await.0, 200);
    let (status, err) = session(account.device_id.clone(), nonce, now).await;
    assert_eq!((status, err.map(|e| e.code)), (401, Some(ErrorCode::NonceUnknown)));
    // An expired nonce, and a made-up one.
    let nonce = fresh_nonce().await;
    t.clock.advance(inkan_server::Limits::default().nonce_ttl_secs + 1);
    assert_eq!(
        session(account.device_id.clone(), nonce, t.clock.now()).await.1.map(|e| e.code),
        Some(ErrorCode::NonceUnknown)
    );
    assert_eq!(
        session(account.device_id.clone(), "made-up".into(), t.clock.now()).await.1.map(|e| e.code),
        Some(ErrorCode::NonceUnknown)
    );
    // A signature by another key.
    let other = inkan_protocol::vectors::device_key();
    let nonce = fresh_nonce().await;
    let payload = inkan_protocol::DeviceAuthPayload {
        origin: t.origin.clone(),
        device_id: account.device_id.clone(),
        nonce: nonce.clone(),
        signed_at: t.clock.now(),
    };
    let req = inkan_protocol::SessionRequest {
        device_id: account.device_id.clone(),
        nonce,
        signed_at: t.clock.now(),
        signature: inkan_protocol::Label::DeviceAuth.sign(&other, &payload).unwrap(),
    };
    assert_eq!(
        t.raw_post("/v1/device/session", None, serde_json::to_vec(&req).unwrap()).await.1.map(|e| e.code),
        Some(ErrorCode::BadSignature)
    );
}

/// Liveness and readiness apart: while every write fails (the database file read-only, or
/// full), readiness and writes answer 503 `database_unavailable` with a JSON body, liveness
/// stays 200, and everything recovers without a restart when the database does.
#[tokio::test]
async fn a_database_that_cannot_write_answers_503_and_recovers_without_a_restart() {
    let t = TestServer::start().await;
    let get = |path: &'static str| {
        let (http, origin) = (t.http.clone(), t.origin.clone());
        async move {
            let resp = http.get(format!("{origin}{path}")).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    assert_eq!(get("/readyz").await, (200, "ready".into()));
    let ticket = || t.raw_post("/v1/rp/enrollment-tickets", Some(&t.api_key), br#"{"account_id":"40000001"}"#.to_vec());
    // SQLite's own read-only switch; PostgreSQL's outage is its own test (the server stopped).
    let inkan_kit::db::Db::Sqlite { writer, .. } = t.service().store.db().clone() else { return };

    // Every write refused by SQLite (SQLITE_READONLY on the one write connection).
    sqlx::query("PRAGMA query_only = ON").execute(&writer).await.unwrap();
    let (status, body) = get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(serde_json::from_str::<inkan_protocol::ErrorBody>(&body).unwrap().code, ErrorCode::DatabaseUnavailable);
    assert_eq!(get("/healthz").await.0, 200, "liveness stays up");
    assert_eq!(get("/livez").await.0, 200);
    let (status, err) = ticket().await;
    assert_eq!((status, err.map(|e| e.code)), (503, Some(ErrorCode::DatabaseUnavailable)));
    sqlx::query("PRAGMA query_only = OFF").execute(&writer).await.unwrap();
    assert_eq!(get("/readyz").await, (200, "ready".into()), "recovered without a restart");
    assert_eq!(ticket().await.0, 200);

    // The database full (SQLITE_FULL): the write that needs a page more gets 503 too.
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count").fetch_one(&writer).await.unwrap();
    sqlx::query(&format!("PRAGMA max_page_count = {pages}")).execute(&writer).await.unwrap();
    let mut full = None;
    // The free pages the migrations left (the site's tables dropped) fill first.
    for _ in 0..20_000 {
        let (status, err) = ticket().await;
        if status != 200 {
            full = Some((status, err.map(|e| e.code)));
            break;
        }
    }
    assert_eq!(full, Some((503, Some(ErrorCode::DatabaseUnavailable))), "a full database is unavailable, not a 500");
    sqlx::query("PRAGMA max_page_count = 1073741823").execute(&writer).await.unwrap();
    assert_eq!(ticket().await.0, 200, "recovered");
    assert_eq!(get("/readyz").await.0, 200);
}

/// Graceful shutdown answers every waiting long poll (with the challenge's status, here still
/// `pending`: ask again elsewhere) instead of dropping it, and ends within its grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_answers_every_waiting_long_poll() {
    let mut t = TestServer::start().await;
    t.enrolled_device(memory_keys(), ACCOUNT).await;
    let created = t.challenge(ACCOUNT, login(), false).await;
    let polls: Vec<_> = (0..5)
        .map(|_| {
            let req = t
                .http
                .get(format!("{}/v1/rp/challenges/{}/wait?timeout=60", t.origin, created.challenge_id))
                .bearer_auth(&t.api_key);
            tokio::spawn(async move {
                let resp = req.send().await.expect("an answer, not a dropped connection");
                (resp.status().as_u16(), resp.json::<inkan_protocol::ChallengeStatus>().await.expect("a status"))
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    while t.service().hub.listeners(ACCOUNT) < 5 {
        assert!(tokio::time::Instant::now() < deadline, "the long polls are waiting");
        tokio::task::yield_now().await;
    }
    // (Past the grace period the connections would be dropped and the polls fail here.)
    t.server.take().unwrap().stop().await;
    for poll in polls {
        let (status, answer) = poll.await.unwrap();
        assert_eq!((status, answer.state), (200, ChallengeState::Pending));
    }
}

/// Behind a path that silently drops every packet (no close, no reset), the device notices
/// the missing keep-alives within its silence limit, says so, and reconnects once the path
/// works again; a challenge created then arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_notices_a_dead_path_by_missing_keepalives_and_reconnects() {
    let (t, path) = TestServer::start_behind_lossy_path(|l| l.push_keepalive_secs = 1).await;
    let keys = memory_keys();
    let device = t.device(keys.clone()).with_push_silence_limit(std::time::Duration::from_secs(3));
    let ticket = t.ticket(ACCOUNT).await;
    let account = device.enroll(&ticket.uri, "behind a lossy path").await.unwrap();
    let device = Arc::new(device);
    let mut events = watch(device.clone(), account.clone());
    next_matching(&mut events, |e| matches!(e, inkan_core::WatchEvent::Connected { .. }).then_some(())).await;
    path.set_dropping(true);
    let error = next_matching(&mut events, |e| match e {
        inkan_core::WatchEvent::Disconnected { error, .. } => Some(error),
        _ => None,
    })
    .await;
    assert!(error.to_string().contains("silent"), "{error}");
    path.set_dropping(false);
    next_matching(&mut events, |e| matches!(e, inkan_core::WatchEvent::Connected { .. }).then_some(())).await;
    let created = t.challenge(ACCOUNT, login(), false).await;
    let got = next_matching(&mut events, |e| match e {
        inkan_core::WatchEvent::Challenge(p) => Some(p.challenge.id),
        _ => None,
    })
    .await;
    assert_eq!(got, created.challenge_id);
}

/// Silent and slow-header connections are closed after the header read timeout, and one
/// client address cannot hold more than its share of connections: past the cap it gets a
/// JSON 429, while another client (here 127.0.0.2) is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_slow_and_excess_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = TestServer::start_with(|l| {
        l.header_read_timeout_secs = 1;
        l.max_connections_per_client = 4;
    })
    .await;
    let closes = |mut s: tokio::net::TcpStream| async move {
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(EVENT_WAIT, s.read(&mut buf)).await.expect("closed in time").unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    // Silent: opened, nothing sent.
    let silent = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    // Slow: a request line, then one header byte now and then.
    let mut slow = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let drip = tokio::spawn(async move {
        for _ in 0..40 {
            if slow.write_all(b"a").await.is_err() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        false
    });
    closes(silent).await;
    assert!(drip.await.unwrap(), "the slow-header connection was closed");

    // Four idle connections from 127.0.0.1 fill its share; a fifth is refused with a JSON 429.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tokio::net::TcpStream::connect(t.addr).await.unwrap());
    }
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    while t.service().connections.total() < 4 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::task::yield_now().await;
    }
    let refused = closes(tokio::net::TcpStream::connect(t.addr).await.unwrap()).await;
    assert!(refused.starts_with("HTTP/1.1 429") && refused.contains("\"code\":\"rate_limited\""), "{refused}");
    // Another client address is served meanwhile.
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = other.connect(t.addr).await.unwrap();
    other.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    other.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ready"), "{answer}");
    drop(held);
}

/// The paths anyone may call are limited per client (429 `rate_limited`, a new window later),
/// and a client that sent too many wrong API keys is refused even with the right one until
/// its window is over. Other clients are not affected.
#[tokio::test]
async fn unauthenticated_paths_and_wrong_api_keys_are_rate_limited_per_client() {
    let t = TestServer::start_with(|l| {
        l.unauthenticated_per_minute_per_client = 5;
        l.wrong_api_keys_per_minute_per_client = 3;
    })
    .await;
    let nonce = |from: &'static str| {
        let req = t.http.post(format!("{}/v1/device/nonce", t.origin)).header("x-forwarded-for", from);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    for _ in 0..5 {
        assert_eq!(nonce("198.51.100.9").await, 200);
    }
    let resp = t
        .http
        .post(format!("{}/v1/device/nonce", t.origin))
        .header("x-forwarded-for", "198.51.100.9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.json::<inkan_protocol::ErrorBody>().await.unwrap().code, ErrorCode::RateLimited);
    assert_eq!(nonce("198.51.100.10").await, 200, "another client is not affected");
    t.clock.advance(61);
    assert_eq!(nonce("198.51.100.9").await, 200, "a new window");

    for _ in 0..3 {
        let (status, _) = t.raw_post("/v1/rp/enrollment-tickets", Some("wrong-key-wrong-key"), b"{}".to_vec()).await;
        assert_eq!(status, 401);
    }
    let body = br#"{"account_id":"50000001"}"#.to_vec();
    let (status, err) = t.raw_post("/v1/rp/enrollment-tickets", Some(&t.api_key), body.clone()).await;
    assert_eq!((status, err.map(|e| e.code)), (429, Some(ErrorCode::RateLimited)), "even the right key, this minute");
    t.clock.advance(61);
    assert_eq!(t.raw_post("/v1/rp/enrollment-tickets", Some(&t.api_key), body).await.0, 200);
}

/// The API's contract at its edges: the `Bearer` scheme in any case, and malformed query
/// values or non-UTF-8 path segments answered with the documented JSON `{code, message}`.
#[tokio::test]
async fn auth_scheme_case_and_malformed_paths_get_the_json_contract() {
    let t = TestServer::start().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let resp = t
            .http
            .get(format!("{}/v1/rp/accounts/{ACCOUNT}", t.origin))
            .header("authorization", format!("{scheme}  {}", t.api_key))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{scheme}");
    }
    for path in
        ["/v1/rp/challenges/x/wait?timeout=-1", "/v1/rp/challenges/x/wait?timeout=ten", "/v1/rp/challenges/%FF%FE/wait"]
    {
        let resp = t.http.get(format!("{}{path}", t.origin)).bearer_auth(&t.api_key).send().await.unwrap();
        let status = resp.status().as_u16();
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{path}");
        let body: inkan_protocol::ErrorBody = resp.json().await.unwrap();
        assert_eq!((status, body.code), (400, ErrorCode::BadRequest), "{path}");
    }
}

/// Offline-code secrets are sealed at rest: the database file holds no secret in the clear,
/// rows written before sealing are sealed at start, and a key rotation (new key first, old
/// key kept for one start) re-seals every row so the old key can go. A copy of the database
/// alone gives no codes; a row moved to another device does not open.
#[tokio::test]
async fn offline_code_secrets_are_sealed_at_rest_and_rotate() {
    let mut t = TestServer::start().await;
    let keys = memory_keys();
    let (device, account) = t.enrolled_device(keys.clone(), ACCOUNT).await;
    let secret = keys.get(&account.totp_entry()).unwrap().expect("the device holds its secret");
    // The database itself, on whichever backend the verifier runs.
    let store = inkan_server::store::Store::open(&t.database_url).await.unwrap();
    let db = store.db();
    let row = || async {
        with_db!(db, |w, r, pg| sqlx::query_as::<_, (Vec<u8>, Option<String>)>(
            "SELECT totp_secret, totp_key_id FROM devices WHERE id = $1"
        )
        .bind(&account.device_id)
        .fetch_one(r)
        .await
        .unwrap())
    };
    let (stored, key_id) = row().await;
    assert!(!stored.windows(secret.len()).any(|w| w == &secret[..]), "not in the clear");
    assert_eq!(key_id.as_deref(), Some("test"));
    let code = device.offline_code(&account).await.unwrap().code;
    assert!(t.verify_code(ACCOUNT, &code).await);

    // A row from before sealing (in the clear, no key id) is sealed when the server starts.
    t.kill();
    with_db!(db, |w, r, pg| sqlx::query("UPDATE devices SET totp_secret = $1, totp_key_id = NULL WHERE id = $2")
        .bind(&secret[..])
        .bind(&account.device_id)
        .execute(w)
        .await
        .map(|_| ())
        .unwrap());
    let old = t.settings_mut().secret_keys.clone();
    let new_spec = inkan_server::secrets::SecretKeys::generate_spec("k2");
    t.restart().await;
    assert_eq!(row().await.1.as_deref(), Some("test"), "sealed at start");

    // Rotation: the new key first, the old one kept for this start.
    t.kill();
    t.settings_mut().secret_keys = inkan_server::secrets::SecretKeys::with_older(&new_spec, &old).unwrap();
    t.restart().await;
    let (stored, key_id) = row().await;
    assert_eq!(key_id.as_deref(), Some("k2"), "re-sealed under the new key");
    assert!(!stored.windows(secret.len()).any(|w| w == &secret[..]));
    // The old key can go now.
    t.kill();
    t.settings_mut().secret_keys = inkan_server::secrets::SecretKeys::parse(&new_spec).unwrap();
    t.restart().await;
    t.clock.advance(31);
    let code = device.offline_code(&account).await.unwrap().code;
    assert!(t.verify_code(ACCOUNT, &code).await, "codes still work after the rotation");
    // Moved onto another device's row, the sealed secret does not open.
    let (other, other_account) = t.enrolled_device(memory_keys(), ACCOUNT).await;
    t.revoke(ACCOUNT, &account.device_id).await;
    let moved = row().await.0;
    with_db!(db, |w, r, pg| sqlx::query("UPDATE devices SET totp_secret = $1 WHERE id = $2")
        .bind(&moved)
        .bind(&other_account.device_id)
        .execute(w)
        .await
        .map(|_| ())
        .unwrap());
    let code = other.offline_code(&other_account).await.unwrap().code;
    assert!(!t.verify_code(ACCOUNT, &code).await, "an altered row opens nothing");
}

/// `/metrics` speaks Prometheus text and follows what happens: challenges created and settled
/// by outcome, the decision histogram, live channels, limits refusing requests.
#[tokio::test]
async fn metrics_follow_challenges_channels_and_refusals() {
    let t = TestServer::start_with(|l| l.wrong_api_keys_per_minute_per_client = 1).await;
    let metrics = || async {
        let resp = t.http.get(format!("{}/metrics", t.origin)).send().await.unwrap();
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        resp.text().await.unwrap()
    };
    let value = |text: &str, series: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .map_or_else(|| panic!("no {series} in\n{text}"), |l| l.rsplit(' ').next().unwrap().parse().unwrap())
    };
    let keys = memory_keys();
    let (device, account) = t.enrolled_device(keys.clone(), ACCOUNT).await;
    let raw = RawDevice::from_account(&keys, &account, t.clock.now()).await.unwrap();
    let _stream = raw.events().await.unwrap();
    let created = t.challenge(ACCOUNT, withdrawal(1_000), false).await;
    let challenge = device.pending(&account).await.unwrap().remove(0).challenge;
    device.decide(&account, &challenge, Decision::Approve, None).await.unwrap();
    t.challenge(ACCOUNT, login(), false).await;
    t.clock.advance(inkan_server::Limits::default().challenge_ttl_secs + 2);
    t.service().sweep_expired().await.unwrap();
    t.raw_post("/v1/rp/enrollment-tickets", Some("wrong-key-wrong-key"), b"{}".to_vec()).await;
    t.raw_post("/v1/rp/enrollment-tickets", Some("wrong-key-wrong-key"), b"{}".to_vec()).await;
    let text = metrics().await;
    assert_eq!(value(&text, "inkan_challenges_created_total"), 2);
    assert_eq!(value(&text, "inkan_challenges_settled_total{outcome=\"approved\"}"), 1, "{}", created.challenge_id);
    assert_eq!(value(&text, "inkan_challenges_settled_total{outcome=\"expired\"}"), 1);
    assert_eq!(value(&text, "inkan_decision_seconds_count"), 1);
    assert!(value(&text, "inkan_live_channels") >= 1);
    assert!(value(&text, "inkan_open_connections") >= 1);
    assert_eq!(value(&text, "inkan_rate_limited_total{limit=\"wrong_api_key\"}"), 1);
}

/// The expiry sweep stopped at any point (its task aborted mid-way, as a kill -9 stops it)
/// leaves every challenge either still pending or settled *with* its audit row: the state
/// change and its record are one transaction. Checked over many stop points, then after the
/// server itself is killed and restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_stopped_at_any_point_leaves_no_settled_challenge_without_its_audit_row() {
    let mut t = TestServer::start().await;
    t.enrolled_device(memory_keys(), ACCOUNT).await;
    let limits = inkan_server::Limits::default();
    for round in 0..30 {
        t.service().login_succeeded(ACCOUNT).await.unwrap();
        for _ in 0..limits.max_open_challenges {
            t.challenge(ACCOUNT, login(), false).await;
        }
        t.clock.advance(limits.challenge_ttl_secs + 1);
        let service = t.service().clone();
        let sweep = tokio::spawn(async move { service.sweep_expired().await });
        for _ in 0..round {
            tokio::task::yield_now().await;
        }
        sweep.abort();
        let _ = sweep.await;
        if round % 10 == 9 {
            t.kill();
            t.restart().await;
        }
    }
    t.service().sweep_expired().await.unwrap();
    let store = inkan_server::store::Store::open(&t.database_url).await.unwrap();
    let rows: Vec<(String, String, i64)> = with_db!(store.db(), |w, r, pg| {
        sqlx::query_as(
        "SELECT c.id, c.state, (SELECT COUNT(*) FROM audit_events a WHERE a.challenge_id = c.id AND a.event = 'challenge_' || c.state) FROM challenges c",
    )
    .fetch_all(r)
    .await
    .unwrap()
    });
    assert_eq!(rows.len(), 30 * limits.max_open_challenges as usize);
    for (id, state, audited) in rows {
        assert_eq!(state, "expired", "{id}");
        assert_eq!(audited, 1, "{id} is {state} with {audited} audit rows");
    }
}

/// One device session holds at most `max_channels_per_session` live channels; past that a
/// channel is refused with 429 `rate_limited`, and a closed channel gives its place back.
#[tokio::test]
async fn a_device_session_holds_a_bounded_number_of_live_channels() {
    let t = TestServer::start().await;
    let keys = memory_keys();
    let (_device, account) = t.enrolled_device(keys.clone(), ACCOUNT).await;
    let raw = RawDevice::from_account(&keys, &account, t.clock.now()).await.unwrap();
    let max = inkan_server::Limits::default().max_channels_per_session;
    let mut open = Vec::new();
    for _ in 0..max {
        open.push(raw.events().await.expect("within the cap"));
    }
    let err = raw.events().await.unwrap_err();
    assert_eq!(err.code(), "rate_limited", "{err}");
    drop(open.pop());
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    loop {
        match raw.events().await {
            Ok(channel) => break open.push(channel),
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "the closed channel's place came back: {e}"),
        }
        tokio::task::yield_now().await;
    }
}

/// Commits are synced before the answer (`synchronous=FULL`): a decision or a withdrawal that
/// was answered survives a power cut, not only a process crash.
#[tokio::test]
async fn the_database_syncs_every_commit() {
    let t = TestServer::start().await;
    // SQLite's settings; PostgreSQL commits are durable by its own default (synchronous_commit on).
    let inkan_kit::db::Db::Sqlite { writer, .. } = t.service().store.db().clone() else { return };
    let (level,): (i64,) = sqlx::query_as("PRAGMA synchronous").fetch_one(&writer).await.unwrap();
    assert_eq!(level, 2, "FULL");
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(&writer).await.unwrap();
    assert_eq!(mode, "wal");
}
