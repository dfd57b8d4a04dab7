//! `inkan`: the Inkan authenticator without a display, for customers on a terminal and for QA
//! automation (`--json` everywhere, `--profile DIR` for many virtual devices side by side).
//! Every command is a thin call into `inkan-core`.

mod fleet;
mod site;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use inkan_core::inbox::summary;
use inkan_core::{
    Account, Authenticator, CoreError, KeyStore, PasskeyStore, Passkeys, PendingChallenge, PlatformKeyStore, Profile,
    SystemClock, WatchEvent,
};
use inkan_protocol::display::{jst_date_ja, jst_rfc3339, parse_rfc3339};
use inkan_protocol::error_text::error_text;
use inkan_protocol::{ChallengeDetails, Decision};
use serde_json::json;
use site::{LoginStep, SiteClient};

#[derive(Parser)]
#[command(name = "inkan", version, about = "Inkan 認証アプリ (コマンドライン) / Inkan authenticator (command line)")]
struct Cli {
    /// Directory for this device's non-secret state (accounts, history). One per virtual device.
    #[arg(long, env = "INKAN_PROFILE", global = true)]
    profile: Option<PathBuf>,
    /// Machine-readable output: one JSON document per line.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this device from an enrollment link or a QR code image.
    Enroll {
        /// The `inkan://enroll?...` link.
        link: Option<String>,
        /// A PNG or JPEG image holding the enrollment QR code.
        #[arg(long, conflicts_with = "link")]
        qr: Option<PathBuf>,
        /// This device's name, as the brokerage will list it.
        #[arg(long, default_value = "inkan CLI")]
        name: String,
    },
    /// List enrolled accounts.
    Accounts,
    /// List pending challenges.
    Pending {
        #[arg(long)]
        account: Option<String>,
    },
    /// Print challenges as they arrive (all accounts unless one is named).
    Watch {
        #[arg(long)]
        account: Option<String>,
    },
    /// Approve a challenge.
    Approve {
        /// Ids are base64url and may start with '-'.
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// The number shown on the login or withdrawal page.
        #[arg(long)]
        number: Option<String>,
        #[arg(long)]
        account: Option<String>,
    },
    /// Deny a challenge.
    Deny {
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// "This was not me": also blocks further pushes and alerts the brokerage.
        #[arg(long)]
        not_me: bool,
        #[arg(long)]
        account: Option<String>,
    },
    /// Show the offline code.
    Code {
        #[arg(long)]
        account: Option<String>,
    },
    /// Show decisions taken on this device.
    History,
    /// Forget an account on this device (its keys leave the keychain).
    Remove {
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Same-device approval: listen on the loopback port for the site's page in a browser on
    /// this computer (only pages from an enrolled server's origin are taken).
    Loopback {
        #[arg(long, default_value_t = inkan_core::loopback::DEFAULT_LOOPBACK_PORT)]
        port: u16,
        /// Approve every request that passes the checks, without asking (QA automation).
        #[arg(long)]
        approve: bool,
    },
    /// Many virtual devices in this one process: enroll a folder or list of QR codes in
    /// parallel, keep every device watching, and take decisions by script (JSON commands on
    /// stdin, JSON events on stdout; see the README's QA guide).
    Fleet(fleet::FleetArgs),
    /// Passkeys of this device at the brokerage's site (QA automation without a browser).
    Passkey {
        #[command(subcommand)]
        action: PasskeyCommand,
    },
}

#[derive(Subcommand)]
enum PasskeyCommand {
    /// Log in to the site (password from INKAN_SITE_PASSWORD or the first line of stdin, then
    /// the second factor: this device approves the push itself when it is enrolled for the
    /// account, an e-mailed code is read from the next line of stdin) and register a passkey.
    Register {
        /// The site's origin, e.g. http://localhost:8400 (default: the enrolled account's server).
        #[arg(long)]
        site: Option<String>,
        /// The brokerage account number.
        #[arg(long)]
        account: String,
        /// The passkey's name, as the site lists it.
        #[arg(long, default_value = "inkan CLI")]
        name: String,
    },
    /// Log in to the site with a passkey of this device alone (no password, no code).
    Login {
        #[arg(long)]
        site: Option<String>,
    },
    /// List this device's passkeys.
    List,
    /// Delete a passkey from this device (remove it in the site's settings too).
    Remove {
        /// Credential ids are base64url and may start with '-'.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

struct Out {
    json: bool,
}

impl Out {
    fn emit(&self, value: serde_json::Value, human: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", human());
        }
        let _ = std::io::stdout().flush();
    }
}

fn challenge_json(p: &PendingChallenge) -> serde_json::Value {
    json!({"account": p.account, "challenge_id": p.challenge.id, "kind": p.challenge.details.kind(), "details": p.challenge.details, "number_digits": p.challenge.number_match.map(|n| n.digits), "expires_at": p.challenge.expires_at, "expires_at_jst": jst_rfc3339(p.challenge.expires_at), "summary": summary(&p.challenge.details)})
}

/// A signed RFC 3339 time as people read it ("2026年12月2日 6:43"); as sent if it is not one.
fn date_text(rfc3339: &str) -> String {
    parse_rfc3339(rfc3339).map(jst_date_ja).unwrap_or_else(|| rfc3339.to_owned())
}

fn challenge_human(p: &PendingChallenge, now: i64) -> String {
    let c = &p.challenge;
    let mut lines = vec![format!(
        "{}  [{}]  期限 / expires {}（残り / left {} s）",
        c.id,
        summary(&c.details),
        jst_date_ja(c.expires_at),
        (c.expires_at - now).max(0)
    )];
    match &c.details {
        ChallengeDetails::Login(l) => lines.push(format!(
            "  日時 / Time: {}   IP: {}   場所 / Place: {}   ブラウザ / Browser: {}",
            date_text(&l.time),
            l.ip,
            l.place,
            l.browser
        )),
        ChallengeDetails::Withdrawal(w) => lines.push(format!(
            "  金額 / Amount: {} {}   出金先 / To: {} {} {}   依頼日時 / Requested: {}",
            inkan_core::inbox::group_thousands(w.amount),
            w.currency,
            w.bank,
            w.branch,
            w.account_masked,
            date_text(&w.requested_at)
        )),
    }
    if let Some(n) = c.number_match {
        lines.push(format!(
            "  画面の{}桁の番号が必要です / Needs the {}-digit number shown on the page (--number)",
            n.digits, n.digits
        ));
    }
    lines.join("\n")
}

fn open(cli: &Cli) -> Result<(Authenticator, Arc<dyn KeyStore>), CoreError> {
    open_with(cli, fleet::KeyStoreChoice::Platform)
}

fn open_with(cli: &Cli, choice: fleet::KeyStoreChoice) -> Result<(Authenticator, Arc<dyn KeyStore>), CoreError> {
    let dir = match &cli.profile {
        Some(d) => d.clone(),
        None => Profile::default_dir()?,
    };
    let profile = Profile::open(dir)?;
    let keys: Arc<dyn KeyStore> = match choice {
        fleet::KeyStoreChoice::Platform => Arc::new(PlatformKeyStore::open()?),
        fleet::KeyStoreChoice::InsecureMemory => Arc::new(inkan_core::MemoryKeyStore::new()),
    };
    Ok((Authenticator::new(profile, keys.clone(), Arc::new(SystemClock))?, keys))
}

/// One line of stdin (the password or the mailed code when piped), without its newline.
fn stdin_line() -> Option<zeroize::Zeroizing<String>> {
    let mut line = zeroize::Zeroizing::new(String::new());
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned())),
    }
}

