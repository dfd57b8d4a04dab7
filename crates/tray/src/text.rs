//! The few words the shell itself shows outside the webview (tray, OS notification), in
//! Japanese and English. Everything in the window comes from the UI's catalogues.

use inkan_protocol::ChallengeDetails;
use inkan_protocol::display::group_thousands;

use crate::settings::Language;
use crate::views::ChallengeView;

/// Title and body of the OS notification for a new challenge. It names what is asked and
/// from where, never a number to type.
pub fn notification(view: &ChallengeView, lang: Language) -> (String, String) {
    match (&view.details, lang) {
        (ChallengeDetails::Login(l), Language::Ja) => {
            ("ログインの承認依頼".into(), format!("{} から（{}・{}）", l.place, l.ip, l.browser))
        }
        (ChallengeDetails::Login(l), Language::En) => {
            ("Login approval request".into(), format!("From {} ({}, {})", l.place, l.ip, l.browser))
        }
        (ChallengeDetails::Withdrawal(w), Language::Ja) => (
            "出金の承認依頼".into(),
            format!("{} 円 → {} {} {}", group_thousands(w.amount), w.bank, w.branch, w.account_masked),
        ),
        (ChallengeDetails::Withdrawal(w), Language::En) => (
            "Withdrawal approval request".into(),
            format!("¥{} → {} {} {}", group_thousands(w.amount), w.bank, w.branch, w.account_masked),
        ),
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
