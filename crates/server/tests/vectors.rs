//! The server's real decision path (`Service::decide`) against the protocol vectors: the
//! vector signatures are accepted over the server's own record, and refused once any signed
//! field of the record differs.

use std::sync::Arc;

use inkan_protocol::vectors;
use inkan_protocol::{ChallengeState, Decision, DecisionSubmission, ErrorCode, Label};
use inkan_server::service::AuthedDevice;
use inkan_server::store::{NewChallenge, NewDevice, Store};
use inkan_server::{ManualClock, Service, Settings};

const SIGNED_AT: i64 = 1_795_510_830;

async fn service_with_vectors(
    dir: &tempfile::TempDir,
    challenge: &inkan_protocol::Challenge,
) -> (Service, AuthedDevice) {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("v.sqlite3").display());
    let mut settings = Settings::for_tests("https://auth.broker.example", &url);
    settings.signing_key = vectors::server_key();
    let store = Store::open(&url).await.unwrap();
    let file = vectors::load();
    store.insert_ticket("t", b"hash", "10012345", "label", 0, i64::MAX).await.unwrap();
    let device = NewDevice {
        id: vectors::DEVICE_ID,
        account_id: "10012345",
        name: "vector device",
        platform: "test",
        public_key: &file.device_public_key.to_sec1(),
        totp_secret: &[0u8; 20],
        totp_key_id: "test",
        enrolled_at: 0,
    };
    assert!(store.redeem_ticket("t", device).await.unwrap());
    let signature = Label::Challenge.sign(&vectors::server_key(), challenge).unwrap();
    store
        .insert_challenge_gated(
            NewChallenge {
                id: &challenge.id,
                account_id: &challenge.account_id,
                challenge_json: &serde_json::to_string(challenge).unwrap(),
                server_signature: &signature.to_b64(),
                number_to_match: challenge.number_match.map(|_| "42"),
                created_at: challenge.created_at,
                expires_at: challenge.expires_at,
            },
            serde_json::json!({}),
            |_| Ok::<(), ()>(()),
            |_| None,
        )
        .await
        .unwrap()
        .unwrap();
    let service = Service::new(settings, store, Arc::new(ManualClock::new(SIGNED_AT)));
    let authed = AuthedDevice {
        device_id: vectors::DEVICE_ID.into(),
        account_id: "10012345".into(),
        public_key: file.device_public_key,
    };
    (service, authed)
}

fn submission(case: &str, decision: Decision, number: Option<&str>) -> DecisionSubmission {
    let file = vectors::load();
    let signature = file.cases.iter().find(|c| c.name == case).unwrap().signature.clone();
    DecisionSubmission { decision, matched_number: number.map(str::to_owned), signed_at: SIGNED_AT, signature }
}

#[tokio::test]
async fn server_accepts_each_vector_decision() {
    for (case, index, decision, number, state) in [
        ("approve_withdrawal", 0, Decision::Approve, Some("42"), ChallengeState::Approved),
        ("deny_withdrawal", 0, Decision::Deny, None, ChallengeState::Denied),
        ("deny_fraud_login", 1, Decision::DenyFraud, None, ChallengeState::DeniedFraud),
        ("approve_login", 1, Decision::Approve, None, ChallengeState::Approved),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let challenge = vectors::challenges()[index].clone();
        let (service, device) = service_with_vectors(&dir, &challenge).await;
        let outcome = service
            .decide(&device, &challenge.id, submission(case, decision, number))
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(outcome.state, state, "{case}");
    }
}

#[tokio::test]
async fn server_refuses_vector_signatures_over_a_different_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut challenge = vectors::challenges()[0].clone();
    if let inkan_protocol::ChallengeDetails::Withdrawal(w) = &mut challenge.details {
        w.amount = 1_250_001;
    }
    let (service, device) = service_with_vectors(&dir, &challenge).await;
    let err = service
        .decide(&device, &challenge.id, submission("approve_withdrawal", Decision::Approve, Some("42")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::BadSignature);
    // The decision field is signed too: an approval signature does not pass as a denial.
    let err = service
        .decide(&device, &challenge.id, submission("approve_withdrawal", Decision::Deny, Some("42")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::BadSignature);
    assert_eq!(service.challenge_status(&challenge.id).await.unwrap().state, ChallengeState::Pending);
}
