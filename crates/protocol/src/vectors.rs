//! The protocol test vectors (`vectors/v1.json`): fixed keys, payloads, the exact bytes that
//! are signed, and valid signatures. Server and core test against the same file; another
//! implementation can too.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::{DevicePublicKey, Signature, SigningKey};
use crate::wire::{Challenge, ChallengeDetails, Decision, LoginContext, NumberMatch, WithdrawalContext};
use crate::{ApprovalPayload, DeviceAuthPayload, EnrollPayload, Label, ProtocolError};

/// The vector file, as committed.
pub const V1_JSON: &str = include_str!("../vectors/v1.json");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorFile {
    pub description: String,
    /// The device's private scalar, base64url (a published test key: never use it).
    pub device_private_key: String,
    pub device_public_key: DevicePublicKey,
    pub server_private_key: String,
    pub server_public_key: DevicePublicKey,
    pub cases: Vec<VectorCase>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorCase {
    pub name: String,
    /// `inkan/approval/v1` etc.
    pub label: String,
    /// "device" or "server": whose key signs.
    pub signer: String,
    pub payload: serde_json::Value,
    /// The JCS text of `payload`.
    pub canonical: String,
    /// Hex of `label || 0x00 || canonical`: the exact signed bytes.
    pub message_hex: String,
    /// Deterministic (RFC 6979) signature over `message_hex`, base64url r||s.
    pub signature: Signature,
}

fn fixed_key(seed: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(seed.as_bytes())).expect("a valid scalar")
}

pub fn device_key() -> SigningKey {
    fixed_key("inkan test vector device key")
}

pub fn server_key() -> SigningKey {
    fixed_key("inkan test vector server key")
}

/// The challenges the vectors use: a withdrawal with number matching and a login.
pub fn challenges() -> Vec<Challenge> {
    vec![
        Challenge {
            id: "Q2hhbGxlbmdlMDAwMDAwMQ".into(),
            origin: "https://auth.broker.example".into(),
            account_id: "10012345".into(),
            nonce: "Tm9uY2UwMDAwMDAwMDAwMQ".into(),
            details: ChallengeDetails::Withdrawal(WithdrawalContext {
                amount: 1_250_000,
                currency: "JPY".into(),
                bank: "みずほ銀行".into(),
                branch: "渋谷支店".into(),
                account_masked: "****5678".into(),
                requested_at: "2026-11-24T18:00:00+09:00".into(),
            }),
            number_match: Some(NumberMatch { digits: 2 }),
            created_at: 1_795_510_800,
            expires_at: 1_795_510_920,
        },
        Challenge {
            id: "Q2hhbGxlbmdlMDAwMDAwMg".into(),
            origin: "https://auth.broker.example".into(),
            account_id: "10012345".into(),
            nonce: "Tm9uY2UwMDAwMDAwMDAwMg".into(),
            details: ChallengeDetails::Login(LoginContext {
                time: "2026-11-24T18:00:00+09:00".into(),
                ip: "203.0.113.7".into(),
                place: "東京都 / Tokyo".into(),
                browser: "Chrome 131 / Windows 11 \"quoted\"\n".into(),
            }),
            number_match: None,
            created_at: 1_795_510_800,
            expires_at: 1_795_510_920,
        },
    ]
}

pub const DEVICE_ID: &str = "RGV2aWNlMDAwMDAwMDAwMQ";

fn case<T: Serialize>(
    name: &str,
    label: Label,
    signer: &str,
    key: &SigningKey,
    payload: &T,
) -> Result<VectorCase, ProtocolError> {
    let canonical = crate::jcs::to_canonical_string(payload)?;
    let message = label.message(payload)?;
    Ok(VectorCase {
        name: name.into(),
        label: label.as_str().into(),
        signer: signer.into(),
        payload: serde_json::to_value(payload).map_err(|e| ProtocolError::Canonical(e.to_string()))?,
        canonical,
        message_hex: message.iter().map(|b| format!("{b:02x}")).collect(),
        signature: key.sign(&message),
    })
}

/// Builds the vector file from the code. The committed file must equal this.
pub fn build() -> Result<VectorFile, ProtocolError> {
    let (device, server) = (device_key(), server_key());
    let [withdrawal, login] = <[Challenge; 2]>::try_from(challenges()).expect("two challenges");
    let signed_at = 1_795_510_830;
    let mut cases = vec![
        case(
            "enroll",
            Label::Enroll,
            "device",
            &device,
            &EnrollPayload {
                origin: "https://auth.broker.example".into(),
                ticket: "VGlja2V0MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA".into(),
                device_public_key: device.public_key(),
                device_name: "Hanako の iPhone".into(),
                platform: "ios".into(),
            },
        )?,
        case(
            "device_auth",
            Label::DeviceAuth,
            "device",
            &device,
            &DeviceAuthPayload {
                origin: "https://auth.broker.example".into(),
                device_id: DEVICE_ID.into(),
                nonce: "Tm9uY2VBdXRoMDAwMDAwMQ".into(),
                signed_at,
            },
        )?,
        case("challenge_withdrawal", Label::Challenge, "server", &server, &withdrawal)?,
        case("challenge_login", Label::Challenge, "server", &server, &login)?,
    ];
    for (name, challenge, decision, number) in [
        ("approve_withdrawal", &withdrawal, Decision::Approve, Some("42".to_owned())),
        ("deny_withdrawal", &withdrawal, Decision::Deny, None),
        ("deny_fraud_login", &login, Decision::DenyFraud, None),
        ("approve_login", &login, Decision::Approve, None),
    ] {
        cases.push(case(
            name,
            Label::Approval,
            "device",
            &device,
            &ApprovalPayload::new(challenge, DEVICE_ID, decision, number, signed_at),
        )?);
    }
    Ok(VectorFile {
        description: "Inkan protocol v1 test vectors. Keys are published test keys: never use them. message = label || 0x00 || JCS(payload); signature = ECDSA P-256/SHA-256 (RFC 6979), base64url r||s.".into(),
        device_private_key: crate::keys::b64(&device.to_bytes()),
        device_public_key: device.public_key(),
        server_private_key: crate::keys::b64(&server.to_bytes()),
        server_public_key: server.public_key(),
        cases,
    })
}

/// The committed vectors.
pub fn load() -> VectorFile {
    serde_json::from_str(V1_JSON).expect("vectors/v1.json parses")
}
