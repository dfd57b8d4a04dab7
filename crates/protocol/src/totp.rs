//! RFC 6238 time-based one-time codes (HMAC-SHA1, 30-second steps, 6 digits), the offline
//! code the app shows when the push channel is out of reach.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

pub const DEFAULT_DIGITS: u32 = 6;
pub const DEFAULT_PERIOD: u32 = 30;
/// Random bytes in a TOTP secret (RFC 4226 recommends 160 bits).
pub const SECRET_BYTES: usize = 20;

/// The code for Unix time `now`.
pub fn code_at(secret: &[u8], now: i64, period: u32, digits: u32) -> String {
    let counter = (now.max(0) as u64) / u64::from(period.max(1));
    hotp(secret, counter, digits)
}

/// Seconds until the code for `now` changes.
pub fn seconds_left(now: i64, period: u32) -> u32 {
    let period = i64::from(period.max(1));
    (period - now.rem_euclid(period)) as u32
}

/// RFC 4226 HOTP with dynamic truncation.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[hash.len() - 1] & 0x0f) as usize;
    let bin = u32::from_be_bytes([hash[offset] & 0x7f, hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
    let digits = digits.clamp(6, 8);
    format!("{:0width$}", bin % 10u32.pow(digits), width = digits as usize)
}

/// Checks `code` against the steps `now - skew .. now + skew`, in constant time per step.
/// Returns the matching step so the caller can refuse its reuse.
pub fn verify(secret: &[u8], code: &str, now: i64, period: u32, digits: u32, skew_steps: u64) -> Option<u64> {
    let step = (now.max(0) as u64) / u64::from(period.max(1));
    let mut found = None;
    for s in step.saturating_sub(skew_steps)..=step + skew_steps {
        let want = hotp(secret, s, digits);
        if bool::from(want.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(s);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 Appendix B, SHA-1 rows (8 digits).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, want) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(code_at(secret, t, 30, 8), want);
        }
    }

    #[test]
    fn verify_accepts_neighbouring_steps_only() {
        let secret = b"12345678901234567890";
        let code = code_at(secret, 1000, 30, 6);
        assert!(verify(secret, &code, 1000, 30, 6, 1).is_some());
        assert!(verify(secret, &code, 1030, 30, 6, 1).is_some());
        assert!(verify(secret, &code, 1100, 30, 6, 1).is_none());
        assert!(verify(secret, "000000x", 1000, 30, 6, 1).is_none());
        assert_eq!(seconds_left(1000, 30), 20);
    }
}
