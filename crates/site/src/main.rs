//! `inkan-site`: run the demo brokerage site, manage its customers, print its mail DNS records.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use inkan_site::Clock;
use inkan_site::seed::{self, CustomerSpec};
use inkan_site::settings::{self, INSECURE_DEV_RP_API_KEY, MailTransport, SecretString, Settings};
use inkan_site::{Limits, SystemClock};

#[derive(Parser)]
#[command(name = "inkan-site", version, about = "Inkan demo brokerage site / Inkan デモ証券サイト")]
struct Cli {
    /// Directory for the site's SQLite database (and, with --dev, its development DKIM key).
    #[arg(long, env = "INKAN_SITE_DATA_DIR", default_value = "./inkan-data/site", global = true)]
    data_dir: PathBuf,
    /// The site's database URL; defaults to SQLite in the data directory.
    #[arg(long, env = "INKAN_SITE_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// The address customers' browsers use, e.g. https://www.broker.example.
    #[arg(long, env = "INKAN_SITE_PUBLIC_ORIGIN", global = true)]
    public_origin: Option<String>,
    /// The verifier's relying-party API, e.g. https://auth.broker.example (--dev: http://127.0.0.1:8400).
    #[arg(long, env = "INKAN_VERIFIER_URL", global = true)]
    verifier_url: Option<String>,
    /// Development mode: plain-http loopback origin, the insecure default API key and webhook secret.
    #[arg(long, env = "INKAN_DEV", global = true)]
    dev: bool,
    /// Where mail goes: smtp://host:port, smtps://…, smtp://…?tls=required (user:password@
    /// allowed). Without it, --dev keeps mail in the outbox shown at /outbox.
    #[arg(long, env = "INKAN_SMTP_URL", global = true, hide_env_values = true)]
    smtp_url: Option<String>,
    /// The sender of every mail.
    #[arg(long, env = "INKAN_MAIL_FROM", global = true)]
    mail_from: Option<String>,
    /// DKIM selector of the mail signing key (its DNS name is <selector>._domainkey.<domain>).
    #[arg(long, env = "INKAN_DKIM_SELECTOR", global = true)]
    dkim_selector: Option<String>,
    /// DKIM signing domain (d=); the From address's domain when not given.
    #[arg(long, env = "INKAN_DKIM_DOMAIN", global = true)]
    dkim_domain: Option<String>,
    /// File holding the DKIM private key: RSA (PKCS#1 or PKCS#8 PEM, 2048 bits or more) or
    /// Ed25519 (base64 of the 32-byte seed). Readable by its owner only. The key can instead be
    /// given in INKAN_DKIM_PRIVATE_KEY. Without either, --dev signs with a development key it
    /// keeps in the data directory; production refuses to start.
    #[arg(long, env = "INKAN_DKIM_KEY_FILE", global = true)]
    dkim_key_file: Option<PathBuf>,
    /// A GeoIP2 / GeoLite2 City database (.mmdb; DB-IP's City files work too): place names,
    /// country, coordinates. Without it every place is unknown.
    #[arg(long, env = "INKAN_GEOIP_CITY_DB", global = true)]
    geoip_city_db: Option<PathBuf>,
    /// A GeoLite2 / GeoIP2 ASN database (.mmdb): the network of an address.
    #[arg(long, env = "INKAN_GEOIP_ASN_DB", global = true)]
    geoip_asn_db: Option<PathBuf>,
    /// Hosting and data-centre networks, as comma-separated AS numbers (replaces the built-in
    /// list of the large clouds and hosting companies).
    #[arg(long, env = "INKAN_HOSTING_ASNS", global = true)]
    hosting_asns: Option<String>,
    /// Countries (ISO 3166 alpha-2, comma-separated) no customer's login counts as "new" from.
    #[arg(long, env = "INKAN_HOME_COUNTRIES", global = true, default_value = "JP")]
    home_countries: String,
    /// Take the client address from X-Forwarded-For (only behind a proxy that sets it).
    #[arg(long, env = "INKAN_TRUST_X_FORWARDED_FOR", global = true)]
    trust_x_forwarded_for: bool,
    /// The loopback port the desktop app listens on for same-device approval (0: not offered).
    #[arg(long, env = "INKAN_APP_LOOPBACK_PORT", global = true, default_value_t = inkan_protocol::DEFAULT_LOOPBACK_PORT)]
    app_loopback_port: u16,
    /// A TOML configuration file with a `[limits]` table (every site limit by name; see
    /// `inkan-site config check`). Each limit can also be set by `INKAN_SITE_LIMIT_<NAME>`.
    #[arg(long, env = "INKAN_SITE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Refuse withdrawals without a passkey (end the interim push-only path).
    #[arg(long, env = "INKAN_FORBID_PUSH_ONLY_WITHDRAWALS", global = true)]
    forbid_push_only_withdrawals: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site.
    Serve {
        #[arg(long, env = "INKAN_SITE_LISTEN", default_value = "127.0.0.1:8401")]
        listen: SocketAddr,
    },
    /// The effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Customers of the demo site (QA and operators).
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// The DNS records an operator publishes for the mail: the DKIM key, DMARC and BIMI.
    DnsRecords,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment) with secrets redacted,
    /// and refuse values that are unsafe outside --dev (exit status 1, saying which).
    Check {
        #[arg(long, env = "INKAN_SITE_LISTEN", default_value = "127.0.0.1:8401")]
        listen: SocketAddr,
    },
}

