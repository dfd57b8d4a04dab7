//! A client of the brokerage's web site (not its device API), for the CLI's passkey commands:
//! it keeps the site's cookies, sends each form's CSRF token and this site's `Origin`, and
//! walks the login pages (password, e-mailed code, push with the page's number) so that QA can
//! register and use passkeys without a browser.
//!
//! The origin it sends is the origin it was opened for; the passkey client signs for that same
//! origin, so pointing it at a look-alike site fails at [`inkan_core::Passkeys`], not at the site.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use inkan_core::client::{CONNECT_TIMEOUT, REQUEST_TIMEOUT};
use inkan_core::{CoreError, CoreResult, Passkeys};

/// The CSRF cookie whose value each form sends back.
pub const CSRF_COOKIE: &str = "inkan_csrf";
/// The "known browser" cookie the site's risk check looks for; the CLI keeps it in the keychain.
pub const BROWSER_COOKIE: &str = "inkan_browser";
/// Longest this client waits for a push to be approved on another device.
pub const PUSH_WAIT: Duration = Duration::from_secs(120);

/// Where a login stands after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginStep {
    /// Logged in.
    Home,
    /// The site mailed a one-time code and waits for it.
    EmailCode,
    /// The site pushed the login to the customer's device; type `number` there.
    Push { number: Option<String> },
}

pub struct SiteClient {
    http: reqwest::Client,
    origin: Url,
    cookies: Mutex<HashMap<String, String>>,
}

struct Reply {
    status: u16,
    location: Option<String>,
    body: String,
}

/// Site codes for passkey refusals, kept as static codes (see [`CoreError::SiteRefused`]).
const SITE_CODES: [&str; 12] = [
    "passkeys_unavailable",
    "login_not_fresh",
    "too_many_passkeys",
    "busy",
    "ceremony_expired",
    "malformed_response",
    "passkey_rejected",
    "unknown_passkey",
    "passkey_suspended",
    "already_registered",
    "account_locked",
    "csrf_check_failed",
];

fn refused(code: &str, message: String) -> CoreError {
    let code = SITE_CODES.iter().find(|c| **c == code).copied().unwrap_or("site_refused");
    CoreError::SiteRefused { code, message }
}

/// The text of the page's first `role="alert"` paragraph (the site's error line).
fn alert_text(body: &str) -> Option<String> {
    let at = body.find("role=\"alert\"")?;
    let start = at + body[at..].find('>')? + 1;
    let end = start + body[start..].find("</")?;
    Some(body[start..end].trim().to_owned())
}

/// The value of the first `attr="…"` in the page.
fn attr(body: &str, attr: &str) -> Option<String> {
    let key = format!("{attr}=\"");
    let at = body.find(&key)? + key.len();
    Some(body[at..at + body[at..].find('"')?].to_owned())
}

