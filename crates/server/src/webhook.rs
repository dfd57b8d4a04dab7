//! Delivers relying-party events ([`inkan_protocol::RpEvent`]) to the relying party's webhook.
//!
//! Events are written in the transactions of the changes they report (`rp_events`), so they
//! exist before anyone is told. The sender reads those after its cursor (`rp_webhook_cursor`),
//! posts them in one signed batch ([`inkan_protocol::webhook`]) and moves the cursor only when
//! the relying party answers 2xx. A crash, a timeout or an error answer leaves the cursor: the
//! same events go again (with a new delivery id) after a backoff, so delivery is at least
//! once, in `seq` order (so in order per account). The relying party processes each event id
//! once.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use inkan_protocol::WebhookDelivery;
use inkan_protocol::webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

use crate::service::Service;
use crate::settings::{Limits, SecretString};

/// Where to deliver, and under which secret.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub secret: SecretString,
}

/// The wait before retry number `failures` (1 = first retry): doubling from the minimum up
/// to the maximum, then a random part of up to half of it (so many verifiers retrying one
/// relying party do not arrive together).
pub fn backoff(limits: &Limits, failures: u32, jitter: f64) -> Duration {
    let min = Duration::from_millis(limits.webhook_retry_min_ms.max(1));
    let max = Duration::from_secs(limits.webhook_retry_max_secs).max(min);
    let base = min.saturating_mul(1u32 << failures.saturating_sub(1).min(20)).min(max);
    base.mul_f64(1.0 - jitter.clamp(0.0, 1.0) * 0.5)
}

fn jitter() -> f64 {
    f64::from(u16::from_be_bytes(crate::random_bytes::<2>())) / f64::from(u16::MAX)
}

/// One attempt: the events after the cursor, posted. `Ok(n)`: n events delivered (0: none
/// waiting).
async fn deliver_once(service: &Service, client: &reqwest::Client, target: &Target) -> anyhow::Result<usize> {
    let limits = &service.settings.limits;
    let cursor = service.store.webhook_cursor().await?;
    let events = service.store.events_after(cursor, None, i64::from(limits.rp_events_page_max)).await?;
    let Some(last) = events.last().map(|e| e.seq) else { return Ok(0) };
    let count = events.len();
    let delivery = WebhookDelivery { delivery_id: crate::random_id(crate::service::ID_BYTES), events };
    let body = serde_json::to_vec(&delivery)?;
    let timestamp = service.now();
    let signature = sign(target.secret.expose().as_bytes(), timestamp, &delivery.delivery_id, &body);
    let answer = client
        .post(&target.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(DELIVERY_HEADER, &delivery.delivery_id)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await?;
    let status = answer.status();
    anyhow::ensure!(status.is_success(), "the webhook answered {status}");
    service.store.advance_webhook_cursor(last).await?;
    Ok(count)
}

/// Runs until the server stops: delivers what is waiting, then waits for new events (woken
/// by [`Service::events_written`], or every `webhook_poll_ms`).
pub fn spawn(service: Arc<Service>, target: Target) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let limits = service.settings.limits.clone();
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(limits.webhook_timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook client cannot start: relying-party events wait in the database");
                return;
            }
        };
        let poll = Duration::from_millis(limits.webhook_poll_ms.max(10));
        let mut failures = 0u32;
        let stopping = service.stopping();
        tokio::pin!(stopping);
        // Several instances: one sends at a time (the one holding the turn's lock); the
        // others wait and take over if it goes.
        let mut turn: Option<sqlx::PgConnection> = None;
        loop {
            if service.store.db().is_postgres() {
                if let Some(conn) = turn.as_mut()
                    && sqlx::query("SELECT 1").execute(&mut *conn).await.is_err()
                {
                    turn = None; // The connection, and with it the lock, is gone.
                }
                if turn.is_none() {
                    match service.store.try_webhook_turn().await {
                        Ok(Some(conn)) => {
                            tracing::info!("this instance sends the webhook");
                            turn = Some(conn);
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot take the webhook sender's turn"),
                    }
                }
                if turn.is_none() {
                    tokio::select! {
                        _ = tokio::time::sleep(poll) => {}
                        _ = &mut stopping => return,
                    }
                    continue;
                }
            }
            let wait = match deliver_once(&service, &client, &target).await {
                Ok(0) => {
                    failures = 0;
                    Some(poll)
                }
                Ok(n) => {
                    failures = 0;
                    service.metrics.webhook_delivered.fetch_add(n as u64, Relaxed);
                    None
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    service.metrics.webhook_failures.fetch_add(1, Relaxed);
                    let wait = backoff(&limits, failures, jitter());
                    tracing::warn!(error = %e, failures, retry_in_ms = wait.as_millis() as u64, "webhook delivery failed");
                    // A failure waits out its backoff whatever wakes the sender.
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = &mut stopping => return,
                    }
                    continue;
                }
            };
            if let Some(wait) = wait {
                tokio::select! {
                    _ = service.events_written.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = &mut stopping => return,
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_to_the_maximum_with_jitter() {
        let limits = Limits { webhook_retry_min_ms: 250, webhook_retry_max_secs: 60, ..Limits::default() };
        let ms = |failures, jitter| backoff(&limits, failures, jitter).as_millis();
        assert_eq!(ms(1, 0.0), 250);
        assert_eq!(ms(2, 0.0), 500);
        assert_eq!(ms(3, 0.0), 1000);
        assert_eq!(ms(9, 0.0), 60_000, "capped");
        assert_eq!(ms(u32::MAX, 0.0), 60_000, "no overflow");
        assert_eq!(ms(1, 1.0), 125, "jitter takes at most half");
        assert!((125..=250).contains(&ms(1, 0.3)));
    }
}
