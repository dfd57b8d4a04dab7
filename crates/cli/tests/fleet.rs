//! `inkan fleet` as a QA pipeline drives it: one process, a folder of enrollment QR images,
//! decisions by JSON lines on stdin, events as JSON lines on stdout, the real keychain.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use inkan_e2e::*;
use inkan_protocol::ChallengeState;
use serde_json::{Value, json};

const DEVICES: usize = 100;

struct FleetProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::sync::mpsc::Receiver<Value>,
    /// Every line seen, for the messages of failed assertions.
    seen: Vec<Value>,
}

impl FleetProcess {
    fn start(profile: &std::path::Path, args: &[&str]) -> FleetProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_inkan"))
            .arg("--profile")
            .arg(profile)
            .arg("fleet")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("inkan fleet starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        FleetProcess { child, stdin, lines, seen: Vec::new() }
    }

    fn send(&mut self, command: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
    }

    fn send_raw(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// The next line for which `pick` says yes (lines before it are kept in `seen`).
    fn next(&mut self, what: &str, within: Duration, mut pick: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pick(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("no {what} within {within:?}; last lines: {:#?}", last(&self.seen, 8)),
            }
        }
    }

    fn event(&mut self, name: &str) -> Value {
        self.next(name, EVENT_WAIT * 6, |v| v["event"] == name)
    }

    /// The reply to command `id`, whether it came already (replies come in the order the
    /// commands finish) or is still to come.
    fn reply(&mut self, id: &Value) -> Value {
        let id = id.clone();
        if let Some(v) = self.seen.iter().find(|v| v["reply_to"] == id) {
            return v.clone();
        }
        self.next(&format!("reply to {id}"), EVENT_WAIT * 3, |v| v["reply_to"] == id)
    }

    fn call(&mut self, mut command: Value, id: u64) -> Value {
        command["id"] = json!(id);
        self.send(command);
        self.reply(&json!(id))
    }
}

fn last(v: &[Value], n: usize) -> &[Value] {
    &v[v.len().saturating_sub(n)..]
}

impl Drop for FleetProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn account(i: usize) -> String {
    format!("6{:07}", i + 1)
}

