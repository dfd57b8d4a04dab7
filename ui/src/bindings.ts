// Generated from the Rust types in src-tauri/views.rs by the `bindings_are_current` test.
// Do not edit: change the Rust types and run `INKAN_UPDATE_BINDINGS=1 cargo test -p inkan-app`.

export type ChallengeDetails = { "kind": "login" } & LoginContext | { "kind": "withdrawal" } & WithdrawalContext;

export type LoginContext = { 
/**
 * When the login was attempted, as shown (RFC 3339 with the customer's offset).
 */
time: string, ip: string, 
/**
 * Approximate place derived from the IP, e.g. "東京都 / Tokyo".
 */
place: string, 
/**
 * Browser and OS, e.g. "Chrome 131 / Windows 11".
 */
browser: string, };

export type WithdrawalContext = { 
/**
 * In the minor unit of `currency` (JPY: yen). JSON has one number type: `1000.0` is the
 * integer 1000 (as JSON Schema and RFC 8785 say), a fraction is refused.
 */
amount: number, 
/**
 * ISO 4217 code, e.g. "JPY".
 */
currency: string, bank: string, branch: string, 
/**
 * Masked destination account number, e.g. "****5678".
 */
account_masked: string, 
/**
 * When the withdrawal was requested (RFC 3339).
 */
requested_at: string, };

export type Decision = "approve" | "deny" | "deny_fraud";

export type ChallengeState = "pending" | "approved" | "denied" | "denied_fraud" | "expired" | "failed" | "cancelled";

export type ChannelState = "connecting" | "connected" | "offline" | "stopped";

export type AccountView = { 
/**
 * Local id.
 */
id: string, name: string, origin: string, 
/**
 * The brokerage's name (from the verifier at enrollment); absent: the UI names the host.
 */
rp_name: RpName | null, 
/**
 * The brokerage account number, masked: "****0001".
 */
account_masked: string, device_name: string, enrolled_at: number, channel: ChannelState, 
/**
 * The error code that took the channel offline or stopped it.
 */
channel_error: string | null, };

export type LinkSource = "pasted" | "image" | "deep_link" | "camera";

export type LinkPreview = { origin: string, host: string, 
/**
 * The server's label for the account, with the account number masked by the server.
 */
label: string, 
/**
 * Plain http (a development server): the UI warns.
 */
insecure: boolean, 
/**
 * The fingerprint of the server key the link pins, shortened for comparing by eye.
 */
server_key_short: string, source: LinkSource, 
/**
 * A suggestion for the name this device gets on the server.
 */
device_name: string, 
/**
 * This server and account are already enrolled on this device.
 */
already_enrolled: boolean, };

export type LinkOpened = { preview: LinkPreview | null, error: CommandError | null, };

export type ChallengeView = { id: string, 
/**
 * Local account id.
 */
account: string, account_name: string, 
/**
 * The brokerage account number, masked: "****0001".
 */
account_masked: string, origin: string, 
/**
 * Who is asking: the brokerage's name; absent for accounts enrolled without one (the UI
 * then names the server's host).
 */
rp_name: RpName | null, details: ChallengeDetails, 
/**
 * Digits to type from the page (number matching), if asked.
 */
number_digits: number | null, created_at: number, expires_at: number, };

export type DecisionView = { challenge_id: string, state: ChallengeState, };

export type HistoryItem = { at: number, account: string, account_name: string, kind: string, summary: string, 
/**
 * What was shown and signed (absent in older entries: `summary` then stands in).
 */
details: ChallengeDetails | null, decision: Decision, state: ChallengeState, 
/**
 * Why the server refused the decision and ended the request (`number_mismatch`).
 */
refused: string | null, };

export type OfflineCodeView = { account: string, code: string, seconds_left: number, period: number, };

export type SameDeviceRequest = { challenge: ChallengeView, number: string, };

