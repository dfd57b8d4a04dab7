//! The server binary refuses to start on a data directory or database it cannot use with one
//! line that names the path and the cause, in Japanese and English, and no backtrace.

use std::process::Command;

fn start(data_dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inkan-server"))
        .args(["--dev", "--data-dir"])
        .arg(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LOG", "off")
        .output()
        .expect("the server binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn assert_one_clear_line(stderr: &str, path: &std::path::Path) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    let line = lines[0];
    assert!(line.contains(&path.display().to_string()), "names the path: {line}");
    assert!(line.contains("ません") && line.contains("cannot"), "Japanese and English: {line}");
    assert!(!line.contains("backtrace") && !stderr.contains("panicked"), "no backtrace: {stderr}");
}

#[test]
fn a_data_directory_that_is_a_file_is_named_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"").unwrap();
    let (ok, stderr) = start(&file);
    assert!(!ok);
    assert_one_clear_line(&stderr, &file);
}

#[test]
fn a_database_that_cannot_be_opened_is_named_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    // The database file's place is taken by a directory: SQLite cannot open it.
    std::fs::create_dir(dir.path().join("inkan.sqlite3")).unwrap();
    let (ok, stderr) = start(dir.path());
    assert!(!ok);
    assert_one_clear_line(&stderr, &dir.path().join("inkan.sqlite3"));
}

#[test]
fn a_data_directory_under_a_read_only_file_system_is_named_with_its_cause() {
    // /proc refuses new files even to root (CI runs as root, so permissions alone would not).
    let dir = std::path::Path::new("/proc/self/inkan-data");
    let (ok, stderr) = start(dir);
    assert!(!ok);
    assert_one_clear_line(&stderr, dir);
}

fn config_check(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inkan-server"));
    cmd.args(args).arg("--data-dir").arg(dir.path()).args(["config", "check"]).env("RUST_LOG", "off");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_prints_the_effective_configuration_redacted_and_refuses_unsafe_values() {
    let key = "production-api-key-0123456789";
    let (ok, out, err) =
        config_check(&["--dev"], &[("INKAN_RP_API_KEY", key), ("INKAN_LIMIT_CHALLENGE_TTL_SECS", "90")]);
    assert!(ok, "{err}");
    assert!(out.contains("challenge_ttl_secs: 90"), "the override is in effect: {out}");
    assert!(!out.contains(key) && out.contains("[redacted]"), "secrets redacted: {out}");
    // A misspelt limit, and production without its secrets or with plain http, are refused.
    let (ok, _, err) = config_check(&["--dev"], &[("INKAN_LIMIT_CHALENGE_TTL_SECS", "90")]);
    assert!(!ok && err.contains("INKAN_LIMIT_CHALENGE_TTL_SECS"), "{err}");
    let (ok, _, err) = config_check(&[], &[]);
    assert!(!ok && err.contains("INKAN_SERVER_SIGNING_KEY"), "{err}");
    let signing = inkan_protocol::keys::b64(&[7u8; 32]);
    let sealing = format!("k1:{}", inkan_protocol::keys::b64(&[9u8; 32]));
    let prod = [
        ("INKAN_SERVER_SIGNING_KEY", signing.as_str()),
        ("INKAN_SECRET_KEYS", sealing.as_str()),
        ("INKAN_RP_API_KEY", key),
        ("INKAN_PUBLIC_ORIGIN", "http://auth.broker.example"),
        ("INKAN_SMTP_URL", "smtp://127.0.0.1:2525"),
    ];
    let (ok, _, err) = config_check(&[], &prod);
    assert!(!ok && err.contains("plain http"), "plain http refused in production: {err}");
}
