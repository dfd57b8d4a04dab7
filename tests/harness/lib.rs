//! The end-to-end test kit: starts the real verifier (`inkan-server`) and the real demo site
//! (`inkan-site`) on free loopback ports, each with its own fresh SQLite file, the site using
//! the verifier over HTTP and taking its signed webhook, and makes devices (`inkan-core` authenticators) and relying-party calls
//! against it, so each test reads like the story it checks.
//!
//! Devices use the real platform keychain ([`platform_keys`], the Secret Service under
//! `dbus-run-session` + `gnome-keyring-daemon`, started by `scripts/test`) unless a test
//! deliberately takes the in-memory store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use inkan_core::{
    Account, Authenticator, KeyStore, ManualClock, MemoryKeyStore, PlatformKeyStore, Profile, WatchEvent,
};
use inkan_protocol::{
    ChallengeCreated, ChallengeDetails, ChallengeStatus, CreateChallengeRequest, DeviceInfo, ErrorBody, LoginContext,
    TicketCreated, WithdrawalContext,
};
use inkan_server::{RunningServer, Settings};
use inkan_site::RunningSite;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The relying party's name the harness gives the verifier (what `--dev` gives it).
pub static DEMO_RP_NAME: std::sync::LazyLock<inkan_protocol::RpName> = std::sync::LazyLock::new(|| {
    inkan_protocol::RpName { ja: "いんかん証券".into(), en: "Inkan Securities".into() }
});

/// Longest a test waits for an event that should arrive in milliseconds.
pub const EVENT_WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub server: Option<RunningServer>,
    /// The demo site, its own service: it reaches the verifier at `origin` over HTTP.
    pub site: Option<RunningSite>,
    /// The verifier's origin (device and relying-party API).
    pub origin: String,
    /// The demo site's origin (the pages customers open).
    pub site_origin: String,
    /// Where the site listens.
    pub site_addr: std::net::SocketAddr,
    site_settings: inkan_site::Settings,
    pub clock: ManualClock,
    pub api_key: String,
    pub http: reqwest::Client,
    pub database_url: String,
    settings: Settings,
    pub dir: tempfile::TempDir,
    /// Where the server listens (the origin may name it `localhost`).
    pub addr: std::net::SocketAddr,
}

/// A binary of this workspace (`inkan-server`, `inkan-site`, `inkan`), in the target directory
/// the test executable runs from; tests that run the services as separate processes use it.
/// `cargo build --workspace --bins` (which `scripts/test` runs) builds them.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    let dir = exe.parent().and_then(std::path::Path::parent).expect("target/debug");
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing: build it first (cargo build --workspace --bins)", path.display());
    path
}

/// Binds `addr` again, waiting out the old listener's close.
async fn rebind(addr: std::net::SocketAddr) -> TcpListener {
    let mut tries = 0;
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(_) if tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("rebinding {addr}: {e}"),
        }
    }
}

/// The real platform keychain, checked with a write and a read so that a missing Secret
/// Service fails here with a clear message rather than deep inside a test.
pub fn platform_keys() -> Arc<dyn KeyStore> {
    let keys = PlatformKeyStore::open().unwrap_or_else(|e| panic!("{}", no_keychain(&e.to_string())));
    let probe = format!("inkan-test-probe-{}", inkan_server::random_token(9));
    keys.put(&probe, b"probe").unwrap_or_else(|e| panic!("{}", no_keychain(&e.to_string())));
    assert_eq!(keys.get(&probe).unwrap().as_deref().map(|v| v.as_slice()), Some(&b"probe"[..]));
    keys.delete(&probe).unwrap();
    Arc::new(keys)
}

fn no_keychain(e: &str) -> String {
    format!(
        "no usable Secret Service keychain ({e}). Run the suite through scripts/test, which starts dbus-run-session and an unlocked gnome-keyring-daemon."
    )
}

pub fn memory_keys() -> Arc<MemoryKeyStore> {
    Arc::new(MemoryKeyStore::new())
}

