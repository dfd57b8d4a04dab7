//! HTTP routes: the device API (`/v1/device/...`), the relying-party API (`/v1/rp/...`,
//! API key) and health. Handlers are one-liners into [`crate::service::Service`]; errors
//! become responses only in [`crate::error::ApiError`]'s `IntoResponse`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use inkan_protocol::{
    CreateChallengeRequest, CreateTicketRequest, DecisionSubmission, EnrollRequest, PushEvent, SessionRequest,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio_stream::wrappers::BroadcastStream;

use crate::error::{ApiError, ApiResult};
use crate::hub::HubEvent;
use crate::service::{AuthedDevice, SharedService};

pub fn router(service: SharedService) -> Router {
    let limit = service.settings.limits.max_body_bytes;
    Router::new()
        // Liveness: the process answers. Readiness: it can also read and write its database.
        .route("/healthz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/server-key", get(server_key))
        .route("/v1/device/enroll", post(enroll))
        .route("/v1/device/nonce", post(nonce))
        .route("/v1/device/session", post(session))
        .route("/v1/device/challenges", get(pending))
        .route("/v1/device/challenges/{id}/decision", post(decide))
        .route("/v1/device/events", get(events))
        .route("/v1/rp/enrollment-tickets", post(create_ticket))
        .route("/v1/rp/enrollment-tickets/{id}", get(ticket_status))
        .route("/v1/rp/events", get(rp_events))
        .route("/v1/rp/accounts/{account}/logins", post(login_reported))
        .route("/v1/rp/challenges", post(create_challenge))
        .route("/v1/rp/challenges/{id}", get(challenge_status))
        .route("/v1/rp/challenges/{id}/wait", get(wait_challenge))
        .route("/v1/rp/challenges/{id}/cancel", post(cancel_challenge))
        .route("/v1/rp/accounts/{account}", get(account_state))
        .route("/v1/rp/accounts/{account}/devices", get(list_devices))
        .route("/v1/rp/accounts/{account}/devices/{device}/revoke", post(revoke_device))
        .route("/v1/rp/accounts/{account}/unblock", post(unblock))
        .route("/v1/rp/accounts/{account}/verify-code", post(verify_code))
        .route("/v1/rp/accounts/{account}/audit", get(audit))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(service)
}

/// `Json` whose rejections (malformed, oversized) become [`ApiError`]s with stable codes.
pub struct ApiJson<T>(pub T);

impl<T> FromRequest<SharedService> for ApiJson<T>
where
    Json<T>: FromRequest<SharedService, Rejection = JsonRejection>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, service: &SharedService) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, service).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::BodyTooLarge(service.settings.limits.max_body_bytes))
            }
            // Valid JSON whose values do not fit (a key that is not a curve point, a signature
            // that does not decode, a missing or unknown field): 422, as HTTP has it.
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::InvalidRequest(e.body_text())),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is matched without
/// regard to case, as HTTP says (RFC 9110, 11.1); one or more spaces may follow it.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `Path` whose rejections (a segment that is not UTF-8, a wrong shape) become [`ApiError`]s
/// with a JSON body and a stable code, like every other error.
pub struct ApiPath<T>(pub T);

impl<T> FromRequestParts<SharedService> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &SharedService) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, service).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// `Query` whose rejections (`timeout=-1`, a value that is not a number) become [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<T> FromRequestParts<SharedService> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &SharedService) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, service).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// A device authenticated by its session token.
pub struct Device(pub AuthedDevice);

impl FromRequestParts<SharedService> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &SharedService) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        Ok(Device(service.authenticate(token).await?))
    }
}

/// A device authenticated by its session token, with the session's expiry.
pub struct DeviceSession(pub AuthedDevice, pub i64, pub Vec<u8>);

impl FromRequestParts<SharedService> for DeviceSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &SharedService) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let (device, expires_at, hash) = service.authenticate_session(token).await?;
        Ok(DeviceSession(device, expires_at, hash))
    }
}

/// The relying party (the brokerage's web backend), authenticated by the API key. A client
/// that sent too many wrong keys this minute is refused (429) before its key is looked at.
pub struct RelyingParty;

