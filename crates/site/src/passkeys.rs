//! Passkeys: the site as a WebAuthn relying party (`webauthn-rs`).
//!
//! - Register from security settings, only within [`crate::Limits::fresh_login_secs`] of
//!   a login (whose second factor is then fresh); user verification required; resident
//!   (discoverable) keys, so that login needs no account number.
//! - Log in with a passkey alone: one step, no password, no code. The browser (or the core's
//!   client) binds the assertion to this site's origin, which is what a phishing copy cannot
//!   fake; the risk check still runs and is recorded, but never asks a passkey for an e-mail code.
//! - Sign counters and backup flags are stored and checked: a counter that goes backwards
//!   means a cloned credential; the passkey is suspended, the customer told, the login refused.
//! - Ceremonies (the challenge sent out) live in the database, are single use (taken by
//!   `DELETE … RETURNING`) and expire, so a replayed response finds nothing to finish.
//!
//! The pages post form-encoded fields (CSRF token and `Origin` checked by [`Form`]) and get JSON.

use crate::audit::{AuditEntry, AuditEvent};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use webauthn_rs::prelude::{
    Passkey, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};
use webauthn_rs_proto::{AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationPolicy};

use super::i18n::T;
use super::passkey_db::{CeremonyOpened, NewCeremony, PasskeyRow};
use super::{Customer, Form, SharedSite, SiteResult, Visitor, mask_tail, see_other};

/// The relying party's name, as authenticators show it.
pub const RP_NAME: &str = "いんかん証券 / Inkan Securities";
/// Bytes of randomness in a ceremony token.
pub const CEREMONY_TOKEN_BYTES: usize = 32;
/// Longest passkey name, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 40;
/// Longest ceremony token field.
const MAX_CEREMONY_FIELD_CHARS: usize = 64;

/// The relying party for `public_origin`, or why there is none (WebAuthn needs a host name:
/// `http://127.0.0.1:…` cannot be a relying party, `http://localhost:…` can).
pub fn relying_party(public_origin: &str, ceremony_ttl_secs: i64) -> Result<Webauthn, String> {
    let origin = Url::parse(public_origin).map_err(|e| e.to_string())?;
    let Some(rp_id) = origin.domain() else {
        return Err(format!(
            "{public_origin} has no host name; passkeys need one (use http://localhost:PORT in development)"
        ));
    };
    let ttl = std::time::Duration::from_secs(u64::try_from(ceremony_ttl_secs).unwrap_or(300));
    WebauthnBuilder::new(rp_id, &origin)
        .and_then(|b| b.rp_name(RP_NAME).timeout(ttl).build())
        .map_err(|e| e.to_string())
}

/// Why a passkey step did not work, as the page (and the CLI) gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRefusal {
    Unavailable,
    LoginNotFresh,
    TooMany,
    Busy,
    /// This client has opened its share of ceremonies (a flood from one place).
    TooManyFromClient,
    CeremonyExpired,
    Malformed,
    Rejected,
    Unknown,
    Suspended,
    AlreadyRegistered,
    AccountLocked,
    WithdrawalChanged,
}

