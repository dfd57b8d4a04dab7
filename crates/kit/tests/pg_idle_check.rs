//! Pool connections that sat idle through a PostgreSQL restart: with the idle check
//! (`PgOptions::idle_check_after`, the services' `database_idle_check_ms`) the first statement
//! after the restart gets a working connection; without it (the check set beyond the idle
//! time) the stale connection is handed out and the statement fails, which is what the check is
//! for. Connections in steady use are not checked (no round trip added on the hot path).
//!
//! Its own test binary: it stops the process's PostgreSQL cluster ([`inkan_kit::pg_test`]).

use std::time::Duration;

use inkan_kit::db::{Db, PgOptions};
use sqlx::migrate::Migrator;

async fn open(url: &str, idle_check_after: Duration) -> sqlx::PgPool {
    let pg = PgOptions {
        migrator: &Migrator::DEFAULT,
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        idle_check_after,
    };
    match Db::open(url, &Migrator::DEFAULT, pg).await.unwrap() {
        Db::Postgres(pool) => pool,
        Db::Sqlite { .. } => unreachable!("a postgres:// URL"),
    }
}

async fn select_one(pool: &sqlx::PgPool) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT 1").fetch_one(pool).await
}

#[tokio::test]
async fn connections_idle_through_a_restart_are_checked_before_use() {
    let url = inkan_kit::pg_test::fresh_database_url().await.unwrap();
    let cluster = inkan_kit::pg_test::cluster().unwrap();
    let checked = open(&url, Duration::from_millis(100)).await;
    let unchecked = open(&url, Duration::from_secs(3600)).await;
    // Each pool's one connection is open and idle in the pool.
    assert_eq!(select_one(&checked).await.unwrap(), 1);
    assert_eq!(select_one(&unchecked).await.unwrap(), 1);

    // Back in the pool (sqlx returns a connection from a task of its own).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while checked.num_idle() + unchecked.num_idle() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the connections did not go back to the pools");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.stop().unwrap();
    cluster.start_again().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "PostgreSQL did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(select_one(&checked).await.unwrap(), 1, "the idle connection was checked and replaced");
    let stale = select_one(&unchecked).await;
    assert!(stale.is_err(), "without the check the stale connection is used: {stale:?}");
    // The failed one is dropped on release; the next statement gets a new connection.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while select_one(&unchecked).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the unchecked pool did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
