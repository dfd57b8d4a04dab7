//! Persistence through sqlx, on SQLite (one file, WAL: the embedded default) or PostgreSQL
//! (shared by several instances), chosen by the database URL.
//!
//! Each method is one statement or one short transaction; the service decides, the store
//! records. Each statement is written once and runs on both backends ([`inkan_kit::with_db`]);
//! its guarantee (single use, `WHERE state = 'pending'`, the audit row in the same transaction)
//! holds on both, and `crates/server/tests/store.rs` checks them on both. Migrations live in
//! `crates/server/migrations` (SQLite) and `crates/server/migrations-pg` (PostgreSQL) and run at
//! start.
//!
//! On SQLite there is one writer: transactions never overlap. On PostgreSQL they do, so two
//! places take a transaction-level advisory lock:
//! - a challenge's creation locks its account ([`ACCOUNT_LOCK_SQL`]): the push limits are read
//!   and the challenge inserted under it, so parallel creations cannot all pass one check;
//! - an event's insert locks the event order ([`EVENT_ORDER_LOCK`]), so events commit in `seq`
//!   order and a reader that saw `seq` n has seen every event before it. Each transaction
//!   writes its events after every row it changes, so holding this lock never waits for a row.

use inkan_kit::db::{Db, PgOptions, WriteRow};
use inkan_kit::with_db;
use inkan_protocol::{ChallengeState, FailedFactor, RpEvent, RpEventData};

use crate::hub::HubNote;
use sqlx::{FromRow, Postgres, Sqlite};

pub use crate::audit::{AuditEntry, AuditEvent};
pub use inkan_kit::sqlite::{AuditRow, BUSY_TIMEOUT, READ_CONNECTIONS, open_sqlite};

/// The verifier's database. On SQLite writes go through a one-connection pool, so this
/// process's writers wait their turn in an async queue instead of colliding on the database
/// lock (whose busy handler sleeps in growing steps); reads use their own pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    /// This process's id in the notes it sends other instances ([`crate::hub::HubNote`]).
    pub instance: String,
}

/// The advisory-lock key that orders event inserts on PostgreSQL ("inkan ev" in ASCII).
pub const EVENT_ORDER_LOCK: i64 = 0x696e_6b61_6e20_6576;

/// The session advisory lock the one webhook sender among several instances holds
/// ("inkan wh").
pub const WEBHOOK_SENDER_LOCK: i64 = 0x696e_6b61_6e20_7768;

/// Locks one account for the rest of the transaction, on PostgreSQL.
pub const ACCOUNT_LOCK_SQL: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

#[derive(Debug, Clone, FromRow)]
pub struct TicketRow {
    pub id: String,
    pub account_id: String,
    pub label: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, FromRow)]
pub struct DeviceRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub platform: String,
    pub public_key: Vec<u8>,
    pub enrolled_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A device session with its device, read in one statement.
#[derive(Debug, Clone, FromRow)]
pub struct SessionDevice {
    pub session_expires_at: i64,
    #[sqlx(flatten)]
    pub device: DeviceRow,
}

#[derive(Debug, Clone, FromRow)]
pub struct ChallengeRow {
    pub id: String,
    pub account_id: String,
    pub challenge_json: String,
    pub server_signature: String,
    pub number_to_match: Option<String>,
    pub number_attempts: i64,
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
    pub device_id: Option<String>,
}

impl ChallengeRow {
    pub fn state(&self) -> ChallengeState {
        ChallengeState::parse(&self.state).unwrap_or(ChallengeState::Failed)
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct PushGate {
    pub active_devices: i64,
    pub push_blocked_at: Option<i64>,
    pub cooldown_until: Option<i64>,
    pub open_challenges: i64,
    pub pushes_since_success: i64,
}

/// A decision to record, with what it does to the account's push protection.
pub struct RecordedDecision<'a> {
    pub challenge_id: &'a str,
    pub account_id: &'a str,
    pub device_id: &'a str,
    pub state: ChallengeState,
    pub signature: &'a str,
    pub now: i64,
    /// How the decision moves the push limits, if at all.
    pub push_state: Option<PushStateChange>,
}

pub struct NewDevice<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub name: &'a str,
    pub platform: &'a str,
    pub public_key: &'a [u8],
    /// The offline-code secret sealed under `totp_key_id` ([`crate::secrets`]).
    pub totp_secret: &'a [u8],
    pub totp_key_id: &'a str,
    pub enrolled_at: i64,
}

