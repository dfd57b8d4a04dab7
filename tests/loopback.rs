//! Same-device approval over the loopback port (inkan-core's `loopback`), against the real
//! server and site: only a request whose `Origin` is exactly the enrolled server's origin is
//! taken; look-alike origins, a missing `Origin`, malformed or oversized requests and replays
//! are refused, and leave the login waiting.

use std::sync::Arc;

use inkan_core::loopback::{self, ApproveAtOnce};
use inkan_e2e::site::{PASSWORD, Visitor};
use inkan_e2e::{TestServer, platform_keys};
use inkan_protocol::ChallengeState;
use serde_json::{Value, json};

const HOME_IP: &str = "203.0.113.10";

/// POSTs to the loopback endpoint as a page from `origin` would (None: no Origin header).
async fn ask(port: u16, method: reqwest::Method, origin: Option<&str>, body: String) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://127.0.0.1:{port}{}", loopback::APPROVE_PATH))
        .header("content-type", "application/json")
        .body(body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let resp = req.send().await.expect("loopback answers");
    let status = resp.status().as_u16();
    let cors = resp.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    (status, cors, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_enrolled_origin_gets_its_login_approved_once() {
    let t = TestServer::start_localhost().await;
    let account = t.customer("50000001").await;
    let (device, _acct) = t.enrolled_device(platform_keys(), &account).await;
    let listener = loopback::bind(0).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(loopback::serve(listener, Arc::new(device), Arc::new(ApproveAtOnce)));

    // Enrolled and known here: the password, then the push page with its number and button.
    let mut v = Visitor::new(&t.site_origin, HOME_IP);
    let page = v.login_password(&account, PASSWORD).await;
    let page = if page.text().contains("ワンタイム認証コード") {
        v.post("/login/verify/code", &[("code", &t.latest_email_code().await)]).await
    } else {
        page
    };
    let challenge = page.attr("data-challenge").expect("the page offers same-device approval");
    let number = page.attr("data-number").expect("a number");
    assert_eq!(
        page.attr("data-loopback").unwrap(),
        format!("http://127.0.0.1:{}/v1/approve", inkan_protocol::DEFAULT_LOOPBACK_PORT)
    );
    let body = json!({"challenge_id": challenge, "number": number}).to_string();

    for fake in [
        "https://inkan-shoken.example",
        &format!("http://127.0.0.1:{}", t.site_addr.port()), // the same server under another origin
        &format!("http://localhost:{}", t.site_addr.port() + 1), // another port
        &format!("{}.evil.example", t.site_origin),          // the real name as a prefix
        "null",                                              // sandboxed or file pages
    ] {
        let (status, cors, answer) = ask(port, reqwest::Method::POST, Some(fake), body.clone()).await;
        assert_eq!((status, answer["error"].as_str()), (403, Some("origin_not_enrolled")), "{fake}");
        assert_eq!(cors, None, "{fake}: the page may not even read the refusal");
    }
    let (status, _, answer) = ask(port, reqwest::Method::POST, None, body.clone()).await;
    assert_eq!((status, answer["error"].as_str()), (403, Some("origin_missing")));
    let (status, _, answer) = ask(port, reqwest::Method::GET, Some(&t.site_origin), String::new()).await;
    assert_eq!((status, answer["error"].as_str()), (405, Some("method_not_allowed")));
    let (status, _, answer) = ask(port, reqwest::Method::POST, Some(&t.site_origin), "{not json".into()).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("malformed_request")));
    let (status, _, _) = ask(port, reqwest::Method::POST, Some(&t.site_origin), "x".repeat(4096)).await;
    assert_eq!(status, 413);
    let other = json!({"challenge_id": "ch_unknown", "number": number}).to_string();
    let (status, _, answer) = ask(port, reqwest::Method::POST, Some(&t.site_origin), other).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("challenge_not_pending")));
    assert_eq!(t.status(&challenge).await.state, ChallengeState::Pending, "nothing above touched the login");

    // The browser's preflight, then the real page's request.
    let (status, cors, _) = ask(port, reqwest::Method::OPTIONS, Some(&t.site_origin), String::new()).await;
    assert_eq!((status, cors.as_deref()), (204, Some(t.site_origin.as_str())));
    let (status, cors, answer) = ask(port, reqwest::Method::POST, Some(&t.site_origin), body.clone()).await;
    assert_eq!((status, answer["state"].as_str()), (200, Some("approved")), "{answer}");
    assert_eq!(cors.as_deref(), Some(t.site_origin.as_str()));
    let home = v.get("/login/verify").await;
    assert!(home.text().contains("出金可能額"), "{}", home.text());

    // The same request again: the challenge is decided; nothing is approved twice.
    let (status, _, answer) = ask(port, reqwest::Method::POST, Some(&t.site_origin), body).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("challenge_not_pending")));
}
