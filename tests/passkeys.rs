//! Passkeys across two independent WebAuthn implementations: the core's (1Password's `passkey`
//! crate, keys in the real Secret Service) against the server's relying party (`webauthn-rs`),
//! through the site's own endpoints. Registration after a fresh login, passkey-only login
//! (no password, no code, even from a risky place), the look-alike origin refused at the
//! client, the wrong origin refused at the server, a replayed assertion, a cloned credential,
//! removal.

use inkan_core::{PasskeyStore, Passkeys};
use inkan_e2e::site::{PASSWORD, Visitor};
use inkan_e2e::{TestServer, platform_keys};
use serde_json::{Value, json};
use url::Url;

const HOME_IP: &str = "203.0.113.10";
const AWAY_IP: &str = "198.51.100.7";

fn device_passkeys(t: &TestServer) -> Passkeys {
    let dir = t.dir.path().join(format!("passkeys-{}", inkan_server::random_token(6)));
    std::fs::create_dir_all(&dir).unwrap();
    Passkeys::new(PasskeyStore::new(&dir, platform_keys()))
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Password and e-mailed code: a logged-in visitor.
async fn logged_in(t: &TestServer, account: &str, ip: &str) -> Visitor {
    let mut v = Visitor::new(&t.site_origin, ip);
    let page = v.login_password(account, PASSWORD).await;
    assert!(page.text().contains("ワンタイム認証コード"), "{}", page.text());
    let code = t.latest_email_code().await;
    let home = v.post("/login/verify/code", &[("code", &code)]).await;
    assert!(home.text().contains("出金可能額"), "{}", home.text());
    v
}

/// Registers a passkey of `pk` from the visitor's security settings.
async fn register(t: &TestServer, v: &mut Visitor, pk: &Passkeys, name: &str) -> String {
    let start = v.post_once("/settings/passkeys/register/start", &[]).await;
    assert_eq!(start.status, 200, "{}", start.body);
    let start = json_of(&start.body);
    let created = pk
        .register(&Url::parse(&t.site_origin).unwrap(), start["options"].clone())
        .await
        .expect("core makes the passkey");
    let credential = created.to_string();
    let ceremony = start["ceremony"].as_str().unwrap();
    let done = v
        .post_once(
            "/settings/passkeys/register/finish",
            &[("ceremony", ceremony), ("name", name), ("credential", &credential)],
        )
        .await;
    assert_eq!(json_of(&done.body)["ok"], true, "{}", done.body);
    created["id"].as_str().unwrap().to_owned()
}

/// The login page's passkey button, played by the core for `origin`: the finish answer.
async fn passkey_login(v: &mut Visitor, pk: &Passkeys, origin: &str) -> (u16, Value, Value) {
    let start = v.post_once("/login/passkey/start", &[]).await;
    assert_eq!(start.status, 200, "{}", start.body);
    let start = json_of(&start.body);
    let assertion = pk.authenticate(&Url::parse(origin).unwrap(), start["options"].clone()).await.expect("core signs");
    let ceremony = start["ceremony"].as_str().unwrap();
    let done =
        v.post_once("/login/passkey/finish", &[("ceremony", ceremony), ("credential", &assertion.to_string())]).await;
    (done.status, json_of(&done.body), assertion)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_passkey_registers_at_the_server_and_logs_in_alone_even_from_a_risky_place() {
    let t = TestServer::start_localhost().await;
    let account = t.customer("30000001").await;
    let pk = device_passkeys(&t);
    let mut v = logged_in(&t, &account, HOME_IP).await;
    let id = register(&t, &mut v, &pk, "QA CLI").await;
    let settings = v.get("/settings").await;
    assert!(settings.text().contains("QA CLI"), "{}", settings.text());
    assert!(t.mail_with("Passkey registered").await.2.contains("QA CLI"));
    v.post("/logout", &[]).await;

    // A new browser on a new network: risky, yet a passkey is phishing-resistant: no e-mail code.
    let codes_before = t.outbox().await.iter().filter(|m| m.1.contains("One-time code")).count();
    let notices_before = t.outbox().await.iter().filter(|m| m.1.contains("Login notice")).count();
    let mut away = Visitor::new(&t.site_origin, AWAY_IP);
    let (status, done, assertion) = passkey_login(&mut away, &pk, &t.site_origin).await;
    assert_eq!((status, done["ok"].clone(), done["next"].clone()), (200, json!(true), json!("/home")), "{done}");
    assert_eq!(assertion["id"], id.as_str());
    let home = away.get("/home").await;
    assert!(home.text().contains("出金可能額"), "{}", home.text());
    t.mails_matching(|m| m.1.contains("Login notice"), notices_before + 1).await;
    assert_eq!(t.outbox().await.iter().filter(|m| m.1.contains("One-time code")).count(), codes_before);
    let rows = t.audit_rows(&account).await;
    let login = rows.iter().find(|r| r["event"] == "login_succeeded").expect("login audited");
    assert!(login["detail"].to_string().contains("passkey"), "{login}");
    assert!(login["detail"].to_string().contains(AWAY_IP), "{login}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_origins_fail_at_the_client_and_at_the_server_and_replays_fail_at_the_server() {
    let t = TestServer::start_localhost().await;
    let account = t.customer("30000002").await;
    let pk = device_passkeys(&t);
    let mut v = logged_in(&t, &account, HOME_IP).await;
    register(&t, &mut v, &pk, "laptop").await;
    v.post("/logout", &[]).await;

    // A phishing copy relays the real site's request: the client refuses to sign for it.
    let mut victim = Visitor::new(&t.site_origin, HOME_IP);
    let start = json_of(&victim.post_once("/login/passkey/start", &[]).await.body);
    for origin in ["https://inkan-shoken.example", "https://localhost.evil.example", "http://127.0.0.1:8400"] {
        let e = pk.authenticate(&Url::parse(origin).unwrap(), start["options"].clone()).await.unwrap_err();
        assert_eq!(e.code(), "passkey_wrong_origin", "{origin}: {e}");
    }
    // A client that signs for another origin (here another port) is refused by the server.
    let port = t.site_addr.port().wrapping_add(1);
    let (status, done, _) = passkey_login(&mut victim, &pk, &format!("http://localhost:{port}")).await;
    assert_eq!((status, done["error"].as_str()), (401, Some("passkey_rejected")), "{done}");
    assert!(!victim.cookies.contains_key("inkan_session"));

    // A good assertion, replayed: its ceremony is gone, and a new ceremony has another challenge.
    let start = json_of(&victim.post_once("/login/passkey/start", &[]).await.body);
    let ceremony = start["ceremony"].as_str().unwrap().to_owned();
    let assertion =
        pk.authenticate(&Url::parse(&t.site_origin).unwrap(), start["options"].clone()).await.unwrap().to_string();
    let ok = victim.post_once("/login/passkey/finish", &[("ceremony", &ceremony), ("credential", &assertion)]).await;
    assert_eq!(json_of(&ok.body)["ok"], true, "{}", ok.body);
    let mut attacker = Visitor::new(&t.site_origin, AWAY_IP);
    let again =
        attacker.post_once("/login/passkey/finish", &[("ceremony", &ceremony), ("credential", &assertion)]).await;
    assert_eq!(json_of(&again.body)["error"], "ceremony_expired", "{}", again.body);
    let fresh = json_of(&attacker.post_once("/login/passkey/start", &[]).await.body);
    let replay = attacker
        .post_once(
            "/login/passkey/finish",
            &[("ceremony", fresh["ceremony"].as_str().unwrap()), ("credential", &assertion)],
        )
        .await;
    assert_eq!(json_of(&replay.body)["error"], "passkey_rejected", "{}", replay.body);
    assert!(!attacker.cookies.contains_key("inkan_session"));
    // Garbage is a clear error, not a crash.
    let fresh = json_of(&attacker.post_once("/login/passkey/start", &[]).await.body);
    let junk = attacker
        .post_once(
            "/login/passkey/finish",
            &[("ceremony", fresh["ceremony"].as_str().unwrap()), ("credential", "{\"id\":1}")],
        )
        .await;
    assert_eq!((junk.status, json_of(&junk.body)["error"].clone()), (400, json!("malformed_response")));
    let events = t.audit_events(&account).await;
    assert!(events.iter().any(|e| e == "passkey_login_refused"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloned_credential_is_suspended_and_the_customer_told() {
    let t = TestServer::start_localhost().await;
    let account = t.customer("30000003").await;
    let pk = device_passkeys(&t);
    let mut v = logged_in(&t, &account, HOME_IP).await;
    let id = register(&t, &mut v, &pk, "phone").await;
    v.post("/logout", &[]).await;
    let mut first = Visitor::new(&t.site_origin, HOME_IP);
    assert_eq!(passkey_login(&mut first, &pk, &t.site_origin).await.1["ok"], true);

    // A copy of the key taken before that login: its counter is behind the server's.
    pk.store().set_counter(&id, 0).unwrap();
    let mut copy = Visitor::new(&t.site_origin, AWAY_IP);
    let (status, done, _) = passkey_login(&mut copy, &pk, &t.site_origin).await;
    assert_eq!((status, done["error"].as_str()), (403, Some("passkey_suspended")), "{done}");
    assert!(!copy.cookies.contains_key("inkan_session"));
    assert!(t.mail_with("Passkey suspended").await.2.contains("phone"));
    assert!(t.audit_events(&account).await.iter().any(|e| e == "passkey_clone_suspected"));
    // The real one is refused too until the customer removes it and registers again.
    pk.store().set_counter(&id, 50).unwrap();
    let (_, done, _) = passkey_login(&mut Visitor::new(&t.site_origin, HOME_IP), &pk, &t.site_origin).await;
    assert_eq!(done["error"], "passkey_suspended");
    let settings = first.get("/settings").await;
    assert!(settings.text().contains("停止中"), "{}", settings.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_needs_a_fresh_login_and_a_removed_passkey_no_longer_works() {
    let t = TestServer::start_localhost().await;
    let account = t.customer("30000004").await;
    let pk = device_passkeys(&t);
    let mut v = logged_in(&t, &account, HOME_IP).await;
    let id = register(&t, &mut v, &pk, "old laptop").await;

    // Eleven minutes later the session is alive (180-minute rule) but no longer fresh.
    t.clock.advance(11 * 60);
    let late = v.post_once("/settings/passkeys/register/start", &[]).await;
    assert_eq!((late.status, json_of(&late.body)["error"].clone()), (403, json!("login_not_fresh")));
    // A finish without a ceremony, or with another's, changes nothing.
    let forged = v.post_once("/settings/passkeys/register/finish", &[("ceremony", "nope"), ("credential", "{}")]).await;
    assert_eq!(json_of(&forged.body)["error"], "ceremony_expired");

    // Removing it needs a fresh login too (one rule for every authenticator change).
    let stale = v.post_once(&format!("/settings/passkeys/{id}/remove"), &[("confirm", "1")]).await;
    assert_eq!(stale.status, 403, "{}", stale.body);
    v.post("/logout", &[]).await;
    let mut v = logged_in(&t, &account, HOME_IP).await;
    // It is the customer's only authenticator: the removal asks to confirm first.
    let asked = v.post(&format!("/settings/passkeys/{id}/remove"), &[]).await;
    assert!(asked.text().contains("最後の認証手段"), "{}", asked.text());
    let removed = v.post(&format!("/settings/passkeys/{id}/remove"), &[("confirm", "1")]).await;
    assert!(removed.text().contains("パスキーを削除しました"), "{}", removed.text());
    assert!(t.mail_with("Passkey removed").await.2.contains("old laptop"));
    v.post("/logout", &[]).await;
    let (status, done, _) = passkey_login(&mut Visitor::new(&t.site_origin, HOME_IP), &pk, &t.site_origin).await;
    assert_eq!((status, done["error"].as_str()), (401, Some("unknown_passkey")), "{done}");
    // Someone else's passkey cannot be removed by id.
    let other = t.customer("30000005").await;
    let mut w = logged_in(&t, &other, HOME_IP).await;
    let id2 = register(&t, &mut w, &pk, "mine").await;
    let page = v.post_once(&format!("/settings/passkeys/{id2}/remove"), &[]).await;
    assert_ne!(page.status, 200);
}

/// A passkey's name keeps the one rule for every name a customer types (the same as device
/// names and the texts a device signs): control characters, line breaks and invisible
/// formatting characters are refused with a code before anything is stored or mailed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_names_with_control_or_invisible_characters_are_refused() {
    let t = TestServer::start_localhost().await;
    let account = t.customer("30000006").await;
    let pk = device_passkeys(&t);
    let mut v = logged_in(&t, &account, HOME_IP).await;
    let start = json_of(&v.post_once("/settings/passkeys/register/start", &[]).await.body);
    let created = pk.register(&Url::parse(&t.site_origin).unwrap(), start["options"].clone()).await.unwrap();
    let ceremony = start["ceremony"].as_str().unwrap();
    for name in ["laptop\r\nBcc: attacker@example.com", "\u{202E}potpal", "lap\u{200B}top", "bell\u{7}"] {
        let done = v
            .post_once(
                "/settings/passkeys/register/finish",
                &[("ceremony", ceremony), ("name", name), ("credential", &created.to_string())],
            )
            .await;
        assert_eq!(done.status, 400, "{name:?}: {}", done.body);
        assert!(done.body.contains("invalid_text"), "{name:?}: {}", done.body);
    }
    assert!(!t.outbox().await.iter().any(|m| m.1.contains("Passkey")), "nothing mailed");
    let settings = v.get("/settings").await;
    assert!(!settings.text().contains("potpal") && !settings.text().contains("Bcc"), "nothing stored");
    // The ceremony is still there: a good name goes through.
    let done = v
        .post_once(
            "/settings/passkeys/register/finish",
            &[("ceremony", ceremony), ("name", "ノートPC"), ("credential", &created.to_string())],
        )
        .await;
    assert_eq!(json_of(&done.body)["ok"], true, "{}", done.body);
}

/// A flood of anonymous passkey-login starts from one client fills only that client's share:
/// it gets `too_many_ceremonies` (429), while a visitor from elsewhere still logs in with a
/// passkey during the flood.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_ceremony_flood_from_one_client_leaves_others_logging_in() {
    let t = TestServer::start_localhost().await;
    let account = t.customer("30000007").await;
    let pk = device_passkeys(&t);
    let mut v = logged_in(&t, &account, HOME_IP).await;
    register(&t, &mut v, &pk, "laptop").await;
    v.post("/logout", &[]).await;

    let per_client = inkan_site::Limits::default().max_passkey_ceremonies_per_client;
    let mut flood = Visitor::new(&t.site_origin, AWAY_IP);
    let mut refused = 0;
    for _ in 0..per_client * 3 {
        let start = flood.post_once("/login/passkey/start", &[]).await;
        if start.status == 429 {
            assert_eq!(json_of(&start.body)["error"], "too_many_ceremonies", "{}", start.body);
            refused += 1;
        } else {
            assert_eq!(start.status, 200, "{}", start.body);
        }
    }
    assert_eq!(refused, per_client * 2, "exactly the client's share was opened");
    let (status, done, _) = passkey_login(&mut Visitor::new(&t.site_origin, HOME_IP), &pk, &t.site_origin).await;
    assert_eq!(status, 200, "{done}");
    // The flood's ceremonies expire and the client may start again.
    t.clock.advance(inkan_site::Limits::default().passkey_ceremony_ttl_secs + 1);
    assert_eq!(flood.post_once("/login/passkey/start", &[]).await.status, 200);
}
