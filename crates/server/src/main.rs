//! `inkan-server`: run the verification server, or print an enrollment ticket for QA.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// The origin of the relying party's web pages (the demo site's with --dev), when they are
    /// not served from the public origin: the app takes same-device approval requests from it.
    #[arg(long, env = "INKAN_RP_WEB_ORIGIN", global = true)]
    rp_web_origin: Option<String>,
    /// The relying party's name for people, in Japanese (the demo brokerage's with --dev); the
    /// app shows it wherever it names who is asking. Needs --rp-name-en beside it.
    #[arg(long, env = "INKAN_RP_NAME", global = true)]
    rp_name: Option<String>,
    /// The relying party's name in English.
    #[arg(long, env = "INKAN_RP_NAME_EN", global = true)]
    rp_name_en: Option<String>,
    /// Take the client address from X-Forwarded-For (only behind a proxy that sets it).
    #[arg(long, env = "INKAN_TRUST_X_FORWARDED_FOR", global = true)]
    trust_x_forwarded_for: bool,
    /// A TOML configuration file with a `[limits]` table (every limit by name; see
    /// `inkan-server config check`). Each limit can also be set by `INKAN_LIMIT_<NAME>`.
    #[arg(long, env = "INKAN_CONFIG", global = true)]
    config: Option<PathBuf>,
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
    /// The effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Re-seal every offline-code secret under the current key of INKAN_SECRET_KEYS (the
    /// first); after it, older keys can be dropped. The server also does this at start.
    RotateSecrets,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment) with secrets redacted,
    /// and refuse values that are unsafe outside --dev (exit status 1, saying which).
    Check {
        #[arg(long, env = "INKAN_LISTEN", default_value = "127.0.0.1:8400")]
        listen: SocketAddr,
    },
}

fn settings(cli: &Cli, listen: SocketAddr) -> anyhow::Result<Settings> {
    let database_url =
        inkan_kit::main_support::database_url(&cli.data_dir, cli.database_url.as_deref(), "inkan.sqlite3")?;
    let signing_key = match std::env::var("INKAN_SERVER_SIGNING_KEY") {
        Ok(text) => SigningKey::from_bytes(&zeroize::Zeroizing::new(inkan_protocol::keys::unb64(text.trim())?))?,
        Err(_) if cli.dev => settings::load_or_create_dev_signing_key(&cli.data_dir)?,
        Err(_) => anyhow::bail!("INKAN_SERVER_SIGNING_KEY is required outside --dev (32-byte P-256 scalar, base64url)"),
    };
    let secret_keys = match std::env::var("INKAN_SECRET_KEYS") {
        Ok(spec) => inkan_server::secrets::SecretKeys::parse(&zeroize::Zeroizing::new(spec))?,
        Err(_) if cli.dev => settings::load_or_create_dev_secret_keys(&cli.data_dir)?,
        Err(_) => anyhow::bail!(
            "INKAN_SECRET_KEYS is required outside --dev (id:base64url-32-bytes[,older id:key]; seals offline-code secrets)"
        ),
    };
    let rp_api_key = match std::env::var("INKAN_RP_API_KEY") {
        Ok(k) => SecretString::new(k),
        Err(_) if cli.dev => SecretString::new(INSECURE_DEV_RP_API_KEY.to_owned()),
        Err(_) => anyhow::bail!("INKAN_RP_API_KEY is required outside --dev"),
    };
    let public_origin = match &cli.public_origin {
        Some(o) => o.clone(),
        // On loopback, a host name rather than the address: WebAuthn needs one for passkeys.
        None if cli.dev && listen.ip().is_loopback() => format!("http://localhost:{}", listen.port()),
        None if cli.dev => format!("http://{listen}"),
        None => anyhow::bail!("INKAN_PUBLIC_ORIGIN is required outside --dev"),
    };
    let file = inkan_kit::main_support::read_config(cli.config.as_deref())?;
    let limits = Limits::load(file.as_deref(), std::env::vars())?;
    let settings = Settings {
        public_origin,
        listen,
        database_url,
        rp_api_key,
        signing_key,
        secret_keys,
        dev: cli.dev,
        limits,
        trust_x_forwarded_for: cli.trust_x_forwarded_for,
        webhook: webhook_settings(cli.dev)?,
        rp_web_origin: match &cli.rp_web_origin {
            Some(o) => Some(o.clone()),
            None if cli.dev => Some(DEV_WEB_ORIGIN.to_owned()),
            None => None,
        },
        rp_name: match (&cli.rp_name, &cli.rp_name_en) {
            (Some(ja), Some(en)) => Some(inkan_protocol::RpName { ja: ja.clone(), en: en.clone() }),
            (None, None) if cli.dev => {
                Some(inkan_protocol::RpName { ja: DEV_RP_NAME.0.to_owned(), en: DEV_RP_NAME.1.to_owned() })
            }
            (None, None) => None,
            _ => anyhow::bail!("INKAN_RP_NAME and INKAN_RP_NAME_EN go together (the name in Japanese and in English)"),
        },
    };
    settings.check()?;
    Ok(settings)
}

