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