/// Asks on the terminal before approving a same-device request.
struct AskOnTerminal;

#[async_trait::async_trait]
impl inkan_core::loopback::LoopbackHandler for AskOnTerminal {
    async fn take(
        &self,
        auth: &Authenticator,
        account: &Account,
        pending: &PendingChallenge,
        number: &str,
    ) -> Result<inkan_core::loopback::LoopbackOutcome, CoreError> {
        use inkan_core::loopback::LoopbackOutcome;
        eprintln!("このコンピューターのブラウザからの承認依頼 / Request from a browser on this computer:");
        eprintln!("{}", challenge_human(pending, auth.now()));
        eprint!("承認しますか / Approve? [y/N] ");
        let yes = tokio::task::spawn_blocking(|| stdin_line().is_some_and(|l| l.trim().eq_ignore_ascii_case("y")))
            .await
            .unwrap_or(false);
        if !yes {
            return Ok(LoopbackOutcome::Declined);
        }
        inkan_core::loopback::ApproveAtOnce.take(auth, account, pending, number).await
    }
}

/// The site to talk to: the one named, or the server of the only enrolled account.
fn site_origin(auth: &Authenticator, site: Option<&str>) -> Result<String, CoreError> {
    match site {
        Some(s) => Ok(s.trim_end_matches('/').to_owned()),
        None => Ok(auth.account(None)?.page_origin().to_owned()),
    }
}

