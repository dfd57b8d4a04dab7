//! The logged-in pages: home with masked data, withdrawal, security settings (authenticators,
//! enrollment QR, password, e-mail), recent activity; and the outbox and operator audit pages.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use inkan_protocol::display::group_thousands;
use inkan_protocol::{ChallengeDetails, ChallengeState, ChallengeStatus, CreateChallengeRequest, WithdrawalContext};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::codes::{self, CodeCheck};
use super::db::{BankAccountRow, CustomerRow, WithdrawalRow, WithdrawalState};
use super::i18n::{Lang, T};
use super::login::{
    code_form, code_message, code_message_markup, count_failure_from, password_matches, push_state_body,
};
use super::pages::{self, csrf, layout};
use super::password::{PasswordRuleError, check_password, hash_password};
use super::{
    Customer, Form, MAX_EMAIL_CHARS, MAX_PASSWORD_FIELD_CHARS, SharedSite, SiteError, SiteResult, Visitor, mask_email,
    mask_phone, mask_tail, see_other,
};
use crate::audit::{AuditEntry, AuditEvent};

/// An amount of yen as a customer types it: ASCII or full-width digits (a Japanese input
/// method gives ２５０，０００), with or without thousands separators (`,` `，`), spaces, a
/// leading ¥ or a trailing 円. `None` for anything else (signs, decimals, letters, empty).
pub fn parse_yen(text: &str) -> Option<i64> {
    let text = text.trim_matches(|c: char| c.is_whitespace());
    let text = text.strip_prefix(['¥', '￥']).unwrap_or(text);
    let text = text.strip_suffix('円').unwrap_or(text);
    let mut digits = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '０'..='９' => digits.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            ',' | '，' | ' ' | '\u{3000}' => {}
            _ => return None,
        }
    }
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    digits.parse().ok()
}

fn yen(lang: Lang, amount: i64) -> String {
    T::Yen.fill(lang, &[&group_thousands(amount.unsigned_abs())])
}

/// A destination as its audit row and the signed withdrawal details keep it: bank and branch in
/// both languages as registered ("みずほ銀行 / Mizuho Bank"), the number masked.
fn destination_text(b: &BankAccountRow) -> String {
    format!("{} {} {}", b.bank, b.branch, mask_tail(&b.number))
}

/// A destination on a page: bank and branch in the page's language only.
fn destination_on_page(lang: Lang, b: &BankAccountRow) -> String {
    format!("{} {} {}", pages::in_lang(lang, &b.bank), pages::in_lang(lang, &b.branch), mask_tail(&b.number))
}

pub async fn home(State(site): State<SharedSite>, v: Visitor, c: Customer) -> SiteResult<Markup> {
    let banks = site.store.bank_accounts(&c.row.account_id).await?;
    let previous = site.store.previous_login(&c.row.account_id).await?;
    let body = html! {
        p.welcome { (T::Welcome.fill(v.lang, &[&pages::in_lang(v.lang, &c.row.name)])) }
        @if let Some((at, detail)) = &previous {
            p.hint #previous-login { (v.t(T::PreviousLogin)) ": " (previous_login_text(v.lang, *at, detail)) }
        }
        h2 { (v.t(T::CashBalance)) }
        p.amount data-balance=(c.row.cash_balance) { (yen(v.lang, c.row.cash_balance)) }
        h2 { (v.t(T::RegisteredDetails)) }
        dl {
            dt { (v.t(T::AccountNumber)) } dd data-masked { (mask_tail(&c.row.account_id)) }
            dt { (v.t(T::Email)) } dd data-masked { (mask_email(&c.row.email)) }
            dt { (v.t(T::Phone)) } dd data-masked { (mask_phone(&c.row.phone)) }
            @for b in &banks { dt { (v.t(T::Destination)) } dd data-masked { (destination_on_page(v.lang, b)) } }
        }
        p.hint { (v.t(T::SessionRule)) }
    };
    Ok(layout(&v, T::NavHome, Some(&c.row), body))
}

/// 「2026年12月2日 6:43(東京都 · Chrome)」: the time in the page's language, then the place and
/// browser the login's audit row recorded (a place is kept in both languages).
fn previous_login_text(lang: Lang, at: i64, detail: &str) -> String {
    let when = super::when(lang, at);
    let detail: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
    let place = detail.get("place").and_then(|p| p.get(lang.code())).and_then(|p| p.as_str()).unwrap_or_default();
    let browser = detail.get("browser").and_then(|b| b.as_str()).unwrap_or_default();
    let wheres: Vec<&str> = [place, browser].into_iter().filter(|s| !s.is_empty()).collect();
    match (wheres.is_empty(), lang) {
        (true, _) => when,
        (false, Lang::Ja) => format!("{when}({})", wheres.join(" · ")),
        (false, Lang::En) => format!("{when} ({})", wheres.join(" · ")),
    }
}