impl SiteClient {
    /// A client for the site at `origin` (scheme, host and port).
    pub fn new(origin: &str) -> CoreResult<Self> {
        let origin = Url::parse(origin).map_err(|e| CoreError::PasskeyFailed(format!("site address: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("inkan-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CoreError::ServerUnreachable(e.to_string()))?;
        Ok(SiteClient { http, origin, cookies: Mutex::new(HashMap::new()) })
    }

    /// `https://host[:port]`, as browsers send it in `Origin`.
    pub fn origin(&self) -> String {
        self.origin.origin().ascii_serialization()
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().expect("lock").get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies.lock().expect("lock").insert(name.to_owned(), value.to_owned());
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> CoreResult<Reply> {
        let cookie = {
            let jar = self.cookies.lock().expect("lock");
            jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
        };
        let resp = req
            .header("cookie", cookie)
            .send()
            .await
            .map_err(|e| CoreError::ServerUnreachable(e.without_url().to_string()))?;
        for v in resp.headers().get_all("set-cookie") {
            let Ok(text) = v.to_str() else { continue };
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let Some((k, val)) = pair.split_once('=') else { continue };
            let mut jar = self.cookies.lock().expect("lock");
            if attrs.contains("Max-Age=0") {
                jar.remove(k.trim());
            } else {
                jar.insert(k.trim().to_owned(), val.trim().to_owned());
            }
        }
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        let body = resp.text().await.map_err(|e| CoreError::BadResponse(e.without_url().to_string()))?;
        Ok(Reply { status, location, body })
    }

    fn url(&self, path: &str) -> CoreResult<Url> {
        self.origin.join(path).map_err(|e| CoreError::BadResponse(format!("{path}: {e}")))
    }

    async fn get(&self, path: &str) -> CoreResult<Reply> {
        self.send(self.http.get(self.url(path)?)).await
    }

    /// Follows redirects on this site, keeping cookies; the last page and its path.
    async fn get_following(&self, mut path: String) -> CoreResult<(String, Reply)> {
        for _ in 0..10 {
            let reply = self.get(&path).await?;
            match reply.location.clone() {
                Some(to) if (300..400).contains(&reply.status) && to.starts_with('/') => path = to,
                _ => return Ok((path, reply)),
            }
        }
        Err(CoreError::BadResponse("the site redirects in a loop".into()))
    }

    async fn csrf(&self) -> CoreResult<String> {
        if self.cookie(CSRF_COOKIE).is_none() {
            self.get("/login").await?;
        }
        self.cookie(CSRF_COOKIE).ok_or_else(|| CoreError::BadResponse("the site set no CSRF cookie".into()))
    }

    /// POSTs a form the way the site's pages do: CSRF field, this site's `Origin`.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> CoreResult<Reply> {
        let csrf = self.csrf().await?;
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("csrf", &csrf);
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        let req = self
            .http
            .post(self.url(path)?)
            .header("origin", self.origin())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.finish());
        self.send(req).await
    }

    /// POSTs a form to a JSON endpoint: the answer, or the site's refusal as an error.
    async fn post_json(&self, path: &str, fields: &[(&str, &str)]) -> CoreResult<Value> {
        let reply = self.post(path, fields).await?;
        let value: Value = serde_json::from_str(&reply.body)
            .map_err(|_| CoreError::BadResponse(format!("{path} answered {} without JSON", reply.status)))?;
        if let Some(code) = value["error"].as_str() {
            return Err(refused(code, value["message"].as_str().unwrap_or(code).to_owned()));
        }
        Ok(value)
    }

    /// Where the login stands, from the page the site shows next.
    async fn classify(&self, reply: Reply) -> CoreResult<LoginStep> {
        let (path, page) = match reply.location {
            Some(to) if (300..400).contains(&reply.status) => self.get_following(to).await?,
            _ => ("/login".to_owned(), reply),
        };
        if path == "/home" && page.status == 200 {
            return Ok(LoginStep::Home);
        }
        if page.body.contains("action=\"/login/verify/code\"") {
            return Ok(LoginStep::EmailCode);
        }
        if page.body.contains("data-wait-url=\"/login/verify/status\"") {
            return Ok(LoginStep::Push { number: attr(&page.body, "data-number") });
        }
        let message = alert_text(&page.body).unwrap_or_else(|| format!("the site answered {} at {path}", page.status));
        Err(CoreError::SiteRefused { code: "site_refused", message })
    }

    /// The password step.
    pub async fn login_password(&self, account: &str, password: &str) -> CoreResult<LoginStep> {
        let reply = self.post("/login", &[("account", account), ("password", password)]).await?;
        self.classify(reply).await
    }

    /// The e-mailed one-time code (or the app's offline code).
    pub async fn email_code(&self, code: &str) -> CoreResult<LoginStep> {
        let reply = self.post("/login/verify/code", &[("code", code)]).await?;
        self.classify(reply).await
    }

    /// Waits (long polls) until the pushed login is decided, then where the login stands.
    pub async fn wait_push(&self) -> CoreResult<LoginStep> {
        let deadline = tokio::time::Instant::now() + PUSH_WAIT;
        while tokio::time::Instant::now() < deadline {
            let status = self.get("/login/verify/status").await?;
            let settled: Value = serde_json::from_str(&status.body).unwrap_or_default();
            if settled["settled"] == true {
                break;
            }
        }
        let page = self.get("/login/verify").await?;
        self.classify(page).await
    }

    /// Whether this client holds a live session.
    pub async fn logged_in(&self) -> CoreResult<bool> {
        Ok(self.get("/home").await?.status == 200)
    }

    /// Registers a passkey of `passkeys` for the logged-in customer; its credential id.
    pub async fn register_passkey(&self, passkeys: &Passkeys, name: &str) -> CoreResult<String> {
        let start = self.post_json("/settings/passkeys/register/start", &[]).await?;
        let created = passkeys.register(&self.origin, start["options"].clone()).await?;
        let ceremony = start["ceremony"].as_str().unwrap_or_default();
        let credential = created.to_string();
        self.post_json(
            "/settings/passkeys/register/finish",
            &[("ceremony", ceremony), ("name", name), ("credential", &credential)],
        )
        .await?;
        Ok(created["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Logs in with a passkey of `passkeys` alone; the credential id used.
    pub async fn login_with_passkey(&self, passkeys: &Passkeys) -> CoreResult<String> {
        let start = self.post_json("/login/passkey/start", &[]).await?;
        let asserted = passkeys.authenticate(&self.origin, start["options"].clone()).await?;
        let ceremony = start["ceremony"].as_str().unwrap_or_default();
        let credential = asserted.to_string();
        self.post_json("/login/passkey/finish", &[("ceremony", ceremony), ("credential", &credential)]).await?;
        Ok(asserted["id"].as_str().unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parts() {
        let page = r#"<p class="error" role="alert">口座番号またはパスワードが正しくありません。</p><strong data-number="42">42</strong>"#;
        assert_eq!(alert_text(page).as_deref(), Some("口座番号またはパスワードが正しくありません。"));
        assert_eq!(attr(page, "data-number").as_deref(), Some("42"));
        assert_eq!(attr(page, "data-missing"), None);
        assert!(matches!(
            refused("passkey_rejected", String::new()),
            CoreError::SiteRefused { code: "passkey_rejected", .. }
        ));
        assert!(matches!(refused("something_new", String::new()), CoreError::SiteRefused { code: "site_refused", .. }));
    }
}
