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
    // The person must see exactly what is signed: text that could disguise it is refused here
    // too, whatever the server let through.
    c.details.check_display(usize::MAX).map_err(CoreError::UnsafeChallengeText)?;
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
            web_origin: None,
            rp_name: None,
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
        // The login vector's browser text ends in a line break (it pins how canonical JSON
        // escapes one): its server signature is right, but a device does not show such text.
        assert!(matches!(
            verify_challenge(&account, &vector_challenge(1, "challenge_login"), now),
            Err(CoreError::UnsafeChallengeText(_))
        ));

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

    /// A challenge signed by the pinned server key is still refused when its text could make
    /// what the person sees differ from what is signed (a server that let it through).
    #[test]
    fn refuses_signed_challenges_whose_text_disguises_what_is_signed() {
        let account = vector_account();
        let base = vectors::challenges()[0].clone();
        let now = base.created_at + 1;
        let cases: [fn(&mut inkan_protocol::WithdrawalContext); 4] = [
            |w| w.bank = "\u{202E}knaB rekcattA".into(),
            |w| w.branch = "Shibuya\u{200B}".into(),
            |w| w.account_masked = "****５６７８９".into(),
            |w| w.requested_at = "2026-11-24\n18:00".into(),
        ];
        for change in cases {
            let mut challenge = base.clone();
            let ChallengeDetails::Withdrawal(w) = &mut challenge.details else { panic!("a withdrawal vector") };
            change(w);
            let server_signature = Label::Challenge.sign(&vectors::server_key(), &challenge).unwrap();
            let signed = SignedChallenge { challenge, server_signature };
            let err = verify_challenge(&account, &signed, now).unwrap_err();
            assert_eq!(err.code(), "unsafe_challenge_text", "{err}");
        }
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
