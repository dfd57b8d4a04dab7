//! The Inkan app's Tauri shell. A placeholder until the app issue lands: the shell will be
//! typed commands and events over `inkan-core`, with no business logic of its own. Until
//! then the `inkan` CLI (crates/cli) is the authenticator.
#![forbid(unsafe_code)]

fn main() {
    eprintln!(
        "Inkan アプリはまだありません。`inkan` コマンドを使ってください。\n\
         The Inkan app window is not built yet; use the `inkan` command-line authenticator."
    );
    std::process::exit(2);
}
