//! Changing the withdrawal destination (出金先口座の変更) under the 2025 rules: the customer
//! enters the new bank account (bank, branch, 7-digit number, holder in full-width katakana)
//! with the withdrawal password, then confirms with a passkey bound to exactly that entry.
//! The new destination replaces the old one at once but receives money only after
//! [`crate::Limits::destination_wait_secs`]; the authentication address is mailed and the
//! change audited. After entry the number is shown masked everywhere.

use crate::audit::{AuditEntry, AuditEvent};
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use inkan_protocol::display::jst_minutes;
use maud::{Markup, html};
use serde_json::json;
use sqlx::FromRow;

use inkan_kit::with_db;

use super::db::BankAccountRow;
use super::db::SiteStore;
use super::i18n::T;
use super::login::{count_failure_from, password_matches};
use super::pages::{self, csrf, layout};
use super::passkeys::{self, PasskeyRefusal};
use super::{
    Customer, Form, MAX_PASSWORD_FIELD_CHARS, SharedSite, SiteError, SiteResult, Visitor, mask_tail, see_other,
};

/// Digits of a Japanese bank account number.
pub const ACCOUNT_NUMBER_DIGITS: usize = 7;
/// Longest bank or branch name, in characters.
pub const MAX_BANK_NAME_CHARS: usize = 40;
/// Longest holder name, in characters.
pub const MAX_HOLDER_CHARS: usize = 40;

#[derive(Debug, Clone, FromRow)]
pub struct DestinationChange {
    pub id: String,
    pub account_id: String,
    pub bank: String,
    pub branch: String,
    pub number: String,
    pub holder: String,
    #[sqlx(try_from = "String")]
    pub state: ChangeState,
    pub created_at: i64,
}

/// Where a change of withdrawal destination stands (`destination_changes.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ChangeState {
    /// Entered and checked; waiting for the passkey and the withdrawal password.
    AwaitingPasskey,
    Done,
    Refused,
}

impl TryFrom<String> for ChangeState {
    type Error = strum::ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl SiteStore {
    async fn insert_destination_change(&self, d: &DestinationChange) -> sqlx::Result<()> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query("INSERT INTO destination_changes (id, account_id, bank, branch, number, holder, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(&d.id)
                .bind(&d.account_id)
                .bind(&d.bank)
                .bind(&d.branch)
                .bind(&d.number)
                .bind(&d.holder)
                .bind(<&'static str>::from(d.state))
                .bind(d.created_at)
                .execute(w)
                .await?;
            Ok(())
        })
    }

    async fn destination_change(&self, id: &str, account_id: &str) -> sqlx::Result<Option<DestinationChange>> {
        with_db!(&self.db, |w, r, pg| {
            sqlx::query_as("SELECT id, account_id, bank, branch, number, holder, state, created_at FROM destination_changes WHERE id = $1 AND account_id = $2")
                .bind(id)
                .bind(account_id)
                .fetch_optional(w)
                .await
        })
    }

