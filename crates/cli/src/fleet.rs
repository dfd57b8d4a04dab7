//! `inkan fleet`: many virtual devices in one process, for QA automation and load tests.
//!
//! One [`Authenticator`] (one keychain connection, one HTTP connection pool) holds every
//! account of the profile; each account is one virtual device with its own key and its own
//! live channel. It enrolls a batch of QR images or links in parallel with a bound, keeps
//! every device watching, and takes decisions by script: JSON commands on stdin, one per line,
//! and every event as one JSON line on stdout (the protocol is in the README's QA guide).
//!
//! Enrollment links are bearer secrets until used: they are never echoed; a source is named
//! by its file and line. Keys stay in the platform keychain unless the insecure in-memory
//! store is asked for by name.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use inkan_core::{Account, Authenticator, CoreError, PendingChallenge, WatchEvent};
use inkan_protocol::Decision;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, mpsc};

/// Enrollments (and first connections of the live channel) in flight at once, unless
/// `--parallel` says otherwise.
pub const DEFAULT_PARALLEL: usize = 16;
/// How long `approve` / `deny` / `wait` naming an account wait for its challenge to arrive,
/// unless the command gives `wait_ms`.
pub const DEFAULT_WAIT_MS: u64 = 10_000;
/// The longest wait a command may ask for.
pub const MAX_WAIT_MS: u64 = 300_000;
/// Longest command line read from stdin; a longer one is refused and skipped.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// Image extensions taken from an enrollment folder.
const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Which key store holds the fleet's device keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyStoreChoice {
    /// The platform keychain (Secret Service on Linux): the default.
    Platform,
    /// Keys in this process's memory only, lost when it exits. For load tests, never for
    /// devices that matter.
    InsecureMemory,
}

#[derive(clap::Args)]
pub struct FleetArgs {
    /// A folder of QR images (every .png/.jpg/.jpeg in it), or one QR image, to enroll. Repeatable.
    #[arg(long = "enroll", value_name = "PATH")]
    enroll: Vec<PathBuf>,
    /// A file with one enrollment link (`inkan://enroll?…`) or QR image path per line
    /// (relative paths from the file's folder; blank lines and `#` comments skipped). Repeatable.
    #[arg(long = "list", value_name = "FILE")]
    list: Vec<PathBuf>,
    /// Device names are this prefix and the image's file name (or the list's line number).
    #[arg(long, default_value = "")]
    name_prefix: String,
    /// Enrollments and first connections in flight at once.
    #[arg(long, default_value_t = DEFAULT_PARALLEL as u64, value_parser = clap::value_parser!(u64).range(1..=1024))]
    parallel: u64,
    /// Where device keys live. `insecure-memory` must be named to be used.
    #[arg(long, value_enum, default_value = "platform")]
    keystore: KeyStoreChoice,
    /// Enroll, print the summary and exit without watching or reading commands.
    #[arg(long)]
    enroll_only: bool,
}

impl FleetArgs {
    pub fn keystore(&self) -> KeyStoreChoice {
        self.keystore
    }
}

/// A fleet-level refusal with its stable code (the core's codes pass through unchanged).
#[derive(Debug)]
struct FleetError {
    code: &'static str,
    message: String,
}

impl From<CoreError> for FleetError {
    fn from(e: CoreError) -> Self {
        FleetError { code: e.code(), message: e.detail() }
    }
}

fn refuse(code: &'static str, message: impl Into<String>) -> FleetError {
    FleetError { code, message: message.into() }
}

/// One line of output at a time, written by one thread so lines never interleave.
#[derive(Clone)]
struct Lines(std::sync::mpsc::Sender<String>);

impl Lines {
    fn start() -> (Lines, std::thread::JoinHandle<()>) {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let writer = std::thread::spawn(move || {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            while let Ok(line) = rx.recv() {
                let _ = writeln!(out, "{line}");
                while let Ok(more) = rx.try_recv() {
                    let _ = writeln!(out, "{more}");
                }
                if out.flush().is_err() {
                    return;
                }
            }
        });
        (Lines(tx), writer)
    }

    fn emit(&self, value: Value) {
        let _ = self.0.send(value.to_string());
    }
}