#[derive(Subcommand)]
enum CustomerCommand {
    /// Create a customer; passwords not given are generated and printed once.
    Create {
        /// Account number (digits).
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "テスト 花子 / Hanako Test")]
        name: String,
        /// Authentication e-mail address.
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "090-0000-0000")]
        phone: String,
        /// Read the login password, then the withdrawal password, from standard input (one a line).
        #[arg(long)]
        passwords_stdin: bool,
    },
    /// Restart the pushes to the customer's authenticator app that a "not me" report stopped,
    /// after verifying the customer's identity (through the verifier's API); records who and how.
    RestorePushes(OperatorAction),
    /// Unlock a locked account after verifying the customer's identity; records who and how.
    Unlock(OperatorAction),
}

/// An operator's action on a customer's account, after verifying the customer's identity.
#[derive(clap::Args)]
struct OperatorAction {
    #[arg(long)]
    account: String,
    /// The operator's name.
    #[arg(long)]
    operator: String,
    /// How identity was verified, e.g. "phone call, PIN and date of birth".
    #[arg(long)]
    verified_by: String,
}

fn settings(cli: &Cli, listen: SocketAddr) -> anyhow::Result<Settings> {
    let database_url =
        inkan_kit::main_support::database_url(&cli.data_dir, cli.database_url.as_deref(), "inkan-site.sqlite3")?;
    let rp_api_key = match std::env::var("INKAN_RP_API_KEY") {
        Ok(k) => SecretString::new(k),
        Err(_) if cli.dev => SecretString::new(INSECURE_DEV_RP_API_KEY.to_owned()),
        Err(_) => anyhow::bail!("INKAN_RP_API_KEY is required outside --dev"),
    };
    let webhook_secret = match std::env::var("INKAN_SITE_WEBHOOK_SECRET") {
        Ok(k) if !k.is_empty() => SecretString::new(k),
        _ if cli.dev => SecretString::new(settings::INSECURE_DEV_WEBHOOK_SECRET.to_owned()),
        _ => anyhow::bail!(
            "INKAN_SITE_WEBHOOK_SECRET is required outside --dev (the verifier's INKAN_RP_WEBHOOK_SECRET)"
        ),
    };
    let verifier_url = match &cli.verifier_url {
        Some(u) => u.clone(),
        None if cli.dev => settings::DEV_VERIFIER_URL.to_owned(),
        None => anyhow::bail!("INKAN_VERIFIER_URL is required outside --dev"),
    };
    let public_origin = match &cli.public_origin {
        Some(o) => o.clone(),
        // On loopback, a host name rather than the address: WebAuthn needs one for passkeys.
        None if cli.dev && listen.ip().is_loopback() => format!("http://localhost:{}", listen.port()),
        None if cli.dev => format!("http://{listen}"),
        None => anyhow::bail!("INKAN_SITE_PUBLIC_ORIGIN is required outside --dev"),
    };
    let mail = match &cli.smtp_url {
        Some(url) => MailTransport::Smtp { url: SecretString::new(url.clone()) },
        None if cli.dev => MailTransport::InsecureDevOutbox,
        None => anyhow::bail!("INKAN_SMTP_URL is required outside --dev"),
    };
    let mail_from = cli.mail_from.clone().unwrap_or_else(|| settings::DEV_MAIL_FROM.to_owned());
    let dkim = dkim_settings(cli, &mail_from)?;
    let mut geo = inkan_site::geo::GeoSettings {
        city_db: cli.geoip_city_db.clone(),
        asn_db: cli.geoip_asn_db.clone(),
        home_countries: inkan_site::geo::GeoSettings::parse_countries(&cli.home_countries)?,
        ..Default::default()
    };
    if let Some(list) = &cli.hosting_asns {
        geo.hosting_asns = inkan_site::geo::GeoSettings::parse_asns(list)?;
    }
    let file = inkan_kit::main_support::read_config(cli.config.as_deref())?;
    let mut limits = Limits::load(file.as_deref(), std::env::vars())?;
    if cli.forbid_push_only_withdrawals {
        limits.withdrawal_push_only_allowed = false;
    }
    let settings = Settings {
        public_origin,
        listen,
        database_url,
        verifier_url,
        rp_api_key,
        webhook_secret,
        dev: cli.dev,
        limits,
        mail,
        mail_from,
        dkim,
        geo,
        trust_x_forwarded_for: cli.trust_x_forwarded_for,
        app_loopback_port: (cli.app_loopback_port != 0).then_some(cli.app_loopback_port),
    };
    settings.check()?;
    Ok(settings)
}

