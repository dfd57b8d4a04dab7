//! `inkan-server`: run the verification server, or print an enrollment ticket for QA.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use inkan_protocol::keys::SigningKey;
use inkan_server::settings::{self, INSECURE_DEV_RP_API_KEY, SecretString, Settings};
use inkan_server::{Limits, SystemClock};

#[derive(Parser)]
#[command(name = "inkan-server", version, about = "Inkan verification server / Inkan 認証サーバー")]
struct Cli {
    /// Directory for the SQLite database (and, with --dev, the insecure signing key).
    #[arg(long, env = "INKAN_DATA_DIR", default_value = "./inkan-data", global = true)]
    data_dir: PathBuf,
    /// Database URL; defaults to SQLite in the data directory.
    #[arg(long, env = "INKAN_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Address devices and relying parties use, e.g. https://auth.broker.example.
    #[arg(long, env = "INKAN_PUBLIC_ORIGIN", global = true)]
    public_origin: Option<String>,
    /// Development mode: plain-http loopback origin, insecure default API key and key file.
    #[arg(long, env = "INKAN_DEV", global = true)]
    dev: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the device and relying-party APIs.
    Serve {
        #[arg(long, env = "INKAN_LISTEN", default_value = "127.0.0.1:8400")]
        listen: SocketAddr,
    },
    /// Create an enrollment ticket, print its QR code in the terminal and write the PNG.
    Ticket {
        #[arg(long)]
        account: String,
        #[arg(long)]
        label: Option<String>,
        /// Where to write the QR code PNG.
        #[arg(long, default_value = "enroll-ticket.png")]
        png: PathBuf,
    },
}

fn settings(cli: &Cli, listen: SocketAddr) -> anyhow::Result<Settings> {
    std::fs::create_dir_all(&cli.data_dir).with_context(|| format!("creating {}", cli.data_dir.display()))?;
    let database_url = cli
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", cli.data_dir.join("inkan.sqlite3").display()));
    let signing_key = match std::env::var("INKAN_SERVER_SIGNING_KEY") {
        Ok(text) => SigningKey::from_bytes(&zeroize::Zeroizing::new(inkan_protocol::keys::unb64(text.trim())?))?,
        Err(_) if cli.dev => settings::load_or_create_dev_signing_key(&cli.data_dir)?,
        Err(_) => anyhow::bail!("INKAN_SERVER_SIGNING_KEY is required outside --dev (32-byte P-256 scalar, base64url)"),
    };
    let rp_api_key = match std::env::var("INKAN_RP_API_KEY") {
        Ok(k) => SecretString::new(k),
        Err(_) if cli.dev => SecretString::new(INSECURE_DEV_RP_API_KEY.to_owned()),
        Err(_) => anyhow::bail!("INKAN_RP_API_KEY is required outside --dev"),
    };
    let public_origin = match &cli.public_origin {
        Some(o) => o.clone(),
        None if cli.dev => format!("http://{listen}"),
        None => anyhow::bail!("INKAN_PUBLIC_ORIGIN is required outside --dev"),
    };
    let settings = Settings {
        public_origin,
        listen,
        database_url,
        rp_api_key,
        signing_key,
        dev: cli.dev,
        limits: Limits::default(),
    };
    settings.check()?;
    Ok(settings)
}

/// Ctrl-C, or SIGTERM from a service manager.
async fn shutdown_signal() -> anyhow::Result<()> {
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve { listen } => {
            let settings = settings(&cli, *listen)?;
            tracing::info!(?settings, "starting");
            if settings.dev {
                tracing::warn!("development mode: insecure defaults are on; never expose this server");
            }
            let server = inkan_server::start(settings, Arc::new(SystemClock), None).await?;
            println!("inkan-server: listening on http://{} / 待ち受け中", server.addr);
            shutdown_signal().await?;
            println!("inkan-server: stopping / 停止します");
            server.stop().await;
        }
        Command::Ticket { account, label, png } => {
            let listen = std::env::var("INKAN_LISTEN")
                .ok()
                .and_then(|l| l.parse().ok())
                .unwrap_or_else(|| "127.0.0.1:8400".parse().expect("address"));
            let settings = settings(&cli, listen)?;
            let store = inkan_server::store::Store::open(&settings.database_url).await?;
            let service = inkan_server::Service::new(settings, store, Arc::new(SystemClock));
            let ticket = service.create_ticket(account, label.as_deref()).await?;
            println!("{}", inkan_server::qr::terminal(&ticket.uri)?);
            std::fs::write(png, inkan_server::qr::png(&ticket.uri)?)?;
            println!("登録リンク / Enrollment link (valid until {}):\n{}", ticket.expires_at, ticket.uri);
            println!("QR コード画像 / QR code image: {}", png.display());
        }
    }
    Ok(())
}