pub fn withdrawal(amount: u64) -> ChallengeDetails {
    ChallengeDetails::Withdrawal(WithdrawalContext {
        amount,
        currency: "JPY".into(),
        bank: "みずほ銀行 / Mizuho Bank".into(),
        branch: "渋谷支店 / Shibuya".into(),
        account_masked: "****5678".into(),
        requested_at: "2026-11-24T18:00:00+09:00".into(),
    })
}

pub fn login() -> ChallengeDetails {
    ChallengeDetails::Login(LoginContext {
        time: "2026-11-24T18:00:00+09:00".into(),
        ip: "203.0.113.7".into(),
        place: "東京都 / Tokyo".into(),
        browser: "Chrome 131 / Windows 11".into(),
    })
}

/// The MaxMind DB test databases that the PyPI package `maxminddb` ships
/// (`scripts/fetch-test-mmdb` fetches them once and prints where they are): real `.mmdb`
/// files with known addresses, e.g. 2001:218::/32 in Japan, 81.2.69.142 in London, and
/// 1.0.0.0/24 in AS15169 (Google).
pub fn test_mmdb_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/fetch-test-mmdb");
        let out = std::process::Command::new("bash").arg(&script).output().expect("run scripts/fetch-test-mmdb");
        assert!(out.status.success(), "scripts/fetch-test-mmdb failed: {}", String::from_utf8_lossy(&out.stderr));
        PathBuf::from(String::from_utf8(out.stdout).expect("a path").trim())
    })
    .clone()
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_named(None).await
    }

    /// A server whose public origin is `http://localhost:PORT`: WebAuthn needs a host name
    /// for the relying party, so passkey tests use this one.
    pub async fn start_localhost() -> TestServer {
        TestServer::start_named(Some("localhost")).await
    }

    async fn start_named(host: Option<&str>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let origin = match host {
            Some(host) => format!("http://{host}:{}", addr.port()),
            None => format!("http://{addr}"),
        };
        TestServer::boot(listener, origin, host, |_| {}, |_| {}).await
    }

    /// Starts the real verifier on `listener` (public origin `origin`) and the real site on
    /// another loopback port (named `site_host`, else its address), each with a fresh SQLite
    /// file: the verifier delivers its events to the site's webhook under a secret made here,
    /// and names the site's origin to the app for same-device approval. Site tests play
    /// visitors from other networks through X-Forwarded-For. Then `change` and `change_site`
    /// edit the settings.
    async fn boot(
        listener: TcpListener,
        origin: String,
        site_host: Option<&str>,
        change: impl FnOnce(&mut Settings),
        change_site: impl FnOnce(&mut inkan_site::Settings),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = verifier_database_url(dir.path()).await;
        let site_database_url = site_database_url(dir.path()).await;
        let addr = listener.local_addr().unwrap();
        let site_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let site_addr = site_listener.local_addr().unwrap();
        let site_origin = match site_host {
            Some(host) => format!("http://{host}:{}", site_addr.port()),
            None => format!("http://{site_addr}"),
        };
        let hook_url = format!("http://{site_addr}{}", inkan_site::webhook::PATH);
        let secret = inkan_server::random_token(32);
        let mut settings = Settings::for_tests(&origin, &database_url);
        settings.trust_x_forwarded_for = true;
        settings.rp_web_origin = Some(site_origin.clone());
        settings.rp_name = Some(DEMO_RP_NAME.clone());
        settings.webhook = Some(inkan_server::settings::WebhookSettings {
            url: hook_url.clone(),
            secret: inkan_server::settings::SecretString::new(secret.clone()),
        });
        // Events reach the site within a test's patience.
        settings.limits.webhook_retry_min_ms = 20;
        settings.limits.webhook_retry_max_secs = 1;
        settings.limits.webhook_poll_ms = 100;
        let mut site_settings = inkan_site::Settings::for_tests(
            &site_origin,
            &site_database_url,
            &format!("http://{addr}"),
            settings.rp_api_key.expose(),
            &secret,
        );
        let mmdb = test_mmdb_dir();
        site_settings.geo.city_db = Some(mmdb.join("GeoIP2-City-Test.mmdb"));
        site_settings.geo.asn_db = Some(mmdb.join("GeoLite2-ASN-Test.mmdb"));
        site_settings.trust_x_forwarded_for = true;
        change_site(&mut site_settings);
        change(&mut settings);
        if let Some(hook) = settings.webhook.as_mut().filter(|h| h.url == hook_url) {
            hook.secret = inkan_server::settings::SecretString::new(site_settings.webhook_secret.expose().to_owned());
        }
        // Start at the real time so that out-of-process devices (the CLI) agree with the server;
        // tests then move the clock by hand.
        let clock = ManualClock::new(inkan_core::Clock::now(&inkan_core::SystemClock));
        let server = inkan_server::start(settings.clone(), Arc::new(clock.clone()), Some(listener))
            .await
            .expect("server starts");
        let site = inkan_site::start(site_settings.clone(), Arc::new(clock.clone()), Some(site_listener))
            .await
            .expect("site starts");
        TestServer {
            server: Some(server),
            site: Some(site),
            origin,
            site_origin,
            site_addr,
            site_settings,
            clock,
            api_key: settings.rp_api_key.expose().to_owned(),
            http: reqwest::Client::new(),
            database_url,
            settings,
            dir,
            addr,
        }
    }

    /// A server that devices and relying parties reach through a [`LossyPath`] on another
    /// loopback port (its public origin is the path's), with changed limits.
    pub async fn start_behind_lossy_path(change: impl FnOnce(&mut inkan_server::Limits)) -> (TestServer, LossyPath) {
        let path_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let origin = format!("http://{}", path_listener.local_addr().unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let t = TestServer::boot(listener, origin, None, |s| change(&mut s.limits), |_| {}).await;
        let path = LossyPath::start(path_listener, t.addr);
        (t, path)
    }

    /// Same as [`TestServer::start`], with the settings as `change` leaves them.
    pub async fn start_configured(change: impl FnOnce(&mut Settings)) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        TestServer::boot(listener, origin, None, change, |_| {}).await
    }

    /// Same as [`TestServer::start`], with the site's settings as `change` leaves them (its
    /// webhook secret, if changed, is given to the verifier too).
    pub async fn start_site_configured(change: impl FnOnce(&mut inkan_site::Settings)) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        TestServer::boot(listener, origin, None, |_| {}, change).await
    }

    /// Same as [`TestServer::start_localhost`], with changed site limits.
    pub async fn start_site_with(change: impl FnOnce(&mut inkan_site::Limits)) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
        TestServer::boot(listener, origin, Some("localhost"), |_| {}, |s| change(&mut s.limits)).await
    }

    /// Same as [`TestServer::start`], with changed limits.
    pub async fn start_with(change: impl FnOnce(&mut inkan_server::Limits)) -> TestServer {
        let mut t = TestServer::start().await;
        t.server.take().unwrap().stop().await;
        change(&mut t.settings.limits);
        t.restart().await;
        t
    }

    /// The verifier settings the next [`TestServer::restart`] uses.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// The site settings the next [`TestServer::restart`] (or [`TestServer::restart_site`]) uses.
    pub fn site_settings_mut(&mut self) -> &mut inkan_site::Settings {
        &mut self.site_settings
    }

    /// Kills the verifier and the site as a crash would: connections drop, only committed
    /// state remains.
    pub fn kill(&mut self) {
        self.server.take().expect("server running").kill();
        self.kill_site();
    }

    /// Kills the site alone (the verifier keeps running and retries its webhook).
    pub fn kill_site(&mut self) {
        if let Some(site) = self.site.take() {
            site.kill();
        }
    }

    /// Starts the site again on the same port and database.
    pub async fn restart_site(&mut self) {
        let listener = rebind(self.site_addr).await;
        self.site = Some(
            inkan_site::start(self.site_settings.clone(), Arc::new(self.clock.clone()), Some(listener))
                .await
                .expect("site restarts"),
        );
    }

    /// Starts the verifier and the site again on the same ports and databases.
    pub async fn restart(&mut self) {
        self.restart_verifier().await;
        if self.site.is_none() {
            self.restart_site().await;
        }
    }

    /// Starts the verifier again on the same port and database.
    pub async fn restart_verifier(&mut self) {
        let listener = rebind(self.addr).await;
        self.server = Some(
            inkan_server::start(self.settings.clone(), Arc::new(self.clock.clone()), Some(listener))
                .await
                .expect("server restarts"),
        );
    }

    /// A new device with its own profile directory, sharing the server's clock.
    pub fn device(&self, keys: Arc<dyn KeyStore>) -> Authenticator {
        let profile_dir: PathBuf = self.dir.path().join(format!("device-{}", inkan_server::random_token(6)));
        Authenticator::new(Profile::open(profile_dir).unwrap(), keys, Arc::new(self.clock.clone())).unwrap()
    }

    /// A device enrolled for `account`.
    pub async fn enrolled_device(&self, keys: Arc<dyn KeyStore>, account: &str) -> (Authenticator, Account) {
        let device = self.device(keys);
        let ticket = self.ticket(account).await;
        let enrolled = device.enroll(&ticket.uri, "test device").await.expect("enrollment");
        (device, enrolled)
    }

    fn rp(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.bearer_auth(&self.api_key)
    }

    async fn rp_json<T: serde::de::DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, ErrorBody> {
        let resp = self.rp(req).send().await.expect("relying-party request");
        if resp.status().is_success() {
            Ok(resp.json().await.expect("json answer"))
        } else {
            Err(resp.json().await.expect("error body"))
        }
    }

    pub async fn ticket(&self, account: &str) -> TicketCreated {
        self.rp_json(
            self.http
                .post(format!("{}/v1/rp/enrollment-tickets", self.origin))
                .json(&serde_json::json!({"account_id": account})),
        )
        .await
        .expect("ticket")
    }

    pub async fn try_challenge(
        &self,
        account: &str,
        details: ChallengeDetails,
        number_match: bool,
    ) -> Result<ChallengeCreated, ErrorBody> {
        let req = CreateChallengeRequest { account_id: account.into(), details, number_match };
        self.rp_json(self.http.post(format!("{}/v1/rp/challenges", self.origin)).json(&req)).await
    }

    pub async fn challenge(&self, account: &str, details: ChallengeDetails, number_match: bool) -> ChallengeCreated {
        self.try_challenge(account, details, number_match).await.expect("challenge created")
    }

    pub async fn status(&self, id: &str) -> ChallengeStatus {
        self.rp_json(self.http.get(format!("{}/v1/rp/challenges/{id}", self.origin))).await.expect("status")
    }

    /// The relying party's long poll on a task of its own (started now, awaited later, as a
    /// relying party's page waits while the person decides).
    pub fn spawn_wait(&self, id: &str) -> tokio::task::JoinHandle<ChallengeStatus> {
        let (http, origin, key, id) = (self.http.clone(), self.origin.clone(), self.api_key.clone(), id.to_owned());
        tokio::spawn(async move {
            let res = http.get(format!("{origin}/v1/rp/challenges/{id}/wait?timeout=30")).bearer_auth(key).send();
            res.await.expect("wait").json::<ChallengeStatus>().await.expect("a status")
        })
    }

    /// The relying party's long poll: returns when the challenge is decided (or `secs` pass).
    pub async fn wait(&self, id: &str, secs: u64) -> ChallengeStatus {
        self.rp_json(self.http.get(format!("{}/v1/rp/challenges/{id}/wait?timeout={secs}", self.origin)))
            .await
            .expect("wait")
    }

    pub async fn devices(&self, account: &str) -> Vec<DeviceInfo> {
        self.rp_json(self.http.get(format!("{}/v1/rp/accounts/{account}/devices", self.origin))).await.expect("devices")
    }

    pub async fn revoke(&self, account: &str, device_id: &str) {
        let _: serde_json::Value = self
            .rp_json(self.http.post(format!("{}/v1/rp/accounts/{account}/devices/{device_id}/revoke", self.origin)))
            .await
            .expect("revoke");
    }

    pub async fn unblock(&self, account: &str) {
        let _: serde_json::Value = self
            .rp_json(self.http.post(format!("{}/v1/rp/accounts/{account}/unblock", self.origin)))
            .await
            .expect("unblock");
    }

    pub async fn push_state(&self, account: &str) -> inkan_protocol::AccountPushState {
        self.rp_json(self.http.get(format!("{}/v1/rp/accounts/{account}", self.origin))).await.expect("push state")
    }

    /// Asks the server whether `code` is a valid offline code for the account now.
    pub async fn verify_code(&self, account: &str, code: &str) -> bool {
        let answer: serde_json::Value = self
            .rp_json(
                self.http
                    .post(format!("{}/v1/rp/accounts/{account}/verify-code", self.origin))
                    .json(&serde_json::json!({"code": code})),
            )
            .await
            .expect("verify-code");
        answer["valid"].as_bool().expect("a boolean")
    }

    /// The account's audit rows (`at`, `event`, `device_id`, `challenge_id`, `detail`), newest
    /// first: the verifier's (read over its API) and the demo site's (its own database), merged
    /// by time, the site's first where both wrote in the same second.
    pub async fn audit_rows(&self, account: &str) -> Vec<serde_json::Value> {
        let verifier: Vec<serde_json::Value> = self
            .rp_json(self.http.get(format!("{}/v1/rp/accounts/{account}/audit", self.origin)))
            .await
            .expect("audit");
        let site: Vec<serde_json::Value> = self
            .site_store()
            .audit_for_account(account, 10_000)
            .await
            .expect("site audit")
            .into_iter()
            .map(|(at, event, device_id, challenge_id, detail)| {
                let detail: serde_json::Value = serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null);
                serde_json::json!({"at": at, "event": event, "device_id": device_id, "challenge_id": challenge_id, "detail": detail})
            })
            .collect();
        let (mut merged, mut a, mut b) = (Vec::new(), site.into_iter().peekable(), verifier.into_iter().peekable());
        loop {
            let take_site = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x["at"].as_i64() >= y["at"].as_i64(),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return merged,
            };
            merged.push(if take_site { a.next() } else { b.next() }.expect("peeked"));
        }
    }

    /// Audit event names for the account, oldest first.
    pub async fn audit_events(&self, account: &str) -> Vec<String> {
        self.audit_rows(account).await.iter().rev().map(|r| r["event"].as_str().unwrap().to_owned()).collect()
    }

    pub fn service(&self) -> &inkan_server::SharedService {
        &self.server.as_ref().expect("server running").service
    }

    /// The demo site's own database.
    pub fn site_store(&self) -> &inkan_site::db::SiteStore {
        &self.site.as_ref().expect("site running").site.store
    }

    /// A site customer with known passwords; returns the account number.
    pub async fn customer(&self, account: &str) -> String {
        let spec = inkan_site::seed::CustomerSpec {
            account_id: account.into(),
            name: "山田 太郎 / Taro Yamada".into(),
            email: format!("taro.{account}@example.com"),
            phone: "090-1234-5678".into(),
            password: Some(site::PASSWORD.into()),
            withdrawal_password: Some(site::WITHDRAWAL_PASSWORD.into()),
        };
        inkan_site::seed::create_customer(self.site_store(), spec, inkan_core::Clock::now(&self.clock))
            .await
            .expect("customer");
        account.to_owned()
    }

    /// Mail in the development outbox, newest first: (to, subject, body).
    pub async fn outbox(&self) -> Vec<(String, String, String)> {
        self.site_store().outbox(1000).await.unwrap().into_iter().map(|m| (m.to_addr, m.subject, m.body)).collect()
    }

    /// The newest outbox mail that `pick` accepts, waiting up to [`EVENT_WAIT`] for mail the
    /// site sends in the background (notifications go out after the page answers).
    pub async fn mail_matching(&self, pick: impl Fn(&(String, String, String)) -> bool) -> (String, String, String) {
        self.mails_matching(pick, 1).await.remove(0)
    }

    /// The outbox mails `pick` accepts (newest first), once there are at least `count`.
    pub async fn mails_matching(
        &self,
        pick: impl Fn(&(String, String, String)) -> bool,
        count: usize,
    ) -> Vec<(String, String, String)> {
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        loop {
            let found: Vec<_> = self.outbox().await.into_iter().filter(&pick).collect();
            if found.len() >= count {
                return found;
            }
            assert!(tokio::time::Instant::now() < deadline, "{} of {count} mails in {EVENT_WAIT:?}", found.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The newest outbox mail whose subject contains `subject` (see [`TestServer::mail_matching`]).
    pub async fn mail_with(&self, subject: &str) -> (String, String, String) {
        self.mail_matching(|m| m.1.contains(subject)).await
    }

    /// The newest e-mailed one-time code in the outbox (waiting for one, as [`TestServer::mail_with`]).
    pub async fn latest_email_code(&self) -> String {
        let body = &self.mail_with("One-time code").await.2;
        let at = body.find("コード: ").expect("code line") + "コード: ".len();
        body[at..at + 6].to_owned()
    }

    /// Raw POST with the given body bytes, returning status and error body.
    pub async fn raw_post(&self, path: &str, bearer: Option<&str>, body: Vec<u8>) -> (u16, Option<ErrorBody>) {
        let mut req =
            self.http.post(format!("{}{path}", self.origin)).header("content-type", "application/json").body(body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.ok())
    }
}

/// Starts `device.watch(account)` in the background and returns its event stream.
pub fn watch(device: Arc<Authenticator>, account: Account) -> mpsc::Receiver<WatchEvent> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move { device.watch(&account, tx).await });
    rx
}

