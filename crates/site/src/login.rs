//! Login: account number + password, then the second factor (push with a number to type, or
//! the e-mailed code, or the app's offline code), with risk-based step-up; logout; the mailed
//! language switch.

use crate::audit::{AuditEntry, AuditEvent};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use inkan_protocol::{ChallengeDetails, ChallengeState, CreateChallengeRequest, LoginContext};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::codes::{self, CodeCheck};
use super::db::{AttemptFactor, AttemptRow, CustomerRow, NewAttempt};
use super::geo;
use super::i18n::T;
use super::pages::{self, csrf, layout};
use super::password::{dummy_hash, verify_password};
use super::risk::{self, RiskSignals};
use super::{
    BROWSER_COOKIE, COOKIE_TOKEN_BYTES, Customer, Form, LANG_COOKIE, LOGIN_COOKIE, MAX_ACCOUNT_FIELD_CHARS,
    MAX_PASSWORD_FIELD_CHARS, SESSION_COOKIE, SharedSite, SiteResult, Visitor, mask_email, mask_tail, see_other,
};

pub async fn root(customer: Result<Customer, Response>) -> Response {
    see_other(if customer.is_ok() { "/home" } else { "/login" })
}

#[derive(Deserialize)]
pub struct LangBack {
    back: Option<String>,
}

/// Sets the language cookie and goes back to a page of this site.
pub async fn switch_language(
    State(site): State<SharedSite>,
    Path(code): Path<String>,
    Query(q): Query<LangBack>,
) -> Response {
    let lang = super::i18n::Lang::parse(&code).unwrap_or_default();
    let back = q.back.as_deref().and_then(same_site_path).unwrap_or("/");
    let mut res = see_other(back);
    res.headers_mut().append(header::SET_COOKIE, site.cookie(LANG_COOKIE, lang.code(), Some(365 * 86_400)));
    res
}

/// `text` if it is a path on this site, to redirect to: it starts with one `/` and holds only
/// visible ASCII (no white space or control characters, which browsers drop or which break
/// the header, no backslash, which browsers read as `/`). Anything else (`//evil.example`,
/// `/\tevil`, `/%09/evil` once decoded, `https://…`, CR/LF) is `None`: the caller goes to `/`.
pub fn same_site_path(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let visible = bytes.iter().all(|b| (0x21..=0x7e).contains(b) && *b != b'\\');
    (visible && bytes.first() == Some(&b'/') && bytes.get(1) != Some(&b'/')).then_some(text)
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    expired: Option<String>,
    out: Option<String>,
}

fn login_form(site: &SharedSite, v: &Visitor, account: &str, message: Option<Markup>) -> Markup {
    layout(
        v,
        T::LoginTitle,
        None,
        html! {
            @if let Some(m) = message { (m) }
            form method="post" action="/login" {
                (csrf(v))
                label for="account" { (v.t(T::AccountNumber)) }
                input #account name="account" value=(account) autocomplete="username" inputmode="numeric" required maxlength=(MAX_ACCOUNT_FIELD_CHARS);
                label for="password" { (v.t(T::Password)) }
                input #password name="password" type="password" autocomplete="current-password" required maxlength=(MAX_PASSWORD_FIELD_CHARS);
                button type="submit" { (v.t(T::LoginButton)) }
            }
            (super::passkeys::login_section(v, site))
            p.hint { (v.t(T::PhishingWarning)) }
            p.hint { (v.t(T::SessionRule)) }
        },
    )
}

pub async fn login_page(State(site): State<SharedSite>, v: Visitor, Query(q): Query<LoginQuery>) -> Markup {
    let message = if q.expired.is_some() {
        Some(pages::notice(v.t(T::SessionExpired)))
    } else if q.out.is_some() {
        Some(pages::notice(v.t(T::LoggedOut)))
    } else {
        None
    };
    login_form(&site, &v, "", message)
}