/// The DKIM key from INKAN_DKIM_PRIVATE_KEY or the key file; `--dev` without either makes
/// (once) and uses a development Ed25519 key in the data directory. `None` outside `--dev`
/// leaves the refusal to [`Settings::check`].
fn dkim_settings(cli: &Cli, mail_from: &str) -> anyhow::Result<Option<settings::DkimSettings>> {
    let key = match (std::env::var("INKAN_DKIM_PRIVATE_KEY"), &cli.dkim_key_file) {
        (Ok(key), _) => Some(SecretString::new(key)),
        (Err(_), Some(path)) => Some(settings::read_private_key_file(path)?),
        (Err(_), None) if cli.dev => Some(settings::load_or_create_dev_dkim_key(&cli.data_dir)?),
        (Err(_), None) => None,
    };
    let Some(private_key) = key else { return Ok(None) };
    let domain = match &cli.dkim_domain {
        Some(d) => d.clone(),
        None => {
            let from: lettre::message::Mailbox =
                mail_from.parse().map_err(|e| anyhow::anyhow!("mail sender {mail_from:?}: {e}"))?;
            from.email.domain().to_owned()
        }
    };
    let selector = match &cli.dkim_selector {
        Some(s) => s.clone(),
        None if cli.dev => settings::DEV_DKIM_SELECTOR.to_owned(),
        None => anyhow::bail!("INKAN_DKIM_SELECTOR is required with a DKIM key"),
    };
    Ok(Some(settings::DkimSettings { selector, domain, private_key }))
}

/// A TXT record's value as DNS zone-file strings of at most 255 bytes each.
fn txt_strings(value: &str) -> String {
    value.as_bytes().chunks(255).map(|c| format!("\"{}\"", String::from_utf8_lossy(c))).collect::<Vec<_>>().join(" ")
}