fn withdraw_form(v: &Visitor, c: &CustomerRow, banks: &[BankAccountRow], message: Option<Markup>) -> Markup {
    layout(
        v,
        T::WithdrawTitle,
        Some(c),
        html! {
            @if let Some(m) = message { (m) }
            p { (v.t(T::CashBalance)) ": " strong { (yen(v.lang, c.cash_balance)) } }
            form method="post" action="/withdraw" {
                (csrf(v))
                label for="amount" { (v.t(T::AmountYen)) }
                input #amount name="amount" inputmode="numeric" required maxlength="12";
                label for="destination" { (v.t(T::Destination)) }
                select #destination name="destination" {
                    @for b in banks { option value=(b.id) { (destination_on_page(v.lang, b)) } }
                }
                label for="wpassword" { (v.t(T::WithdrawalPassword)) }
                input #wpassword name="withdrawal_password" type="password" autocomplete="off" required maxlength=(MAX_PASSWORD_FIELD_CHARS);
                button type="submit" { (v.t(T::RequestWithdrawal)) }
            }
        },
    )
}

pub async fn withdraw_page(State(site): State<SharedSite>, v: Visitor, c: Customer) -> SiteResult<Markup> {
    let banks = site.store.bank_accounts(&c.row.account_id).await?;
    Ok(withdraw_form(&v, &c.row, &banks, None))
}

pub async fn withdraw_submit(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    form: Form,
) -> SiteResult<Response> {
    let store = &site.store;
    let banks = store.bank_accounts(&c.row.account_id).await?;
    let max = site.limits().max_withdrawal_yen;
    let fail = |t: String| Ok(withdraw_form(&v, &c.row, &banks, Some(pages::error(&t))).into_response());
    let amount: i64 = match parse_yen(form.field("amount", 16)?) {
        Some(a) if a >= 1 && a <= c.row.cash_balance && a <= max => a,
        _ => {
            return fail(T::AmountInvalid.fill(
                v.lang,
                &[&group_thousands(c.row.cash_balance.unsigned_abs()), &group_thousands(max.unsigned_abs())],
            ));
        }
    };
    let destination_id = form.field("destination", 64)?;
    let Some(bank) = banks.iter().find(|b| b.id == destination_id) else {
        return fail(v.t(T::DestinationInvalid).to_owned());
    };
    if let Some(from) = super::destinations::not_yet_usable(bank, site.now(), v.lang) {
        return fail(T::DestNotYet.fill(v.lang, &[&from]));
    }
    let wpassword = form.field("withdrawal_password", MAX_PASSWORD_FIELD_CHARS)?;
    if !password_matches(wpassword, &c.row.withdrawal_password_hash).await {
        // At the limit the account locks and its sessions end (count_factor_failure).
        if count_failure_from(&site, &c.row, AuditEvent::WithdrawalPasswordWrong, &v).await? {
            return Ok(see_other("/login"));
        }
        return fail(v.t(T::WrongWithdrawalPassword).to_owned());
    }
    let now = site.now();
    let has_device = site.verifier.devices(&c.row.account_id).await?.iter().any(|d| d.revoked_at.is_none());
    // The primary path: a passkey bound to this withdrawal, then the push. Push (or the
    // e-mailed code) alone only while the deployment allows the published interim path.
    let with_passkey = super::passkeys::withdrawals_use_passkeys(&site, &c.row.account_id).await?;
    if !with_passkey && !site.limits().withdrawal_push_only_allowed {
        store
            .audit(
                now,
                AuditEvent::WithdrawalRefusedNoPasskey,
                Some(&c.row.account_id),
                None,
                None,
                json!({"amount": amount}),
            )
            .await?;
        return fail(v.t(T::WithdrawNeedsPasskey).to_owned());
    }
    let mut w = WithdrawalRow {
        id: crate::random_id(16),
        account_id: c.row.account_id.clone(),
        amount,
        bank_account_id: bank.id.clone(),
        state: if with_passkey { WithdrawalState::AwaitingPasskey } else { WithdrawalState::AwaitingApproval },
        needs_push: has_device,
        challenge_id: None,
        number: None,
        created_at: now,
        finished_at: None,
    };
    // The request and its record first (one transaction), then the push: a challenge never
    // exists for a withdrawal the site did not record. If the push cannot be made, the
    // recorded request is refused, with its reason.
    let binding = with_passkey.then(|| super::passkeys::withdrawal_binding(&w, bank));
    let requested = AuditEntry {
        at: now,
        event: AuditEvent::WithdrawalRequested,
        account_id: Some(&c.row.account_id),
        device_id: None,
        challenge_id: None,
        detail: json!({"withdrawal_id": w.id, "amount": amount, "to": destination_text(bank), "push": has_device, "passkey": with_passkey}),
    };
    store.insert_withdrawal_requested(&w, binding.as_deref(), &requested).await?;
    if has_device && !with_passkey {
        match push_withdrawal(&site, &c.row, &w, bank).await {
            Ok((id, number)) => {
                store.set_withdrawal_challenge(&w.id, &id, number.as_deref()).await?;
                (w.challenge_id, w.number) = (Some(id), number);
            }
            Err(e) => {
                finish_withdrawal(&site, &w, WithdrawalEnd::Refused(refusal_code(&e))).await?;
                if !super::is_refusal(&e) {
                    return Err(e.into());
                }
                return fail(super::push_unavailable(refusal_code(&e), v.lang));
            }
        }
    }
    super::mail_later(&site, super::notify::withdrawal_notice(&c.row, amount, &bank.bank, &bank.number, now));
    if !has_device && !with_passkey {
        codes::send(&site, &c.row, "withdrawal", &w.id).await?;
    }
    Ok(see_other(&format!("/withdraw/{}", w.id)))
}