/// Whether `password` matches the argon2id `hash`, verified off the async threads.
pub async fn password_matches(password: &str, hash: &str) -> bool {
    let (password, hash) = (zeroize::Zeroizing::new(password.to_owned()), hash.to_owned());
    tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false)
}

pub async fn login_submit(State(site): State<SharedSite>, v: Visitor, form: Form) -> SiteResult<Response> {
    if !site.unauthenticated.allow(v.ip, site.now()) {
        return Err(super::SiteError::RateLimited);
    }
    let account = form.field("account", MAX_ACCOUNT_FIELD_CHARS)?.trim().to_owned();
    let password = form.field("password", MAX_PASSWORD_FIELD_CHARS)?;
    if account.is_empty() || password.is_empty() {
        let missing = if account.is_empty() { T::AccountNumber } else { T::Password };
        let text = T::Required.fill(v.lang, &[&v.t(missing)]);
        return Ok(login_form(&site, &v, &account, Some(pages::error(&text))).into_response());
    }
    let store = &site.store;
    let now = site.now();
    let wrong =
        |v: &Visitor| login_form(&site, v, &account, Some(pages::error(v.t(T::WrongCredentials)))).into_response();
    let Some(customer) = store.customer(&account).await? else {
        // Same work and same answer as a wrong password.
        let _ = password_matches(password, dummy_hash()).await;
        store
            .audit(
                now,
                AuditEvent::LoginUnknownAccount,
                None,
                None,
                None,
                json!({"account": mask_tail(&account), "ip": v.ip.to_string()}),
            )
            .await?;
        return Ok(wrong(&v));
    };
    let matches = password_matches(password, &customer.password_hash).await;
    // Before the password is proven, a locked account answers exactly as an unknown one or a
    // wrong password does: "locked" is said only to whoever knows the password (and mailed to
    // the customer when the lock happens), never to anyone who merely types an account number.
    if customer.locked_at.is_some() {
        let event = if matches { AuditEvent::LoginRefusedLocked } else { AuditEvent::LoginRefusedLockedWrongPassword };
        store.audit(now, event, Some(&account), None, None, json!({"ip": v.ip.to_string()})).await?;
        if !matches {
            return Ok(wrong(&v));
        }
        return Ok(login_form(&site, &v, &account, Some(pages::error(v.t(T::AccountLocked)))).into_response());
    }
    if !matches {
        count_failure_from(&site, &customer, AuditEvent::LoginPasswordWrong, &v).await?;
        return Ok(wrong(&v));
    }
    start_second_factor(&site, &v, &customer).await
}

/// A factor failed (password, withdrawal password, e-mailed code, typed number, passkey):
/// counts toward the lock. At [`crate::Limits::max_failed_logins`] failures in a row the
/// account locks, every web session of it ends, and the customer is mailed that only the
/// support centre can unlock it, after verifying their identity (`inkan-server customer
/// unlock --operator … --verified-by …`). There is no self-service unlock link. Whether the
/// account is now locked.
pub async fn count_factor_failure(
    site: &SharedSite,
    customer: &CustomerRow,
    event: AuditEvent,
    detail: serde_json::Value,
) -> SiteResult<bool> {
    let max = i64::from(site.limits().max_failed_logins);
    let count = site.store.count_failure(&customer.account_id, site.now(), max, event, detail).await?;
    if count.locked_now {
        super::mail_later(site, super::notify::account_locked(customer));
    }
    Ok(count.failed_logins >= max)
}

/// [`count_factor_failure`] for a failure at this visitor's request.
pub async fn count_failure_from(
    site: &SharedSite,
    customer: &CustomerRow,
    event: AuditEvent,
    v: &Visitor,
) -> SiteResult<bool> {
    count_factor_failure(site, customer, event, json!({"ip": v.ip.to_string()})).await
}

