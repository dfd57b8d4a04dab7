//! The sign and verify paths a round trip pays for: canonicalising the approval payload,
//! the device's ECDSA signature, and the server's rebuild-and-verify.
//! Run: `cargo bench -p inkan-protocol --bench sign_verify`.

use criterion::{Criterion, criterion_group, criterion_main};
use inkan_protocol::{ApprovalPayload, Decision, Label, jcs, vectors};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let key = vectors::device_key();
    let public = key.public_key();
    let server = vectors::server_key();
    let challenge = vectors::challenges()[0].clone();
    let payload =
        ApprovalPayload::new(&challenge, vectors::DEVICE_ID, Decision::Approve, Some("42".into()), 1_795_510_830);
    let signature = Label::Approval.sign(&key, &payload).unwrap();
    let challenge_signature = Label::Challenge.sign(&server, &challenge).unwrap();
    let server_public = server.public_key();

    c.bench_function("jcs_approval_payload", |b| b.iter(|| jcs::to_canonical_string(black_box(&payload)).unwrap()));
    c.bench_function("device_sign_approval", |b| b.iter(|| Label::Approval.sign(&key, black_box(&payload)).unwrap()));
    c.bench_function("server_verify_approval", |b| {
        b.iter(|| {
            let rebuilt = ApprovalPayload::new(
                black_box(&challenge),
                vectors::DEVICE_ID,
                Decision::Approve,
                Some("42".into()),
                1_795_510_830,
            );
            Label::Approval.verify(&public, &rebuilt, black_box(&signature)).unwrap()
        })
    });
    c.bench_function("server_sign_challenge", |b| {
        b.iter(|| Label::Challenge.sign(&server, black_box(&challenge)).unwrap())
    });
    c.bench_function("device_verify_challenge", |b| {
        b.iter(|| Label::Challenge.verify(&server_public, black_box(&challenge), &challenge_signature).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
