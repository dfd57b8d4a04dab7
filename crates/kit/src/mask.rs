//! Masking (マスキング) of personal data: what the site shows, what mails say, and what logs
//! carry. Every place that prints a customer's e-mail, phone or account number goes through here.

/// Stars for `n` hidden characters: at least one, so a short value never shows in full.
fn stars(n: usize) -> String {
    "*".repeat(n.max(1))
}

/// Keeps the first `keep` characters (fewer for short text, never all of it).
fn keep_head(text: &str, keep: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let keep = keep.min(chars.len().saturating_sub(1));
    format!("{}{}", chars[..keep].iter().collect::<String>(), stars(chars.len() - keep))
}

pub use inkan_protocol::display::mask_tail;

/// "taro@example.com" -> "ta**@ex*****.com": the first two characters of the local part and of
/// the domain's first label, the rest of the domain from its first dot.
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return keep_head(email, 2);
    };
    let (name, rest) = match domain.find('.') {
        Some(dot) => domain.split_at(dot),
        None => (domain, ""),
    };
    format!("{}@{}{}", keep_head(local, 2), keep_head(name, 2), rest)
}

/// "090-1234-5678" -> "090-****-5678": separators stay; of ten digits or more the first three
/// and last four stay, of fewer only the last half (at most four).
pub fn mask_phone(phone: &str) -> String {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let (head, tail) = if digits >= 10 { (3, 4) } else { (0, (digits / 2).min(4)) };
    let mut seen = 0;
    let mut out: String = phone
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return if c.is_ascii_punctuation() || c == ' ' { c } else { '*' };
            }
            seen += 1;
            if seen <= head || seen > digits - tail { c } else { '*' }
        })
        .collect();
    if digits == 0 {
        out = stars(phone.chars().count());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(mask_email("taro@example.com"), "ta**@ex*****.com");
        assert_eq!(mask_email("tanaka.hanako@example.co.jp"), "ta***********@ex*****.co.jp");
        // Short parts never show in full.
        assert_eq!(mask_email("a@b.jp"), "*@*.jp");
        assert_eq!(mask_email("ab@cd.jp"), "a*@c*.jp");
        assert_eq!(mask_email("abc@localhost"), "ab*@lo*******");
        // Odd input: no @, several @, empty.
        assert_eq!(mask_email("not-an-address"), "no************");
        assert_eq!(mask_email("a@b@example.com"), "a@*@ex*****.com");
        assert_eq!(mask_email(""), "*");
        assert_eq!(mask_email("@example.com"), "*@ex*****.com");
        // Non-ASCII is counted in characters.
        assert_eq!(mask_email("たろう@例え.jp"), "たろ*@例*.jp");
    }

    #[test]
    fn phones() {
        assert_eq!(mask_phone("090-1234-5678"), "090-****-5678");
        assert_eq!(mask_phone("09012345678"), "090****5678");
        assert_eq!(mask_phone("03-1234-5678"), "03-1***-5678");
        assert_eq!(mask_phone("+81 90 1234 5678"), "+81 9* **** 5678");
        // Short numbers keep at most their last half.
        assert_eq!(mask_phone("110"), "**0");
        assert_eq!(mask_phone("1"), "*");
        assert_eq!(mask_phone(""), "*");
        assert_eq!(mask_phone("unknown"), "*******");
    }

    #[test]
    fn account_numbers() {
        assert_eq!(mask_tail("12345678"), "****5678");
        assert_eq!(mask_tail("1234567"), "****4567");
        assert_eq!(mask_tail("123456"), "***456");
        assert_eq!(mask_tail("1234"), "**34");
        assert_eq!(mask_tail("12"), "*2");
        assert_eq!(mask_tail("1"), "*");
        assert_eq!(mask_tail(""), "*");
        assert_eq!(mask_tail("123456789012345678"), "****5678", "the length is not told either");
    }
}
