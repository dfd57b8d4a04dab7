//! The binary starts and explains itself in Japanese first, English second.

use std::process::Command;

#[test]
fn help_is_bilingual_and_lists_every_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_inkan")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Inkan 認証アプリ") && text.contains("Inkan authenticator"), "{text}");
    for command in ["enroll", "accounts", "pending", "watch", "approve", "deny", "code", "history", "remove"] {
        assert!(text.contains(command), "{command} missing from --help");
    }
}

#[test]
fn a_missing_link_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_inkan")).args(["enroll", "--qr"]).output().unwrap();
    assert!(!out.status.success());
}
