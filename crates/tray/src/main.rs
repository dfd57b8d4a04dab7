//! `inkan-tray [--profile DIR]`: the app's resident process for a profile (`INKAN_PROFILE`, or
//! the default one). `inkan-app` starts it; it ends when asked to quit (tray menu, the bus) or
//! on SIGTERM. `INKAN_LOOPBACK_PORT` sets same-device approval's port (0: off),
//! `INKAN_APP_BIN` the window's executable, `INKAN_APP_MEASURE=1` prints timings.
#![forbid(unsafe_code)]

#[cfg(target_os = "linux")]
fn main() {
    use std::path::PathBuf;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,inkan_tray=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut profile = std::env::var_os("INKAN_PROFILE").map(PathBuf::from);
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--profile" {
            profile = args.next().map(PathBuf::from);
        }
    }
    let profile = match profile.map(Ok).unwrap_or_else(inkan_core::Profile::default_dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("エラー / Error: {e}");
            std::process::exit(1);
        }
    };
    let app = std::env::var_os("INKAN_APP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_exe().unwrap_or_default().with_file_name("inkan-app"));
    let loopback_port = std::env::var("INKAN_LOOPBACK_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(inkan_core::loopback::DEFAULT_LOOPBACK_PORT);
    let measure = std::env::var("INKAN_APP_MEASURE").is_ok_and(|v| v == "1");
    let opts = inkan_tray::resident::Options { profile, app, loopback_port, measure };
    // One thread: a handful of idle connections and a timer need no more.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    if let Err(e) = runtime.block_on(inkan_tray::resident::run(opts)) {
        eprintln!("エラー / Error: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("inkan-tray is the Linux desktop's resident process; elsewhere the app keeps its own tray.");
    std::process::exit(1);
}
