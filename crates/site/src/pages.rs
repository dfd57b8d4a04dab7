//! The page frame, the stylesheet and the one script, and small pieces every page uses.

use crate::audit::AuditEvent;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::db::CustomerRow;
use super::i18n::{Lang, T};
use super::{CSRF_FIELD, Visitor};

pub const CSS: &str = include_str!("site.css");
pub const JS: &str = include_str!("site.js");

/// The frame around every page: brand, navigation when logged in, language switch.
pub fn layout(v: &Visitor, title: T, customer: Option<&CustomerRow>, body: Markup) -> Markup {
    let lang = v.lang;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title.get(lang)) " | " (T::Brand.get(lang)) }
                link rel="stylesheet" href="/static/site.css";
                script src="/static/site.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { span.seal { "印" } (T::Brand.get(lang)) }
                    @if customer.is_some() {
                        nav {
                            a href="/home" { (T::NavHome.get(lang)) }
                            a href="/withdraw" { (T::NavWithdraw.get(lang)) }
                            a href="/settings" { (T::NavSettings.get(lang)) }
                            a href="/activity" { (T::NavActivity.get(lang)) }
                        }
                    }
                    div.tools {
                        a.lang href={ "/lang/" (lang.other().code()) "?back=" (v.path) } hreflang=(lang.other().code()) {
                            (T::OtherLanguage.get(lang))
                        }
                        @if customer.is_some() {
                            form method="post" action="/logout" { (csrf(v)) button.link type="submit" { (T::Logout.get(lang)) } }
                        }
                    }
                }
                main {
                    h1 { (title.get(lang)) }
                    (body)
                }
                footer { p { (T::DemoNotice.get(lang)) } }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(v: &Visitor) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(v.csrf); }
}

pub fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { (text) } }
}

/// A caution the customer should read before going on (not a success, not a failure).
pub fn warning(text: &str) -> Markup {
    html! { p.warning role="note" { (text) } }
}

pub fn error(text: &str) -> Markup {
    html! { p.error role="alert" { (text) } }
}

/// A page that waits for something (an approval, an enrollment) and reloads when the status
/// URL says it is settled; without scripts it refreshes itself.
pub fn waiting(status_url: &str, text: &str) -> Markup {
    html! {
        div.waiting data-wait-url=(status_url) aria-live="polite" {
            span.spinner aria-hidden="true" {}
            span { (text) }
        }
        noscript { meta http-equiv="refresh" content="5"; }
    }
}

/// The number the person types into the app, large.
pub fn number_box(lang: Lang, number: &str) -> Markup {
    html! {
        div.number {
            span.label { (T::NumberToType.get(lang)) }
            strong data-number=(number) { (number) }
        }
    }
}

/// "Approve with the app on this computer": the page asks the desktop app on the loopback
/// port to take up this challenge with this number (site.js; the app checks the page's origin).
pub fn loopback_button(v: &Visitor, url: &str, challenge_id: &str, number: &str) -> Markup {
    html! {
        form.loopback data-loopback=(url) data-challenge=(challenge_id) data-number-value=(number)
            data-msg-sent=(v.t(T::LoopbackSent)) data-msg-unreachable=(v.t(T::LoopbackUnreachable)) data-msg-refused=(v.t(T::LoopbackRefused)) {
            button.secondary type="submit" { (v.t(T::LoopbackButton)) }
            p.hint { (v.t(T::LoopbackHint)) }
            p.loopback-status role="status" aria-live="polite" {}
        }
    }
}

/// An error page outside the frame (no session or language needed): both languages.
pub fn error_page(code: &str, ja: &str, en: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "エラー / Error" }
                link rel="stylesheet" href="/static/site.css";
            }
            body {
                main {
                    h1 { "エラー / Error" }
                    p.error role="alert" data-error-code=(code) { (ja) }
                    p.error lang="en" { (en) }
                    p { a href="/" { "トップへ戻る / Back to the top page" } }
                }
            }
        }
    }
}

/// An inline SVG QR code (from [`crate::qr::svg`]) without its XML declaration.
pub fn inline_svg(svg: &str) -> Markup {
    let start = svg.find("<svg").unwrap_or(0);
    PreEscaped(svg[start..].to_owned())
}

/// An audit event's name for people; a name this version does not write shows as stored.
/// The match has no catch-all: every event the site writes has its words.
/// The half of a name kept in both languages ("みずほ銀行 / Mizuho Bank", "山田 太郎 / Taro
/// Yamada") that a page in `lang` shows; a name in one language shows as it is. One language
/// per page: the pair stays whole only where both readers see the same text (the signed
/// details the app shows, mails, the audit log).
pub fn in_lang(lang: Lang, text: &str) -> &str {
    match text.split_once(" / ") {
        Some((ja, en)) => match lang {
            Lang::Ja => ja.trim(),
            Lang::En => en.trim(),
        },
        None => text,
    }
}

