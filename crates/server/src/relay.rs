//! Several verifier instances on one PostgreSQL: what one instance commits reaches the
//! listeners (device channels, long polls) of the others.
//!
//! Each change sends a [`HubNote`] with `NOTIFY` in its own transaction ([`crate::store`]).
//! Every instance listens ([`sqlx::postgres::PgListener`]) and publishes the others' notes to
//! its [`crate::hub::Hub`]. Notifications are only the wake-up: `PgListener` drops those sent
//! while it was disconnected, so after every (re)connect, and every `relay_resync_ms`, the
//! instance re-reads the database for the accounts it has listeners for and pushes any pending
//! challenge it has not pushed yet. A long poll re-reads its challenge on the same timer
//! ([`crate::Service::wait_for_decision`]). A lost notification delays a wake-up by at most
//! `relay_resync_ms`, and loses nothing.

use std::sync::Arc;
use std::time::Duration;

use inkan_protocol::{DecisionOutcome, PushEvent};
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::Service;
use crate::hub::{HubEvent, HubNote, NOTIFY_CHANNEL};

/// Runs until the server stops.
pub fn spawn(service: Arc<Service>, pool: PgPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let resync_every = Duration::from_millis(service.settings.limits.relay_resync_ms.max(50));
        let stopping = service.stopping();
        tokio::pin!(stopping);
        loop {
            let mut listener = match connect(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "relay cannot listen; retrying (the resync timer still covers)");
                    resync(&service).await;
                    tokio::select! {
                        _ = tokio::time::sleep(resync_every) => continue,
                        _ = &mut stopping => return,
                    }
                }
            };
            // Whatever was sent while this instance was not listening.
            resync(&service).await;
            let mut timer = tokio::time::interval(resync_every);
            loop {
                tokio::select! {
                    next = listener.try_recv() => match next {
                        Ok(Some(n)) => handle(&service, n.payload()).await,
                        // The connection was lost; the next call reconnects. Re-read meanwhile.
                        Ok(None) => resync(&service).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "relay listener failed; reconnecting");
                            break;
                        }
                    },
                    _ = timer.tick() => resync(&service).await,
                    _ = &mut stopping => return,
                }
            }
        }
    })
}

async fn connect(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}

async fn handle(service: &Service, payload: &str) {
    let note: HubNote = match serde_json::from_str(payload) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "relay: a note this version does not read");
            return;
        }
    };
    if note.instance() == service.store.instance {
        return; // Published here already.
    }
    match note {
        HubNote::Created { a, c, .. } => {
            if service.hub.listeners(&a) == 0 || service.hub.was_pushed(&c) {
                return;
            }
            match service.store.challenge(&c).await {
                Ok(Some(row)) if row.state() == inkan_protocol::ChallengeState::Pending => push(service, &row),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "relay: cannot read a new challenge; the resync will"),
            }
        }
        HubNote::Settled { a, c, s, .. } => {
            let outcome = DecisionOutcome { challenge_id: c, state: s };
            service.hub.publish(&a, HubEvent::Push(PushEvent::Resolved(outcome)));
        }
        HubNote::Revoked { a, d, .. } => service.hub.publish(&a, HubEvent::DeviceRevoked(d)),
    }
}

fn push(service: &Service, row: &crate::store::ChallengeRow) {
    match Service::signed(row) {
        Ok(signed) => service.hub.publish(&row.account_id, HubEvent::Push(PushEvent::Challenge(Box::new(signed)))),
        Err(e) => tracing::warn!(error = %e, challenge = %row.id, "relay: a stored challenge does not read"),
    }
}

/// Pushes every pending challenge of the accounts listened to here that this instance has not
/// pushed yet.
async fn resync(service: &Service) {
    let now = service.now();
    service.hub.forget_expired(now);
    for account in service.hub.listening_accounts() {
        match service.store.pending_challenges(&account, now).await {
            Ok(rows) => {
                for row in rows.iter().filter(|r| !service.hub.was_pushed(&r.id)) {
                    push(service, row);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "relay resync cannot read the database");
                return;
            }
        }
    }
}
