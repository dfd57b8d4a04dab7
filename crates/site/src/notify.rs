//! The mails the customer receives (ログイン通知, 自動通知サービス, ワンタイム認証コード):
//! Japanese first, English second, personal data masked, never a secret but the code itself.

use inkan_protocol::display::{group_thousands, jst_minutes};

use super::db::CustomerRow;
use super::{mask_email, mask_tail};
use crate::mail::Mail;

/// Every subject starts with the brand, the way the brokerage's mails do.
const SUBJECT_PREFIX: &str = "【いんかん証券 / Inkan Securities】";
const FOOTER: &str = "このメールは送信専用です。お心当たりのない場合は、サポートセンターにご連絡ください。\nThis mail is sent automatically. If you did not expect it, call the support centre.";

fn mail(customer: &CustomerRow, subject: &str, ja: &str, en: &str) -> Mail {
    mail_to(&customer.email, subject, ja, en)
}

fn mail_to(to: &str, subject: &str, ja: &str, en: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: format!("{SUBJECT_PREFIX}{subject}"),
        body: format!("{ja}\n\n----\n\n{en}\n\n{FOOTER}\n"),
    }
}

pub fn email_code(customer: &CustomerRow, code: &str, purpose: &str, ttl_secs: i64) -> Mail {
    let minutes = ttl_secs / 60;
    let (what_ja, what_en) = match purpose {
        "withdrawal" => ("出金", "withdrawal"),
        _ => ("ログイン", "login"),
    };
    mail(
        customer,
        "ワンタイム認証コード / One-time code",
        &format!(
            "{what_ja}のワンタイム認証コード: {code}\n{minutes}分間有効です。このコードを他人に教えないでください。当社がコードをお尋ねすることはありません。"
        ),
        &format!(
            "Your one-time code for this {what_en}: {code}\nValid for {minutes} minutes. Never tell anyone this code; we will never ask for it."
        ),
    )
}

pub fn login_notice(customer: &CustomerRow, at: i64, ip: &str, place: &super::geo::Place, browser: &str) -> Mail {
    let when = jst_minutes(at);
    mail(
        customer,
        "ログインのお知らせ / Login notice",
        &format!(
            "口座 {} にログインがありました。\n日時: {when}\nIP アドレス: {ip}\n場所(目安): {}\nブラウザ: {browser}",
            mask_tail(&customer.account_id),
            place.ja
        ),
        &format!(
            "Someone logged in to account {}.\nWhen: {when}\nIP address: {ip}\nPlace (approximate): {}\nBrowser: {browser}",
            mask_tail(&customer.account_id),
            place.en
        ),
    )
}

pub fn withdrawal_notice(customer: &CustomerRow, amount: i64, bank: &str, number: &str, at: i64) -> Mail {
    let amount = group_thousands(amount.unsigned_abs());
    let dest = format!("{bank} {}", mask_tail(number));
    let when = jst_minutes(at);
    mail(
        customer,
        "出金のご依頼を受け付けました / Withdrawal request received",
        &format!("出金のご依頼を受け付けました。\n金額: {amount}円\n出金先: {dest}\n日時: {when}"),
        &format!("We received a withdrawal request.\nAmount: ¥{amount}\nTo: {dest}\nWhen: {when}"),
    )
}

pub fn device_enrolled(customer: &CustomerRow, name: &str, platform: &str) -> Mail {
    mail(
        customer,
        "認証アプリが登録されました / Authenticator app added",
        &format!(
            "新しい認証アプリが登録されました。\n名前: {name}\n環境: {platform}\nお心当たりのない場合は、すぐにセキュリティ設定から登録を解除し、サポートセンターにご連絡ください。"
        ),
        &format!(
            "A new authenticator app was added.\nName: {name}\nPlatform: {platform}\nIf this was not you, remove it in your security settings at once and call the support centre."
        ),
    )
}

pub fn device_revoked(customer: &CustomerRow, name: &str) -> Mail {
    mail(
        customer,
        "認証アプリの登録が解除されました / Authenticator app removed",
        &format!("認証アプリ「{name}」の登録が解除されました。"),
        &format!("The authenticator app \"{name}\" was removed."),
    )
}

pub fn fraud_reported(customer: &CustomerRow) -> Mail {
    mail(
        customer,
        "「心当たりがない」と報告されました / \"Not me\" reported",
        "認証アプリで、心当たりのないログインまたは出金の要求が報告されました。その手続きは中止し、認証アプリへの通知を停止しました。パスワードが漏れている可能性があります。すぐにパスワードを変更し、サポートセンターにご連絡ください。",
        "Your authenticator app reported a login or withdrawal you did not start. It was stopped, and notifications to the app are paused. Your password may be known to someone else: change it now and call the support centre.",
    )
}

