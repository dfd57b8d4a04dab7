//! The site's end of the verifier's webhook: relying-party events, checked like any relying
//! party would check them ([`inkan_protocol::webhook`]), each processed once.
//!
//! A delivery is refused (and nothing written) when its signature does not match, its
//! timestamp is outside [`crate::Limits::webhook_tolerance_secs`], or its delivery id was
//! seen before. Inside an accepted delivery, an event already processed is skipped; a new one
//! is marked processed in the transaction that acts on it (a wrong typed number counts toward
//! the account lock there). The mails go after the commit. Any answer but 2xx makes the
//! verifier send the events again later.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use inkan_protocol::WebhookDelivery;
use inkan_protocol::webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookRefusal, verify};
use serde_json::json;

use super::SharedSite;

/// Where the verifier posts.
pub const PATH: &str = "/inkan/webhook";

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": code, "message": message}))).into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

pub async fn receive(
    State(site): State<SharedSite>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let secret = &site.settings.webhook_secret;
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "本文が大きすぎます / body too large");
        }
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "webhook_malformed", "本文を読めません / unreadable body"),
    };
    let limits = site.limits();
    let now = site.now();
    let delivery_id = header(&headers, DELIVERY_HEADER);
    let checked = verify(
        secret.expose().as_bytes(),
        delivery_id,
        header(&headers, TIMESTAMP_HEADER),
        header(&headers, SIGNATURE_HEADER),
        &body,
        now,
        limits.webhook_tolerance_secs,
    );
    if checked.is_err() {
        site.webhook_refusals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    match checked {
        Ok(()) => {}
        Err(WebhookRefusal::BadSignature) => {
            tracing::warn!(delivery_id, "webhook delivery with a bad signature refused");
            return refuse(StatusCode::UNAUTHORIZED, "webhook_bad_signature", "署名が一致しません / bad signature");
        }
        Err(WebhookRefusal::Stale) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "webhook_stale",
                "時刻が許容範囲外です / timestamp outside the tolerance",
            );
        }
        Err(WebhookRefusal::Malformed) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "webhook_malformed",
                "ヘッダーの形式が違います / malformed headers",
            );
        }
    }
    let delivery: WebhookDelivery = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "webhook_malformed",
                &format!("本文の形式が違います / malformed body: {e}"),
            );
        }
    };
    if delivery.delivery_id != delivery_id {
        return refuse(StatusCode::BAD_REQUEST, "webhook_malformed", "配信IDが一致しません / delivery ids differ");
    }
    // Ids are remembered twice as long as a signature stays acceptable, so a replay is
    // refused as a replay or as stale.
    let forget_before = now - 2 * limits.webhook_tolerance_secs;
    let taken = site
        .store
        .take_webhook_delivery(delivery_id, &delivery.events, now, forget_before, i64::from(limits.max_failed_logins))
        .await;
    let new = match taken {
        Ok(Some(new)) => new,
        Ok(None) => {
            tracing::warn!(delivery_id, "replayed webhook delivery refused");
            return refuse(
                StatusCode::CONFLICT,
                "webhook_replayed",
                "この配信は受信済みです / delivery already received",
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "webhook delivery not processed; the verifier will send it again");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "あとで再送してください / try again later");
        }
    };
    site.webhook_deliveries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let processed = new.len();
    for (event, count) in new {
        let customer = match site.store.customer(&event.account_id).await {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, event_id = %event.id, "customer unreadable: no mail for this event");
                continue;
            }
        };
        if count.is_some_and(|c| c.locked_now) {
            super::mail_later(&site, super::notify::account_locked(&customer));
        }
        if let Some(mail) = super::notify::for_event(&customer, &event.data) {
            super::mail_later(&site, mail);
        }
    }
    site.events_processed.notify_waiters();
    (StatusCode::OK, axum::Json(json!({"received": delivery.events.len(), "processed": processed}))).into_response()
}
