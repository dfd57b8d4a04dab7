//! What both services' binaries do the same way: logging, the runtime, the one error line,
//! and the stop signal.

/// Sets up logging on standard error: JSON lines (one object a line, with the request span's
/// id) unless `INKAN_LOG_FORMAT=text`, or `dev` without `INKAN_LOG_FORMAT=json` (text for
/// people reading a terminal). `RUST_LOG` sets the level (default `info`).
pub fn init_logging(dev: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let json = match std::env::var("INKAN_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        _ => !dev,
    };
    if json {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
}

/// Runs `work` on a new runtime; a failure ends with one line on standard error, in Japanese
/// and English, naming what could not be done and why (the cause chain, each cause said once),
/// and exit status 1. No backtrace: the cause chain is the message.
pub fn run_main(name: &str, work: impl std::future::Future<Output = anyhow::Result<()>>) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name}: 起動できません / cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let mut line = String::new();
            for cause in e.chain().map(|c| c.to_string()) {
                if !line.ends_with(&cause) {
                    if !line.is_empty() {
                        line.push_str(": ");
                    }
                    line.push_str(&cause);
                }
            }
            eprintln!("{name}: エラー / error: {line}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The database URL a service starts with: `given`, or the embedded SQLite file `file_name` in
/// `data_dir`. The data directory is created, and when the embedded file is used, checked
/// for writing now, so that a failure names the directory rather than coming later as the
/// database driver's bare message.
pub fn database_url(data_dir: &std::path::Path, given: Option<&str>, file_name: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    let dir = data_dir.display();
    std::fs::create_dir_all(data_dir).with_context(|| {
        format!("データディレクトリ {dir} を作成できません / cannot create the data directory {dir}")
    })?;
    if let Some(url) = given {
        return Ok(url.to_owned());
    }
    let probe = data_dir.join(format!(".inkan-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe)).with_context(|| {
        format!("データディレクトリ {dir} に書き込めません / cannot write to the data directory {dir}")
    })?;
    Ok(format!("sqlite://{}?mode=rwc", data_dir.join(file_name).display()))
}

/// The configuration file's text, if one is named.
pub fn read_config(path: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    use anyhow::Context;
    path.map(|path| {
        std::fs::read_to_string(path).with_context(|| {
            let p = path.display();
            format!("設定ファイル {p} を読めません / cannot read the configuration file {p}")
        })
    })
    .transpose()
}

/// Ctrl-C, or SIGTERM from a service manager.
pub async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