pub struct NewChallenge<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub challenge_json: &'a str,
    pub server_signature: &'a str,
    pub number_to_match: Option<&'a str>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Moves a challenge to a final state only if it is still pending: state, decided_at,
/// device, decision signature, id.
const FINISH_PENDING_CHALLENGE: &str = "UPDATE challenges SET state = $1, decided_at = $2, device_id = $3, decision_signature = $4 WHERE id = $5 AND state = 'pending'";

/// An event for the relying party, written inside the transaction of the change it reports
/// (so the change and its event commit together, and the event is never lost afterwards).
pub struct EventEntry<'a> {
    pub at: i64,
    pub account_id: &'a str,
    pub data: RpEventData,
}

const INSERT_EVENT: &str = "INSERT INTO rp_events (id, at, account_id, type, data) VALUES ($1, $2, $3, $4, $5)";

impl EventEntry<'_> {
    fn data_json(&self) -> sqlx::Result<String> {
        let tagged = serde_json::to_value(&self.data).map_err(|e| sqlx::Error::Encode(e.into()))?;
        Ok(tagged["data"].to_string())
    }
}

impl WriteRow<Sqlite> for EventEntry<'_> {
    async fn write<'c, X>(&self, conn: X) -> sqlx::Result<()>
    where
        X: sqlx::Executor<'c, Database = Sqlite> + 'c,
    {
        sqlx::query(INSERT_EVENT)
            .bind(crate::random_id(crate::service::ID_BYTES))
            .bind(self.at)
            .bind(self.account_id)
            .bind(self.data.kind())
            .bind(self.data_json()?)
            .execute(conn)
            .await?;
        Ok(())
    }
}

impl WriteRow<Postgres> for EventEntry<'_> {
    /// Takes the event-order lock first, in the same statement, so events commit in `seq` order.
    async fn write<'c, X>(&self, conn: X) -> sqlx::Result<()>
    where
        X: sqlx::Executor<'c, Database = Postgres> + 'c,
    {
        sqlx::query(
            "WITH ordered AS (SELECT pg_advisory_xact_lock($6)) INSERT INTO rp_events (id, at, account_id, type, data) SELECT $1, $2, $3, $4, $5 FROM ordered",
        )
        .bind(crate::random_id(crate::service::ID_BYTES))
        .bind(self.at)
        .bind(self.account_id)
        .bind(self.data.kind())
        .bind(self.data_json()?)
        .bind(EVENT_ORDER_LOCK)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// A note to the other instances, sent in the transaction of the change it reports and
/// delivered when that commits. The callers build it only on PostgreSQL (`if pg`), so the
/// SQLite path allocates nothing for it.
impl WriteRow<Postgres> for HubNote {
    async fn write<'c, X>(&self, conn: X) -> sqlx::Result<()>
    where
        X: sqlx::Executor<'c, Database = Postgres> + 'c,
    {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::hub::NOTIFY_CHANNEL)
            .bind(self.to_payload())
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// One process on SQLite: there is nobody to tell.
impl WriteRow<Sqlite> for HubNote {
    async fn write<'c, X>(&self, _conn: X) -> sqlx::Result<()>
    where
        X: sqlx::Executor<'c, Database = Sqlite> + 'c,
    {
        Ok(())
    }
}

fn settled(challenge_id: &str, state: ChallengeState) -> RpEventData {
    RpEventData::ChallengeSettled { challenge_id: challenge_id.to_owned(), state }
}

/// An `rp_events` row: seq, id, at, account, type, data (JSON text).
type EventRow = (i64, String, i64, String, String, String);

fn event_from_row((seq, id, at, account_id, kind, data): EventRow) -> sqlx::Result<RpEvent> {
    let data: serde_json::Value = serde_json::from_str(&data).map_err(|e| sqlx::Error::Decode(e.into()))?;
    serde_json::from_value(serde_json::json!({
        "id": id, "seq": seq, "at": at, "account_id": account_id, "type": kind, "data": data,
    }))
    .map_err(|e| sqlx::Error::Decode(e.into()))
}

/// An enrollment ticket's state as the relying party sees it.
#[derive(Debug, Clone, FromRow)]
pub struct TicketStateRow {
    pub id: String,
    pub account_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub device_id: Option<String>,
}

/// A change to an account's push protection (`account_push_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushStateChange {
    /// A successful login: pushes since the last success count from here.
    LastSuccess(i64),
    /// A denial: no new challenge until then.
    CooldownUntil(i64),
    /// "Not me" (`Some(at)`), or cleared (`None`).
    Blocked(Option<i64>),
}

impl PushStateChange {
    fn upsert_sql(self) -> &'static str {
        match self {
            PushStateChange::LastSuccess(_) => {
                "INSERT INTO account_push_state (account_id, last_success_at) VALUES ($1, $2) ON CONFLICT (account_id) DO UPDATE SET last_success_at = excluded.last_success_at"
            }
            PushStateChange::CooldownUntil(_) => {
                "INSERT INTO account_push_state (account_id, cooldown_until) VALUES ($1, $2) ON CONFLICT (account_id) DO UPDATE SET cooldown_until = excluded.cooldown_until"
            }
            PushStateChange::Blocked(_) => {
                "INSERT INTO account_push_state (account_id, push_blocked_at) VALUES ($1, $2) ON CONFLICT (account_id) DO UPDATE SET push_blocked_at = excluded.push_blocked_at"
            }
        }
    }

    fn value(self) -> Option<i64> {
        match self {
            PushStateChange::LastSuccess(at) | PushStateChange::CooldownUntil(at) => Some(at),
            PushStateChange::Blocked(at) => at,
        }
    }
}

