// The UI with Tauri's IPC mocked, for the screenshot and accessibility tests in headless
// Chromium (tests/screens.test.mjs). `?scenario=NAME&lang=ja|en` picks what the shell answers
// and where the UI stands. Built only with INKAN_UI_MOCK=1; never part of the app.
import "../src/style.css";
import { mockIPC } from "@tauri-apps/api/mocks";
import { App } from "../src/app";
import { tauriApi } from "../src/api";
import type { Language } from "../src/bindings";
import type { State } from "../src/model";
import * as fx from "./fixtures";

const now = Math.floor(Date.now() / 1000);
const wd = fx.withdrawalChallenge(now);
const login = fx.loginChallenge(now);
const err = (code: string) => ({ code, message: code });

type Scenario = {
  answers?: Record<string, unknown>;
  fail?: Record<string, string>;
  after?: (app: App) => Partial<State> | void;
};

const detail = (c = wd, extra: Partial<NonNullable<State["detail"]>> = {}): Partial<State> => ({
  screen: "detail",
  detail: { id: c.id, challenge: c, number: "", step: "review", error: null, result: null, gone: false, ...extra },
});
const enroll = (extra: Partial<State["enroll"]>) => (app: App): Partial<State> => ({
  screen: "enroll",
  enroll: { ...app.s.enroll, ...extra },
});

const scenarios: Record<string, Scenario> = {
  "pending-empty": { answers: { pending: [] } },
  "pending-no-accounts": { answers: { pending: [], list_accounts: [] } },
  "pending-list": {},
  "pending-error": { fail: { pending: "server_unreachable" } },
  "detail-withdrawal": { after: () => detail(wd, { number: "42" }) },
  "detail-login": { after: () => detail(login) },
  "detail-same-device": { after: () => detail(login, { number: "738", sameDevice: true }) },
  "detail-confirm": { after: () => detail(wd, { number: "427", step: "confirm" }) },
  "detail-wrong-number": { after: () => detail(wd, { number: "999", step: "done", error: err("number_mismatch") }) },
  "detail-wrong-number-try-again": { after: () => detail(wd, { number: "999", error: err("number_mismatch_try_again") }) },
  "detail-not-me": { after: () => detail(login, { step: "fraud" }) },
  "detail-approved": { after: () => detail(wd, { step: "done", result: { challenge_id: wd.id, state: "approved" } }) },
  "detail-reported": { after: () => detail(login, { step: "done", result: { challenge_id: login.id, state: "denied_fraud" } }) },
  "detail-expired": { after: () => detail({ ...wd, created_at: now - 130, expires_at: now - 10 }) },
  "enroll-input": { after: enroll({}) },
  "enroll-error": { after: enroll({ link: "https://example.com/not-inkan", error: err("uri_wrong_scheme") }) },
  "enroll-preview": { after: enroll({ step: "preview", preview: fx.preview(true), deviceName: "Inkan app (Linux)" }) },
  "enroll-working": { after: enroll({ step: "working", preview: fx.preview(), deviceName: "Inkan app (Linux)" }) },
  "enroll-used-ticket": { after: enroll({ error: err("ticket_already_used") }) },
  "enroll-done": { after: enroll({ step: "done", account: fx.accounts()[0] }) },
  history: { after: (app) => void app.actions.go("history") },
  "history-empty": { answers: { history: [] }, after: (app) => void app.actions.go("history") },
  accounts: { after: () => ({ screen: "accounts" }) },
  "accounts-remove": {
    after: (app) => ({ screen: "accounts", accountsUi: { ...app.s.accountsUi, removing: "acc2" } }),
  },
  code: { after: (app) => void app.actions.showCode("acc1") },
  "code-error": { fail: { offline_code: "key_missing" }, after: (app) => void app.actions.showCode("acc1") },
  settings: { after: () => ({ screen: "settings" }) },
};

const params = new URLSearchParams(location.search);
const name = params.get("scenario") ?? "pending-list";
const lang = (params.get("lang") ?? "ja") as Language;
const sc = scenarios[name] ?? {};
const answers: Record<string, unknown> = {
  get_settings: { language: lang, theme: "light", notifications: true, start_minimised: false },
  list_accounts: fx.accounts(),
  pending: [wd, login],
  history: fx.history(),
  offline_code: fx.code(),
  ...sc.answers,
};

mockIPC(
  (cmd) => {
    if (sc.fail?.[cmd]) throw err(sc.fail[cmd]);
    if (cmd in answers) return answers[cmd];
    return null;
  },
  { shouldMockEvents: true },
);

(window as unknown as { INKAN_SCENARIOS: string[] }).INKAN_SCENARIOS = Object.keys(scenarios);
const app = new App(document.getElementById("app") as HTMLElement, tauriApi);
void app.start().then(async () => {
  const patch = sc.after?.(app);
  if (patch) app.set(patch);
  await new Promise((r) => setTimeout(r, 50));
  document.body.dataset.ready = name;
});
