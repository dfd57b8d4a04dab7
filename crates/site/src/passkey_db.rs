//! The passkey tables (migration `0006_passkeys.sql`): user handles, passkeys, ceremonies.

use sqlx::FromRow;

use inkan_kit::db::WriteRow;
use inkan_kit::with_db;

use crate::audit::AuditEntry;

use super::db::SiteStore;

#[derive(Debug, Clone, FromRow)]
pub struct PasskeyRow {
    pub cred_id: String,
    pub account_id: String,
    pub name: String,
    /// webauthn-rs `Passkey` as JSON.
    pub credential: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub suspended_at: Option<i64>,
}

pub struct NewCeremony<'a> {
    pub token_hash: &'a [u8],
    /// `register` or `login`.
    pub kind: &'a str,
    pub account_id: Option<&'a str>,
    /// webauthn-rs ceremony state, JSON.
    pub state: &'a str,
    pub expires_at: i64,
    /// The client address that opened it (an IPv6 address by its /64).
    pub client: &'a str,
}

/// What opening a ceremony found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyOpened {
    Opened,
    /// The server-wide cap is reached.
    ServerFull,
    /// This client already has its share open.
    ClientFull,
}

/// A ceremony taken (and so ended) by its token.
#[derive(Debug, FromRow)]
pub struct CeremonyRow {
    pub account_id: Option<String>,
    pub state: String,
    pub expires_at: i64,
}