/// A device's own view, as the fleet prints it. `name` is the device name given at enrollment;
/// `label` is the brokerage's label for the account.
pub fn device_json(a: &Account) -> Value {
    json!({"id": a.id, "name": a.device_name, "label": a.name, "origin": a.origin, "account_id": a.account_id, "device_id": a.device_id, "enrolled_at": a.enrolled_at})
}

fn challenge_json(p: &PendingChallenge, a: Option<&Account>) -> Value {
    let c = &p.challenge;
    json!({"account": p.account, "account_id": a.map(|a| a.account_id.as_str()), "device": a.map(|a| a.device_name.as_str()), "challenge_id": c.id, "kind": c.details.kind(), "details": c.details, "number_digits": c.number_match.map(|n| n.digits), "expires_at": c.expires_at})
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    Connecting,
    Connected,
    Reconnecting,
    Stopped(&'static str),
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Connecting => "connecting",
            Channel::Connected => "connected",
            Channel::Reconnecting => "reconnecting",
            Channel::Stopped(_) => "stopped",
        }
    }
}

struct Device {
    account: Account,
    channel: Channel,
    watcher: Option<tokio::task::AbortHandle>,
}

struct Fleet {
    auth: Arc<Authenticator>,
    out: Lines,
    devices: Mutex<HashMap<String, Device>>,
    /// Challenges received on the live channels and not yet decided or resolved, by
    /// (challenge id, device). A customer with two devices gets each challenge on both.
    inbox: Mutex<HashMap<(String, String), PendingChallenge>>,
    arrived: Notify,
    /// Bounds enrollments and first connections in flight.
    gate: Arc<Semaphore>,
}

/// A command read from stdin. `id`, when given, comes back as `reply_to`.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Op {
    /// Enroll one more device from a link or a QR image.
    Enroll {
        link: Option<String>,
        qr: Option<PathBuf>,
        name: Option<String>,
    },
    /// Every device and its channel's state.
    Devices,
    /// Challenges waiting, optionally for one account.
    Pending {
        account: Option<String>,
    },
    /// Wait for a challenge to arrive (for one account, or a given id).
    Wait {
        account: Option<String>,
        challenge: Option<String>,
        wait_ms: Option<u64>,
    },
    Approve {
        account: Option<String>,
        challenge: Option<String>,
        number: Option<String>,
        wait_ms: Option<u64>,
    },
    Deny {
        account: Option<String>,
        challenge: Option<String>,
        #[serde(default)]
        not_me: bool,
        wait_ms: Option<u64>,
    },
    /// The device's offline code.
    Code {
        account: String,
    },
    /// Forget a device (its keys leave the key store).
    Remove {
        account: String,
    },
    /// Finish the commands in flight and exit.
    Quit,
}

impl Fleet {
    fn device_list(&self) -> Vec<Value> {
        let devices = self.devices.lock().expect("devices");
        let mut list: Vec<&Device> = devices.values().collect();
        list.sort_by(|a, b| a.account.enrolled_at.cmp(&b.account.enrolled_at).then(a.account.id.cmp(&b.account.id)));
        list.iter()
            .map(|d| {
                let mut v = device_json(&d.account);
                v["channel"] = json!(d.channel.as_str());
                if let Channel::Stopped(code) = d.channel {
                    v["error"] = json!(code);
                }
                v
            })
            .collect()
    }

    /// Local ids of the devices a selector names: local id, device id, device name or the
    /// brokerage account number.
    fn select(&self, selector: &str) -> Vec<String> {
        let devices = self.devices.lock().expect("devices");
        devices
            .values()
            .filter(|d| {
                let a = &d.account;
                a.id == selector || a.device_id == selector || a.device_name == selector || a.account_id == selector
            })
            .map(|d| d.account.id.clone())
            .collect()
    }

    fn one_device(&self, selector: &str) -> Result<Account, FleetError> {
        let ids = self.select(selector);
        match ids.as_slice() {
            [id] => Ok(self.devices.lock().expect("devices")[id].account.clone()),
            [] => Err(CoreError::AccountNotFound(selector.to_owned()).into()),
            _ => Err(CoreError::AccountAmbiguous.into()),
        }
    }

    fn account_of(&self, local_id: &str) -> Option<Account> {
        self.devices.lock().expect("devices").get(local_id).map(|d| d.account.clone())
    }

