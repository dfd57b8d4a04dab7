//! The fast signature check (`ring`) and the portable one (`p256`) give the same answer on
//! every input that reaches them: genuine signatures, a message or signature with one byte
//! changed, the other key, the high-S twin of a signature (r, n − s), and signatures whose
//! halves are zero or out of range.

use inkan_protocol::keys::{DevicePublicKey, FastSigner, Signature, SigningKey};
use proptest::prelude::*;

/// The P-256 group order n, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `a - b` for 32-byte big-endian numbers with `a >= b`.
fn sub(a: &[u8; 32], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

/// Both checks of `sig` over `msg` under `key`; each is `None` when the bytes are not a
/// signature at all (then neither check is reached).
fn both(key: &DevicePublicKey, msg: &[u8], sig: &[u8]) -> Option<(bool, bool)> {
    let sig = Signature::from_bytes(sig).ok()?;
    Some((key.verify(msg, &sig).is_ok(), key.verify_portable(msg, &sig).is_ok()))
}

fn signing_key(seed: [u8; 32]) -> Option<SigningKey> {
    SigningKey::from_bytes(&seed).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn fast_and_portable_checks_agree(
        seed in any::<[u8; 32]>(),
        other in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..200),
        flip in any::<(usize, u8)>(),
    ) {
        let (Some(sk), Some(other)) = (signing_key(seed), signing_key(other)) else { return Ok(()) };
        let key = sk.public_key();
        let sig = sk.sign(&msg).to_bytes();

        // Genuine: both accept, from either signer.
        prop_assert_eq!(both(&key, &msg, &sig), Some((true, true)));
        let fast = FastSigner::new(&sk).unwrap().sign(&msg).unwrap().to_bytes();
        prop_assert_eq!(both(&key, &msg, &fast), Some((true, true)));
        prop_assert_eq!(both(&other.public_key(), &msg, &fast), Some((false, false)));
        // The other key: both refuse.
        prop_assert_eq!(both(&other.public_key(), &msg, &sig), Some((false, false)));
        // One byte of the message changed (or one appended to an empty message).
        let mut m = msg.clone();
        if m.is_empty() { m.push(flip.1 | 1) } else { let i = flip.0 % m.len(); m[i] ^= flip.1 | 1 }
        prop_assert_eq!(both(&key, &m, &sig), Some((false, false)));
        // One byte of the signature changed: refused by both, or not a signature at all.
        let mut s = sig.clone();
        s[flip.0 % 64] ^= flip.1 | 1;
        if let Some(answers) = both(&key, &msg, &s) {
            prop_assert_eq!(answers, (false, false));
        }
        // The high-S twin is a valid ECDSA signature: both take it or both refuse it.
        let mut twin = sig[..32].to_vec();
        twin.extend_from_slice(&sub(&N, &sig[32..]));
        let answers = both(&key, &msg, &twin);
        prop_assert!(matches!(answers, Some((a, b)) if a == b), "high-S: {answers:?}");
    }
}

#[test]
fn out_of_range_halves_are_not_signatures_for_either_check() {
    let sk = signing_key([7u8; 32]).unwrap();
    let key = sk.public_key();
    let sig = sk.sign(b"m").to_bytes();
    let zero = [0u8; 32];
    let n_plus = N; // r or s equal to n is out of range.
    for (r, s) in
        [(&zero[..], &sig[32..]), (&sig[..32], &zero[..]), (&n_plus[..], &sig[32..]), (&sig[..32], &n_plus[..])]
    {
        let bytes = [r, s].concat();
        // Refused when parsed, or refused by both checks.
        if let Some(answers) = both(&key, b"m", &bytes) {
            assert_eq!(answers, (false, false));
        }
    }
}
