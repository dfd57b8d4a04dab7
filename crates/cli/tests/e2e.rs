//! The `inkan` CLI as QA automation drives it: separate processes, `--json` output, several
//! virtual devices side by side through `--profile`, the real keychain underneath.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use base64::Engine;
use inkan_e2e::*;
use serde_json::Value;

struct Cli {
    bin: std::path::PathBuf,
    profile: std::path::PathBuf,
}

impl Cli {
    fn new(t: &TestServer, name: &str) -> Cli {
        Cli { bin: env!("CARGO_BIN_EXE_inkan").into(), profile: t.dir.path().join(name) }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--profile").arg(&self.profile).arg("--json").args(args).stdin(Stdio::null());
        c
    }

    /// Runs to completion: (success, the last JSON line printed).
    fn run(&self, args: &[&str]) -> (bool, Value) {
        let out = self.command(args).output().expect("inkan runs");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let last = stdout
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no output; stderr: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.success(), serde_json::from_str(last).unwrap_or_else(|_| panic!("not JSON: {last}")))
    }

    fn ok(&self, args: &[&str]) -> Value {
        let (ok, v) = self.run(args);
        assert!(ok, "inkan {args:?} failed: {v}");
        v
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, v) = self.run(args);
        assert!(!ok, "inkan {args:?} should fail: {v}");
        v["error"].as_str().expect("an error code").to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qa_enrolls_from_a_qr_file_and_decides_from_the_command_line() {
    let _keys = platform_keys();
    let t = TestServer::start().await;
    let ticket = t.ticket("40011111").await;
    let png = t.dir.path().join("ticket.png");
    std::fs::write(&png, base64::engine::general_purpose::STANDARD.decode(&ticket.qr_png_base64).unwrap()).unwrap();

    let cli = Cli::new(&t, "qa-device-1");
    let enrolled = cli.ok(&["enroll", "--qr", png.to_str().unwrap(), "--name", "QA device 1"]);
    assert_eq!(enrolled["enrolled"]["account_id"], "40011111");
    let accounts = cli.ok(&["accounts"]);
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    let local_id = accounts[0]["id"].as_str().unwrap().to_owned();

    // A second virtual device on another account, side by side.
    let other = Cli::new(&t, "qa-device-2");
    other.ok(&["enroll", &t.ticket("40022222").await.uri, "--name", "QA device 2"]);

    let created = t.challenge("40011111", withdrawal(777_000), true).await;
    let pending = cli.ok(&["pending"]);
    assert_eq!(pending[0]["challenge_id"], created.challenge_id.as_str());
    assert_eq!(pending[0]["details"]["amount"], 777_000);
    assert_eq!(pending[0]["number_digits"], 2);
    assert_eq!(other.ok(&["pending"]).as_array().unwrap().len(), 0, "the other device sees nothing");

    assert_eq!(cli.fails(&["approve", &created.challenge_id]), "number_required");
    assert_eq!(cli.fails(&["approve", &created.challenge_id, "--number", "1"]), "number_malformed");
    assert_eq!(other.fails(&["approve", &created.challenge_id, "--number", "12"]), "challenge_not_found");
    let number = created.number_to_show.unwrap();
    let approved = cli.ok(&["approve", &created.challenge_id, "--number", &number]);
    assert_eq!(approved["state"], "approved");
    assert_eq!(t.status(&created.challenge_id).await.state, inkan_protocol::ChallengeState::Approved);

    let second = t.challenge("40011111", login(), false).await;
    let denied = cli.ok(&["deny", &second.challenge_id, "--not-me"]);
    assert_eq!(denied["state"], "denied_fraud");
    assert!(t.push_state("40011111").await.push_blocked);

    let code = cli.ok(&["code"]);
    assert_eq!(code["code"].as_str().unwrap().len(), 6);
    let history = cli.ok(&["history"]);
    assert_eq!(history.as_array().unwrap().len(), 2);

    assert_eq!(cli.fails(&["enroll", "this is not a link"]), "uri_not_a_link");
    assert_eq!(cli.fails(&["enroll", &ticket.uri]), "ticket_already_used");
    assert_eq!(cli.fails(&["enroll", "--qr", "/nonexistent.png"]), "image_unreadable");

    cli.ok(&["remove", &local_id]);
    assert_eq!(cli.ok(&["accounts"]).as_array().unwrap().len(), 0);
    let other_id = other.ok(&["accounts"])[0]["id"].as_str().unwrap().to_owned();
    other.ok(&["remove", &other_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_challenges_as_they_arrive() {
    let _keys = platform_keys();
    let t = TestServer::start().await;
    let cli = Cli::new(&t, "watcher");
    cli.ok(&["enroll", &t.ticket("40033333").await.uri]);
    let mut child = cli.command(&["watch"]).stdout(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                break;
            }
        }
    });
    let next = |want: &str| loop {
        let v = rx.recv_timeout(EVENT_WAIT).unwrap_or_else(|_| panic!("no {want} event"));
        if v["event"] == want {
            break v;
        }
    };
    next("connected");
    let created = t.challenge("40033333", withdrawal(12_345), false).await;
    let pushed = next("challenge");
    assert_eq!(pushed["challenge"]["challenge_id"], created.challenge_id.as_str());
    assert!(pushed["challenge"]["summary"].as_str().unwrap().contains("12,345 JPY"));
    cli.ok(&["approve", &created.challenge_id]);
    let resolved = next("resolved");
    assert_eq!(resolved["state"], "approved");
    child.kill().unwrap();
    let _ = child.wait();
    let id = cli.ok(&["accounts"])[0]["id"].as_str().unwrap().to_owned();
    cli.ok(&["remove", &id]);
}