impl PasskeyRefusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::Unavailable => "passkeys_unavailable",
            Self::LoginNotFresh => "login_not_fresh",
            Self::TooMany => "too_many_passkeys",
            Self::Busy => "busy",
            Self::TooManyFromClient => "too_many_ceremonies",
            Self::CeremonyExpired => "ceremony_expired",
            Self::Malformed => "malformed_response",
            Self::Rejected => "passkey_rejected",
            Self::Unknown => "unknown_passkey",
            Self::Suspended => "passkey_suspended",
            Self::AlreadyRegistered => "already_registered",
            Self::AccountLocked => "account_locked",
            Self::WithdrawalChanged => "withdrawal_changed",
        }
    }

    fn text(self) -> T {
        match self {
            Self::Unavailable => T::PasskeyUnavailable,
            Self::LoginNotFresh => T::PasskeyNotFresh,
            Self::TooMany => T::PasskeyTooMany,
            Self::Busy => T::PasskeyBusy,
            Self::TooManyFromClient => T::PasskeyTooManyFromClient,
            Self::CeremonyExpired => T::PasskeyCeremonyExpired,
            Self::Malformed | Self::Rejected => T::PasskeyRejected,
            Self::Unknown => T::PasskeyUnknown,
            Self::Suspended => T::PasskeySuspendedError,
            Self::AlreadyRegistered => T::PasskeyAlreadyRegistered,
            Self::AccountLocked => T::AccountLocked,
            Self::WithdrawalChanged => T::WithdrawChanged,
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::Unavailable | Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyFromClient => StatusCode::TOO_MANY_REQUESTS,
            Self::Malformed => StatusCode::BAD_REQUEST,
            Self::LoginNotFresh | Self::Suspended | Self::AccountLocked => StatusCode::FORBIDDEN,
            Self::WithdrawalChanged => StatusCode::CONFLICT,
            Self::TooMany | Self::AlreadyRegistered => StatusCode::CONFLICT,
            Self::CeremonyExpired | Self::Rejected | Self::Unknown => StatusCode::UNAUTHORIZED,
        }
    }

    pub(super) fn respond(self, v: &Visitor) -> Response {
        (self.status(), Json(json!({"error": self.code(), "message": v.t(self.text())}))).into_response()
    }
}

/// Opens a ceremony holding `state` for the visitor; its token for the page, or the refusal
/// (this client has its share open, or the server is full).
pub(super) async fn open_ceremony(
    site: &SharedSite,
    v: &Visitor,
    kind: &str,
    account_id: Option<&str>,
    state: &impl serde::Serialize,
) -> SiteResult<Result<String, PasskeyRefusal>> {
    let token = crate::random_token(CEREMONY_TOKEN_BYTES);
    let state = serde_json::to_string(state).map_err(anyhow::Error::from)?;
    let now = site.now();
    let limits = site.limits();
    // Counted by the same client key as the rate limits (an IPv6 client by its /64).
    let client = inkan_kit::ratelimit::client_key(v.ip).to_string();
    let opened = site
        .store
        .insert_ceremony(
            NewCeremony {
                token_hash: &crate::sha256(token.as_bytes()),
                kind,
                account_id,
                state: &state,
                expires_at: now + limits.passkey_ceremony_ttl_secs,
                client: &client,
            },
            now,
            limits.max_open_passkey_ceremonies,
            limits.max_passkey_ceremonies_per_client,
        )
        .await?;
    Ok(match opened {
        CeremonyOpened::Opened => Ok(token),
        CeremonyOpened::ServerFull => Err(PasskeyRefusal::Busy),
        CeremonyOpened::ClientFull => {
            site.passkey_ceremonies_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(PasskeyRefusal::TooManyFromClient)
        }
    })
}

/// Takes the ceremony the form names, if it is open and of this kind: `(account, state)`.
pub(super) async fn take_ceremony<S: serde::de::DeserializeOwned>(
    site: &SharedSite,
    form: &Form,
    kind: &str,
) -> SiteResult<Option<(Option<String>, S)>> {
    let token = form.field("ceremony", MAX_CEREMONY_FIELD_CHARS)?;
    let Some(row) = site.store.take_ceremony(&crate::sha256(token.as_bytes()), kind).await? else {
        return Ok(None);
    };
    if site.now() >= row.expires_at {
        return Ok(None);
    }
    let state = serde_json::from_str(&row.state).map_err(anyhow::Error::from)?;
    Ok(Some((row.account_id, state)))
}

/// The counter and backup flags webauthn-rs keeps inside a serialised passkey.
fn passkey_row(cred_id: String, account_id: &str, name: &str, passkey: &Passkey, now: i64) -> SiteResult<PasskeyRow> {
    let credential = serde_json::to_value(passkey).map_err(anyhow::Error::from)?;
    let inner = &credential["cred"];
    Ok(PasskeyRow {
        cred_id,
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        sign_count: inner["counter"].as_i64().unwrap_or(0),
        backup_eligible: inner["backup_eligible"].as_bool().unwrap_or(false),
        backup_state: inner["backup_state"].as_bool().unwrap_or(false),
        credential: credential.to_string(),
        created_at: now,
        last_used_at: None,
        suspended_at: None,
    })
}

