//! E-mailed one-time codes (ワンタイム認証コード): 6 digits, short-lived, a few attempts, one
//! use; stored only as a hash; one subject (a login attempt or a withdrawal) at a time.

use crate::audit::{AuditEntry, AuditEvent};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::db::{CustomerRow, NewEmailCode};
use super::{SharedSite, SiteResult, notify};

/// Digits of an e-mailed code.
pub const EMAIL_CODE_DIGITS: u8 = 6;
/// Codes that may be sent for one login or withdrawal (the first and the resends).
pub const MAX_EMAIL_CODES_PER_SUBJECT: i64 = 5;

/// What checking a typed code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Accepted,
    Wrong {
        attempts_left: u32,
    },
    Expired,
    TooManyAttempts,
    /// No code was sent for this subject (or it was replaced).
    NoCode,
}

fn code_hash(id: &str, code: &str) -> Vec<u8> {
    crate::sha256(format!("{id}\0{code}").as_bytes())
}

/// Whether `text` has the shape of a code (the e-mailed one or the app's offline one).
pub fn well_formed(text: &str) -> bool {
    text.len() == usize::from(EMAIL_CODE_DIGITS) && text.bytes().all(|b| b.is_ascii_digit())
}

/// Sends a new code for `subject_id`, replacing any earlier one. `false`: the resend limit
/// is reached and nothing was sent.
pub async fn send(site: &SharedSite, customer: &CustomerRow, purpose: &str, subject_id: &str) -> SiteResult<bool> {
    let store = &site.store;
    if store.email_code_count(subject_id).await? >= MAX_EMAIL_CODES_PER_SUBJECT {
        return Ok(false);
    }
    let now = site.now();
    let id = crate::random_id(16);
    let code = zeroize::Zeroizing::new(crate::random_number(EMAIL_CODE_DIGITS));
    let ttl = site.limits().email_code_ttl_secs;
    let sent = AuditEntry::of_account(
        now,
        AuditEvent::EmailCodeSent,
        &customer.account_id,
        json!({"purpose": purpose, "to": super::mask_email(&customer.email)}),
    );
    store
        .insert_email_code(
            NewEmailCode {
                id: &id,
                account_id: &customer.account_id,
                purpose,
                subject_id,
                code_hash: &code_hash(&id, &code),
                now,
                expires_at: now + ttl,
            },
            sent,
        )
        .await?;
    // The code is what the person is waiting for: send it now, and fail loudly if mail is down.
    site.mailer.send(notify::email_code(customer, &code, purpose, ttl)).await?;
    Ok(true)
}

/// Checks a typed code against the subject's newest one; counts wrong ones, spends a right one.
pub async fn check(site: &SharedSite, account_id: &str, subject_id: &str, typed: &str) -> SiteResult<CodeCheck> {
    let store = &site.store;
    let now = site.now();
    let Some(row) = store.latest_email_code(subject_id).await? else { return Ok(CodeCheck::NoCode) };
    if row.used_at.is_some() {
        return Ok(CodeCheck::NoCode);
    }
    if now >= row.expires_at {
        return Ok(CodeCheck::Expired);
    }
    let max = i64::from(site.limits().max_email_code_attempts);
    if row.attempts >= max {
        return Ok(CodeCheck::TooManyAttempts);
    }
    if bool::from(code_hash(&row.id, typed).ct_eq(&row.code_hash)) {
        let accepted = AuditEntry::of_account(now, AuditEvent::EmailCodeAccepted, account_id, json!({}));
        if store.use_email_code(&row.id, now, accepted).await? {
            return Ok(CodeCheck::Accepted);
        }
        return Ok(CodeCheck::NoCode);
    }
    let attempts = store.add_email_code_attempt(&row.id, account_id, now).await?;
    if attempts >= max {
        return Ok(CodeCheck::TooManyAttempts);
    }
    Ok(CodeCheck::Wrong { attempts_left: u32::try_from(max - attempts).unwrap_or(0) })
}