/// The verifier's code for a refused push (`verifier_unreachable` without an answer).
fn refusal_code(e: &inkan_rp_client::RpError) -> &'static str {
    e.code().map_or("verifier_unreachable", |c| c.as_str())
}

/// Pushes a withdrawal to the customer's device: amount and masked destination, signed by the
/// server, shown and signed again by the device (dynamic linking).
async fn push_withdrawal(
    site: &SharedSite,
    c: &CustomerRow,
    w: &WithdrawalRow,
    bank: &BankAccountRow,
) -> Result<(String, Option<String>), inkan_rp_client::RpError> {
    let details = ChallengeDetails::Withdrawal(WithdrawalContext {
        amount: w.amount.unsigned_abs(),
        currency: "JPY".into(),
        bank: bank.bank.clone(),
        branch: bank.branch.clone(),
        account_masked: mask_tail(&bank.number),
        requested_at: inkan_protocol::display::jst_rfc3339(w.created_at),
    });
    let req = CreateChallengeRequest { account_id: c.account_id.clone(), details, number_match: true };
    let created = site.verifier.create_challenge(&req).await?;
    Ok((created.challenge_id, created.number_to_show))
}

/// The passkey step of a withdrawal is done: push it to the device, or (no device) complete it.
pub(super) async fn after_passkey(
    site: &SharedSite,
    c: &CustomerRow,
    w: &WithdrawalRow,
    bank: &BankAccountRow,
) -> SiteResult<()> {
    if !w.needs_push {
        return finish_withdrawal(site, w, WithdrawalEnd::Completed("passkey")).await;
    }
    match push_withdrawal(site, c, w, bank).await {
        Ok((id, number)) => {
            site.store.set_withdrawal_challenge(&w.id, &id, number.as_deref()).await?;
            Ok(())
        }
        Err(e) if !super::is_refusal(&e) => Err(e.into()),
        Err(e) => finish_withdrawal(site, w, WithdrawalEnd::Refused(refusal_code(&e))).await,
    }
}

/// Ends an awaiting withdrawal as refused, for `reason`.
pub(super) async fn refuse_withdrawal(site: &SharedSite, w: &WithdrawalRow, reason: &str) -> SiteResult<()> {
    finish_withdrawal(site, w, WithdrawalEnd::Refused(reason)).await
}

#[derive(Deserialize, Default)]
pub struct MessageQuery {
    m: Option<String>,
}

pub(super) async fn withdrawal_of(
    site: &SharedSite,
    c: &Customer,
    id: &str,
) -> SiteResult<(WithdrawalRow, BankAccountRow)> {
    let store = &site.store;
    let w = store.withdrawal(id, &c.row.account_id).await?.ok_or(SiteError::NotFound)?;
    let bank = store.bank_account(&w.bank_account_id, &c.row.account_id).await?.ok_or(SiteError::NotFound)?;
    Ok((w, bank))
}

