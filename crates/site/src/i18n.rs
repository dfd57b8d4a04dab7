//! The site's message catalogue: every user-facing string, Japanese first, English second.
//! A message is an enum variant, so a page cannot name a message that does not exist, and
//! every message has both languages. `{0}`, `{1}` are filled by [`T::fill`].

/// The visitor's language: Japanese unless they switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }
}

macro_rules! catalogue {
    ($($name:ident => $ja:literal, $en:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum T { $($name,)* }

        impl T {
            pub const ALL: &'static [T] = &[$(T::$name,)*];

            pub fn get(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((T::$name, Lang::Ja) => $ja, (T::$name, Lang::En) => $en,)*
                }
            }
        }
    };
}

impl T {
    /// The message with `{0}`, `{1}`, … replaced by `args`.
    pub fn fill(self, lang: Lang, args: &[&dyn std::fmt::Display]) -> String {
        let mut out = self.get(lang).to_owned();
        for (i, arg) in args.iter().enumerate() {
            out = out.replace(&format!("{{{i}}}"), &arg.to_string());
        }
        out
    }
}

catalogue! {
    Brand => "いんかん証券", "Inkan Securities";
    DemoNotice => "これはデモサイトです。実在の金融機関ではありません。", "This is a demo site, not a real financial institution.";
    OtherLanguage => "English", "日本語";
    NavHome => "ホーム", "Home";
    NavWithdraw => "出金", "Withdraw";
    NavSettings => "セキュリティ設定", "Security settings";
    NavActivity => "最近のご利用履歴", "Recent activity";
    Logout => "ログアウト", "Log out";
    LoggedOut => "ログアウトしました。", "You have logged out.";
    SessionExpired => "一定時間が経過したため、自動的にログアウトしました。もう一度ログインしてください。", "You were logged out automatically after a period without activity. Please log in again.";
    SessionRule => "ログインから180分で自動的にログアウトします。終了5分前以内に操作すると、さらに180分延長されます。", "You are logged out automatically 180 minutes after logging in; any page you open in the last 5 minutes extends it by another 180 minutes.";

    LoginTitle => "ログイン", "Log in";
    AccountNumber => "口座番号", "Account number";
    Password => "パスワード", "Password";
    LoginButton => "ログイン", "Log in";
    WrongCredentials => "口座番号またはパスワードが正しくありません。", "The account number or password is incorrect.";
    AccountLocked => "認証に続けて失敗したため、口座をロックしています。解除にはご本人確認が必要です。サポートセンターにお電話ください。", "Your account is locked after repeated failed checks. Unlocking needs an identity check: call the support centre.";
    PhishingWarning => "ログイン画面の URL が正しいことを確認してください。メールやSMSのリンクからパスワードを入力しないでください。", "Check that this login page's address is right. Never type your password into a page opened from a mail or SMS link.";

    VerifyTitle => "追加認証", "Additional verification";
    RiskyLead => "いつもと異なる環境からのログインのため、認証メールアドレスでの確認が必要です。", "This login comes from an unfamiliar environment, so it must also be confirmed through your authentication e-mail address.";
    PushLead => "認証アプリに届いた通知を開き、内容を確認して、下の確認番号を入力してから承認してください。", "Open the notification in your authenticator app, check what it shows, type the number below, then approve.";
    WithdrawPushLead => "認証アプリに届いた出金内容(金額・出金先)を確認し、下の確認番号を入力してから承認してください。", "Check the withdrawal (amount and destination) shown in your authenticator app, type the number below, then approve.";
    NumberToType => "確認番号", "Number to type";
    Waiting => "承認をお待ちしています…", "Waiting for your approval…";
    ExpiresIn => "有効期限: {0}", "Valid until: {0}";
    UseEmailInstead => "認証アプリが使えない場合は、メールで認証コードを受け取る", "Can't use the app? Get a code by e-mail instead";
    PushDenied => "認証アプリで拒否されました。手続きは中止されました。", "It was denied in the authenticator app. Nothing was done.";
    PushBlockedExplained => "この口座では、認証アプリで「心当たりがない」と報告されたため、認証アプリへの通知を停止しています。ログインはメールの認証コードでできます。通知を再開するには、サポートセンターにご連絡ください(ご本人確認のうえ再開します)。", "Notifications to your authenticator app are stopped for this account because the app reported a request as \"not me\". You can log in with the e-mailed code. To have notifications turned back on, call the support centre (they restart them after checking your identity).";
    PushExpired => "承認の有効期限が切れました。", "The approval request expired.";
    PushCancelled => "この承認要求は取り下げられました。", "This approval request was withdrawn.";
    RiskyNeedsBoth => "いつもと異なる環境からのログインのため、メールの認証コードに加えて、認証アプリでの承認(またはアプリのオフラインコード)が必要です。", "This login comes from an unfamiliar environment, so it needs the e-mailed code and the approval in the authenticator app (or the app's offline code).";
    OfflineCodeWrong => "コードが正しくありません。", "The code is not right.";
    PushFailed => "アプリに入力された確認番号が違ったため、この承認要求は拒否されました。ご自身の操作であれば、最初からやり直してください。", "The number typed into the app was wrong, so this approval request was refused. If it was you, start again.";
    PushUnavailable => "認証アプリに通知を送れません。{0}", "Cannot notify your authenticator app. {0}";
    SendPushAgain => "もう一度通知する", "Notify again";
    StartOver => "最初からやり直す", "Start over";

    EmailCodeLead => "{0} にワンタイム認証コード({1}桁)を送りました。{2}分以内に入力してください。認証アプリのオフラインコードも入力できます。", "We sent a {1}-digit one-time code to {0}. Enter it within {2} minutes. The offline code of your authenticator app works too.";
    CodeLabel => "認証コード", "Code";
    Verify => "確認する", "Verify";
    CodeWrong => "認証コードが正しくありません。あと{0}回入力できます。", "The code is not right. {0} attempts left.";
    CodeExpired => "認証コードの有効期限が切れました。新しいコードを送ってください。", "The code has expired. Send a new one.";
    CodeTooManyAttempts => "入力の上限に達しました。新しいコードを送ってください。", "Too many attempts. Send a new code.";
    CodeMalformed => "認証コードは数字6桁です。", "The code is 6 digits.";
    ResendCode => "新しいコードを送る", "Send a new code";
    CodeSent => "新しい認証コードを送りました。", "A new code is on its way.";
    AttemptExpired => "ログイン手続きの有効期限が切れました。最初からやり直してください。", "This login has expired. Please start over.";

    Welcome => "{0} 様", "Welcome, {0}";
    PreviousLogin => "前回ログイン日時", "Previous login";
    CashBalance => "出金可能額", "Available cash";
    RegisteredDetails => "ご登録情報", "Registered details";
    Email => "認証メールアドレス", "Authentication e-mail";
    Phone => "電話番号", "Phone";
    Destination => "出金先口座", "Withdrawal account";
    Yen => "{0}円", "¥{0}";

    WithdrawTitle => "出金", "Withdraw";
    AmountYen => "出金額(円)", "Amount (yen)";
    WithdrawalPassword => "出金パスワード", "Withdrawal password";
    RequestWithdrawal => "出金を申し込む", "Request the withdrawal";
    AmountInvalid => "出金額は1円以上、出金可能額({0}円)以内、1回{1}円以内で入力してください。", "Enter an amount from ¥1 up to your available cash (¥{0}), at most ¥{1} at a time.";
    DestinationInvalid => "出金先口座を選んでください。", "Choose a withdrawal account.";
    WrongWithdrawalPassword => "出金パスワードが正しくありません。", "The withdrawal password is incorrect.";
    WithdrawCompleted => "出金を受け付けました。", "Your withdrawal has been accepted.";
    WithdrawRefused => "出金は承認されず、取り消されました。", "The withdrawal was not approved and has been cancelled.";
    WithdrawEmailLead => "出金を確定するには、認証メールアドレスに送った認証コードを入力してください。", "To confirm the withdrawal, enter the code sent to your authentication address.";

    SettingsTitle => "セキュリティ設定", "Security settings";
    Authenticators => "認証アプリ", "Authenticator apps";
    DeviceName => "名前", "Name";
    Platform => "環境", "Platform";
    EnrolledAt => "登録日時", "Added";
    LastUsed => "最終利用", "Last used";
    Never => "未使用", "Never";
    Revoke => "登録を解除", "Remove";
    Revoked => "認証アプリの登録を解除しました。", "The authenticator app was removed.";
    NoAuthenticators => "認証アプリは登録されていません。ログインと出金の確認はメールの認証コードで行います。", "No authenticator app is registered. Logins and withdrawals are confirmed with e-mailed codes.";
    AddAuthenticator => "認証アプリを追加する", "Add an authenticator app";
    LoopbackButton => "この PC の Inkan アプリで承認", "Approve with Inkan on this computer";
    LoopbackHint => "この PC で Inkan アプリを起動している場合に使えます。アプリの画面で内容を確かめてから承認してください。", "Works when the Inkan app runs on this computer. Check the details in the app before you approve.";
    LoopbackSent => "アプリに送りました。アプリの画面で承認してください。", "Sent to the app. Approve in the app.";
    LoopbackUnreachable => "この PC の Inkan アプリが応答しません。スマートフォンのアプリで番号を入力してください。", "The Inkan app on this computer did not answer. Type the number in the app on your phone.";
    LoopbackRefused => "アプリがこの依頼を受け付けませんでした。", "The app did not accept this request.";
    WithdrawPasskeyLead => "この出金(金額と出金先)をパスキーで確認してください。確認後、認証アプリにも通知が届きます。", "Confirm this withdrawal (amount and destination) with your passkey. The authenticator app is asked next.";
    WithdrawPasskeyButton => "パスキーで出金を確認", "Confirm the withdrawal with a passkey";
    WithdrawInterim => "パスキーが未登録のため、移行期間の措置として認証アプリ(またはメールの認証コード)だけで出金を受け付けています。フィッシングに強いパスキーの登録をお勧めします。", "You have no passkey, so during the transition period this withdrawal is confirmed with the authenticator app (or the e-mailed code) alone. Register a passkey: it resists phishing.";
    WithdrawNeedsPasskey => "出金にはパスキーによる確認が必要です。セキュリティ設定でパスキーを登録してください。", "Withdrawals need a passkey. Register one in security settings.";
    WithdrawChanged => "確認の途中で金額または出金先が変わったため、この出金を取り消しました。", "The amount or destination changed during the check, so this withdrawal was cancelled.";
    DestChangeTitle => "出金先口座の変更", "Change the withdrawal account";
    DestChangeLead => "新しい出金先口座を入力してください。出金パスワードとパスキーで確認します。変更後、安全のため一定時間は新しい口座へ出金できません。", "Enter the new withdrawal account. You confirm with your withdrawal password and your passkey. For your safety, money cannot go to the new account for a while after the change.";
    DestBank => "金融機関・支店", "Bank and branch";
    DestBankName => "金融機関名", "Bank";
    DestBranch => "支店名", "Branch";
    DestNumber => "口座番号(普通・7桁)", "Account number (ordinary, 7 digits)";
    DestHolder => "口座名義(全角カタカナ)", "Account holder (full-width katakana)";
    DestChangeNext => "次へ(パスキーで確認)", "Next (confirm with a passkey)";
    DestBankMissing => "金融機関名と支店名を入力してください。", "Enter the bank and the branch.";
    DestNumberInvalid => "口座番号は7桁の数字で入力してください。", "The account number is 7 digits.";
    DestHolderInvalid => "口座名義は全角カタカナで入力してください(姓と名の間は空白1つ)。", "Enter the holder's name in full-width katakana (one space between family and given name).";
    DestNeedsPasskey => "出金先口座の変更にはパスキーによる確認が必要です。先にセキュリティ設定でパスキーを登録してください。", "Changing the withdrawal account needs a passkey. Register one in security settings first.";
    DestPasskeyLead => "この内容で変更するには、パスキーで確認してください。新しい口座へは変更から{0}時間後に出金できるようになります。", "Confirm this change with your passkey. Money can go to the new account {0} hours after the change.";
    DestPasskeyButton => "パスキーで変更を確認", "Confirm the change with a passkey";
    DestChanged => "出金先口座を変更しました。認証メールアドレスにお知らせを送りました。", "The withdrawal account was changed. A notice was sent to your authentication address.";
    DestNotYet => "この出金先口座へは {0} から出金できます(変更後の待機期間)。", "Money can go to this account from {0} (the waiting period after a change).";
    EvDestinationChanged => "出金先口座の変更", "Withdrawal account changed";
    Passkeys => "パスキー", "Passkeys";
    PasskeyLead => "パスキーは、このサイトでしか使えない鍵をお使いの端末に保存します。偽サイトでは使えないため、フィッシングでログインを奪われることがありません。", "A passkey keeps a key on your device that works only on this site. It does not work on a fake site, so phishing cannot take over your login.";
    PasskeyNone => "登録されたパスキーはありません。", "No passkeys are registered.";
    PasskeyName => "パスキーの名前", "Passkey name";
    PasskeyKind => "種類", "Kind";
    PasskeySynced => "同期されるパスキー", "Synced passkey";
    PasskeyDeviceBound => "この端末のみ", "This device only";
    PasskeyDefaultName => "パスキー", "Passkey";
    PasskeyAdd => "パスキーを登録する", "Register a passkey";
    PasskeyAdded => "パスキーを登録しました。次回からパスキーだけでログインできます。", "The passkey is registered. Next time you can log in with the passkey alone.";
    PasskeyRemoved => "パスキーを削除しました。", "The passkey was removed.";
    PasskeySuspendedBadge => "停止中(複製の疑い)", "Suspended (possible copy)";
    PasskeyLogin => "パスキーでログイン", "Log in with a passkey";
    PasskeyLoginLead => "パスワードもコードも不要です。お使いの端末の指紋・顔・PIN で確認します。", "No password, no code: your device checks your fingerprint, face or PIN.";
    PasskeyUnavailable => "このサーバーではパスキーを使えません(公開アドレスにホスト名がありません)。", "Passkeys are not available on this server (its public address has no host name).";
    PasskeyNotFresh => "安全のため、パスキーの登録はログインから10分以内に限ります。いったんログアウトし、もう一度ログインしてから登録してください。", "For your safety, a passkey can be registered only within 10 minutes of logging in. Log out, log in again, then register.";
    FreshLoginNeeded => "安全のため、認証手段の追加・削除と認証メールアドレスの変更は、ログインから{0}分以内に限ります。いったんログアウトし、もう一度ログインしてから操作してください。", "For your safety, adding or removing an authenticator and changing the authentication e-mail address are possible only within {0} minutes of logging in. Log out, log in again, then try again.";
    LogInAgain => "ログアウトしてログインし直す", "Log out and log in again";
    LastAuthenticatorTitle => "最後の認証手段の削除", "Removing your last authenticator";
    LastAuthenticatorWarning => "これはお客さまの最後の認証手段です。削除すると、ログインと出金の追加認証は、認証メールアドレスに届くワンタイム認証コードだけになります(フィッシングに強い方法ではありません)。本当に削除しますか?", "This is your last authenticator. Once it is removed, the second factor for logins and withdrawals is only the one-time code sent to your authentication e-mail address (which does not resist phishing). Remove it?";
    ConfirmRemove => "削除する", "Remove";
    Cancel => "やめる", "Cancel";
    LoginPasswordLabel => "ログインパスワード", "Login password";
    PasskeyTooMany => "登録できるパスキーの数の上限に達しています。使っていないものを削除してください。", "You have the most passkeys allowed. Remove one you no longer use.";
    PasskeyTooManyFromClient => "この接続元から開始されたパスキーの手続きが多すぎます。数分待ってからもう一度お試しください。", "Too many passkey steps were started from here. Wait a few minutes, then try again.";
    PasskeyBusy => "ただいま混み合っています。しばらくしてからもう一度お試しください。", "We are busy. Please try again shortly.";
    PasskeyCeremonyExpired => "時間切れか、すでに使われた要求です。もう一度ボタンを押してください。", "The request expired or was already used. Press the button again.";
    PasskeyRejected => "パスキーを確認できませんでした。もう一度お試しください。", "The passkey could not be verified. Please try again.";
    PasskeyUnknown => "このパスキーは登録されていません。パスワードでログインしてください。", "This passkey is not registered. Log in with your password.";
    PasskeySuspendedError => "このパスキーは複製された疑いがあるため停止しました。パスワードでログインし、パスキーを削除してください。", "This passkey was suspended because it may have been copied. Log in with your password and remove it.";
    PasskeyAlreadyRegistered => "このパスキーはすでに登録されています。", "This passkey is already registered.";
    PasskeyUnsupported => "このブラウザはパスキーに対応していません。", "This browser does not support passkeys.";
    PasskeyCancelled => "パスキーの操作が取り消されたか、時間切れになりました。", "The passkey step was cancelled or timed out.";
    EnrollTitle => "認証アプリの登録", "Register an authenticator app";
    EnrollLead => "認証アプリで QR コードを読み取るか、下のリンクを開いてください。このコードは{0}まで有効で、1回だけ使えます。", "Scan the QR code with the authenticator app, or open the link below. It is valid until {0} and works once.";
    EnrollLink => "登録リンク", "Enrollment link";
    EnrollWaiting => "登録をお待ちしています…期限が切れると新しいコードを表示します。", "Waiting for the app… A new code appears when this one expires.";
    Enrolled => "認証アプリを登録しました。", "The authenticator app is registered.";
    ChangePassword => "パスワードの変更", "Change password";
    CurrentPassword => "現在のパスワード", "Current password";
    NewPassword => "新しいパスワード", "New password";
    ConfirmPassword => "新しいパスワード(確認)", "New password (again)";
    Change => "変更する", "Change";
    PasswordChanged => "パスワードを変更しました。", "Your password has been changed.";
    PasswordMismatch => "新しいパスワードが一致しません。", "The new passwords do not match.";
    PasswordSame => "現在と同じパスワードは使えません。", "The new password must differ from the current one.";
    WrongCurrentPassword => "現在のパスワードが正しくありません。", "The current password is incorrect.";
    PasswordRules => "10〜16文字で、数字・英大文字・英小文字・記号のうち3種類以上を使ってください。使える記号: @#$%^&*_+-=:,.", "10 to 16 characters, with at least 3 of: digits, upper case, lower case, symbols. Allowed symbols: @#$%^&*_+-=:,.";
    RuleTooShort => "10文字以上にしてください(現在{0}文字)。", "Use at least 10 characters (this has {0}).";
    RuleTooLong => "16文字以内にしてください(現在{0}文字)。", "Use at most 16 characters (this has {0}).";
    RuleForbidden => "使えない文字「{0}」が含まれています。記号は @#$%^&*_+-=:,. のみ使えます。", "The character \"{0}\" is not allowed. Only these symbols are: @#$%^&*_+-=:,.";
    RuleClasses => "数字・英大文字・英小文字・記号のうち3種類以上を使ってください(現在{0}種類)。", "Use at least 3 of digits, upper case, lower case and symbols (this has {0}).";
    ChangeEmail => "認証メールアドレスの変更", "Change authentication e-mail";
    CurrentEmailFull => "現在の認証メールアドレス(すべて入力してください)", "Current authentication e-mail (type it in full)";
    NewEmail => "新しい認証メールアドレス", "New authentication e-mail";
    EmailChanged => "認証メールアドレスを変更しました。新旧両方のアドレスにお知らせを送りました。", "Your authentication e-mail has been changed; both the old and new addresses were notified.";
    CurrentEmailWrong => "現在の認証メールアドレスが一致しません。", "That is not your current authentication e-mail.";
    EmailInvalid => "メールアドレスの形式が正しくありません。", "That is not a valid e-mail address.";

    ActivityTitle => "最近のご利用履歴", "Recent activity";
    When => "日時", "When";
    What => "内容", "What";
    Details => "詳細", "Details";
    OperatorAuditTitle => "監査ログ(オペレーター)", "Audit log (operators)";
    OutboxTitle => "送信メール(デモ・QA 専用)", "Sent mail (demo and QA only)";
    OutboxEmpty => "送信メールはありません。", "No mail has been sent.";
    To => "宛先", "To";


    ErrorTitle => "エラー", "Error";
    BackToTop => "トップへ戻る", "Back to the top page";
    FieldTooLong => "入力が長すぎます({0})。", "Too long: {0}.";
    FieldInvalidText => "{0} に使えない文字(制御文字、改行、見えない書式文字)が含まれています。", "{0} contains characters that cannot be used (control characters, line breaks, invisible formatting characters).";
    Required => "{0}を入力してください。", "Please enter: {0}.";

    EvLoginSucceeded => "ログイン", "Logged in";
    EvCustomerCreated => "口座開設", "Account opened";
    EvLoginUnknownAccount => "未登録の口座番号でのログイン", "Login with an unknown account number";
    EvRefusedLockedWrongPassword => "ロック中の口座へのパスワード誤り", "Wrong password for a locked account";
    EvLoginAttemptEnded => "ログインの中断", "Login not completed";
    EvWithdrawalCodeWrong => "出金時の認証コード誤り", "Wrong code for a withdrawal";
    EvWithdrawalRefusedNoPasskey => "出金不可(パスキー未登録)", "Withdrawal refused: no passkey";
    EvWithdrawalPasskeyConfirmed => "出金をパスキーで確認", "Withdrawal confirmed with a passkey";
    EvDestinationChangePasswordWrong => "出金先変更時の出金パスワード誤り", "Wrong withdrawal password when changing the withdrawal account";
    EvEmailChangeWrongPassword => "メールアドレス変更時のパスワード誤り", "Wrong password when changing the e-mail";
    EvPasskeyRegisterRefused => "パスキー登録の拒否", "Passkey registration refused";
    EvPasskeyLoginUnknown => "未登録のパスキーでのログイン", "Login with an unknown passkey";
    EvPasswordOk => "パスワード確認(追加認証へ)", "Password accepted (second factor next)";
    EvPasswordWrong => "パスワード誤り", "Wrong password";
    EvRefusedLocked => "ロック中のためログイン拒否", "Login refused: account locked";
    EvSwitchedToEmail => "メール認証に切り替え", "Switched to the e-mailed code";
    EvAccountLocked => "口座ロック", "Account locked";
    EvAccountUnlocked => "ロック解除", "Account unlocked";
    EvPushesRestored => "認証アプリへの通知を再開", "Notifications to the authenticator app restarted";
    EvLogout => "ログアウト", "Logged out";
    EvSessionExpired => "自動ログアウト", "Logged out automatically";
    EvCodeSent => "認証コード送信", "Code e-mailed";
    EvCodeAccepted => "認証コード確認", "Code accepted";
    EvCodeWrong => "認証コード誤り", "Wrong code";
    EvNotMe => "「心当たりがない」と報告", "\"Not me\" reported";
    EvNumberMismatch => "確認番号の誤り", "Wrong number typed";
    EvDeviceEnrolled => "認証アプリ登録", "Authenticator app added";
    EvDeviceRevoked => "認証アプリ登録解除", "Authenticator app removed";
    EvPasskeyRegistered => "パスキー登録", "Passkey registered";
    EvPasskeyRemoved => "パスキー削除", "Passkey removed";
    EvPasskeyCloneSuspected => "パスキー停止(複製の疑い)", "Passkey suspended (possible copy)";
    EvPasskeyRefused => "パスキーでのログイン拒否", "Passkey login refused";
    EvWithdrawalRequested => "出金申込", "Withdrawal requested";
    EvWithdrawalCompleted => "出金受付", "Withdrawal accepted";
    EvWithdrawalRefused => "出金取消", "Withdrawal cancelled";
    EvWithdrawalPasswordWrong => "出金パスワード誤り", "Wrong withdrawal password";
    EvPasswordChanged => "パスワード変更", "Password changed";
    EvPasswordChangeWrong => "パスワード変更時の現在パスワード誤り", "Wrong current password when changing it";
    EvEmailChanged => "認証メールアドレス変更", "Authentication e-mail changed";
    EvEmailChangeWrong => "メールアドレス変更時の入力誤り", "Wrong current e-mail when changing it";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages_and_matching_placeholders() {
        for t in T::ALL {
            let (ja, en) = (t.get(Lang::Ja), t.get(Lang::En));
            assert!(!ja.is_empty() && !en.is_empty(), "{t:?}");
            for i in 0..4 {
                let p = format!("{{{i}}}");
                assert_eq!(ja.contains(&p), en.contains(&p), "{t:?} placeholder {p}");
            }
        }
    }

    /// One term per thing, as the app and the CLI say it: 出金先 (never 振込先) for where a
    /// withdrawal goes, 「心当たりがない」 (never 身に覚えがない) for "not me".
    #[test]
    fn one_term_per_thing() {
        const OTHER_SPELLINGS: [(&str, &str); 2] = [("振込先", "出金先"), ("身に覚え", "心当たり")];
        for t in T::ALL {
            let ja = t.get(Lang::Ja);
            for (other, term) in OTHER_SPELLINGS {
                assert!(!ja.contains(other), "{t:?} says {other}; the term is {term}: {ja}");
            }
        }
        // The mails, the CLI's output and the app's strings are written outside the catalogue.
        let sources = [
            ("site mails", include_str!("notify.rs")),
            ("site pages", include_str!("pages.rs")),
            ("CLI", include_str!("../../cli/src/main.rs")),
            ("app", include_str!("../../../ui/src/i18n.ts")),
        ];
        for (place, text) in sources {
            for (other, term) in OTHER_SPELLINGS {
                assert!(!text.contains(other), "the {place} say {other}; the term is {term}");
            }
        }
    }

    #[test]
    fn fill_replaces_placeholders() {
        assert_eq!(T::CodeWrong.fill(Lang::En, &[&3]), "The code is not right. 3 attempts left.");
        assert_eq!(T::Yen.fill(Lang::Ja, &[&"1,000"]), "1,000円");
    }
}
