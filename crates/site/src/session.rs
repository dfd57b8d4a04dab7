//! The automatic logout rule (自動ログアウト), as the brokerage describes it: a session ends 180
//! minutes after it began; a request during the last 5 minutes before that moment moves the end
//! another 180 minutes on. A request any earlier does not move it; a request at or after the
//! end finds the session gone. Pure: the caller passes `now` (the clock seam).

/// Lifetime of a web session, and of each extension.
pub const SESSION_LIFETIME_SECS: i64 = 180 * 60;
/// A request within this long before the end extends the session.
pub const SESSION_EXTENSION_WINDOW_SECS: i64 = 5 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRule {
    pub lifetime_secs: i64,
    pub extension_window_secs: i64,
}

impl Default for SessionRule {
    fn default() -> Self {
        SessionRule { lifetime_secs: SESSION_LIFETIME_SECS, extension_window_secs: SESSION_EXTENSION_WINDOW_SECS }
    }
}

/// What a request does to a session that ends at `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCheck {
    /// Logged out: the end has passed.
    Expired,
    /// Still logged in; `expires_at` is the (possibly moved) end.
    Valid { expires_at: i64, extended: bool },
}

impl SessionRule {
    /// The end of a session that begins at `now`.
    pub fn first_expiry(&self, now: i64) -> i64 {
        now + self.lifetime_secs
    }

    pub fn on_request(&self, expires_at: i64, now: i64) -> SessionCheck {
        if now >= expires_at {
            SessionCheck::Expired
        } else if expires_at - now <= self.extension_window_secs {
            SessionCheck::Valid { expires_at: expires_at + self.lifetime_secs, extended: true }
        } else {
            SessionCheck::Valid { expires_at, extended: false }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;
    const MIN: i64 = 60;

    #[test]
    fn the_180_and_5_minute_rule_at_its_edges() {
        let rule = SessionRule::default();
        let end = rule.first_expiry(T0);
        assert_eq!(end, T0 + 180 * MIN);
        let unchanged = SessionCheck::Valid { expires_at: end, extended: false };
        let extended = SessionCheck::Valid { expires_at: end + 180 * MIN, extended: true };
        // Right after login, and up to one second before the window: no change.
        assert_eq!(rule.on_request(end, T0), unchanged);
        assert_eq!(rule.on_request(end, T0 + 174 * MIN), unchanged);
        assert_eq!(rule.on_request(end, end - 5 * MIN - 1), unchanged);
        // The window's first second, its middle and its last second: another 180 minutes.
        assert_eq!(rule.on_request(end, end - 5 * MIN), extended);
        assert_eq!(rule.on_request(end, end - 2 * MIN), extended);
        assert_eq!(rule.on_request(end, end - 1), extended);
        // At the end and after it: logged out.
        assert_eq!(rule.on_request(end, end), SessionCheck::Expired);
        assert_eq!(rule.on_request(end, end + 1), SessionCheck::Expired);
        assert_eq!(rule.on_request(end, end + 365 * 24 * 60 * MIN), SessionCheck::Expired);
    }

    #[test]
    fn an_extended_session_follows_the_same_rule_again() {
        let rule = SessionRule::default();
        let end = rule.first_expiry(T0);
        let SessionCheck::Valid { expires_at: end2, extended: true } = rule.on_request(end, end - MIN) else {
            panic!("extended")
        };
        assert_eq!(end2, T0 + 360 * MIN);
        // Activity during the old end's window again is now early: no second extension.
        assert_eq!(rule.on_request(end2, end - 30), SessionCheck::Valid { expires_at: end2, extended: false });
        assert!(rule.on_request(end2, end2 - 5 * MIN).is_extended());
        assert_eq!(rule.on_request(end2, end2), SessionCheck::Expired);
    }

    impl SessionCheck {
        fn is_extended(self) -> bool {
            matches!(self, SessionCheck::Valid { extended: true, .. })
        }
    }
}
