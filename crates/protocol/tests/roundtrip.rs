//! Property tests: every wire type survives JSON and back unchanged; canonical JSON is stable
//! under re-parsing; enrollment links round-trip and the parser never panics.

use inkan_protocol::keys::{DevicePublicKey, Signature};
use inkan_protocol::uri::MAX_LABEL_CHARS;
use inkan_protocol::*;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn text() -> impl Strategy<Value = String> {
    // Printable and awkward: Japanese, quotes, backslashes, emoji, control characters.
    proptest::string::string_regex("[a-zA-Z0-9 日本語出金銀行支店東京\"\\\\/\u{1f600}\u{7}\n-]{0,24}").unwrap()
}

fn key() -> DevicePublicKey {
    vectors::device_key().public_key()
}

fn signature(seed: &str) -> Signature {
    vectors::device_key().sign(seed.as_bytes())
}

fn details() -> impl Strategy<Value = ChallengeDetails> {
    prop_oneof![
        (text(), text(), text(), text()).prop_map(|(time, ip, place, browser)| ChallengeDetails::Login(LoginContext {
            time,
            ip,
            place,
            browser
        })),
        (0..=jcs::MAX_SAFE_INTEGER, text(), text(), text(), text(), text()).prop_map(
            |(amount, currency, bank, branch, account_masked, requested_at)| {
                ChallengeDetails::Withdrawal(WithdrawalContext {
                    amount,
                    currency,
                    bank,
                    branch,
                    account_masked,
                    requested_at,
                })
            }
        ),
    ]
}

fn challenge() -> impl Strategy<Value = Challenge> {
    (text(), text(), text(), text(), details(), proptest::option::of(2u8..=6), any::<i32>(), any::<i32>()).prop_map(
        |(id, origin, account_id, nonce, details, digits, created_at, expires_at)| Challenge {
            id,
            origin,
            account_id,
            nonce,
            details,
            number_match: digits.map(|digits| NumberMatch { digits }),
            created_at: created_at.into(),
            expires_at: expires_at.into(),
        },
    )
}

fn decision() -> impl Strategy<Value = Decision> {
    prop_oneof![Just(Decision::Approve), Just(Decision::Deny), Just(Decision::DenyFraud)]
}

fn state() -> impl Strategy<Value = ChallengeState> {
    prop_oneof![
        Just(ChallengeState::Pending),
        Just(ChallengeState::Approved),
        Just(ChallengeState::Denied),
        Just(ChallengeState::DeniedFraud),
        Just(ChallengeState::Expired),
        Just(ChallengeState::Failed)
    ]
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let text = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, value);
    // Canonical JSON is a fixed point.
    if let Ok(canonical) = jcs::to_canonical_string(value) {
        let reparsed: serde_json::Value = serde_json::from_str(&canonical).unwrap();
        assert_eq!(jcs::to_canonical_string(&reparsed).unwrap(), canonical);
        let back: T = serde_json::from_str(&canonical).unwrap();
        assert_eq!(&back, value);
    }
}

