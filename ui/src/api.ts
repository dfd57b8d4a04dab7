// The only way the UI reaches the Rust shell: typed commands and events. Types come from
// bindings.ts (generated from the Rust types).
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import {
  EVENTS,
  type AccountView,
  type AppSettings,
  type ChallengeView,
  type CommandError,
  type Decision,
  type DecisionView,
  type Focus,
  type HistoryItem,
  type LinkPreview,
  type LinkSource,
  type OfflineCodeView,
} from "./bindings";

export interface Api {
  getSettings(): Promise<AppSettings>;
  setSettings(settings: AppSettings): Promise<void>;
  listAccounts(): Promise<AccountView[]>;
  renameAccount(id: string, name: string): Promise<void>;
  removeAccount(id: string): Promise<void>;
  previewLink(link: string, source: LinkSource): Promise<LinkPreview>;
  previewQrImage(bytes: Uint8Array): Promise<LinkPreview>;
  cancelEnroll(): Promise<void>;
  enroll(deviceName: string): Promise<AccountView>;
  pending(): Promise<ChallengeView[]>;
  decide(challengeId: string, decision: Decision, number: string | null): Promise<DecisionView>;
  history(): Promise<HistoryItem[]>;
  offlineCode(account: string): Promise<OfflineCodeView>;
  /**
   * What the window should show first, once: a clicked notification's request, a link from
   * outside, a request handed over by a page on this computer; null when nothing waits.
   */
  takeFocus(): Promise<Focus | null>;
  uiPainted(ids: string[]): Promise<void>;
  onInbox(cb: (list: ChallengeView[]) => void): Promise<void>;
  onAccounts(cb: (list: AccountView[]) => void): Promise<void>;
  /** Something waits to be shown: take it with takeFocus. */
  onFocus(cb: () => void): Promise<void>;
}

/** Whatever was thrown, as the one error shape the UI branches on. */
export function asCommandError(e: unknown): CommandError {
  if (e && typeof e === "object" && "code" in e && typeof (e as CommandError).code === "string") {
    return e as CommandError;
  }
  return { code: "unknown", message: String(e) };
}

export const tauriApi: Api = {
  getSettings: () => invoke("get_settings"),
  setSettings: (settings) => invoke("set_settings", { settings }),
  listAccounts: () => invoke("list_accounts"),
  renameAccount: (id, name) => invoke("rename_account", { id, name }),
  removeAccount: (id) => invoke("remove_account", { id }),
  previewLink: (link, source) => invoke("preview_link", { link, source }),
  previewQrImage: (bytes) => invoke("preview_qr_image", bytes),
  cancelEnroll: () => invoke("cancel_enroll"),
  enroll: (deviceName) => invoke("enroll", { deviceName }),
  pending: () => invoke("pending"),
  decide: (challengeId, decision, number) => invoke("decide", { challengeId, decision, number }),
  history: () => invoke("history"),
  offlineCode: (account) => invoke("offline_code", { account }),
  takeFocus: () => invoke("take_focus"),
  uiPainted: (ids) => invoke("ui_painted", { ids }),
  onInbox: async (cb) => {
    await listen<ChallengeView[]>(EVENTS.inbox, (e) => cb(e.payload));
  },
  onAccounts: async (cb) => {
    await listen<AccountView[]>(EVENTS.accounts, (e) => cb(e.payload));
  },
  onFocus: async (cb) => {
    await listen<null>(EVENTS.focus, () => cb());
  },
};
