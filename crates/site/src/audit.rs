//! The site's audit event names, in one place. The site's audit table stores the snake_case
//! name (`login_succeeded`); the operator's view and the tests read it back as text, and
//! [`AuditEvent::from_stored`] turns it into the event again.

/// The audit row type the site writes: an [`inkan_kit::sqlite::AuditEntry`] whose event is one
/// of [`AuditEvent`].
pub type AuditEntry<'a> = inkan_kit::sqlite::AuditEntry<'a, AuditEvent>;

/// Every event the site records in its audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum AuditEvent {
    // The customer record.
    CustomerCreated,
    AccountLocked,
    AccountUnlocked,
    /// An operator had the verifier restart pushes stopped by a "not me" report.
    PushesRestored,

    // Login.
    LoginUnknownAccount,
    LoginPasswordOk,
    LoginPasswordWrong,
    /// The right password for a locked account: refused all the same.
    LoginRefusedLocked,
    /// A wrong password for a locked account.
    LoginRefusedLockedWrongPassword,
    LoginSwitchedToEmailCode,
    LoginCodeWrong,
    LoginSucceeded,
    /// A login attempt that ended without a login (abandoned, expired, refused).
    LoginAttemptEnded,
    Logout,
    SessionExpired,

    // The e-mailed code.
    EmailCodeSent,
    EmailCodeAccepted,
    EmailCodeWrong,

    // From the verifier's events (webhook or pull).
    DeviceEnrolled,
    DeviceRevoked,
    /// The customer answered 「心当たりがない」 to a push.
    FraudReported,
    /// A wrong number typed on the device: a failed factor toward the lock.
    NumberMismatch,

    // Withdrawals.
    WithdrawalRequested,
    WithdrawalPasswordWrong,
    WithdrawalCodeWrong,
    WithdrawalRefusedNoPasskey,
    WithdrawalPasskeyConfirmed,
    WithdrawalCompleted,
    WithdrawalRefused,
    DestinationChangePasswordWrong,
    DestinationChanged,

    // Security settings.
    PasswordChanged,
    PasswordChangeWrongCurrent,
    EmailChanged,
    EmailChangeWrongCurrent,
    EmailChangeWrongPassword,

    // Passkeys.
    PasskeyRegistered,
    PasskeyRegisterRefused,
    PasskeyRemoved,
    PasskeyLoginUnknown,
    PasskeyLoginRefused,
    PasskeyLoginRefusedSuspended,
    PasskeyCloneSuspected,
}

impl AuditEvent {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The event a stored name spells; `None` for a name this version does not write.
    pub fn from_stored(name: &str) -> Option<Self> {
        name.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn names_are_the_stored_spelling_and_read_back() {
        assert_eq!(AuditEvent::LoginSwitchedToEmailCode.as_str(), "login_switched_to_email_code");
        for e in AuditEvent::VARIANTS {
            assert_eq!(AuditEvent::from_stored(e.as_str()), Some(*e));
        }
        assert_eq!(AuditEvent::from_stored("challenge_approved"), None);
    }
}