/// The password was right: judge the risk, decide the factors, open the attempt.
async fn start_second_factor(site: &SharedSite, v: &Visitor, customer: &CustomerRow) -> SiteResult<Response> {
    let store = &site.store;
    let now = site.now();
    let network = risk::network_of(v.ip);
    let known_browser = match v.cookie(BROWSER_COOKIE) {
        Some(token) => store.is_known_browser(&crate::sha256(token.as_bytes()), &customer.account_id).await?,
        None => false,
    };
    let located = site.geo.locate(v.ip);
    let signals = RiskSignals {
        known_browser,
        known_network: store.is_known_network(&customer.account_id, &network).await?,
        recent_failures: u32::try_from(customer.failed_logins).unwrap_or(u32::MAX),
        new_country: is_new_country(site, &customer.account_id, &located).await?,
        hosting_network: located.hosting,
        impossible_travel: is_impossible_travel(site, &customer.account_id, &located, now).await?,
    };
    let reasons = risk::assess(signals);
    let has_device = site.verifier.devices(&customer.account_id).await?.iter().any(|d| d.revoked_at.is_none());
    let needs_push = has_device;
    let needs_email = !has_device || !reasons.is_empty();
    let risk_codes: Vec<&str> = reasons.iter().map(|r| r.code()).collect();
    let token = crate::random_token(COOKIE_TOKEN_BYTES);
    let hash = crate::sha256(token.as_bytes());
    let browser = risk::browser_of(&v.user_agent);
    let password_ok = AuditEntry::of_account(
        now,
        AuditEvent::LoginPasswordOk,
        &customer.account_id,
        json!({"ip": v.ip.to_string(), "network": network, "place": located.place, "country": located.country, "asn": located.asn, "browser": browser, "risky": !reasons.is_empty(), "risk": risk_codes, "push": needs_push, "email_code": needs_email}),
    );
    store
        .insert_attempt(
            NewAttempt {
                token_hash: &hash,
                account_id: &customer.account_id,
                now,
                expires_at: now + site.limits().login_attempt_ttl_secs,
                ip: &v.ip.to_string(),
                browser: &browser,
                risk: &serde_json::to_string(&risk_codes).unwrap_or_default(),
                needs_push,
                needs_email,
            },
            password_ok,
        )
        .await?;
    if needs_email {
        codes::send(site, customer, "login", &attempt_subject(&hash)).await?;
    }
    let mut res = see_other("/login/verify");
    res.headers_mut().append(header::SET_COOKIE, site.cookie(LOGIN_COOKIE, &token, None));
    Ok(res)
}

/// A login from a country the customer has not logged in from, nor one of the deployment's
/// home countries. An address whose country the database does not know is not "new".
async fn is_new_country(site: &SharedSite, account_id: &str, located: &geo::Located) -> SiteResult<bool> {
    let Some(country) = &located.country else { return Ok(false) };
    if site.geo.settings().home_countries.contains(country) {
        return Ok(false);
    }
    Ok(!site.store.is_known_country(account_id, country).await?)
}

/// Whether this login's place is too far from the last login's for the time between
/// ([`crate::Limits::impossible_travel_kmh`], [`crate::Limits::impossible_travel_min_km`]).
async fn is_impossible_travel(
    site: &SharedSite,
    account_id: &str,
    located: &geo::Located,
    now: i64,
) -> SiteResult<bool> {
    let Some(here) = &located.coords else { return Ok(false) };
    let Some(last) = site.store.last_login_place(account_id).await? else { return Ok(false) };
    let limits = site.limits();
    Ok(risk::impossible_travel(&last, here, now, limits.impossible_travel_kmh, limits.impossible_travel_min_km))
}

/// The id e-mail codes of an attempt are filed under.
fn attempt_subject(hash: &[u8]) -> String {
    inkan_protocol::keys::b64(hash)
}