impl FromRequestParts<SharedService> for RelyingParty {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &SharedService) -> Result<Self, ApiError> {
        let ip = crate::client_ip(parts, service.settings.trust_x_forwarded_for);
        let now = service.now();
        if service.wrong_api_keys.blocked(ip, now) {
            service.metrics.limited(crate::metrics::Limited::WrongApiKey);
            return Err(ApiError::RateLimited);
        }
        let given = bearer(parts).unwrap_or("");
        // Hash both sides so the comparison is constant-time whatever the lengths.
        let want = Sha256::digest(service.settings.rp_api_key.expose().as_bytes());
        let got = Sha256::digest(given.as_bytes());
        if bool::from(want.ct_eq(&got)) {
            return Ok(RelyingParty);
        }
        service.wrong_api_keys.allow(ip, now);
        Err(ApiError::Unauthorized)
    }
}

/// A request to a path anyone may call before proving anything (device nonce, enrollment,
/// session opening): counted per client, refused with 429 `rate_limited` past the limit.
pub struct Unauthenticated;

impl FromRequestParts<SharedService> for Unauthenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &SharedService) -> Result<Self, ApiError> {
        let ip = crate::client_ip(parts, service.settings.trust_x_forwarded_for);
        if service.unauthenticated.allow(ip, service.now()) {
            return Ok(Unauthenticated);
        }
        service.metrics.limited(crate::metrics::Limited::Unauthenticated);
        Err(ApiError::RateLimited)
    }
}

/// `200 ready`, or 503 `database_unavailable` while the database cannot be read or written
/// (a load balancer then sends traffic elsewhere; liveness stays up, nothing restarts).
async fn ready(State(s): State<SharedService>) -> ApiResult<&'static str> {
    s.store.check_ready(s.now()).await?;
    Ok("ready")
}

/// Prometheus text format (see [`crate::metrics`]).
async fn metrics(State(s): State<SharedService>) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], s.metrics.render(&s.connections))
}

/// The OpenAPI description of both APIs (`crates/server/openapi.json`).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

async fn openapi() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

async fn server_key(State(s): State<SharedService>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"public_key": s.server_public_key(), "fingerprint": s.server_public_key().fingerprint()}))
}

async fn enroll(
    State(s): State<SharedService>,
    _: Unauthenticated,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<Json<inkan_protocol::EnrollResponse>> {
    Ok(Json(s.enroll(req).await?))
}

async fn nonce(State(s): State<SharedService>, _: Unauthenticated) -> ApiResult<Json<inkan_protocol::NonceResponse>> {
    Ok(Json(s.issue_nonce().await?))
}

async fn session(
    State(s): State<SharedService>,
    _: Unauthenticated,
    ApiJson(req): ApiJson<SessionRequest>,
) -> ApiResult<Json<inkan_protocol::SessionResponse>> {
    Ok(Json(s.open_session(req).await?))
}

async fn pending(
    State(s): State<SharedService>,
    Device(d): Device,
) -> ApiResult<Json<Vec<inkan_protocol::SignedChallenge>>> {
    Ok(Json(s.pending_for(&d).await?))
}

async fn decide(
    State(s): State<SharedService>,
    Device(d): Device,
    ApiPath(id): ApiPath<String>,
    ApiJson(sub): ApiJson<DecisionSubmission>,
) -> ApiResult<Json<inkan_protocol::DecisionOutcome>> {
    Ok(Json(s.decide(&d, &id, sub).await?))
}

fn sse_event(event: &PushEvent) -> Event {
    let name = match event {
        PushEvent::Challenge(_) => "challenge",
        PushEvent::Resolved(_) => "resolved",
    };
    Event::default().event(name).json_data(event).unwrap_or_else(|_| Event::default().comment("unencodable"))
}

/// The live push channel: the account's pending challenges first, then every new one. It
/// ends when the device session expires (checked before every event, and by a timer for an
/// idle channel), when the device is revoked, or when the server stops: nothing is delivered
/// on a session that is over; the device opens a new session and reconnects.
async fn events(
    State(s): State<SharedService>,
    DeviceSession(d, session_expires_at, session_hash): DeviceSession,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // A device needs one channel per session; a few more cover a reconnect racing the old one.
    let Some(channel_slot) = s.channels.take(session_hash, s.settings.limits.max_channels_per_session) else {
        return Err(ApiError::RateLimited);
    };
    let rx = s.hub.subscribe(&d.account_id);
    let pending = s.pending_for(&d).await?;
    for c in &pending {
        s.hub.mark_pushed(&c.challenge.id, &d.account_id, c.challenge.expires_at);
    }
    let initial: Vec<Event> = pending.into_iter().map(|c| sse_event(&PushEvent::Challenge(Box::new(c)))).collect();
    let me = d.device_id.clone();
    let clock = s.clock.clone();
    // The gauge counts this channel until its stream is dropped.
    let live_channel = s.metrics.live_channel();
    let live = BroadcastStream::new(rx)
        .take_while(move |_| std::future::ready(clock.now() <= session_expires_at))
        // The channel ends when this device is revoked, or when it fell so far behind that
        // events were dropped: it then reconnects and is sent its pending list afresh.
        .take_while(move |ev| {
            std::future::ready(match ev {
                Ok(HubEvent::DeviceRevoked(id)) => *id != me,
                Ok(_) => true,
                Err(_lagged) => false,
            })
        })
        .filter_map(|ev| {
            std::future::ready(match ev {
                Ok(HubEvent::Push(p)) => Some(sse_event(&p)),
                _ => None,
            })
        });
    let remaining = u64::try_from(session_expires_at.saturating_sub(s.now())).unwrap_or(0);
    let session_over = tokio::time::sleep(Duration::from_secs(remaining).saturating_add(Duration::from_secs(1)));
    let stream = futures_util::stream::iter(initial)
        .chain(live)
        .map(move |event| {
            let _counted = (&live_channel, &channel_slot);
            Ok(event)
        })
        .take_until(s.stopping())
        .take_until(session_over);
    let keepalive = Duration::from_secs(s.settings.limits.push_keepalive_secs);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(keepalive)))
}

