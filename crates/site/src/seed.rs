//! Creating customers: the demo customer seeded on a fresh `--dev` database, and the ones QA
//! creates with `inkan-server customer create`.

use super::db::SiteStore;
use super::db::{BankAccountRow, NewCustomer};
use super::password::{check_password, generate_password, hash_password};
use crate::audit::{AuditEntry, AuditEvent};

/// Cash a new demo or QA customer starts with, in yen.
pub const STARTING_BALANCE_YEN: i64 = 3_000_000;
/// The seeded demo customer's account number.
pub const DEMO_ACCOUNT: &str = "10000001";

/// A customer to create. Passwords left out are generated (and returned once).
pub struct CustomerSpec {
    pub account_id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub password: Option<String>,
    pub withdrawal_password: Option<String>,
}

/// What was created: the passwords, to print once.
pub struct CreatedCustomer {
    pub account_id: String,
    pub password: zeroize::Zeroizing<String>,
    pub withdrawal_password: zeroize::Zeroizing<String>,
}

pub async fn create_customer(store: &SiteStore, spec: CustomerSpec, now: i64) -> anyhow::Result<CreatedCustomer> {
    anyhow::ensure!(
        !spec.account_id.is_empty()
            && spec.account_id.len() <= 16
            && spec.account_id.bytes().all(|b| b.is_ascii_digit()),
        "account numbers are 1 to 16 digits"
    );
    anyhow::ensure!(store.customer(&spec.account_id).await?.is_none(), "account {} exists", spec.account_id);
    let password = zeroize::Zeroizing::new(spec.password.unwrap_or_else(generate_password));
    let withdrawal_password = zeroize::Zeroizing::new(spec.withdrawal_password.unwrap_or_else(generate_password));
    check_password(&password).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    check_password(&withdrawal_password).map_err(|e| anyhow::anyhow!("withdrawal password: {e}"))?;
    let bank = BankAccountRow {
        id: crate::random_id(10),
        account_id: spec.account_id.clone(),
        bank: "みずほ銀行 / Mizuho Bank".into(),
        branch: "渋谷支店 / Shibuya".into(),
        number: crate::random_number(7),
        holder: "ヤマダ タロウ".into(),
        usable_from: 0,
    };
    let created = AuditEntry::of_account(now, AuditEvent::CustomerCreated, &spec.account_id, serde_json::json!({}));
    store
        .insert_customer(
            NewCustomer {
                account_id: &spec.account_id,
                name: &spec.name,
                email: &spec.email,
                phone: &spec.phone,
                password_hash: &hash_password(&password)?,
                withdrawal_password_hash: &hash_password(&withdrawal_password)?,
                cash_balance: STARTING_BALANCE_YEN,
                now,
            },
            Some(&bank),
            created,
        )
        .await?;
    Ok(CreatedCustomer { account_id: spec.account_id, password, withdrawal_password })
}

/// On a database with no customer yet, creates the demo customer; `None` otherwise.
pub async fn seed_demo_customer(store: &SiteStore, now: i64) -> anyhow::Result<Option<CreatedCustomer>> {
    if store.customer_count().await? > 0 {
        return Ok(None);
    }
    let spec = CustomerSpec {
        account_id: DEMO_ACCOUNT.into(),
        name: "山田 太郎 / Taro Yamada".into(),
        email: "taro.yamada@example.com".into(),
        phone: "090-1234-5678".into(),
        password: None,
        withdrawal_password: None,
    };
    create_customer(store, spec, now).await.map(Some)
}

/// Who acted for the customer and how their identity was checked, as the audit detail of an
/// operator's action; both must be given.
fn operator_detail(operator: &str, verified_by: &str) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        !operator.trim().is_empty() && !verified_by.trim().is_empty(),
        "--operator and --verified-by are required"
    );
    Ok(serde_json::json!({"by": "operator", "operator": operator.trim(), "verified_by": verified_by.trim()}))
}

/// An operator, after verifying the customer's identity, has the verifier restart the pushes a
/// "not me" report stopped (`POST /v1/rp/accounts/{id}/unblock`), then records who and how in
/// the site's audit log (the verifier audits its own change). Nothing is recorded when the
/// verifier refuses or cannot be reached.
pub async fn operator_restore_pushes(
    store: &SiteStore,
    verifier: &inkan_rp_client::RpClient,
    account: &str,
    operator: &str,
    verified_by: &str,
    now: i64,
) -> anyhow::Result<()> {
    let detail = operator_detail(operator, verified_by)?;
    anyhow::ensure!(store.customer(account).await?.is_some(), "account {account} does not exist");
    verifier.unblock(account).await?;
    store.audit(now, AuditEvent::PushesRestored, Some(account), None, None, detail).await?;
    Ok(())
}

/// Unlocks a locked customer after an operator re-verified their identity: the only way out of
/// a lock (there is no self-service link). Who verified, and how, goes to the audit log.
pub async fn operator_unlock(
    store: &SiteStore,
    account: &str,
    operator: &str,
    verified_by: &str,
    now: i64,
) -> anyhow::Result<()> {
    let unlocked =
        AuditEntry::of_account(now, AuditEvent::AccountUnlocked, account, operator_detail(operator, verified_by)?);
    anyhow::ensure!(
        store.unlock_customer(account, unlocked).await?,
        "account {account} is not locked (or does not exist)"
    );
    Ok(())
}
