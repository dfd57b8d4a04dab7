//! The brokerage demo site over HTTP, with the server's clock in the test's hands: logins with
//! push, e-mailed code and offline code, risk-based step-up, the 180/5-minute session rule,
//! lock-out, withdrawals, security settings, and the bad-input paths (forged posts, oversized
//! fields, unknown accounts, expired sessions). Mail is read from the development outbox here;
//! the browser suite (`tests/browser`) reads it from a real SMTP server.

use inkan_core::{Account, Authenticator};
use inkan_e2e::site::{PASSWORD, Page, Visitor, WITHDRAWAL_PASSWORD};
use inkan_e2e::{TestServer, platform_keys};
use inkan_protocol::clock::Clock;
use inkan_protocol::{ChallengeDetails, ChallengeState, Decision};

/// In Japan (Tokyo's coordinates) in the MaxMind test City database.
const HOME_IP: &str = "2001:218::10";
/// London in the test City database (not in the test ASN database).
const LONDON_IP: &str = "81.2.69.142";
/// AS15169 (Google) in the test ASN database: a hosting network by default.
const HOSTING_IP: &str = "1.0.0.1";
const MINUTE: i64 = 60;
const HOUR: i64 = 3600;

/// Password, then the e-mailed code from the outbox: the visitor lands on the home page.
async fn login_with_email_code(t: &TestServer, v: &mut Visitor, account: &str) -> Page {
    let page = v.login_password(account, PASSWORD).await;
    assert!(page.text().contains("ワンタイム認証コード"), "{}", page.text());
    let code = t.latest_email_code().await;
    let home = v.post("/login/verify/code", &[("code", &code)]).await;
    assert!(home.text().contains("出金可能額"), "{}", home.text());
    home
}

/// The challenge waiting on the device, approved with `number`.
async fn approve_on_device(device: &Authenticator, account: &Account, number: &str) -> ChallengeDetails {
    let pending = device.pending(account).await.expect("pending list");
    assert_eq!(pending.len(), 1, "one challenge waiting");
    let c = &pending[0].challenge;
    let outcome = device.decide(account, c, Decision::Approve, Some(number)).await.expect("approved");
    assert_eq!(outcome.state, ChallengeState::Approved);
    c.details.clone()
}

