//! In-process fan-out of push events: one broadcast channel per account with listeners.
//!
//! Device push channels and relying-party long polls subscribe to their account; the service
//! publishes after each state change is committed. A channel exists only while someone
//! listens, so idle accounts cost nothing. (Several instances behind a load balancer will
//! relay these through PostgreSQL LISTEN/NOTIFY; not built yet.)

use std::collections::HashMap;
use std::sync::Mutex;

use inkan_protocol::PushEvent;
use tokio::sync::broadcast;

#[derive(Debug, Clone)]
pub enum HubEvent {
    Push(PushEvent),
    /// Ends that device's push channel.
    DeviceRevoked(String),
}

pub struct Hub {
    capacity: usize,
    accounts: Mutex<HashMap<String, broadcast::Sender<HubEvent>>>,
}

impl Hub {
    pub fn new(capacity: usize) -> Self {
        Hub { capacity, accounts: Mutex::new(HashMap::new()) }
    }

    pub fn subscribe(&self, account_id: &str) -> broadcast::Receiver<HubEvent> {
        let mut accounts = self.accounts.lock().expect("hub lock");
        accounts.entry(account_id.to_owned()).or_insert_with(|| broadcast::channel(self.capacity).0).subscribe()
    }

    pub fn publish(&self, account_id: &str, event: HubEvent) {
        let mut accounts = self.accounts.lock().expect("hub lock");
        if let Some(tx) = accounts.get(account_id)
            && tx.send(event).is_err()
        {
            // Nobody listens any more: drop the channel.
            accounts.remove(account_id);
        }
    }

    /// Live listeners (push channels and long polls) of one account.
    pub fn listeners(&self, account_id: &str) -> usize {
        self.accounts.lock().expect("hub lock").get(account_id).map_or(0, |tx| tx.receiver_count())
    }

    /// Accounts with at least one live channel (for metrics).
    pub fn live_accounts(&self) -> usize {
        self.accounts.lock().expect("hub lock").len()
    }
}