export type Focus = { "kind": "challenge", challenge: ChallengeView, } | { "kind": "pending" } | { "kind": "link", opened: LinkOpened, } | { "kind": "same_device", request: SameDeviceRequest, };

export type RpName = { ja: string, en: string, };

export type CommandError = { code: string, 
/**
 * English, for logs and bug reports; not shown as is.
 */
message: string, };

export type Language = "ja" | "en";

export type Theme = "system" | "light" | "dark";

export type AppSettings = { language: Language, theme: Theme, 
/**
 * An OS notification when a challenge arrives.
 */
notifications: boolean, 
/**
 * Start in the tray, without a window (desktop).
 */
start_minimised: boolean, };

export const EVENTS = { inbox: "inbox", accounts: "accounts", focus: "focus" } as const;

/** Every error code's text, from `inkan_protocol::error_text::ERROR_TEXTS`. */
export const ERROR_TEXTS: Record<string, { ja: string; en: string }> = {
  uri_empty: { ja: "リンクが空です。", en: "The link is empty." },
  uri_too_long: { ja: "リンクが長すぎます。", en: "The link is too long." },
  uri_not_a_link: { ja: "リンクではありません。inkan://enroll? で始まる登録用リンクを貼り付けてください。", en: "This is not a link. Paste the enrollment link that starts with inkan://enroll?" },
  uri_wrong_scheme: { ja: "Inkan の登録用リンクではありません。", en: "This is not an Inkan enrollment link." },
  uri_wrong_action: { ja: "登録用のリンクではありません。", en: "This is not an enrollment link." },
  uri_unsupported_version: { ja: "このアプリでは読めない形式のリンクです。アプリを更新してください。", en: "This app cannot read this kind of link. Update the app." },
  uri_missing_field: { ja: "リンクが途中で切れているようです。もう一度コピーしてください。", en: "The link seems cut short. Copy it again." },
  uri_duplicate_field: { ja: "リンクの形式が正しくありません。", en: "The link is malformed." },
  uri_unknown_field: { ja: "リンクの形式が正しくありません。", en: "The link is malformed." },
  uri_bad_origin: { ja: "リンクのサーバーのアドレスが正しくありません。", en: "The server address in the link is not valid." },
  uri_bad_ticket: { ja: "リンクの登録コードが正しくありません。", en: "The enrollment code in the link is not valid." },
  uri_bad_server_key: { ja: "リンクのサーバー鍵が正しくありません。", en: "The server key in the link is not valid." },
  uri_bad_label: { ja: "リンクの表示名が正しくありません。", en: "The name in the link is not valid." },
  image_unreadable: { ja: "画像を読み込めませんでした。PNG か JPEG の画像を選んでください。", en: "The image could not be read. Choose a PNG or JPEG image." },
  image_too_large: { ja: "画像が大きすぎます。", en: "The image is too large." },
  qr_not_found: { ja: "画像の中に QR コードが見つかりませんでした。", en: "No QR code was found in the image." },
  qr_unreadable: { ja: "QR コードを読み取れませんでした。もう一度撮影してください。", en: "The QR code could not be read. Try another picture." },
  keychain_unavailable: { ja: "キーチェーンが使えません。端末のキーチェーン（鍵の保管庫）を有効にしてから、もう一度お試しください。", en: "No keychain is available. Turn on this device's keychain and try again." },
  keychain_locked: { ja: "キーチェーンがロックされています。ロックを解除してから、もう一度お試しください。", en: "The keychain is locked. Unlock it and try again." },
  passkey_wrong_origin: { ja: "このページは、パスキーを登録したサイトではありません。偽サイトの可能性があるため、パスキーは使われませんでした。", en: "This page is not the site the passkey belongs to. It may be a fake site, so the passkey was not used." },
  passkey_not_found: { ja: "このサイト用のパスキーはこの端末にありません。", en: "This device has no passkey for this site." },
  passkey_failed: { ja: "パスキーの処理に失敗しました。もう一度お試しください。", en: "The passkey step failed. Please try again." },
  key_missing: { ja: "この口座の鍵がキーチェーンに見つかりません。口座を削除して登録し直してください。", en: "This account's key is missing from the keychain. Remove the account and enroll again." },
  server_key_mismatch: { ja: "サーバーの鍵がリンクと一致しません。偽のサーバーの可能性があるため、登録を中止しました。", en: "The server's key does not match the link. It may be a fake server, so enrollment stopped." },
  ticket_unknown: { ja: "この登録用リンクは無効です。証券会社の画面で新しい QR コードを表示してください。", en: "This enrollment link is not valid. Show a new QR code on the brokerage's site." },
  ticket_expired: { ja: "この登録用リンクは期限切れです。新しい QR コードを表示してください。", en: "This enrollment link has expired. Show a new QR code." },
  ticket_already_used: { ja: "この登録用リンクはすでに使われています。新しい QR コードを表示してください。", en: "This enrollment link was already used. Show a new QR code." },
  server_unreachable: { ja: "サーバーに接続できません。ネットワークを確認して、もう一度お試しください。", en: "The server cannot be reached. Check the network and try again." },
  bad_response: { ja: "サーバーの応答を理解できませんでした。", en: "The server's answer was not understood." },
  challenge_expired: { ja: "この依頼は期限切れです。", en: "This request has expired." },
  challenge_not_found: { ja: "この依頼はもうありません。", en: "This request is gone." },
  challenge_unknown: { ja: "この依頼はもうありません。", en: "This request is gone." },
  challenge_not_pending: { ja: "この依頼はすでに処理されています。", en: "This request was already handled." },
  number_required: { ja: "画面に表示されている数字を入力してください。", en: "Type the number shown on the screen." },
  number_malformed: { ja: "数字の桁数が違います。", en: "The number has the wrong number of digits." },
  number_mismatch: { ja: "数字が違うため、この依頼は拒否されました。ご自身の操作であれば、ログインまたは出金をやり直し、画面に表示された数字を入力してください。", en: "Wrong number, so this request was refused. If it was you, start the login or withdrawal again and type the number its page shows." },
  number_mismatch_try_again: { ja: "数字が違います。証券会社の画面に表示されている数字を確かめて、もう一度入力してください。", en: "Wrong number. Check the number on the brokerage's page and type it again." },
  device_revoked: { ja: "この端末は証券会社側で無効にされました。口座を削除して、必要なら登録し直してください。", en: "This device was revoked by the brokerage. Remove the account and enroll again if needed." },
  device_unknown: { ja: "この端末はサーバーに登録されていません。口座を削除して登録し直してください。", en: "The server does not know this device. Remove the account and enroll again." },
  push_blocked: { ja: "この口座へのプッシュ通知は停止されています。", en: "Pushes to this account are stopped." },
  enroll_no_link: { ja: "先に登録用リンクか QR コードを読み取ってください。", en: "Read an enrollment link or QR code first." },
  name_invalid: { ja: "名前は 1〜64 文字で入力してください。", en: "A name must be 1 to 64 characters." },
  user_not_verified: { ja: "本人確認ができなかったため、承認していません。", en: "You were not verified, so nothing was approved." },
  account_not_found: { ja: "この口座はもうありません。", en: "This account is gone." },
  storage: { ja: "この端末のデータを読み書きできませんでした。", en: "This device's data could not be read or written." },
  clock_skew: { ja: "端末の時計がずれています。時刻を合わせてください。", en: "This device's clock is off. Set the time." },
  verifier_unreachable: { ja: "認証サーバーに接続できません。しばらくしてから、もう一度お試しください。", en: "The verification server cannot be reached. Try again in a while." },
  unknown: { ja: "予期しないエラーが起きました（{code}）。", en: "Something unexpected happened ({code})." },
  bad_request: { ja: "リクエストの形式が正しくありません。", en: "The request is malformed." },
  body_too_large: { ja: "送信された内容が大きすぎます。", en: "What was sent is too large." },
  unauthorized: { ja: "認証されていません。", en: "Not authenticated." },
  not_found: { ja: "見つかりません。", en: "Not found." },
  bad_signature: { ja: "署名を確認できませんでした。この依頼は受け付けられません。", en: "The signature could not be verified, so this was not accepted." },
  session_expired: { ja: "接続の有効期限が切れました。もう一度お試しください。", en: "The session expired. Please try again." },
  nonce_unknown: { ja: "接続の確認に失敗しました。もう一度お試しください。", en: "The connection check failed. Please try again." },
  too_many_open_challenges: { ja: "承認待ちの依頼が多すぎます。しばらくしてから、もう一度お試しください。", en: "Too many requests are waiting for approval. Try again in a while." },
  too_many_pushes: { ja: "前回のログインから依頼が多すぎるため、プッシュ通知を一時停止しています。", en: "Too many requests since the last login, so pushes are paused." },
  cooldown_active: { ja: "拒否の直後のため、しばらくしてから、もう一度お試しください。", en: "A request was just denied. Wait a moment and try again." },
  no_devices: { ja: "この口座には認証アプリが登録されていません。", en: "No authenticator app is registered for this account." },
  invalid_details: { ja: "依頼の内容が正しくありません。", en: "The request's details are not valid." },
  internal: { ja: "サーバーで問題が起きました。しばらくしてから、もう一度お試しください。", en: "Something went wrong at the server. Try again in a while." },
  database_unavailable: { ja: "ただいま処理できません。少し待ってから、もう一度お試しください。何も変更されていません。", en: "This cannot be done right now. Wait a moment and try again; nothing was changed." },
  rate_limited: { ja: "操作が多すぎます。少し待ってから、もう一度お試しください。", en: "Too many attempts. Wait a moment and try again." },
  invalid_request: { ja: "リクエストの内容を使えません。", en: "The request's values cannot be used." },
  bad_private_key: { ja: "鍵の形式が正しくありません。", en: "The key is malformed." },
  bad_public_key: { ja: "公開鍵の形式が正しくありません。", en: "The public key is malformed." },
  canonical_json: { ja: "データの形式が正しくありません。", en: "The data is malformed." },
  malformed_signature: { ja: "署名の形式が正しくありません。", en: "The signature is malformed." },
  account_ambiguous: { ja: "該当する口座が複数あります。口座番号か端末名を指定してください。", en: "More than one account matches. Name the account number or the device." },
  challenge_mismatch: { ja: "依頼の内容がサーバーの記録と一致しません。承認していません。", en: "The request does not match the server's record, so nothing was approved." },
  email_code_needed: { ja: "メールで届いたワンタイム認証コードを入力してください。", en: "Type the one-time code from the mail." },
  forged_challenge: { ja: "サーバーの署名がない依頼です。偽の依頼の可能性があるため、表示していません。", en: "This request lacks the server's signature. It may be forged, so it is not shown." },
  unsafe_challenge_text: { ja: "依頼に表示できない文字が含まれているため、表示していません。", en: "The request holds text that cannot be shown safely, so it is not shown." },
  csrf_check_failed: { ja: "ページの有効期限が切れました。ページを開き直して、もう一度お試しください。", en: "The page expired. Open it again and retry." },
  field_too_long: { ja: "入力が長すぎます。", en: "An entry is too long." },
  invalid_text: { ja: "使えない文字が含まれています。", en: "An entry holds characters that cannot be used." },
  site_refused: { ja: "証券会社のサイトが受け付けませんでした。", en: "The brokerage's site refused." },
  passkey_rejected: { ja: "パスキーが受け付けられませんでした。", en: "The passkey was not accepted." },
  password_needed: { ja: "パスワードを入力してください（INKAN_SITE_PASSWORD または標準入力）。", en: "Give the password (INKAN_SITE_PASSWORD or standard input)." },
};
