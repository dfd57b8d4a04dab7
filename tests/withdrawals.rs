//! Withdrawals under the 2025 rules: a passkey assertion bound to this withdrawal (amount and
//! destination, single use) first, then the push that shows and signs amount and masked
//! destination; a destination changed in between voids it; the push-only interim path only
//! where the deployment allows it, and said plainly. Core passkeys (real keychain) against the
//! site's relying party, the core device for the push.

use inkan_core::{Account, Authenticator, PasskeyStore, Passkeys};
use inkan_e2e::site::{PASSWORD, Page, Visitor, WITHDRAWAL_PASSWORD};
use inkan_e2e::{TestServer, platform_keys};
use inkan_kit::with_db;
use inkan_protocol::{ChallengeDetails, ChallengeState, Decision};
use serde_json::{Value, json};
use url::Url;

const HOME_IP: &str = "203.0.113.10";

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A customer logged in (e-mailed code), with a passkey in the core and an enrolled device.
async fn ready(t: &TestServer, account: &str) -> (Visitor, Passkeys, Authenticator, Account) {
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    v.login_password(account, PASSWORD).await;
    v.post("/login/verify/code", &[("code", &t.latest_email_code().await)]).await;
    let dir = t.dir.path().join(format!("pk-{account}"));
    std::fs::create_dir_all(&dir).unwrap();
    let pk = Passkeys::new(PasskeyStore::new(&dir, platform_keys()));
    let start = json_of(&v.post_once("/settings/passkeys/register/start", &[]).await.body);
    let created = pk.register(&Url::parse(&t.site_origin).unwrap(), start["options"].clone()).await.unwrap();
    let done = v
        .post_once(
            "/settings/passkeys/register/finish",
            &[
                ("ceremony", start["ceremony"].as_str().unwrap()),
                ("name", "laptop"),
                ("credential", &created.to_string()),
            ],
        )
        .await;
    assert_eq!(json_of(&done.body)["ok"], true, "{}", done.body);
    let (device, acct) = t.enrolled_device(platform_keys(), account).await;
    (v, pk, device, acct)
}

/// Asks for a withdrawal of `amount` to the first destination; the page it lands on.
async fn request(v: &mut Visitor, amount: &str) -> Page {
    let form = v.get("/withdraw").await;
    let at = form.body.find("option value=\"").unwrap_or_else(|| panic!("a destination: {}", form.text()))
        + "option value=\"".len();
    let dest = form.body[at..at + form.body[at..].find('"').unwrap()].to_owned();
    v.post("/withdraw", &[("amount", amount), ("destination", &dest), ("withdrawal_password", WITHDRAWAL_PASSWORD)])
        .await
}

