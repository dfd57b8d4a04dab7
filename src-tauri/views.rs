//! What the UI is given: views of the core's state with nothing secret in them. Their
//! TypeScript declarations (`ui/src/bindings.ts`) are generated from these types by the
//! `bindings_are_current` test, which fails when the committed file drifts.

use inkan_core::{Account, HistoryEntry, PendingChallenge};
use inkan_protocol::display::mask_tail;
use inkan_protocol::{ChallengeDetails, ChallengeState, Decision, RpName};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The live push channel of one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    Connecting,
    Connected,
    /// Lost; the core is reconnecting.
    Offline,
    /// Ended for good (device revoked or unknown, key missing): see `channel_error`.
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AccountView {
    /// Local id.
    pub id: String,
    pub name: String,
    pub origin: String,
    /// The brokerage's name (from the verifier at enrollment); absent: the UI names the host.
    pub rp_name: Option<RpName>,
    /// The brokerage account number, masked: "****0001".
    pub account_masked: String,
    pub device_name: String,
    #[ts(type = "number")]
    pub enrolled_at: i64,
    pub channel: ChannelState,
    /// The error code that took the channel offline or stopped it.
    pub channel_error: Option<String>,
}

impl AccountView {
    pub fn new(a: &Account, channel: ChannelState, channel_error: Option<String>) -> Self {
        AccountView {
            id: a.id.clone(),
            name: a.name.clone(),
            origin: a.origin.clone(),
            rp_name: a.rp_name.clone(),
            account_masked: mask_tail(&a.account_id),
            device_name: a.device_name.clone(),
            enrolled_at: a.enrolled_at,
            channel,
            channel_error,
        }
    }
}

/// Where an enrollment link came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LinkSource {
    Pasted,
    Image,
    DeepLink,
    Camera,
}

/// An enrollment link, read and checked, waiting for the person to confirm. The ticket stays
/// in the shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct LinkPreview {
    pub origin: String,
    pub host: String,
    /// The server's label for the account, with the account number masked by the server.
    pub label: String,
    /// Plain http (a development server): the UI warns.
    pub insecure: bool,
    /// The fingerprint of the server key the link pins, shortened for comparing by eye.
    pub server_key_short: String,
    pub source: LinkSource,
    /// A suggestion for the name this device gets on the server.
    pub device_name: String,
    /// This server and account are already enrolled on this device.
    pub already_enrolled: bool,
}

/// The answer to a link that arrived without the UI asking (deep link, second launch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct LinkOpened {
    pub preview: Option<LinkPreview>,
    pub error: Option<crate::CommandError>,
}

/// A verified challenge waiting for the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ChallengeView {
    pub id: String,
    /// Local account id.
    pub account: String,
    pub account_name: String,
    /// The brokerage account number, masked: "****0001".
    pub account_masked: String,
    pub origin: String,
    /// Who is asking: the brokerage's name; absent for accounts enrolled without one (the UI
    /// then names the server's host).
    pub rp_name: Option<RpName>,
    pub details: ChallengeDetails,
    /// Digits to type from the page (number matching), if asked.
    pub number_digits: Option<u8>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub expires_at: i64,
}

impl ChallengeView {
    /// The challenge as the window shows it, with its account's names (`None`: an account
    /// removed meanwhile).
    pub fn new(p: &PendingChallenge, account: Option<&Account>) -> Self {
        let c = &p.challenge;
        ChallengeView {
            id: c.id.clone(),
            account: p.account.clone(),
            account_name: account.map(|a| a.name.clone()).unwrap_or_default(),
            account_masked: account.map(|a| mask_tail(&a.account_id)).unwrap_or_default(),
            origin: c.origin.clone(),
            rp_name: account.and_then(|a| a.rp_name.clone()),
            details: c.details.clone(),
            number_digits: c.number_match.map(|n| n.digits),
            created_at: c.created_at,
            expires_at: c.expires_at,
        }
    }
}

/// What became of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DecisionView {
    pub challenge_id: String,
    pub state: ChallengeState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct HistoryItem {
    #[ts(type = "number")]
    pub at: i64,
    pub account: String,
    pub account_name: String,
    pub kind: String,
    pub summary: String,
    /// What was shown and signed (absent in older entries: `summary` then stands in).
    pub details: Option<ChallengeDetails>,
    pub decision: Decision,
    pub state: ChallengeState,
    /// Why the server refused the decision and ended the request (`number_mismatch`).
    pub refused: Option<String>,
}