/// How an awaiting withdrawal ended.
enum WithdrawalEnd<'a> {
    /// Approved by the given factor (`push`, `email_code`).
    Completed(&'a str),
    /// Not approved, for the given reason (the challenge's final state, or the code's).
    Refused(&'a str),
}

/// Finishes an awaiting withdrawal once (a second call changes nothing) and audits it.
/// A completion becomes a refusal when the withdrawal is no longer what was confirmed.
async fn finish_withdrawal(site: &SharedSite, w: &WithdrawalRow, end: WithdrawalEnd<'_>) -> SiteResult<()> {
    let store = &site.store;
    let now = site.now();
    let end = match end {
        WithdrawalEnd::Completed(_) if !still_bound(site, w).await? => WithdrawalEnd::Refused("destination_changed"),
        other => other,
    };
    let audit = |event, detail| AuditEntry {
        at: now,
        event,
        account_id: Some(&w.account_id),
        device_id: None,
        challenge_id: w.challenge_id.as_deref(),
        detail,
    };
    // The state change and its audit row commit together.
    match end {
        WithdrawalEnd::Completed(factor) => {
            let entry = audit(
                AuditEvent::WithdrawalCompleted,
                json!({"withdrawal_id": w.id, "amount": w.amount, "factor": factor}),
            );
            store.complete_withdrawal(&w.id, now, &entry).await?;
        }
        WithdrawalEnd::Refused(reason) => {
            let entry = audit(AuditEvent::WithdrawalRefused, json!({"withdrawal_id": w.id, "reason": reason}));
            store.refuse_withdrawal(&w.id, now, &entry).await?;
        }
    }
    Ok(())
}

/// Whether a withdrawal may still complete: its destination is still the customer's (not
/// replaced by a change since) and, when a passkey confirmed it, amount and destination are
/// still what the passkey was bound to.
async fn still_bound(site: &SharedSite, w: &WithdrawalRow) -> SiteResult<bool> {
    let store = &site.store;
    let active = store.bank_accounts(&w.account_id).await?.into_iter().find(|b| b.id == w.bank_account_id);
    let Some(bank) = active else { return Ok(false) };
    Ok(match store.withdrawal_binding(&w.id).await? {
        Some((binding, _)) => super::passkeys::withdrawal_binding(w, &bank) == binding,
        None => true,
    })
}

/// Settles an awaiting withdrawal whose challenge has ended; the challenge's status.
async fn settle_withdrawal(site: &SharedSite, w: &WithdrawalRow) -> SiteResult<Option<ChallengeStatus>> {
    let Some(challenge_id) = &w.challenge_id else { return Ok(None) };
    let status = site.verifier.challenge_status(challenge_id).await?;
    if w.state == WithdrawalState::AwaitingApproval {
        match status.state {
            ChallengeState::Pending => {}
            ChallengeState::Approved => finish_withdrawal(site, w, WithdrawalEnd::Completed("push")).await?,
            other => finish_withdrawal(site, w, WithdrawalEnd::Refused(other.as_str())).await?,
        }
    }
    Ok(Some(status))
}

pub async fn withdrawal_page(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    Path(id): Path<String>,
    Query(q): Query<MessageQuery>,
) -> SiteResult<Markup> {
    let (w, bank) = withdrawal_of(&site, &c, &id).await?;
    let challenge = settle_withdrawal(&site, &w).await?;
    let w = site.store.withdrawal(&id, &c.row.account_id).await?.ok_or(SiteError::NotFound)?;
    let summary = html! {
        dl {
            dt { (v.t(T::AmountYen)) } dd.amount data-amount=(w.amount) { (yen(v.lang, w.amount)) }
            dt { (v.t(T::Destination)) } dd data-masked { (destination_on_page(v.lang, &bank)) }
        }
    };
    let interim = w.state != WithdrawalState::Completed
        && site.store.withdrawal_binding(&w.id).await?.is_none()
        && site.webauthn.is_some();
    let summary = html! {
        (summary)
        @if interim { (pages::warning(v.t(T::WithdrawInterim))) }
    };
    let body = match (w.state, challenge) {
        (WithdrawalState::AwaitingPasskey, _) => html! {
            (summary)
            p { (v.t(T::WithdrawPasskeyLead)) }
            form data-passkey-withdraw data-start-url={ "/withdraw/" (w.id) "/passkey/start" } data-finish-url={ "/withdraw/" (w.id) "/passkey/finish" }
                data-msg-unsupported=(v.t(T::PasskeyUnsupported)) data-msg-cancelled=(v.t(T::PasskeyCancelled)) {
                (csrf(&v))
                button type="submit" { (v.t(T::WithdrawPasskeyButton)) }
                p.passkey-status role="status" aria-live="polite" {}
            }
        },
        (WithdrawalState::Completed, _) => html! { (summary) (pages::notice(v.t(T::WithdrawCompleted))) },
        (WithdrawalState::Refused, Some(status)) => {
            html! { (summary) (push_state_body(&v, status.state, None, 0, "", T::WithdrawPushLead, None, html! {})) (pages::error(v.t(T::WithdrawRefused))) }
        }
        (WithdrawalState::Refused, None) => html! { (summary) (pages::error(v.t(T::WithdrawRefused))) },
        (_, Some(status)) => {
            let url = format!("/withdraw/{}/status", w.id);
            html! { (summary) (push_state_body(&v, status.state, w.number.as_deref(), status.expires_at, &url, T::WithdrawPushLead, None, html! {})) }
        }
        (_, None) => {
            let message = code_message_markup(&v, q.m.as_deref());
            html! {
                (summary)
                @if let Some(m) = message { (m) }
                p { (v.t(T::WithdrawEmailLead)) }
                (code_form(&v, &format!("/withdraw/{}/code", w.id), None))
            }
        }
    };
    Ok(layout(&v, T::WithdrawTitle, Some(&c.row), body))
}

pub async fn withdrawal_status(
    State(site): State<SharedSite>,
    c: Customer,
    Path(id): Path<String>,
) -> SiteResult<Json<serde_json::Value>> {
    let (w, _) = withdrawal_of(&site, &c, &id).await?;
    let settled = match &w.challenge_id {
        Some(cid) if w.state == WithdrawalState::AwaitingApproval => {
            site.verifier.wait(cid, super::WAIT_POLL_SECS).await?.state.is_final()
        }
        _ => true,
    };
    Ok(Json(json!({"settled": settled})))
}

pub async fn withdrawal_code(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    Path(id): Path<String>,
    form: Form,
) -> SiteResult<Response> {
    let (w, _) = withdrawal_of(&site, &c, &id).await?;
    let back = format!("/withdraw/{}", w.id);
    if w.state != WithdrawalState::AwaitingApproval || w.needs_push {
        return Ok(see_other(&back));
    }
    let typed = form.field("code", 16)?.trim();
    if !codes::well_formed(typed) {
        return Ok(see_other(&format!("{back}?m=malformed")));
    }
    let outcome = codes::check(&site, &c.row.account_id, &w.id, typed).await?;
    if matches!(outcome, CodeCheck::Wrong { .. } | CodeCheck::TooManyAttempts)
        && count_failure_from(&site, &c.row, AuditEvent::WithdrawalCodeWrong, &v).await?
    {
        finish_withdrawal(&site, &w, WithdrawalEnd::Refused("account_locked")).await?;
        return Ok(see_other("/login"));
    }
    match outcome {
        CodeCheck::Accepted => finish_withdrawal(&site, &w, WithdrawalEnd::Completed("email_code")).await?,
        CodeCheck::TooManyAttempts => {
            finish_withdrawal(&site, &w, WithdrawalEnd::Refused("too_many_code_attempts")).await?
        }
        other => return Ok(see_other(&format!("{back}?m={}", code_message(other)))),
    }
    Ok(see_other(&back))
}

// ---- security settings -----------------------------------------------------------------

fn rule_text(lang: Lang, e: &PasswordRuleError) -> String {
    match e {
        PasswordRuleError::TooShort(n) => T::RuleTooShort.fill(lang, &[n]),
        PasswordRuleError::TooLong(n) => T::RuleTooLong.fill(lang, &[n]),
        PasswordRuleError::ForbiddenCharacter(c) => T::RuleForbidden.fill(lang, &[c]),
        PasswordRuleError::TooFewClasses(n) => T::RuleClasses.fill(lang, &[n]),
    }
}

async fn settings_view(site: &SharedSite, v: &Visitor, c: &CustomerRow, message: Option<Markup>) -> SiteResult<Markup> {
    let devices = site.verifier.devices(&c.account_id).await?;
    let active: Vec<_> = devices.iter().filter(|d| d.revoked_at.is_none()).collect();
    let passkeys = site.store.passkeys(&c.account_id).await?;
    let banks = site.store.bank_accounts(&c.account_id).await?;
    let body = html! {
        @if let Some(m) = message { (m) }
        h2 { (v.t(T::Authenticators)) }
        @if active.is_empty() {
            p { (v.t(T::NoAuthenticators)) }
        } @else {
            table #authenticators {
                tr { th { (v.t(T::DeviceName)) } th { (v.t(T::Platform)) } th { (v.t(T::EnrolledAt)) } th { (v.t(T::LastUsed)) } th {} }
                @for d in &active {
                    tr data-device=(d.device_id) {
                        td { (d.name) } td { (d.platform) } td { (super::when(v.lang, d.enrolled_at)) }
                        td { @match d.last_used_at { Some(t) => (super::when(v.lang, t)), None => (v.t(T::Never)) } }
                        td { form method="post" action={ "/settings/authenticators/" (d.device_id) "/revoke" } { (csrf(v)) button.secondary type="submit" { (v.t(T::Revoke)) } } }
                    }
                }
            }
        }
        p { a href="/settings/authenticators/new" { (v.t(T::AddAuthenticator)) } }
        h2 { (v.t(T::Destination)) }
        @for b in &banks {
            p data-masked { (destination_on_page(v.lang, b)) @if let Some(from) = super::destinations::not_yet_usable(b, site.now(), v.lang) { " " span.hint { (T::DestNotYet.fill(v.lang, &[&from])) } } }
        }
        p { a href="/settings/destination" { (v.t(T::DestChangeTitle)) } }
        (super::passkeys::settings_section(v, site, &passkeys))
        h2 { (v.t(T::ChangePassword)) }
        p.hint { (v.t(T::PasswordRules)) }
        form method="post" action="/settings/password" {
            (csrf(v))
            label for="current" { (v.t(T::CurrentPassword)) }
            input #current name="current" type="password" autocomplete="current-password" required maxlength=(MAX_PASSWORD_FIELD_CHARS);
            label for="new" { (v.t(T::NewPassword)) }
            input #new name="new" type="password" autocomplete="new-password" required maxlength=(MAX_PASSWORD_FIELD_CHARS);
            label for="confirm" { (v.t(T::ConfirmPassword)) }
            input #confirm name="confirm" type="password" autocomplete="new-password" required maxlength=(MAX_PASSWORD_FIELD_CHARS);
            button type="submit" { (v.t(T::Change)) }
        }
        h2 { (v.t(T::ChangeEmail)) }
        p { (v.t(T::Email)) ": " span data-masked { (mask_email(&c.email)) } }
        form method="post" action="/settings/email" {
            (csrf(v))
            label for="current_email" { (v.t(T::CurrentEmailFull)) }
            input #current_email name="current_email" type="email" autocomplete="off" required maxlength=(MAX_EMAIL_CHARS);
            label for="new_email" { (v.t(T::NewEmail)) }
            input #new_email name="new_email" type="email" autocomplete="email" required maxlength=(MAX_EMAIL_CHARS);
            label for="email_password" { (v.t(T::LoginPasswordLabel)) }
            input #email_password name="password" type="password" autocomplete="current-password" required maxlength=(MAX_PASSWORD_FIELD_CHARS);
            button type="submit" { (v.t(T::Change)) }
        }
    };
    Ok(layout(v, T::SettingsTitle, Some(c), body))
}