// ---- registration ----------------------------------------------------------------------

pub async fn register_start(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    _form: Form,
) -> SiteResult<Response> {
    let Some(wa) = site.webauthn.as_ref() else { return Ok(PasskeyRefusal::Unavailable.respond(&v)) };
    let store = &site.store;
    if !c.login_is_fresh(&site).await? {
        return Ok(PasskeyRefusal::LoginNotFresh.respond(&v));
    }
    let existing = store.passkeys(&c.row.account_id).await?;
    if i64::try_from(existing.len()).unwrap_or(i64::MAX) >= site.limits().max_passkeys_per_customer {
        return Ok(PasskeyRefusal::TooMany.respond(&v));
    }
    let handle = store.webauthn_user_handle(&c.row.account_id, &Uuid::new_v4().to_string()).await?;
    let user = Uuid::parse_str(&handle).map_err(anyhow::Error::from)?;
    let exclude = existing
        .iter()
        .filter_map(|p| serde_json::from_str::<Passkey>(&p.credential).ok())
        .map(|p| p.cred_id().clone())
        .collect();
    // What the authenticator shows in its account picker: the brand and the masked account.
    let label = format!("{} {}", T::Brand.get(super::i18n::Lang::Ja), mask_tail(&c.row.account_id));
    let (mut options, state) = wa
        .start_passkey_registration(user, &label, &label, Some(exclude))
        .map_err(|e| anyhow::anyhow!("starting passkey registration: {e}"))?;
    // Discoverable, so that login needs nothing typed; user verification required.
    options.public_key.authenticator_selection = Some(AuthenticatorSelectionCriteria {
        authenticator_attachment: None,
        resident_key: Some(ResidentKeyRequirement::Required),
        require_resident_key: true,
        user_verification: UserVerificationPolicy::Required,
    });
    let token = match open_ceremony(&site, &v, "register", Some(&c.row.account_id), &state).await? {
        Ok(token) => token,
        Err(refusal) => return Ok(refusal.respond(&v)),
    };
    Ok(Json(json!({"ceremony": token, "options": options})).into_response())
}

pub async fn register_finish(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    form: Form,
) -> SiteResult<Response> {
    let Some(wa) = site.webauthn.as_ref() else { return Ok(PasskeyRefusal::Unavailable.respond(&v)) };
    let response = form.field("credential", site.limits().max_webauthn_response_chars)?;
    let name = form.text_field("name", MAX_PASSKEY_NAME_CHARS)?;
    let name = if name.is_empty() { T::PasskeyDefaultName.get(v.lang) } else { name };
    let Some((account, state)) = take_ceremony::<PasskeyRegistration>(&site, &form, "register").await? else {
        return Ok(PasskeyRefusal::CeremonyExpired.respond(&v));
    };
    if account.as_deref() != Some(c.row.account_id.as_str()) {
        return Ok(PasskeyRefusal::CeremonyExpired.respond(&v));
    }
    let Ok(credential) = serde_json::from_str::<RegisterPublicKeyCredential>(response) else {
        return Ok(PasskeyRefusal::Malformed.respond(&v));
    };
    let store = &site.store;
    let now = site.now();
    let passkey = match wa.finish_passkey_registration(&credential, &state) {
        Ok(p) => p,
        Err(e) => {
            store
                .audit(
                    now,
                    AuditEvent::PasskeyRegisterRefused,
                    Some(&c.row.account_id),
                    None,
                    None,
                    json!({"reason": e.to_string(), "ip": v.ip.to_string()}),
                )
                .await?;
            return Ok(PasskeyRefusal::Rejected.respond(&v));
        }
    };
    let cred_id = inkan_protocol::keys::b64(passkey.cred_id().as_ref());
    if store.passkey(&cred_id).await?.is_some() {
        return Ok(PasskeyRefusal::AlreadyRegistered.respond(&v));
    }
    let row = passkey_row(cred_id.clone(), &c.row.account_id, name, &passkey, now)?;
    let registered = AuditEntry::of_account(
        now,
        AuditEvent::PasskeyRegistered,
        &c.row.account_id,
        json!({"passkey": short_id(&cred_id), "name": name, "backup_eligible": row.backup_eligible, "ip": v.ip.to_string()}),
    );
    store.insert_passkey(&row, registered).await?;
    super::mail_later(&site, super::notify::passkey_added(&c.row, name, now));
    Ok(Json(json!({"ok": true, "next": "/settings?m=passkey_added"})).into_response())
}

