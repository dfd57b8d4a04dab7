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

/// How often an idle push channel sends a keep-alive comment.
pub const PUSH_KEEPALIVE: Duration = Duration::from_secs(15);

pub fn router(service: SharedService) -> Router {
    let limit = service.settings.limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/server-key", get(server_key))
        .route("/v1/device/enroll", post(enroll))
        .route("/v1/device/nonce", post(nonce))
        .route("/v1/device/session", post(session))
        .route("/v1/device/challenges", get(pending))
        .route("/v1/device/challenges/{id}/decision", post(decide))
        .route("/v1/device/events", get(events))
        .route("/v1/rp/enrollment-tickets", post(create_ticket))
        .route("/v1/rp/challenges", post(create_challenge))
        .route("/v1/rp/challenges/{id}", get(challenge_status))
        .route("/v1/rp/challenges/{id}/wait", get(wait_challenge))
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
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts.headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
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

/// The relying party (the brokerage's web backend), authenticated by the API key.
pub struct RelyingParty;

impl FromRequestParts<SharedService> for RelyingParty {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &SharedService) -> Result<Self, ApiError> {
        let given = bearer(parts).ok_or(ApiError::Unauthorized)?;
        // Hash both sides so the comparison is constant-time whatever the lengths.
        let want = Sha256::digest(service.settings.rp_api_key.expose().as_bytes());
        let got = Sha256::digest(given.as_bytes());
        if bool::from(want.ct_eq(&got)) { Ok(RelyingParty) } else { Err(ApiError::Unauthorized) }
    }
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
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<Json<inkan_protocol::EnrollResponse>> {
    Ok(Json(s.enroll(req).await?))
}

async fn nonce(State(s): State<SharedService>) -> ApiResult<Json<inkan_protocol::NonceResponse>> {
    Ok(Json(s.issue_nonce().await?))
}

async fn session(
    State(s): State<SharedService>,
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
    Path(id): Path<String>,
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

/// The live push channel: the account's pending challenges first, then every new one.
async fn events(
    State(s): State<SharedService>,
    Device(d): Device,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let rx = s.hub.subscribe(&d.account_id);
    let initial: Vec<Event> =
        s.pending_for(&d).await?.into_iter().map(|c| sse_event(&PushEvent::Challenge(Box::new(c)))).collect();
    let me = d.device_id.clone();
    let live = BroadcastStream::new(rx)
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
    let stream = futures_util::stream::iter(initial).chain(live).map(Ok).take_until(s.stopping());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(PUSH_KEEPALIVE)))
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
    Path(id): Path<String>,
) -> ApiResult<Json<inkan_protocol::ChallengeStatus>> {
    Ok(Json(s.challenge_status(&id).await?))
}

#[derive(Deserialize)]
struct WaitQuery {
    timeout: Option<u64>,
}

async fn wait_challenge(
    State(s): State<SharedService>,
    _: RelyingParty,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Json<inkan_protocol::ChallengeStatus>> {
    let max = s.settings.limits.max_long_poll_secs;
    let secs = q.timeout.unwrap_or(max).min(max);
    Ok(Json(s.wait_for_decision(&id, Duration::from_secs(secs)).await?))
}

async fn account_state(
    State(s): State<SharedService>,
    _: RelyingParty,
    Path(account): Path<String>,
) -> ApiResult<Json<inkan_protocol::AccountPushState>> {
    Ok(Json(s.account_push_state(&account).await?))
}

async fn list_devices(
    State(s): State<SharedService>,
    _: RelyingParty,
    Path(account): Path<String>,
) -> ApiResult<Json<Vec<inkan_protocol::DeviceInfo>>> {
    Ok(Json(s.list_devices(&account).await?))
}

async fn revoke_device(
    State(s): State<SharedService>,
    _: RelyingParty,
    Path((account, device)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    s.revoke_device(&account, &device).await?;
    Ok(Json(serde_json::json!({"revoked": device})))
}

async fn unblock(
    State(s): State<SharedService>,
    _: RelyingParty,
    Path(account): Path<String>,
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
    Path(account): Path<String>,
    ApiJson(body): ApiJson<CodeBody>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::json!({"valid": s.verify_offline_code(&account, &body.code).await?})))
}

async fn audit(
    State(s): State<SharedService>,
    _: RelyingParty,
    Path(account): Path<String>,
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
