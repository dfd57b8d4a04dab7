//! Webhook signatures: how the verifier signs a delivery of relying-party events and how the
//! relying party checks it.
//!
//! The verifier and the relying party share a secret (`INKAN_RP_WEBHOOK_SECRET`). Each delivery
//! carries three headers:
//! - `inkan-delivery`: the delivery's id (also in the body), new for every attempt;
//! - `inkan-timestamp`: Unix seconds when it was signed;
//! - `inkan-signature`: `v1=` and the lowercase hex HMAC-SHA256, under the secret, of
//!   `"{timestamp}.{delivery}.{body}"`.
//!
//! The receiver recomputes the MAC and compares in constant time, refuses a timestamp
//! further than its tolerance from its clock, and refuses a delivery id it has seen (a
//! replay). Events inside carry their own ids, so a retried delivery (new id, same events) is
//! processed once.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const DELIVERY_HEADER: &str = "inkan-delivery";
pub const TIMESTAMP_HEADER: &str = "inkan-timestamp";
pub const SIGNATURE_HEADER: &str = "inkan-signature";
/// The only signature scheme: HMAC-SHA256.
pub const SCHEME: &str = "v1=";
/// Shortest secret either side accepts, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// Bytes of an HMAC-SHA256 tag (64 hex digits in the header).
pub const TAG_BYTES: usize = 32;
/// Longest delivery id, in characters.
pub const MAX_DELIVERY_ID_CHARS: usize = 64;

/// Why a delivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookRefusal {
    /// A header is missing or not in its form.
    Malformed,
    /// The signature does not match the body under the shared secret.
    BadSignature,
    /// The timestamp is outside the tolerance.
    Stale,
}

impl WebhookRefusal {
    pub fn code(self) -> &'static str {
        match self {
            WebhookRefusal::Malformed => "webhook_malformed",
            WebhookRefusal::BadSignature => "webhook_bad_signature",
            WebhookRefusal::Stale => "webhook_stale",
        }
    }
}

/// A delivery id: 1 to 64 of `A-Z a-z 0-9 - _`.
pub fn is_delivery_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_DELIVERY_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn mac(secret: &[u8], timestamp: i64, delivery_id: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(delivery_id.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `inkan-signature` header value for a delivery.
pub fn sign(secret: &[u8], timestamp: i64, delivery_id: &str, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, delivery_id, body).finalize().into_bytes();
    let mut out = String::with_capacity(SCHEME.len() + tag.len() * 2);
    out.push_str(SCHEME);
    for b in tag.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Checks a delivery's headers against its body. `now` and `tolerance_secs` bound the
/// timestamp; the caller still refuses a delivery id it has seen.
pub fn verify(
    secret: &[u8],
    delivery_id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), WebhookRefusal> {
    if !is_delivery_id(delivery_id) {
        return Err(WebhookRefusal::Malformed);
    }
    let ts: i64 = timestamp.parse().map_err(|_| WebhookRefusal::Malformed)?;
    let tag = signature
        .strip_prefix(SCHEME)
        .and_then(unhex)
        .filter(|t| t.len() == TAG_BYTES)
        .ok_or(WebhookRefusal::Malformed)?;
    // The MAC first: an attacker learns nothing about the clock from a forged delivery.
    mac(secret, ts, delivery_id, body).verify_slice(&tag).map_err(|_| WebhookRefusal::BadSignature)?;
    if ts.abs_diff(now) > tolerance_secs.unsigned_abs() {
        return Err(WebhookRefusal::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_delivery_verifies_and_any_change_is_refused() {
        let body = br#"{"delivery_id":"d1","events":[]}"#;
        let sig = sign(SECRET, 1000, "d1", body);
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64, "{sig}");
        assert_eq!(verify(SECRET, "d1", "1000", &sig, body, 1000, 300), Ok(()));
        assert_eq!(verify(SECRET, "d1", "1000", &sig, body, 1300, 300), Ok(()));
        let refused = |id: &str, ts: &str, sig: &str, body: &[u8], secret: &[u8]| {
            verify(secret, id, ts, sig, body, 1000, 300).unwrap_err()
        };
        assert_eq!(refused("d2", "1000", &sig, body, SECRET), WebhookRefusal::BadSignature);
        assert_eq!(refused("d1", "1001", &sig, body, SECRET), WebhookRefusal::BadSignature);
        assert_eq!(refused("d1", "1000", &sig, b"{}", SECRET), WebhookRefusal::BadSignature);
        assert_eq!(
            refused("d1", "1000", &sig, body, b"another secret of 32 bytes......"),
            WebhookRefusal::BadSignature
        );
        let mut flipped = sig.clone().into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            refused("d1", "1000", std::str::from_utf8(&flipped).unwrap(), body, SECRET),
            WebhookRefusal::BadSignature
        );
        for bad in ["", "v1=", "v2=00", "v1=zz", "v1=0", &sig[3..]] {
            assert_eq!(refused("d1", "1000", bad, body, SECRET), WebhookRefusal::Malformed, "{bad}");
        }
        for bad_id in ["", "a b", "é", &"x".repeat(65)] {
            assert_eq!(refused(bad_id, "1000", &sig, body, SECRET), WebhookRefusal::Malformed);
        }
        assert_eq!(refused("d1", "soon", &sig, body, SECRET), WebhookRefusal::Malformed);
        let old = sign(SECRET, 600, "d1", body);
        assert_eq!(refused("d1", "600", &old, body, SECRET), WebhookRefusal::Stale);
        let future = sign(SECRET, 1400, "d1", body);
        assert_eq!(refused("d1", "1400", &future, body, SECRET), WebhookRefusal::Stale);
    }
}
