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
account: string, account_name: string, origin: string, details: ChallengeDetails, 
/**
 * Digits to type from the page (number matching), if asked.
 */
number_digits: number | null, created_at: number, expires_at: number, };

export type DecisionView = { challenge_id: string, state: ChallengeState, };

export type HistoryItem = { at: number, account: string, account_name: string, kind: string, summary: string, decision: Decision, state: ChallengeState, };

export type OfflineCodeView = { account: string, code: string, seconds_left: number, period: number, };

export type SameDeviceRequest = { challenge: ChallengeView, number: string, };

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

export const EVENTS = { inbox: "inbox", accounts: "accounts", link: "enroll-link", sameDevice: "same-device" } as const;