    /// Applies a confirmed change once: retires the current destinations and adds the new one,
    /// usable from `usable_from`. False if the change was not waiting.
    async fn apply_destination_change(
        &self,
        d: &DestinationChange,
        new_id: &str,
        now: i64,
        usable_from: i64,
        audit: crate::audit::AuditEntry<'_>,
    ) -> sqlx::Result<bool> {
        with_db!(&self.db, |w, r, pg| {
            let mut tx = w.begin().await?;
            let n = sqlx::query(
                "UPDATE destination_changes SET state = 'done', done_at = $1 WHERE id = $2 AND state = 'awaiting_passkey'",
            )
            .bind(now)
            .bind(&d.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Ok(false);
            }
            sqlx::query("UPDATE bank_accounts SET retired_at = $1 WHERE account_id = $2 AND retired_at IS NULL")
                .bind(now)
                .bind(&d.account_id)
                .execute(&mut *tx)
                .await?;
            let added = BankAccountRow {
                id: new_id.to_owned(),
                account_id: d.account_id.clone(),
                bank: d.bank.clone(),
                branch: d.branch.clone(),
                number: d.number.clone(),
                holder: d.holder.clone(),
                usable_from,
            };
            super::db::insert_bank_account!(&added, now).execute(&mut *tx).await?;
            inkan_kit::db::WriteRow::write(&audit, &mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }
}

/// Whether `name` is a holder name as banks register it: full-width katakana (with ー and
/// the middle dot), words separated by one space (full- or half-width).
pub fn is_katakana_name(name: &str) -> bool {
    let name = name.trim();
    !name.is_empty()
        && name.chars().all(|c| matches!(c, 'ァ'..='ヶ' | 'ー' | '・' | '　' | ' '))
        && name.chars().any(|c| matches!(c, 'ァ'..='ヶ'))
        && !name.contains("  ")
}

/// What the passkey for a change is bound to: every field of the entry.
fn change_binding(d: &DestinationChange) -> String {
    let text = format!(
        "inkan/destination/v1\n{}\n{}\n{}\n{}\n{}\n{}",
        d.id, d.account_id, d.bank, d.branch, d.number, d.holder
    );
    inkan_protocol::keys::b64(&crate::sha256(text.as_bytes()))
}

fn change_form(v: &Visitor, c: &super::db::CustomerRow, message: Option<Markup>, fields: [&str; 4]) -> Markup {
    layout(
        v,
        T::DestChangeTitle,
        Some(c),
        html! {
            @if let Some(m) = message { (m) }
            p { (v.t(T::DestChangeLead)) }
            form method="post" action="/settings/destination" {
                (csrf(v))
                label for="bank" { (v.t(T::DestBankName)) }
                input #bank name="bank" value=(fields[0]) required maxlength=(MAX_BANK_NAME_CHARS);
                label for="branch" { (v.t(T::DestBranch)) }
                input #branch name="branch" value=(fields[1]) required maxlength=(MAX_BANK_NAME_CHARS);
                label for="number" { (v.t(T::DestNumber)) }
                input #number name="number" value=(fields[2]) inputmode="numeric" autocomplete="off" required pattern="[0-9]{7}" maxlength=(ACCOUNT_NUMBER_DIGITS);
                label for="holder" { (v.t(T::DestHolder)) }
                input #holder name="holder" value=(fields[3]) required maxlength=(MAX_HOLDER_CHARS);
                label for="dwpassword" { (v.t(T::WithdrawalPassword)) }
                input #dwpassword name="withdrawal_password" type="password" autocomplete="off" required maxlength=(MAX_PASSWORD_FIELD_CHARS);
                button type="submit" { (v.t(T::DestChangeNext)) }
            }
        },
    )
}

pub async fn change_page(v: Visitor, c: Customer) -> Markup {
    change_form(&v, &c.row, None, [""; 4])
}

pub async fn change_submit(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    form: Form,
) -> SiteResult<Response> {
    let bank = form.text_field("bank", MAX_BANK_NAME_CHARS)?.to_owned();
    let branch = form.text_field("branch", MAX_BANK_NAME_CHARS)?.to_owned();
    let number = form.field("number", 16)?.trim().to_owned();
    let holder = form.field("holder", MAX_HOLDER_CHARS)?.trim().to_owned();
    let wpassword = form.field("withdrawal_password", MAX_PASSWORD_FIELD_CHARS)?;
    let fields = [bank.as_str(), branch.as_str(), number.as_str(), holder.as_str()];
    let fail = |t: T| Ok(change_form(&v, &c.row, Some(pages::error(v.t(t))), fields).into_response());
    if bank.is_empty() || branch.is_empty() {
        return fail(T::DestBankMissing);
    }
    if number.len() != ACCOUNT_NUMBER_DIGITS || !number.bytes().all(|b| b.is_ascii_digit()) {
        return fail(T::DestNumberInvalid);
    }
    if !is_katakana_name(&holder) {
        return fail(T::DestHolderInvalid);
    }
    if !passkeys::withdrawals_use_passkeys(&site, &c.row.account_id).await? {
        return fail(T::DestNeedsPasskey);
    }
    if !password_matches(wpassword, &c.row.withdrawal_password_hash).await {
        if count_failure_from(&site, &c.row, AuditEvent::DestinationChangePasswordWrong, &v).await? {
            return Ok(see_other("/login"));
        }
        return fail(T::WrongWithdrawalPassword);
    }
    let change = DestinationChange {
        id: crate::random_id(16),
        account_id: c.row.account_id.clone(),
        bank,
        branch,
        number,
        holder,
        state: ChangeState::AwaitingPasskey,
        created_at: site.now(),
    };
    site.store.insert_destination_change(&change).await?;
    Ok(see_other(&format!("/settings/destination/{}", change.id)))
}

pub async fn change_confirm_page(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    Path(id): Path<String>,
) -> SiteResult<Markup> {
    let d = site.store.destination_change(&id, &c.row.account_id).await?.ok_or(SiteError::NotFound)?;
    let body = html! {
        dl {
            dt { (v.t(T::DestBank)) } dd { (d.bank) " " (d.branch) }
            dt { (v.t(T::DestNumber)) } dd data-masked { (mask_tail(&d.number)) }
            dt { (v.t(T::DestHolder)) } dd { (d.holder) }
        }
        @if d.state == ChangeState::AwaitingPasskey {
            p { (T::DestPasskeyLead.fill(v.lang, &[&(site.limits().destination_wait_secs / 3600)])) }
            form data-passkey-withdraw data-start-url={ "/settings/destination/" (d.id) "/passkey/start" } data-finish-url={ "/settings/destination/" (d.id) "/passkey/finish" }
                data-msg-unsupported=(v.t(T::PasskeyUnsupported)) data-msg-cancelled=(v.t(T::PasskeyCancelled)) {
                (csrf(&v))
                button type="submit" { (v.t(T::DestPasskeyButton)) }
                p.passkey-status role="status" aria-live="polite" {}
            }
        } @else {
            (pages::notice(v.t(T::DestChanged)))
        }
    };
    Ok(layout(&v, T::DestChangeTitle, Some(&c.row), body))
}

pub async fn passkey_start(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    Path(id): Path<String>,
    _form: Form,
) -> SiteResult<Response> {
    let store = &site.store;
    let Some(d) =
        store.destination_change(&id, &c.row.account_id).await?.filter(|d| d.state == ChangeState::AwaitingPasskey)
    else {
        return Ok(PasskeyRefusal::CeremonyExpired.respond(&v));
    };
    passkeys::start_bound(&site, &v, &c, "destination", &d.id, change_binding(&d)).await
}

pub async fn passkey_finish(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    Path(id): Path<String>,
    form: Form,
) -> SiteResult<Response> {
    let (state, credential) = match passkeys::take_bound(&site, &v, &c, "destination", &id, &form).await? {
        Ok(taken) => taken,
        Err(refusal) => return Ok(refusal),
    };
    let store = &site.store;
    let Some(d) = store.destination_change(&id, &c.row.account_id).await? else { return Err(SiteError::NotFound) };
    if d.state != ChangeState::AwaitingPasskey || !passkeys::constant_eq(&change_binding(&d), &state.binding) {
        return Ok(PasskeyRefusal::WithdrawalChanged.respond(&v));
    }
    let passkey = match passkeys::verify_bound(&site, &v, &c, &state, &credential).await? {
        Ok(passkey) => passkey,
        Err(refusal) => return Ok(refusal),
    };
    let now = site.now();
    let usable_from = now + site.limits().destination_wait_secs;
    let masked = format!("{} {} {}", d.bank, d.branch, mask_tail(&d.number));
    let changed = AuditEntry::of_account(
        now,
        AuditEvent::DestinationChanged,
        &c.row.account_id,
        json!({"to": masked, "usable_from": jst_minutes(usable_from), "passkey": passkey, "ip": v.ip.to_string()}),
    );
    if !store.apply_destination_change(&d, &crate::random_id(10), now, usable_from, changed).await? {
        return Ok(PasskeyRefusal::CeremonyExpired.respond(&v));
    }
    super::mail_later(&site, super::notify::destination_changed(&c.row, &masked, now, usable_from));
    Ok(Json(json!({"ok": true, "next": format!("/settings/destination/{}", d.id)})).into_response())
}

/// Why a destination cannot receive money yet, if it cannot.
pub fn not_yet_usable(b: &BankAccountRow, now: i64, lang: crate::i18n::Lang) -> Option<String> {
    (b.usable_from > now).then(|| crate::when(lang, b.usable_from))
}

#[cfg(test)]
mod tests {
    use super::is_katakana_name;

    #[test]
    fn holder_names_are_full_width_katakana() {
        for ok in ["ヤマダ タロウ", "ヤマダ　タロウ", "スズキ・ジロー", "カ)インカン"] {
            assert_eq!(is_katakana_name(ok), !ok.contains(')'), "{ok}");
        }
        for bad in ["", "  ", "山田 太郎", "yamada taro", "ﾔﾏﾀﾞ ﾀﾛｳ", "やまだ たろう", "ヤマダ  タロウ", "ーー"]
        {
            assert!(!is_katakana_name(bad), "{bad}");
        }
    }
}