    fn set_channel(&self, local_id: &str, channel: Channel) {
        if let Some(d) = self.devices.lock().expect("devices").get_mut(local_id) {
            d.channel = channel;
        }
    }

    /// Starts the device's live channel. Its first connection waits for a place at the gate,
    /// so a thousand devices do not open a thousand sessions in the same millisecond.
    fn watch(self: &Arc<Self>, account: Account) {
        let fleet = self.clone();
        let local_id = account.id.clone();
        let task = tokio::spawn(async move {
            let permit = fleet.gate.clone().acquire_owned().await.ok();
            let (tx, mut rx) = mpsc::channel(16);
            let auth = fleet.auth.clone();
            let watched = account.clone();
            let watcher = tokio::spawn(async move { auth.watch(&watched, tx).await });
            let _stop_with_me = AbortOnDrop(watcher.abort_handle());
            let mut permit = permit;
            while let Some(event) = rx.recv().await {
                if !matches!(event, WatchEvent::Challenge(_) | WatchEvent::Resolved { .. }) {
                    permit.take();
                }
                fleet.on_event(event);
            }
        });
        let mut devices = self.devices.lock().expect("devices");
        if let Some(d) = devices.get_mut(&local_id) {
            if let Some(old) = d.watcher.replace(task.abort_handle()) {
                old.abort();
            }
        } else {
            task.abort();
        }
    }

    fn on_event(&self, event: WatchEvent) {
        match event {
            WatchEvent::Connected { account } => {
                self.set_channel(&account, Channel::Connected);
                self.out.emit(json!({"event": "connected", "account": account}));
            }
            WatchEvent::Challenge(p) => {
                // Into the inbox before the line goes out: a script that reacts to the line
                // finds the challenge there.
                let line = json!({"event": "challenge", "challenge": challenge_json(&p, self.account_of(&p.account).as_ref())});
                self.inbox.lock().expect("inbox").insert((p.challenge.id.clone(), p.account.clone()), p);
                self.arrived.notify_waiters();
                self.out.emit(line);
            }
            WatchEvent::Resolved { account, outcome } => {
                self.inbox.lock().expect("inbox").retain(|(id, _), _| *id != outcome.challenge_id);
                self.out.emit(json!({"event": "resolved", "account": account, "challenge_id": outcome.challenge_id, "state": outcome.state}));
            }
            WatchEvent::Discarded { account, challenge_id, error } => self.out.emit(
                json!({"event": "discarded", "account": account, "challenge_id": challenge_id, "error": error.code(), "message": error.detail()}),
            ),
            WatchEvent::Disconnected { account, error, retry_in } => {
                self.set_channel(&account, Channel::Reconnecting);
                self.out.emit(json!({"event": "disconnected", "account": account, "error": error.code(), "retry_in_ms": retry_in.as_millis() as u64}));
            }
            WatchEvent::Stopped { account, error } => {
                self.set_channel(&account, Channel::Stopped(error.code()));
                self.inbox.lock().expect("inbox").retain(|_, p| p.account != account);
                let device_id = self.account_of(&account).map(|a| a.device_id);
                self.out.emit(json!({"event": "stopped", "account": account, "device_id": device_id, "error": error.code(), "message": error.detail()}));
            }
        }
    }

    /// Enrolls one device; on failure nothing of it is left (the core removes its keys).
    async fn enroll_one(self: &Arc<Self>, source: Source) -> Result<Account, (String, FleetError)> {
        let label = source.label.clone();
        let _permit = self.gate.acquire().await;
        let result = match source.what {
            What::Link(link) => self.auth.enroll(&link, &source.name).await,
            What::Image(path) => match tokio::fs::read(&path).await {
                Ok(bytes) => self.auth.enroll_from_qr_image(&bytes, &source.name).await,
                Err(_) => Err(CoreError::ImageUnreadable),
            },
        };
        let account = result.map_err(|e| (label.clone(), FleetError::from(e)))?;
        self.devices.lock().expect("devices").insert(
            account.id.clone(),
            Device { account: account.clone(), channel: Channel::Connecting, watcher: None },
        );
        self.out.emit(json!({"event": "enrolled", "source": label, "device": device_json(&account)}));
        Ok(account)
    }