/// The visitor's login attempt while it is open: its hash, row and customer. `Err(state)`
/// when it is over: finished, expired, the account locked, or its push answered "deny", "not
/// me" or with a wrong number (`Some(state)`). An answered push ends the attempt for every
/// factor: no e-mailed or offline code can complete it afterwards.
async fn open_attempt(
    site: &SharedSite,
    v: &Visitor,
) -> SiteResult<Result<(Vec<u8>, AttemptRow, CustomerRow), Option<ChallengeState>>> {
    let Some(token) = v.cookie(LOGIN_COOKIE) else { return Ok(Err(None)) };
    let hash = crate::sha256(token.as_bytes());
    let store = &site.store;
    let Some(row) = store.attempt(&hash).await? else { return Ok(Err(None)) };
    if row.finished_at.is_some() || site.now() >= row.expires_at {
        return Ok(Err(None));
    }
    let Some(customer) = store.customer(&row.account_id).await? else { return Ok(Err(None)) };
    if customer.locked_at.is_some() {
        return Ok(Err(None));
    }
    if let Some(id) = &row.challenge_id {
        let state = site.verifier.challenge_status(id).await?.state;
        if ends_attempt(state) {
            let mut ended = AuditEntry::of_account(
                site.now(),
                AuditEvent::LoginAttemptEnded,
                &row.account_id,
                json!({"push": state.as_str()}),
            );
            ended.challenge_id = Some(id);
            store.finish_attempt(&hash, site.now(), Some(ended)).await?;
            return Ok(Err(Some(state)));
        }
    }
    Ok(Ok((hash, row, customer)))
}

/// Push answers that end the login attempt they belong to.
fn ends_attempt(state: ChallengeState) -> bool {
    matches!(state, ChallengeState::Denied | ChallengeState::DeniedFraud | ChallengeState::Failed)
}

/// The page for an attempt that is over: what ended it, and the way to start again.
fn attempt_ended(v: &Visitor, ended_by: Option<ChallengeState>) -> Response {
    let message = match ended_by {
        Some(ChallengeState::Denied) => T::PushDenied,
        // The browser that started a request the customer reported learns only that it was
        // refused: the customer's own advice goes to the customer (mail, next login).
        Some(ChallengeState::DeniedFraud) => T::PushDenied,
        Some(ChallengeState::Failed) => T::PushFailed,
        _ => T::AttemptExpired,
    };
    layout(
        v,
        T::VerifyTitle,
        None,
        html! { (pages::error(v.t(message))) p { a href="/login" { (v.t(T::StartOver)) } } },
    )
    .into_response()
}

/// Whether the attempt was judged risky (then it needs the e-mailed code and the push).
fn is_risky(attempt: &AttemptRow) -> bool {
    attempt.risk != "[]"
}

#[derive(Deserialize, Default)]
pub struct VerifyQuery {
    m: Option<String>,
}

/// Messages about e-mailed codes carried across a redirect (`?m=`), by the key
/// [`code_message`] gives.
pub fn code_message_markup(v: &Visitor, key: Option<&str>) -> Option<Markup> {
    Some(match key? {
        "sent" => pages::notice(v.t(T::CodeSent)),
        "expired" => pages::error(v.t(T::CodeExpired)),
        "too_many" => pages::error(v.t(T::CodeTooManyAttempts)),
        "malformed" => pages::error(v.t(T::CodeMalformed)),
        "offline_wrong" => pages::error(v.t(T::OfflineCodeWrong)),
        "both_needed" => pages::error(v.t(T::RiskyNeedsBoth)),
        w if w.starts_with("wrong") => {
            let left: u32 = w.trim_start_matches("wrong").parse().unwrap_or(0);
            pages::error(&T::CodeWrong.fill(v.lang, &[&left]))
        }
        _ => return None,
    })
}

/// The form for an e-mailed code (login or withdrawal).
pub fn code_form(v: &Visitor, action: &str, resend: Option<&str>) -> Markup {
    html! {
        form method="post" action=(action) {
            (csrf(v))
            label for="code" { (v.t(T::CodeLabel)) }
            input #code name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required;
            button type="submit" { (v.t(T::Verify)) }
        }
        @if let Some(resend) = resend {
            form method="post" action=(resend) { (csrf(v)) button.secondary type="submit" { (v.t(T::ResendCode)) } }
        }
    }
}