/// The passkey step of the withdrawal on `page`, signed by `pk` for `origin`.
async fn confirm_with_passkey(v: &mut Visitor, pk: &Passkeys, page: &Page, origin: &str) -> Result<Value, String> {
    let start_url = page.attr("data-start-url").expect("the page asks for the passkey");
    let finish_url = page.attr("data-finish-url").unwrap();
    let start = json_of(&v.post_once(&start_url, &[]).await.body);
    let assertion = pk
        .authenticate(&Url::parse(origin).unwrap(), start["options"].clone())
        .await
        .map_err(|e| e.code().to_owned())?;
    let done = v
        .post_once(
            &finish_url,
            &[("ceremony", start["ceremony"].as_str().unwrap()), ("credential", &assertion.to_string())],
        )
        .await;
    Ok(json_of(&done.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_then_push_both_bound_to_amount_and_destination() {
    let t = TestServer::start_localhost().await;
    let account = t.customer("60000001").await;
    let (mut v, pk, device, acct) = ready(&t, &account).await;

    // Typed as a Japanese input method gives it: full-width digits and comma.
    let page = request(&mut v, "２５０，０００").await;
    assert!(page.text().contains("パスキーで確認"), "{}", page.text());
    assert!(device.pending(&acct).await.unwrap().is_empty(), "no push before the passkey");

    // From a look-alike origin the passkey step fails at the client; nothing moves.
    let e = confirm_with_passkey(&mut v, &pk, &page, "https://inkan-shoken.example").await.unwrap_err();
    assert_eq!(e, "passkey_wrong_origin");
    assert!(device.pending(&acct).await.unwrap().is_empty());

    let done = confirm_with_passkey(&mut v, &pk, &page, &t.site_origin).await.unwrap();
    assert_eq!(done["ok"], true, "{done}");
    let page = v.get(done["next"].as_str().unwrap()).await;
    let number = page.attr("data-number").expect("then the push, with a number");
    let pending = device.pending(&acct).await.unwrap();
    let ChallengeDetails::Withdrawal(w) = &pending[0].challenge.details else { panic!("a withdrawal") };
    assert_eq!(w.amount, 250_000);
    assert!(page.text().contains(w.account_masked.as_str()), "the page and the app show the same masked destination");
    let outcome = device.decide(&acct, &pending[0].challenge, Decision::Approve, Some(&number)).await.unwrap();
    assert_eq!(outcome.state, ChallengeState::Approved);
    let page = v.get(done["next"].as_str().unwrap()).await;
    assert!(page.text().contains("出金を受け付けました"), "{}", page.text());
    let events = t.audit_events(&account).await;
    assert!(events.contains(&"withdrawal_passkey_confirmed".to_owned()), "{events:?}");
    assert!(events.contains(&"withdrawal_completed".to_owned()), "{events:?}");
}

/// Plays an insider (or a compromised back office) changing the destination's account number.
async fn change_destination_behind_the_site(t: &TestServer, account: &str, number: &str) {
    with_db!(t.site_store().db(), |w, r, pg| sqlx::query("UPDATE bank_accounts SET number = $1 WHERE account_id = $2")
        .bind(number)
        .bind(account)
        .execute(w)
        .await
        .map(|_| ())
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_changed_between_page_and_push_is_rejected() {
    let t = TestServer::start_localhost().await;
    let account = t.customer("60000002").await;
    let (mut v, pk, device, acct) = ready(&t, &account).await;

    // Changed after the passkey, before the push is approved: the device shows (and signs) the
    // destination it was sent; the site sees the change and refuses.
    let page = request(&mut v, "10000").await;
    let done = confirm_with_passkey(&mut v, &pk, &page, &t.site_origin).await.unwrap();
    let page = v.get(done["next"].as_str().unwrap()).await;
    let number = page.attr("data-number").unwrap();
    change_destination_behind_the_site(&t, &account, "9999999").await;
    let pending = device.pending(&acct).await.unwrap();
    let ChallengeDetails::Withdrawal(w) = &pending[0].challenge.details else { panic!("a withdrawal") };
    assert!(page.text().contains(w.account_masked.as_str()), "the app shows the destination it signs");
    assert!(!w.account_masked.ends_with("9999"), "not the changed one");
    device.decide(&acct, &pending[0].challenge, Decision::Approve, Some(&number)).await.unwrap();
    let page = v.get(done["next"].as_str().unwrap()).await;
    assert!(page.text().contains("取り消されました"), "{}", page.text());
    let rows = t.audit_rows(&account).await;
    let refused = rows.iter().find(|r| r["event"] == "withdrawal_refused").expect("refused");
    assert!(refused["detail"].to_string().contains("destination_changed"), "{refused}");

    // Changed between the page and the passkey: the passkey step itself is refused.
    let page = request(&mut v, "10000").await;
    change_destination_behind_the_site(&t, &account, "1111111").await;
    let done = confirm_with_passkey(&mut v, &pk, &page, &t.site_origin).await.unwrap();
    assert_eq!(done["error"], "withdrawal_changed", "{done}");
    assert!(device.pending(&acct).await.unwrap().is_empty(), "no push for a changed withdrawal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_only_withdrawals_follow_the_deployment_setting_and_say_so() {
    // Allowed (the interim path): a customer without a passkey withdraws with the push, and
    // the page says this is the transition-period path.
    let t = TestServer::start_localhost().await;
    let account = t.customer("60000003").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    v.login_password(&account, PASSWORD).await;
    v.post("/login/verify/code", &[("code", &t.latest_email_code().await)]).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    let page = request(&mut v, "5000").await;
    assert!(page.text().contains("移行期間"), "{}", page.text());
    // A caution, not styled as a success.
    assert!(page.body.contains(r#"<p class="warning" role="note">パスキーが未登録"#), "{}", page.body);
    assert!(!page.body.contains(r#"<p class="notice" role="status">パスキーが未登録"#));
    assert_eq!(device.pending(&acct).await.unwrap().len(), 1);

    // Forbidden: refused before anything is pushed.
    let t = TestServer::start_site_with(|l| l.withdrawal_push_only_allowed = false).await;
    let account = t.customer("60000004").await;
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    v.login_password(&account, PASSWORD).await;
    v.post("/login/verify/code", &[("code", &t.latest_email_code().await)]).await;
    let (device, acct) = t.enrolled_device(platform_keys(), &account).await;
    let page = request(&mut v, "5000").await;
    assert!(page.text().contains("パスキーによる確認が必要です"), "{}", page.text());
    assert!(device.pending(&acct).await.unwrap().is_empty());
    assert!(t.audit_events(&account).await.contains(&"withdrawal_refused_no_passkey".to_owned()));
    let _ = json!({});
}

/// Enters a destination change; the page after the form.
async fn enter_change(v: &mut Visitor, holder: &str, password: &str) -> Page {
    v.post(
        "/settings/destination",
        &[
            ("bank", "三井住友銀行 / SMBC"),
            ("branch", "新宿支店 / Shinjuku"),
            ("number", "7654321"),
            ("holder", holder),
            ("withdrawal_password", password),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_change_needs_password_and_passkey_waits_mails_and_is_masked() {
    let t = TestServer::start_localhost().await;
    let account = t.customer("60000005").await;
    let (mut v, pk, device, acct) = ready(&t, &account).await;

    // Bad entries first: clear errors, nothing changes.
    assert!(enter_change(&mut v, "Yamada Taro", WITHDRAWAL_PASSWORD).await.text().contains("全角カタカナ"));
    assert!(enter_change(&mut v, "ヤマダ タロウ", "Wrong-pass-0").await.text().contains("出金パスワード"));
    assert!(t.audit_events(&account).await.contains(&"destination_change_password_wrong".to_owned()));

    let page = enter_change(&mut v, "ヤマダ タロウ", WITHDRAWAL_PASSWORD).await;
    assert!(page.text().contains("****4321"), "masked after entry: {}", page.text());
    assert!(!page.body.contains("7654321"), "the full number is not shown again");
    // A look-alike origin fails at the passkey step.
    let e = confirm_with_passkey(&mut v, &pk, &page, "https://inkan-shoken.example").await.unwrap_err();
    assert_eq!(e, "passkey_wrong_origin");
    let done = confirm_with_passkey(&mut v, &pk, &page, &t.site_origin).await.unwrap();
    assert_eq!(done["ok"], true, "{done}");
    let (_, subject, body) = t.mail_with("Withdrawal account changed").await;
    assert!(subject.contains("出金先口座変更"));
    assert!(body.contains("****4321") && !body.contains("7654321"), "{body}");
    assert!(t.audit_events(&account).await.contains(&"destination_changed".to_owned()));
    let settings = v.get("/settings").await;
    assert!(settings.text().contains("****4321") && !settings.body.contains("7654321"));

    // The waiting period: no money to the new destination yet.
    let page = request(&mut v, "1000").await;
    assert!(page.text().contains("待機期間"), "{}", page.text());
    t.clock.advance(inkan_site::Limits::default().destination_wait_secs + 1);
    // (the session's 180 minutes are long gone: log in again)
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    let mut page = v.login_password(&account, PASSWORD).await;
    if page.text().contains("ワンタイム認証コード") {
        page = v.post("/login/verify/code", &[("code", &t.latest_email_code().await)]).await;
    }
    if let Some(number) = page.attr("data-number") {
        let pending = device.pending(&acct).await.unwrap();
        device.decide(&acct, &pending[0].challenge, Decision::Approve, Some(&number)).await.unwrap();
        v.get("/login/verify").await;
    }
    let page = request(&mut v, "1000").await;
    assert!(page.attr("data-start-url").is_some(), "now the withdrawal goes ahead: {}", page.text());
    let _ = json!({});
}
