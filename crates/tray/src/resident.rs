//! The resident process: one per profile, in the tray all day, with no GTK or WebKit in it.
//! It keeps every account's live channel open (the core's `watch`), the inbox of waiting
//! requests, the tray icon with their count, an OS notification per new request, and the
//! loopback port for same-device approval. The window is another process (`inkan-app
//! --window`), started when something is to be shown and gone when the person closes it; this
//! process tells it what to show ([`Open`] lines on its standard input) and hears what changed
//! ([`WindowEvent`] lines on its standard output).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use inkan_core::{Account, Authenticator, Inbox, PendingChallenge, Profile, SystemClock, WatchEvent};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::icon::{TrayAction, TrayIcon};
use crate::launcher::{OBJECT_PATH, bus_name};
use crate::notifier::{Notifier, Shown};
use crate::protocol::{Open, WindowEvent};
use crate::settings::AppSettings;

/// Events buffered between the live channels and the inbox.
pub const WATCH_QUEUE: usize = 256;
/// How often expired requests leave the inbox (and their notifications go).
pub const EXPIRY_SWEEP: Duration = Duration::from_secs(1);

/// How the resident process runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub profile: PathBuf,
    /// The window's executable (`inkan-app`).
    pub app: PathBuf,
    /// Same-device approval's loopback port (0: off).
    pub loopback_port: u16,
    /// Print timings for `scripts/bench-app` on standard output.
    pub measure: bool,
}

/// What reaches the resident loop from outside it.
#[derive(Debug)]
enum Command {
    Open(Open),
    Tray(TrayAction),
    Clicked(String),
    SameDevice(Box<PendingChallenge>, String),
    WindowLine(String),
    /// The window process of this generation ended.
    WindowClosed(u64),
    Quit,
}

/// The interface the launcher calls (`jp.inkan.Tray1`).
struct Bus(mpsc::UnboundedSender<Command>);

#[zbus::interface(name = "jp.inkan.Tray1")]
impl Bus {
    /// Opens the window onto a request (an [`Open`] as JSON).
    fn open(&self, request: &str) -> zbus::fdo::Result<()> {
        let open =
            Open::from_line(request).ok_or_else(|| zbus::fdo::Error::InvalidArgs("not an open request".into()))?;
        self.0.send(Command::Open(open)).map_err(|_| zbus::fdo::Error::Failed("stopping".into()))
    }

    fn quit(&self) {
        let _ = self.0.send(Command::Quit);
    }
}

/// Same-device requests (a page on this computer, from an enrolled origin) open the window.
struct Loopback(mpsc::UnboundedSender<Command>);

#[async_trait::async_trait]
impl inkan_core::loopback::LoopbackHandler for Loopback {
    async fn take(
        &self,
        _auth: &Authenticator,
        _account: &Account,
        pending: &PendingChallenge,
        number: &str,
    ) -> Result<inkan_core::loopback::LoopbackOutcome, inkan_core::CoreError> {
        self.0
            .send(Command::SameDevice(Box::new(pending.clone()), number.to_owned()))
            .map_err(|_| inkan_core::CoreError::Storage("the app is closing".into()))?;
        Ok(inkan_core::loopback::LoopbackOutcome::Shown)
    }
}

/// The window process, while there is one.
struct Window {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    generation: u64,
}

struct Resident {
    opts: Options,
    core: Arc<Authenticator>,
    inbox: Inbox,
    /// Requests already notified (a replay after a reconnect is not news).
    notified: HashSet<String>,
    watchers: HashMap<String, JoinHandle<()>>,
    watch_tx: mpsc::Sender<WatchEvent>,
    notifier: Arc<Notifier>,
    tray: Option<ksni::Handle<TrayIcon>>,
    window: Option<Window>,
    /// Counts windows started, so that a closed one's end is not taken for a later one's.
    windows_started: u64,
    commands: mpsc::UnboundedSender<Command>,
}

