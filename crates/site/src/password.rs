//! The brokerage's password rules (パスワード設定ルール), exactly as it publishes them, and
//! argon2id hashing.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest allowed password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest allowed password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 16;
/// Of the four classes (digits, upper case, lower case, symbols), at least this many.
pub const MIN_CHARACTER_CLASSES: usize = 3;
/// The only symbols allowed.
pub const ALLOWED_SYMBOLS: &str = "@#$%^&*_+-=:,.";

/// Which rule a password broke. Each has a stable code the pages turn into text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRuleError {
    #[error("shorter than {MIN_PASSWORD_CHARS} characters ({0})")]
    TooShort(usize),
    #[error("longer than {MAX_PASSWORD_CHARS} characters ({0})")]
    TooLong(usize),
    /// A character that is not a digit, an ASCII letter or an allowed symbol (spaces and
    /// full-width characters included).
    #[error("character {0:?} is not allowed")]
    ForbiddenCharacter(char),
    #[error("uses {0} of the 4 character classes; at least {MIN_CHARACTER_CLASSES} are required")]
    TooFewClasses(usize),
}

impl PasswordRuleError {
    pub fn code(&self) -> &'static str {
        match self {
            PasswordRuleError::TooShort(_) => "password_too_short",
            PasswordRuleError::TooLong(_) => "password_too_long",
            PasswordRuleError::ForbiddenCharacter(_) => "password_forbidden_character",
            PasswordRuleError::TooFewClasses(_) => "password_too_few_classes",
        }
    }
}

/// Checks `password` against every rule, in the order a person fixes them: forbidden
/// characters first (they make the other counts meaningless), then length, then classes.
pub fn check_password(password: &str) -> Result<(), PasswordRuleError> {
    if let Some(c) = password.chars().find(|c| !(c.is_ascii_alphanumeric() || ALLOWED_SYMBOLS.contains(*c))) {
        return Err(PasswordRuleError::ForbiddenCharacter(c));
    }
    let len = password.chars().count();
    if len < MIN_PASSWORD_CHARS {
        return Err(PasswordRuleError::TooShort(len));
    }
    if len > MAX_PASSWORD_CHARS {
        return Err(PasswordRuleError::TooLong(len));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| ALLOWED_SYMBOLS.contains(c)),
    ]
    .into_iter()
    .filter(|&present| present)
    .count();
    if classes < MIN_CHARACTER_CLASSES {
        return Err(PasswordRuleError::TooFewClasses(classes));
    }
    Ok(())
}

fn argon2id() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).expect("argon2 parameters"))
}

/// An argon2id PHC string for `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&crate::random_bytes::<16>()).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(argon2id().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("argon2: {e}"))?.to_string())
}

/// Whether `password` matches the PHC string `hash` (argon2 compares in constant time).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| argon2id().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash that no password matches, verified against when the account is unknown so that an
/// unknown account number costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("Dummy-password-0").expect("argon2 hashing works"))
}

/// A random password that satisfies the rules (for seeded and QA-created customers).
pub fn generate_password() -> String {
    const SETS: [&[u8]; 4] = [b"23456789", b"ABCDEFGHJKLMNPQRSTUVWXYZ", b"abcdefghijkmnopqrstuvwxyz", b"@#%+-=."];
    let bytes = crate::random_bytes::<MAX_PASSWORD_CHARS>();
    let mut out = String::with_capacity(14);
    for (i, b) in bytes.iter().take(14).enumerate() {
        let set = SETS[i % SETS.len()];
        out.push(char::from(set[usize::from(*b) % set.len()]));
    }
    debug_assert!(check_password(&out).is_ok());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_boundaries() {
        // Three classes each: lower, upper, digits.
        assert_eq!(check_password("Abcdefgh1"), Err(PasswordRuleError::TooShort(9)));
        assert_eq!(check_password("Abcdefgh12"), Ok(()));
        assert_eq!(check_password("Abcdefgh12345678"), Ok(()));
        assert_eq!(check_password("Abcdefgh123456789"), Err(PasswordRuleError::TooLong(17)));
        assert_eq!(check_password(""), Err(PasswordRuleError::TooShort(0)));
    }

    #[test]
    fn every_class_counts() {
        // Exactly three classes, each combination.
        assert_eq!(check_password("abcdefgh12"), Err(PasswordRuleError::TooFewClasses(2)));
        assert_eq!(check_password("abcdefgH12"), Ok(())); // lower upper digit
        assert_eq!(check_password("abcdefgh1@"), Ok(())); // lower digit symbol
        assert_eq!(check_password("abcdefgH@@"), Ok(())); // lower upper symbol
        assert_eq!(check_password("ABCDEFGH1@"), Ok(())); // upper digit symbol
        assert_eq!(check_password("Abcdefg1@."), Ok(())); // all four
        // One or two classes.
        assert_eq!(check_password("abcdefghij"), Err(PasswordRuleError::TooFewClasses(1)));
        assert_eq!(check_password("1234567890"), Err(PasswordRuleError::TooFewClasses(1)));
        assert_eq!(check_password("@#$%^&*_+-"), Err(PasswordRuleError::TooFewClasses(1)));
        assert_eq!(check_password("ABCDEFGH12"), Err(PasswordRuleError::TooFewClasses(2)));
        assert_eq!(check_password("abcdefgh@#"), Err(PasswordRuleError::TooFewClasses(2)));
    }

    #[test]
    fn every_allowed_symbol_is_a_symbol() {
        for s in ALLOWED_SYMBOLS.chars() {
            let pw = format!("abcdefgh1{s}");
            assert_eq!(check_password(&pw), Ok(()), "{pw}");
        }
    }

    #[test]
    fn symbols_outside_the_list_are_refused() {
        for c in ['!', '?', '/', '(', ')', '~', '"', '\'', ' ', '\\', '<', '；', 'é', 'あ', '１'] {
            let pw = format!("Abcdefgh1{c}");
            assert_eq!(check_password(&pw), Err(PasswordRuleError::ForbiddenCharacter(c)), "{pw:?}");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Nine ASCII characters plus a forbidden multi-byte one is refused for the character,
        // never miscounted as long enough.
        assert_eq!(check_password("Abcdefgh1ア"), Err(PasswordRuleError::ForbiddenCharacter('ア')));
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(PasswordRuleError::TooShort(1).code(), "password_too_short");
        assert_eq!(PasswordRuleError::TooLong(17).code(), "password_too_long");
        assert_eq!(PasswordRuleError::ForbiddenCharacter('!').code(), "password_forbidden_character");
        assert_eq!(PasswordRuleError::TooFewClasses(2).code(), "password_too_few_classes");
    }

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_password("Abcdefgh12").unwrap();
        let b = hash_password("Abcdefgh12").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify_password("Abcdefgh12", &a));
        assert!(!verify_password("Abcdefgh13", &a));
        assert!(!verify_password("Abcdefgh12", "not a hash"));
        assert!(!verify_password("Dummy-password-1", dummy_hash()));
    }

    #[test]
    fn generated_passwords_follow_the_rules() {
        for _ in 0..200 {
            let pw = generate_password();
            assert_eq!(check_password(&pw), Ok(()), "{pw}");
        }
    }
}
