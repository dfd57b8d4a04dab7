//! The site's own database (`site_migrations/`): customers, sessions, withdrawals, passkeys,
//! its webhook bookkeeping, its append-only audit log and the development outbox. It shares
//! no table with the verifier. One statement or one short transaction each.

use sqlx::FromRow;

use crate::audit::{AuditEntry, AuditEvent};
use crate::mail::Mail;
use inkan_kit::db::{Db, PgOptions, WriteRow};
use inkan_kit::sqlite::AuditRow;
use inkan_kit::with_db;

/// The site's database: SQLite (one write connection, several readers; the embedded default)
/// or PostgreSQL (`migrations-pg/`), chosen by the database URL. Every statement is written
/// once, with `$N` placeholders, and runs on both (`with_db!`); where the backends differ the
/// statement says so beside it.
#[derive(Clone)]
pub struct SiteStore {
    pub(crate) db: Db,
}

/// The PostgreSQL advisory lock ("inkan pk") under which a passkey ceremony's caps are read
/// and the ceremony inserted, so parallel starts cannot all pass one check (SQLite's one
/// writer gives the same).
pub const CEREMONY_LOCK: i64 = 0x696e_6b61_6e20_706b;

#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    pub account_id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub password_hash: String,
    pub withdrawal_password_hash: String,
    pub cash_balance: i64,
    pub failed_logins: i64,
    pub locked_at: Option<i64>,
}

pub struct NewCustomer<'a> {
    pub account_id: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub phone: &'a str,
    pub password_hash: &'a str,
    pub withdrawal_password_hash: &'a str,
    pub cash_balance: i64,
    pub now: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct BankAccountRow {
    pub id: String,
    pub account_id: String,
    pub bank: String,
    pub branch: String,
    pub number: String,
    pub holder: String,
    /// Withdrawals to it are refused before this time (the waiting period after a change).
    pub usable_from: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub account_id: String,
    pub expires_at: i64,
    pub ip: String,
    pub browser: String,
    pub risk: String,
    pub needs_push: bool,
    pub needs_email: bool,
    pub push_done: bool,
    pub email_done: bool,
    pub challenge_id: Option<String>,
    pub number: Option<String>,
    pub finished_at: Option<i64>,
}

pub struct NewAttempt<'a> {
    pub token_hash: &'a [u8],
    pub account_id: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub ip: &'a str,
    pub browser: &'a str,
    pub risk: &'a str,
    pub needs_push: bool,
    pub needs_email: bool,
}

#[derive(Debug, Clone, FromRow)]
pub struct EmailCodeRow {
    pub id: String,
    pub code_hash: Vec<u8>,
    pub expires_at: i64,
    pub attempts: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, FromRow)]
pub struct WithdrawalRow {
    pub id: String,
    pub account_id: String,
    pub amount: i64,
    pub bank_account_id: String,
    #[sqlx(try_from = "String")]
    pub state: WithdrawalState,
    pub needs_push: bool,
    pub challenge_id: Option<String>,
    pub number: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// Where a withdrawal stands (the `withdrawals.state` column; the statements that move it
/// spell the same words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum WithdrawalState {
    /// Waiting for the customer's passkey (JSDA 2025), before the push.
    AwaitingPasskey,
    /// Waiting for the push (or the e-mailed code).
    AwaitingApproval,
    Completed,
    Refused,
}

impl TryFrom<String> for WithdrawalState {
    type Error = strum::ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub at: i64,
    pub to_addr: String,
    pub subject: String,
    pub body: String,
}

pub struct NewEmailCode<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    /// `login` or `withdrawal`.
    pub purpose: &'a str,
    pub subject_id: &'a str,
    pub code_hash: &'a [u8],
    pub now: i64,
    pub expires_at: i64,
}

/// What a wrong password did to the customer's lock-out counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    pub failed_logins: i64,
    /// This failure locked the account.
    pub locked_now: bool,
}

