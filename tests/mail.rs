//! Outgoing mail proves where it came from: every mail goes through the real SMTP server
//! (aiosmtpd) DKIM-signed, and an independent verifier (dkimpy, `tests/mail/dkim_check.py`,
//! given the public key's TXT record in place of DNS) accepts it, for an Ed25519 key (the
//! `--dev` one) and an RSA key (made by openssl); a changed body, Subject or From fails. The
//! production settings refuse to start without a key, or with one not aligned with From.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use inkan_e2e::TestServer;
use inkan_e2e::site::{PASSWORD, Visitor};
use inkan_site::mail::{DkimSigner, Mail, Mailer, SmtpMailer};
use inkan_site::settings::{DkimSettings, MailTransport, SecretString, Settings};

/// aiosmtpd storing what it receives in a Maildir.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    async fn start() -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let server = SmtpServer {
            child: Command::new("python3")
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .stdout(Stdio::null())
                .spawn()
                .expect("python3 -m aiosmtpd (scripts/install-deps installs it)"),
            port,
            maildir,
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// dkimpy's verdict on every mail received, oldest first, with the tampered copies'.
    async fn checked(&self, record: &str, count: usize) -> Vec<serde_json::Value> {
        let record_file = self._dir.path().join("record.txt");
        std::fs::write(&record_file, record).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mail/dkim_check.py");
        for _ in 0..100 {
            let out =
                Command::new("python3").arg(&script).arg(&self.maildir).arg(&record_file).arg("--tamper").output();
            let out = out.expect("python3 tests/mail/dkim_check.py");
            assert!(out.status.success(), "dkim_check.py: {}", String::from_utf8_lossy(&out.stderr));
            let mails: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("fewer than {count} mails arrived");
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every mail verifies, and none of its tampered copies does.
fn assert_all_verify(mails: &[serde_json::Value], domain: &str) {
    assert!(!mails.is_empty());
    for m in mails {
        assert_eq!(m["dkim"], true, "DKIM fails for {m}");
        assert_eq!(m["d"], domain, "{m}");
        for (change, verdict) in m["tampered"].as_object().expect("tampered copies") {
            assert_eq!(verdict, false, "a copy with its {change} changed still verifies: {m}");
        }
    }
}

/// An RSA key from openssl, PKCS#8 PEM (what `openssl genpkey` writes), `bits` long.
fn openssl_rsa_key(dir: &Path, bits: u32) -> String {
    let path = dir.join(format!("rsa-{bits}.pem"));
    let status = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", &format!("rsa_keygen_bits:{bits}"), "-out"])
        .arg(&path)
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/install-deps installs it)");
    assert!(status.success());
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sites_mail_is_signed_with_the_dev_ed25519_key_and_verifies() {
    let smtp = SmtpServer::start().await;
    let keys = tempfile::tempdir().unwrap();
    let mut t = TestServer::start().await;
    let account = t.customer("20000090").await;
    t.kill();
    let dkim = DkimSettings {
        selector: "inkan-dev".into(),
        domain: "inkan.example".into(),
        private_key: inkan_site::settings::load_or_create_dev_dkim_key(keys.path()).unwrap(),
    };
    let s = t.site_settings_mut();
    s.mail = MailTransport::Smtp { url: SecretString::new(smtp.url()) };
    s.mail_from = "いんかん証券 / Inkan Securities <no-reply@inkan.example>".into();
    s.dkim = Some(dkim.clone());
    t.restart().await;
    let record = DkimSigner::new(&dkim, &t.site_settings_mut().mail_from).unwrap().dns_record().to_owned();
    assert!(record.starts_with("v=DKIM1; k=ed25519; p="), "{record}");

    // A first login from a new browser: the e-mailed code, then (once it is entered) the notice.
    let mut v = Visitor::new(&t.site_origin, "2001:218::10");
    v.login_password(&account, PASSWORD).await;
    let first = smtp.checked(&record, 1).await;
    assert_all_verify(&first, "inkan.example");
    assert!(first[0]["subject"].as_str().unwrap().contains("ワンタイム認証コード"), "{first:?}");
    // The key the dev server made is kept (mode 0600) and used again after a restart.
    let again = inkan_site::settings::load_or_create_dev_dkim_key(keys.path()).unwrap();
    assert_eq!(again.expose(), dkim.private_key.expose());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys.path().join(inkan_site::settings::INSECURE_DEV_DKIM_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_signed_mail_verifies_from_a_subdomain_sender_and_tampering_fails() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dkim = DkimSettings {
        selector: "s2026.mail".into(),
        domain: "broker.example".into(),
        private_key: SecretString::new(openssl_rsa_key(dir.path(), 2048)),
    };
    // Relaxed alignment: a From in a subdomain of d= passes DMARC.
    let from = "いんかん証券 <no-reply@notice.broker.example>";
    let mailer = SmtpMailer::new(&smtp.url(), from, Some(&dkim)).unwrap();
    let long_subject = format!(
        "【いんかん証券 / Inkan Securities】{}",
        "出金のご依頼を受け付けました / Withdrawal request received ".repeat(3)
    );
    let mails = [
        Mail {
            to: "taro@example.jp".into(),
            subject: long_subject,
            body: "出金のご依頼を受け付けました。\n金額: 30,000円\n\n----\n\nWe received a withdrawal request.\n"
                .into(),
        },
        Mail { to: "hanako@example.jp".into(), subject: "ASCII only".into(), body: "trailing spaces   \n\n\n".into() },
        Mail {
            to: "jiro@example.jp".into(),
            subject: "改行だけ / Only line ends".into(),
            body: "text\r\n\r\n\n \n".into(),
        },
    ];
    for m in mails {
        mailer.send(m).await.unwrap();
    }
    // A mail with no text is a mistake, refused before it is signed or sent.
    for body in ["", "\n\n", " \r\n"] {
        let empty = Mail { to: "jiro@example.jp".into(), subject: "空 / Empty".into(), body: body.into() };
        let err = mailer.send(empty).await.unwrap_err().to_string();
        assert!(err.contains("needs a body"), "{err}");
    }
    let record = DkimSigner::new(&dkim, from).unwrap().dns_record().to_owned();
    assert!(record.starts_with("v=DKIM1; k=rsa; p="), "{record}");
    let checked = smtp.checked(&record, 3).await;
    assert_all_verify(&checked, "broker.example");
    // A different key's record does not verify them.
    let other = DkimSettings { private_key: SecretString::new(openssl_rsa_key(dir.path(), 2048)), ..dkim.clone() };
    let wrong = DkimSigner::new(&other, from).unwrap().dns_record().to_owned();
    for m in smtp.checked(&wrong, 3).await {
        assert_eq!(m["dkim"], false, "{m}");
    }
}

#[test]
fn production_settings_refuse_unsigned_or_misaligned_mail() {
    let dir = tempfile::tempdir().unwrap();
    let production = |dkim: Option<DkimSettings>| {
        let mut s = Settings::for_tests(
            "https://www.broker.example",
            "sqlite::memory:",
            "https://auth.broker.example",
            "a relying-party key, 16+",
            "a webhook secret of at least thirty-two bytes",
        );
        s.dev = false;
        s.mail = MailTransport::Smtp { url: SecretString::new("smtp://127.0.0.1:25".into()) };
        s.mail_from = "いんかん証券 <no-reply@broker.example>".into();
        s.dkim = dkim;
        s.check().map_err(|e| e.to_string())
    };
    let key = SecretString::new(openssl_rsa_key(dir.path(), 2048));
    let dkim = |domain: &str, selector: &str, key: &SecretString| {
        Some(DkimSettings { selector: selector.into(), domain: domain.into(), private_key: key.clone() })
    };
    assert!(production(None).unwrap_err().contains("DKIM"), "no key: refused");
    assert_eq!(production(dkim("broker.example", "s1", &key)), Ok(()));
    assert!(production(dkim("other.example", "s1", &key)).unwrap_err().contains("not aligned"));
    assert!(production(dkim("example", "s1", &key)).is_err(), "a bare TLD");
    assert!(production(dkim("broker.example", "bad selector", &key)).unwrap_err().contains("selector"));
    let short = SecretString::new(openssl_rsa_key(dir.path(), 1024));
    assert!(production(dkim("broker.example", "s1", &short)).unwrap_err().contains("2048"));
    for junk in ["", "not a key", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----", "AAAA"] {
        let junk = SecretString::new(junk.into());
        assert!(production(dkim("broker.example", "s1", &junk)).is_err(), "{junk:?} accepted");
    }
    // The key never shows in the settings the server logs at start.
    let mut s = Settings::for_tests(
        "https://www.broker.example",
        "sqlite::memory:",
        "https://auth.broker.example",
        "a relying-party key, 16+",
        "a webhook secret of at least thirty-two bytes",
    );
    s.dkim = dkim("inkan.example", "s1", &key);
    let shown = format!("{s:?}");
    assert!(!shown.contains("PRIVATE KEY") && !shown.contains(&key.expose()[40..80]), "{shown}");
}