pub async fn settings_page(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    Query(q): Query<MessageQuery>,
) -> SiteResult<Markup> {
    let message = match q.m.as_deref() {
        Some("enrolled") => Some(pages::notice(v.t(T::Enrolled))),
        Some("revoked") => Some(pages::notice(v.t(T::Revoked))),
        Some("password") => Some(pages::notice(v.t(T::PasswordChanged))),
        Some("email") => Some(pages::notice(v.t(T::EmailChanged))),
        Some("passkey_added") => Some(pages::notice(v.t(T::PasskeyAdded))),
        Some("passkey_removed") => Some(pages::notice(v.t(T::PasskeyRemoved))),
        _ => None,
    };
    settings_view(&site, &v, &c.row, message).await
}

pub async fn enroll_page(State(site): State<SharedSite>, v: Visitor, c: Customer) -> SiteResult<Response> {
    if !c.login_is_fresh(&site).await? {
        return Ok(super::fresh_login_needed(&site, &v, &c));
    }
    // No label of our own: the verifier's (its relying-party name and the masked account) is
    // the one every ticket for this account gets, whoever asks for it.
    let ticket = site.verifier.create_ticket(&c.row.account_id, None).await?;
    let url = format!("/settings/authenticators/new/status?ticket={}", ticket.ticket_id);
    let body = html! {
        p { (T::EnrollLead.fill(v.lang, &[&super::when(v.lang, ticket.expires_at)])) }
        div.qr data-ticket=(ticket.ticket_id) { (pages::inline_svg(&ticket.qr_svg)) }
        p { (v.t(T::EnrollLink)) }
        p.mono data-enroll-link { a href=(ticket.uri) { (ticket.uri) } }
        (pages::waiting(&url, v.t(T::EnrollWaiting)))
    };
    Ok(layout(&v, T::EnrollTitle, Some(&c.row), body).into_response())
}