pub fn passkey_added(customer: &CustomerRow, name: &str, at: i64) -> Mail {
    let (when, account) = (jst_minutes(at), mask_tail(&customer.account_id));
    mail(
        customer,
        "パスキー登録のお知らせ / Passkey registered",
        &format!(
            "口座 {account} にパスキー「{name}」が登録されました。\n日時: {when}\nお心当たりのない場合は、すぐにパスワードを変更し、サポートセンターにご連絡ください。"
        ),
        &format!(
            "A passkey \"{name}\" was registered for account {account}.\nWhen: {when}\nIf this was not you, change your password now and call the support centre."
        ),
    )
}

pub fn passkey_removed(customer: &CustomerRow, name: &str, at: i64) -> Mail {
    let (when, account) = (jst_minutes(at), mask_tail(&customer.account_id));
    mail(
        customer,
        "パスキー削除のお知らせ / Passkey removed",
        &format!("口座 {account} のパスキー「{name}」が削除されました。\n日時: {when}"),
        &format!("The passkey \"{name}\" of account {account} was removed.\nWhen: {when}"),
    )
}

pub fn passkey_suspended(customer: &CustomerRow, name: &str, at: i64) -> Mail {
    let (when, account) = (jst_minutes(at), mask_tail(&customer.account_id));
    mail(
        customer,
        "パスキー停止のお知らせ / Passkey suspended",
        &format!(
            "口座 {account} のパスキー「{name}」が複製された疑いがあるため、使えないようにしました。\n日時: {when}\nパスワードでログインし、このパスキーを削除してから登録し直してください。"
        ),
        &format!(
            "The passkey \"{name}\" of account {account} may have been copied, so it was suspended.\nWhen: {when}\nLog in with your password, remove this passkey and register a new one."
        ),
    )
}

pub fn destination_changed(customer: &CustomerRow, masked: &str, at: i64, usable_from: i64) -> Mail {
    let (when, from, account) = (jst_minutes(at), jst_minutes(usable_from), mask_tail(&customer.account_id));
    mail(
        customer,
        "出金先口座変更のお知らせ / Withdrawal account changed",
        &format!(
            "口座 {account} の出金先口座が変更されました。\n新しい出金先: {masked}\n日時: {when}\n新しい出金先へは {from} から出金できます。\nお心当たりのない場合は、すぐにサポートセンターにご連絡ください。"
        ),
        &format!(
            "The withdrawal account of account {account} was changed.\nNew destination: {masked}\nWhen: {when}\nWithdrawals to it are possible from {from}.\nIf this was not you, call the support centre now."
        ),
    )
}

pub fn password_changed(customer: &CustomerRow, at: i64) -> Mail {
    let when = jst_minutes(at);
    mail(
        customer,
        "パスワードが変更されました / Password changed",
        &format!("ログインパスワードが変更されました({when})。"),
        &format!("Your login password was changed ({when})."),
    )
}

/// To the old and to the new address.
pub fn email_changed(customer: &CustomerRow, new_email: &str) -> [Mail; 2] {
    let ja = format!(
        "認証メールアドレスが {} から {} に変更されました。",
        mask_email(&customer.email),
        mask_email(new_email)
    );
    let en = format!(
        "Your authentication e-mail was changed from {} to {}.",
        mask_email(&customer.email),
        mask_email(new_email)
    );
    let subject = "認証メールアドレスが変更されました / Authentication e-mail changed";
    [mail_to(&customer.email, subject, &ja, &en), mail_to(new_email, subject, &ja, &en)]
}

pub fn account_locked(customer: &CustomerRow) -> Mail {
    mail(
        customer,
        "口座をロックしました / Account locked",
        "パスワード・認証コード・確認番号・パスキーのいずれかで続けて失敗したため、口座をロックしました。ログインと出金はできません。\nロックの解除には、ご本人確認が必要です。サポートセンターにお電話ください。このメールから解除することはできません。\nお心当たりのない場合は、パスワードが他人に知られている可能性があります。",
        "Your account is locked after repeated failures (password, code, typed number or passkey). Logins and withdrawals are stopped.\nTo unlock it we must verify your identity: call the support centre. It cannot be unlocked from this mail.\nIf this was not you, someone may know your password.",
    )
}

/// The mail for an event the verifier reported, if the customer is told about it (a lock is
/// mailed by whoever counted it).
pub fn for_event(customer: &CustomerRow, event: &inkan_protocol::RpEventData) -> Option<Mail> {
    use inkan_protocol::RpEventData as E;
    match event {
        E::DeviceEnrolled { name, platform, .. } => Some(device_enrolled(customer, name, platform)),
        E::DeviceRevoked { name, .. } => Some(device_revoked(customer, name)),
        E::FraudReported { .. } => Some(fraud_reported(customer)),
        E::FactorFailed { .. } | E::ChallengeSettled { .. } => None,
    }
}