fn write_png(dir: &std::path::Path, name: &str, ticket: &inkan_protocol::TicketCreated) {
    let png = base64::engine::general_purpose::STANDARD.decode(&ticket.qr_png_base64).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_devices_from_qr_images_in_one_process_approve_deny_and_see_revocation() {
    let keys = platform_keys();
    // One QA machine enrolls and connects a hundred devices in seconds: the per-client limit
    // on unauthenticated calls (enroll, nonce, session) is raised as a QA verifier would set it.
    let t = TestServer::start_with(|l| l.unauthenticated_per_minute_per_client = 10_000).await;
    let qr = t.dir.path().join("qr");
    std::fs::create_dir_all(&qr).unwrap();
    for i in 0..DEVICES {
        write_png(&qr, &format!("dev-{i:03}.png"), &t.ticket(&account(i)).await);
    }
    // Two bad ones in the batch: a ticket already spent, and a file that is no image.
    let spent = t.ticket("69999999").await;
    t.device(keys.clone()).enroll(&spent.uri, "first").await.unwrap();
    write_png(&qr, "spent.png", &spent);
    std::fs::write(qr.join("broken.png"), b"this is not a PNG").unwrap();

    let profile = t.dir.path().join("fleet");
    let mut fleet = FleetProcess::start(&profile, &["--enroll", qr.to_str().unwrap(), "--name-prefix", "qa-"]);
    let started = fleet.event("started");
    assert_eq!(started["keystore"], "platform", "{started}");
    assert_eq!(started["to_enroll"], DEVICES + 2);

    let done = fleet.event("enrollment_done");
    let failed: Vec<&Value> = fleet.seen.iter().filter(|v| v["event"] == "enroll_failed").collect();
    assert_eq!(
        (done["enrolled"].as_u64(), done["failed"].as_u64()),
        (Some(DEVICES as u64), Some(2)),
        "{done} {failed:#?}"
    );
    let failures: Vec<(String, String)> = fleet
        .seen
        .iter()
        .filter(|v| v["event"] == "enroll_failed")
        .map(|v| (v["source"].as_str().unwrap().to_owned(), v["error"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    for (source, code) in &failures {
        if source.ends_with("spent.png") {
            assert_eq!(code, "ticket_already_used");
        } else {
            assert!(source.ends_with("broken.png"), "{source}");
            assert_eq!(code, "image_unreadable");
        }
    }
    let enrolled: Vec<Value> = fleet.seen.iter().filter(|v| v["event"] == "enrolled").cloned().collect();
    assert!(
        enrolled.iter().all(|v| v["device"]["name"].as_str().unwrap().starts_with("qa-dev-")),
        "the device name given, not the ticket's label"
    );
    assert!(fleet.seen.iter().all(|v| !v.to_string().contains("inkan://")), "no enrollment link is echoed");

    // Every device's live channel connects.
    let mut connected: std::collections::HashSet<String> = fleet
        .seen
        .iter()
        .filter(|v| v["event"] == "connected")
        .map(|v| v["account"].as_str().unwrap().to_owned())
        .collect();
    while connected.len() < DEVICES {
        let v = fleet.event("connected");
        connected.insert(v["account"].as_str().unwrap().to_owned());
    }

    // A hundred number-matched logins, one per device, approved by script by account and number.
    let mut created = Vec::new();
    for i in 0..DEVICES {
        created.push(t.challenge(&account(i), login(), true).await);
    }
    for (i, c) in created.iter().enumerate() {
        fleet.send(json!({"id": i, "op": "approve", "account": account(i), "number": c.number_to_show}));
    }
    for i in 0..DEVICES {
        let reply = fleet.reply(&json!(i));
        assert_eq!(reply["event"], "decided", "{reply}");
        assert_eq!(reply["state"], "approved", "{reply}");
        assert_eq!(reply["account_id"], account(i));
    }
    for c in &created {
        assert_eq!(t.status(&c.challenge_id).await.state, ChallengeState::Approved);
    }

    // Ten denied as "not me" by challenge id: the relying party sees it, and pushes stop.
    let mut fraud = Vec::new();
    for i in 0..10 {
        fraud.push(t.challenge(&account(i), withdrawal(50_000), false).await);
    }
    for (i, c) in fraud.iter().enumerate() {
        let reply = fleet.call(json!({"op": "deny", "challenge": c.challenge_id, "not_me": true}), 1000 + i as u64);
        assert_eq!(reply["state"], "denied_fraud", "{reply}");
    }
    for (i, c) in fraud.iter().enumerate() {
        assert_eq!(t.status(&c.challenge_id).await.state, ChallengeState::DeniedFraud);
        let refused = t.try_challenge(&account(i), login(), false).await.unwrap_err();
        assert_eq!(refused.code.as_str(), "push_blocked");
    }

    // A device revoked at the brokerage: its channel stops and says why.
    let victim = enrolled.iter().find(|v| v["device"]["account_id"] == account(50)).unwrap()["device"].clone();
    t.revoke(&account(50), victim["device_id"].as_str().unwrap()).await;
    let stopped = fleet.next("the revoked device's channel to stop", EVENT_WAIT * 3, |v| {
        v["event"] == "stopped" && v["account"] == victim["id"]
    });
    assert_eq!(stopped["error"], "device_revoked", "{stopped}");
    let devices = fleet.call(json!({"op": "devices"}), 2000);
    let list = devices["devices"].as_array().unwrap();
    assert_eq!(list.len(), DEVICES);
    let revoked = list.iter().find(|d| d["id"] == victim["id"]).unwrap();
    assert_eq!((revoked["channel"].as_str(), revoked["error"].as_str()), (Some("stopped"), Some("device_revoked")));
    assert_eq!(list.iter().filter(|d| d["channel"] == "connected").count(), DEVICES - 1);

    fleet.send(json!({"op": "quit"}));
    fleet.event("finished");
    assert!(fleet.child.wait().unwrap().success());

    // Nothing half-enrolled: the profile holds exactly the hundred good devices, each of whose
    // keys is in the keychain.
    let out = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .arg("--profile")
        .arg(&profile)
        .args(["--json", "accounts"])
        .output()
        .unwrap();
    let accounts: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(accounts.len(), DEVICES);
    for a in &accounts {
        let id = a["id"].as_str().unwrap();
        assert!(keys.get(&format!("{id}/device-key")).unwrap().is_some(), "key of {id} in the keychain");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_commands_get_clear_errors_and_the_fleet_goes_on() {
    let _keys = platform_keys();
    let t = TestServer::start().await;
    let list = t.dir.path().join("links.txt");
    let a = t.ticket("61000001").await;
    let b = t.ticket("61000002").await;
    let b2 = t.ticket("61000002").await;
    std::fs::write(
        &list,
        format!("# two customers, one with two devices\n{}\n{}\n{}\ninkan://enroll?x=1\n", a.uri, b.uri, b2.uri),
    )
    .unwrap();
    let profile = t.dir.path().join("fleet");
    let mut fleet = FleetProcess::start(&profile, &["--list", list.to_str().unwrap()]);
    let failed = fleet.event("enroll_failed");
    assert_eq!(failed["source"], format!("{}:5", list.display()), "named by file and line: {failed}");
    assert!(failed["error"].as_str().unwrap().starts_with("uri_"), "{failed}");
    assert_eq!(fleet.event("enrollment_done")["enrolled"], 3);
    while fleet.seen.iter().filter(|v| v["event"] == "connected").count() < 3 {
        fleet.event("connected");
    }

    fleet.send_raw("{not json\n");
    assert_eq!(fleet.event("error")["error"], "bad_command");
    let r = fleet.call(json!({"op": "launch"}), 1);
    assert_eq!(r["error"], "bad_command");
    let r = fleet.call(json!({"op": "approve", "acount": "61000001"}), 2);
    assert_eq!(r["error"], "bad_command", "a misspelt field is refused, not ignored: {r}");
    let r = fleet.call(json!({"op": "approve"}), 3);
    assert_eq!(r["error"], "bad_command");
    let r = fleet.call(json!({"op": "approve", "account": "69999999", "wait_ms": 50}), 4);
    assert_eq!(r["error"], "account_not_found");
    let r = fleet.call(json!({"op": "approve", "account": "61000001", "wait_ms": 100}), 5);
    assert_eq!(r["error"], "challenge_not_found", "nothing arrived: {r}");
    let r = fleet.call(json!({"op": "code", "account": "61000002"}), 6);
    assert_eq!(r["error"], "account_ambiguous", "two devices on one account: {r}");
    let long = format!("{{\"op\":\"devices\",\"pad\":\"{}\"}}\n", "x".repeat(100_000));
    fleet.send_raw(&long);
    assert_eq!(fleet.event("error")["error"], "command_too_long");

    // An approval sent before its challenge arrives waits for it.
    fleet.send(json!({"id": 7, "op": "approve", "account": "61000001", "number": "000", "wait_ms": 20_000}));
    let c = t.challenge("61000001", login(), true).await;
    let number = c.number_to_show.clone().unwrap();
    let r = fleet.reply(&json!(7));
    // "000" is the wrong number unless the server chose it; either way one decision was taken.
    if number == "000" {
        assert_eq!(r["state"], "approved", "{r}");
    } else {
        assert_ne!(r["state"], "approved", "{r}");
    }
    // A malformed number is refused before anything is sent, and the challenge stays to decide.
    let c = t.challenge("61000002", login(), true).await;
    let device = fleet.call(json!({"op": "wait", "challenge": c.challenge_id}), 8);
    let local = device["challenge"]["account"].as_str().unwrap().to_owned();
    let r = fleet.call(json!({"op": "approve", "challenge": c.challenge_id, "number": "1"}), 9);
    assert_eq!(r["error"], "number_malformed");
    let pending = fleet.call(json!({"op": "pending", "account": local}), 10);
    assert_eq!(pending["challenges"][0]["challenge_id"], c.challenge_id.as_str(), "{pending}");
    let r = fleet.call(json!({"op": "approve", "challenge": c.challenge_id, "number": c.number_to_show}), 11);
    assert_eq!(r["state"], "approved", "{r}");
    // Two pending for one account: the script must say which.
    t.challenge("61000001", login(), false).await;
    let second = t.challenge("61000001", withdrawal(1000), false).await;
    fleet.next("the second challenge", EVENT_WAIT, |v| v["challenge"]["challenge_id"] == second.challenge_id.as_str());
    let r = fleet.call(json!({"op": "pending", "account": "61000001"}), 12);
    assert_eq!(r["challenges"].as_array().unwrap().len(), 2);
    let r = fleet.call(json!({"op": "deny", "account": "61000001"}), 13);
    assert_eq!(r["error"], "challenge_ambiguous", "{r}");

    // End of input: the fleet finishes what is in flight and exits.
    drop(fleet.stdin.take());
    fleet.event("finished");
    assert!(fleet.child.wait().unwrap().success());
}

#[test]
fn the_insecure_key_store_is_named_loudly_and_the_default_is_the_keychain() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .arg("--profile")
        .arg(dir.path())
        .args(["fleet", "--keystore", "insecure-memory", "--enroll-only"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("INSECURE in-memory key store") && stderr.contains("安全でない"), "{stderr}");
    let first: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["keystore"], "insecure-memory");
    let refused = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .arg("--profile")
        .arg(dir.path())
        .args(["fleet", "--keystore", "memory"])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "only the full name selects it");
    let missing = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .arg("--profile")
        .arg(dir.path())
        .args(["fleet", "--keystore", "insecure-memory", "--enroll", "/nonexistent-folder"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stdout).contains("\"error\":\"storage\""));
}