/// Runs the resident process until it is asked to quit; returns at once when another one
/// already runs for the profile.
pub async fn run(opts: Options) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.profile)?;
    let conn = zbus::Connection::session().await?;
    let (commands, mut command_rx) = mpsc::unbounded_channel();
    let name = bus_name(&opts.profile);
    conn.object_server().at(OBJECT_PATH, Bus(commands.clone())).await?;
    match conn.request_name_with_flags(name.as_str(), zbus::fdo::RequestNameFlags::DoNotQueue.into()).await {
        Ok(zbus::fdo::RequestNameReply::PrimaryOwner | zbus::fdo::RequestNameReply::AlreadyOwner) => {}
        Ok(_) | Err(zbus::Error::NameTaken) => {
            tracing::info!(%name, "the resident process of this profile already runs");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    let profile = Profile::open(&opts.profile)?;
    let core = Arc::new(Authenticator::new(profile, inkan_core::platform_or_unavailable(), Arc::new(SystemClock))?);
    let (clicks_tx, mut clicks) = mpsc::unbounded_channel();
    let notifier = Arc::new(Notifier::new(conn.clone(), clicks_tx));
    let (tray_tx, mut tray_rx) = mpsc::unbounded_channel();
    let lang = AppSettings::load_or_default(&opts.profile).language;
    let tray = {
        use ksni::TrayMethods;
        match (TrayIcon { lang, pending: 0, actions: tray_tx }).spawn().await {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "no tray icon (no StatusNotifierItem host on this desktop)");
                None
            }
        }
    };
    if opts.loopback_port != 0 {
        match inkan_core::loopback::bind(opts.loopback_port).await {
            Ok(listener) => {
                let handler = Arc::new(Loopback(commands.clone()));
                tokio::spawn(inkan_core::loopback::serve(listener, core.clone(), handler));
            }
            Err(e) => {
                tracing::warn!(port = opts.loopback_port, error = %e, "same-device approval is off: the port is taken")
            }
        }
    }
    let (watch_tx, mut watch_rx) = mpsc::channel(WATCH_QUEUE);
    let mut me = Resident {
        opts,
        core,
        inbox: Inbox::new(),
        notified: HashSet::new(),
        watchers: HashMap::new(),
        watch_tx,
        notifier,
        tray,
        window: None,
        windows_started: 0,
        commands,
    };
    me.watch_accounts();
    let mut sweep = tokio::time::interval(EXPIRY_SWEEP);
    let stop = inkan_stop_signal();
    tokio::pin!(stop);
    loop {
        let command = tokio::select! {
            Some(event) = watch_rx.recv() => {
                me.on_watch_event(event).await;
                continue;
            }
            Some(c) = command_rx.recv() => c,
            Some(a) = tray_rx.recv() => Command::Tray(a),
            Some(id) = clicks.recv() => Command::Clicked(id),
            _ = sweep.tick() => {
                if !me.inbox.expire(me.core.now()).is_empty() {
                    me.changed().await;
                }
                continue;
            }
            _ = &mut stop => Command::Quit,
        };
        match command {
            Command::Open(open) => me.open(open).await,
            Command::Tray(TrayAction::Open) => {
                let list = me.waiting();
                let open = match list.as_slice() {
                    [one] => Open::Challenge { id: one.challenge.id.clone() },
                    [] => Open::Window,
                    _ => Open::Pending,
                };
                me.open(open).await
            }
            Command::Clicked(id) => {
                me.measure(&format!("notification_clicked id={id}"));
                me.open(Open::Challenge { id }).await
            }
            Command::SameDevice(pending, number) => {
                let id = pending.challenge.id.clone();
                me.inbox.insert(*pending);
                me.changed().await;
                me.open(Open::SameDevice { id, number }).await
            }
            Command::WindowLine(line) => match WindowEvent::from_line(&line) {
                Some(WindowEvent::AccountsChanged) => me.watch_accounts(),
                // The window's measure-mode timings, passed through for scripts/bench-app.
                None if me.opts.measure => crate::protocol::print_line(&line),
                None => {}
            },
            Command::WindowClosed(generation) => {
                if me.window.as_ref().is_some_and(|w| w.generation == generation) {
                    me.window = None;
                }
            }
            Command::Tray(TrayAction::Quit) | Command::Quit => break,
        }
    }
    if let Some(mut w) = me.window.take() {
        let _ = w.child.kill().await;
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn inkan_stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

impl Resident {
    /// Watches every account of the profile and stops watching removed ones.
    fn watch_accounts(&mut self) {
        let accounts = match self.core.accounts() {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(code = e.code(), "accounts unreadable");
                return;
            }
        };
        let ids: HashSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
        self.watchers.retain(|id, task| {
            let keep = ids.contains(id.as_str());
            if !keep {
                task.abort();
            }
            keep
        });
        let gone: Vec<String> = self
            .inbox
            .list()
            .iter()
            .filter(|p| !ids.contains(p.account.as_str()))
            .map(|p| p.challenge.id.clone())
            .collect();
        gone.iter().for_each(|id| {
            self.inbox.remove(id);
        });
        for account in accounts {
            if self.watchers.contains_key(&account.id) {
                continue;
            }
            let (core, tx, id) = (self.core.clone(), self.watch_tx.clone(), account.id.clone());
            self.watchers.insert(id, tokio::spawn(async move { core.watch(&account, tx).await }));
        }
    }

    async fn on_watch_event(&mut self, event: WatchEvent) {
        match event {
            WatchEvent::Connected { account } => {
                // Requests made while this device was offline.
                if let Ok(acc) = self.core.account(Some(&account)) {
                    match self.core.pending(&acc).await {
                        Ok(list) => {
                            for p in list {
                                self.arrived(p).await;
                            }
                        }
                        Err(e) => tracing::warn!(code = e.code(), "pending requests unreadable"),
                    }
                }
            }
            WatchEvent::Challenge(p) => self.arrived(p).await,
            WatchEvent::Resolved { outcome, .. } => {
                if self.inbox.remove(&outcome.challenge_id).is_some() {
                    self.changed().await;
                }
            }
            WatchEvent::Discarded { challenge_id, error, .. } => {
                tracing::warn!(%challenge_id, code = error.code(), "a pushed request failed its checks and was discarded");
            }
            WatchEvent::Disconnected { account, error, .. } => {
                tracing::info!(%account, code = error.code(), "live channel lost; reconnecting");
            }
            WatchEvent::Stopped { account, error } => {
                tracing::warn!(%account, code = error.code(), "live channel stopped");
            }
        }
    }

    /// A request arrived (pushed, or found waiting after a reconnect): into the inbox, and a
    /// notification the first time.
    async fn arrived(&mut self, p: PendingChallenge) {
        if p.challenge.expires_at < self.core.now() {
            return;
        }
        let id = p.challenge.id.clone();
        let first = self.notified.insert(id.clone());
        let account = self.core.account(Some(&p.account)).ok();
        let details = p.challenge.details.clone();
        let origin = p.challenge.origin.clone();
        self.inbox.insert(p);
        self.changed().await;
        let settings = AppSettings::load_or_default(&self.opts.profile);
        if !first || !settings.notifications {
            return;
        }
        let asker = crate::text::asker(account.as_ref().and_then(|a| a.rp_name.as_ref()), &origin, settings.language);
        let shown = Shown { challenge_id: &id, details: &details, asker: &asker };
        if self.notifier.show(shown, settings.language).await {
            self.measure(&format!("notified id={id}"));
        }
    }

    fn waiting(&self) -> Vec<&PendingChallenge> {
        let now = self.core.now();
        self.inbox.list().into_iter().filter(|p| p.challenge.expires_at >= now).collect()
    }

    /// The inbox changed: the tray's count, and the notifications of requests no longer
    /// waiting are withdrawn.
    async fn changed(&mut self) {
        let waiting: Vec<String> = self.waiting().iter().map(|p| p.challenge.id.clone()).collect();
        if let Some(tray) = &self.tray {
            let (n, lang) = (waiting.len(), AppSettings::load_or_default(&self.opts.profile).language);
            tray.update(|t| {
                t.pending = n;
                t.lang = lang;
            })
            .await;
        }
        self.notifier.keep_only(&waiting).await;
    }

    /// Opens the window onto `open`: hands it to the running window, or starts one with it.
    async fn open(&mut self, open: Open) {
        let line = format!("{}\n", open.to_line());
        if let Some(w) = &mut self.window {
            if w.stdin.write_all(line.as_bytes()).await.is_ok() && w.stdin.flush().await.is_ok() {
                return;
            }
            self.window = None;
        }
        match self.start_window().await {
            Ok(mut w) => {
                if let Err(e) = w.stdin.write_all(line.as_bytes()).await {
                    tracing::warn!(error = %e, "the window did not take what to show");
                }
                self.window = Some(w);
            }
            Err(e) => tracing::error!(app = %self.opts.app.display(), error = %e, "the window could not be started"),
        }
    }

    async fn start_window(&mut self) -> std::io::Result<Window> {
        self.windows_started += 1;
        let generation = self.windows_started;
        let mut child = tokio::process::Command::new(&self.opts.app)
            .arg("--window")
            .arg("--profile")
            .arg(&self.opts.profile)
            // This process owns the loopback port.
            .env("INKAN_LOOPBACK_PORT", "0")
            // WebKitGTK hands frames from its web process to the window over shared memory
            // instead of DMA-BUF: with rendering in software anyway (desktop::webkit) that
            // loads less of the graphics stack; measured by scripts/bench-app (window open:
            // about 5 MiB PSS less; the click-to-painted time moved within its run-to-run noise).
            // The person's own setting wins.
            .env(
                "WEBKIT_DISABLE_DMABUF_RENDERER",
                std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").unwrap_or_else(|| "1".into()),
            )
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let tx = self.commands.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(Command::WindowLine(line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(Command::WindowClosed(generation));
        });
        Ok(Window { child, stdin, generation })
    }

    fn measure(&self, what: &str) {
        if self.opts.measure {
            crate::protocol::print_measure_line(what);
        }
    }
}
