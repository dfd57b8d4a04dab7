//! The committed vectors match what the code builds, every signature verifies, and any change
//! to a signed field breaks it. Set INKAN_WRITE_VECTORS=1 to rewrite the file after a
//! deliberate protocol change (and bump the label version).

use inkan_protocol::vectors::{self, VectorFile};
use inkan_protocol::{DevicePublicKey, Signature};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn committed_vectors_match_the_code() {
    let built = vectors::build().unwrap();
    if std::env::var_os("INKAN_WRITE_VECTORS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/v1.json");
        std::fs::write(path, serde_json::to_string_pretty(&built).unwrap() + "\n").unwrap();
        return;
    }
    let committed: VectorFile = vectors::load();
    assert_eq!(committed, built, "vectors/v1.json differs from what the code signs");
}

#[test]
fn every_vector_signature_verifies_over_its_exact_bytes() {
    let file = vectors::load();
    assert!(!file.cases.is_empty());
    for case in &file.cases {
        let key: &DevicePublicKey =
            if case.signer == "server" { &file.server_public_key } else { &file.device_public_key };
        let mut message = case.label.as_bytes().to_vec();
        message.push(0);
        message.extend_from_slice(case.canonical.as_bytes());
        assert_eq!(hex(&message), case.message_hex, "{}", case.name);
        key.verify(&message, &case.signature).unwrap_or_else(|_| panic!("{} verifies", case.name));
        // The canonical text is the JCS of the payload.
        assert_eq!(inkan_protocol::jcs::to_canonical_string(&case.payload).unwrap(), case.canonical, "{}", case.name);
        // Any flipped byte of the message fails.
        for i in [case.label.len() + 2, message.len() / 2, message.len() - 2] {
            let mut bad = message.clone();
            bad[i] ^= 0x01;
            assert!(key.verify(&bad, &case.signature).is_err(), "{} with byte {i} flipped", case.name);
        }
        let other: &DevicePublicKey =
            if case.signer == "server" { &file.device_public_key } else { &file.server_public_key };
        assert!(other.verify(&message, &case.signature).is_err(), "{} under the wrong key", case.name);
    }
}

#[test]
fn malformed_signatures_and_keys_are_refused() {
    assert!(Signature::from_b64("not base64!").is_err());
    assert!(Signature::from_b64(&inkan_protocol::keys::b64(&[0u8; 64])).is_err(), "r = s = 0");
    assert!(Signature::from_b64(&inkan_protocol::keys::b64(&[1u8; 63])).is_err());
    assert!(DevicePublicKey::from_b64(&inkan_protocol::keys::b64(&[4u8; 65])).is_err(), "not on the curve");
}
