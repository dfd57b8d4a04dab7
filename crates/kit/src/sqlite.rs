//! SQLite as both services open it, and the append-only audit row both write.

use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// Connections in the read pool; readers proceed side by side under WAL.
pub const READ_CONNECTIONS: u32 = 8;
/// How long a statement waits for the write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests answered "database unavailable" since start (each service's `/metrics`).
pub static DATABASE_UNAVAILABLE: AtomicU64 = AtomicU64::new(0);

/// Opens (creating if missing) an SQLite database and runs `migrator` on it: one write
/// connection and [`READ_CONNECTIONS`] readers, WAL, `synchronous = FULL`, foreign keys on.
pub async fn open_sqlite(
    database_url: &str,
    migrator: &sqlx::migrate::Migrator,
) -> anyhow::Result<(SqlitePool, SqlitePool)> {
    let options = SqliteConnectOptions::from_str(database_url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: every commit (a decision, a withdrawal, its audit row) is fsynced to the
        // WAL before the answer goes out, so a power cut loses nothing that was answered.
        // NORMAL in WAL mode survives a process crash but may lose the last commits on
        // power loss. See ARCHITECTURE.md, "Durability".
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let path = options.get_filename().display().to_string();
    let cannot = || format!("データベース {path} を開けません / cannot open the database {path}");
    // A connection to a local file does not go away while idle: sqlx's check before each use
    // (a round trip to the connection's worker thread) is not made.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options.clone())
        .await
        .with_context(cannot)?;
    migrator.run(&writer).await.with_context(cannot)?;
    let reader = SqlitePoolOptions::new()
        .max_connections(READ_CONNECTIONS)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .with_context(cannot)?;
    Ok((writer, reader))
}

/// An audit event as read back: at, event, device, challenge, detail (JSON text).
pub type AuditRow = (i64, String, Option<String>, Option<String>, String);

/// An audit row to write inside another statement's transaction, so that the change and its
/// record commit together (or neither does): [`crate::db::WriteRow::write`] on either backend.
/// `E` is the service's enum of event names: each
/// service spells its events in one place, and a row cannot carry a name that is not in it.
pub struct AuditEntry<'a, E> {
    pub at: i64,
    pub event: E,
    pub account_id: Option<&'a str>,
    pub device_id: Option<&'a str>,
    pub challenge_id: Option<&'a str>,
    pub detail: serde_json::Value,
}

impl<'a, E> AuditEntry<'a, E> {
    /// A row about an account alone (no device, no challenge).
    pub fn of_account(at: i64, event: E, account_id: &'a str, detail: serde_json::Value) -> Self {
        AuditEntry { at, event, account_id: Some(account_id), device_id: None, challenge_id: None, detail }
    }

    /// A row about one device of an account.
    pub fn of_device(at: i64, event: E, account_id: &'a str, device_id: &'a str, detail: serde_json::Value) -> Self {
        AuditEntry { at, event, account_id: Some(account_id), device_id: Some(device_id), challenge_id: None, detail }
    }
}

/// Whether a database error is the database being unavailable (full disk, I/O error, read-only
/// file, lock held too long, connection lost or refused) rather than a fault in the request or
/// the code: those answer 503 and recover by themselves when the database does.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                return crate::db::pg_unavailable(pg.code());
            }
            // SQLite's primary result codes (the low byte of the extended code).
            let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
            // SQLITE_BUSY 5, LOCKED 6, READONLY 8, IOERR 10, FULL 13, CANTOPEN 14, PROTOCOL 15.
            matches!(primary, Some(5 | 6 | 8 | 10 | 13 | 14 | 15))
        }
        _ => false,
    }
}