pub async fn verify_page(
    State(site): State<SharedSite>,
    v: Visitor,
    Query(q): Query<VerifyQuery>,
) -> SiteResult<Response> {
    let (hash, attempt, customer) = match open_attempt(&site, &v).await? {
        Ok(open) => open,
        Err(ended_by) => return Ok(attempt_ended(&v, ended_by)),
    };
    let message = code_message_markup(&v, q.m.as_deref());
    let risky = is_risky(&attempt);
    if attempt.needs_email && !attempt.email_done {
        let minutes = site.limits().email_code_ttl_secs / 60;
        let body = html! {
            @if let Some(m) = message { (m) }
            @if risky && attempt.needs_push { (pages::warning(v.t(T::RiskyLead))) }
            p { (T::EmailCodeLead.fill(v.lang, &[&mask_email(&customer.email), &codes::EMAIL_CODE_DIGITS, &minutes])) }
            (code_form(&v, "/login/verify/code", Some("/login/verify/resend")))
        };
        return Ok(layout(&v, T::VerifyTitle, None, body).into_response());
    }
    if attempt.needs_push && !attempt.push_done {
        return push_step(&site, &v, &hash, &attempt, message).await;
    }
    finish_login(&site, &v, &hash, &attempt, &customer).await
}

/// The push step: create the challenge if there is none, then show its number or its end.
async fn push_step(
    site: &SharedSite,
    v: &Visitor,
    hash: &[u8],
    attempt: &AttemptRow,
    message: Option<Markup>,
) -> SiteResult<Response> {
    let (challenge_id, number) = match &attempt.challenge_id {
        Some(id) => (id.clone(), attempt.number.clone()),
        None => {
            let details = ChallengeDetails::Login(LoginContext {
                time: inkan_protocol::display::jst_rfc3339(site.now()),
                ip: attempt.ip.clone(),
                place: site.geo.locate(attempt.ip.parse().unwrap_or(v.ip)).place.both(),
                browser: attempt.browser.clone(),
            });
            let req = CreateChallengeRequest { account_id: attempt.account_id.clone(), details, number_match: true };
            match site.verifier.create_challenge(&req).await {
                Ok(created) => {
                    site.store
                        .set_attempt_challenge(hash, Some(&created.challenge_id), created.number_to_show.as_deref())
                        .await?;
                    (created.challenge_id, created.number_to_show)
                }
                Err(e) if !super::is_refusal(&e) => return Err(e.into()),
                Err(e) => {
                    let code = e.code().map_or("verifier_unreachable", |c| c.as_str());
                    let body = html! {
                        (pages::error(&super::push_unavailable(code, v.lang)))
                        @if !is_risky(attempt) { (email_instead_button(v)) }
                    };
                    return Ok(layout(v, T::VerifyTitle, None, body).into_response());
                }
            }
        }
    };
    let status = site.verifier.challenge_status(&challenge_id).await?;
    if status.state == ChallengeState::Approved {
        site.store.set_attempt_factor(hash, AttemptFactor::Push, None).await?;
        return Ok(see_other("/login/verify"));
    }
    let body = push_state_body(
        v,
        status.state,
        number.as_deref(),
        status.expires_at,
        "/login/verify/status",
        T::PushLead,
        message,
        html! {
            @if status.state == ChallengeState::Expired {
                form method="post" action="/login/verify/push-again" { (csrf(v)) button type="submit" { (v.t(T::SendPushAgain)) } }
            }
            @if status.state == ChallengeState::Pending {
                @if let (Some(url), Some(n)) = (&site.loopback_url, number.as_deref()) { (pages::loopback_button(v, url, &challenge_id, n)) }
            }
            @if (status.state == ChallengeState::Pending || status.state == ChallengeState::Expired) && !is_risky(attempt) { (email_instead_button(v)) }
            @if matches!(status.state, ChallengeState::Denied | ChallengeState::DeniedFraud | ChallengeState::Failed) {
                p { a href="/login" { (v.t(T::StartOver)) } }
            }
        },
    );
    Ok(layout(v, T::VerifyTitle, None, body).into_response())
}