    /// Takes the one pending challenge that `challenge` and/or `account` name, waiting for
    /// it to arrive up to `wait`. Held by several devices of one customer, it is decided by
    /// the first of them (by local id). Taken (`take`), it leaves the inbox on every device
    /// while it is decided, so two commands never decide the same challenge.
    async fn claim(
        &self,
        account: Option<&str>,
        challenge: Option<&str>,
        wait: Duration,
        take: bool,
    ) -> Result<(PendingChallenge, Vec<PendingChallenge>), FleetError> {
        if account.is_none() && challenge.is_none() {
            return Err(refuse("bad_command", "name the challenge or the account"));
        }
        let owners = match account {
            Some(sel) => {
                let ids = self.select(sel);
                if ids.is_empty() {
                    return Err(CoreError::AccountNotFound(sel.to_owned()).into());
                }
                Some(ids)
            }
            None => None,
        };
        let deadline = Instant::now() + wait;
        loop {
            let arrived = self.arrived.notified();
            {
                let now = self.auth.now();
                let mut inbox = self.inbox.lock().expect("inbox");
                inbox.retain(|_, p| p.challenge.expires_at >= now);
                let mut matching: Vec<&(String, String)> = inbox
                    .keys()
                    .filter(|(id, _)| challenge.is_none_or(|c| id == c))
                    .filter(|(_, local)| owners.as_ref().is_none_or(|o| o.contains(local)))
                    .collect();
                matching.sort();
                let distinct: std::collections::BTreeSet<&String> = matching.iter().map(|(id, _)| id).collect();
                if distinct.len() > 1 {
                    return Err(refuse(
                        "challenge_ambiguous",
                        format!("{} challenges are pending for this account; name one", distinct.len()),
                    ));
                }
                if let Some(first) = matching.first() {
                    let key = (*first).clone();
                    let chosen = inbox[&key].clone();
                    if !take {
                        return Ok((chosen, Vec::new()));
                    }
                    let held: Vec<(String, String)> = inbox.keys().filter(|(id, _)| *id == key.0).cloned().collect();
                    let taken = held.iter().filter_map(|k| inbox.remove(k)).collect();
                    return Ok((chosen, taken));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, arrived).await.is_err() {
                return Err(CoreError::ChallengeNotFound(challenge.unwrap_or("(none arrived)").to_owned()).into());
            }
        }
    }

    async fn decide(
        &self,
        account: Option<&str>,
        challenge: Option<&str>,
        wait: Duration,
        decision: Decision,
        number: Option<&str>,
    ) -> Result<Value, FleetError> {
        let (pending, taken) = self.claim(account, challenge, wait, true).await?;
        let device = self.account_of(&pending.account).ok_or_else(|| refuse("account_not_found", "device removed"))?;
        match self.auth.decide(&device, &pending.challenge, decision, number).await {
            Ok(outcome) => Ok(
                json!({"event": "decided", "account": device.id, "account_id": device.account_id, "device": device.device_name, "challenge_id": outcome.challenge_id, "decision": decision, "state": outcome.state}),
            ),
            Err(e) => {
                // Nothing reached the server (or the answer was lost): the challenge may be
                // decided again. A refusal by the server ends it.
                if !matches!(e, CoreError::Server { .. } | CoreError::ChallengeExpired) {
                    let mut inbox = self.inbox.lock().expect("inbox");
                    for p in taken {
                        inbox.insert((p.challenge.id.clone(), p.account.clone()), p);
                    }
                }
                Err(e.into())
            }
        }
    }

    async fn run_op(self: &Arc<Self>, op: Op) -> Result<Value, FleetError> {
        let wait = |ms: Option<u64>| Duration::from_millis(ms.unwrap_or(DEFAULT_WAIT_MS).min(MAX_WAIT_MS));
        match op {
            Op::Enroll { link, qr, name } => {
                let what = match (link, qr) {
                    (Some(link), None) => What::Link(link),
                    (None, Some(path)) => What::Image(path),
                    _ => return Err(refuse("bad_command", "give exactly one of link and qr")),
                };
                let name =
                    name.unwrap_or_else(|| format!("device-{}", self.devices.lock().expect("devices").len() + 1));
                let source = Source { label: "command".into(), name, what };
                let account = self.enroll_one(source).await.map_err(|(_, e)| e)?;
                self.watch(account.clone());
                Ok(json!({"event": "enroll_ok", "device": device_json(&account)}))
            }
            Op::Devices => Ok(json!({"event": "devices", "devices": self.device_list()})),
            Op::Pending { account } => {
                let owners = account.as_deref().map(|s| self.select(s));
                let now = self.auth.now();
                let pending: Vec<PendingChallenge> = self
                    .inbox
                    .lock()
                    .expect("inbox")
                    .values()
                    .filter(|p| p.challenge.expires_at >= now)
                    .filter(|p| owners.as_ref().is_none_or(|o| o.contains(&p.account)))
                    .cloned()
                    .collect();
                let list: Vec<Value> =
                    pending.iter().map(|p| challenge_json(p, self.account_of(&p.account).as_ref())).collect();
                Ok(json!({"event": "pending", "challenges": list}))
            }
            Op::Wait { account, challenge, wait_ms } => {
                let (p, _) = self.claim(account.as_deref(), challenge.as_deref(), wait(wait_ms), false).await?;
                let a = self.account_of(&p.account);
                Ok(json!({"event": "waiting", "challenge": challenge_json(&p, a.as_ref())}))
            }
            Op::Approve { account, challenge, number, wait_ms } => {
                self.decide(
                    account.as_deref(),
                    challenge.as_deref(),
                    wait(wait_ms),
                    Decision::Approve,
                    number.as_deref(),
                )
                .await
            }
            Op::Deny { account, challenge, not_me, wait_ms } => {
                let decision = if not_me { Decision::DenyFraud } else { Decision::Deny };
                self.decide(account.as_deref(), challenge.as_deref(), wait(wait_ms), decision, None).await
            }
            Op::Code { account } => {
                let a = self.one_device(&account)?;
                let code = self.auth.offline_code(&a).await?;
                Ok(json!({"event": "code", "account": a.id, "code": code.code, "seconds_left": code.seconds_left}))
            }
            Op::Remove { account } => {
                let a = self.one_device(&account)?;
                if let Some(d) = self.devices.lock().expect("devices").get_mut(&a.id)
                    && let Some(w) = d.watcher.take()
                {
                    w.abort();
                }
                self.auth.remove(&a).await?;
                self.devices.lock().expect("devices").remove(&a.id);
                self.inbox.lock().expect("inbox").retain(|_, p| p.account != a.id);
                Ok(json!({"event": "removed", "account": a.id}))
            }
            Op::Quit => Ok(json!({"event": "quitting"})),
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum What {
    Link(String),
    Image(PathBuf),
}

struct Source {
    /// How the source is named in output: a file, or a list's file and line (never the link).
    label: String,
    name: String,
    what: What,
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn image_source(path: PathBuf, prefix: &str) -> Source {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Source { label: path.display().to_string(), name: format!("{prefix}{stem}"), what: What::Image(path) }
}

/// The batch the command line names, in a stable order. An unreadable folder or list is an
/// error of the whole command (nothing is enrolled), so a typo is not taken as "no devices".
fn sources(args: &FleetArgs) -> Result<Vec<Source>, FleetError> {
    let mut out = Vec::new();
    for path in &args.enroll {
        if path.is_dir() {
            let mut images: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| refuse("storage", format!("{}: {e}", path.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            images.sort();
            out.extend(images.into_iter().map(|p| image_source(p, &args.name_prefix)));
        } else if path.is_file() {
            out.push(image_source(path.clone(), &args.name_prefix));
        } else {
            return Err(refuse("storage", format!("{}: no such file or folder", path.display())));
        }
    }
    for list in &args.list {
        let text = std::fs::read_to_string(list).map_err(|e| refuse("storage", format!("{}: {e}", list.display())))?;
        let base = list.parent().unwrap_or(Path::new("."));
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let label = format!("{}:{}", list.display(), n + 1);
            let name = format!("{}{}", args.name_prefix, n + 1);
            let what = if line.contains("://") { What::Link(line.to_owned()) } else { What::Image(base.join(line)) };
            out.push(Source { label, name, what });
        }
    }
    Ok(out)
}

/// Parses one command line; the reply's `reply_to` is the command's `id`.
fn parse_command(line: &str) -> (Value, Result<Op, FleetError>) {
    let mut value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return (Value::Null, Err(refuse("bad_command", format!("not JSON: {e}")))),
    };
    let id = value.as_object_mut().and_then(|o| o.remove("id")).unwrap_or(Value::Null);
    let op = serde_json::from_value::<Op>(value).map_err(|e| refuse("bad_command", e.to_string()));
    (id, op)
}

/// Stdin's lines, read off the async threads. A line longer than [`MAX_COMMAND_BYTES`]
/// comes through as `Err` and is skipped.
fn read_commands() -> mpsc::Receiver<Result<String, usize>> {
    let (tx, rx) = mpsc::channel(256);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut reader = stdin.lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let mut long = 0usize;
            // Read one line, keeping at most MAX_COMMAND_BYTES of it.
            loop {
                let chunk = match reader.fill_buf() {
                    Ok(c) => c,
                    Err(_) => return,
                };
                if chunk.is_empty() {
                    if buf.is_empty() && long == 0 {
                        return;
                    }
                    break;
                }
                let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => (&chunk[..i], Some(i + 1)),
                    None => (chunk, None),
                };
                if buf.len() + part.len() <= MAX_COMMAND_BYTES && long == 0 {
                    buf.extend_from_slice(part);
                } else {
                    long += buf.len() + part.len();
                    buf.clear();
                }
                let used = done.unwrap_or(chunk.len());
                reader.consume(used);
                if done.is_some() {
                    break;
                }
            }
            let line = if long > 0 { Err(long) } else { Ok(String::from_utf8_lossy(&buf).into_owned()) };
            if tx.blocking_send(line).is_err() {
                return;
            }
        }
    });
    rx
}

pub async fn run(auth: Authenticator, keystore: KeyStoreChoice, key_store_name: &str, args: &FleetArgs) -> i32 {
    let (out, writer) = Lines::start();
    let code = run_fleet(auth, keystore, key_store_name, args, &out).await;
    drop(out);
    let _ = writer.join();
    code
}

async fn run_fleet(
    auth: Authenticator,
    keystore: KeyStoreChoice,
    key_store_name: &str,
    args: &FleetArgs,
    out: &Lines,
) -> i32 {
    if keystore == KeyStoreChoice::InsecureMemory {
        eprintln!(
            "!!! 安全でないメモリー内の鍵保管を使っています。鍵はこのプロセスが終わると消えます。負荷試験専用です。\n!!! INSECURE in-memory key store: keys live in this process only and are lost when it exits. For load tests only."
        );
    }
    let existing = match auth.accounts() {
        Ok(a) => a,
        Err(e) => {
            out.emit(json!({"event": "error", "error": e.code(), "message": e.detail()}));
            return 1;
        }
    };
    let batch = match sources(args) {
        Ok(b) => b,
        Err(e) => {
            out.emit(json!({"event": "error", "error": e.code, "message": e.message}));
            return 1;
        }
    };
    let fleet = Arc::new(Fleet {
        auth: Arc::new(auth),
        out: out.clone(),
        devices: Mutex::new(HashMap::new()),
        inbox: Mutex::new(HashMap::new()),
        arrived: Notify::new(),
        gate: Arc::new(Semaphore::new(args.parallel as usize)),
    });
    out.emit(json!({
        "event": "started",
        "keystore": match keystore { KeyStoreChoice::Platform => "platform", KeyStoreChoice::InsecureMemory => "insecure-memory" },
        "keystore_name": key_store_name,
        "devices": existing.len(),
        "to_enroll": batch.len(),
        "parallel": args.parallel,
    }));
    {
        let mut devices = fleet.devices.lock().expect("devices");
        for a in &existing {
            devices.insert(a.id.clone(), Device { account: a.clone(), channel: Channel::Connecting, watcher: None });
        }
    }
    if !args.enroll_only {
        for a in existing {
            fleet.watch(a);
        }
    }

    let started = Instant::now();
    let total = batch.len();
    // Each enrollment is a task of its own, so that the batch runs on every core.
    let mut results = futures_util::stream::iter(batch.into_iter().map(|s| {
        let fleet = fleet.clone();
        tokio::spawn(async move { fleet.enroll_one(s).await })
    }))
    .buffer_unordered(args.parallel as usize)
    .map(|joined| joined.unwrap_or_else(|e| Err(("(task)".to_owned(), refuse("storage", e.to_string())))));
    let (mut enrolled, mut failed) = (0usize, 0usize);
    while let Some(result) = results.next().await {
        match result {
            Ok(account) => {
                enrolled += 1;
                if !args.enroll_only {
                    fleet.watch(account);
                }
            }
            Err((source, e)) => {
                failed += 1;
                out.emit(json!({"event": "enroll_failed", "source": source, "error": e.code, "message": e.message}));
            }
        }
    }
    drop(results);
    if total > 0 {
        out.emit(json!({"event": "enrollment_done", "enrolled": enrolled, "failed": failed, "ms": started.elapsed().as_millis() as u64}));
    }
    if args.enroll_only {
        return i32::from(failed > 0);
    }
    out.emit(json!({"event": "ready"}));

    let mut commands = read_commands();
    let mut running = tokio::task::JoinSet::new();
    while let Some(line) = commands.recv().await {
        let line = match line {
            Ok(l) if l.trim().is_empty() => continue,
            Ok(l) => l,
            Err(len) => {
                out.emit(json!({"event": "error", "error": "command_too_long", "message": format!("a command line of {len} bytes was skipped (limit {MAX_COMMAND_BYTES})")}));
                continue;
            }
        };
        let (id, op) = parse_command(&line);
        let op = match op {
            Ok(op) => op,
            Err(e) => {
                out.emit(json!({"event": "error", "reply_to": id, "error": e.code, "message": e.message}));
                continue;
            }
        };
        let quit = matches!(op, Op::Quit);
        let fleet = fleet.clone();
        running.spawn(async move {
            let reply = match fleet.run_op(op).await {
                Ok(mut v) => {
                    v["reply_to"] = id;
                    v
                }
                Err(e) => json!({"event": "error", "reply_to": id, "error": e.code, "message": e.message}),
            };
            fleet.out.emit(reply);
        });
        while running.try_join_next().is_some() {}
        if quit {
            break;
        }
    }
    while running.join_next().await.is_some() {}
    let watchers: Vec<_> =
        fleet.devices.lock().expect("devices").values_mut().filter_map(|d| d.watcher.take()).collect();
    for w in watchers {
        w.abort();
    }
    out.emit(json!({"event": "finished"}));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_id_and_refuse_unknown_fields() {
        let (id, op) = parse_command(r#"{"id": 7, "op": "approve", "account": "10000001", "number": "12"}"#);
        assert_eq!(id, json!(7));
        assert!(matches!(op, Ok(Op::Approve { number: Some(n), .. }) if n == "12"));
        let (id, op) = parse_command(r#"{"id": "x", "op": "approve", "acount": "1"}"#);
        assert_eq!(id, json!("x"));
        assert_eq!(op.err().unwrap().code, "bad_command");
        assert_eq!(parse_command("{not json").1.err().unwrap().code, "bad_command");
        assert_eq!(parse_command(r#"{"op": "launch"}"#).1.err().unwrap().code, "bad_command");
        assert_eq!(parse_command(r#"[1]"#).1.err().unwrap().code, "bad_command");
        assert!(matches!(
            parse_command(r#"{"op":"deny","challenge":"c","not_me":true}"#).1,
            Ok(Op::Deny { not_me: true, .. })
        ));
    }

    #[test]
    fn a_list_names_sources_by_file_and_line_never_by_link() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.png"), b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let list = dir.path().join("list.txt");
        std::fs::write(&list, "# QA batch\ninkan://enroll?secret-ticket\n\na.png\n").unwrap();
        let args = FleetArgs {
            enroll: vec![dir.path().to_path_buf()],
            list: vec![list.clone()],
            name_prefix: "qa-".into(),
            parallel: 4,
            keystore: KeyStoreChoice::Platform,
            enroll_only: true,
        };
        let s = sources(&args).unwrap();
        let labels: Vec<&str> = s.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(s.len(), 3, "the folder's image, then the list's two lines: {labels:?}");
        assert_eq!(s[0].name, "qa-a");
        assert_eq!(s[1].label, format!("{}:2", list.display()));
        assert_eq!(s[1].name, "qa-2");
        assert!(labels.iter().all(|l| !l.contains("secret-ticket")));
        assert!(matches!(&s[2].what, What::Image(p) if p.ends_with("a.png")));
        let missing = FleetArgs { enroll: vec![dir.path().join("nope")], list: vec![], ..args };
        assert_eq!(sources(&missing).err().unwrap().code, "storage");
    }
}
