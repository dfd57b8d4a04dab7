// Sample data for the UI tests and the mocked-IPC screenshot page. Times are relative to
// `now` so countdowns show real values.
import type { AccountView, ChallengeView, HistoryItem, LinkPreview, OfflineCodeView } from "../src/bindings";

export const NOW = 1_795_770_000;

/** The brokerage's name as the verifier gives it at enrollment. */
export const RP_NAME = { ja: "いんかん証券", en: "Inkan Securities" };

export function loginChallenge(now = NOW, id = "ch-login-1"): ChallengeView {
  return {
    id,
    account: "acc1",
    account_name: "いんかん証券 ****0001",
    account_masked: "****0001",
    origin: "https://broker.example",
    rp_name: RP_NAME,
    details: {
      kind: "login",
      time: "2026-11-27T10:15:00+09:00",
      ip: "203.0.113.7",
      place: "東京都 / Tokyo",
      browser: "Chrome 131 / Windows 11",
    },
    number_digits: 3,
    created_at: now - 15,
    expires_at: now + 105,
  };
}

export function withdrawalChallenge(now = NOW, id = "ch-wd-1"): ChallengeView {
  return {
    id,
    account: "acc1",
    account_name: "いんかん証券 ****0001",
    account_masked: "****0001",
    origin: "https://broker.example",
    rp_name: RP_NAME,
    details: {
      kind: "withdrawal",
      amount: 1_250_000,
      currency: "JPY",
      bank: "みずほ銀行",
      branch: "渋谷支店",
      account_masked: "****5678",
      requested_at: "2026-11-27T10:16:00+09:00",
    },
    number_digits: 3,
    created_at: now - 5,
    expires_at: now + 115,
  };
}

export function accounts(): AccountView[] {
  return [
    {
      id: "acc1",
      name: "いんかん証券 ****0001",
      origin: "https://broker.example",
      rp_name: RP_NAME,
      account_masked: "****0001",
      device_name: "Inkan app (Linux)",
      enrolled_at: NOW - 86_400,
      channel: "connected",
      channel_error: null,
    },
    {
      id: "acc2",
      name: "QA staging ****0042",
      origin: "https://staging.broker.example",
      rp_name: null,
      account_masked: "****0042",
      device_name: "QA device 7",
      enrolled_at: NOW - 3_600,
      channel: "stopped",
      channel_error: "device_revoked",
    },
  ];
}

export function preview(insecure = false): LinkPreview {
  return {
    origin: insecure ? "http://127.0.0.1:8400" : "https://broker.example",
    host: insecure ? "127.0.0.1" : "broker.example",
    label: "いんかん証券 ****0001",
    insecure,
    server_key_short: "8EiBv9e-ktU0",
    source: "pasted",
    device_name: "Inkan app (Linux)",
    already_enrolled: false,
  };
}

export function history(): HistoryItem[] {
  return [
    {
      at: NOW - 120,
      account: "acc1",
      account_name: "いんかん証券 ****0001",
      kind: "withdrawal",
      summary: "出金 / Withdrawal: 1,250,000 JPY → みずほ銀行 渋谷支店 ****5678",
      details: withdrawalChallenge().details,
      decision: "approve",
      state: "approved",
      refused: null,
    },
    {
      at: NOW - 600,
      account: "acc1",
      account_name: "いんかん証券 ****0001",
      kind: "withdrawal",
      summary: "出金 / Withdrawal: 1,250,000 JPY → みずほ銀行 渋谷支店 ****5678",
      details: withdrawalChallenge().details,
      decision: "approve",
      state: "failed",
      refused: "number_mismatch",
    },
    {
      at: NOW - 7_200,
      account: "acc1",
      account_name: "いんかん証券 ****0001",
      kind: "login",
      summary: "ログイン / Login: 198.51.100.9 (大阪府 / Osaka, Safari 18 / macOS)",
      details: {
        kind: "login",
        time: "2026-11-27T08:15:00+09:00",
        ip: "198.51.100.9",
        place: "大阪府 / Osaka",
        browser: "Safari 18 / macOS",
      },
      decision: "deny_fraud",
      state: "denied_fraud",
      refused: null,
    },
  ];
}

export function code(): OfflineCodeView {
  return { account: "acc1", code: "482913", seconds_left: 17, period: 30 };
}