/// Everything the push limits look at, in one read: account, now.
const PUSH_GATE: &str = "SELECT
    (SELECT COUNT(*) FROM devices WHERE account_id = $1 AND revoked_at IS NULL) AS active_devices,
    s.push_blocked_at, s.cooldown_until,
    (SELECT COUNT(*) FROM challenges WHERE account_id = $1 AND state = 'pending' AND expires_at >= $2) AS open_challenges,
    (SELECT COUNT(*) FROM challenges WHERE account_id = $1 AND created_at > COALESCE(s.last_success_at, 0)) AS pushes_since_success
 FROM (SELECT 1 AS one) AS one LEFT JOIN account_push_state s ON s.account_id = $1";

/// The columns of a [`ChallengeRow`], as a macro so the queries are constant strings.
macro_rules! challenge_columns {
    () => {
        "id, account_id, challenge_json, server_signature, number_to_match, number_attempts, state, created_at, expires_at, decided_at, device_id"
    };
}

impl Store {
    fn settled_note(&self, account_id: &str, challenge_id: &str, state: ChallengeState) -> HubNote {
        HubNote::Settled { i: self.instance.clone(), a: account_id.into(), c: challenge_id.into(), s: state }
    }

    /// Opens (creating an SQLite file if missing) and migrates the database, with the default
    /// limits.
    pub async fn open(database_url: &str) -> anyhow::Result<Store> {
        Self::open_with(database_url, &crate::settings::Limits::default()).await
    }

    /// Opens and migrates the database `database_url` names, PostgreSQL's pool sized by
    /// `limits`.
    pub async fn open_with(database_url: &str, limits: &crate::settings::Limits) -> anyhow::Result<Store> {
        let pg = PgOptions {
            migrator: &sqlx::migrate!("./migrations-pg"),
            max_connections: limits.database_connections,
            acquire_timeout: std::time::Duration::from_millis(limits.database_wait_ms),
            idle_check_after: std::time::Duration::from_millis(limits.database_idle_check_ms),
        };
        Ok(Store {
            db: Db::open(database_url, &sqlx::migrate!("./migrations"), pg).await?,
            instance: crate::random_id(crate::service::ID_BYTES),
        })
    }

    /// Readiness: a read and a real write (one row rewritten and committed). Fails when the
    /// database cannot serve requests.
    pub async fn check_ready(&self, now: i64) -> sqlx::Result<()> {
        self.db.check_ready(now).await
    }

    /// The database (tests use it to check the schema's own guards).
    pub fn db(&self) -> &Db {
        &self.db
    }

    // ---- audit -----------------------------------------------------------------------

    pub async fn audit(
        &self,
        at: i64,
        event: AuditEvent,
        account_id: Option<&str>,
        device_id: Option<&str>,
        challenge_id: Option<&str>,
        detail: serde_json::Value,
    ) -> sqlx::Result<()> {
        let entry = AuditEntry { at, event, account_id, device_id, challenge_id, detail };
        with_db!(&self.db, |w, r, pg| entry.write(w).await)
    }

    /// The account's audit events, newest first.
    pub async fn audit_for_account(&self, account_id: &str, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
        self.db.audit_for_account(account_id, limit).await
    }

    // ---- enrollment tickets ----------------------------------------------------------

