//! The one registry of error codes and their text for people, Japanese first and English
//! second: the app (exported into its TypeScript bindings), the demo site and the CLI show the
//! same words for the same code. Codes come from the verifier ([`crate::ErrorCode`]), the
//! protocol, the core, the app shell, the site and the CLI; a test checks that every code any
//! of them can produce is here, in both languages.

/// One error code and what it tells a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorText {
    /// The stable snake_case code.
    pub code: &'static str,
    pub ja: &'static str,
    pub en: &'static str,
}

/// The registry. `unknown` (with `{code}` filled in) stands for any code not listed.
pub const ERROR_TEXTS: &[ErrorText] = &[
    ErrorText { code: "uri_empty", ja: "リンクが空です。", en: "The link is empty." },
    ErrorText { code: "uri_too_long", ja: "リンクが長すぎます。", en: "The link is too long." },
    ErrorText {
        code: "uri_not_a_link",
        ja: "リンクではありません。inkan://enroll? で始まる登録用リンクを貼り付けてください。",
        en: "This is not a link. Paste the enrollment link that starts with inkan://enroll?",
    },
    ErrorText {
        code: "uri_wrong_scheme",
        ja: "Inkan の登録用リンクではありません。",
        en: "This is not an Inkan enrollment link.",
    },
    ErrorText {
        code: "uri_wrong_action", ja: "登録用のリンクではありません。", en: "This is not an enrollment link."
    },
    ErrorText {
        code: "uri_unsupported_version",
        ja: "このアプリでは読めない形式のリンクです。アプリを更新してください。",
        en: "This app cannot read this kind of link. Update the app.",
    },
    ErrorText {
        code: "uri_missing_field",
        ja: "リンクが途中で切れているようです。もう一度コピーしてください。",
        en: "The link seems cut short. Copy it again.",
    },
    ErrorText {
        code: "uri_duplicate_field", ja: "リンクの形式が正しくありません。", en: "The link is malformed."
    },
    ErrorText {
        code: "uri_unknown_field", ja: "リンクの形式が正しくありません。", en: "The link is malformed."
    },
    ErrorText {
        code: "uri_bad_origin",
        ja: "リンクのサーバーのアドレスが正しくありません。",
        en: "The server address in the link is not valid.",
    },
    ErrorText {
        code: "uri_bad_ticket",
        ja: "リンクの登録コードが正しくありません。",
        en: "The enrollment code in the link is not valid.",
    },
    ErrorText {
        code: "uri_bad_server_key",
        ja: "リンクのサーバー鍵が正しくありません。",
        en: "The server key in the link is not valid.",
    },
    ErrorText {
        code: "uri_bad_label",
        ja: "リンクの表示名が正しくありません。",
        en: "The name in the link is not valid.",
    },
    ErrorText {
        code: "image_unreadable",
        ja: "画像を読み込めませんでした。PNG か JPEG の画像を選んでください。",
        en: "The image could not be read. Choose a PNG or JPEG image.",
    },
    ErrorText { code: "image_too_large", ja: "画像が大きすぎます。", en: "The image is too large." },
    ErrorText {
        code: "qr_not_found",
        ja: "画像の中に QR コードが見つかりませんでした。",
        en: "No QR code was found in the image.",
    },
    ErrorText {
        code: "qr_unreadable",
        ja: "QR コードを読み取れませんでした。もう一度撮影してください。",
        en: "The QR code could not be read. Try another picture.",
    },
    ErrorText {
        code: "keychain_unavailable",
        ja: "キーチェーンが使えません。端末のキーチェーン（鍵の保管庫）を有効にしてから、もう一度お試しください。",
        en: "No keychain is available. Turn on this device's keychain and try again.",
    },
    ErrorText {
        code: "keychain_locked",
        ja: "キーチェーンがロックされています。ロックを解除してから、もう一度お試しください。",
        en: "The keychain is locked. Unlock it and try again.",
    },
    ErrorText {
        code: "passkey_wrong_origin",
        ja: "このページは、パスキーを登録したサイトではありません。偽サイトの可能性があるため、パスキーは使われませんでした。",
        en: "This page is not the site the passkey belongs to. It may be a fake site, so the passkey was not used.",
    },
    ErrorText {
        code: "passkey_not_found",
        ja: "このサイト用のパスキーはこの端末にありません。",
        en: "This device has no passkey for this site.",
    },
    ErrorText {
        code: "passkey_failed",
        ja: "パスキーの処理に失敗しました。もう一度お試しください。",
        en: "The passkey step failed. Please try again.",
    },
    ErrorText {
        code: "key_missing",
        ja: "この口座の鍵がキーチェーンに見つかりません。口座を削除して登録し直してください。",
        en: "This account's key is missing from the keychain. Remove the account and enroll again.",
    },
    ErrorText {
        code: "server_key_mismatch",
        ja: "サーバーの鍵がリンクと一致しません。偽のサーバーの可能性があるため、登録を中止しました。",
        en: "The server's key does not match the link. It may be a fake server, so enrollment stopped.",
    },
    ErrorText {
        code: "ticket_unknown",
        ja: "この登録用リンクは無効です。証券会社の画面で新しい QR コードを表示してください。",
        en: "This enrollment link is not valid. Show a new QR code on the brokerage's site.",
    },
    ErrorText {
        code: "ticket_expired",
        ja: "この登録用リンクは期限切れです。新しい QR コードを表示してください。",
        en: "This enrollment link has expired. Show a new QR code.",
    },
    ErrorText {
        code: "ticket_already_used",
        ja: "この登録用リンクはすでに使われています。新しい QR コードを表示してください。",
        en: "This enrollment link was already used. Show a new QR code.",
    },
    ErrorText {
        code: "server_unreachable",
        ja: "サーバーに接続できません。ネットワークを確認して、もう一度お試しください。",
        en: "The server cannot be reached. Check the network and try again.",
    },
    ErrorText {
        code: "bad_response",
        ja: "サーバーの応答を理解できませんでした。",
        en: "The server's answer was not understood.",
    },
    ErrorText {
        code: "challenge_expired", ja: "この依頼は期限切れです。", en: "This request has expired."
    },
    ErrorText {
        code: "challenge_not_found", ja: "この依頼はもうありません。", en: "This request is gone."
    },
    ErrorText { code: "challenge_unknown", ja: "この依頼はもうありません。", en: "This request is gone." },
    ErrorText {
        code: "challenge_not_pending",
        ja: "この依頼はすでに処理されています。",
        en: "This request was already handled.",
    },
    ErrorText {
        code: "number_required",
        ja: "画面に表示されている数字を入力してください。",
        en: "Type the number shown on the screen.",
    },
    ErrorText {
        code: "number_malformed",
        ja: "数字の桁数が違います。",
        en: "The number has the wrong number of digits.",
    },
    ErrorText {
        code: "number_mismatch",
        ja: "数字が違うため、この依頼は拒否されました。ご自身の操作であれば、ログインまたは出金をやり直し、画面に表示された数字を入力してください。",
        en: "Wrong number, so this request was refused. If it was you, start the login or withdrawal again and type the number its page shows.",
    },
    ErrorText {
        code: "number_mismatch_try_again",
        ja: "数字が違います。証券会社の画面に表示されている数字を確かめて、もう一度入力してください。",
        en: "Wrong number. Check the number on the brokerage's page and type it again.",
    },
    ErrorText {
        code: "device_revoked",
        ja: "この端末は証券会社側で無効にされました。口座を削除して、必要なら登録し直してください。",
        en: "This device was revoked by the brokerage. Remove the account and enroll again if needed.",
    },
    ErrorText {
        code: "device_unknown",
        ja: "この端末はサーバーに登録されていません。口座を削除して登録し直してください。",
        en: "The server does not know this device. Remove the account and enroll again.",
    },
    ErrorText {
        code: "push_blocked",
        ja: "この口座へのプッシュ通知は停止されています。",
        en: "Pushes to this account are stopped.",
    },
    ErrorText {
        code: "enroll_no_link",
        ja: "先に登録用リンクか QR コードを読み取ってください。",
        en: "Read an enrollment link or QR code first.",
    },
    ErrorText {
        code: "name_invalid",
        ja: "名前は 1〜64 文字で入力してください。",
        en: "A name must be 1 to 64 characters.",
    },
    ErrorText {
        code: "user_not_verified",
        ja: "本人確認ができなかったため、承認していません。",
        en: "You were not verified, so nothing was approved.",
    },
    ErrorText { code: "account_not_found", ja: "この口座はもうありません。", en: "This account is gone." },
    ErrorText {
        code: "storage",
        ja: "この端末のデータを読み書きできませんでした。",
        en: "This device's data could not be read or written.",
    },
    ErrorText {
        code: "clock_skew",
        ja: "端末の時計がずれています。時刻を合わせてください。",
        en: "This device's clock is off. Set the time.",
    },
    ErrorText {
        code: "verifier_unreachable",
        ja: "認証サーバーに接続できません。しばらくしてから、もう一度お試しください。",
        en: "The verification server cannot be reached. Try again in a while.",
    },
    ErrorText {
        code: "unknown",
        ja: "予期しないエラーが起きました（{code}）。",
        en: "Something unexpected happened ({code}).",
    },
    ErrorText {
        code: "bad_request", ja: "リクエストの形式が正しくありません。", en: "The request is malformed."
    },
    ErrorText {
        code: "body_too_large", ja: "送信された内容が大きすぎます。", en: "What was sent is too large."
    },
    ErrorText { code: "unauthorized", ja: "認証されていません。", en: "Not authenticated." },
    ErrorText { code: "not_found", ja: "見つかりません。", en: "Not found." },
    ErrorText {
        code: "bad_signature",
        ja: "署名を確認できませんでした。この依頼は受け付けられません。",
        en: "The signature could not be verified, so this was not accepted.",
    },
    ErrorText {
        code: "session_expired",
        ja: "接続の有効期限が切れました。もう一度お試しください。",
        en: "The session expired. Please try again.",
    },
    ErrorText {
        code: "nonce_unknown",
        ja: "接続の確認に失敗しました。もう一度お試しください。",
        en: "The connection check failed. Please try again.",
    },
    ErrorText {
        code: "too_many_open_challenges",
        ja: "承認待ちの依頼が多すぎます。しばらくしてから、もう一度お試しください。",
        en: "Too many requests are waiting for approval. Try again in a while.",
    },
    ErrorText {
        code: "too_many_pushes",
        ja: "前回のログインから依頼が多すぎるため、プッシュ通知を一時停止しています。",
        en: "Too many requests since the last login, so pushes are paused.",
    },
    ErrorText {
        code: "cooldown_active",
        ja: "拒否の直後のため、しばらくしてから、もう一度お試しください。",
        en: "A request was just denied. Wait a moment and try again.",
    },
    ErrorText {
        code: "no_devices",
        ja: "この口座には認証アプリが登録されていません。",
        en: "No authenticator app is registered for this account.",
    },
    ErrorText {
        code: "invalid_details",
        ja: "依頼の内容が正しくありません。",
        en: "The request's details are not valid.",
    },
    ErrorText {
        code: "internal",
        ja: "サーバーで問題が起きました。しばらくしてから、もう一度お試しください。",
        en: "Something went wrong at the server. Try again in a while.",
    },
    ErrorText {
        code: "database_unavailable",
        ja: "ただいま処理できません。少し待ってから、もう一度お試しください。何も変更されていません。",
        en: "This cannot be done right now. Wait a moment and try again; nothing was changed.",
    },
    ErrorText {
        code: "rate_limited",
        ja: "操作が多すぎます。少し待ってから、もう一度お試しください。",
        en: "Too many attempts. Wait a moment and try again.",
    },
    ErrorText {
        code: "invalid_request",
        ja: "リクエストの内容を使えません。",
        en: "The request's values cannot be used.",
    },
    ErrorText {
        code: "bad_private_key", ja: "鍵の形式が正しくありません。", en: "The key is malformed."
    },
    ErrorText {
        code: "bad_public_key", ja: "公開鍵の形式が正しくありません。", en: "The public key is malformed."
    },
    ErrorText {
        code: "canonical_json", ja: "データの形式が正しくありません。", en: "The data is malformed."
    },
    ErrorText {
        code: "malformed_signature", ja: "署名の形式が正しくありません。", en: "The signature is malformed."
    },
    ErrorText {
        code: "account_ambiguous",
        ja: "該当する口座が複数あります。口座番号か端末名を指定してください。",
        en: "More than one account matches. Name the account number or the device.",
    },
    ErrorText {
        code: "challenge_mismatch",
        ja: "依頼の内容がサーバーの記録と一致しません。承認していません。",
        en: "The request does not match the server's record, so nothing was approved.",
    },
    ErrorText {
        code: "email_code_needed",
        ja: "メールで届いたワンタイム認証コードを入力してください。",
        en: "Type the one-time code from the mail.",
    },
    ErrorText {
        code: "forged_challenge",
        ja: "サーバーの署名がない依頼です。偽の依頼の可能性があるため、表示していません。",
        en: "This request lacks the server's signature. It may be forged, so it is not shown.",
    },
    ErrorText {
        code: "unsafe_challenge_text",
        ja: "依頼に表示できない文字が含まれているため、表示していません。",
        en: "The request holds text that cannot be shown safely, so it is not shown.",
    },
    ErrorText {
        code: "csrf_check_failed",
        ja: "ページの有効期限が切れました。ページを開き直して、もう一度お試しください。",
        en: "The page expired. Open it again and retry.",
    },
    ErrorText { code: "field_too_long", ja: "入力が長すぎます。", en: "An entry is too long." },
    ErrorText {
        code: "invalid_text",
        ja: "使えない文字が含まれています。",
        en: "An entry holds characters that cannot be used.",
    },
    ErrorText {
        code: "site_refused",
        ja: "証券会社のサイトが受け付けませんでした。",
        en: "The brokerage's site refused.",
    },
    ErrorText {
        code: "passkey_rejected",
        ja: "パスキーが受け付けられませんでした。",
        en: "The passkey was not accepted.",
    },
    ErrorText {
        code: "password_needed",
        ja: "パスワードを入力してください（INKAN_SITE_PASSWORD または標準入力）。",
        en: "Give the password (INKAN_SITE_PASSWORD or standard input).",
    },
];