/// A credential id shortened for logs and audit (enough to tell passkeys apart).
pub fn short_id(cred_id: &str) -> String {
    cred_id.chars().take(8).collect()
}

pub async fn remove(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    Path(cred_id): Path<String>,
    form: Form,
) -> SiteResult<Response> {
    if !c.login_is_fresh(&site).await? {
        return Ok(super::fresh_login_needed(&site, &v, &c));
    }
    let store = &site.store;
    let Some(known) = store.passkeys(&c.row.account_id).await?.into_iter().find(|p| p.cred_id == cred_id) else {
        return Err(super::SiteError::NotFound);
    };
    if c.authenticator_count(&site).await? <= 1 && form.field("confirm", 1)? != "1" {
        return Ok(super::confirm_last_authenticator(&v, &c, &format!("/settings/passkeys/{cred_id}/remove")));
    }
    let now = site.now();
    let removed = AuditEntry::of_account(
        now,
        AuditEvent::PasskeyRemoved,
        &c.row.account_id,
        json!({"passkey": short_id(&cred_id), "name": known.name}),
    );
    let Some(name) = store.delete_passkey(&c.row.account_id, &cred_id, removed).await? else {
        return Err(super::SiteError::NotFound);
    };
    super::mail_later(&site, super::notify::passkey_removed(&c.row, &name, now));
    Ok(see_other("/settings?m=passkey_removed"))
}

// ---- login -------------------------------------------------------------------------------

pub async fn login_start(State(site): State<SharedSite>, v: Visitor, _form: Form) -> SiteResult<Response> {
    let Some(wa) = site.webauthn.as_ref() else { return Ok(PasskeyRefusal::Unavailable.respond(&v)) };
    if !site.unauthenticated.allow(v.ip, site.now()) {
        return Ok(PasskeyRefusal::TooManyFromClient.respond(&v));
    }
    let (mut options, state) =
        wa.start_discoverable_authentication().map_err(|e| anyhow::anyhow!("starting passkey login: {e}"))?;
    // A button press, not the browser's autofill.
    options.mediation = None;
    let token = match open_ceremony(&site, &v, "login", None, &state).await? {
        Ok(token) => token,
        Err(refusal) => return Ok(refusal.respond(&v)),
    };
    Ok(Json(json!({"ceremony": token, "options": options})).into_response())
}