/// What a push step shows in each state of its challenge (login and withdrawal alike).
#[allow(clippy::too_many_arguments)]
pub fn push_state_body(
    v: &Visitor,
    state: ChallengeState,
    number: Option<&str>,
    expires_at: i64,
    status_url: &str,
    lead: T,
    message: Option<Markup>,
    actions: Markup,
) -> Markup {
    html! {
        @if let Some(m) = message { (m) }
        @match state {
            ChallengeState::Pending => {
                p { (v.t(lead)) }
                @if let Some(n) = number { (pages::number_box(v.lang, n)) }
                (pages::waiting(status_url, v.t(T::Waiting)))
                p.hint { (T::ExpiresIn.fill(v.lang, &[&super::when(v.lang, expires_at)])) }
            }
            ChallengeState::Denied => { (pages::error(v.t(T::PushDenied))) }
            ChallengeState::DeniedFraud => { (pages::error(v.t(T::PushDenied))) }
            ChallengeState::Expired => { (pages::error(v.t(T::PushExpired))) }
            ChallengeState::Failed => { (pages::error(v.t(T::PushFailed))) }
            ChallengeState::Cancelled => { (pages::error(v.t(T::PushCancelled))) }
            ChallengeState::Approved => {}
        }
        (actions)
    }
}

fn email_instead_button(v: &Visitor) -> Markup {
    html! {
        form method="post" action="/login/verify/email-instead" {
            (csrf(v)) button.link type="submit" { (v.t(T::UseEmailInstead)) }
        }
    }
}

/// All factors are done: close the attempt and open the session.
async fn finish_login(
    site: &SharedSite,
    v: &Visitor,
    hash: &[u8],
    attempt: &AttemptRow,
    customer: &CustomerRow,
) -> SiteResult<Response> {
    if !site.store.finish_attempt(hash, site.now(), None).await? {
        return Ok(attempt_ended(v, None));
    }
    let factors: Vec<&str> = [(attempt.push_done, "push"), (attempt.email_done, "email_code")]
        .into_iter()
        .filter_map(|(done, name)| done.then_some(name))
        .collect();
    let cookies =
        open_session(site, v, customer, &attempt.ip, &attempt.browser, &factors, attempt.challenge_id.as_deref())
            .await?;
    let mut res = see_other("/home");
    for c in cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res.headers_mut().append(header::SET_COOKIE, site.cookie(LOGIN_COOKIE, "", Some(0)));
    Ok(res)
}

/// A login is complete (password and second factor, or a passkey): opens the web session,
/// remembers this browser and network, audits, mails the login notice. `ip` is where the
/// login began. The cookies to set.
pub async fn open_session(
    site: &SharedSite,
    v: &Visitor,
    customer: &CustomerRow,
    ip: &str,
    browser: &str,
    factors: &[&str],
    challenge_id: Option<&str>,
) -> SiteResult<Vec<header::HeaderValue>> {
    let store = &site.store;
    let now = site.now();
    let session = crate::random_token(COOKIE_TOKEN_BYTES);
    let browser_token =
        v.cookie(BROWSER_COOKIE).map(str::to_owned).unwrap_or_else(|| crate::random_token(COOKIE_TOKEN_BYTES));
    let addr = ip.parse().unwrap_or(v.ip);
    let network = risk::network_of(addr);
    let located = site.geo.locate(addr);
    // The session and its audit row commit together.
    let mut succeeded = AuditEntry::of_account(
        now,
        AuditEvent::LoginSucceeded,
        &customer.account_id,
        json!({"ip": ip, "place": located.place, "country": located.country, "browser": browser, "factors": factors}),
    );
    succeeded.challenge_id = challenge_id;
    store
        .insert_web_session(
            &crate::sha256(session.as_bytes()),
            &customer.account_id,
            now,
            site.rule.first_expiry(now),
            succeeded,
        )
        .await?;
    store
        .remember_login_environment(
            &customer.account_id,
            &crate::sha256(browser_token.as_bytes()),
            &network,
            &located,
            now,
        )
        .await?;
    // The push cap counts pushes since the last successful login.
    site.verifier.report_login(&customer.account_id).await?;
    super::mail_later(site, super::notify::login_notice(customer, now, ip, &located.place, browser));
    Ok(vec![
        site.cookie(SESSION_COOKIE, &session, None),
        site.cookie(BROWSER_COOKIE, &browser_token, Some(site.limits().known_browser_cookie_days * 86_400)),
    ])
}