#[derive(Deserialize)]
pub struct TicketQuery {
    ticket: String,
}

/// Long poll for the enrollment page: `settled` (reload) when the ticket is used or expired;
/// `next` says where to go.
pub async fn enroll_status(
    State(site): State<SharedSite>,
    c: Customer,
    Query(q): Query<TicketQuery>,
) -> SiteResult<Json<serde_json::Value>> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(super::WAIT_POLL_SECS);
    loop {
        // Registered before the check, so a delivery processed in between still wakes it.
        let woken = site.events_processed.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let status = match site.verifier.ticket_status(&q.ticket).await {
            Ok(s) if s.account_id == c.row.account_id => s,
            Ok(_) => return Err(SiteError::NotFound),
            Err(e) if e.code() == Some(inkan_protocol::ErrorCode::TicketUnknown) => return Err(SiteError::NotFound),
            Err(e) => return Err(e.into()),
        };
        match status.state {
            inkan_protocol::TicketState::Used => {
                return Ok(Json(json!({"settled": true, "state": "used", "next": "/settings?m=enrolled"})));
            }
            inkan_protocol::TicketState::Expired => return Ok(Json(json!({"settled": true, "state": "expired"}))),
            inkan_protocol::TicketState::Open => {}
        }
        // Wake on any enrollment, or re-check every second for expiry.
        let tick =
            tokio::time::sleep_until((tokio::time::Instant::now() + std::time::Duration::from_secs(1)).min(deadline));
        tokio::select! {
            _ = woken => {}
            _ = tick => {}
            // The server is stopping: answer now (not settled: the page asks again).
            _ = site.stopping() => return Ok(Json(json!({"settled": false}))),
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Json(json!({"settled": false})));
        }
    }
}