pub async fn login_finish(State(site): State<SharedSite>, v: Visitor, form: Form) -> SiteResult<Response> {
    let Some(wa) = site.webauthn.as_ref() else { return Ok(PasskeyRefusal::Unavailable.respond(&v)) };
    let response = form.field("credential", site.limits().max_webauthn_response_chars)?;
    let Some((_, state)) = take_ceremony(&site, &form, "login").await? else {
        return Ok(PasskeyRefusal::CeremonyExpired.respond(&v));
    };
    let Ok(credential) = serde_json::from_str::<PublicKeyCredential>(response) else {
        return Ok(PasskeyRefusal::Malformed.respond(&v));
    };
    let store = &site.store;
    let now = site.now();
    let ip = v.ip.to_string();
    let Ok((user, raw_id)) = wa.identify_discoverable_authentication(&credential) else {
        return Ok(PasskeyRefusal::Malformed.respond(&v));
    };
    let cred_id = inkan_protocol::keys::b64(raw_id);
    let account = store.account_of_user_handle(&user.to_string()).await?;
    let row = store.passkey(&cred_id).await?.filter(|p| Some(&p.account_id) == account.as_ref());
    let Some(row) = row else {
        store
            .audit(
                now,
                AuditEvent::PasskeyLoginUnknown,
                None,
                None,
                None,
                json!({"passkey": short_id(&cred_id), "ip": ip}),
            )
            .await?;
        return Ok(PasskeyRefusal::Unknown.respond(&v));
    };
    let Some(customer) = store.customer(&row.account_id).await? else {
        return Ok(PasskeyRefusal::Unknown.respond(&v));
    };
    if customer.locked_at.is_some() {
        store
            .audit(
                now,
                AuditEvent::LoginRefusedLocked,
                Some(&row.account_id),
                None,
                None,
                json!({"ip": ip, "factor": "passkey"}),
            )
            .await?;
        return Ok(PasskeyRefusal::AccountLocked.respond(&v));
    }
    let passkey: Passkey = serde_json::from_str(&row.credential).map_err(anyhow::Error::from)?;
    let result = wa.finish_discoverable_authentication_v2(&credential, state, &passkey);
    if let Err(refusal) = accept_assertion(&site, &customer, &row, passkey, result, &ip).await? {
        return Ok(refusal.respond(&v));
    }
    let browser = super::risk::browser_of(&v.user_agent);
    let factors = ["passkey"];
    let cookies = super::login::open_session(&site, &v, &customer, &ip, &browser, &factors, None).await?;
    let mut res = Json(json!({"ok": true, "next": "/home"})).into_response();
    for c in cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// Checks the outcome of a passkey assertion for `row` (the customer's, not suspended): user
/// verification, the counter (a copy suspends the passkey, mails and counts), then stores the
/// new counter and flags. A refusal counts toward the account lock.
pub(super) async fn accept_assertion(
    site: &SharedSite,
    customer: &super::db::CustomerRow,
    row: &PasskeyRow,
    mut passkey: Passkey,
    result: Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
    ip: &str,
) -> SiteResult<Result<(), PasskeyRefusal>> {
    let store = &site.store;
    let now = site.now();
    let short = short_id(&row.cred_id);
    if row.suspended_at.is_some() {
        store
            .audit(
                now,
                AuditEvent::PasskeyLoginRefusedSuspended,
                Some(&row.account_id),
                None,
                None,
                json!({"passkey": short, "ip": ip}),
            )
            .await?;
        return Ok(Err(PasskeyRefusal::Suspended));
    }
    let refuse = |reason: String| async move {
        super::login::count_factor_failure(
            site,
            customer,
            AuditEvent::PasskeyLoginRefused,
            json!({"passkey": short_id(&row.cred_id), "reason": reason, "ip": ip}),
        )
        .await
    };
    let result = match result {
        Ok(result) if result.user_verified() => result,
        Ok(_) => {
            refuse("user not verified".into()).await?;
            return Ok(Err(PasskeyRefusal::Rejected));
        }
        Err(WebauthnError::CredentialPossibleCompromise) => {
            // The counter did not go up: a copy of this credential has been used elsewhere.
            let suspected = AuditEntry::of_account(
                now,
                AuditEvent::PasskeyCloneSuspected,
                &row.account_id,
                json!({"passkey": short, "name": row.name, "stored_count": row.sign_count, "ip": ip}),
            );
            store.suspend_passkey(&row.cred_id, now, suspected).await?;
            super::mail_later(site, super::notify::passkey_suspended(customer, &row.name, now));
            refuse("cloned".into()).await?;
            return Ok(Err(PasskeyRefusal::Suspended));
        }
        Err(e) => {
            refuse(e.to_string()).await?;
            return Ok(Err(PasskeyRefusal::Rejected));
        }
    };
    passkey.update_credential(&result);
    let mut updated = passkey_row(row.cred_id.clone(), &row.account_id, &row.name, &passkey, now)?;
    updated.sign_count = i64::from(result.counter());
    updated.backup_eligible = result.backup_eligible();
    updated.backup_state = result.backup_state();
    if !store.use_passkey(&row.cred_id, row.sign_count, &updated, now).await? {
        // Another use of this credential won the race.
        return Ok(Err(PasskeyRefusal::Rejected));
    }
    Ok(Ok(()))
}

// ---- withdrawals -------------------------------------------------------------------------

/// What a withdrawal's passkey assertion is bound to: SHA-256 over its id, amount and full
/// destination (base64url). Any change in between gives another binding.
pub fn withdrawal_binding(w: &super::db::WithdrawalRow, b: &super::db::BankAccountRow) -> String {
    let text = format!(
        "inkan/withdrawal/v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
        w.id, w.amount, b.id, b.bank, b.branch, b.number, b.holder
    );
    inkan_protocol::keys::b64(&crate::sha256(text.as_bytes()))
}

/// A passkey check bound to something the customer is doing (a withdrawal, a destination
/// change): the assertion request, what it is for, and the binding it was started with.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct BoundCeremony {
    auth: webauthn_rs::prelude::PasskeyAuthentication,
    subject: String,
    pub binding: String,
}

