//! The verifier's audit event names, in one place. The audit table stores the snake_case name
//! (`challenge_approved`); operators and the tests read it back as text.

use inkan_protocol::ChallengeState;

/// The audit row type the verifier writes: an [`inkan_kit::sqlite::AuditEntry`] whose event
/// is one of [`AuditEvent`].
pub type AuditEntry<'a> = inkan_kit::sqlite::AuditEntry<'a, AuditEvent>;

/// Every event the verifier records in its audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum AuditEvent {
    /// The relying party created an enrollment ticket.
    TicketCreated,
    /// A used or expired ticket was presented again.
    TicketReuseRefused,
    /// An enrollment whose proof of possession did not verify.
    EnrollBadSignature,
    DeviceEnrolled,
    DeviceRevoked,
    ChallengeCreated,
    /// A challenge the push gate did not let through (cap reached, pushes blocked).
    ChallengeRefused,
    ChallengeApproved,
    ChallengeDenied,
    ChallengeDeniedFraud,
    ChallengeExpired,
    /// Too many wrong numbers were typed.
    ChallengeFailed,
    ChallengeCancelled,
    /// A wrong typed number (the challenge stays pending until the attempts run out).
    NumberMismatch,
    /// A decision the verifier refused (not pending, wrong device, stale).
    DecisionRefused,
    DecisionBadSignature,
    /// The relying party reported a successful login (the push cap counts from it).
    LoginReported,
    PushUnblocked,
    OfflineCodeAccepted,
    OfflineCodeReplayRefused,
    OfflineCodeRefused,
}

impl AuditEvent {
    /// The event that records a challenge reaching `state`; `None` for `Pending`, which is
    /// recorded as [`AuditEvent::ChallengeCreated`].
    pub fn challenge_reached(state: ChallengeState) -> Option<Self> {
        Some(match state {
            ChallengeState::Pending => return None,
            ChallengeState::Approved => Self::ChallengeApproved,
            ChallengeState::Denied => Self::ChallengeDenied,
            ChallengeState::DeniedFraud => Self::ChallengeDeniedFraud,
            ChallengeState::Expired => Self::ChallengeExpired,
            ChallengeState::Failed => Self::ChallengeFailed,
            ChallengeState::Cancelled => Self::ChallengeCancelled,
        })
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn names_are_the_stored_spelling_and_read_back() {
        assert_eq!(AuditEvent::ChallengeDeniedFraud.as_str(), "challenge_denied_fraud");
        for e in AuditEvent::VARIANTS {
            assert_eq!(e.as_str().parse::<AuditEvent>().unwrap(), *e);
        }
    }

    #[test]
    fn every_final_challenge_state_has_its_event_named_after_it() {
        for state in [
            ChallengeState::Approved,
            ChallengeState::Denied,
            ChallengeState::DeniedFraud,
            ChallengeState::Expired,
            ChallengeState::Failed,
            ChallengeState::Cancelled,
        ] {
            let event = AuditEvent::challenge_reached(state).unwrap();
            assert_eq!(event.as_str(), format!("challenge_{}", state.as_str()));
        }
        assert_eq!(AuditEvent::challenge_reached(ChallengeState::Pending), None);
    }
}