impl SiteStore {
    /// The customer's WebAuthn user handle, made on first use.
    pub async fn webauthn_user_handle(&self, account_id: &str, fresh: &str) -> sqlx::Result<String> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("INSERT INTO webauthn_users (account_id, user_handle) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(account_id)
                .bind(fresh)
                .execute(w)
                .await?;
            let (handle,): (String,) = sqlx::query_as("SELECT user_handle FROM webauthn_users WHERE account_id = $1")
                .bind(account_id)
                .fetch_one(w)
                .await?;
            Ok(handle)
        })
    }

    /// Whose user handle this is.
    pub async fn account_of_user_handle(&self, user_handle: &str) -> sqlx::Result<Option<String>> {
        with_db!(&self.db, |w, r, pg| {
            let row: Option<(String,)> = sqlx::query_as("SELECT account_id FROM webauthn_users WHERE user_handle = $1")
                .bind(user_handle)
                .fetch_optional(r)
                .await?;
            Ok(row.map(|r| r.0))
        })
    }

    /// A new passkey and its audit row, in one transaction.
    pub async fn insert_passkey(&self, p: &PasskeyRow, audit: AuditEntry<'_>) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            sqlx::query(
                "INSERT INTO passkeys (cred_id, account_id, name, credential, sign_count, backup_eligible, backup_state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&p.cred_id)
            .bind(&p.account_id)
            .bind(&p.name)
            .bind(&p.credential)
            .bind(p.sign_count)
            .bind(p.backup_eligible)
            .bind(p.backup_state)
            .bind(p.created_at)
            .execute(&mut *tx)
            .await?;
            audit.write(&mut *tx).await?;
            tx.commit().await
        })
    }

    /// The customer's passkeys, oldest first (suspended ones too: they are shown as such).
    pub async fn passkeys(&self, account_id: &str) -> sqlx::Result<Vec<PasskeyRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT * FROM passkeys WHERE account_id = $1 ORDER BY created_at, cred_id")
                .bind(account_id)
                .fetch_all(r)
                .await
        })
    }

    pub async fn passkey(&self, cred_id: &str) -> sqlx::Result<Option<PasskeyRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT * FROM passkeys WHERE cred_id = $1").bind(cred_id).fetch_optional(w).await
        })
    }

    /// After a good assertion: the new credential state. Only if the stored counter is still
    /// the one checked against (two logins racing with one assertion: one wins).
    pub async fn use_passkey(&self, cred_id: &str, checked_count: i64, p: &PasskeyRow, now: i64) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let done = sqlx::query(
                "UPDATE passkeys SET credential = $1, sign_count = $2, backup_eligible = $3, backup_state = $4, last_used_at = $5 WHERE cred_id = $6 AND sign_count = $7 AND suspended_at IS NULL",
            )
            .bind(&p.credential)
            .bind(p.sign_count)
            .bind(p.backup_eligible)
            .bind(p.backup_state)
            .bind(now)
            .bind(cred_id)
            .bind(checked_count)
            .execute(w)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Suspends a passkey (a clone suspected) with its audit row, in one transaction; one
    /// already suspended stays as it is and nothing is written.
    pub async fn suspend_passkey(&self, cred_id: &str, now: i64, audit: AuditEntry<'_>) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let n = sqlx::query("UPDATE passkeys SET suspended_at = $1 WHERE cred_id = $2 AND suspended_at IS NULL")
                .bind(now)
                .bind(cred_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                audit.write(&mut *tx).await?;
            }
            tx.commit().await
        })
    }

    /// Removes one of the customer's passkeys, with its audit row, in one transaction; its
    /// name, or `None` if there was none (nothing written).
    pub async fn delete_passkey(
        &self,
        account_id: &str,
        cred_id: &str,
        audit: AuditEntry<'_>,
    ) -> sqlx::Result<Option<String>> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let row: Option<(String,)> =
                sqlx::query_as("DELETE FROM passkeys WHERE account_id = $1 AND cred_id = $2 RETURNING name")
                    .bind(account_id)
                    .bind(cred_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((name,)) = row else { return Ok(None) };
            audit.write(&mut *tx).await?;
            tx.commit().await?;
            Ok(Some(name))
        })
    }

    /// Opens a ceremony unless the client already has `max_per_client` open or `max_open` are
    /// open server-wide (expired ones are dropped first, by the expiry index): check and insert
    /// in one transaction.
    pub async fn insert_ceremony(
        &self,
        c: NewCeremony<'_>,
        now: i64,
        max_open: i64,
        max_per_client: i64,
    ) -> sqlx::Result<CeremonyOpened> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            if pg {
                // The caps below are read and the ceremony inserted under one lock, so parallel
                // starts on PostgreSQL cannot all pass one check (SQLite's one writer does it).
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(super::db::CEREMONY_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
            let (mine,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkey_ceremonies WHERE client = $1")
                .bind(c.client)
                .fetch_one(&mut *tx)
                .await?;
            if mine >= max_per_client {
                tx.commit().await?;
                return Ok(CeremonyOpened::ClientFull);
            }
            let (open,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkey_ceremonies").fetch_one(&mut *tx).await?;
            if open >= max_open {
                tx.commit().await?;
                return Ok(CeremonyOpened::ServerFull);
            }
            sqlx::query(
                "INSERT INTO passkey_ceremonies (token_hash, kind, account_id, state, expires_at, client) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(c.token_hash)
            .bind(c.kind)
            .bind(c.account_id)
            .bind(c.state)
            .bind(c.expires_at)
            .bind(c.client)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(CeremonyOpened::Opened)
        })
    }

    /// Takes (deletes and returns) a ceremony: each can be finished once.
    pub async fn take_ceremony(&self, token_hash: &[u8], kind: &str) -> sqlx::Result<Option<CeremonyRow>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as(
                "DELETE FROM passkey_ceremonies WHERE token_hash = $1 AND kind = $2 RETURNING account_id, state, expires_at",
            )
            .bind(token_hash)
            .bind(kind)
            .fetch_optional(w)
            .await
        })
    }

    /// When the web session began (its login's second factor).
    pub async fn web_session_started(&self, token_hash: &[u8]) -> sqlx::Result<Option<i64>> {
        with_db!(&self.db, |w, r, pg| {
            let row: Option<(i64,)> = sqlx::query_as("SELECT created_at FROM web_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(r)
                .await?;
            Ok(row.map(|r| r.0))
        })
    }
}

impl SiteStore {
    /// `(binding, passkey_at)` of a withdrawal confirmed (or to be confirmed) with a passkey.
    pub async fn withdrawal_binding(&self, withdrawal_id: &str) -> sqlx::Result<Option<(String, Option<i64>)>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT binding, passkey_at FROM withdrawal_bindings WHERE withdrawal_id = $1")
                .bind(withdrawal_id)
                .fetch_optional(w)
                .await
        })
    }

    /// Marks the passkey step of an awaiting withdrawal done, once; false if it was not waiting.
    /// With its audit row in the same transaction.
    pub async fn passkey_confirmed_withdrawal(
        &self,
        withdrawal_id: &str,
        now: i64,
        audit: AuditEntry<'_>,
    ) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let n = sqlx::query(
                "UPDATE withdrawals SET state = 'awaiting_approval' WHERE id = $1 AND state = 'awaiting_passkey'",
            )
            .bind(withdrawal_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Ok(false);
            }
            sqlx::query("UPDATE withdrawal_bindings SET passkey_at = $1 WHERE withdrawal_id = $2")
                .bind(now)
                .bind(withdrawal_id)
                .execute(&mut *tx)
                .await?;
            audit.write(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }
}
