//! A real PostgreSQL for tests: Debian's `postgresql` binaries, a cluster made by `initdb` in a
//! temporary directory and run as an unprivileged user when the tests run as root (CI does;
//! PostgreSQL refuses to run as root). One cluster per test process, started on first use and
//! stopped when the process ends; each caller gets a fresh, empty database in it.
//!
//! The binaries are found in `INKAN_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The unprivileged user the cluster runs as when the tests run as root.
const RUN_AS: &str = "nobody";
/// How long the cluster may take to accept connections after start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running test cluster.
#[derive(Debug)]
pub struct PgCluster {
    pub port: u16,
    pub dir: PathBuf,
    bin: PathBuf,
}

static CLUSTER: OnceLock<Result<PgCluster, String>> = OnceLock::new();
static FSYNC: AtomicBool = AtomicBool::new(false);

/// Makes the cluster (started after this call) fsync its commits, as production does.
pub fn sync_commits_to_disk() {
    FSYNC.store(true, Ordering::Relaxed);
}

/// The process's cluster, started on first use.
pub fn cluster() -> anyhow::Result<&'static PgCluster> {
    CLUSTER.get_or_init(|| start().map_err(|e| format!("{e:#}"))).as_ref().map_err(|e| anyhow::anyhow!("{e}"))
}

/// A URL of a new, empty database in the process's cluster.
pub async fn fresh_database_url() -> anyhow::Result<String> {
    let cluster = cluster()?;
    let name = format!("t_{}", hex(&crate::random_bytes::<8>()));
    let admin = format!("postgres://inkan@127.0.0.1:{}/postgres", cluster.port);
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.context("test cluster")?;
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str()).await?;
    Ok(format!("postgres://inkan@127.0.0.1:{}/{name}", cluster.port))
}

/// The directory of PostgreSQL's server binaries.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("INKAN_PG_BIN") {
        return Ok(dir.into());
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (no /usr/lib/postgresql); scripts/install-deps installs it")?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).context("no PostgreSQL server binaries under /usr/lib/postgresql")
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// `program` as the cluster's user: through `setpriv` (which execs, keeping the pid) so that the
/// child dies with its parent thread (`--pdeathsig`).
fn as_cluster_user(program: &Path, death_signal: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    if is_root() {
        cmd.args(["--reuid", RUN_AS, "--regid", "nogroup", "--clear-groups"]);
    }
    cmd.args(["--pdeathsig", death_signal, "--"]).arg(program);
    cmd
}

/// Removes the directories of clusters whose test process is gone.
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("inkan-pg-")).and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn start() -> anyhow::Result<PgCluster> {
    remove_stale();
    let bin = bin_dir()?;
    let dir =
        std::env::temp_dir().join(format!("inkan-pg-{}-{}", std::process::id(), hex(&crate::random_bytes::<4>())));
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    if is_root() {
        let status = Command::new("chown").arg(format!("{RUN_AS}:nogroup")).arg(&dir).status()?;
        if !status.success() {
            bail!("chown {RUN_AS} {}", dir.display());
        }
    }
    let data = dir.join("data");
    let out = as_cluster_user(&bin.join("initdb"), "KILL")
        .args(["-D"])
        .arg(&data)
        .args(["-U", "inkan", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])
        .output()
        .context("initdb")?;
    if !out.status.success() {
        bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let cluster = PgCluster { port, dir, bin };
    cluster.spawn_postmaster()?;
    Ok(cluster)
}

impl PgCluster {
    /// Starts the server on the cluster and waits until it accepts connections.
    fn spawn_postmaster(&self) -> anyhow::Result<()> {
        // The server is started from a thread that lives as long as the process, so that its
        // parent-death signal (SIGQUIT: immediate shutdown) comes when the process ends, not
        // when the test thread that first asked for it does.
        let (tx, rx) = std::sync::mpsc::channel();
        let (bin, dir, port) = (self.bin.clone(), self.dir.clone(), self.port);
        std::thread::spawn(move || {
            let child = as_cluster_user(&bin.join("postgres"), "QUIT")
                .arg("-D")
                .arg(dir.join("data"))
                .arg("-k")
                .arg(&dir)
                .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
                // Tests need no crash safety of the OS (a killed postgres keeps what it
                // wrote); benchmarks call `sync_commits_to_disk` to measure what production pays.
                .args(["-c", if FSYNC.load(Ordering::Relaxed) { "fsync=on" } else { "fsync=off" }])
                .args(["-c", "max_connections=300", "-c", "shared_buffers=32MB"])
                .stdout(Stdio::null())
                .stderr(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join("postgres.log"))
                        .map(Stdio::from)
                        .unwrap_or(Stdio::null()),
                )
                .spawn();
            let ok = child.is_ok();
            let _ = tx.send(child.map(|_| ()).map_err(|e| e.to_string()));
            if ok {
                loop {
                    std::thread::park();
                }
            }
        });
        rx.recv()?.map_err(|e| anyhow::anyhow!("postgres: {e}"))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let (_keep, pause) = std::sync::mpsc::channel::<()>();
        // Listening is not ready: until its startup ends the server answers every connection
        // with "the database system is starting up". pg_isready says when it accepts them.
        while !self.accepts_connections() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
                bail!("PostgreSQL did not start within {START_TIMEOUT:?}: {log}");
            }
            // A blocking wait is fine here: nothing else runs until the cluster is up.
            let _ = pause.recv_timeout(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Whether the server accepts connections (`pg_isready`: 0 accepting, 1 rejecting while it
    /// starts, 2 no answer).
    fn accepts_connections(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "inkan", "-d", "postgres", "-t", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops the server (fast shutdown: open connections are ended), as an operator's restart
    /// or a crash would take the database away. Every test of this process loses it.
    pub fn stop(&self) -> anyhow::Result<()> {
        let out = self.pg_ctl().args(["stop", "-m", "fast", "-w"]).output()?;
        if !out.status.success() {
            bail!("pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Starts the server again after [`PgCluster::stop`], on the same port and data.
    pub fn start_again(&self) -> anyhow::Result<()> {
        self.spawn_postmaster()
    }

    /// `pg_ctl` on the cluster (tests that stop and start the database use it).
    pub fn pg_ctl(&self) -> Command {
        let mut cmd = as_cluster_user(&self.bin.join("pg_ctl"), "KILL");
        cmd.arg("-D").arg(self.dir.join("data"));
        cmd
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
