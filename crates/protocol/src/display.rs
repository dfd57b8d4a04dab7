//! How numbers and times are written for people, the same on the server's pages and mails and
//! in the app: yen with thousands separators, times in Japan Standard Time (UTC+9, no DST).

/// 1250000 -> "1,250,000".
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Offset of Japan Standard Time from UTC, in seconds.
pub const JST_OFFSET_SECS: i64 = 9 * 3600;

/// (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn jst_parts(unix: i64) -> (i64, u32, u32, i64, i64, i64) {
    let local = unix + JST_OFFSET_SECS;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// "2026-11-24T09:30:05+09:00".
pub fn jst_rfc3339(unix: i64) -> String {
    let (y, m, d, h, min, s) = jst_parts(unix);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}+09:00")
}

/// "2026-11-24 09:30 JST".
pub fn jst_minutes(unix: i64) -> String {
    let (y, m, d, h, min, _) = jst_parts(unix);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02} JST")
}

/// Masks all but the last four characters: "12345678" -> "****5678" (at most 8 stars).
/// Values shorter than seven characters keep only their last half, so a short value never
/// shows mostly in the clear.
pub fn mask_tail(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let keep = if chars.len() >= 7 { 4 } else { chars.len() / 2 };
    let hidden = chars.len() - keep;
    format!("{}{}", "*".repeat(hidden.clamp(1, 8)), chars[chars.len() - keep..].iter().collect::<String>())
}

/// Why a piece of text cannot be shown to a person (and signed as what they saw).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// Empty or only white space.
    Empty,
    /// More characters than allowed.
    TooLong,
    /// A control character (C0, DEL, C1), or a line or paragraph separator.
    Control,
    /// An invisible formatting character: bidirectional overrides, embeddings and isolates,
    /// zero-width spaces and joiners, the byte-order mark, soft hyphen, tag characters. Each
    /// can make what a person sees differ from the characters that are signed.
    Invisible,
}

impl TextProblem {
    /// What is wrong, for error messages (English; the codes carry the meaning).
    pub fn describe(self, field: &str, max: usize) -> String {
        match self {
            TextProblem::Empty | TextProblem::TooLong => format!("{field} must be 1 to {max} characters"),
            TextProblem::Control => format!("{field} must not contain control characters or line breaks"),
            TextProblem::Invisible => format!(
                "{field} must not contain invisible formatting characters (bidirectional overrides, zero-width characters)"
            ),
        }
    }
}

/// Unicode format characters (general category Cf) and the line/paragraph separators: shown
/// as nothing, or reordering what is around them.
fn is_invisible_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0x0600..=0x0605 | 0x06DD | 0x070F | 0x0890 | 0x0891
        | 0x08E2 | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// The one rule for text a person is shown or types as a name: device and passkey names,
/// every display field of a challenge (what the device shows is exactly what it signs).
/// 1 to `max` characters, not all white space, no control characters, no line breaks, no
/// invisible formatting characters.
pub fn check_display_text(value: &str, max: usize) -> Result<(), TextProblem> {
    if value.trim().is_empty() {
        return Err(TextProblem::Empty);
    }
    if value.chars().count() > max {
        return Err(TextProblem::TooLong);
    }
    if value.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}') {
        return Err(TextProblem::Control);
    }
    if value.chars().any(is_invisible_format) {
        return Err(TextProblem::Invisible);
    }
    Ok(())
}

/// Digits of any script in `text` (ASCII, full-width ０-９, Arabic-Indic, ...): what a masking
/// rule must count, so that full-width digits cannot show more of a number than allowed.
pub fn digit_count(text: &str) -> usize {
    text.chars().filter(|c| c.is_numeric()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_text_rule() {
        let ok = ["みずほ銀行 / Mizuho Bank", "Chrome 131 / Windows 11", "山田 太郎", "A", "ノートPC 👩‍💻"];
        // The emoji above has a zero-width joiner inside a sequence: refused too (it is invisible).
        for v in &ok[..4] {
            assert_eq!(check_display_text(v, 64), Ok(()), "{v}");
        }
        let cases: &[(&str, TextProblem)] = &[
            ("", TextProblem::Empty),
            ("   ", TextProblem::Empty),
            ("line\nbreak", TextProblem::Control),
            ("bell\u{7}", TextProblem::Control),
            ("c1\u{85}", TextProblem::Control),
            ("sep\u{2028}", TextProblem::Control),
            ("\u{202E}knaB ykcA", TextProblem::Invisible),
            ("Bank\u{2066}x\u{2069}", TextProblem::Invisible),
            ("zero\u{200B}width", TextProblem::Invisible),
            ("joiner\u{200D}", TextProblem::Invisible),
            ("\u{FEFF}bom", TextProblem::Invisible),
            ("soft\u{AD}hyphen", TextProblem::Invisible),
            ("tag\u{E0041}", TextProblem::Invisible),
            (ok[4], TextProblem::Invisible),
        ];
        for (v, want) in cases {
            assert_eq!(check_display_text(v, 64), Err(*want), "{v:?}");
        }
        assert_eq!(check_display_text(&"あ".repeat(65), 64), Err(TextProblem::TooLong));
        assert_eq!(check_display_text(&"あ".repeat(64), 64), Ok(()));
    }

    #[test]
    fn digits_of_every_script_count() {
        assert_eq!(digit_count("****5678"), 4);
        assert_eq!(digit_count("１２３４５６７８"), 8);
        assert_eq!(digit_count("****٥٦٧٨9"), 5);
    }

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1_250_000), "1,250,000");
    }

    #[test]
    fn japan_time() {
        assert_eq!(jst_rfc3339(0), "1970-01-01T09:00:00+09:00");
        // 2026-11-24T00:30:05Z is 09:30:05 in Tokyo.
        assert_eq!(jst_rfc3339(1_795_480_205), "2026-11-24T09:30:05+09:00");
        assert_eq!(jst_minutes(1_795_480_205), "2026-11-24 09:30 JST");
        // Day rollover in JST before UTC, leap day, and before 1970.
        assert_eq!(jst_rfc3339(1_795_532_400), "2026-11-25T00:00:00+09:00");
        assert_eq!(jst_rfc3339(1_709_164_800), "2024-02-29T09:00:00+09:00");
        assert_eq!(jst_rfc3339(-86_400), "1969-12-31T09:00:00+09:00");
    }
}