pub async fn revoke(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    Path(id): Path<String>,
    form: Form,
) -> SiteResult<Response> {
    if !c.login_is_fresh(&site).await? {
        return Ok(super::fresh_login_needed(&site, &v, &c));
    }
    let devices = site.verifier.devices(&c.row.account_id).await?;
    if !devices.iter().any(|d| d.device_id == id && d.revoked_at.is_none()) {
        return Err(SiteError::NotFound);
    }
    if c.authenticator_count(&site).await? <= 1 && form.field("confirm", 1)? != "1" {
        return Ok(super::confirm_last_authenticator(&v, &c, &format!("/settings/authenticators/{id}/revoke")));
    }
    match site.verifier.revoke_device(&c.row.account_id, &id).await {
        Ok(()) => Ok(see_other("/settings?m=revoked")),
        Err(e) if e.code() == Some(inkan_protocol::ErrorCode::DeviceUnknown) => Err(SiteError::NotFound),
        Err(e) => Err(e.into()),
    }
}

pub async fn change_password(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    form: Form,
) -> SiteResult<Response> {
    let current = form.field("current", MAX_PASSWORD_FIELD_CHARS)?;
    let new = form.field("new", MAX_PASSWORD_FIELD_CHARS)?;
    let confirm = form.field("confirm", MAX_PASSWORD_FIELD_CHARS)?;
    let problem = if !password_matches(current, &c.row.password_hash).await {
        if count_failure_from(&site, &c.row, AuditEvent::PasswordChangeWrongCurrent, &v).await? {
            return Ok(see_other("/login"));
        }
        Some(v.t(T::WrongCurrentPassword).to_owned())
    } else if let Err(e) = check_password(new) {
        Some(rule_text(v.lang, &e))
    } else if new != confirm {
        Some(v.t(T::PasswordMismatch).to_owned())
    } else if new == current {
        Some(v.t(T::PasswordSame).to_owned())
    } else {
        None
    };
    if let Some(text) = problem {
        return Ok(settings_view(&site, &v, &c.row, Some(pages::error(&text))).await?.into_response());
    }
    let new_owned = zeroize::Zeroizing::new(new.to_owned());
    let hash = tokio::task::spawn_blocking(move || hash_password(&new_owned))
        .await
        .map_err(|e| SiteError::Internal(e.into()))??;
    let store = &site.store;
    let now = site.now();
    // Every other session ends: whoever else was logged in (perhaps with the old password)
    // must log in again. This one stays.
    store.change_password(&c.row.account_id, &hash, &c.session_hash, now).await?;
    super::mail_later(&site, super::notify::password_changed(&c.row, now));
    Ok(see_other("/settings?m=password"))
}

/// A plausible e-mail address: one `@`, a dotted domain, no spaces or controls.
fn plausible_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        && !domain.contains('@')
}

/// Changing the authentication e-mail address (where codes and notices go): a security change.
/// It needs a fresh login (the shared rule), the current address in full and the login
/// password; a wrong address or password counts toward the lock like any failed factor. Both
/// the old and the new address are told.
pub async fn change_email(State(site): State<SharedSite>, v: Visitor, c: Customer, form: Form) -> SiteResult<Response> {
    if !c.login_is_fresh(&site).await? {
        return Ok(super::fresh_login_needed(&site, &v, &c));
    }
    let current = form.field("current_email", MAX_EMAIL_CHARS)?.trim();
    let new = form.field("new_email", MAX_EMAIL_CHARS)?.trim();
    let password = form.field("password", MAX_PASSWORD_FIELD_CHARS)?;
    let store = &site.store;
    let now = site.now();
    let address_right =
        bool::from(current.to_ascii_lowercase().as_bytes().ct_eq(c.row.email.to_ascii_lowercase().as_bytes()));
    let password_right = password_matches(password, &c.row.password_hash).await;
    let message = if !address_right || !password_right {
        let event =
            if address_right { AuditEvent::EmailChangeWrongPassword } else { AuditEvent::EmailChangeWrongCurrent };
        if count_failure_from(&site, &c.row, event, &v).await? {
            return Ok(see_other("/login"));
        }
        Some(if address_right { T::WrongCurrentPassword } else { T::CurrentEmailWrong })
    } else if !plausible_email(new) {
        Some(T::EmailInvalid)
    } else {
        None
    };
    if let Some(t) = message {
        return settings_view(&site, &v, &c.row, Some(pages::error(v.t(t)))).await.map(IntoResponse::into_response);
    }
    let changed = AuditEntry::of_account(
        now,
        AuditEvent::EmailChanged,
        &c.row.account_id,
        json!({"from": mask_email(&c.row.email), "to": mask_email(new)}),
    );
    store.set_email(&c.row.account_id, new, changed).await?;
    for mail in super::notify::email_changed(&c.row, new) {
        super::mail_later(&site, mail);
    }
    Ok(see_other("/settings?m=email"))
}

