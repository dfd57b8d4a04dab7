//! The database a service runs on, chosen at start by its URL: SQLite (`sqlite://…`, the
//! embedded default) or PostgreSQL (`postgres://…`, shared by several instances).
//!
//! A store keeps one copy of each statement and runs it on either backend through
//! [`with_db!`](crate::with_db): the statements are written in the dialect both accept
//! (`$1` placeholders, `ON CONFLICT`, `RETURNING`), and the few places where the backends differ
//! branch on the `pg` flag the macro hands the body.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};

use crate::sqlite::{AuditEntry, AuditRow};

/// One service's database: SQLite's write connection and read pool, or one PostgreSQL pool.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite { writer: SqlitePool, reader: SqlitePool },
    Postgres(PgPool),
}

/// How a service opens PostgreSQL: its own migrations and its pool's named limits.
#[derive(Clone, Copy, Debug)]
pub struct PgOptions<'a> {
    pub migrator: &'a sqlx::migrate::Migrator,
    /// Connections in the pool (each instance holds up to this many).
    pub max_connections: u32,
    /// How long a request waits for a connection, or for a new one to open, before it fails
    /// with "database unavailable" (503) instead of hanging while the database is away.
    pub acquire_timeout: Duration,
    /// A pooled connection idle longer than this is checked with a round trip before a request
    /// uses it (one idle through a database restart is dropped and replaced, not handed out);
    /// one in steady use is handed out as it is. sqlx's default checks every time, which costs
    /// a round trip per statement group on the hot path.
    pub idle_check_after: Duration,
}

/// Runs `$body` on the store's database. In the body, `$w` is the pool writes go to, `$r` the
/// pool reads go to (the same pool on PostgreSQL) and `$pg` is `true` on PostgreSQL. The body is
/// compiled once per backend, so each keeps its own types.
#[macro_export]
macro_rules! with_db {
    ($db:expr, |$w:ident, $r:ident, $pg:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite { writer: $w, reader: $r } => {
                let $pg = false;
                let _ = (&$w, &$r, $pg);
                $body
            }
            $crate::db::Db::Postgres(pool) => {
                let ($w, $r, $pg) = (pool, pool, true);
                let _ = (&$w, &$r, $pg);
                $body
            }
        }
    };
}

impl Db {
    /// Opens the database `url` names and runs the backend's migrations: SQLite (created if
    /// missing) with `sqlite_migrator`, PostgreSQL with `pg`'s.
    pub async fn open(url: &str, sqlite_migrator: &sqlx::migrate::Migrator, pg: PgOptions<'_>) -> anyhow::Result<Db> {
        if is_postgres_url(url) {
            let options = PgConnectOptions::from_str(url)
                .context("PostgreSQL の URL が正しくありません / invalid PostgreSQL URL")?;
            let place =
                format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or(""));
            let cannot = || format!("データベース {place} に接続できません / cannot connect to the database {place}");
            let idle_check_after = pg.idle_check_after;
            let pool = PgPoolOptions::new()
                .max_connections(pg.max_connections.max(1))
                .acquire_timeout(pg.acquire_timeout)
                .test_before_acquire(false)
                .before_acquire(move |conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > idle_check_after {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(options)
                .await
                .with_context(cannot)?;
            pg.migrator.run(&pool).await.with_context(cannot)?;
            Ok(Db::Postgres(pool))
        } else {
            let (writer, reader) = crate::sqlite::open_sqlite(url, sqlite_migrator).await?;
            Ok(Db::Sqlite { writer, reader })
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Readiness: a read, and a real write (one row of `readiness_probe` rewritten and
    /// committed). Fails when the database cannot serve requests.
    pub async fn check_ready(&self, now: i64) -> sqlx::Result<()> {
        with_db!(self, |w, r, pg| {
            sqlx::query("SELECT 1").execute(r).await?;
            sqlx::query(
                "INSERT INTO readiness_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            )
            .bind(now)
            .execute(w)
            .await?;
            Ok(())
        })
    }

    /// The account's rows of `audit_events`, newest first.
    pub async fn audit_for_account(&self, account_id: &str, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
        with_db!(self, |w, r, pg| {
            sqlx::query_as(
                "SELECT at, event, device_id, challenge_id, detail FROM audit_events WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(account_id)
            .bind(limit)
            .fetch_all(r)
            .await
        })
    }
}

/// Whether `url` names PostgreSQL (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A row written inside another statement's transaction on either backend. The backend is a
/// parameter of the trait (not of the method) so one call site, compiled once per backend by
/// [`with_db!`](crate::with_db), picks the right one from the connection it is given.
pub trait WriteRow<DB: sqlx::Database> {
    fn write<'c, X>(&self, conn: X) -> impl std::future::Future<Output = sqlx::Result<()>> + Send
    where
        X: sqlx::Executor<'c, Database = DB> + 'c;
}

/// One audit row: at, event, account, device, challenge, detail (JSON text).
const INSERT_AUDIT: &str =
    "INSERT INTO audit_events (at, event, account_id, device_id, challenge_id, detail) VALUES ($1, $2, $3, $4, $5, $6)";

macro_rules! audit_write {
    ($db:ty) => {
        impl<E: Copy + Into<&'static str> + Sync> WriteRow<$db> for AuditEntry<'_, E> {
            async fn write<'c, X>(&self, conn: X) -> sqlx::Result<()>
            where
                X: sqlx::Executor<'c, Database = $db> + 'c,
            {
                sqlx::query(INSERT_AUDIT)
                    .bind(self.at)
                    .bind(Into::<&'static str>::into(self.event))
                    .bind(self.account_id)
                    .bind(self.device_id)
                    .bind(self.challenge_id)
                    .bind(self.detail.to_string())
                    .execute(conn)
                    .await?;
                Ok(())
            }
        }
    };
}
audit_write!(Sqlite);
audit_write!(Postgres);

/// Whether a PostgreSQL error is the database being unavailable rather than a fault in the
/// request or the code: connection exceptions (class 08), insufficient resources (53),
/// operator intervention (57: shutdown, crash, cannot connect now), system errors (58), and a
/// read-only server (25006, a standby).
pub fn pg_unavailable(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code.starts_with("58")
        || code == "25006"
}
