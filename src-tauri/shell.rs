//! The shell's state: the core, the live inbox fed by one push channel per account, and the
//! enrollment link waiting to be confirmed. State flows core -> events -> UI.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inkan_core::{Account, Authenticator, CoreError, Inbox, Profile, SystemClock, WatchEvent};
use inkan_protocol::EnrollmentUri;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use crate::LaunchOptions;
use crate::error::{CommandError, CommandResult};
use crate::views::*;
use inkan_tray::{AppSettings, Open, WindowEvent};

/// Events buffered between the push channels and the inbox.
pub const WATCH_QUEUE: usize = 256;
/// How often expired challenges leave the inbox (the UI counts down on its own).
pub const EXPIRY_SWEEP: Duration = Duration::from_secs(1);
/// Longest account or device name.
pub const MAX_NAME_CHARS: usize = 64;
/// Largest QR image the app reads.
pub const MAX_QR_IMAGE_BYTES: usize = 8 * 1024 * 1024;

pub struct Shell {
    app: AppHandle,
    core: Arc<Authenticator>,
    inbox: Mutex<Inbox>,
    channels: Mutex<HashMap<String, (ChannelState, Option<String>)>>,
    watchers: Mutex<HashMap<String, JoinHandle<()>>>,
    watch_tx: mpsc::Sender<WatchEvent>,
    watch_rx: Mutex<Option<mpsc::Receiver<WatchEvent>>>,
    /// The enrollment link read but not yet confirmed. Never sent to the UI.
    draft: Mutex<Option<(Zeroizing<String>, LinkSource)>>,
    settings: Mutex<AppSettings>,
    /// What the window shows first when it next opens or comes forward.
    focus: Mutex<Option<Focus>>,
    /// This window was started by the resident process (Linux), which is told what changed.
    reports_to_resident: bool,
    measure: Option<Measure>,
}

/// The window's side of same-device approval: the person decides in the window.
struct WindowLoopback(std::sync::Weak<Shell>);

#[async_trait::async_trait]
impl inkan_core::loopback::LoopbackHandler for WindowLoopback {
    async fn take(
        &self,
        _auth: &inkan_core::Authenticator,
        _account: &Account,
        pending: &inkan_core::PendingChallenge,
        number: &str,
    ) -> Result<inkan_core::loopback::LoopbackOutcome, CoreError> {
        let shell = self.0.upgrade().ok_or_else(|| CoreError::Storage("the app is closing".into()))?;
        shell.same_device(pending, number);
        Ok(inkan_core::loopback::LoopbackOutcome::Shown)
    }
}

/// Timings printed in measure mode (`INKAN_APP_MEASURE=1`) for scripts/bench-app.
struct Measure {
    started: Instant,
    first_paint: std::sync::atomic::AtomicBool,
}

impl Measure {
    /// One line on standard output, stamped with the wall time for the bench to compare.
    fn line(&self, what: &str) {
        inkan_tray::protocol::print_measure_line(what);
    }
}

impl Shell {
    pub fn open(app: AppHandle, opts: &LaunchOptions, started: Instant) -> CommandResult<Self> {
        let dir = match &opts.profile {
            Some(dir) => dir.clone(),
            None => Profile::default_dir()?,
        };
        let profile = Profile::open(&dir)?;
        let settings = AppSettings::load_or_default(profile.dir());
        let keys = inkan_core::platform_or_unavailable();
        let core = Arc::new(Authenticator::new(profile, keys, Arc::new(SystemClock))?);
        let (watch_tx, watch_rx) = mpsc::channel(WATCH_QUEUE);
        Ok(Shell {
            app,
            core,
            inbox: Mutex::new(Inbox::new()),
            channels: Mutex::new(HashMap::new()),
            watchers: Mutex::new(HashMap::new()),
            watch_tx,
            watch_rx: Mutex::new(Some(watch_rx)),
            draft: Mutex::new(None),
            settings: Mutex::new(settings),
            focus: Mutex::new(None),
            reports_to_resident: opts.window,
            measure: opts.measure.then(|| Measure { started, first_paint: false.into() }),
        })
    }