const CUSTOMER_COLUMNS: &str =
    "account_id, name, email, phone, password_hash, withdrawal_password_hash, cash_balance, failed_logins, locked_at";
const WITHDRAWAL_COLUMNS: &str =
    "id, account_id, amount, bank_account_id, state, needs_push, challenge_id, number, created_at, finished_at";
const INSERT_WITHDRAWAL: &str = "INSERT INTO withdrawals (id, account_id, amount, bank_account_id, state, needs_push, challenge_id, number, created_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// The statement that adds a destination (alone, or inside a change's transaction), for the
/// backend `with_db!` is on.
macro_rules! insert_bank_account {
    ($b:expr, $now:expr) => {{
        let b: &$crate::db::BankAccountRow = $b;
        sqlx::query("INSERT INTO bank_accounts (id, account_id, bank, branch, number, holder, created_at, usable_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&b.id)
            .bind(&b.account_id)
            .bind(&b.bank)
            .bind(&b.branch)
            .bind(&b.number)
            .bind(&b.holder)
            .bind($now)
            .bind(b.usable_from)
    }};
}
pub(crate) use insert_bank_account;

/// [`SiteStore::count_failure`] on the open transaction `$tx`, for the backend `with_db!` is
/// on. The `UPDATE … RETURNING` locks the customer's row, so racing failures count one by one.
macro_rules! count_failure_in {
    ($tx:ident, $account_id:expr, $now:expr, $max:expr, $event:expr, $detail:expr) => {{
        let (account_id, now, max, event): (&str, i64, i64, AuditEvent) = ($account_id, $now, $max, $event);
        let mut detail: serde_json::Value = $detail;
        let (failed_logins, locked_at): (i64, Option<i64>) = sqlx::query_as(
            "UPDATE customers SET failed_logins = failed_logins + 1, locked_at = CASE WHEN locked_at IS NULL AND failed_logins + 1 >= $1 THEN $2 ELSE locked_at END WHERE account_id = $3 RETURNING failed_logins, locked_at",
        )
        .bind(max)
        .bind(now)
        .bind(account_id)
        .fetch_one(&mut *$tx)
        .await?;
        let locked_now = locked_at == Some(now) && failed_logins == max;
        detail["failed"] = serde_json::json!(failed_logins);
        let audit = |event, detail| AuditEntry {
            at: now,
            event,
            account_id: Some(account_id),
            device_id: None,
            challenge_id: None,
            detail,
        };
        audit(event, detail).write(&mut *$tx).await?;
        if locked_now {
            sqlx::query("DELETE FROM web_sessions WHERE account_id = $1").bind(account_id).execute(&mut *$tx).await?;
            audit(AuditEvent::AccountLocked, serde_json::json!({"failed": failed_logins, "last": event.as_str()}))
                .write(&mut *$tx)
                .await?;
        }
        FailureCount { failed_logins, locked_now }
    }};
}

/// A new withdrawal's insert, for the backend `with_db!` is on.
macro_rules! insert_withdrawal {
    ($row:expr) => {{
        let row: &WithdrawalRow = $row;
        sqlx::query(INSERT_WITHDRAWAL)
            .bind(&row.id)
            .bind(&row.account_id)
            .bind(row.amount)
            .bind(&row.bank_account_id)
            .bind(<&'static str>::from(row.state))
            .bind(row.needs_push)
            .bind(&row.challenge_id)
            .bind(&row.number)
            .bind(row.created_at)
            .bind(row.finished_at)
    }};
}

impl SiteStore {
    /// Opens and migrates the database `database_url` names (SQLite created if missing),
    /// PostgreSQL's pool sized by `limits`.
    pub async fn open(database_url: &str, limits: &crate::settings::Limits) -> anyhow::Result<SiteStore> {
        let pg = PgOptions {
            migrator: &sqlx::migrate!("./migrations-pg"),
            max_connections: limits.database_connections,
            acquire_timeout: std::time::Duration::from_millis(limits.database_wait_ms),
            idle_check_after: std::time::Duration::from_millis(limits.database_idle_check_ms),
        };
        Ok(SiteStore { db: Db::open(database_url, &sqlx::migrate!("./migrations"), pg).await? })
    }

    /// The database itself (tests that play an insider use it, with `with_db!`).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Readiness: a read, and a real write on the write connection.
    pub async fn check_ready(&self, now: i64) -> sqlx::Result<()> {
        self.db.check_ready(now).await
    }

    /// One row of the site's audit log.
    pub async fn audit(
        &self,
        at: i64,
        event: AuditEvent,
        account_id: Option<&str>,
        device_id: Option<&str>,
        challenge_id: Option<&str>,
        detail: serde_json::Value,
    ) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            AuditEntry { at, event, account_id, device_id, challenge_id, detail }.write(w).await
        })
    }

    /// The customer's login before the newest one (the newest opened the session they are in):
    /// when, and its audit detail (place, browser). `None` before a second login.
    pub async fn previous_login(&self, account_id: &str) -> sqlx::Result<Option<(i64, String)>> {
        let event = crate::audit::AuditEvent::LoginSucceeded.as_str();
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as(
                "SELECT at, detail FROM audit_events WHERE account_id = $1 AND event = $2 ORDER BY id DESC LIMIT 1 OFFSET 1",
            )
            .bind(account_id)
            .bind(event)
            .fetch_optional(r)
            .await
        })
    }

    /// The account's rows in the site's audit log, newest first.
    pub async fn audit_for_account(&self, account_id: &str, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
        self.db.audit_for_account(account_id, limit).await
    }

    // ---- customers -------------------------------------------------------------------

    /// A new customer, their first withdrawal destination and the audit row, in one transaction.
    pub async fn insert_customer(
        &self,
        c: NewCustomer<'_>,
        destination: Option<&BankAccountRow>,
        audit: AuditEntry<'_>,
    ) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            sqlx::query("INSERT INTO customers (account_id, name, email, phone, password_hash, withdrawal_password_hash, cash_balance, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(c.account_id)
                .bind(c.name)
                .bind(c.email)
                .bind(c.phone)
                .bind(c.password_hash)
                .bind(c.withdrawal_password_hash)
                .bind(c.cash_balance)
                .bind(c.now)
                .execute(&mut *tx)
                .await?;
            if let Some(b) = destination {
                insert_bank_account!(b, c.now).execute(&mut *tx).await?;
            }
            audit.write(&mut *tx).await?;
            tx.commit().await
        })
    }

    pub async fn customer(&self, account_id: &str) -> sqlx::Result<Option<CustomerRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as(&format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE account_id = $1"))
                .bind(account_id)
                .fetch_optional(r)
                .await
        })
    }

    pub async fn customer_count(&self) -> sqlx::Result<i64> {
        with_db!(&self.db, |w, r, pg| sqlx::query_scalar("SELECT COUNT(*) FROM customers").fetch_one(r).await)
    }

    /// Counts a failed factor of a customer (password, code, typed number, passkey), audits it
    /// as `event` and, when the count reaches `max`, locks the account, ends its web sessions
    /// and audits the lock: one transaction.
    pub async fn count_failure(
        &self,
        account_id: &str,
        now: i64,
        max: i64,
        event: AuditEvent,
        detail: serde_json::Value,
    ) -> sqlx::Result<FailureCount> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let count = count_failure_in!(tx, account_id, now, max, event, detail);
            tx.commit().await?;
            Ok(count)
        })
    }

    /// Takes a webhook delivery: records its id (a replay is refused: `None`, nothing
    /// written), forgets ids older than `forget_before`, and for each event not processed
    /// before marks it processed and counts a failed factor toward the lock, all in one
    /// transaction. Returns the events new to the site (with what the count did), for the
    /// mails sent after the commit.
    pub async fn take_webhook_delivery(
        &self,
        delivery_id: &str,
        events: &[inkan_protocol::RpEvent],
        now: i64,
        forget_before: i64,
        max_failures: i64,
    ) -> sqlx::Result<Option<Vec<(inkan_protocol::RpEvent, Option<FailureCount>)>>> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            sqlx::query("DELETE FROM site_webhook_deliveries WHERE received_at < $1")
                .bind(forget_before)
                .execute(&mut *tx)
                .await?;
            let fresh = sqlx::query(
                "INSERT INTO site_webhook_deliveries (delivery_id, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(delivery_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if fresh != 1 {
                tx.rollback().await?;
                return Ok(None);
            }
            let mut new = Vec::new();
            for event in events {
                let first = sqlx::query(
                    "INSERT INTO site_rp_events (event_id, processed_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(&event.id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if first != 1 {
                    continue;
                }
                let is_customer: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM customers WHERE account_id = $1)")
                        .bind(&event.account_id)
                        .fetch_one(&mut *tx)
                        .await?;
                let count = match &event.data {
                    inkan_protocol::RpEventData::FactorFailed { challenge_id, factor, .. } if is_customer => {
                        let detail =
                            serde_json::json!({"factor": "push", "challenge_id": challenge_id, "event_id": event.id});
                        let event_name = match factor {
                            inkan_protocol::FailedFactor::NumberMismatch => AuditEvent::NumberMismatch,
                        };
                        Some(count_failure_in!(tx, &event.account_id, now, max_failures, event_name, detail))
                    }
                    _ => None,
                };
                // The customer's own record of what happened to their authenticators (the
                // verifier keeps its audit; the site keeps its own).
                let recorded = match &event.data {
                    inkan_protocol::RpEventData::DeviceEnrolled { device_id, name, platform, .. } => Some((
                        AuditEvent::DeviceEnrolled,
                        device_id,
                        None,
                        serde_json::json!({"name": name, "platform": platform}),
                    )),
                    inkan_protocol::RpEventData::DeviceRevoked { device_id, name } => {
                        Some((AuditEvent::DeviceRevoked, device_id, None, serde_json::json!({"name": name})))
                    }
                    inkan_protocol::RpEventData::FraudReported { challenge_id, device_id } => {
                        Some((AuditEvent::FraudReported, device_id, Some(challenge_id), serde_json::json!({})))
                    }
                    _ => None,
                };
                if let (true, Some((audit_event, device_id, challenge_id, mut detail))) = (is_customer, recorded) {
                    detail["event_id"] = serde_json::json!(event.id);
                    AuditEntry {
                        at: now,
                        event: audit_event,
                        account_id: Some(&event.account_id),
                        device_id: Some(device_id),
                        challenge_id: challenge_id.map(String::as_str),
                        detail,
                    }
                    .write(&mut *tx)
                    .await?;
                }
                if is_customer {
                    new.push((event.clone(), count));
                }
            }
            tx.commit().await?;
            Ok(Some(new))
        })
    }

    pub async fn clear_failures(&self, account_id: &str) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("UPDATE customers SET failed_logins = 0 WHERE account_id = $1")
                .bind(account_id)
                .execute(w)
                .await?;
            Ok(())
        })
    }

    /// Unlocks a locked account, with its audit row; false if it was not locked (nothing
    /// written).
    pub async fn unlock_customer(&self, account_id: &str, audit: AuditEntry<'_>) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let done = sqlx::query(
                "UPDATE customers SET failed_logins = 0, locked_at = NULL WHERE account_id = $1 AND locked_at IS NOT NULL",
            )
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            audit.write(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// A password change: the new hash, every other web session of the account ended (the one
    /// at `keep` stays), and the audit row, in one transaction. How many sessions ended.
    pub async fn change_password(&self, account_id: &str, hash: &str, keep: &[u8], now: i64) -> sqlx::Result<u64> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            sqlx::query("UPDATE customers SET password_hash = $1 WHERE account_id = $2")
                .bind(hash)
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
            let ended = sqlx::query("DELETE FROM web_sessions WHERE account_id = $1 AND token_hash != $2")
                .bind(account_id)
                .bind(keep)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            AuditEntry {
                at: now,
                event: AuditEvent::PasswordChanged,
                account_id: Some(account_id),
                device_id: None,
                challenge_id: None,
                detail: serde_json::json!({"other_sessions_ended": ended}),
            }
            .write(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(ended)
        })
    }

    /// The new address and its audit row, in one transaction.
    pub async fn set_email(&self, account_id: &str, email: &str, audit: AuditEntry<'_>) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            sqlx::query("UPDATE customers SET email = $1 WHERE account_id = $2")
                .bind(email)
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
            audit.write(&mut *tx).await?;
            tx.commit().await
        })
    }

    // ---- withdrawal destinations -----------------------------------------------------

    pub async fn insert_bank_account(&self, b: &BankAccountRow, now: i64) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            insert_bank_account!(b, now).execute(w).await?;
            Ok(())
        })
    }

    pub async fn bank_accounts(&self, account_id: &str) -> sqlx::Result<Vec<BankAccountRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT id, account_id, bank, branch, number, holder, usable_from FROM bank_accounts WHERE account_id = $1 AND retired_at IS NULL ORDER BY created_at, id")
                .bind(account_id)
                .fetch_all(r)
                .await
        })
    }

    /// One of the customer's destinations, retired or not (for past withdrawals).
    pub async fn bank_account(&self, id: &str, account_id: &str) -> sqlx::Result<Option<BankAccountRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT id, account_id, bank, branch, number, holder, usable_from FROM bank_accounts WHERE id = $1 AND account_id = $2")
                .bind(id)
                .bind(account_id)
                .fetch_optional(r)
                .await
        })
    }

    // ---- web sessions ----------------------------------------------------------------

    pub async fn insert_web_session(
        &self,
        token_hash: &[u8],
        account_id: &str,
        now: i64,
        expires_at: i64,
        audit: AuditEntry<'_>,
    ) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            sqlx::query(
                "INSERT INTO web_sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(account_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            audit.write(&mut *tx).await?;
            tx.commit().await
        })
    }

    /// The session's account and end.
    pub async fn web_session(&self, token_hash: &[u8]) -> sqlx::Result<Option<(String, i64)>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT account_id, expires_at FROM web_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(r)
                .await
        })
    }

    pub async fn extend_web_session(&self, token_hash: &[u8], expires_at: i64) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("UPDATE web_sessions SET expires_at = $1 WHERE token_hash = $2")
                .bind(expires_at)
                .bind(token_hash)
                .execute(w)
                .await?;
            Ok(())
        })
    }

    /// Ends one web session (a logout, an expiry), with its audit row, in one transaction.
    pub async fn delete_web_session(&self, token_hash: &[u8], audit: AuditEntry<'_>) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1").bind(token_hash).execute(&mut *tx).await?;
            audit.write(&mut *tx).await?;
            tx.commit().await
        })
    }

    /// Ends every session of the account (after a password change, an unlock).
    pub async fn delete_web_sessions_of(&self, account_id: &str) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("DELETE FROM web_sessions WHERE account_id = $1").bind(account_id).execute(w).await?;
            Ok(())
        })
    }

    // ---- login attempts --------------------------------------------------------------

    /// A login attempt and its audit row, in one transaction.
    pub async fn insert_attempt(&self, a: NewAttempt<'_>, audit: AuditEntry<'_>) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            sqlx::query("INSERT INTO login_attempts (token_hash, account_id, created_at, expires_at, ip, browser, risk, needs_push, needs_email) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(a.token_hash)
                .bind(a.account_id)
                .bind(a.now)
                .bind(a.expires_at)
                .bind(a.ip)
                .bind(a.browser)
                .bind(a.risk)
                .bind(a.needs_push)
                .bind(a.needs_email)
                .execute(&mut *tx)
                .await?;
            audit.write(&mut *tx).await?;
            tx.commit().await
        })
    }

    pub async fn attempt(&self, token_hash: &[u8]) -> sqlx::Result<Option<AttemptRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT account_id, expires_at, ip, browser, risk, needs_push, needs_email, push_done, email_done, challenge_id, number, finished_at FROM login_attempts WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(w)
                .await
        })
    }

    /// Binds a push challenge (or none, to ask for a new one) to an attempt.
    pub async fn set_attempt_challenge(
        &self,
        token_hash: &[u8],
        challenge_id: Option<&str>,
        number: Option<&str>,
    ) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("UPDATE login_attempts SET challenge_id = $1, number = $2 WHERE token_hash = $3")
                .bind(challenge_id)
                .bind(number)
                .bind(token_hash)
                .execute(w)
                .await?;
            Ok(())
        })
    }

    /// Marks one factor of an attempt done (`push_done` or `email_done`).
    /// With `audit`, its row commits in the same transaction.
    pub async fn set_attempt_factor(
        &self,
        token_hash: &[u8],
        factor: AttemptFactor,
        audit: Option<AuditEntry<'_>>,
    ) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let sql = match factor {
                AttemptFactor::Push => "UPDATE login_attempts SET push_done = TRUE WHERE token_hash = $1",
                AttemptFactor::Email => "UPDATE login_attempts SET email_done = TRUE WHERE token_hash = $1",
                AttemptFactor::SwitchToEmail => {
                    "UPDATE login_attempts SET needs_push = FALSE, needs_email = TRUE WHERE token_hash = $1"
                }
            };
            let mut tx = w.begin().await?;
            sqlx::query(sql).bind(token_hash).execute(&mut *tx).await?;
            if let Some(audit) = &audit {
                audit.write(&mut *tx).await?;
            }
            tx.commit().await
        })
    }

    /// Finishes an attempt once (with `audit`'s row in the same transaction); false if it was
    /// already finished (nothing written).
    pub async fn finish_attempt(
        &self,
        token_hash: &[u8],
        now: i64,
        audit: Option<AuditEntry<'_>>,
    ) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let done =
                sqlx::query("UPDATE login_attempts SET finished_at = $1 WHERE token_hash = $2 AND finished_at IS NULL")
                    .bind(now)
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            if let Some(audit) = &audit {
                audit.write(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    // ---- e-mail one-time codes -------------------------------------------------------

    /// The new code (replacing any earlier one of its subject) and `audit`'s row, in one
    /// transaction.
    pub async fn insert_email_code(&self, c: NewEmailCode<'_>, audit: AuditEntry<'_>) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let NewEmailCode { id, account_id, purpose, subject_id, code_hash, now, expires_at } = c;
            // A new code replaces any earlier one for the same login or withdrawal.
            let mut tx = w.begin().await?;
            sqlx::query("UPDATE email_codes SET used_at = $1 WHERE subject_id = $2 AND used_at IS NULL")
                .bind(now)
                .bind(subject_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO email_codes (id, account_id, purpose, subject_id, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(account_id)
                .bind(purpose)
                .bind(subject_id)
                .bind(code_hash)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            audit.write(&mut *tx).await?;
            tx.commit().await
        })
    }

    /// The newest code for a login attempt or withdrawal.
    pub async fn latest_email_code(&self, subject_id: &str) -> sqlx::Result<Option<EmailCodeRow>> {
        with_db!(&self.db, |w, r, pg| {
            // Codes of one second are ordered by insertion: SQLite's rowid, PostgreSQL's `seq`.
            let sql = if pg {
                "SELECT id, code_hash, expires_at, attempts, used_at FROM email_codes WHERE subject_id = $1 ORDER BY created_at DESC, seq DESC LIMIT 1"
            } else {
                "SELECT id, code_hash, expires_at, attempts, used_at FROM email_codes WHERE subject_id = $1 ORDER BY created_at DESC, rowid DESC LIMIT 1"
            };
            sqlx::query_as(sql).bind(subject_id).fetch_optional(w).await
        })
    }

    /// Codes sent so far for a login attempt or withdrawal.
    pub async fn email_code_count(&self, subject_id: &str) -> sqlx::Result<i64> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_scalar("SELECT COUNT(*) FROM email_codes WHERE subject_id = $1")
                .bind(subject_id)
                .fetch_one(w)
                .await
        })
    }

    /// Counts a wrong code, with its `email_code_wrong` audit row (the count in it) in the same
    /// transaction; returns the attempts so far.
    pub async fn add_email_code_attempt(&self, id: &str, account_id: &str, now: i64) -> sqlx::Result<i64> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let attempts: i64 =
                sqlx::query_scalar("UPDATE email_codes SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            AuditEntry::of_account(
                now,
                AuditEvent::EmailCodeWrong,
                account_id,
                serde_json::json!({"attempts": attempts}),
            )
            .write(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(attempts)
        })
    }

    /// Spends a code once, with `audit`'s row in the same transaction; false if it was already
    /// spent (nothing written).
    pub async fn use_email_code(&self, id: &str, now: i64, audit: AuditEntry<'_>) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let done = sqlx::query("UPDATE email_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            audit.write(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    // ---- risk memory -----------------------------------------------------------------

    pub async fn is_known_browser(&self, token_hash: &[u8], account_id: &str) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM known_browsers WHERE token_hash = $1 AND account_id = $2)")
                .bind(token_hash)
                .bind(account_id)
                .fetch_one(r)
                .await
        })
    }

    pub async fn is_known_network(&self, account_id: &str, network: &str) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM known_networks WHERE account_id = $1 AND network = $2)")
                .bind(account_id)
                .bind(network)
                .fetch_one(r)
                .await
        })
    }

    /// Whether this customer has logged in from `country` before.
    pub async fn is_known_country(&self, account_id: &str, country: &str) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM known_countries WHERE account_id = $1 AND country = $2)")
                .bind(account_id)
                .bind(country)
                .fetch_one(r)
                .await
        })
    }

    /// Where and when this customer last logged in from a place with coordinates.
    pub async fn last_login_place(&self, account_id: &str) -> sqlx::Result<Option<super::risk::LastLogin>> {
        with_db!(&self.db, |w, r, pg| {
            let row: Option<(i64, f64, f64, f64)> = sqlx::query_as(
                "SELECT at, latitude, longitude, accuracy_km FROM last_login_places WHERE account_id = $1",
            )
            .bind(account_id)
            .fetch_optional(r)
            .await?;
            Ok(row.map(|(at, latitude, longitude, accuracy_km)| super::risk::LastLogin {
                at,
                coords: super::geo::Coords { latitude, longitude, accuracy_km },
            }))
        })
    }

    /// Remembers the browser, network, country and place of a successful login.
    pub async fn remember_login_environment(
        &self,
        account_id: &str,
        browser_hash: &[u8],
        network: &str,
        located: &super::geo::Located,
        now: i64,
    ) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            if let Some(country) = &located.country {
                sqlx::query("INSERT INTO known_countries (account_id, country, first_seen, last_seen) VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, country) DO UPDATE SET last_seen = excluded.last_seen")
                    .bind(account_id)
                    .bind(country)
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(c) = &located.coords {
                sqlx::query("INSERT INTO last_login_places (account_id, at, latitude, longitude, accuracy_km) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET at = excluded.at, latitude = excluded.latitude, longitude = excluded.longitude, accuracy_km = excluded.accuracy_km")
                    .bind(account_id)
                    .bind(now)
                    .bind(c.latitude)
                    .bind(c.longitude)
                    .bind(c.accuracy_km)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("INSERT INTO known_browsers (token_hash, account_id, first_seen, last_seen) VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash, account_id) DO UPDATE SET last_seen = excluded.last_seen")
                .bind(browser_hash)
                .bind(account_id)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO known_networks (account_id, network, first_seen, last_seen) VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, network) DO UPDATE SET last_seen = excluded.last_seen")
                .bind(account_id)
                .bind(network)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE customers SET failed_logins = 0 WHERE account_id = $1")
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
    }

    // ---- withdrawals -----------------------------------------------------------------

    /// A new withdrawal request, its passkey binding (if a passkey is to confirm it) and its
    /// audit row, in one transaction: the request exists with its record or not at all.
    pub async fn insert_withdrawal_requested(
        &self,
        row: &WithdrawalRow,
        binding: Option<&str>,
        audit: &AuditEntry<'_>,
    ) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            insert_withdrawal!(row).execute(&mut *tx).await?;
            if let Some(binding) = binding {
                sqlx::query("INSERT INTO withdrawal_bindings (withdrawal_id, binding) VALUES ($1, $2)")
                    .bind(&row.id)
                    .bind(binding)
                    .execute(&mut *tx)
                    .await?;
            }
            audit.write(&mut *tx).await?;
            tx.commit().await
        })
    }

    pub async fn withdrawal(&self, id: &str, account_id: &str) -> sqlx::Result<Option<WithdrawalRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as(&format!("SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE id = $1 AND account_id = $2"))
                .bind(id)
                .bind(account_id)
                .fetch_optional(w)
                .await
        })
    }

    pub async fn set_withdrawal_challenge(
        &self,
        id: &str,
        challenge_id: &str,
        number: Option<&str>,
    ) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("UPDATE withdrawals SET challenge_id = $1, number = $2 WHERE id = $3")
                .bind(challenge_id)
                .bind(number)
                .bind(id)
                .execute(w)
                .await?;
            Ok(())
        })
    }

    /// Completes an awaiting withdrawal, takes the amount from the balance and writes its audit
    /// row, once, in one transaction; false (nothing written) if it was not awaiting approval or
    /// the balance no longer covers it.
    pub async fn complete_withdrawal(&self, id: &str, now: i64, audit: &AuditEntry<'_>) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            if pg {
                // Each PostgreSQL statement reads the balance as of its start: lock the
                // customer's row first, so two of their withdrawals completing at once take
                // turns and the second sees the balance the first left (SQLite's one writer
                // serialises them already).
                sqlx::query("SELECT 1 FROM customers WHERE account_id = (SELECT account_id FROM withdrawals WHERE id = $1) FOR UPDATE")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            let done = sqlx::query("UPDATE withdrawals SET state = 'completed', finished_at = $1 WHERE id = $2 AND state = 'awaiting_approval' AND amount <= (SELECT cash_balance FROM customers WHERE customers.account_id = withdrawals.account_id)")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query("UPDATE customers SET cash_balance = cash_balance - (SELECT amount FROM withdrawals WHERE id = $1) WHERE account_id = (SELECT account_id FROM withdrawals WHERE id = $2)")
                .bind(id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit.write(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Refuses an awaiting withdrawal (denied, expired, too many wrong codes) with its audit
    /// row, in one transaction; false (nothing written) if it had already finished.
    pub async fn refuse_withdrawal(&self, id: &str, now: i64, audit: &AuditEntry<'_>) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let done = sqlx::query(
                "UPDATE withdrawals SET state = 'refused', finished_at = $1 WHERE id = $2 AND state IN ('awaiting_approval', 'awaiting_passkey')",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            audit.write(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    // ---- the development outbox ------------------------------------------------------

    pub async fn insert_outbox(&self, at: i64, mail: &Mail) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("INSERT INTO outbox (at, to_addr, subject, body) VALUES ($1, $2, $3, $4)")
                .bind(at)
                .bind(&mail.to)
                .bind(&mail.subject)
                .bind(&mail.body)
                .execute(w)
                .await?;
            Ok(())
        })
    }

    pub async fn outbox(&self, limit: i64) -> sqlx::Result<Vec<OutboxRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT id, at, to_addr, subject, body FROM outbox ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(r)
                .await
        })
    }
}

/// Which factor of a login attempt to mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptFactor {
    Push,
    Email,
    /// The person chose the e-mail code instead of the push.
    SwitchToEmail,
}
