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

pub struct Hub {
    capacity: usize,
    accounts: Mutex<HashMap<String, broadcast::Sender<HubEvent>>>,
    /// Challenges this instance has pushed to its listeners, with their expiry: the relay's
    /// resync pushes only the others, so a device is not sent one challenge twice.
    pushed: Mutex<HashMap<String, i64>>,
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
            self.mark_pushed(&c.challenge.id, c.challenge.expires_at);
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
    pub fn mark_pushed(&self, challenge_id: &str, expires_at: i64) {
        self.pushed.lock().expect("hub lock").insert(challenge_id.to_owned(), expires_at);
    }

    pub fn was_pushed(&self, challenge_id: &str) -> bool {
        self.pushed.lock().expect("hub lock").contains_key(challenge_id)
    }

    /// Forgets challenges that expired before `now`.
    pub fn forget_expired(&self, now: i64) {
        self.pushed.lock().expect("hub lock").retain(|_, expires_at| *expires_at >= now);
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
    fn notes_round_trip_and_stay_small() {
        let note =
            HubNote::Settled { i: "inst".into(), a: "10012345".into(), c: "ch".into(), s: ChallengeState::DeniedFraud };
        let text = note.to_payload();
        assert_eq!(serde_json::from_str::<HubNote>(&text).unwrap(), note);
        assert!(text.len() < 8000, "under PostgreSQL's payload limit");
    }
}