/// Starts a passkey check of `kind` for `subject`, bound to `binding`, with the customer's
/// usable passkeys allowed; the page's JSON (or the refusal).
pub(super) async fn start_bound(
    site: &SharedSite,
    v: &Visitor,
    c: &Customer,
    kind: &str,
    subject: &str,
    binding: String,
) -> SiteResult<Response> {
    let Some(wa) = site.webauthn.as_ref() else { return Ok(PasskeyRefusal::Unavailable.respond(v)) };
    let keys: Vec<Passkey> = usable_passkeys(site, &c.row.account_id).await?.into_iter().map(|(_, k)| k).collect();
    if keys.is_empty() {
        return Ok(PasskeyRefusal::Unknown.respond(v));
    }
    let (options, auth) =
        wa.start_passkey_authentication(&keys).map_err(|e| anyhow::anyhow!("starting a {kind} passkey check: {e}"))?;
    let state = BoundCeremony { auth, subject: subject.to_owned(), binding };
    let token = match open_ceremony(site, v, kind, Some(&c.row.account_id), &state).await? {
        Ok(token) => token,
        Err(refusal) => return Ok(refusal.respond(v)),
    };
    Ok(Json(json!({"ceremony": token, "options": options})).into_response())
}

/// Takes the form's ceremony of `kind`: it must be this customer's and for `subject`. The
/// ceremony and the parsed answer, or the refusal to send.
pub(super) async fn take_bound(
    site: &SharedSite,
    v: &Visitor,
    c: &Customer,
    kind: &str,
    subject: &str,
    form: &Form,
) -> SiteResult<Result<(BoundCeremony, PublicKeyCredential), Response>> {
    if site.webauthn.is_none() {
        return Ok(Err(PasskeyRefusal::Unavailable.respond(v)));
    }
    let response = form.field("credential", site.limits().max_webauthn_response_chars)?;
    let Some((account, state)) = take_ceremony::<BoundCeremony>(site, form, kind).await? else {
        return Ok(Err(PasskeyRefusal::CeremonyExpired.respond(v)));
    };
    if account.as_deref() != Some(c.row.account_id.as_str()) || state.subject != subject {
        return Ok(Err(PasskeyRefusal::CeremonyExpired.respond(v)));
    }
    let Ok(credential) = serde_json::from_str::<PublicKeyCredential>(response) else {
        return Ok(Err(PasskeyRefusal::Malformed.respond(v)));
    };
    Ok(Ok((state, credential)))
}