/// The keychain entry holding the site's "known browser" cookie for this profile.
fn browser_entry(origin: &str) -> String {
    format!("site-browser:{origin}")
}

/// Password and second factor at the site, as a customer would; this device approves the
/// push itself when it is enrolled for `account` at this site.
async fn site_login(
    auth: &Authenticator,
    keys: &Arc<dyn KeyStore>,
    site: &SiteClient,
    account: &str,
) -> Result<(), CoreError> {
    let origin = site.origin();
    if let Some(token) = keys.get(&browser_entry(&origin))? {
        site.set_cookie(site::BROWSER_COOKIE, &String::from_utf8_lossy(&token));
    }
    let password = match std::env::var("INKAN_SITE_PASSWORD") {
        Ok(p) => zeroize::Zeroizing::new(p),
        Err(_) => stdin_line().ok_or(CoreError::SiteRefused {
            code: "password_needed",
            message: "set INKAN_SITE_PASSWORD or pipe the password on stdin".into(),
        })?,
    };
    let mut step = site.login_password(account, &password).await?;
    loop {
        step = match step {
            LoginStep::Home => break,
            LoginStep::EmailCode => {
                eprintln!("メールで届いたワンタイム認証コードを入力 / Type the one-time code from the mail:");
                let code = stdin_line().ok_or(CoreError::EmailCodeNeeded)?;
                site.email_code(code.trim()).await?
            }
            LoginStep::Push { number } => {
                let mine = auth.accounts()?.into_iter().find(|a| a.page_origin() == origin && a.account_id == account);
                match (mine, number) {
                    (Some(a), Some(number)) => {
                        let pending = auth.pending(&a).await?;
                        let login = pending
                            .iter()
                            .find(|p| matches!(p.challenge.details, ChallengeDetails::Login(_)))
                            .ok_or_else(|| CoreError::ChallengeNotFound("login".into()))?;
                        auth.decide(&a, &login.challenge, Decision::Approve, Some(&number)).await?;
                    }
                    (_, number) => eprintln!(
                        "登録済みの端末で承認してください(番号 {n}) / Approve on your enrolled device (number {n})",
                        n = number.as_deref().unwrap_or("-")
                    ),
                }
                site.wait_push().await?
            }
        };
    }
    if let Some(token) = site.cookie(site::BROWSER_COOKIE) {
        keys.put(&browser_entry(&origin), token.as_bytes())?;
    }
    Ok(())
}

