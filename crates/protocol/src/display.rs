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

/// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds of an RFC 3339 time ("2026-11-24T18:00:00+09:00", "…Z", fractions ignored);
/// `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let (oh, om) = (num(text.len() - 5..text.len() - 3)?, num(text.len() - 2..text.len())?);
            let secs = oh * 3600 + om * 60;
            if rest.starts_with('-') { -secs } else { secs }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// A time as a Japanese customer reads it, in Japan time: "2026年12月2日 6:43".
pub fn jst_date_ja(unix: i64) -> String {
    let (y, m, d, h, min, _) = jst_parts(unix);
    format!("{y}年{m}月{d}日 {h}:{min:02}")
}

/// The same time in English, in Japan time: "2 Dec 2026, 06:43".
pub fn jst_date_en(unix: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, m, d, h, min, _) = jst_parts(unix);
    format!("{d} {} {y}, {h:02}:{min:02}", MONTHS[(m - 1) as usize])
}

/// Masks all but the last four characters, in the one style the site, the app and the CLI
/// share: four stars and the last four ("1234567" -> "****4567", "12345678" -> "****5678"), so the
/// masked form does not tell the length either. Values shorter than seven characters keep
/// only their last half, so a short value never shows mostly in the clear.
pub fn mask_tail(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() >= 7 {
        return format!("****{}", chars[chars.len() - 4..].iter().collect::<String>());
    }
    let keep = chars.len() / 2;
    format!("{}{}", "*".repeat((chars.len() - keep).max(1)), chars[chars.len() - keep..].iter().collect::<String>())
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

    /// The dates both languages write (the app's UI writes the same: ui/tests/views.test.ts).
    const DATE_CASES: [(i64, &str, &str); 4] = [
        // 2026-12-01T21:43:00Z is 2 December, 06:43 in Japan.
        (1_796_161_380, "2026年12月2日 6:43", "2 Dec 2026, 06:43"),
        // Midnight in Japan, and the turn of the year.
        (1_798_729_200, "2027年1月1日 0:00", "1 Jan 2027, 00:00"),
        (1_798_729_199, "2026年12月31日 23:59", "31 Dec 2026, 23:59"),
        (0, "1970年1月1日 9:00", "1 Jan 1970, 09:00"),
    ];

    #[test]
    fn dates_as_people_read_them() {
        for (unix, ja, en) in DATE_CASES {
            assert_eq!(jst_date_ja(unix), ja, "{unix}");
            assert_eq!(jst_date_en(unix), en, "{unix}");
            assert_eq!(parse_rfc3339(&jst_rfc3339(unix)), Some(unix), "{unix}");
        }
        assert_eq!(parse_rfc3339("2026-12-01T21:43:00Z"), Some(1_796_161_380));
        assert_eq!(parse_rfc3339("2026-12-01T21:43:00.123456Z"), Some(1_796_161_380));
        assert_eq!(parse_rfc3339("2026-12-01T16:43:00-05:00"), Some(1_796_161_380));
        for bad in [
            "",
            "2026-12-01",
            "2026-12-01T21:43:00",
            "2026-13-01T00:00:00Z",
            "2026-12-01T21:43:00+0900",
            "x026-12-01T21:43:00Z",
            "2026-12-01T21:43:00.Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

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
