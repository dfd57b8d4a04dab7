//! What the place check and the mail signature cost: one `Geo::locate` (City and ASN lookups
//! in the MaxMind test databases) per login, and one message built and DKIM-signed per mail,
//! with an RSA-2048 key (from openssl) and with an Ed25519 key.
//! Run: `cargo bench -p inkan-site --bench geo_mail` (needs `scripts/fetch-test-mmdb` and
//! openssl, which `scripts/install-deps` provides).

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use inkan_site::geo::{Geo, GeoSettings};
use inkan_site::mail::{DkimSigner, Mail, build_message};
use inkan_site::settings::{DkimSettings, SecretString};

fn repo_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts").join(name)
}

fn bench(c: &mut Criterion) {
    let out = Command::new("bash").arg(repo_script("fetch-test-mmdb")).output().expect("scripts/fetch-test-mmdb");
    let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let geo = Geo::open(&GeoSettings {
        city_db: Some(dir.join("GeoIP2-City-Test.mmdb")),
        asn_db: Some(dir.join("GeoLite2-ASN-Test.mmdb")),
        ..Default::default()
    })
    .unwrap();
    for (name, ip) in [("london", "81.2.69.142"), ("japan_v6", "2001:218::10"), ("hosting", "1.0.0.1")] {
        let ip = ip.parse().unwrap();
        c.bench_function(&format!("geo_locate_{name}"), |b| b.iter(|| geo.locate(black_box(ip))));
    }

    let tmp = tempfile::tempdir().unwrap();
    let pem = tmp.path().join("rsa.pem");
    let ok = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&pem)
        .status()
        .expect("openssl");
    assert!(ok.success());
    let from = "いんかん証券 <no-reply@broker.example>";
    let mailbox = from.parse().unwrap();
    let mail = Mail {
        to: "taro@example.jp".into(),
        subject: "【いんかん証券 / Inkan Securities】ログインのお知らせ / Login notice".into(),
        body: "口座 ****0001 にログインがありました。\n日時: 2026-12-02 23:48 JST\n場所(目安): 日本\n\n----\n\nSomeone logged in.\n".repeat(3),
    };
    let rsa = DkimSettings {
        selector: "s1".into(),
        domain: "broker.example".into(),
        private_key: SecretString::new(std::fs::read_to_string(&pem).unwrap()),
    };
    let ed = DkimSettings {
        private_key: SecretString::new("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into()),
        ..rsa.clone()
    };
    c.bench_function("mail_build_unsigned", |b| {
        b.iter(|| build_message(&mailbox, black_box(mail.clone()), None).unwrap())
    });
    for (name, settings) in [("rsa2048", rsa), ("ed25519", ed)] {
        let signer = DkimSigner::new(&settings, from).unwrap();
        c.bench_function(&format!("mail_build_and_sign_{name}"), |b| {
            b.iter(|| build_message(&mailbox, black_box(mail.clone()), Some(&signer)).unwrap())
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