/// The account that holds pending challenge `id`, searching all when none is named.
async fn find_challenge(
    auth: &Authenticator,
    account: Option<&str>,
    id: &str,
) -> Result<(Account, PendingChallenge), CoreError> {
    let accounts = match account {
        Some(a) => vec![auth.account(Some(a))?],
        None => auth.accounts()?,
    };
    for a in accounts {
        if let Some(p) = auth.pending(&a).await?.into_iter().find(|p| p.challenge.id == id) {
            return Ok((a, p));
        }
    }
    Err(CoreError::ChallengeNotFound(id.to_owned()))
}

fn prompt_number(digits: u8) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("ページに表示された{digits}桁の番号を入力 / Type the {digits}-digit number shown on the page: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).ok()?;
    Some(line.trim().to_owned())
}

async fn run(cli: &Cli, out: &Out) -> Result<(), CoreError> {
    if let Command::Fleet(args) = &cli.command {
        let (auth, keys) = open_with(cli, args.keystore())?;
        let code = fleet::run(auth.with_key_cache(), args.keystore(), keys.describe(), args).await;
        std::process::exit(code);
    }
    let (auth, keys) = open(cli)?;
    match &cli.command {
        Command::Enroll { link, qr, name } => {
            let account = match (link, qr) {
                (Some(link), None) => auth.enroll(link, name).await?,
                (None, Some(path)) => {
                    let bytes = std::fs::read(path).map_err(|_| CoreError::ImageUnreadable)?;
                    auth.enroll_from_qr_image(&bytes, name).await?
                }
                _ => return Err(CoreError::BadLink(inkan_protocol::uri::UriError::Empty)),
            };
            out.emit(json!({"enrolled": fleet::device_json(&account)}), || {
                format!(
                    "登録しました / Enrolled: {} ({}) on {}\n  device {}",
                    account.name, account.id, account.origin, account.device_id
                )
            });
        }
        Command::Accounts => {
            let accounts = auth.accounts()?;
            out.emit(json!(accounts.iter().map(fleet::device_json).collect::<Vec<_>>()), || {
                if accounts.is_empty() {
                    return "登録済みのアカウントはありません / No accounts enrolled".into();
                }
                accounts.iter().map(|a| format!("{}  {}  {}", a.id, a.name, a.origin)).collect::<Vec<_>>().join("\n")
            });
        }
        Command::Pending { account } => {
            let accounts = match account {
                Some(a) => vec![auth.account(Some(a))?],
                None => auth.accounts()?,
            };
            let mut all = Vec::new();
            for a in &accounts {
                all.extend(auth.pending(a).await?);
            }
            let now = auth.now();
            out.emit(json!(all.iter().map(challenge_json).collect::<Vec<_>>()), || {
                if all.is_empty() {
                    return "承認待ちはありません / Nothing pending".into();
                }
                all.iter().map(|p| challenge_human(p, now)).collect::<Vec<_>>().join("\n")
            });
        }
        Command::Watch { account } => {
            let accounts = match account {
                Some(a) => vec![auth.account(Some(a))?],
                None => auth.accounts()?,
            };
            if accounts.is_empty() {
                return Err(CoreError::AccountNotFound(String::new()));
            }
            let auth = Arc::new(auth);
            let (tx, mut rx) = tokio::sync::mpsc::channel(64);
            for a in accounts {
                let (auth, tx) = (auth.clone(), tx.clone());
                tokio::spawn(async move { auth.watch(&a, tx).await });
            }
            drop(tx);
            while let Some(event) = rx.recv().await {
                let now = auth.now();
                match event {
                    WatchEvent::Connected { account } => out.emit(json!({"event": "connected", "account": account}), || format!("接続しました / Connected ({account})")),
                    WatchEvent::Challenge(p) => out.emit(json!({"event": "challenge", "challenge": challenge_json(&p)}), || format!("新しい承認依頼 / New request:\n{}", challenge_human(&p, now))),
                    WatchEvent::Resolved { account, outcome } => out.emit(json!({"event": "resolved", "account": account, "challenge_id": outcome.challenge_id, "state": outcome.state, "at_jst": jst_rfc3339(now)}), || {
                        format!("{}  {}: {}", jst_date_ja(now), outcome.challenge_id, outcome.state.as_str())
                    }),
                    WatchEvent::Discarded { account, challenge_id, error } => out.emit(json!({"event": "discarded", "account": account, "challenge_id": challenge_id, "error": error.code(), "message": error.detail()}), || {
                        format!("破棄しました / Discarded {challenge_id}: {} ({})", error.detail(), error.code())
                    }),
                    WatchEvent::Disconnected { account, error, retry_in } => out.emit(json!({"event": "disconnected", "account": account, "error": error.code(), "retry_in_ms": retry_in.as_millis() as u64}), || {
                        format!("切断されました、再接続します / Disconnected ({}), retrying in {} ms", error.code(), retry_in.as_millis())
                    }),
                    WatchEvent::Stopped { account, error } => out.emit(json!({"event": "stopped", "account": account, "error": error.code(), "message": error.detail()}), || {
                        format!("停止しました / Stopped ({account}): {} ({})", error.detail(), error.code())
                    }),
                }
            }
        }
        Command::Approve { id, number, account } => {
            let (a, p) = find_challenge(&auth, account.as_deref(), id).await?;
            let number = match (number, p.challenge.number_match) {
                (Some(n), _) => Some(n.clone()),
                (None, Some(nm)) => prompt_number(nm.digits),
                (None, None) => None,
            };
            let outcome = auth.decide(&a, &p.challenge, Decision::Approve, number.as_deref()).await?;
            out.emit(json!({"challenge_id": outcome.challenge_id, "state": outcome.state}), || {
                format!("承認しました / Approved: {}", outcome.challenge_id)
            });
        }
        Command::Deny { id, not_me, account } => {
            let (a, p) = find_challenge(&auth, account.as_deref(), id).await?;
            let decision = if *not_me { Decision::DenyFraud } else { Decision::Deny };
            let outcome = auth.decide(&a, &p.challenge, decision, None).await?;
            out.emit(json!({"challenge_id": outcome.challenge_id, "state": outcome.state}), || {
                if *not_me {
                    format!("拒否し、不正として報告しました。以後の通知は止まります / Denied and reported as not you; further pushes are blocked: {}", outcome.challenge_id)
                } else {
                    format!("拒否しました / Denied: {}", outcome.challenge_id)
                }
            });
        }
        Command::Code { account } => {
            let a = auth.account(account.as_deref())?;
            let code = auth.offline_code(&a).await?;
            out.emit(json!({"account": a.id, "code": code.code, "seconds_left": code.seconds_left}), || {
                format!("{}  (残り / valid for {} s)", code.code, code.seconds_left)
            });
        }
        Command::History => {
            let history = auth.history()?;
            let rows: Vec<serde_json::Value> = history
                .iter()
                .map(|h| {
                    let mut v = json!(h);
                    v["at_jst"] = json!(jst_rfc3339(h.at));
                    v
                })
                .collect();
            out.emit(json!(rows), || {
                if history.is_empty() {
                    return "履歴はありません / No history".into();
                }
                history
                    .iter()
                    .map(|h| {
                        // A decision the server refused says why, in the registry's words.
                        let refused = h
                            .refused
                            .as_deref()
                            .map(|code| format!("  ({code}: {})", error_text(code, true)))
                            .unwrap_or_default();
                        format!(
                            "{}  {}  {}  {}{refused}",
                            jst_date_ja(h.at),
                            h.decision.as_str(),
                            h.state.as_str(),
                            h.summary
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Remove { account } => {
            let a = auth.account(Some(account))?;
            auth.remove(&a).await?;
            out.emit(json!({"removed": a.id}), || format!("削除しました / Removed: {} ({})", a.name, a.id));
        }
        Command::Loopback { port, approve } => {
            let listener = inkan_core::loopback::bind(*port)
                .await
                .map_err(|e| CoreError::Storage(format!("loopback port {port}: {e}")))?;
            let handler: Arc<dyn inkan_core::loopback::LoopbackHandler> =
                if *approve { Arc::new(inkan_core::loopback::ApproveAtOnce) } else { Arc::new(AskOnTerminal) };
            out.emit(json!({"event": "listening", "port": port}), || {
                format!("待ち受け中 / Listening on 127.0.0.1:{port} (Ctrl-C で終了 / to stop)")
            });
            inkan_core::loopback::serve(listener, Arc::new(auth), handler).await;
        }
        Command::Fleet(_) => unreachable!("the fleet ran above"),
        Command::Passkey { action } => {
            let passkeys = Passkeys::new(PasskeyStore::new(auth.profile().dir(), keys.clone()));
            match action {
                PasskeyCommand::Register { site, account, name } => {
                    let site = SiteClient::new(&site_origin(&auth, site.as_deref())?)?;
                    site_login(&auth, &keys, &site, account).await?;
                    let id = site.register_passkey(&passkeys, name).await?;
                    out.emit(json!({"registered": id, "site": site.origin(), "name": name}), || {
                        format!("パスキーを登録しました / Passkey registered: {name} ({id}) at {}", site.origin())
                    });
                }
                PasskeyCommand::Login { site } => {
                    let site = SiteClient::new(&site_origin(&auth, site.as_deref())?)?;
                    let id = site.login_with_passkey(&passkeys).await?;
                    let logged_in = site.logged_in().await?;
                    out.emit(json!({"logged_in": logged_in, "passkey": id, "site": site.origin()}), || {
                        format!("パスキーでログインしました / Logged in with passkey {id} at {}", site.origin())
                    });
                }
                PasskeyCommand::List => {
                    let list = passkeys.store().list()?;
                    out.emit(json!(list), || {
                        if list.is_empty() {
                            return "パスキーはありません / No passkeys".into();
                        }
                        list.iter()
                            .map(|p| {
                                format!("{}  {}  {}", p.credential_id, p.rp_id, p.user_name.as_deref().unwrap_or(""))
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                }
                PasskeyCommand::Remove { id } => {
                    if !passkeys.store().remove(id)? {
                        return Err(CoreError::PasskeyNotFound(id.clone()));
                    }
                    out.emit(json!({"removed": id}), || format!("削除しました / Removed: {id}"));
                }
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let cli = Cli::parse();
    let out = Out { json: cli.json };
    if let Err(e) = run(&cli, &out).await {
        if cli.json {
            println!("{}", json!({"error": e.code(), "message": e.detail()}));
        } else {
            // The registry's words (the app and the site say the same), then the code once,
            // with what the error adds to it.
            let (ja, en) = (error_text(e.code(), true), error_text(e.code(), false));
            eprintln!("エラー: {ja}\nError: {en}\n({}: {})", e.code(), e.detail());
        }
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command, PasskeyCommand};

    /// Challenge and credential ids are base64url: one in 64 starts with '-', and must still be
    /// taken as the id, not as an unknown option.
    #[test]
    fn ids_that_start_with_a_hyphen_are_ids() {
        let id = "-9Xk_aB";
        let parse = |args: &[&str]| Cli::try_parse_from([&["inkan"], args].concat()).map(|c| c.command);
        assert!(matches!(parse(&["approve", id, "--number", "123"]), Ok(Command::Approve { id: i, .. }) if i == id));
        assert!(matches!(parse(&["deny", id, "--not-me"]), Ok(Command::Deny { id: i, not_me: true, .. }) if i == id));
        assert!(matches!(
            parse(&["passkey", "remove", id]),
            Ok(Command::Passkey { action: PasskeyCommand::Remove { id: i } }) if i == id
        ));
        // Options after the id still parse as options.
        assert!(
            matches!(parse(&["approve", id, "--account", "1"]), Ok(Command::Approve { account: Some(a), .. }) if a == "1")
        );
        assert!(parse(&["approve", id, "--bogus"]).is_err(), "an unknown option after the id is refused");
    }
}
