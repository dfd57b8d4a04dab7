//! Offline-code secrets at rest: sealed with AES-256-GCM under an operator key, the key's id
//! stored beside each row (`devices.totp_key_id`) so keys can be rotated. The device id is
//! the associated data: a sealed secret copied onto another row does not open. A stolen
//! database file alone yields no codes.
//!
//! Keys come from `INKAN_SECRET_KEYS` as `id:base64url-32-bytes[,id:key…]`, the first being
//! the one new rows are sealed with, the others still opening older rows until
//! `inkan-server secrets rotate` has re-sealed them. `--dev` keeps a generated key in the data
//! directory (`insecure-dev-secret-key`), refused outside development like the signing key.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use zeroize::Zeroizing;

/// Bytes of a GCM nonce, stored in front of each sealed secret.
pub const NONCE_BYTES: usize = 12;

/// The operator's secret keys: the current one and any older ones still readable.
#[derive(Clone)]
pub struct SecretKeys {
    current: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        write!(f, "SecretKeys {{ current: {:?}, ids: {ids:?}, keys: [redacted] }}", self.current)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret keys must be written as id:base64url-32-bytes[,id:key...]: {0}")]
    Malformed(String),
    #[error("no secret key with id {0:?} is configured (it sealed this row)")]
    UnknownKey(String),
    #[error("a sealed secret did not open (wrong key or altered row)")]
    Tampered,
}

impl SecretKeys {
    /// Parses `id:key,id:key…` (the first is current).
    pub fn parse(spec: &str) -> Result<SecretKeys, SecretError> {
        let mut keys = HashMap::new();
        let mut current = None;
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (id, key) = item.split_once(':').ok_or_else(|| SecretError::Malformed("missing ':'".into()))?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(SecretError::Malformed(format!("key id {id:?}")));
            }
            let bytes = Zeroizing::new(
                inkan_protocol::keys::unb64(key)
                    .map_err(|_| SecretError::Malformed(format!("key {id:?} is not base64url")))?,
            );
            let bytes: [u8; 32] =
                bytes[..].try_into().map_err(|_| SecretError::Malformed(format!("key {id:?} must be 32 bytes")))?;
            if keys.insert(id.to_owned(), Aes256Gcm::new(&Key::<Aes256Gcm>::from(bytes))).is_some() {
                return Err(SecretError::Malformed(format!("key id {id:?} given twice")));
            }
            current.get_or_insert_with(|| id.to_owned());
        }
        let current = current.ok_or_else(|| SecretError::Malformed("no key".into()))?;
        Ok(SecretKeys { current, keys })
    }

    /// The keys of `spec` (its first is current), plus `older`'s keys that it does not name:
    /// a rotation's first start.
    pub fn with_older(spec: &str, older: &SecretKeys) -> Result<SecretKeys, SecretError> {
        let mut keys = SecretKeys::parse(spec)?;
        for (id, key) in &older.keys {
            keys.keys.entry(id.clone()).or_insert_with(|| key.clone());
        }
        Ok(keys)
    }

    /// One freshly generated key (tests, and `--dev`'s key file), as its spec text.
    pub fn generate_spec(id: &str) -> Zeroizing<String> {
        let bytes = Zeroizing::new(crate::random_bytes::<32>());
        Zeroizing::new(format!("{id}:{}", inkan_protocol::keys::b64(&*bytes)))
    }

    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// Seals `plain` for the row `row_id` under the current key: `(key id, nonce || ciphertext)`.
    pub fn seal(&self, row_id: &str, plain: &[u8]) -> (String, Vec<u8>) {
        let nonce_bytes = crate::random_bytes::<NONCE_BYTES>();
        let cipher = &self.keys[&self.current];
        let sealed = cipher
            .encrypt(&Nonce::from(nonce_bytes), Payload { msg: plain, aad: row_id.as_bytes() })
            .expect("AES-GCM encryption of a short secret cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        (self.current.clone(), out)
    }

    /// Opens what [`SecretKeys::seal`] made for `row_id` under `key_id`.
    pub fn open(&self, key_id: &str, row_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let cipher = self.keys.get(key_id).ok_or_else(|| SecretError::UnknownKey(key_id.to_owned()))?;
        if sealed.len() < NONCE_BYTES {
            return Err(SecretError::Tampered);
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SecretError::Tampered)?;
        cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: body, aad: row_id.as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_per_row_and_key() {
        let keys =
            SecretKeys::parse(&format!("{},{}", &*SecretKeys::generate_spec("k2"), &*SecretKeys::generate_spec("k1")))
                .unwrap();
        assert_eq!(keys.current_id(), "k2");
        let (id, sealed) = keys.seal("device-a", b"twenty-byte-secret!!");
        assert_eq!(id, "k2");
        assert!(!sealed.windows(20).any(|w| w == b"twenty-byte-secret!!"), "not in the clear");
        assert_eq!(&*keys.open("k2", "device-a", &sealed).unwrap(), b"twenty-byte-secret!!");
        assert!(matches!(keys.open("k2", "device-b", &sealed), Err(SecretError::Tampered)), "bound to its row");
        assert!(matches!(keys.open("k1", "device-a", &sealed), Err(SecretError::Tampered)), "another key");
        assert!(matches!(keys.open("k9", "device-a", &sealed), Err(SecretError::UnknownKey(_))));
        let mut flipped = sealed.clone();
        flipped[NONCE_BYTES] ^= 1;
        assert!(matches!(keys.open("k2", "device-a", &flipped), Err(SecretError::Tampered)));
        assert!(!format!("{keys:?}").contains(&inkan_protocol::keys::b64(&sealed)), "debug is redacted");
    }

    #[test]
    fn malformed_specs_are_refused() {
        for spec in [
            "",
            "k1",
            "k1:not-base64!",
            "k1:AAAA",
            "bad id:AAAA",
            &format!("{0},{0}", &*SecretKeys::generate_spec("k")),
        ] {
            assert!(SecretKeys::parse(spec).is_err(), "{spec:?}");
        }
    }
}
