//! Checking pushed challenges, and the inbox of those waiting for the person (sans-IO).

use std::collections::BTreeMap;

use inkan_protocol::{Challenge, ChallengeDetails, Label, SignedChallenge};

use crate::error::{CoreError, CoreResult};
use crate::profile::Account;

/// Checks a pushed challenge before it is shown: the pinned server key signed it, it is for
/// this account on this server, and it has not expired.
pub fn verify_challenge(account: &Account, signed: &SignedChallenge, now: i64) -> CoreResult<Challenge> {
    Label::Challenge
        .verify(&account.server_public_key, &signed.challenge, &signed.server_signature)
        .map_err(|_| CoreError::ForgedChallenge)?;
    let c = &signed.challenge;
    if c.origin != account.origin || c.account_id != account.account_id {
        return Err(CoreError::ChallengeMismatch);
    }
    if now > c.expires_at {
        return Err(CoreError::ChallengeExpired);
    }
    Ok(c.clone())
}

/// One line for lists and notifications, Japanese first.
pub fn summary(details: &ChallengeDetails) -> String {
    match details {
        ChallengeDetails::Login(l) => format!("ログイン / Login: {} ({}, {})", l.ip, l.place, l.browser),
        ChallengeDetails::Withdrawal(w) => format!(
            "出金 / Withdrawal: {} {} → {} {} {}",
            group_thousands(w.amount),
            w.currency,
            w.bank,
            w.branch,
            w.account_masked
        ),
    }
}

pub use inkan_protocol::display::group_thousands;

/// A verified challenge waiting for the person, with the account it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChallenge {
    pub account: String,
    pub challenge: Challenge,
}

/// Pending challenges by id, dropped when resolved or expired.
#[derive(Debug, Default)]
pub struct Inbox {
    items: BTreeMap<String, PendingChallenge>,
}

impl Inbox {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, item: PendingChallenge) {
        self.items.insert(item.challenge.id.clone(), item);
    }

    pub fn remove(&mut self, challenge_id: &str) -> Option<PendingChallenge> {
        self.items.remove(challenge_id)
    }

    pub fn get(&self, challenge_id: &str) -> Option<&PendingChallenge> {
        self.items.get(challenge_id)
    }

    /// Drops expired challenges; returns their ids.
    pub fn expire(&mut self, now: i64) -> Vec<String> {
        let gone: Vec<String> =
            self.items.values().filter(|p| now > p.challenge.expires_at).map(|p| p.challenge.id.clone()).collect();
        for id in &gone {
            self.items.remove(id);
        }
        gone
    }

    /// Soonest to expire first.
    pub fn list(&self) -> Vec<&PendingChallenge> {
        let mut v: Vec<&PendingChallenge> = self.items.values().collect();
        v.sort_by_key(|p| (p.challenge.expires_at, p.challenge.id.clone()));
        v
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkan_protocol::vectors;

    fn vector_account() -> Account {
        let file = vectors::load();
        Account {
            id: "local".into(),
            name: "test".into(),
            origin: "https://auth.broker.example".into(),
            account_id: "10012345".into(),
            device_id: vectors::DEVICE_ID.into(),
            device_name: "test".into(),
            server_public_key: file.server_public_key,
            totp_digits: 6,
            totp_period: 30,
            enrolled_at: 0,
        }
    }

    fn vector_challenge(i: usize, case: &str) -> SignedChallenge {
        let file = vectors::load();
        let signature = file.cases.iter().find(|c| c.name == case).unwrap().signature.clone();
        SignedChallenge { challenge: vectors::challenges()[i].clone(), server_signature: signature }
    }

    #[test]
    fn accepts_vector_challenges_and_rejects_altered_ones() {
        let account = vector_account();
        let signed = vector_challenge(0, "challenge_withdrawal");
        let now = signed.challenge.created_at + 1;
        assert_eq!(verify_challenge(&account, &signed, now).unwrap(), signed.challenge);
        assert!(verify_challenge(&account, &vector_challenge(1, "challenge_login"), now).is_ok());

        let mut altered = signed.clone();
        if let ChallengeDetails::Withdrawal(w) = &mut altered.challenge.details {
            w.amount += 1;
        }
        assert!(matches!(verify_challenge(&account, &altered, now), Err(CoreError::ForgedChallenge)));
        let mut swapped = signed.clone();
        swapped.server_signature = vector_challenge(1, "challenge_login").server_signature;
        assert!(matches!(verify_challenge(&account, &swapped, now), Err(CoreError::ForgedChallenge)));
        assert!(matches!(
            verify_challenge(&account, &signed, signed.challenge.expires_at + 1),
            Err(CoreError::ChallengeExpired)
        ));
        let mut other_server = account.clone();
        other_server.origin = "https://auth.broker.example.evil".into();
        assert!(matches!(verify_challenge(&other_server, &signed, now), Err(CoreError::ChallengeMismatch)));
        let mut pinned_other_key = account.clone();
        pinned_other_key.server_public_key = vectors::load().device_public_key;
        assert!(matches!(verify_challenge(&pinned_other_key, &signed, now), Err(CoreError::ForgedChallenge)));
    }

    #[test]
    fn inbox_orders_by_expiry_and_drops_expired() {
        let mut inbox = Inbox::new();
        let mut a = vectors::challenges()[0].clone();
        let mut b = vectors::challenges()[1].clone();
        a.expires_at = 200;
        b.expires_at = 100;
        inbox.insert(PendingChallenge { account: "x".into(), challenge: a.clone() });
        inbox.insert(PendingChallenge { account: "x".into(), challenge: b.clone() });
        assert_eq!(inbox.list().iter().map(|p| p.challenge.expires_at).collect::<Vec<_>>(), vec![100, 200]);
        assert_eq!(inbox.expire(150), vec![b.id.clone()]);
        assert_eq!(inbox.len(), 1);
        assert!(inbox.remove(&a.id).is_some());
        assert!(inbox.is_empty());
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1250000), "1,250,000");
    }
}
