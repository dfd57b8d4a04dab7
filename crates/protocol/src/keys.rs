//! P-256 keys and signatures in their wire encodings.
//!
//! Public keys travel as base64url (no padding) of the uncompressed SEC1 point (65 bytes);
//! signatures as base64url of the fixed 64-byte `r || s` form (as JWS ES256 does). Signing is
//! deterministic (RFC 6979), so the test vectors pin exact signature bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer, Verifier};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::ProtocolError;

/// base64url without padding, the one binary encoding of this protocol.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn unb64(text: &str) -> Result<Vec<u8>, ProtocolError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| ProtocolError::BadBase64)
}

/// Text for an identifier made of random bytes: lowercase RFC 4648 base32 without padding
/// (`a-z`, `2-7`). Unlike base64url it never starts with `-`, so ids are safe to type as
/// command-line arguments, and they read unambiguously aloud.
pub fn id_text(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// A P-256 public key: a device's, or the server's challenge-signing key. It keeps its
/// uncompressed SEC1 bytes, which is the form `ring` verifies with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePublicKey(p256::ecdsa::VerifyingKey, [u8; 65]);

impl DevicePublicKey {
    /// Parses and checks the point (on the curve, not the identity), compressed or not.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes).map_err(|_| ProtocolError::BadPublicKey)?;
        Ok(Self::from_key(key))
    }

    fn from_key(key: p256::ecdsa::VerifyingKey) -> Self {
        let mut sec1 = [0u8; 65];
        sec1.copy_from_slice(key.to_sec1_point(false).as_bytes());
        DevicePublicKey(key, sec1)
    }

    pub fn from_b64(text: &str) -> Result<Self, ProtocolError> {
        Self::from_sec1(&unb64(text).map_err(|_| ProtocolError::BadPublicKey)?)
    }

    /// Uncompressed SEC1 bytes (65).
    pub fn to_sec1(&self) -> Vec<u8> {
        self.1.to_vec()
    }

    pub fn to_b64(&self) -> String {
        b64(&self.to_sec1())
    }

    /// SHA-256 of the uncompressed SEC1 bytes, base64url: what an enrollment link pins.
    pub fn fingerprint(&self) -> String {
        b64(&Sha256::digest(self.to_sec1()))
    }

    /// Checks `signature` (ECDSA P-256 with SHA-256) over exactly `message`, with `ring`'s
    /// P-256 (constant-time assembly, about ten times faster than the pure-Rust check, which
    /// stays as [`Self::verify_portable`] and must agree with it: see the tests).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), ProtocolError> {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &self.1)
            .verify(message, &signature.0.to_bytes())
            .map_err(|_| ProtocolError::BadSignature)
    }

    /// The same check with the `p256` crate.
    pub fn verify_portable(&self, message: &[u8], signature: &Signature) -> Result<(), ProtocolError> {
        self.0.verify(message, &signature.0).map_err(|_| ProtocolError::BadSignature)
    }
}

impl Serialize for DevicePublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_b64())
    }
}

impl<'de> Deserialize<'de> for DevicePublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_b64(&text).map_err(serde::de::Error::custom)
    }
}

/// An ECDSA P-256 / SHA-256 signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature(p256::ecdsa::Signature);

impl Signature {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        p256::ecdsa::Signature::from_slice(bytes).map(Self).map_err(|_| ProtocolError::MalformedSignature)
    }

    pub fn from_b64(text: &str) -> Result<Self, ProtocolError> {
        Self::from_bytes(&unb64(text).map_err(|_| ProtocolError::MalformedSignature)?)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes().to_vec()
    }

    pub fn to_b64(&self) -> String {
        b64(&self.to_bytes())
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_b64())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_b64(&text).map_err(serde::de::Error::custom)
    }
}

/// A P-256 private key. Its bytes are wiped when it is dropped, and it never prints.
/// Where it lives (keychain, server secret) is the caller's concern; this crate only uses it.
#[derive(Clone)]
pub struct SigningKey(p256::ecdsa::SigningKey);

impl SigningKey {
    /// From the 32-byte big-endian scalar. Callers make the bytes with a CSPRNG.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        p256::ecdsa::SigningKey::from_slice(bytes).map(Self).map_err(|_| ProtocolError::BadPrivateKey)
    }

    /// The 32-byte scalar, for the key store. Wipe it (zeroize) once stored.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes().into()
    }

    pub fn public_key(&self) -> DevicePublicKey {
        DevicePublicKey::from_key(*self.0.verifying_key())
    }

    /// Signs exactly `message` (SHA-256 inside, RFC 6979 nonce).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message))
    }
}

/// A signing key prepared for signing many messages with `ring`'s P-256 (the server's
/// challenge key). Its nonces are random (ring mixes fresh randomness with the key), not RFC
/// 6979's, so its signatures are not the vectors' bytes; any P-256 verifier accepts them. It
/// costs about a quarter of [`SigningKey::sign`].
pub struct FastSigner {
    pair: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl FastSigner {
    pub fn new(key: &SigningKey) -> Result<Self, ProtocolError> {
        let rng = ring::rand::SystemRandom::new();
        let pair = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.to_bytes(),
            &key.public_key().to_sec1(),
            &rng,
        )
        .map_err(|_| ProtocolError::BadPrivateKey)?;
        Ok(FastSigner { pair, rng })
    }

    /// Signs exactly `message` (SHA-256 inside). Fails only if the system's random source does.
    pub fn sign(&self, message: &[u8]) -> Result<Signature, ProtocolError> {
        let sig = self.pair.sign(&self.rng, message).map_err(|_| ProtocolError::BadPrivateKey)?;
        Signature::from_bytes(sig.as_ref())
    }
}

impl std::fmt::Debug for FastSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FastSigner([redacted])")
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_text_is_rfc4648_base32() {
        // RFC 4648 §10, lower-cased, padding dropped.
        for (input, want) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(id_text(input.as_bytes()), want);
        }
        assert_eq!(id_text(&[0xff; 16]).len(), 26);
    }
}