/// The next event that `pick` accepts, skipping others; panics after [`EVENT_WAIT`].
pub async fn next_matching<T>(rx: &mut mpsc::Receiver<WatchEvent>, mut pick: impl FnMut(WatchEvent) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv()).await.expect("event in time").expect("watch running");
        if let Some(v) = pick(event) {
            return v;
        }
    }
}

pub use inkan_core::testing::RawDevice;
/// The server crate, for tests elsewhere that change its settings.
pub use inkan_server;
pub use inkan_site;

pub mod desktop;
pub mod procs;
pub mod site;

/// Submits a hand-made decision and returns the HTTP status with the error body, so tests can
/// check the status mapping as well as the code.
pub async fn submit_raw(
    raw: &RawDevice,
    challenge_id: &str,
    sub: &inkan_protocol::DecisionSubmission,
) -> Result<inkan_protocol::DecisionOutcome, (u16, ErrorBody)> {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/device/challenges/{challenge_id}/decision", raw.origin))
        .bearer_auth(&raw.token)
        .json(sub)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    if resp.status().is_success() { Ok(resp.json().await.unwrap()) } else { Err((status, resp.json().await.unwrap())) }
}

/// A network path on loopback that can start dropping everything silently: while `drop` is
/// on, bytes are read from both sides and thrown away, so neither side sees the connection
/// close or stall (as behind a router that lost its route). New connections are accepted and
/// blackholed the same way.
pub struct LossyPath {
    dropping: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl LossyPath {
    fn start(listener: TcpListener, to: std::net::SocketAddr) -> LossyPath {
        let dropping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = dropping.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(to).await else { continue };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(Self::pipe(cr, sw, flag.clone()));
                tokio::spawn(Self::pipe(sr, cw, flag.clone()));
            }
        });
        LossyPath { dropping, task }
    }

    async fn pipe(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        dropping: Arc<std::sync::atomic::AtomicBool>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if dropping.load(std::sync::atomic::Ordering::SeqCst) {
                continue;
            }
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    }

    /// Starts (`true`) or stops dropping everything on the path.
    pub fn set_dropping(&self, on: bool) {
        self.dropping.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for LossyPath {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Which backend the tests run the verifier and the demo site on: `INKAN_TEST_DATABASE=postgres`
/// for a fresh database each in the test process's PostgreSQL cluster ([`inkan_kit::pg_test`]),
/// else SQLite in `dir` (the default).
pub fn on_postgres() -> bool {
    std::env::var("INKAN_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// A new verifier database on the backend [`on_postgres`] chooses.
pub async fn verifier_database_url(dir: &std::path::Path) -> String {
    if on_postgres() {
        inkan_kit::pg_test::fresh_database_url().await.expect("the test PostgreSQL cluster")
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("inkan.sqlite3").display())
    }
}

/// A new demo-site database on the backend [`on_postgres`] chooses (never the verifier's).
pub async fn site_database_url(dir: &std::path::Path) -> String {
    if on_postgres() {
        inkan_kit::pg_test::fresh_database_url().await.expect("the test PostgreSQL cluster")
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("inkan-site.sqlite3").display())
    }
}