/// Long poll for the waiting page: `settled` once the challenge has left `pending`.
pub async fn verify_status(State(site): State<SharedSite>, v: Visitor) -> SiteResult<Json<serde_json::Value>> {
    let Ok((_, attempt, _)) = open_attempt(&site, &v).await? else { return Ok(Json(json!({"settled": true}))) };
    let settled = match &attempt.challenge_id {
        Some(id) => site.verifier.wait(id, super::WAIT_POLL_SECS).await?.state.is_final(),
        None => true,
    };
    Ok(Json(json!({"settled": settled})))
}

pub async fn verify_code(State(site): State<SharedSite>, v: Visitor, form: Form) -> SiteResult<Response> {
    let (hash, attempt, customer) = match open_attempt(&site, &v).await? {
        Ok(open) => open,
        Err(ended_by) => return Ok(attempt_ended(&v, ended_by)),
    };
    let typed = form.field("code", 16)?.trim();
    if !codes::well_formed(typed) {
        return Ok(see_other("/login/verify?m=malformed"));
    }
    let subject = attempt_subject(&hash);
    let store = &site.store;
    let outcome = codes::check(&site, &customer.account_id, &subject, typed).await?;
    if outcome == CodeCheck::Accepted {
        store.set_attempt_factor(&hash, AttemptFactor::Email, None).await?;
        return Ok(see_other("/login/verify"));
    }
    // The app's offline code stands in for the push; for a login that is not risky, for the
    // e-mailed code too. A risky login still needs the mail.
    let push_open = attempt.needs_push && !attempt.push_done;
    let offline_may_count = push_open || !is_risky(&attempt);
    if offline_may_count
        && matches!(outcome, CodeCheck::Wrong { .. } | CodeCheck::NoCode)
        && site.verifier.verify_code(&customer.account_id, typed).await?
    {
        let factor = if push_open { AttemptFactor::Push } else { AttemptFactor::Email };
        store.set_attempt_factor(&hash, factor, None).await?;
        if let Some(id) = attempt.challenge_id.as_deref().filter(|_| push_open) {
            // The offline code took the push's place: the device no longer needs to answer.
            site.verifier.cancel(id).await?;
        }
        return Ok(see_other("/login/verify"));
    }
    // Every wrong code counts toward the lock: an e-mailed code, and an offline code typed
    // when no e-mailed code was outstanding (the push step), so neither can be guessed freely.
    let guessed = match outcome {
        CodeCheck::Wrong { .. } | CodeCheck::TooManyAttempts => true,
        CodeCheck::NoCode => offline_may_count,
        CodeCheck::Expired | CodeCheck::Accepted => false,
    };
    if guessed && count_failure_from(&site, &customer, AuditEvent::LoginCodeWrong, &v).await? {
        return Ok(
            login_form(&site, &v, &customer.account_id, Some(pages::error(v.t(T::AccountLocked)))).into_response()
        );
    }
    if outcome == CodeCheck::NoCode && offline_may_count {
        return Ok(see_other("/login/verify?m=offline_wrong"));
    }
    Ok(see_other(&format!("/login/verify?m={}", code_message(outcome))))
}