/// The text for `code`, or `unknown`'s with the code filled in.
pub fn error_text(code: &str, japanese: bool) -> String {
    let entry = ERROR_TEXTS.iter().find(|e| e.code == code);
    match entry {
        Some(e) => (if japanese { e.ja } else { e.en }).to_owned(),
        None => {
            let unknown = ERROR_TEXTS.iter().find(|e| e.code == "unknown").expect("unknown is listed");
            (if japanese { unknown.ja } else { unknown.en }).replace("{code}", code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_with_japanese_and_english_text() {
        let mut seen = std::collections::HashSet::new();
        for e in ERROR_TEXTS {
            assert!(seen.insert(e.code), "{} is listed twice", e.code);
            assert!(!e.ja.trim().is_empty() && !e.en.trim().is_empty(), "{} lacks text", e.code);
            assert!(
                e.ja.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c) || ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{}: the Japanese text is not Japanese: {}",
                e.code,
                e.ja
            );
            assert!(e.en.is_ascii(), "{}: the English text is not plain English: {}", e.code, e.en);
        }
        for code in crate::ErrorCode::ALL {
            assert!(seen.contains(code.as_str()), "the verifier's code {} has no text", code.as_str());
        }
    }

    #[test]
    fn an_unlisted_code_falls_back_to_unknown_with_the_code_shown() {
        assert!(error_text("teapot", true).contains("teapot"));
        assert_eq!(error_text("qr_not_found", false), "No QR code was found in the image.");
    }
}

/// Every code the workspace's error types can produce, read from their sources, has text: the
/// core's and the protocol's `code()`, the app shell's `CommandError::new`, the site's
/// `SiteError::code` and the CLI's `code: "…"` refusals. A new code without text fails here.
#[cfg(test)]
mod workspace {
    use super::ERROR_TEXTS;

    fn source(path: &str) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The string literals `=> "code"` inside `fn code(` bodies.
    fn codes_in_code_fns(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (at, _) in text.match_indices("fn code(") {
            let body = &text[at..];
            let end = body.find("\n    }\n").unwrap_or(body.len());
            out.extend(literals_after(&body[..end], "=> \""));
        }
        out
    }

    fn literals_after(text: &str, marker: &str) -> Vec<String> {
        text.match_indices(marker)
            .filter_map(|(at, m)| {
                let rest = &text[at + m.len()..];
                let code = &rest[..rest.find('"')?];
                (!code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')).then(|| code.to_owned())
            })
            .collect()
    }

    #[test]
    fn every_code_the_workspace_produces_has_text() {
        let mut codes = Vec::new();
        for path in [
            "crates/core/src/error.rs",
            "crates/protocol/src/error.rs",
            "crates/protocol/src/uri.rs",
            "crates/site/src/lib.rs",
        ] {
            let found = codes_in_code_fns(&source(path));
            assert!(!found.is_empty(), "no codes found in {path}: the scan is out of date");
            codes.extend(found);
        }
        codes.extend(literals_after(&source("src-tauri/error.rs"), "Self::new(\""));
        for path in ["crates/cli/src/main.rs", "crates/cli/src/site.rs"] {
            codes.extend(literals_after(&source(path), "code: \""));
        }
        let missing: Vec<&String> =
            codes.iter().filter(|c| !ERROR_TEXTS.iter().any(|e| e.code == c.as_str())).collect();
        assert!(missing.is_empty(), "codes without Japanese and English text: {missing:?}");
    }
}
