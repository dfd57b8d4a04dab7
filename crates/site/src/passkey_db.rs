//! The passkey tables (migration `0006_passkeys.sql`): user handles, passkeys, ceremonies.

use sqlx::FromRow;

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
        sqlx::query("INSERT INTO webauthn_users (account_id, user_handle) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(account_id)
            .bind(fresh)
            .execute(&self.writer)
            .await?;
        let (handle,): (String,) = sqlx::query_as("SELECT user_handle FROM webauthn_users WHERE account_id = ?")
            .bind(account_id)
            .fetch_one(&self.writer)
            .await?;
        Ok(handle)
    }

    /// Whose user handle this is.
    pub async fn account_of_user_handle(&self, user_handle: &str) -> sqlx::Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT account_id FROM webauthn_users WHERE user_handle = ?")
            .bind(user_handle)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn insert_passkey(&self, p: &PasskeyRow) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO passkeys (cred_id, account_id, name, credential, sign_count, backup_eligible, backup_state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.cred_id)
        .bind(&p.account_id)
        .bind(&p.name)
        .bind(&p.credential)
        .bind(p.sign_count)
        .bind(p.backup_eligible)
        .bind(p.backup_state)
        .bind(p.created_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The customer's passkeys, oldest first (suspended ones too: they are shown as such).
    pub async fn passkeys(&self, account_id: &str) -> sqlx::Result<Vec<PasskeyRow>> {
        sqlx::query_as("SELECT * FROM passkeys WHERE account_id = ? ORDER BY created_at, cred_id")
            .bind(account_id)
            .fetch_all(&self.reader)
            .await
    }

    pub async fn passkey(&self, cred_id: &str) -> sqlx::Result<Option<PasskeyRow>> {
        sqlx::query_as("SELECT * FROM passkeys WHERE cred_id = ?").bind(cred_id).fetch_optional(&self.writer).await
    }

    /// After a good assertion: the new credential state. Only if the stored counter is still
    /// the one checked against (two logins racing with one assertion: one wins).
    pub async fn use_passkey(&self, cred_id: &str, checked_count: i64, p: &PasskeyRow, now: i64) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE passkeys SET credential = ?, sign_count = ?, backup_eligible = ?, backup_state = ?, last_used_at = ? WHERE cred_id = ? AND sign_count = ? AND suspended_at IS NULL",
        )
        .bind(&p.credential)
        .bind(p.sign_count)
        .bind(p.backup_eligible)
        .bind(p.backup_state)
        .bind(now)
        .bind(cred_id)
        .bind(checked_count)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn suspend_passkey(&self, cred_id: &str, now: i64) -> sqlx::Result<()> {
        sqlx::query("UPDATE passkeys SET suspended_at = ? WHERE cred_id = ? AND suspended_at IS NULL")
            .bind(now)
            .bind(cred_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Removes one of the customer's passkeys; whether there was one.
    pub async fn delete_passkey(&self, account_id: &str, cred_id: &str) -> sqlx::Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("DELETE FROM passkeys WHERE account_id = ? AND cred_id = ? RETURNING name")
                .bind(account_id)
                .bind(cred_id)
                .fetch_optional(&self.writer)
                .await?;
        Ok(row.map(|r| r.0))
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
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= ?").bind(now).execute(&mut *tx).await?;
        let (mine,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkey_ceremonies WHERE client = ?")
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
            "INSERT INTO passkey_ceremonies (token_hash, kind, account_id, state, expires_at, client) VALUES (?, ?, ?, ?, ?, ?)",
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
    }

    /// Takes (deletes and returns) a ceremony: each can be finished once.
    pub async fn take_ceremony(&self, token_hash: &[u8], kind: &str) -> sqlx::Result<Option<CeremonyRow>> {
        sqlx::query_as(
            "DELETE FROM passkey_ceremonies WHERE token_hash = ? AND kind = ? RETURNING account_id, state, expires_at",
        )
        .bind(token_hash)
        .bind(kind)
        .fetch_optional(&self.writer)
        .await
    }

    /// When the web session began (its login's second factor).
    pub async fn web_session_started(&self, token_hash: &[u8]) -> sqlx::Result<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT created_at FROM web_sessions WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| r.0))
    }
}

impl SiteStore {
    /// `(binding, passkey_at)` of a withdrawal confirmed (or to be confirmed) with a passkey.
    pub async fn withdrawal_binding(&self, withdrawal_id: &str) -> sqlx::Result<Option<(String, Option<i64>)>> {
        sqlx::query_as("SELECT binding, passkey_at FROM withdrawal_bindings WHERE withdrawal_id = ?")
            .bind(withdrawal_id)
            .fetch_optional(&self.writer)
            .await
    }

    /// Marks the passkey step of an awaiting withdrawal done, once; false if it was not waiting.
    pub async fn passkey_confirmed_withdrawal(&self, withdrawal_id: &str, now: i64) -> sqlx::Result<bool> {
        let mut tx = self.writer.begin().await?;
        let n = sqlx::query(
            "UPDATE withdrawals SET state = 'awaiting_approval' WHERE id = ? AND state = 'awaiting_passkey'",
        )
        .bind(withdrawal_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE withdrawal_bindings SET passkey_at = ? WHERE withdrawal_id = ?")
            .bind(now)
            .bind(withdrawal_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