/// The message key for a code that was not accepted.
pub fn code_message(outcome: CodeCheck) -> String {
    match outcome {
        CodeCheck::Wrong { attempts_left } => format!("wrong{attempts_left}"),
        CodeCheck::Expired | CodeCheck::NoCode => "expired".into(),
        CodeCheck::TooManyAttempts => "too_many".into(),
        CodeCheck::Accepted => String::new(),
    }
}

pub async fn resend_code(State(site): State<SharedSite>, v: Visitor, _form: Form) -> SiteResult<Response> {
    let (hash, _, customer) = match open_attempt(&site, &v).await? {
        Ok(open) => open,
        Err(ended_by) => return Ok(attempt_ended(&v, ended_by)),
    };
    let sent = codes::send(&site, &customer, "login", &attempt_subject(&hash)).await?;
    Ok(see_other(if sent { "/login/verify?m=sent" } else { "/login/verify?m=too_many" }))
}

/// "Use the e-mailed code instead": for a login that is not risky, the e-mailed code replaces
/// the push, and the push is withdrawn from the device (the login no longer waits for it). A
/// risky login needs both the code and the push (or the offline code in its place): refused.
pub async fn email_instead(State(site): State<SharedSite>, v: Visitor, _form: Form) -> SiteResult<Response> {
    let (hash, attempt, customer) = match open_attempt(&site, &v).await? {
        Ok(open) => open,
        Err(ended_by) => return Ok(attempt_ended(&v, ended_by)),
    };
    if is_risky(&attempt) && attempt.needs_push {
        return Ok(see_other("/login/verify?m=both_needed"));
    }
    let store = &site.store;
    if let Some(id) = &attempt.challenge_id {
        let state = site.verifier.cancel(id).await?.state;
        if state == ChallengeState::Approved {
            // The device approved just before: the push is done, nothing to switch.
            store.set_attempt_factor(&hash, AttemptFactor::Push, None).await?;
            return Ok(see_other("/login/verify"));
        }
        if ends_attempt(state) {
            return Ok(see_other("/login/verify"));
        }
    }
    let mut switched =
        AuditEntry::of_account(site.now(), AuditEvent::LoginSwitchedToEmailCode, &customer.account_id, json!({}));
    switched.challenge_id = attempt.challenge_id.as_deref();
    store.set_attempt_factor(&hash, AttemptFactor::SwitchToEmail, Some(switched)).await?;
    if !attempt.needs_email {
        codes::send(&site, &customer, "login", &attempt_subject(&hash)).await?;
    }
    Ok(see_other("/login/verify"))
}

pub async fn push_again(State(site): State<SharedSite>, v: Visitor, _form: Form) -> SiteResult<Response> {
    let (hash, attempt, _) = match open_attempt(&site, &v).await? {
        Ok(open) => open,
        Err(ended_by) => return Ok(attempt_ended(&v, ended_by)),
    };
    if let Some(id) = &attempt.challenge_id
        && site.verifier.challenge_status(id).await?.state == ChallengeState::Expired
    {
        site.store.set_attempt_challenge(&hash, None, None).await?;
    }
    Ok(see_other("/login/verify"))
}

pub async fn logout(State(site): State<SharedSite>, customer: Customer, _form: Form) -> SiteResult<Response> {
    let store = &site.store;
    let logout = AuditEntry::of_account(site.now(), AuditEvent::Logout, &customer.row.account_id, json!({}));
    store.delete_web_session(&customer.session_hash, logout).await?;
    let mut res = see_other("/login?out=1");
    res.headers_mut().append(header::SET_COOKIE, site.cookie(SESSION_COOKIE, "", Some(0)));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::same_site_path;

    #[test]
    fn only_paths_of_this_site_are_redirect_targets() {
        for ok in ["/", "/home", "/settings?m=password", "/%2F%2Fevil.example"] {
            assert_eq!(same_site_path(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "home",
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil",
            "/\r\nSet-Cookie: x=1",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            " /home",
            "/ho me",
            "/\u{7f}",
            "/ホーム",
            "/\u{0}",
        ] {
            assert_eq!(same_site_path(bad), None, "{bad:?}");
        }
    }
}