async fn create_ticket(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiJson(req): ApiJson<CreateTicketRequest>,
) -> ApiResult<Json<inkan_protocol::TicketCreated>> {
    Ok(Json(s.create_ticket(&req.account_id, req.label.as_deref()).await?))
}

async fn create_challenge(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiJson(req): ApiJson<CreateChallengeRequest>,
) -> ApiResult<Json<inkan_protocol::ChallengeCreated>> {
    Ok(Json(s.create_challenge(req).await?))
}

async fn challenge_status(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<inkan_protocol::ChallengeStatus>> {
    Ok(Json(s.challenge_status(&id).await?))
}

async fn cancel_challenge(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<inkan_protocol::ChallengeStatus>> {
    Ok(Json(s.cancel_challenge(&id).await?))
}

#[derive(Deserialize)]
struct WaitQuery {
    timeout: Option<u64>,
}

async fn wait_challenge(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> ApiResult<Json<inkan_protocol::ChallengeStatus>> {
    let max = s.settings.limits.max_long_poll_secs;
    let secs = q.timeout.unwrap_or(max).min(max);
    Ok(Json(s.wait_for_decision(&id, Duration::from_secs(secs)).await?))
}

async fn account_state(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<Json<inkan_protocol::AccountPushState>> {
    Ok(Json(s.account_push_state(&account).await?))
}

async fn list_devices(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<Json<Vec<inkan_protocol::DeviceInfo>>> {
    Ok(Json(s.list_devices(&account).await?))
}

async fn revoke_device(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath((account, device)): ApiPath<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    s.revoke_device(&account, &device).await?;
    Ok(Json(serde_json::json!({"revoked": device})))
}

async fn unblock(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    s.unblock_pushes(&account).await?;
    Ok(Json(serde_json::json!({"push_blocked": false})))
}

#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

async fn verify_code(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<CodeBody>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::json!({"valid": s.verify_offline_code(&account, &body.code).await?})))
}

async fn audit(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let rows = s.store.audit_for_account(&account, 200).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(at, event, device_id, challenge_id, detail)| {
                serde_json::json!({"at": at, "event": event, "device_id": device_id, "challenge_id": challenge_id, "detail": serde_json::from_str::<serde_json::Value>(&detail).unwrap_or_default()})
            })
            .collect(),
    ))
}

async fn ticket_status(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<inkan_protocol::TicketStatus>> {
    Ok(Json(s.ticket_status(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    #[serde(default)]
    after: i64,
    limit: Option<u32>,
    account: Option<String>,
}

async fn rp_events(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<inkan_protocol::RpEventPage>> {
    Ok(Json(s.events_after(q.after, q.account.as_deref(), q.limit).await?))
}

async fn login_reported(
    State(s): State<SharedService>,
    _: RelyingParty,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<Json<inkan_protocol::LoginRecorded>> {
    Ok(Json(s.login_succeeded(&account).await?))
}
