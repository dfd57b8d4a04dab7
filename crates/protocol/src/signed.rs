//! The canonical signed messages: `label || 0x00 || JCS(payload)`.
//!
//! One function per message kind produces the bytes ([`Label::message`] via each payload's
//! `signing_bytes`); the vectors in `vectors/` pin them. The verifier never trusts a payload
//! sent to it: it rebuilds the payload from its own record and checks the signature over that,
//! so a signature over anything else (another amount, another challenge, an expired one) fails.

use serde::{Deserialize, Serialize};

use crate::keys::{DevicePublicKey, Signature, SigningKey};
use crate::wire::{Challenge, ChallengeDetails, Decision};
use crate::{ProtocolError, jcs};

/// Domain-separation labels, one per message kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Enroll,
    DeviceAuth,
    Challenge,
    Approval,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Enroll => "inkan/enroll/v1",
            Label::DeviceAuth => "inkan/device-auth/v1",
            Label::Challenge => "inkan/challenge/v1",
            Label::Approval => "inkan/approval/v1",
        }
    }

    /// `label || 0x00 || JCS(payload)`.
    pub fn message<T: Serialize>(self, payload: &T) -> Result<Vec<u8>, ProtocolError> {
        let canonical = jcs::to_canonical_string(payload)?;
        let mut out = Vec::with_capacity(self.as_str().len() + 1 + canonical.len());
        out.extend_from_slice(self.as_str().as_bytes());
        out.push(0);
        out.extend_from_slice(canonical.as_bytes());
        Ok(out)
    }

    pub fn sign<T: Serialize>(self, key: &SigningKey, payload: &T) -> Result<Signature, ProtocolError> {
        Ok(key.sign(&self.message(payload)?))
    }

    /// [`Self::sign`] with a [`crate::keys::FastSigner`] (random nonces).
    pub fn sign_fast<T: Serialize>(
        self,
        signer: &crate::keys::FastSigner,
        payload: &T,
    ) -> Result<Signature, ProtocolError> {
        signer.sign(&self.message(payload)?)
    }

    pub fn verify<T: Serialize>(
        self,
        key: &DevicePublicKey,
        payload: &T,
        signature: &Signature,
    ) -> Result<(), ProtocolError> {
        key.verify(&self.message(payload)?, signature)
    }
}

/// Enrollment proof of possession, signed by the new device key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollPayload {
    pub origin: String,
    pub ticket: String,
    pub device_public_key: DevicePublicKey,
    pub device_name: String,
    pub platform: String,
}

/// Device authentication over a single-use server nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthPayload {
    pub origin: String,
    pub device_id: String,
    pub nonce: String,
    pub signed_at: i64,
}

/// What a device signs to approve or deny: every detail the person saw, the number they
/// typed, the decision and the time (dynamic linking).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPayload {
    pub origin: String,
    pub account_id: String,
    pub device_id: String,
    pub challenge_id: String,
    pub nonce: String,
    pub details: ChallengeDetails,
    pub matched_number: Option<String>,
    pub decision: Decision,
    pub signed_at: i64,
    pub expires_at: i64,
}

impl ApprovalPayload {
    /// The one way to build an approval payload, used by the device to sign and by the
    /// server to rebuild from its own record.
    pub fn new(
        challenge: &Challenge,
        device_id: &str,
        decision: Decision,
        matched_number: Option<String>,
        signed_at: i64,
    ) -> Self {
        ApprovalPayload {
            origin: challenge.origin.clone(),
            account_id: challenge.account_id.clone(),
            device_id: device_id.to_owned(),
            challenge_id: challenge.id.clone(),
            nonce: challenge.nonce.clone(),
            details: challenge.details.clone(),
            matched_number,
            decision,
            signed_at,
            expires_at: challenge.expires_at,
        }
    }
}