    pub async fn insert_ticket(
        &self,
        id: &str,
        hash: &[u8],
        account_id: &str,
        label: &str,
        created_at: i64,
        expires_at: i64,
    ) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            sqlx::query("INSERT INTO enrollment_tickets (id, ticket_hash, account_id, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(id)
                .bind(hash)
                .bind(account_id)
                .bind(label)
                .bind(created_at)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            AuditEntry::of_account(
                created_at,
                AuditEvent::TicketCreated,
                account_id,
                serde_json::json!({"ticket_id": id}),
            )
            .write(&mut *tx)
            .await?;
            tx.commit().await
        })
    }

    pub async fn ticket_by_hash(&self, hash: &[u8]) -> sqlx::Result<Option<TicketRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as(
                "SELECT id, account_id, label, expires_at, used_at FROM enrollment_tickets WHERE ticket_hash = $1",
            )
            .bind(hash)
            .fetch_optional(r)
            .await
        })
    }

    /// Marks the ticket used and binds the device, in one transaction. `false`: somebody else
    /// used the ticket first (nothing written).
    /// The device's enrollment audit row and the relying party's `device_enrolled` event are
    /// written in the same transaction.
    pub async fn redeem_ticket(&self, ticket_id: &str, device: NewDevice<'_>) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let used = sqlx::query(
                "UPDATE enrollment_tickets SET used_at = $1, device_id = $2 WHERE id = $3 AND used_at IS NULL",
            )
            .bind(device.enrolled_at)
            .bind(device.id)
            .bind(ticket_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if used != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query("INSERT INTO devices (id, account_id, name, platform, public_key, totp_secret, totp_key_id, enrolled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(device.id)
                .bind(device.account_id)
                .bind(device.name)
                .bind(device.platform)
                .bind(device.public_key)
                .bind(device.totp_secret)
                .bind(device.totp_key_id)
                .bind(device.enrolled_at)
                .execute(&mut *tx)
                .await?;
            AuditEntry {
                at: device.enrolled_at,
                event: AuditEvent::DeviceEnrolled,
                account_id: Some(device.account_id),
                device_id: Some(device.id),
                challenge_id: None,
                detail: serde_json::json!({"ticket_id": ticket_id, "name": device.name, "platform": device.platform}),
            }
            .write(&mut *tx)
            .await?;
            EventEntry {
                at: device.enrolled_at,
                account_id: device.account_id,
                data: RpEventData::DeviceEnrolled {
                    device_id: device.id.to_owned(),
                    ticket_id: ticket_id.to_owned(),
                    name: device.name.to_owned(),
                    platform: device.platform.to_owned(),
                },
            }
            .write(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The ticket's state.
    pub async fn ticket_status(&self, ticket_id: &str) -> sqlx::Result<Option<TicketStateRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as(
                "SELECT id, account_id, expires_at, used_at, device_id FROM enrollment_tickets WHERE id = $1",
            )
            .bind(ticket_id)
            .fetch_optional(r)
            .await
        })
    }

    // ---- devices and sessions --------------------------------------------------------

    pub async fn device(&self, id: &str) -> sqlx::Result<Option<DeviceRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT id, account_id, name, platform, public_key, enrolled_at, last_used_at, revoked_at FROM devices WHERE id = $1")
                .bind(id)
                .fetch_optional(r)
                .await
        })
    }

    pub async fn devices_for_account(&self, account_id: &str) -> sqlx::Result<Vec<DeviceRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT id, account_id, name, platform, public_key, enrolled_at, last_used_at, revoked_at FROM devices WHERE account_id = $1 ORDER BY enrolled_at, id")
                .bind(account_id)
                .fetch_all(r)
                .await
        })
    }

    /// The device's sealed offline-code secret and the id of the key that sealed it (`None`:
    /// a row from before sealing, in the clear until [`Store::reseal_offline_secrets`]).
    pub async fn totp_secret(&self, device_id: &str) -> sqlx::Result<Option<(Vec<u8>, Option<String>)>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT totp_secret, totp_key_id FROM devices WHERE id = $1 AND revoked_at IS NULL")
                .bind(device_id)
                .fetch_optional(r)
                .await
        })
    }

    /// Seals every offline-code secret that is not sealed under `keys`' current key: rows
    /// still in the clear (written before sealing) and rows under an older key (rotation).
    /// One transaction; returns how many rows were re-sealed.
    pub async fn reseal_offline_secrets(&self, keys: &crate::secrets::SecretKeys) -> anyhow::Result<usize> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let rows: Vec<(String, Vec<u8>, Option<String>)> = sqlx::query_as(
                "SELECT id, totp_secret, totp_key_id FROM devices WHERE totp_key_id IS NULL OR totp_key_id != $1",
            )
            .bind(keys.current_id())
            .fetch_all(&mut *tx)
            .await?;
            for (id, stored, key_id) in &rows {
                let plain = match key_id {
                    None => zeroize::Zeroizing::new(stored.clone()),
                    Some(key_id) => keys.open(key_id, id, stored)?,
                };
                let (key_id, sealed) = keys.seal(id, &plain);
                sqlx::query("UPDATE devices SET totp_secret = $1, totp_key_id = $2 WHERE id = $3")
                    .bind(sealed)
                    .bind(key_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(rows.len())
        })
    }

    /// Records `step` as the device's last accepted offline-code step, with its acceptance
    /// audited in the same transaction, unless that step (or a later one) was already used.
    /// `false`: a replay; nothing written.
    pub async fn use_totp_step(&self, account_id: &str, device_id: &str, step: i64, now: i64) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let n = sqlx::query(
                "UPDATE devices SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
            )
            .bind(step)
            .bind(device_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            AuditEntry::of_device(now, AuditEvent::OfflineCodeAccepted, account_id, device_id, serde_json::json!({}))
                .write(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Revokes the device, ends its sessions and audits it, in one transaction. `false`: no
    /// such active device of that account; nothing written.
    pub async fn revoke_device(&self, account_id: &str, device_id: &str, now: i64) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let name: Option<String> = sqlx::query_scalar(
                "UPDATE devices SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL RETURNING name",
            )
            .bind(now)
            .bind(device_id)
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(name) = name else {
                // Not this account's active device: a refusal changes nothing.
                tx.rollback().await?;
                return Ok(false);
            };
            sqlx::query("DELETE FROM device_sessions WHERE device_id = $1").bind(device_id).execute(&mut *tx).await?;
            AuditEntry::of_device(now, AuditEvent::DeviceRevoked, account_id, device_id, serde_json::json!({}))
                .write(&mut *tx)
                .await?;
            if pg {
                HubNote::Revoked { i: self.instance.clone(), a: account_id.into(), d: device_id.into() }
                    .write(&mut *tx)
                    .await?;
            }
            EventEntry {
                at: now,
                account_id,
                data: RpEventData::DeviceRevoked { device_id: device_id.to_owned(), name },
            }
            .write(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    pub async fn insert_nonce(&self, nonce: &str, expires_at: i64) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("INSERT INTO auth_nonces (nonce, expires_at) VALUES ($1, $2)")
                .bind(nonce)
                .bind(expires_at)
                .execute(w)
                .await?;
            Ok(())
        })
    }

    /// Consumes a nonce: its expiry if it existed, `None` if unknown or already used.
    pub async fn take_nonce(&self, nonce: &str) -> sqlx::Result<Option<i64>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_scalar("DELETE FROM auth_nonces WHERE nonce = $1 RETURNING expires_at")
                .bind(nonce)
                .fetch_optional(w)
                .await
        })
    }

    pub async fn insert_session(&self, token_hash: &[u8], device_id: &str, expires_at: i64) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("INSERT INTO device_sessions (token_hash, device_id, expires_at) VALUES ($1, $2, $3)")
                .bind(token_hash)
                .bind(device_id)
                .bind(expires_at)
                .execute(w)
                .await?;
            Ok(())
        })
    }

    /// The session's device and expiry.
    pub async fn session(&self, token_hash: &[u8]) -> sqlx::Result<Option<(String, i64)>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT device_id, expires_at FROM device_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(r)
                .await
        })
    }

    /// The session's expiry and its device (one read: every device request makes it).
    pub async fn session_device(&self, token_hash: &[u8]) -> sqlx::Result<Option<SessionDevice>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT s.expires_at AS session_expires_at, d.id, d.account_id, d.name, d.platform, d.public_key, d.enrolled_at, d.last_used_at, d.revoked_at FROM device_sessions s JOIN devices d ON d.id = s.device_id WHERE s.token_hash = $1")
                .bind(token_hash)
                .fetch_optional(r)
                .await
        })
    }

    // ---- challenges ------------------------------------------------------------------

    /// Stores a new challenge and its audit entry in one transaction, if the account's push
    /// limits allow it: the limits are read and checked inside the same write transaction as
    /// the insert, so parallel creations for one account cannot all pass one check (the write
    /// connection is one, so the transaction holds the database's write lock throughout).
    /// `Ok(Err(e))`: `check` refused; the refusal's audit row (if `refusal_reason` names one)
    /// is committed and no challenge is written.
    pub async fn insert_challenge_gated<E>(
        &self,
        c: NewChallenge<'_>,
        audit_detail: serde_json::Value,
        check: impl FnOnce(&PushGate) -> Result<(), E>,
        refusal_reason: impl FnOnce(&E) -> Option<&'static str>,
    ) -> sqlx::Result<Result<(), E>> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            if pg {
                sqlx::query(ACCOUNT_LOCK_SQL).bind(c.account_id).execute(&mut *tx).await?;
            }
            let gate: PushGate =
                sqlx::query_as(PUSH_GATE).bind(c.account_id).bind(c.created_at).fetch_one(&mut *tx).await?;
            if let Err(refused) = check(&gate) {
                if let Some(reason) = refusal_reason(&refused) {
                    AuditEntry {
                        at: c.created_at,
                        event: AuditEvent::ChallengeRefused,
                        account_id: Some(c.account_id),
                        device_id: None,
                        challenge_id: None,
                        detail: serde_json::json!({"reason": reason}),
                    }
                    .write(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                return Ok(Err(refused));
            }
            sqlx::query("INSERT INTO challenges (id, account_id, challenge_json, server_signature, number_to_match, state, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)")
                .bind(c.id)
                .bind(c.account_id)
                .bind(c.challenge_json)
                .bind(c.server_signature)
                .bind(c.number_to_match)
                .bind(c.created_at)
                .bind(c.expires_at)
                .execute(&mut *tx)
                .await?;
            AuditEntry {
                at: c.created_at,
                event: AuditEvent::ChallengeCreated,
                account_id: Some(c.account_id),
                device_id: None,
                challenge_id: Some(c.id),
                detail: audit_detail,
            }
            .write(&mut *tx)
            .await?;
            if pg {
                HubNote::Created { i: self.instance.clone(), a: c.account_id.into(), c: c.id.into() }
                    .write(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Ok(()))
        })
    }

    /// Records a device's decision in one transaction: the final state (only if still
    /// pending), its audit entry, the account's push protection and the device's last use.
    /// `false`: the challenge was no longer pending; nothing written.
    pub async fn record_decision(&self, d: RecordedDecision<'_>) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            // Pending is not a decision: nothing to record.
            let Some(event) = AuditEvent::challenge_reached(d.state) else { return Ok(false) };
            let mut tx = w.begin().await?;
            let n = sqlx::query(FINISH_PENDING_CHALLENGE)
                .bind(d.state.as_str())
                .bind(d.now)
                .bind(d.device_id)
                .bind(d.signature)
                .bind(d.challenge_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            AuditEntry {
                at: d.now,
                event,
                account_id: Some(d.account_id),
                device_id: Some(d.device_id),
                challenge_id: Some(d.challenge_id),
                detail: serde_json::json!({}),
            }
            .write(&mut *tx)
            .await?;
            if let Some(change) = d.push_state {
                sqlx::query(change.upsert_sql()).bind(d.account_id).bind(change.value()).execute(&mut *tx).await?;
            }
            // Every row first, then the events (the event-order lock is taken last).
            sqlx::query("UPDATE devices SET last_used_at = $1 WHERE id = $2")
                .bind(d.now)
                .bind(d.device_id)
                .execute(&mut *tx)
                .await?;
            if pg {
                self.settled_note(d.account_id, d.challenge_id, d.state).write(&mut *tx).await?;
            }
            if d.state == ChallengeState::DeniedFraud {
                let data = RpEventData::FraudReported {
                    challenge_id: d.challenge_id.to_owned(),
                    device_id: d.device_id.to_owned(),
                };
                EventEntry { at: d.now, account_id: d.account_id, data }.write(&mut *tx).await?;
            }
            EventEntry { at: d.now, account_id: d.account_id, data: settled(d.challenge_id, d.state) }
                .write(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    pub async fn challenge(&self, id: &str) -> sqlx::Result<Option<ChallengeRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as(concat!("SELECT ", challenge_columns!(), " FROM challenges WHERE id = $1"))
                .bind(id)
                .fetch_optional(r)
                .await
        })
    }

    pub async fn pending_challenges(&self, account_id: &str, now: i64) -> sqlx::Result<Vec<ChallengeRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as(concat!("SELECT ", challenge_columns!(), " FROM challenges WHERE account_id = $1 AND state = 'pending' AND expires_at >= $2 ORDER BY created_at, id"))
                .bind(account_id)
                .bind(now)
                .fetch_all(r)
                .await
        })
    }

    /// Moves a pending challenge to a final state that no device signed (expired, failed,
    /// cancelled) and writes its audit row, in one transaction. `false`: it was not pending any
    /// more (another decision won the race); nothing written.
    pub async fn finish_challenge(
        &self,
        row: &ChallengeRow,
        state: ChallengeState,
        now: i64,
        device_id: Option<&str>,
    ) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            // Pending is not a final state: nothing to move.
            let Some(event) = AuditEvent::challenge_reached(state) else { return Ok(false) };
            let mut tx = w.begin().await?;
            let n = sqlx::query(FINISH_PENDING_CHALLENGE)
                .bind(state.as_str())
                .bind(now)
                .bind(device_id)
                .bind(None::<&str>)
                .bind(&row.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            AuditEntry {
                at: now,
                event,
                account_id: Some(&row.account_id),
                device_id,
                challenge_id: Some(&row.id),
                detail: serde_json::json!({}),
            }
            .write(&mut *tx)
            .await?;
            if pg {
                self.settled_note(&row.account_id, &row.id, state).write(&mut *tx).await?;
            }
            EventEntry { at: now, account_id: &row.account_id, data: settled(&row.id, state) }.write(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Counts a wrong number with its audit row and, at `max_attempts`, fails the challenge
    /// with its own audit row: one transaction. Returns the attempts so far, or `None` if the
    /// challenge was decided meanwhile (nothing written).
    pub async fn record_wrong_number(
        &self,
        row: &ChallengeRow,
        device_id: &str,
        now: i64,
        max_attempts: i64,
    ) -> sqlx::Result<Option<i64>> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let attempts: Option<i64> = sqlx::query_scalar(
                "UPDATE challenges SET number_attempts = number_attempts + 1 WHERE id = $1 AND state = 'pending' RETURNING number_attempts",
            )
            .bind(&row.id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(attempts) = attempts else {
                tx.rollback().await?;
                return Ok(None);
            };
            let audit = |event, detail| AuditEntry {
                at: now,
                event,
                account_id: Some(&row.account_id),
                device_id: Some(device_id),
                challenge_id: Some(&row.id),
                detail,
            };
            audit(AuditEvent::NumberMismatch, serde_json::json!({"attempts": attempts})).write(&mut *tx).await?;
            let failed = RpEventData::FactorFailed {
                challenge_id: row.id.clone(),
                device_id: device_id.to_owned(),
                factor: FailedFactor::NumberMismatch,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            };
            EventEntry { at: now, account_id: &row.account_id, data: failed }.write(&mut *tx).await?;
            if attempts >= max_attempts {
                sqlx::query(FINISH_PENDING_CHALLENGE)
                    .bind(ChallengeState::Failed.as_str())
                    .bind(now)
                    .bind(device_id)
                    .bind(None::<&str>)
                    .bind(&row.id)
                    .execute(&mut *tx)
                    .await?;
                audit(AuditEvent::ChallengeFailed, serde_json::json!({})).write(&mut *tx).await?;
                if pg {
                    self.settled_note(&row.account_id, &row.id, ChallengeState::Failed).write(&mut *tx).await?;
                }
                EventEntry { at: now, account_id: &row.account_id, data: settled(&row.id, ChallengeState::Failed) }
                    .write(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Some(attempts))
        })
    }

    /// Deletes expired nonces and device sessions; returns how many of each.
    pub async fn purge_expired(&self, now: i64) -> sqlx::Result<(u64, u64)> {
        with_db!(&self.db, |w, r, pg| {
            let nonces = sqlx::query("DELETE FROM auth_nonces WHERE expires_at < $1")
                .bind(now)
                .execute(w)
                .await?
                .rows_affected();
            let sessions = sqlx::query("DELETE FROM device_sessions WHERE expires_at < $1")
                .bind(now)
                .execute(w)
                .await?
                .rows_affected();
            Ok((nonces, sessions))
        })
    }

    /// Marks every pending challenge past its expiry as expired and writes each one's audit
    /// row, in one transaction (a crash leaves both or neither); returns (id, account) of each.
    pub async fn expire_due(&self, now: i64) -> sqlx::Result<Vec<(String, String)>> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let expired: Vec<(String, String)> = sqlx::query_as("UPDATE challenges SET state = 'expired', decided_at = $1 WHERE state = 'pending' AND expires_at < $2 RETURNING id, account_id")
                .bind(now)
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
            for (id, account) in &expired {
                if pg {
                    self.settled_note(account, id, ChallengeState::Expired).write(&mut *tx).await?;
                }
                AuditEntry {
                    at: now,
                    event: AuditEvent::ChallengeExpired,
                    account_id: Some(account),
                    device_id: None,
                    challenge_id: Some(id),
                    detail: serde_json::json!({}),
                }
                .write(&mut *tx)
                .await?;
                EventEntry { at: now, account_id: account, data: settled(id, ChallengeState::Expired) }
                    .write(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(expired)
        })
    }

    // ---- per-account push protection -------------------------------------------------

    /// Everything the push limits look at, in one read.
    pub async fn push_gate(&self, account_id: &str, now: i64) -> sqlx::Result<PushGate> {
        with_db!(&self.db, |w, r, pg| sqlx::query_as(PUSH_GATE).bind(account_id).bind(now).fetch_one(r).await)
    }

    /// Changes the account's push protection and audits it, in one transaction.
    pub async fn set_push_state_audited(
        &self,
        account_id: &str,
        change: PushStateChange,
        audit: AuditEntry<'_>,
    ) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            sqlx::query(change.upsert_sql()).bind(account_id).bind(change.value()).execute(&mut *tx).await?;
            audit.write(&mut *tx).await?;
            tx.commit().await
        })
    }

    // ---- relying-party events --------------------------------------------------------

    /// Events after `after` (a `seq`), oldest first, of one account or all. Writes commit one
    /// at a time on the one write connection, so `seq` order is commit order: a reader that
    /// saw `seq` n has seen every event before it.
    pub async fn events_after(&self, after: i64, account_id: Option<&str>, limit: i64) -> sqlx::Result<Vec<RpEvent>> {
        with_db!(&self.db, |w, r, pg| {
            let rows: Vec<EventRow> = sqlx::query_as(
                "SELECT seq, id, at, account_id, type, data FROM rp_events WHERE seq > $1 AND ($2 IS NULL OR account_id = $2) ORDER BY seq LIMIT $3",
            )
            .bind(after)
            .bind(account_id)
            .bind(limit)
            .fetch_all(r)
            .await?;
            rows.into_iter().map(event_from_row).collect()
        })
    }

    /// The newest event's `seq` (0 when there is none).
    pub async fn last_event_seq(&self) -> sqlx::Result<i64> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM rp_events").fetch_one(r).await
        })
    }

    /// Several instances on PostgreSQL: a connection holding the webhook sender's session lock
    /// ([`WEBHOOK_SENDER_LOCK`]), if this instance got it; `None` if another instance holds it.
    /// The lock goes with the connection, so a sender that dies hands the turn on. `Ok(None)`
    /// on SQLite too, where the one instance always sends.
    pub async fn try_webhook_turn(&self) -> sqlx::Result<Option<sqlx::PgConnection>> {
        let Db::Postgres(pool) = &self.db else { return Ok(None) };
        let mut conn = pool.acquire().await?.detach();
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(WEBHOOK_SENDER_LOCK)
            .fetch_one(&mut conn)
            .await?;
        Ok(got.then_some(conn))
    }

    /// How far the webhook sender got (0: nothing delivered yet).
    pub async fn webhook_cursor(&self) -> sqlx::Result<i64> {
        with_db!(&self.db, |w, r, pg| {
            Ok(sqlx::query_scalar("SELECT seq FROM rp_webhook_cursor WHERE id = 1")
                .fetch_optional(w)
                .await?
                .unwrap_or(0))
        })
    }

    /// Moves the webhook cursor forward to `seq` (never back).
    pub async fn advance_webhook_cursor(&self, seq: i64) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("INSERT INTO rp_webhook_cursor (id, seq) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET seq = CASE WHEN excluded.seq > rp_webhook_cursor.seq THEN excluded.seq ELSE rp_webhook_cursor.seq END")
                .bind(seq)
                .execute(w)
                .await?;
            Ok(())
        })
    }

    /// Deletes events older than `before` that the webhook (when there is one) has delivered;
    /// returns how many.
    pub async fn purge_events(&self, before: i64, webhook: bool) -> sqlx::Result<u64> {
        with_db!(&self.db, |w, r, pg| {
            // Without a webhook nothing waits for delivery: the retention alone decides (the pull
            // endpoint's readers had that long).
            let sql = if webhook {
                "DELETE FROM rp_events WHERE at < $1 AND seq <= COALESCE((SELECT seq FROM rp_webhook_cursor WHERE id = 1), 0)"
            } else {
                "DELETE FROM rp_events WHERE at < $1"
            };
            Ok(sqlx::query(sql).bind(before).execute(w).await?.rows_affected())
        })
    }
}
