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

#[cfg(test)]
mod tests {
    use super::*;

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
