//! Fan-out of push events: one broadcast channel per account with listeners, in this process,
//! and relayed between instances through PostgreSQL `LISTEN/NOTIFY` ([`crate::relay`]).
//!
//! Device push channels and relying-party long polls subscribe to their account; the service
//! publishes after each state change is committed. A channel exists only while someone
//! listens, so idle accounts cost nothing. On PostgreSQL each change also sends a [`HubNote`]
//! in its transaction (delivered at commit, never for a rolled-back change); the other
//! instances publish it to their own listeners.

use std::collections::HashMap;
use std::sync::Mutex;

use inkan_protocol::{ChallengeState, PushEvent};
use tokio::sync::broadcast;

/// The PostgreSQL notification channel the instances relay through.
pub const NOTIFY_CHANNEL: &str = "inkan_hub";

#[derive(Debug, Clone)]
pub enum HubEvent {
    Push(PushEvent),
    /// Ends that device's push channel.
    DeviceRevoked(String),
}

/// What one instance tells the others (the `NOTIFY` payload, JSON). `i` is the sending
/// instance, which ignores its own notes (it published them itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum HubNote {
    /// A challenge was created: the receiver reads it from the database.
    Created { i: String, a: String, c: String },
    /// A challenge reached a final state.
    Settled { i: String, a: String, c: String, s: ChallengeState },
    /// A device was revoked.
    Revoked { i: String, a: String, d: String },
}

impl HubNote {
    pub fn instance(&self) -> &str {
        match self {
            HubNote::Created { i, .. } | HubNote::Settled { i, .. } | HubNote::Revoked { i, .. } => i,
        }
    }

    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("a note serializes")
    }
}

struct Pushed {
    account_id: String,
    expires_at: i64,
    settled: Option<Settled>,
}

/// How a challenge pushed from this instance was settled here: what its row now says, so a
/// long poll woken by the settlement answers without reading it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub state: ChallengeState,
    pub decided_at: i64,
    pub device_id: Option<String>,
}

pub struct Hub {
    capacity: usize,
    accounts: Mutex<HashMap<String, broadcast::Sender<HubEvent>>>,
    /// Challenges this instance has pushed to its listeners, with their account and expiry:
    /// the relay's resync pushes only the others, so a device is not sent one challenge twice,
    /// and a long poll on one of them subscribes before its first read. Forgotten once expired
    /// ([`Hub::forget_expired`], on the sweeper's timer).
    pushed: Mutex<HashMap<String, Pushed>>,
}

impl Hub {
    pub fn new(capacity: usize) -> Self {
        Hub { capacity, accounts: Mutex::new(HashMap::new()), pushed: Mutex::new(HashMap::new()) }
    }

    pub fn subscribe(&self, account_id: &str) -> broadcast::Receiver<HubEvent> {
        let mut accounts = self.accounts.lock().expect("hub lock");
        accounts.entry(account_id.to_owned()).or_insert_with(|| broadcast::channel(self.capacity).0).subscribe()
    }

    pub fn publish(&self, account_id: &str, event: HubEvent) {
        if let HubEvent::Push(PushEvent::Challenge(c)) = &event {
            self.mark_pushed(&c.challenge.id, account_id, c.challenge.expires_at);
        }
        let mut accounts = self.accounts.lock().expect("hub lock");
        if let Some(tx) = accounts.get(account_id)
            && tx.send(event).is_err()
        {
            // Nobody listens any more: drop the channel.
            accounts.remove(account_id);
        }
    }

    /// Records that this instance's listeners have (or are being sent) the challenge.
    pub fn mark_pushed(&self, challenge_id: &str, account_id: &str, expires_at: i64) {
        let mut pushed = self.pushed.lock().expect("hub lock");
        if !pushed.contains_key(challenge_id) {
            pushed.insert(
                challenge_id.to_owned(),
                Pushed { account_id: account_id.to_owned(), expires_at, settled: None },
            );
        }
    }

    /// Records how a challenge pushed from here was settled (after the change committed, before
    /// it is published). A challenge pushed elsewhere is not remembered.
    pub fn mark_settled(&self, challenge_id: &str, settled: Settled) {
        if let Some(p) = self.pushed.lock().expect("hub lock").get_mut(challenge_id) {
            p.settled = Some(settled);
        }
    }

    /// How a challenge pushed from here was settled here, if it was.
    pub fn settled(&self, challenge_id: &str) -> Option<Settled> {
        self.pushed.lock().expect("hub lock").get(challenge_id).and_then(|p| p.settled.clone())
    }

    /// The account of a challenge this instance has pushed (and not yet forgotten).
    pub fn account_of(&self, challenge_id: &str) -> Option<String> {
        self.pushed.lock().expect("hub lock").get(challenge_id).map(|p| p.account_id.clone())
    }

    pub fn was_pushed(&self, challenge_id: &str) -> bool {
        self.pushed.lock().expect("hub lock").contains_key(challenge_id)
    }

    /// Forgets challenges that expired before `now`.
    pub fn forget_expired(&self, now: i64) {
        self.pushed.lock().expect("hub lock").retain(|_, p| p.expires_at >= now);
    }

    /// Live listeners (push channels and long polls) of one account.
    pub fn listeners(&self, account_id: &str) -> usize {
        self.accounts.lock().expect("hub lock").get(account_id).map_or(0, |tx| tx.receiver_count())
    }

    /// Accounts with at least one live listener.
    pub fn listening_accounts(&self) -> Vec<String> {
        let accounts = self.accounts.lock().expect("hub lock");
        accounts.iter().filter(|(_, tx)| tx.receiver_count() > 0).map(|(a, _)| a.clone()).collect()
    }

    /// Accounts with at least one live channel (for metrics).
    pub fn live_accounts(&self) -> usize {
        self.accounts.lock().expect("hub lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_challenges_are_remembered_until_they_expire() {
        let hub = Hub::new(4);
        hub.mark_pushed("c1", "10012345", 100);
        hub.mark_pushed("c2", "10099999", 200);
        assert_eq!(hub.account_of("c1").as_deref(), Some("10012345"));
        assert!(hub.was_pushed("c2"));
        let approved = Settled { state: ChallengeState::Approved, decided_at: 90, device_id: Some("d".into()) };
        hub.mark_settled("c1", approved.clone());
        hub.mark_settled("elsewhere", approved.clone());
        assert_eq!(hub.settled("c1"), Some(approved));
        assert_eq!(hub.settled("c2"), None);
        assert_eq!(hub.settled("elsewhere"), None, "only challenges pushed from here");
        hub.forget_expired(150);
        assert_eq!(hub.account_of("c1"), None);
        assert_eq!(hub.settled("c1"), None);
        assert!(!hub.was_pushed("c1"));
        assert_eq!(hub.account_of("c2").as_deref(), Some("10099999"));
    }

    #[test]
    fn notes_round_trip_and_stay_small() {
        let note =
            HubNote::Settled { i: "inst".into(), a: "10012345".into(), c: "ch".into(), s: ChallengeState::DeniedFraud };
        let text = note.to_payload();
        assert_eq!(serde_json::from_str::<HubNote>(&text).unwrap(), note);
        assert!(text.len() < 8000, "under PostgreSQL's payload limit");
    }
}