// ---- activity, outbox, operators -------------------------------------------------------

fn audit_table(v: &Visitor, rows: &[inkan_kit::sqlite::AuditRow], with_account: bool) -> Markup {
    html! {
        table #activity {
            tr { th { (v.t(T::When)) } th { (v.t(T::What)) } th { (v.t(T::Details)) } }
            @for (at, event, device, _challenge, detail) in rows {
                tr data-event=(event) {
                    td { (super::when(v.lang, *at)) }
                    td { (super::pages::event_label(v.lang, event)) }
                    td.mono {
                        @if with_account { (detail) } @else { (super::pages::customer_detail(v.lang, detail)) }
                        @if let Some(d) = device { " · " (d) }
                    }
                }
            }
        }
    }
}

/// How many audit events the activity pages show.
pub const ACTIVITY_ROWS: i64 = 100;

pub async fn activity(State(site): State<SharedSite>, v: Visitor, c: Customer) -> SiteResult<Markup> {
    let rows = site.store.audit_for_account(&c.row.account_id, ACTIVITY_ROWS).await?;
    Ok(layout(&v, T::ActivityTitle, Some(&c.row), audit_table(&v, &rows, false)))
}

pub async fn outbox(State(site): State<SharedSite>, v: Visitor) -> SiteResult<Markup> {
    if !site.outbox_page {
        return Err(SiteError::NotFound);
    }
    let mails = site.store.outbox(ACTIVITY_ROWS).await?;
    let body = html! {
        @if mails.is_empty() { p { (v.t(T::OutboxEmpty)) } }
        @for m in &mails {
            article.mail data-mail=(m.id) {
                h2 { (m.subject) }
                p.hint { (super::when(v.lang, m.at)) " · " (v.t(T::To)) ": " span data-to { (mask_email(&m.to_addr)) } }
                pre.mail { (m.body) }
            }
        }
    };
    Ok(layout(&v, T::OutboxTitle, None, body))
}

#[derive(Deserialize)]
pub struct AccountQuery {
    account: String,
}

/// Operators: the audit log of one account, behind HTTP Basic (user `operator`, password the
/// relying-party API key), compared in constant time.
pub async fn operator_audit(
    State(site): State<SharedSite>,
    v: Visitor,
    headers: HeaderMap,
    Query(q): Query<AccountQuery>,
) -> SiteResult<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok())
        .unwrap_or_default();
    let want = format!("operator:{}", site.settings.rp_api_key.expose());
    if !bool::from(Sha256::digest(&given).ct_eq(&Sha256::digest(want.as_bytes()))) {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"inkan-operator\"")],
            "operator credentials required / オペレーター認証が必要です",
        )
            .into_response());
    }
    let rows = site.store.audit_for_account(&q.account, ACTIVITY_ROWS).await?;
    Ok(layout(&v, T::OperatorAuditTitle, None, audit_table(&v, &rows, true)).into_response())
}

#[cfg(test)]
mod amount_tests {
    use super::parse_yen;

    #[test]
    fn amounts_as_customers_type_them() {
        for (typed, yen) in [
            ("250000", 250_000),
            ("250,000", 250_000),
            ("２５０，０００", 250_000),
            ("２５０,０００", 250_000),
            ("　２５００００　", 250_000),
            ("¥30,000", 30_000),
            ("￥３０，０００", 30_000),
            ("30000円", 30_000),
            ("３００００円", 30_000),
        ] {
            assert_eq!(parse_yen(typed), Some(yen), "{typed:?}");
        }
        for refused in ["", "円", "-5000", "5000.5", "５千", "1e5", "+100", "12345678901234567890", "0x10"] {
            assert_eq!(parse_yen(refused), None, "{refused:?}");
        }
    }
}