/// Verifies a bound ceremony's answer with the customer's passkey (see [`accept_assertion`]);
/// the short id of the passkey used, or the refusal to send.
pub(super) async fn verify_bound(
    site: &SharedSite,
    v: &Visitor,
    c: &Customer,
    state: &BoundCeremony,
    credential: &PublicKeyCredential,
) -> SiteResult<Result<String, Response>> {
    let Some(wa) = site.webauthn.as_ref() else { return Ok(Err(PasskeyRefusal::Unavailable.respond(v))) };
    let cred_id = inkan_protocol::keys::b64(credential.get_credential_id());
    let Some((row, passkey)) =
        usable_passkeys(site, &c.row.account_id).await?.into_iter().find(|(p, _)| p.cred_id == cred_id)
    else {
        return Ok(Err(PasskeyRefusal::Unknown.respond(v)));
    };
    let result = wa.finish_passkey_authentication(credential, &state.auth);
    if let Err(refusal) = accept_assertion(site, &c.row, &row, passkey, result, &v.ip.to_string()).await? {
        return Ok(Err(refusal.respond(v)));
    }
    Ok(Ok(short_id(&cred_id)))
}

/// The customer's usable passkeys.
pub(super) async fn usable_passkeys(site: &SharedSite, account_id: &str) -> SiteResult<Vec<(PasskeyRow, Passkey)>> {
    Ok(site
        .store
        .passkeys(account_id)
        .await?
        .into_iter()
        .filter(|p| p.suspended_at.is_none())
        .filter_map(|p| serde_json::from_str(&p.credential).ok().map(|k| (p, k)))
        .collect())
}

/// Whether this customer confirms withdrawals with a passkey (the primary path).
pub async fn withdrawals_use_passkeys(site: &SharedSite, account_id: &str) -> SiteResult<bool> {
    Ok(site.webauthn.is_some() && !usable_passkeys(site, account_id).await?.is_empty())
}

pub async fn withdraw_start(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    Path(id): Path<String>,
    _form: Form,
) -> SiteResult<Response> {
    let (w, bank) = super::customers::withdrawal_of(&site, &c, &id).await?;
    if w.state != super::db::WithdrawalState::AwaitingPasskey {
        return Ok(PasskeyRefusal::CeremonyExpired.respond(&v));
    }
    start_bound(&site, &v, &c, "withdrawal", &w.id, withdrawal_binding(&w, &bank)).await
}

pub async fn withdraw_finish(
    State(site): State<SharedSite>,
    v: Visitor,
    c: Customer,
    Path(id): Path<String>,
    form: Form,
) -> SiteResult<Response> {
    let (state, credential) = match take_bound(&site, &v, &c, "withdrawal", &id, &form).await? {
        Ok(taken) => taken,
        Err(refusal) => return Ok(refusal),
    };
    let (w, bank) = super::customers::withdrawal_of(&site, &c, &id).await?;
    let store = &site.store;
    let stored = store.withdrawal_binding(&w.id).await?.map(|b| b.0);
    let now_binding = withdrawal_binding(&w, &bank);
    let still_active = store.bank_accounts(&c.row.account_id).await?.iter().any(|b| b.id == bank.id);
    if w.state != super::db::WithdrawalState::AwaitingPasskey
        || !still_active
        || !constant_eq(&state.binding, &now_binding)
        || stored.as_deref().is_none_or(|s| !constant_eq(s, &now_binding))
    {
        // Amount or destination changed since the page asked (or the step is over).
        super::customers::refuse_withdrawal(&site, &w, "changed_before_passkey").await?;
        return Ok(PasskeyRefusal::WithdrawalChanged.respond(&v));
    }
    let passkey = match verify_bound(&site, &v, &c, &state, &credential).await? {
        Ok(passkey) => passkey,
        Err(refusal) => return Ok(refusal),
    };
    let confirmed = AuditEntry::of_account(
        site.now(),
        AuditEvent::WithdrawalPasskeyConfirmed,
        &c.row.account_id,
        json!({"withdrawal_id": w.id, "passkey": passkey, "ip": v.ip.to_string()}),
    );
    if !store.passkey_confirmed_withdrawal(&w.id, site.now(), confirmed).await? {
        return Ok(PasskeyRefusal::CeremonyExpired.respond(&v));
    }
    super::customers::after_passkey(&site, &c.row, &w, &bank).await?;
    Ok(Json(json!({"ok": true, "next": format!("/withdraw/{}", w.id)})).into_response())
}