async fn audit(t: &TestServer, account: &str) -> Vec<String> {
    t.audit_events(account).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_an_enrolled_device_approving_the_push() {
    let t = TestServer::start().await;
    let account = t.customer("20000001").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    // First login: unknown browser and network, no device: the e-mailed code.
    login_with_email_code(&t, &mut v, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    v.post("/logout", &[]).await;

    // Same browser, same network: the push alone, with a number on the page.
    let page = v.login_password(&account, PASSWORD).await;
    let number = page.attr("data-number").expect("a number on the page");
    assert_eq!(number.len(), 3);
    assert!(page.text().contains("承認をお待ちしています"), "{}", page.text());
    assert!(page.attr("data-wait-url").is_some(), "the page waits by itself");
    let ChallengeDetails::Login(ctx) = approve_on_device(&device, &acct, &number).await else { panic!("a login") };
    assert_eq!(ctx.ip, HOME_IP);
    assert_eq!(ctx.place, "日本 / Japan");
    assert_eq!(ctx.browser, "Chrome 131 / Windows");
    // The waiting page's status answers settled, and the page proceeds.
    let status = v.get_once("/login/verify/status").await;
    assert!(status.body.contains("\"settled\":true"), "{}", status.body);
    let home = v.get("/login/verify").await;
    assert!(home.text().contains("出金可能額"), "{}", home.text());

    let events = audit(&t, &account).await;
    assert!(events.iter().filter(|e| *e == "login_succeeded").count() == 2, "{events:?}");
    t.mails_matching(|m| m.1.contains("Login notice"), 2).await; // both logins announced
    t.mail_with("Authenticator app added").await; // the enrollment too
    device.remove(&acct).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risky_logins_need_the_email_code_as_well_as_the_push() {
    let t = TestServer::start().await;
    let account = t.customer("20000002").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;

    // A browser never seen before (a phishing relay's, say): e-mail code first, then the push.
    let mut other = Visitor::new(&t.site_origin, HOME_IP);
    let page = other.login_password(&account, PASSWORD).await;
    assert!(page.text().contains("いつもと異なる環境"), "{}", page.text());
    assert!(page.body.contains(r#"<p class="warning" role="note">いつもと異なる環境"#), "a caution: {}", page.body);
    let code = t.latest_email_code().await;
    let page = other.post("/login/verify/code", &[("code", &code)]).await;
    let number = page.attr("data-number").expect("then the push");
    approve_on_device(&device, &acct, &number).await;
    assert!(other.get("/login/verify").await.text().contains("出金可能額"));

    // The known browser from a new network is risky too.
    v.post("/logout", &[]).await;
    v.from_ip = "198.51.100.20".into();
    let page = v.login_password(&account, PASSWORD).await;
    assert!(page.text().contains("いつもと異なる環境"), "{}", page.text());

    // The signals and the decision are in the audit log.
    let rows = t.audit_rows(&account).await;
    let risky: Vec<&serde_json::Value> = rows.iter().filter(|r| r["event"] == "login_password_ok").collect();
    assert_eq!(risky[0]["detail"]["risk"], serde_json::json!(["new_network"]));
    assert_eq!(risky[1]["detail"]["risk"], serde_json::json!(["unknown_browser"]));
    assert_eq!(risky[1]["detail"]["push"], true);
    assert_eq!(risky[1]["detail"]["email_code"], true);
    assert_eq!(risky[2]["detail"]["risk"], serde_json::json!(["unknown_browser", "new_network"]));
    device.remove(&acct).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_or_not_me_push_stops_the_login_and_says_why() {
    let t = TestServer::start().await;
    let account = t.customer("20000003").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    v.post("/logout", &[]).await;

    v.login_password(&account, PASSWORD).await;
    let c = device.pending(&acct).await.unwrap().remove(0).challenge;
    device.decide(&acct, &c, Decision::Deny, None).await.unwrap();
    let page = v.get("/login/verify").await;
    assert!(page.text().contains("拒否されました"), "{}", page.text());
    assert!(v.get("/home").await.text().contains("口座番号"), "no session: back at the login form");

    t.clock.advance(MINUTE); // past the cool-down
    v.login_password(&account, PASSWORD).await;
    let c = device.pending(&acct).await.unwrap().remove(0).challenge;
    device.decide(&acct, &c, Decision::DenyFraud, None).await.unwrap();
    // The browser that started the reported login (perhaps the fraudster's) learns only that
    // it was refused: not that it was reported, nor the customer's own advice.
    let page = v.get("/login/verify").await;
    assert!(page.text().contains("拒否されました"), "{}", page.text());
    for advice in ["心当たりがない", "パスワードを変更", "サポートセンター", "停止"] {
        assert!(!page.text().contains(advice), "{advice:?} told to the reported browser: {}", page.text());
    }
    // The customer's next login says in words why pushes are stopped, the way in that still
    // works and how to have them restarted, with no raw code; a mail went out.
    v.login_password(&account, PASSWORD).await;
    let page = v.get("/login/verify").await;
    for words in ["「心当たりがない」と報告されたため", "メールの認証コード", "サポートセンター"]
    {
        assert!(page.text().contains(words), "{words:?} missing: {}", page.text());
    }
    assert!(!page.text().contains("push_blocked"), "no raw code on the page: {}", page.text());
    let page = v.get("/lang/en?back=/login/verify").await;
    assert!(page.text().contains("because the app reported a request as"), "{}", page.text());
    assert!(page.text().contains("support centre"), "{}", page.text());
    v.get("/lang/ja?back=/login").await;
    t.mail_with("Not me").await;

    // The support centre, after checking who calls, has the verifier restart the pushes: the
    // next login is pushed to the app again, and who did it and how is audited.
    let verifier = inkan_rp_client::RpClient::new(&t.origin, &t.api_key).unwrap();
    let store = t.site_store();
    let now = inkan_core::Clock::now(&t.clock);
    assert!(inkan_site::seed::operator_restore_pushes(store, &verifier, &account, "", "phone", now).await.is_err());
    let events = audit(&t, &account).await;
    assert!(!events.contains(&"pushes_restored".to_owned()), "a refused restore records nothing: {events:?}");
    inkan_site::seed::operator_restore_pushes(store, &verifier, &account, "Sato", "phone call, date of birth", now)
        .await
        .unwrap();
    let rows = t.audit_rows(&account).await;
    let restored = rows.iter().find(|r| r["event"] == "pushes_restored").expect("audited");
    assert!(restored["detail"].to_string().contains("date of birth"), "{restored}");
    v.login_password(&account, PASSWORD).await;
    let page = v.get("/login/verify").await;
    assert!(page.attr("data-number").is_some(), "pushed to the app again: {}", page.text());
    assert_eq!(device.pending(&acct).await.unwrap().len(), 1, "the login reached the app");
    device.remove(&acct).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_code_is_accepted_in_the_code_field() {
    let t = TestServer::start().await;
    let account = t.customer("20000004").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    v.post("/logout", &[]).await;
    v.login_password(&account, PASSWORD).await;
    // No phone signal: the person switches to the code field and types the app's offline code.
    let page = v.post("/login/verify/email-instead", &[]).await;
    assert!(page.text().contains("ワンタイム認証コード"), "{}", page.text());
    let offline = device.offline_code(&acct).await.unwrap();
    let home = v.post("/login/verify/code", &[("code", &offline.code)]).await;
    assert!(home.text().contains("出金可能額"), "{}", home.text());
    device.remove(&acct).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_180_minutes_after_login_unless_used_in_the_last_5() {
    let t = TestServer::start().await;
    let account = t.customer("20000005").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    // 174 minutes in: still logged in, but too early to extend.
    t.clock.advance(174 * MINUTE);
    assert_eq!(v.get_once("/home").await.status, 200);
    // 176 minutes in (inside the last 5): extended to 360 minutes.
    t.clock.advance(2 * MINUTE);
    assert_eq!(v.get_once("/home").await.status, 200);
    // 300 minutes in: alive only because of the extension.
    t.clock.advance(124 * MINUTE);
    assert_eq!(v.get_once("/home").await.status, 200);
    // 360 minutes in: logged out, told why, and the session is gone for good.
    t.clock.advance(60 * MINUTE);
    let page = v.get_once("/home").await;
    assert_eq!(page.location.as_deref(), Some("/login?expired=1"));
    let page = v.get("/home").await;
    assert!(page.text().contains("口座番号") && !page.text().contains("出金可能額"));

    // A session used only before its window ends at 180 minutes exactly.
    let mut w = Visitor::new(&t.site_origin, HOME_IP);
    w.cookies.insert("inkan_browser".into(), v.cookies["inkan_browser"].clone());
    login_with_email_code(&t, &mut w, &account).await;
    t.clock.advance(174 * MINUTE);
    assert_eq!(w.get_once("/home").await.status, 200);
    t.clock.advance(6 * MINUTE);
    assert_eq!(w.get_once("/home").await.location.as_deref(), Some("/login?expired=1"));
    assert!(audit(&t, &account).await.contains(&"session_expired".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_of_any_factor_lock_the_account_and_only_an_operator_unlocks_it() {
    let t = TestServer::start().await;
    let account = t.customer("20000006").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let mut logged_in = Visitor::new(&t.site_origin, "192.0.2.44");
    login_with_email_code(&t, &mut logged_in, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    v.post("/logout", &[]).await;

    // 1-2: wrong passwords.
    for _ in 0..2 {
        let page = v.login_password(&account, "Wrong-pass-0").await;
        assert!(page.text().contains("口座番号またはパスワードが正しくありません"));
    }
    // 3: a wrong e-mailed code (a new browser elsewhere: the login is risky).
    let mut away = Visitor::new(&t.site_origin, "198.51.100.7");
    away.login_password(&account, PASSWORD).await;
    let code = t.latest_email_code().await;
    let wrong_code: String = code.chars().map(|c| if c == '9' { '0' } else { '9' }).collect();
    away.post("/login/verify/code", &[("code", &wrong_code)]).await;
    // 4: a wrong number typed into the app (it also denies that push). After failures the
    // login is risky: the (right) e-mailed code first, then the push.
    let mut page = v.login_password(&account, PASSWORD).await;
    if page.text().contains("ワンタイム認証コード") {
        page = v.post("/login/verify/code", &[("code", &t.latest_email_code().await)]).await;
    }
    let number = page.attr("data-number").expect("a number on the page");
    assert_eq!(number.len(), 3, "the typed code has 3 digits by default");
    let pending = device.pending(&acct).await.unwrap();
    let wrong: String = number.chars().map(|c| if c == '9' { '0' } else { '9' }).collect();
    let e = device.decide(&acct, &pending[0].challenge, Decision::Approve, Some(&wrong)).await.unwrap_err();
    assert_eq!(e.code(), "number_mismatch");
    let refused = v.get("/login/verify").await;
    assert!(refused.text().contains("確認番号が違った"), "the page says why: {}", refused.text());
    for _ in 0..100 {
        if audit(&t, &account).await.iter().filter(|e| *e == "number_mismatch").count() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // 5: one more wrong password locks the account. Whoever typed it is told only that the
    // password is wrong (the mail tells the customer); the right password is told "locked".
    let page = v.login_password(&account, "Wrong-pass-0").await;
    assert!(page.text().contains("口座番号またはパスワードが正しくありません"), "{}", page.text());
    assert!(!page.text().contains("ロック"), "{}", page.text());
    // Every session ended; the right password does not get in; no code is sent.
    assert_eq!(logged_in.get_once("/home").await.status, 303, "the open session ended");
    let codes_before = t.outbox().await.iter().filter(|m| m.1.contains("One-time code")).count();
    let page = v.login_password(&account, PASSWORD).await;
    assert!(page.text().contains("ロックしています") && page.text().contains("サポートセンター"), "{}", page.text());
    assert_eq!(t.outbox().await.iter().filter(|m| m.1.contains("One-time code")).count(), codes_before);
    let (_, _, body) = t.mail_with("Account locked").await;
    assert!(!body.contains("/unlock/") && !body.contains("http"), "no self-service link: {body}");
    assert!(body.contains("サポートセンター"));

    // Only an operator, after verifying the customer, unlocks; who and how are audited.
    let store = t.site_store();
    let now = inkan_core::Clock::now(&t.clock);
    assert!(inkan_site::seed::operator_unlock(store, &account, "", "phone", now).await.is_err());
    inkan_site::seed::operator_unlock(store, &account, "Sato", "phone call, date of birth", now).await.unwrap();
    let rows = t.audit_rows(&account).await;
    let unlocked = rows.iter().find(|r| r["event"] == "account_unlocked").expect("audited");
    assert!(unlocked["detail"].to_string().contains("date of birth"), "{unlocked}");
    let page = v.login_password(&account, PASSWORD).await;
    assert!(page.attr("data-number").is_some(), "unlocked: the login goes on to the push: {}", page.text());
    let events = audit(&t, &account).await;
    for e in ["login_password_wrong", "login_code_wrong", "number_mismatch", "account_locked", "login_refused_locked"] {
        assert!(events.contains(&e.to_owned()), "{e} in {events:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_account_gets_the_same_answer_as_a_wrong_password() {
    let t = TestServer::start().await;
    let account = t.customer("20000007").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    let wrong = v.login_password(&account, "Wrong-pass-0").await;
    let unknown = v.login_password("29999999", "Wrong-pass-0").await;
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body.replace(&account, "ACCOUNT"), unknown.body.replace("29999999", "ACCOUNT"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_posts_oversized_fields_and_expired_logins_change_nothing() {
    let t = TestServer::start().await;
    let account = t.customer("20000008").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let before = audit(&t, &account).await.len();

    // No token, a wrong token, a token with another site's Origin.
    let body = inkan_e2e::site::form_body(&[
        ("current_email", "taro.20000008@example.com"),
        ("new_email", "evil@example.net"),
    ]);
    let page = v.post_raw("/settings/email", &body, None).await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("csrf_check_failed"));
    let forged = format!("csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&{body}");
    assert_eq!(v.post_raw("/settings/email", &forged, None).await.status, 403);
    let with_token = format!("csrf={}&{body}", v.csrf().await);
    assert_eq!(
        v.post_raw("/settings/email", &with_token, Some("https://inkan-securities.example.net")).await.status,
        403
    );
    assert_eq!(v.post_raw("/login", "account=1&password=2", None).await.status, 403, "the login form too");
    // Oversized field and oversized body.
    let long = "A1-".repeat(30);
    let page = v.post_once("/settings/password", &[("current", &long), ("new", "x"), ("confirm", "x")]).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("field_too_long"));
    let huge = format!("csrf={}&pad={}", v.csrf().await, "x".repeat(20 * 1024));
    assert_eq!(v.post_raw("/settings/password", &huge, None).await.status, 413);
    // Nothing changed: same e-mail, no new audit entries, still logged in.
    assert_eq!(audit(&t, &account).await.len(), before);
    let settings = v.get("/settings").await;
    assert!(settings.text().contains("ta****"), "{}", settings.text());
    assert!(!t.outbox().await.iter().any(|m| m.0 == "evil@example.net"));

    // A login attempt left open past its lifetime must start over.
    v.post("/logout", &[]).await;
    let mut w = Visitor::new(&t.site_origin, "192.0.2.1");
    w.login_password(&account, PASSWORD).await;
    t.clock.advance(11 * MINUTE);
    let page = w.post("/login/verify/code", &[("code", "123456")]).await;
    assert!(page.text().contains("有効期限が切れました"), "{}", page.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_shows_and_signs_the_amount_and_masked_destination() {
    let t = TestServer::start().await;
    let account = t.customer("20000009").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    let form = v.get("/withdraw").await;
    let destination = form.attr("option value").expect("a registered destination");
    // A wrong withdrawal password is refused and counted.
    let page = v
        .post(
            "/withdraw",
            &[("amount", "120000"), ("destination", &destination), ("withdrawal_password", "Wrong-pass-0")],
        )
        .await;
    assert!(page.text().contains("出金パスワードが正しくありません"));
    let page = v
        .post(
            "/withdraw",
            &[("amount", "120,000"), ("destination", &destination), ("withdrawal_password", WITHDRAWAL_PASSWORD)],
        )
        .await;
    assert!(page.text().contains("120,000円"), "{}", page.text());
    let number = page.attr("data-number").expect("a number");
    let ChallengeDetails::Withdrawal(w) = approve_on_device(&device, &acct, &number).await else {
        panic!("withdrawal")
    };
    assert_eq!((w.amount, w.currency.as_str()), (120_000, "JPY"));
    assert!(
        w.account_masked.len() == 8
            && w.account_masked.starts_with("****")
            && w.account_masked[4..].bytes().all(|b| b.is_ascii_digit()),
        "one masking style, ****NNNN: {}",
        w.account_masked
    );
    assert_eq!(w.bank, "みずほ銀行 / Mizuho Bank");
    let done = v.get(page.attr("data-wait-url").unwrap().trim_end_matches("/status")).await;
    assert!(done.text().contains("出金を受け付けました"), "{}", done.text());
    assert!(v.get("/home").await.text().contains("2,880,000円"));
    let events = audit(&t, &account).await;
    assert!(events.contains(&"withdrawal_completed".to_owned()));
    assert!(events.contains(&"withdrawal_password_wrong".to_owned()));
    device.remove(&acct).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_without_a_device_takes_the_email_code() {
    let t = TestServer::start().await;
    let account = t.customer("20000010").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let destination = v.get("/withdraw").await.attr("option value").unwrap();
    for bad in ["0", "-5", "3000001", "abc", "99999999999"] {
        let page = v
            .post(
                "/withdraw",
                &[("amount", bad), ("destination", &destination), ("withdrawal_password", WITHDRAWAL_PASSWORD)],
            )
            .await;
        assert!(page.text().contains("出金額は1円以上"), "{bad}: {}", page.text());
    }
    let page = v
        .post(
            "/withdraw",
            &[("amount", "5000"), ("destination", &destination), ("withdrawal_password", WITHDRAWAL_PASSWORD)],
        )
        .await;
    assert!(page.text().contains("認証コードを入力"), "{}", page.text());
    let code = t.latest_email_code().await;
    let at = page.body.find("action=\"/withdraw/").expect("the code form") + "action=\"".len();
    let wpage = page.body[at..at + page.body[at..].find('"').unwrap()].to_owned();
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let page = v.post(&wpage, &[("code", wrong)]).await;
    assert!(page.text().contains("あと4回"), "{}", page.text());
    let page = v.post(&wpage, &[("code", &code)]).await;
    assert!(page.text().contains("出金を受け付けました"), "{}", page.text());
    assert!(v.get("/home").await.text().contains("2,995,000円"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_settings_enroll_list_revoke_and_the_revoked_device_fails() {
    let t = TestServer::start().await;
    let account = t.customer("20000011").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    // The enrollment page shows a QR code and the link; the device enrolls from the link.
    let page = v.get("/settings/authenticators/new").await;
    assert!(page.body.contains("<svg"), "inline QR");
    let at = page.body.find("inkan://enroll").expect("the link");
    let link = page.body[at..at + page.body[at..].find('"').unwrap()].replace("&amp;", "&");
    let device = t.device(platform_keys());
    let acct = device.enroll(&link, "QA phone").await.expect("enrolled from the page's link");
    let status = v.get_once(&page.attr("data-wait-url").unwrap().replace("&amp;", "&")).await;
    assert!(status.body.contains("\"used\""), "{}", status.body);
    let settings = v.get("/settings").await;
    assert!(settings.text().contains("QA phone"), "{}", settings.text());
    // Revoke from the page: it is the last authenticator, so the page first says what the
    // customer falls back to and asks to confirm; confirmed, the device's next approval fails.
    let revoke = format!("/settings/authenticators/{}/revoke", acct.device_id);
    let page = v.post(&revoke, &[]).await;
    assert!(page.text().contains("最後の認証手段") && page.text().contains("ワンタイム認証コード"), "{}", page.text());
    device.pending(&acct).await.expect("not revoked before the confirmation");
    let page = v.post(&revoke, &[("confirm", "1")]).await;
    assert!(page.text().contains("登録を解除しました"), "{}", page.text());
    assert!(!page.text().contains("QA phone"));
    let err = device.pending(&acct).await.expect_err("revoked");
    assert_eq!(err.code(), "device_revoked");
    assert!(v.post(&revoke, &[("confirm", "1")]).await.status == 404, "twice: not found");
    t.mail_with("Authenticator app removed").await;
    device.remove(&acct).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_and_email_changes_follow_the_rules_and_notify() {
    let t = TestServer::start().await;
    let account = t.customer("20000012").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let change = |new: &'static str| [("current", PASSWORD), ("new", new), ("confirm", new)];
    for (new, says) in [
        ("Short-1", "10文字以上"),
        ("Much-too-long-pass-1", "16文字以内"),
        ("Has space 12A", "使えない文字"),
        ("abcdefghij", "3種類以上"),
    ] {
        let page = v.post("/settings/password", &change(new)).await;
        assert!(page.text().contains(says), "{new}: {}", page.text());
    }
    let page = v
        .post("/settings/password", &[("current", PASSWORD), ("new", "New-pass-2026"), ("confirm", "New-pass-2027")])
        .await;
    assert!(page.text().contains("一致しません"));
    let page = v.post("/settings/password", &change("New-pass-2026")).await;
    assert!(page.text().contains("パスワードを変更しました"), "{}", page.text());

    // E-mail change needs the current address typed in full; the masked form is not enough.
    // The login password is asked too (the new one, now). Wrong guesses count toward the lock.
    let new_pw = "New-pass-2026";
    let page = v
        .post(
            "/settings/email",
            &[("current_email", "ta****@ex*****.com"), ("new_email", "new@example.org"), ("password", new_pw)],
        )
        .await;
    assert!(page.text().contains("一致しません"), "{}", page.text());
    let current = format!("taro.{account}@example.com");
    let page = v
        .post(
            "/settings/email",
            &[("current_email", &current), ("new_email", "new@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert!(page.text().contains("現在のパスワード") || page.text().contains("パスワードが"), "{}", page.text());
    let events = audit(&t, &account).await;
    assert!(
        events.contains(&"email_change_wrong_current".to_owned())
            && events.contains(&"email_change_wrong_password".to_owned())
    );
    let rows = t.audit_rows(&account).await;
    assert_eq!(rows.iter().find(|r| r["event"] == "email_change_wrong_password").unwrap()["detail"]["failed"], 2);
    let page = v
        .post("/settings/email", &[("current_email", &current), ("new_email", "not-an-address"), ("password", new_pw)])
        .await;
    assert!(page.text().contains("形式が正しくありません"));
    let page = v
        .post(
            "/settings/email",
            &[("current_email", &current), ("new_email", "hanako@example.org"), ("password", new_pw)],
        )
        .await;
    assert!(page.text().contains("認証メールアドレスを変更しました"), "{}", page.text());
    assert!(page.text().contains("ha****@ex*****.org"), "masked: {}", page.text());
    t.mail_matching(|m| m.0 == current && m.1.contains("e-mail changed")).await; // the old address is told
    t.mail_matching(|m| m.0 == "hanako@example.org" && m.1.contains("e-mail changed")).await; // and the new
    t.mail_with("Password changed").await;
    // No page shows the full address or phone.
    for path in ["/home", "/settings", "/activity"] {
        let text = v.get(path).await.body;
        assert!(!text.contains("hanako@example.org") && !text.contains("1234-5678"), "{path} unmasked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_switch_and_recent_activity() {
    let t = TestServer::start().await;
    let account = t.customer("20000013").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let page = v.get("/lang/en?back=/activity").await;
    assert!(page.text().contains("Recent activity"), "{}", page.text());
    assert!(page.text().contains("Logged in"));
    assert!(page.text().contains("Code e-mailed"));
    // Off-site "back" targets are ignored.
    let page = v.get_once("/lang/ja?back=//evil.example").await;
    assert_eq!(page.location.as_deref(), Some("/"));
}

/// The top page names the login before the one the customer is in: when (in the page's
/// language) and from where; none on the first login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_top_page_shows_the_previous_login() {
    let t = TestServer::start().await;
    let account = t.customer("20000020").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    let first_at = t.clock.now();
    let home = login_with_email_code(&t, &mut v, &account).await;
    assert!(!home.text().contains("前回ログイン日時"), "a first login has no previous one: {}", home.text());
    v.post("/logout", &[]).await;
    t.clock.advance(26 * HOUR);
    let home = login_with_email_code(&t, &mut v, &account).await;
    let line = format!("前回ログイン日時: {}", inkan_protocol::display::jst_date_ja(first_at));
    assert!(home.text().contains(&line), "{line:?} in {}", home.text());
    assert!(home.text().contains("(日本"), "the place of the previous login: {}", home.text());
    let english = v.get("/lang/en?back=/home").await;
    let line = format!("Previous login: {}", inkan_protocol::display::jst_date_en(first_at));
    assert!(english.text().contains(&line), "{line:?} in {}", english.text());
    assert!(!english.text().contains("前回"), "{}", english.text());
    // One language per page: the customer's name and the destination's bank and branch, kept
    // in both languages, show in the page's own.
    assert!(english.text().contains("Taro Yamada") && english.text().contains("Mizuho Bank"), "{}", english.text());
    for japanese in ["山田", "みずほ", "渋谷"] {
        assert!(!english.text().contains(japanese), "{japanese:?} on the English page: {}", english.text());
    }
    assert!(home.text().contains("山田 太郎 様") && home.text().contains("みずほ銀行"), "{}", home.text());
    for english_word in ["Taro", "Mizuho", "Shibuya"] {
        assert!(!home.text().contains(english_word), "{english_word:?} on the Japanese page: {}", home.text());
    }
    // The newest login is the one the customer is in: a third one names the second.
    v.post("/logout", &[]).await;
    v.get("/lang/ja?back=/login").await;
    let second_at = t.clock.now();
    t.clock.advance(HOUR);
    let home = login_with_email_code(&t, &mut v, &account).await;
    let line = format!("前回ログイン日時: {}", inkan_protocol::display::jst_date_ja(second_at));
    assert!(home.text().contains(&line), "{line:?} in {}", home.text());
}

/// A risky login needs the e-mailed code and the push (or the offline code in the push's
/// place), whatever is pressed in whatever order: "use the e-mailed code instead" is refused
/// there, and an answer of "not me" ends the attempt for every factor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_risky_login_needs_the_code_and_the_push_whatever_is_pressed() {
    let t = TestServer::start().await;
    let account = t.customer("20000101").await;
    let mut home = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut home, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;

    // A relay's browser: password, then the mailed code, then the push is waiting.
    let mut relay = Visitor::new(&t.site_origin, HOME_IP);
    relay.login_password(&account, PASSWORD).await;
    let code = t.latest_email_code().await;
    let page = relay.post("/login/verify/code", &[("code", &code)]).await;
    assert!(page.attr("data-number").is_some(), "{}", page.text());
    assert!(!page.body.contains("/login/verify/email-instead"), "no e-mail fallback is offered on a risky login");
    // Pressing it anyway (a hand-made post) changes nothing: the push is still needed.
    let page = relay.post("/login/verify/email-instead", &[]).await;
    assert!(page.text().contains("認証アプリでの承認"), "{}", page.text());
    assert!(page.attr("data-number").is_some(), "still waiting for the push: {}", page.text());
    let again = relay.post("/login/verify/code", &[("code", &code)]).await;
    assert!(!again.text().contains("出金可能額"), "the spent code does not finish it: {}", again.text());
    assert!(relay.get("/home").await.text().contains("口座番号"), "no session");
    let challenge = device.pending(&acct).await.unwrap().remove(0).challenge;
    assert_eq!(t.status(&challenge.id).await.state, ChallengeState::Pending, "the push still waits");

    // "Not me": the attempt is over for every factor.
    device.decide(&acct, &challenge, Decision::DenyFraud, None).await.unwrap();
    for (path, fields) in [
        ("/login/verify/email-instead", vec![]),
        ("/login/verify/code", vec![("code", code.as_str())]),
        ("/login/verify/resend", vec![]),
    ] {
        let page = relay.post(path, &fields).await;
        assert!(!page.text().contains("出金可能額"), "{path}: {}", page.text());
    }
    assert!(relay.get("/home").await.text().contains("口座番号"), "no session after \"not me\"");
    assert!(t.audit_events(&account).await.contains(&"login_attempt_ended".to_owned()));
    device.remove(&acct).await.unwrap();
}

/// On a login that is not risky, the e-mailed code may replace the push; the push the login
/// no longer waits for is withdrawn from the device (`cancelled`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_to_the_emailed_code_withdraws_the_push_from_the_device() {
    let t = TestServer::start().await;
    let account = t.customer("20000102").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    v.post("/logout", &[]).await;
    let page = v.login_password(&account, PASSWORD).await;
    assert!(page.body.contains("/login/verify/email-instead"), "offered when not risky");
    let number = page.attr("data-number").expect("the push's number");
    let challenge = device.pending(&acct).await.unwrap().remove(0).challenge;
    let page = v.post("/login/verify/email-instead", &[]).await;
    assert!(page.text().contains("ワンタイム認証コード"), "{}", page.text());
    assert_eq!(t.status(&challenge.id).await.state, ChallengeState::Cancelled);
    assert!(device.pending(&acct).await.unwrap().is_empty(), "withdrawn from the device");
    let err = device.decide(&acct, &challenge, Decision::Approve, Some(&number)).await.unwrap_err();
    assert_eq!(err.code(), "challenge_not_pending", "{err}");
    let code = t.latest_email_code().await;
    assert!(v.post("/login/verify/code", &[("code", &code)]).await.text().contains("出金可能額"));
    device.remove(&acct).await.unwrap();
}

/// Offline codes typed at the push step (no e-mailed code outstanding) count toward the lock
/// like every other wrong factor: they cannot be guessed without limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_codes_guessed_at_the_push_step_count_toward_the_lock() {
    let t = TestServer::start().await;
    let account = t.customer("20000103").await;
    let mut home = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut home, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    let mut relay = Visitor::new(&t.site_origin, HOME_IP);
    relay.login_password(&account, PASSWORD).await;
    let code = t.latest_email_code().await;
    relay.post("/login/verify/code", &[("code", &code)]).await;
    let right = device.offline_code(&acct).await.unwrap().code;
    let wrong: String = right.chars().map(|c| if c == '1' { '2' } else { '1' }).collect();
    let max = inkan_site::Limits::default().max_failed_logins;
    for i in 1..max {
        let page = relay.post("/login/verify/code", &[("code", &wrong)]).await;
        assert!(page.text().contains("コードが正しくありません"), "guess {i}: {}", page.text());
    }
    let page = relay.post("/login/verify/code", &[("code", &wrong)]).await;
    assert!(page.text().contains("ロック"), "the last guess locks: {}", page.text());
    // Locked: even the right offline code no longer opens anything.
    let page = relay.post("/login/verify/code", &[("code", &right)]).await;
    assert!(!page.text().contains("出金可能額"), "{}", page.text());
    let events = t.audit_events(&account).await;
    assert_eq!(events.iter().filter(|e| *e == "login_code_wrong").count(), max as usize, "{events:?}");
    assert!(events.contains(&"account_locked".to_owned()));
    device.remove(&acct).await.unwrap();
}

/// Before any factor is proven, a locked account answers exactly as an unknown account or a
/// wrong password does: typing account numbers tells nobody which exist or are locked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_account_looks_like_any_other_until_the_password_is_right() {
    let t = TestServer::start().await;
    let account = t.customer("20000104").await;
    let max = inkan_site::Limits::default().max_failed_logins;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    for _ in 0..max {
        v.login_password(&account, "Wrong-pass-0").await;
    }
    t.mail_with("Account locked").await;
    let error_of = |p: &Page| {
        let text = p.text();
        (p.status, text.contains("口座番号またはパスワードが正しくありません"), text.contains("ロック"))
    };
    let locked_wrong = v.login_password(&account, "Wrong-pass-0").await;
    let unknown = v.login_password("29999999", "Wrong-pass-0").await;
    let known_wrong = v.login_password(&t.customer("20000105").await, "Wrong-pass-0").await;
    assert_eq!(error_of(&locked_wrong), error_of(&unknown));
    assert_eq!(error_of(&locked_wrong), error_of(&known_wrong));
    assert_eq!(error_of(&unknown), (200, true, false));
    // Only the right password learns that the account is locked.
    assert!(v.login_password(&account, PASSWORD).await.text().contains("ロックしています"));
}

/// The language switch goes back only to a path of this site: tabs, CR/LF, backslashes and
/// protocol-relative tricks all land on `/`, and none of them breaks the answer.
#[tokio::test]
async fn the_language_switch_redirects_only_within_the_site() {
    let t = TestServer::start().await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    for back in [
        "%2F%09%2Fevil.example",
        "/%09/evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "%5C%5Cevil.example",
        "https://evil.example/",
        "/%0d%0aSet-Cookie:%20x=1",
        "/%0a",
        "%20/home",
    ] {
        let page = v.get_once(&format!("/lang/en?back={back}")).await;
        assert_eq!((page.status, page.location.as_deref()), (303, Some("/")), "back={back}");
    }
    let page = v.get_once("/lang/ja?back=/settings%3Fm%3Dpassword").await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/settings?m=password")));
}

/// One rule for every security change: adding or removing a device or a passkey and changing
/// the authentication e-mail need a login at most `fresh_login_secs` old. A session kept
/// alive for longer by the 180-minute rule is refused (403) and nothing is issued or changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_changes_need_a_fresh_login() {
    let t = TestServer::start().await;
    let account = t.customer("20000106").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    let fresh = inkan_site::Limits::default().fresh_login_secs;
    t.clock.advance(fresh + MINUTE);
    assert!(v.get("/home").await.text().contains("出金可能額"), "the session itself is alive");
    let page = v.get_once("/settings/authenticators/new").await;
    assert_eq!(page.status, 403);
    assert!(!page.body.contains("inkan://enroll"), "no ticket is issued");
    assert!(page.text().contains("ログインから10分以内"), "{}", page.text());
    let revoke = format!("/settings/authenticators/{}/revoke", acct.device_id);
    assert_eq!(v.post_once(&revoke, &[("confirm", "1")]).await.status, 403);
    device.pending(&acct).await.expect("the device stays enrolled");
    assert_eq!(v.post_once("/settings/passkeys/some-id/remove", &[("confirm", "1")]).await.status, 403);
    let email = [
        ("current_email", format!("taro.{account}@example.com")),
        ("new_email", "x@example.org".into()),
        ("password", PASSWORD.into()),
    ];
    let email: Vec<(&str, &str)> = email.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(v.post_once("/settings/email", &email).await.status, 403);
    // Logging in again makes the same requests work.
    v.post("/logout", &[]).await;
    let page = v.login_password(&account, PASSWORD).await;
    let number = page.attr("data-number").expect("the push");
    approve_on_device(&device, &acct, &number).await;
    v.get("/login/verify").await;
    assert!(v.get("/settings/authenticators/new").await.body.contains("inkan://enroll"));
    assert!(v.post("/settings/email", &email).await.text().contains("認証メールアドレスを変更しました"));
    device.remove(&acct).await.unwrap();
}

/// A password change ends every other session of the account (whoever else was logged in,
/// perhaps with the old password); the session that changed it stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_the_other_sessions() {
    let t = TestServer::start().await;
    let account = t.customer("20000107").await;
    let mut mine = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut mine, &account).await;
    let mut other = Visitor::new(&t.site_origin, "192.0.2.50");
    login_with_email_code(&t, &mut other, &account).await;
    let new = "Fresh-pass-2026";
    let page = mine.post("/settings/password", &[("current", PASSWORD), ("new", new), ("confirm", new)]).await;
    assert!(page.text().contains("パスワードを変更しました"), "{}", page.text());
    assert_eq!(other.get_once("/home").await.status, 303, "the other session ended");
    assert!(mine.get("/home").await.text().contains("出金可能額"), "this one stays");
    let rows = t.audit_rows(&account).await;
    assert_eq!(rows.iter().find(|r| r["event"] == "password_changed").unwrap()["detail"]["other_sessions_ended"], 1);
}

/// Revoking another customer's device through the site is refused (404) and changes nothing:
/// that device's session still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_another_customers_device_through_the_site_changes_nothing() {
    let t = TestServer::start().await;
    let mine = t.customer("20000108").await;
    let theirs = t.customer("20000109").await;
    let (their_device, their_acct) = t.enrolled_device(platform_keys(), &theirs).await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &mine).await;
    let page =
        v.post_once(&format!("/settings/authenticators/{}/revoke", their_acct.device_id), &[("confirm", "1")]).await;
    assert_eq!(page.status, 404);
    their_device.pending(&their_acct).await.expect("their device's session still works");
    assert!(t.devices(&theirs).await[0].revoked_at.is_none());
    their_device.remove(&their_acct).await.unwrap();
}

/// A withdrawal request is recorded with its audit row before its push is made; when the push
/// cannot be made (pushes blocked after "not me"), the recorded request is refused with the
/// reason, no money moves, and no withdrawal exists without its record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_whose_push_cannot_be_made_is_recorded_and_refused() {
    let t = TestServer::start().await;
    let account = t.customer("20000110").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    // "Not me" on some earlier push blocks further pushes.
    t.challenge(&account, inkan_e2e::login(), false).await;
    let c = device.pending(&acct).await.unwrap().remove(0).challenge;
    device.decide(&acct, &c, Decision::DenyFraud, None).await.unwrap();
    let destination = v.get("/withdraw").await.attr("option value").expect("a destination");
    let page = v
        .post(
            "/withdraw",
            &[("amount", "50000"), ("destination", &destination), ("withdrawal_password", WITHDRAWAL_PASSWORD)],
        )
        .await;
    assert!(page.text().contains("「心当たりがない」と報告されたため"), "{}", page.text());
    assert!(v.get("/home").await.text().contains("3,000,000円"), "no money moved");
    let rows = t.audit_rows(&account).await;
    let requested = rows.iter().find(|r| r["event"] == "withdrawal_requested").expect("the request is recorded");
    let refused = rows.iter().find(|r| r["event"] == "withdrawal_refused").expect("and refused");
    assert_eq!(requested["detail"]["withdrawal_id"], refused["detail"]["withdrawal_id"]);
    assert_eq!(refused["detail"]["reason"], "push_blocked");
    device.remove(&acct).await.unwrap();
}

/// The risk codes of each password step, oldest first.
async fn risk_codes(t: &TestServer, account: &str) -> Vec<serde_json::Value> {
    let rows = t.audit_rows(account).await;
    // The audit log lists the newest first.
    rows.iter().rev().filter(|r| r["event"] == "login_password_ok").map(|r| r["detail"]["risk"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_from_a_new_country_or_a_hosting_network_steps_up_and_names_the_place() {
    let t = TestServer::start().await;
    let account = t.customer("20000040").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    login_with_email_code(&t, &mut v, &account).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    v.post("/logout", &[]).await;
    t.clock.advance(48 * HOUR); // long enough to have flown anywhere

    // The same browser from London: a new country (and network): the e-mailed code as well.
    v.from_ip = LONDON_IP.into();
    let page = v.login_password(&account, PASSWORD).await;
    assert!(page.text().contains("いつもと異なる環境"), "{}", page.text());
    let code = t.latest_email_code().await;
    let page = v.post("/login/verify/code", &[("code", &code)]).await;
    let number = page.attr("data-number").expect("then the push");
    let ChallengeDetails::Login(ctx) = approve_on_device(&device, &acct, &number).await else { panic!("a login") };
    assert_eq!(ctx.place, "イギリス / United Kingdom", "the device names the country abroad in both languages");
    assert!(v.get("/login/verify").await.text().contains("出金可能額"));
    // The login notice names it in each language's section.
    let (_, _, body) = t.mail_matching(|m| m.1.contains("Login notice") && m.2.contains("イギリス")).await;
    assert!(body.contains("場所(目安): イギリス\n"), "{body}");
    assert!(body.contains("Place (approximate): United Kingdom\n"), "{body}");
    // So does the customer's history, in the page's language.
    let activity = v.get("/activity").await.text();
    assert!(activity.contains("place: イギリス"), "{activity}");
    assert!(!activity.contains("United Kingdom"), "one language per page: {activity}");
    v.get("/lang/en").await;
    let activity = v.get("/activity").await.text();
    assert!(activity.contains("place: United Kingdom"), "{activity}");
    v.get("/lang/ja").await;
    v.post("/logout", &[]).await;

    // Once logged in from there, the country is the customer's: the push alone.
    t.clock.advance(HOUR);
    let page = v.login_password(&account, PASSWORD).await;
    let number = page.attr("data-number").expect("the push alone");
    assert!(!page.text().contains("いつもと異なる環境"), "{}", page.text());
    approve_on_device(&device, &acct, &number).await;
    v.post("/logout", &[]).await;

    // A data centre's network (a relay on a rented server): stepped up.
    v.from_ip = HOSTING_IP.into();
    let page = v.login_password(&account, PASSWORD).await;
    assert!(page.text().contains("いつもと異なる環境"), "{}", page.text());

    let risk = risk_codes(&t, &account).await;
    let json = |codes: &[&str]| serde_json::json!(codes);
    assert_eq!(risk[0], json(&["unknown_browser", "new_network"]), "Japan is a home country");
    assert_eq!(risk[1], json(&["new_network", "new_country"]));
    assert_eq!(risk[2], json(&[]));
    assert_eq!(risk[3], json(&["new_network", "hosting_network"]));
    let rows = t.audit_rows(&account).await;
    let london = rows.iter().rev().filter(|r| r["event"] == "login_password_ok").nth(1).unwrap();
    assert_eq!(london["detail"]["country"], "GB");
    assert_eq!(london["detail"]["asn"], serde_json::Value::Null);
    let hosting = rows.iter().find(|r| r["event"] == "login_password_ok").unwrap(); // the newest
    assert_eq!(hosting["detail"]["asn"], 15169);
    assert_eq!(hosting["detail"]["place"], serde_json::json!({"ja": "不明", "en": "Unknown"}));
    assert_eq!(london["detail"]["place"], serde_json::json!({"ja": "イギリス", "en": "United Kingdom"}));
    device.remove(&acct).await.unwrap();
}

/// Impossible travel through the site, with the clock in hand: Tokyo, then London (about
/// 9,450 km once both accuracy radii are off) after each interval; at 1,000 km/h the line is
/// at about 9.45 hours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_travel_is_caught_at_its_threshold() {
    let t = TestServer::start().await;
    let cases: &[(&str, i64, bool)] = &[
        ("20000041", HOUR, true),
        ("20000042", 9 * HOUR, true),
        ("20000043", 10 * HOUR, false),
        ("20000044", 48 * HOUR, false),
    ];
    for (account, after, impossible) in cases {
        let account = t.customer(account).await;
        let mut v = Visitor::new(&t.site_origin, HOME_IP);
        login_with_email_code(&t, &mut v, &account).await;
        v.post("/logout", &[]).await;
        t.clock.advance(*after);
        v.from_ip = LONDON_IP.into();
        login_with_email_code(&t, &mut v, &account).await;
        let risk = risk_codes(&t, &account).await;
        let flagged = risk[1].as_array().unwrap().iter().any(|c| c == "impossible_travel");
        assert_eq!(flagged, *impossible, "London {after} s after Tokyo: {risk:?}");
        assert!(risk[1].as_array().unwrap().iter().any(|c| c == "new_country"));
    }
}