pub fn event_label(lang: Lang, stored: &str) -> String {
    let Some(event) = AuditEvent::from_stored(stored) else { return stored.to_owned() };
    let t = match event {
        AuditEvent::CustomerCreated => T::EvCustomerCreated,
        AuditEvent::AccountLocked => T::EvAccountLocked,
        AuditEvent::AccountUnlocked => T::EvAccountUnlocked,
        AuditEvent::PushesRestored => T::EvPushesRestored,
        AuditEvent::LoginUnknownAccount => T::EvLoginUnknownAccount,
        AuditEvent::LoginPasswordOk => T::EvPasswordOk,
        AuditEvent::LoginPasswordWrong => T::EvPasswordWrong,
        AuditEvent::LoginRefusedLocked => T::EvRefusedLocked,
        AuditEvent::LoginRefusedLockedWrongPassword => T::EvRefusedLockedWrongPassword,
        AuditEvent::LoginSwitchedToEmailCode => T::EvSwitchedToEmail,
        AuditEvent::LoginCodeWrong | AuditEvent::EmailCodeWrong => T::EvCodeWrong,
        AuditEvent::LoginSucceeded => T::EvLoginSucceeded,
        AuditEvent::LoginAttemptEnded => T::EvLoginAttemptEnded,
        AuditEvent::Logout => T::EvLogout,
        AuditEvent::SessionExpired => T::EvSessionExpired,
        AuditEvent::EmailCodeSent => T::EvCodeSent,
        AuditEvent::EmailCodeAccepted => T::EvCodeAccepted,
        AuditEvent::DeviceEnrolled => T::EvDeviceEnrolled,
        AuditEvent::DeviceRevoked => T::EvDeviceRevoked,
        AuditEvent::FraudReported => T::EvNotMe,
        AuditEvent::NumberMismatch => T::EvNumberMismatch,
        AuditEvent::WithdrawalRequested => T::EvWithdrawalRequested,
        AuditEvent::WithdrawalPasswordWrong => T::EvWithdrawalPasswordWrong,
        AuditEvent::WithdrawalCodeWrong => T::EvWithdrawalCodeWrong,
        AuditEvent::WithdrawalRefusedNoPasskey => T::EvWithdrawalRefusedNoPasskey,
        AuditEvent::WithdrawalPasskeyConfirmed => T::EvWithdrawalPasskeyConfirmed,
        AuditEvent::WithdrawalCompleted => T::EvWithdrawalCompleted,
        AuditEvent::WithdrawalRefused => T::EvWithdrawalRefused,
        AuditEvent::DestinationChangePasswordWrong => T::EvDestinationChangePasswordWrong,
        AuditEvent::DestinationChanged => T::EvDestinationChanged,
        AuditEvent::PasswordChanged => T::EvPasswordChanged,
        AuditEvent::PasswordChangeWrongCurrent => T::EvPasswordChangeWrong,
        AuditEvent::EmailChanged => T::EvEmailChanged,
        AuditEvent::EmailChangeWrongCurrent => T::EvEmailChangeWrong,
        AuditEvent::EmailChangeWrongPassword => T::EvEmailChangeWrongPassword,
        AuditEvent::PasskeyRegistered => T::EvPasskeyRegistered,
        AuditEvent::PasskeyRegisterRefused => T::EvPasskeyRegisterRefused,
        AuditEvent::PasskeyRemoved => T::EvPasskeyRemoved,
        AuditEvent::PasskeyLoginUnknown => T::EvPasskeyLoginUnknown,
        AuditEvent::PasskeyLoginRefused | AuditEvent::PasskeyLoginRefusedSuspended => T::EvPasskeyRefused,
        AuditEvent::PasskeyCloneSuspected => T::EvPasskeyCloneSuspected,
    };
    t.get(lang).to_owned()
}

/// The parts of an audit event's detail a customer is shown (all masked at the source).
pub fn customer_detail(lang: Lang, detail: &str) -> String {
    const SHOWN: [&str; 8] = ["ip", "place", "browser", "amount", "to", "risk", "factors", "reason"];
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(detail) else {
        return String::new();
    };
    SHOWN
        .iter()
        .filter_map(|k| {
            map.get(*k).map(|v| match v {
                // A place is kept in both languages; the page shows its own.
                serde_json::Value::Object(names) if *k == "place" => {
                    format!("{k}: {}", names.get(lang.code()).and_then(|n| n.as_str()).unwrap_or_default())
                }
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod in_lang_tests {
    use super::{Lang, in_lang};

    #[test]
    fn a_page_shows_the_half_in_its_language() {
        assert_eq!(in_lang(Lang::Ja, "みずほ銀行 / Mizuho Bank"), "みずほ銀行");
        assert_eq!(in_lang(Lang::En, "みずほ銀行 / Mizuho Bank"), "Mizuho Bank");
        assert_eq!(in_lang(Lang::En, "山田 太郎 / Taro Yamada"), "Taro Yamada");
        assert_eq!(in_lang(Lang::En, "ゆうちょ銀行"), "ゆうちょ銀行", "one language only: as it is");
        assert_eq!(in_lang(Lang::Ja, "A/B"), "A/B", "a slash inside a name is not a pair");
    }
}