    pub fn core(&self) -> &Authenticator {
        &self.core
    }

    pub fn settings(&self) -> AppSettings {
        self.settings.lock().expect("settings").clone()
    }

    pub fn set_settings(&self, s: AppSettings) -> CommandResult<()> {
        s.save(self.core.profile().dir()).map_err(|e| CommandError::new("storage", e.0))?;
        *self.settings.lock().expect("settings") = s;
        self.changed_inbox();
        Ok(())
    }

    /// Listens on the loopback port for same-device approval (desktop only): a page from an
    /// enrolled server's origin may hand over the challenge it waits for; the window opens it
    /// with the page's number filled in, and the person approves as usual.
    /// `INKAN_LOOPBACK_PORT` sets the port (0: off).
    #[cfg(desktop)]
    pub fn start_loopback(self: &Arc<Self>) {
        let port = std::env::var("INKAN_LOOPBACK_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(inkan_core::loopback::DEFAULT_LOOPBACK_PORT);
        if port == 0 {
            return;
        }
        let me = Arc::downgrade(self);
        let core = self.core.clone();
        tauri::async_runtime::spawn(async move {
            match inkan_core::loopback::bind(port).await {
                Ok(listener) => inkan_core::loopback::serve(listener, core, Arc::new(WindowLoopback(me))).await,
                Err(e) => tracing::warn!(port, error = %e, "same-device approval is off: the loopback port is taken"),
            }
        });
    }

    /// A same-device request passed the core's checks: show it.
    fn same_device(&self, pending: &inkan_core::PendingChallenge, number: &str) {
        self.inbox.lock().expect("inbox").insert(pending.clone());
        self.changed_inbox();
        let account = self.core.account(Some(&pending.account)).ok();
        let request =
            SameDeviceRequest { challenge: ChallengeView::new(pending, account.as_ref()), number: number.to_owned() };
        self.bring_forward(Some(Focus::SameDevice { request }));
    }

    // ---- the window -------------------------------------------------------------------

    /// Opens the window (building it when it is closed) or brings it forward, onto `focus`
    /// when one is given. The UI takes the focus at start, and again on [`EVENT_FOCUS`].
    fn bring_forward(&self, focus: Option<Focus>) {
        if let Some(f) = focus {
            *self.focus.lock().expect("focus") = Some(f);
        }
        #[cfg(desktop)]
        crate::desktop::show_main(&self.app);
        let _ = self.app.emit(EVENT_FOCUS, ());
    }

    /// What the window should show first, once.
    pub fn take_focus(&self) -> Option<Focus> {
        let focus = self.focus.lock().expect("focus").take();
        if let (Some(m), Some(f)) = (&self.measure, &focus) {
            m.line(&format!("focus_taken kind={}", f.kind()));
        }
        focus
    }

    /// Shows what was asked (by the resident process, a second launch, the OS): a request by
    /// its id, the list, a same-device request, a link. A request this window has not heard of
    /// yet (its channels may still be connecting) is fetched from the server first.
    pub async fn show(self: Arc<Self>, open: Open) {
        let focus = match open {
            Open::Window => None,
            Open::Pending => Some(Focus::Pending),
            Open::Link { link } => {
                self.open_link(&link, LinkSource::DeepLink);
                return;
            }
            Open::Challenge { id } => Some(match self.find(&id).await {
                Some(challenge) => Focus::Challenge { challenge },
                None => Focus::Pending,
            }),
            Open::SameDevice { id, number } => Some(match self.find(&id).await {
                Some(challenge) => Focus::SameDevice { request: SameDeviceRequest { challenge, number } },
                None => Focus::Pending,
            }),
        };
        self.bring_forward(focus)
    }

    /// A waiting request by id: from the inbox, else from the server's pending lists.
    async fn find(&self, id: &str) -> Option<ChallengeView> {
        if let Some(c) = self.pending().into_iter().find(|c| c.id == id) {
            return Some(c);
        }
        for account in self.core.accounts().unwrap_or_default() {
            if let Ok(list) = self.core.pending(&account).await {
                let mut inbox = self.inbox.lock().expect("inbox");
                list.into_iter().for_each(|p| inbox.insert(p));
            }
        }
        self.changed_inbox();
        self.pending().into_iter().find(|c| c.id == id)
    }

    /// The tray (macOS, Windows): onto the one waiting request, the list of several, or the
    /// window as it was.
    #[cfg(not(target_os = "linux"))]
    pub fn open_from_tray(&self) {
        let mut list = self.pending();
        let focus = match list.len() {
            0 => None,
            1 => list.pop().map(|challenge| Focus::Challenge { challenge }),
            _ => Some(Focus::Pending),
        };
        self.bring_forward(focus)
    }

    /// Tells the resident process that started this window what changed (a JSON line on
    /// standard output).
    fn report(&self, event: WindowEvent) {
        if self.reports_to_resident {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", event.to_line());
            let _ = out.flush();
        }
    }

    /// Starts the inbox loop and a push channel for every enrolled account.
    pub fn start(self: &Arc<Self>) {
        let rx = self.watch_rx.lock().expect("watch_rx").take().expect("start runs once");
        let me = self.clone();
        tauri::async_runtime::spawn(async move { me.run_inbox(rx).await });
        match self.core.accounts() {
            Ok(accounts) => accounts.iter().for_each(|a| self.watch(a)),
            Err(e) => tracing::warn!(code = e.code(), "accounts unreadable"),
        }
    }

    fn watch(self: &Arc<Self>, account: &Account) {
        self.channels.lock().expect("channels").insert(account.id.clone(), (ChannelState::Connecting, None));
        let (core, tx, acc) = (self.core.clone(), self.watch_tx.clone(), account.clone());
        let handle = tauri::async_runtime::spawn(async move { core.watch(&acc, tx).await });
        if let Some(old) = self.watchers.lock().expect("watchers").insert(account.id.clone(), handle) {
            old.abort();
        }
    }

    fn unwatch(&self, account_id: &str) {
        if let Some(h) = self.watchers.lock().expect("watchers").remove(account_id) {
            h.abort();
        }
        self.channels.lock().expect("channels").remove(account_id);
        let mut inbox = self.inbox.lock().expect("inbox");
        let gone: Vec<String> =
            inbox.list().iter().filter(|p| p.account == account_id).map(|p| p.challenge.id.clone()).collect();
        gone.iter().for_each(|id| {
            inbox.remove(id);
        });
    }

    async fn run_inbox(self: Arc<Self>, mut rx: mpsc::Receiver<WatchEvent>) {
        let mut sweep = tokio::time::interval(EXPIRY_SWEEP);
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => self.on_watch_event(event).await,
                    None => return,
                },
                _ = sweep.tick() => {
                    let gone = self.inbox.lock().expect("inbox").expire(self.core.now());
                    if !gone.is_empty() {
                        self.changed_inbox();
                    }
                }
            }
        }
    }

    async fn on_watch_event(self: &Arc<Self>, event: WatchEvent) {
        match event {
            WatchEvent::Connected { account } => {
                self.set_channel(&account, ChannelState::Connected, None);
                // Challenges made while this device was offline.
                if let Ok(acc) = self.core.account(Some(&account)) {
                    match self.core.pending(&acc).await {
                        Ok(list) => {
                            let mut inbox = self.inbox.lock().expect("inbox");
                            list.into_iter().for_each(|p| inbox.insert(p));
                        }
                        Err(e) => tracing::warn!(code = e.code(), "pending challenges unreadable"),
                    }
                    self.changed_inbox();
                }
            }
            WatchEvent::Challenge(p) => {
                let account = self.core.account(Some(&p.account)).ok();
                let view = ChallengeView::new(&p, account.as_ref());
                self.inbox.lock().expect("inbox").insert(p);
                self.changed_inbox();
                #[cfg(not(target_os = "linux"))]
                self.notify_new(view);
                #[cfg(target_os = "linux")]
                let _ = view;
            }
            WatchEvent::Resolved { outcome, .. } => {
                if self.inbox.lock().expect("inbox").remove(&outcome.challenge_id).is_some() {
                    self.changed_inbox();
                }
            }
            WatchEvent::Discarded { challenge_id, error, .. } => {
                tracing::warn!(%challenge_id, code = error.code(), "a pushed challenge failed its checks and was discarded");
            }
            WatchEvent::Disconnected { account, error, .. } => {
                self.set_channel(&account, ChannelState::Offline, Some(error.code().to_owned()));
            }
            WatchEvent::Stopped { account, error } => {
                self.set_channel(&account, ChannelState::Stopped, Some(error.code().to_owned()));
            }
        }
    }

    fn set_channel(&self, account: &str, state: ChannelState, error: Option<String>) {
        let prev = self.channels.lock().expect("channels").insert(account.to_owned(), (state, error.clone()));
        if prev != Some((state, error)) {
            self.changed_accounts();
        }
    }

    // ---- what the UI reads ------------------------------------------------------------

    pub fn accounts(&self) -> CommandResult<Vec<AccountView>> {
        let channels = self.channels.lock().expect("channels");
        Ok(self
            .core
            .accounts()?
            .iter()
            .map(|a| {
                let (state, err) = channels.get(&a.id).cloned().unwrap_or((ChannelState::Connecting, None));
                AccountView::new(a, state, err)
            })
            .collect())
    }

    pub fn pending(&self) -> Vec<ChallengeView> {
        let accounts: HashMap<String, Account> =
            self.core.accounts().unwrap_or_default().into_iter().map(|a| (a.id.clone(), a)).collect();
        let now = self.core.now();
        self.inbox
            .lock()
            .expect("inbox")
            .list()
            .into_iter()
            .filter(|p| p.challenge.expires_at >= now)
            .map(|p| ChallengeView::new(p, accounts.get(&p.account)))
            .collect()
    }

    pub fn pending_challenge(&self, id: &str) -> Option<inkan_core::PendingChallenge> {
        self.inbox.lock().expect("inbox").get(id).cloned()
    }

    pub fn forget_challenge(&self, id: &str) {
        if self.inbox.lock().expect("inbox").remove(id).is_some() {
            self.changed_inbox();
        }
    }

    /// The inbox changed: the tray's count (where this process keeps the tray) and the
    /// window's list.
    fn changed_inbox(&self) {
        let list = self.pending();
        #[cfg(desktop)]
        crate::desktop::show_pending_count(&self.app, list.len(), self.settings().language);
        let _ = self.app.emit(EVENT_INBOX, list);
    }

    fn changed_accounts(&self) {
        let _ = self.accounts().map(|list| self.app.emit(EVENT_ACCOUNTS, list));
    }

    /// An OS notification for a new request where this process shows them (phones, macOS,
    /// Windows; on Linux the resident process does).
    #[cfg(not(target_os = "linux"))]
    fn notify_new(&self, view: ChallengeView) {
        let settings = self.settings();
        if !settings.notifications {
            return;
        }
        use tauri_plugin_notification::NotificationExt;
        let who = inkan_tray::text::asker(view.rp_name.as_ref(), &view.origin, settings.language);
        let (title, body) = inkan_tray::text::notification(&view.details, &who, settings.language, false);
        if let Err(e) = self.app.notification().builder().title(title).body(body).show() {
            tracing::warn!(error = %e, "the OS notification could not be shown");
        }
    }

    // ---- enrollment -------------------------------------------------------------------

    /// Reads a link, keeps it, and returns what the person should check before confirming.
    pub fn preview(&self, link: &str, source: LinkSource) -> CommandResult<LinkPreview> {
        let uri = EnrollmentUri::parse(link.trim()).map_err(CoreError::from)?;
        let host = url_host(&uri.origin);
        let already_enrolled =
            self.core.accounts().unwrap_or_default().iter().any(|a| a.origin == uri.origin && a.name == uri.label);
        let preview = LinkPreview {
            insecure: uri.origin.starts_with("http://"),
            server_key_short: uri.server_key_fingerprint.chars().take(12).collect(),
            origin: uri.origin.clone(),
            host,
            label: uri.label.clone(),
            source,
            device_name: default_device_name(),
            already_enrolled,
        };
        *self.draft.lock().expect("draft") = Some((Zeroizing::new(link.trim().to_owned()), source));
        Ok(preview)
    }

    pub fn preview_image(&self, image: &[u8]) -> CommandResult<LinkPreview> {
        if image.len() > MAX_QR_IMAGE_BYTES {
            return Err(CommandError::image_too_large(MAX_QR_IMAGE_BYTES));
        }
        let link = Zeroizing::new(inkan_core::qr::decode_qr(image)?);
        self.preview(&link, LinkSource::Image)
    }

    pub fn cancel_enroll(&self) {
        self.draft.lock().expect("draft").take();
    }

    /// Enrolls with the kept link. The link is dropped on success and when the server has
    /// refused the ticket; it stays for a retry when the server or keychain was unreachable.
    pub async fn enroll(self: &Arc<Self>, device_name: &str) -> CommandResult<AccountView> {
        let name = checked_name(device_name)?;
        let link =
            self.draft.lock().expect("draft").as_ref().map(|(l, _)| l.clone()).ok_or_else(CommandError::no_link)?;
        match self.core.enroll(&link, &name).await {
            Ok(account) => {
                self.draft.lock().expect("draft").take();
                self.watch(&account);
                let view = AccountView::new(&account, ChannelState::Connecting, None);
                self.changed_accounts();
                self.report(WindowEvent::AccountsChanged);
                Ok(view)
            }
            Err(e) => {
                if e.server_code().is_some() || matches!(e, CoreError::ServerKeyMismatch) {
                    self.draft.lock().expect("draft").take();
                }
                Err(e.into())
            }
        }
    }

    /// A link that arrived from outside (deep link, a second launch): read it and open the
    /// window onto it.
    pub fn open_link(&self, link: &str, source: LinkSource) {
        let opened = match self.preview(link, source) {
            Ok(p) => LinkOpened { preview: Some(p), error: None },
            Err(e) => LinkOpened { preview: None, error: Some(e) },
        };
        self.bring_forward(Some(Focus::Link { opened }));
    }

    // ---- accounts -----------------------------------------------------------------------

    pub fn rename(&self, id: &str, name: &str) -> CommandResult<()> {
        let name = checked_name(name)?;
        let account = self.core.account(Some(id))?;
        self.core.rename(&account, &name)?;
        self.changed_accounts();
        self.changed_inbox();
        self.report(WindowEvent::AccountsChanged);
        Ok(())
    }

    pub async fn remove(&self, id: &str) -> CommandResult<()> {
        let account = self.core.account(Some(id))?;
        self.core.remove(&account).await?;
        self.unwatch(id);
        self.changed_accounts();
        self.changed_inbox();
        self.report(WindowEvent::AccountsChanged);
        Ok(())
    }

    // ---- measure mode -------------------------------------------------------------------

    /// The UI painted these challenge cards for the first time since it started (or its
    /// first screen, with none).
    pub fn painted(&self, ids: Vec<String>) {
        let Some(m) = &self.measure else { return };
        if !m.first_paint.swap(true, std::sync::atomic::Ordering::SeqCst) {
            m.line(&format!("first_paint since_main_ms={}", m.started.elapsed().as_millis()));
        }
        for id in ids {
            m.line(&format!("card_painted id={id}"));
        }
    }
}

fn checked_name(name: &str) -> CommandResult<String> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(CommandError::bad_name(MAX_NAME_CHARS));
    }
    Ok(name.to_owned())
}

fn url_host(origin: &str) -> String {
    url::Url::parse(origin).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| origin.to_owned())
}

fn default_device_name() -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac",
        "windows" => "Windows",
        "android" => "Android",
        "ios" => "iPhone",
        other => other,
    };
    format!("Inkan app ({os})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(checked_name("  My phone ").unwrap(), "My phone");
        assert_eq!(checked_name("").unwrap_err().code, "name_invalid");
        assert_eq!(checked_name("a\u{7}b").unwrap_err().code, "name_invalid");
        assert!(checked_name(&"印".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(checked_name(&"印".repeat(MAX_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn hosts() {
        assert_eq!(url_host("https://broker.example"), "broker.example");
        assert_eq!(url_host("http://127.0.0.1:8080"), "127.0.0.1");
    }
}
