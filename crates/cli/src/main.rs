//! `inkan`: the Inkan authenticator without a display, for customers on a terminal and for QA
//! automation (`--json` everywhere, `--profile DIR` for many virtual devices side by side).
//! Every command is a thin call into `inkan-core`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use inkan_core::inbox::summary;
use inkan_core::{
    Account, Authenticator, CoreError, PendingChallenge, PlatformKeyStore, Profile, SystemClock, WatchEvent,
};
use inkan_protocol::{ChallengeDetails, Decision};
use serde_json::json;

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
        id: String,
        /// The number shown on the login or withdrawal page.
        #[arg(long)]
        number: Option<String>,
        #[arg(long)]
        account: Option<String>,
    },
    /// Deny a challenge.
    Deny {
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
    Remove { account: String },
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

fn account_json(a: &Account) -> serde_json::Value {
    json!({"id": a.id, "name": a.name, "origin": a.origin, "account_id": a.account_id, "device_id": a.device_id, "enrolled_at": a.enrolled_at})
}

fn challenge_json(p: &PendingChallenge) -> serde_json::Value {
    json!({"account": p.account, "challenge_id": p.challenge.id, "kind": p.challenge.details.kind(), "details": p.challenge.details, "number_digits": p.challenge.number_match.map(|n| n.digits), "expires_at": p.challenge.expires_at, "summary": summary(&p.challenge.details)})
}

fn challenge_human(p: &PendingChallenge, now: i64) -> String {
    let c = &p.challenge;
    let mut lines =
        vec![format!("{}  [{}]  残り / expires in {} s", c.id, summary(&c.details), (c.expires_at - now).max(0))];
    match &c.details {
        ChallengeDetails::Login(l) => lines.push(format!(
            "  日時 / Time: {}   IP: {}   場所 / Place: {}   ブラウザ / Browser: {}",
            l.time, l.ip, l.place, l.browser
        )),
        ChallengeDetails::Withdrawal(w) => lines.push(format!(
            "  金額 / Amount: {} {}   振込先 / To: {} {} {}   依頼日時 / Requested: {}",
            inkan_core::inbox::group_thousands(w.amount),
            w.currency,
            w.bank,
            w.branch,
            w.account_masked,
            w.requested_at
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

fn open(cli: &Cli) -> Result<Authenticator, CoreError> {
    let dir = match &cli.profile {
        Some(d) => d.clone(),
        None => Profile::default_dir()?,
    };
    let profile = Profile::open(dir)?;
    let keys = PlatformKeyStore::open()?;
    Authenticator::new(profile, Arc::new(keys), Arc::new(SystemClock))
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
    let auth = open(cli)?;
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
            out.emit(json!({"enrolled": account_json(&account)}), || {
                format!(
                    "登録しました / Enrolled: {} ({}) on {}\n  device {}",
                    account.name, account.id, account.origin, account.device_id
                )
            });
        }
        Command::Accounts => {
            let accounts = auth.accounts()?;
            out.emit(json!(accounts.iter().map(account_json).collect::<Vec<_>>()), || {
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
                    WatchEvent::Resolved { account, outcome } => out.emit(json!({"event": "resolved", "account": account, "challenge_id": outcome.challenge_id, "state": outcome.state}), || {
                        format!("{}: {}", outcome.challenge_id, outcome.state.as_str())
                    }),
                    WatchEvent::Discarded { account, challenge_id, error } => out.emit(json!({"event": "discarded", "account": account, "challenge_id": challenge_id, "error": error.code(), "message": error.to_string()}), || {
                        format!("破棄しました / Discarded {challenge_id}: {error} ({})", error.code())
                    }),
                    WatchEvent::Disconnected { account, error, retry_in } => out.emit(json!({"event": "disconnected", "account": account, "error": error.code(), "retry_in_ms": retry_in.as_millis() as u64}), || {
                        format!("切断されました、再接続します / Disconnected ({}), retrying in {} ms", error.code(), retry_in.as_millis())
                    }),
                    WatchEvent::Stopped { account, error } => out.emit(json!({"event": "stopped", "account": account, "error": error.code(), "message": error.to_string()}), || {
                        format!("停止しました / Stopped ({account}): {error} ({})", error.code())
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
            out.emit(json!(history), || {
                if history.is_empty() {
                    return "履歴はありません / No history".into();
                }
                history
                    .iter()
                    .map(|h| format!("{}  {}  {}  {}", h.at, h.decision.as_str(), h.state.as_str(), h.summary))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Remove { account } => {
            let a = auth.account(Some(account))?;
            auth.remove(&a).await?;
            out.emit(json!({"removed": a.id}), || format!("削除しました / Removed: {} ({})", a.name, a.id));
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
            println!("{}", json!({"error": e.code(), "message": e.to_string()}));
        } else {
            eprintln!("エラー / Error: {e} ({})", e.code());
        }
        std::process::exit(1);
    }
}