proptest! {
    #[test]
    fn challenges_and_pushes(c in challenge(), s in state()) {
        round_trip(&c);
        let signed = SignedChallenge { challenge: c.clone(), server_signature: signature(&c.id) };
        round_trip(&signed);
        round_trip(&PushEvent::Challenge(Box::new(signed)));
        round_trip(&PushEvent::Resolved(DecisionOutcome { challenge_id: c.id.clone(), state: s }));
        round_trip(&ChallengeStatus { challenge_id: c.id.clone(), account_id: c.account_id.clone(), state: s, created_at: c.created_at, expires_at: c.expires_at, decided_at: Some(c.created_at), device_id: None });
        round_trip(&CreateChallengeRequest { account_id: c.account_id.clone(), details: c.details.clone(), number_match: c.number_match.is_some() });
        round_trip(&ChallengeCreated { challenge_id: c.id.clone(), expires_at: c.expires_at, number_to_show: Some("07".into()) });
    }

    #[test]
    fn decisions(c in challenge(), d in decision(), n in proptest::option::of("[0-9]{2,6}"), t in any::<i32>()) {
        let payload = ApprovalPayload::new(&c, "device", d, n.clone(), t.into());
        round_trip(&payload);
        round_trip(&DecisionSubmission { decision: d, matched_number: n, signed_at: t.into(), signature: signature("x") });
        // Changing anything the person saw changes the signed bytes.
        let mut other = c.clone();
        other.details = match &c.details {
            ChallengeDetails::Withdrawal(w) => ChallengeDetails::Withdrawal(WithdrawalContext { amount: w.amount ^ 1, ..w.clone() }),
            ChallengeDetails::Login(l) => ChallengeDetails::Login(LoginContext { ip: format!("{}.", l.ip), ..l.clone() }),
        };
        let a = Label::Approval.message(&payload).unwrap();
        let b = Label::Approval.message(&ApprovalPayload::new(&other, "device", d, payload.matched_number.clone(), t.into())).unwrap();
        prop_assert_ne!(a, b);
    }

    #[test]
    fn enrollment_and_sessions(name in text(), ticket in text(), t in any::<i32>()) {
        round_trip(&EnrollRequest { ticket: ticket.clone(), device_public_key: key(), device_name: name.clone(), platform: "linux".into(), signature: signature(&ticket) });
        round_trip(&EnrollPayload { origin: "https://a.example".into(), ticket: ticket.clone(), device_public_key: key(), device_name: name.clone(), platform: "ios".into() });
        round_trip(&EnrollResponse { device_id: name.clone(), account_id: "1".into(), account_label: name.clone(), server_public_key: key(), totp: TotpParams { secret: ticket.clone(), digits: 6, period: 30, algorithm: "SHA1".into() }, web_origin: None, rp_name: None });
        round_trip(&EnrollResponse { device_id: name.clone(), account_id: "1".into(), account_label: name.clone(), server_public_key: key(), totp: TotpParams { secret: ticket.clone(), digits: 6, period: 30, algorithm: "SHA1".into() }, web_origin: None, rp_name: Some(RpName { ja: name.clone(), en: name.clone() }) });
        round_trip(&SessionRequest { device_id: name.clone(), nonce: ticket.clone(), signed_at: t.into(), signature: signature("s") });
        round_trip(&SessionResponse { token: ticket.clone(), expires_at: t.into() });
        round_trip(&NonceResponse { nonce: ticket.clone(), expires_at: t.into() });
        round_trip(&DeviceAuthPayload { origin: name.clone(), device_id: name.clone(), nonce: ticket.clone(), signed_at: t.into() });
        round_trip(&CreateTicketRequest { account_id: name.clone(), label: Some(ticket.clone()) });
        round_trip(&TicketCreated { ticket_id: name.clone(), uri: ticket.clone(), expires_at: t.into(), qr_svg: "<svg/>".into(), qr_png_base64: "AA==".into() });
        round_trip(&DeviceInfo { device_id: name.clone(), account_id: "1".into(), name: name.clone(), platform: "linux".into(), enrolled_at: t.into(), last_used_at: None, revoked_at: Some(1) });
        round_trip(&AccountPushState { account_id: name.clone(), push_blocked: true, cooldown_until: Some(t.into()), open_challenges: 3 });
        round_trip(&ErrorBody { code: ErrorCode::NumberMismatch, message: name });
    }

    #[test]
    fn enrollment_links(label in proptest::string::string_regex(&format!("[a-zA-Z0-9 *&=%#?/日本語証券]{{0,{MAX_LABEL_CHARS}}}")).unwrap(), port in 1u16..) {
        let uri = EnrollmentUri::new(&format!("http://127.0.0.1:{port}"), &keys::b64(&[3u8; 32]), &keys::b64(&[5u8; 32]), &label).unwrap();
        prop_assert_eq!(EnrollmentUri::parse(&uri.to_uri_string()).unwrap(), uri);
    }

    #[test]
    fn link_parser_never_panics(s in "\\PC{0,300}", tail in "[a-z=&%0-9]{0,80}") {
        let _ = EnrollmentUri::parse(&s);
        let _ = EnrollmentUri::parse(&format!("inkan://enroll?{tail}"));
    }
}

#[test]
fn unknown_error_codes_from_newer_servers_are_tolerated() {
    let body: ErrorBody = serde_json::from_str(r#"{"code":"something_new","message":"m"}"#).unwrap();
    assert_eq!(body.code, ErrorCode::Unknown);
}