pub(super) fn constant_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The settings section: the customer's passkeys and the button that adds one.
pub fn settings_section(v: &Visitor, site: &SharedSite, passkeys: &[PasskeyRow]) -> maud::Markup {
    use maud::html;
    let csrf = super::pages::csrf(v);
    html! {
        h2 { (v.t(T::Passkeys)) }
        p.hint { (v.t(T::PasskeyLead)) }
        @if passkeys.is_empty() {
            p { (v.t(T::PasskeyNone)) }
        } @else {
            table #passkeys {
                tr { th { (v.t(T::PasskeyName)) } th { (v.t(T::PasskeyKind)) } th { (v.t(T::EnrolledAt)) } th { (v.t(T::LastUsed)) } th {} }
                @for p in passkeys {
                    tr data-passkey=(p.cred_id) {
                        td { (p.name) @if p.suspended_at.is_some() { " " strong.warn { (v.t(T::PasskeySuspendedBadge)) } } }
                        td { (v.t(if p.backup_eligible { T::PasskeySynced } else { T::PasskeyDeviceBound })) }
                        td { (super::when(v.lang, p.created_at)) }
                        td { @match p.last_used_at { Some(t) => (super::when(v.lang, t)), None => (v.t(T::Never)) } }
                        td { form method="post" action={ "/settings/passkeys/" (p.cred_id) "/remove" } { (csrf) button.secondary type="submit" { (v.t(T::Revoke)) } } }
                    }
                }
            }
        }
        @if site.webauthn.is_some() {
            form data-passkey-register data-msg-unsupported=(v.t(T::PasskeyUnsupported)) data-msg-cancelled=(v.t(T::PasskeyCancelled)) {
                (csrf)
                label for="passkey_name" { (v.t(T::PasskeyName)) }
                input #passkey_name name="name" maxlength=(MAX_PASSKEY_NAME_CHARS) placeholder=(v.t(T::PasskeyDefaultName));
                button type="submit" { (v.t(T::PasskeyAdd)) }
                p.passkey-status role="status" aria-live="polite" {}
            }
        } @else {
            p.hint { (v.t(T::PasskeyUnavailable)) }
        }
    }
}

/// The login page's passkey button.
pub fn login_section(v: &Visitor, site: &SharedSite) -> maud::Markup {
    use maud::html;
    html! {
        @if site.webauthn.is_some() {
            form data-passkey-login data-start-url="/login/passkey/start" data-finish-url="/login/passkey/finish" data-msg-unsupported=(v.t(T::PasskeyUnsupported)) data-msg-cancelled=(v.t(T::PasskeyCancelled)) {
                (super::pages::csrf(v))
                button type="submit" { (v.t(T::PasskeyLogin)) }
                p.hint { (v.t(T::PasskeyLoginLead)) }
                p.passkey-status role="status" aria-live="polite" {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relying_party_needs_a_host_name() {
        assert!(relying_party("http://localhost:8080", 300).is_ok());
        assert!(relying_party("https://inkan.example", 300).is_ok());
        let err = relying_party("http://127.0.0.1:8080", 300).unwrap_err();
        assert!(err.contains("localhost"), "{err}");
    }

    #[test]
    fn every_refusal_has_a_distinct_code() {
        use PasskeyRefusal::*;
        let all = [
            Unavailable,
            LoginNotFresh,
            TooMany,
            Busy,
            TooManyFromClient,
            CeremonyExpired,
            Malformed,
            Rejected,
            Unknown,
            Suspended,
            AlreadyRegistered,
            AccountLocked,
            WithdrawalChanged,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), all.len());
    }
}