/// Where `--dev` delivers events when no webhook is configured: the demo site's `--dev`
/// address, with the insecure development secret both `--dev`s know.
const DEV_WEBHOOK_URL: &str = "http://127.0.0.1:8401/inkan/webhook";
/// The demo site's `--dev` origin: the pages the app takes same-device requests from.
const DEV_WEB_ORIGIN: &str = "http://localhost:8401";
/// The demo site's name, which `--dev` gives the app.
const DEV_RP_NAME: (&str, &str) = ("いんかん証券", "Inkan Securities");

/// The relying party's webhook from `INKAN_RP_WEBHOOK_URL` and `INKAN_RP_WEBHOOK_SECRET` (both
/// or neither; neither: `--dev` delivers to the demo site's `--dev` address, production
/// delivers nothing and the relying party reads `GET /v1/rp/events`).
fn webhook_settings(dev: bool) -> anyhow::Result<Option<settings::WebhookSettings>> {
    let url = std::env::var(settings::WEBHOOK_URL_ENV).ok().filter(|u| !u.is_empty());
    let secret = std::env::var(settings::WEBHOOK_SECRET_ENV).ok().filter(|s| !s.is_empty());
    match (url, secret) {
        (None, None) if dev => Ok(Some(settings::WebhookSettings {
            url: DEV_WEBHOOK_URL.to_owned(),
            secret: SecretString::new(settings::INSECURE_DEV_WEBHOOK_SECRET.to_owned()),
        })),
        (None, None) => Ok(None),
        (Some(url), Some(secret)) => Ok(Some(settings::WebhookSettings { url, secret: SecretString::new(secret) })),
        _ => anyhow::bail!(
            "{} と {} は両方設定してください / set both {} and {}",
            settings::WEBHOOK_URL_ENV,
            settings::WEBHOOK_SECRET_ENV,
            settings::WEBHOOK_URL_ENV,
            settings::WEBHOOK_SECRET_ENV
        ),
    }
}

/// Runs the command; a failure ends with one line on standard error and exit status 1
/// ([`inkan_kit::main_support::run_main`]).
fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    inkan_kit::main_support::init_logging(cli.dev);
    inkan_kit::main_support::run_main("inkan-server", run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve { listen } => {
            let settings = settings(&cli, *listen)?;
            tracing::info!(?settings, "starting");
            if settings.dev {
                tracing::warn!("development mode: insecure defaults are on; never expose this server");
            }
            let server = inkan_server::start(settings, Arc::new(SystemClock), None).await?;
            println!("inkan-server: listening on http://{} / 待ち受け中", server.addr);
            inkan_kit::main_support::shutdown_signal().await?;
            println!("inkan-server: stopping / 停止します");
            server.stop().await;
        }
        Command::Ticket { account, label, png } => {
            let listen = std::env::var("INKAN_LISTEN")
                .ok()
                .and_then(|l| l.parse().ok())
                .unwrap_or_else(|| "127.0.0.1:8400".parse().expect("address"));
            let settings = settings(&cli, listen)?;
            let store = inkan_server::store::Store::open_with(&settings.database_url, &settings.limits).await?;
            let service = inkan_server::Service::new(settings, store, Arc::new(SystemClock));
            let ticket = service.create_ticket(account, label.as_deref()).await?;
            println!("{}", inkan_server::qr::terminal(&ticket.uri)?);
            std::fs::write(png, inkan_server::qr::png(&ticket.uri)?)?;
            println!("登録リンク / Enrollment link (valid until {}):\n{}", ticket.expires_at, ticket.uri);
            println!("QR コード画像 / QR code image: {}", png.display());
        }
        Command::RotateSecrets => {
            let settings = settings(&cli, "127.0.0.1:8400".parse().expect("address"))?;
            let store = inkan_server::store::Store::open_with(&settings.database_url, &settings.limits).await?;
            let n = store.reseal_offline_secrets(&settings.secret_keys).await?;
            println!(
                "{n} 件のオフラインコード用シークレットを鍵 {0} で封印し直しました / {n} offline-code secrets re-sealed under key {0}",
                settings.secret_keys.current_id()
            );
        }
        Command::Config(ConfigCommand::Check { listen }) => {
            let settings = settings(&cli, *listen)?;
            println!("{settings:#?}");
            println!("設定に問題はありません / the configuration is valid");
        }
    }
    Ok(())
}