/// Runs the command; a failure ends with one line on standard error and exit status 1
/// ([`inkan_kit::main_support::run_main`]).
fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    inkan_kit::main_support::init_logging(cli.dev);
    inkan_kit::main_support::run_main("inkan-site", run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve { listen } => {
            let settings = settings(&cli, *listen)?;
            tracing::info!(?settings, "starting");
            if settings.dev {
                tracing::warn!("development mode: insecure defaults are on; never expose this site");
            }
            let dev = settings.dev;
            let server = inkan_site::start(settings, Arc::new(SystemClock), None).await?;
            if dev && let Some(demo) = seed::seed_demo_customer(&server.site.store, SystemClock.now()).await? {
                println!("デモ顧客を作成しました / Demo customer created (shown once):");
                println!("  口座番号 / account number:          {}", demo.account_id);
                println!("  パスワード / password:              {}", &*demo.password);
                println!("  出金パスワード / withdrawal password: {}", &*demo.withdrawal_password);
            }
            println!("inkan-site: listening on http://{} / 待ち受け中", server.addr);
            inkan_kit::main_support::shutdown_signal().await?;
            println!("inkan-site: stopping / 停止します");
            server.stop().await;
        }
        Command::Config(ConfigCommand::Check { listen }) => {
            let settings = settings(&cli, *listen)?;
            println!("{settings:#?}");
            println!("設定に問題はありません / the configuration is valid");
        }
        Command::Customer(command) => customer(&cli, command).await?,
        Command::DnsRecords => {
            let settings = settings(&cli, "127.0.0.1:8401".parse().expect("address"))?;
            let Some(dkim) = &settings.dkim else {
                anyhow::bail!("DKIM の鍵が設定されていません / no DKIM key is configured (INKAN_DKIM_KEY_FILE)")
            };
            let signer = inkan_site::mail::DkimSigner::new(dkim, &settings.mail_from)?;
            let domain = signer.domain();
            let adkim = signer.dmarc_adkim();
            println!("; DKIM: the public half of the signing key");
            println!("{}. IN TXT {}", signer.dns_name(), txt_strings(signer.dns_record()));
            println!(
                "; DMARC: mail from {domain} that fails aligned DKIM goes to spam (BIMI needs quarantine or reject)"
            );
            println!(
                "_dmarc.{domain}. IN TXT {}",
                txt_strings(&format!(
                    "v=DMARC1; p=quarantine; pct=100; adkim={adkim}; aspf=r; rua=mailto:dmarc-reports@{domain}"
                ))
            );
            println!(
                "; BIMI: the logo (SVG Tiny PS) and its Verified Mark Certificate (VMC) from a mark verifying authority"
            );
            println!(
                "default._bimi.{domain}. IN TXT {}",
                txt_strings(&format!("v=BIMI1; l=https://{domain}/bimi/logo.svg; a=https://{domain}/bimi/vmc.pem"))
            );
        }
    }
    Ok(())
}

async fn customer(cli: &Cli, command: &CustomerCommand) -> anyhow::Result<()> {
    let settings = settings(cli, "127.0.0.1:8401".parse().expect("address"))?;
    let store = inkan_site::db::SiteStore::open(&settings.database_url, &settings.limits).await?;
    let now = SystemClock.now();
    match command {
        CustomerCommand::Create { account, name, email, phone, passwords_stdin } => {
            let (password, withdrawal_password) = if *passwords_stdin {
                let mut lines = std::io::stdin().lines();
                let mut next = || lines.next().transpose().map(|l| l.map(|l| l.trim_end().to_owned()));
                (next()?, next()?)
            } else {
                (None, None)
            };
            let spec = CustomerSpec {
                account_id: account.clone(),
                name: name.clone(),
                email: email.clone(),
                phone: phone.clone(),
                password: password.clone(),
                withdrawal_password: withdrawal_password.clone(),
            };
            let created = seed::create_customer(&store, spec, now).await?;
            println!("顧客を作成しました / Customer created: {}", created.account_id);
            if password.is_none() {
                println!("  パスワード / password:              {}", &*created.password);
            }
            if withdrawal_password.is_none() {
                println!("  出金パスワード / withdrawal password: {}", &*created.withdrawal_password);
            }
        }
        CustomerCommand::RestorePushes(OperatorAction { account, operator, verified_by }) => {
            let verifier = inkan_rp_client::RpClient::new(&settings.verifier_url, settings.rp_api_key.expose())?;
            seed::operator_restore_pushes(&store, &verifier, account, operator, verified_by, now).await?;
            println!("通知を再開しました / Pushes restarted: {account} (operator {operator}; {verified_by})");
        }
        CustomerCommand::Unlock(OperatorAction { account, operator, verified_by }) => {
            seed::operator_unlock(&store, account, operator, verified_by, now).await?;
            println!("ロックを解除しました / Unlocked: {account} (operator {operator}; {verified_by})");
        }
    }
    Ok(())
}
