//! The few words shown outside the window (the tray, OS notifications), in Japanese and
//! English. Everything in the window comes from the UI's catalogues.

use inkan_protocol::display::group_thousands;
use inkan_protocol::{ChallengeDetails, RpName};

use crate::settings::Language;

/// Who is asking: the brokerage's name in this language, or the server's host (never a port)
/// for accounts enrolled without one.
pub fn asker(rp_name: Option<&RpName>, origin: &str, lang: Language) -> String {
    match (rp_name, lang) {
        (Some(n), Language::Ja) => n.ja.clone(),
        (Some(n), Language::En) => n.en.clone(),
        (None, _) => url::Url::parse(origin)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| origin.to_owned()),
    }
}

/// Title and body of the OS notification for a new challenge from `who`. It names what is
/// asked and by whom, never a number to type. On a locked screen it names only the kind and
/// the asker: no amount, destination or address.
pub fn notification(details: &ChallengeDetails, who: &str, lang: Language, locked: bool) -> (String, String) {
    match (details, lang, locked) {
        (ChallengeDetails::Login(_), Language::Ja, true) => {
            ("ログインの承認依頼".into(), format!("{who}：アプリで内容を確認してください"))
        }
        (ChallengeDetails::Login(_), Language::En, true) => {
            ("Login approval request".into(), format!("{who}: check it in the app"))
        }
        (ChallengeDetails::Withdrawal(_), Language::Ja, true) => {
            ("出金の承認依頼".into(), format!("{who}：アプリで内容を確認してください"))
        }
        (ChallengeDetails::Withdrawal(_), Language::En, true) => {
            ("Withdrawal approval request".into(), format!("{who}: check it in the app"))
        }
        (ChallengeDetails::Login(l), Language::Ja, false) => (
            "ログインの承認依頼".into(),
            format!("{who}：{}から（{}・{}）", in_language(&l.place, lang), l.ip, l.browser),
        ),
        (ChallengeDetails::Login(l), Language::En, false) => (
            "Login approval request".into(),
            format!("{who}: from {} ({}, {})", in_language(&l.place, lang), l.ip, l.browser),
        ),
        (ChallengeDetails::Withdrawal(w), Language::Ja, false) => (
            "出金の承認依頼".into(),
            format!(
                "{who}：{}円 → {} {} {}",
                group_thousands(w.amount),
                in_language(&w.bank, lang),
                in_language(&w.branch, lang),
                w.account_masked
            ),
        ),
        (ChallengeDetails::Withdrawal(w), Language::En, false) => (
            "Withdrawal approval request".into(),
            format!(
                "{who}: ¥{} → {} {} {}",
                group_thousands(w.amount),
                in_language(&w.bank, lang),
                in_language(&w.branch, lang),
                w.account_masked
            ),
        ),
    }
}

/// The notification's one action: open the request in the window.
pub fn notification_open(lang: Language) -> &'static str {
    match lang {
        Language::Ja => "内容を確認",
        Language::En => "Review",
    }
}

/// The half of a signed "日本語 / English" pair for this language (the place of a login).
fn in_language(pair: &str, lang: Language) -> &str {
    match pair.split_once(" / ") {
        Some((ja, en)) if !ja.is_empty() && !en.is_empty() && !en.contains(" / ") => match lang {
            Language::Ja => ja,
            Language::En => en,
        },
        _ => pair,
    }
}

/// The tray's tooltip (and label where the platform shows one).
pub fn pending_count(n: usize, lang: Language) -> String {
    match (lang, n) {
        (Language::Ja, 0) => "Inkan：承認待ちはありません".into(),
        (Language::Ja, n) => format!("Inkan：承認待ち {n} 件"),
        (Language::En, 0) => "Inkan: nothing to approve".into(),
        (Language::En, 1) => "Inkan: 1 request waiting".into(),
        (Language::En, n) => format!("Inkan: {n} requests waiting"),
    }
}

pub fn menu_open(lang: Language) -> &'static str {
    match lang {
        Language::Ja => "Inkan を開く",
        Language::En => "Open Inkan",
    }
}

pub fn menu_quit(lang: Language) -> &'static str {
    match lang {
        Language::Ja => "終了",
        Language::En => "Quit",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkan_protocol::{LoginContext, WithdrawalContext};

    fn withdrawal() -> ChallengeDetails {
        ChallengeDetails::Withdrawal(WithdrawalContext {
            amount: 1_250_000,
            currency: "JPY".into(),
            bank: "みずほ銀行 / Mizuho Bank".into(),
            branch: "渋谷支店 / Shibuya".into(),
            account_masked: "****5678".into(),
            requested_at: "2026-11-24T18:00:00+09:00".into(),
        })
    }

    #[test]
    fn notifications_name_the_asker_and_what_in_one_language() {
        let name = RpName { ja: "いんかん証券".into(), en: "Inkan Securities".into() };
        let ja = asker(Some(&name), "http://127.0.0.1:44967", Language::Ja);
        assert_eq!(ja, "いんかん証券");
        assert_eq!(asker(None, "http://127.0.0.1:44967", Language::Ja), "127.0.0.1", "a host, never a port");
        assert_eq!(
            notification(&withdrawal(), &ja, Language::Ja, false),
            ("出金の承認依頼".to_owned(), "いんかん証券：1,250,000円 → みずほ銀行 渋谷支店 ****5678".to_owned())
        );
        assert_eq!(
            notification(&withdrawal(), "Inkan Securities", Language::En, false).1,
            "Inkan Securities: ¥1,250,000 → Mizuho Bank Shibuya ****5678"
        );
        let login = ChallengeDetails::Login(LoginContext {
            time: "2026-11-24T18:00:00+09:00".into(),
            ip: "203.0.113.7".into(),
            place: "東京都 / Tokyo".into(),
            browser: "Chrome 131 / Windows 11".into(),
        });
        assert_eq!(
            notification(&login, &ja, Language::Ja, false).1,
            "いんかん証券：東京都から（203.0.113.7・Chrome 131 / Windows 11）"
        );
        // Locked: no amount, destination, place or address.
        for d in [withdrawal(), login] {
            let (_, body) = notification(&d, &ja, Language::Ja, true);
            assert_eq!(body, "いんかん証券：アプリで内容を確認してください");
        }
    }
}