impl HistoryItem {
    pub fn new(h: HistoryEntry, account_name: String) -> Self {
        HistoryItem {
            at: h.at,
            account: h.account,
            account_name,
            kind: h.kind,
            summary: h.summary,
            details: h.details,
            decision: h.decision,
            state: h.state,
            refused: h.refused,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct OfflineCodeView {
    pub account: String,
    pub code: String,
    pub seconds_left: u32,
    pub period: u32,
}

/// A page in a browser on this computer asked (over the loopback port, from the enrolled
/// server's origin) to take up this challenge, with the number it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SameDeviceRequest {
    pub challenge: ChallengeView,
    pub number: String,
}

/// What the window shows first when it opens (or comes forward) for a reason: the shell
/// keeps it until the UI takes it ([`crate::Shell::take_focus`]), so a window built for it
/// finds it at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Focus {
    /// One waiting request (its notification or the tray was clicked).
    Challenge { challenge: ChallengeView },
    /// The list of waiting requests (the tray, with several).
    Pending,
    /// An enrollment link from outside (a deep link, a second launch), read or refused.
    Link { opened: LinkOpened },
    /// A page in a browser on this computer handed over its request.
    SameDevice { request: SameDeviceRequest },
}

impl Focus {
    /// Its kind, as the UI branches on it.
    pub fn kind(&self) -> &'static str {
        match self {
            Focus::Challenge { .. } => "challenge",
            Focus::Pending => "pending",
            Focus::Link { .. } => "link",
            Focus::SameDevice { .. } => "same_device",
        }
    }
}

/// Event names, shared with the UI through the bindings.
pub const EVENT_INBOX: &str = "inbox";
pub const EVENT_ACCOUNTS: &str = "accounts";
/// Something waits in [`Focus`]: take it.
pub const EVENT_FOCUS: &str = "focus";

/// The bindings file: every view, the error, the settings and the event names.
pub fn typescript_bindings() -> String {
    use inkan_protocol::{LoginContext, WithdrawalContext};
    let cfg = ts_rs::Config::new();
    let decls = [
        ChallengeDetails::decl(&cfg),
        LoginContext::decl(&cfg),
        WithdrawalContext::decl(&cfg),
        Decision::decl(&cfg),
        ChallengeState::decl(&cfg),
        ChannelState::decl(&cfg),
        AccountView::decl(&cfg),
        LinkSource::decl(&cfg),
        LinkPreview::decl(&cfg),
        LinkOpened::decl(&cfg),
        ChallengeView::decl(&cfg),
        DecisionView::decl(&cfg),
        HistoryItem::decl(&cfg),
        OfflineCodeView::decl(&cfg),
        SameDeviceRequest::decl(&cfg),
        Focus::decl(&cfg),
        RpName::decl(&cfg),
        crate::CommandError::decl(&cfg),
        crate::Language::decl(&cfg),
        crate::Theme::decl(&cfg),
        crate::AppSettings::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types in src-tauri/views.rs by the `bindings_are_current` test.\n\
         // Do not edit: change the Rust types and run `INKAN_UPDATE_BINDINGS=1 cargo test -p inkan-app`.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "export const EVENTS = {{ inbox: \"{EVENT_INBOX}\", accounts: \"{EVENT_ACCOUNTS}\", focus: \"{EVENT_FOCUS}\" }} as const;\n"
    ));
    // The one registry of error texts (inkan_protocol::error_text), Japanese and English.
    out.push_str("\n/** Every error code's text, from `inkan_protocol::error_text::ERROR_TEXTS`. */\n");
    out.push_str("export const ERROR_TEXTS: Record<string, { ja: string; en: string }> = {\n");
    for e in inkan_protocol::error_text::ERROR_TEXTS {
        let js = |t: &str| serde_json::to_string(t).expect("a string");
        out.push_str(&format!("  {}: {{ ja: {}, en: {} }},\n", e.code, js(e.ja), js(e.en)));
    }
    out.push_str("};\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bindings_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/bindings.ts");
        let fresh = super::typescript_bindings();
        if std::env::var("INKAN_UPDATE_BINDINGS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/bindings.ts is out of date: run `INKAN_UPDATE_BINDINGS=1 cargo test -p inkan-app bindings`"
        );
    }
}
