// The UI's state. Every screen renders from this alone (views.ts), so each state a screen
// can be in (loading, empty, error, expired, success) is a value a test can build.
import type {
  AccountView,
  AppSettings,
  ChallengeView,
  CommandError,
  DecisionView,
  HistoryItem,
  LinkPreview,
  OfflineCodeView,
} from "./bindings";

export type Load<T> =
  | { status: "loading" }
  | { status: "ready"; value: T }
  | { status: "error"; error: CommandError };

export type Screen = "pending" | "detail" | "enroll" | "history" | "accounts" | "code" | "settings";

export interface DetailState {
  id: string;
  /** The challenge as last seen (kept to show the outcome after it leaves the inbox). */
  challenge: ChallengeView;
  number: string;
  step: "review" | "confirm" | "fraud" | "sending" | "done";
  error: CommandError | null;
  result: DecisionView | null;
  /** Gone from the inbox before a decision here (handled elsewhere, or expired). */
  gone: boolean;
  /** Handed over by the site's page in a browser on this computer, number filled in. */
  sameDevice?: boolean;
}

export interface EnrollState {
  step: "input" | "reading" | "preview" | "working" | "done";
  link: string;
  preview: LinkPreview | null;
  deviceName: string;
  error: CommandError | null;
  account: AccountView | null;
}

export interface AccountsState {
  renaming: string | null;
  renameText: string;
  removing: string | null;
  error: CommandError | null;
}

export interface CodeState {
  account: string | null;
  value: Load<OfflineCodeView> | null;
  /** Unix seconds when `value` was fetched (the countdown runs from there). */
  fetchedAt: number;
}

export interface State {
  screen: Screen;
  settings: AppSettings;
  accounts: Load<AccountView[]>;
  pending: Load<ChallengeView[]>;
  detail: DetailState | null;
  enroll: EnrollState;
  history: Load<HistoryItem[]>;
  accountsUi: AccountsState;
  code: CodeState;
  /** Unix seconds; the countdowns tick from it. */
  now: number;
  mobile: boolean;
}

export function initialState(now: number): State {
  return {
    screen: "pending",
    settings: { language: "ja", theme: "system", notifications: true, start_minimised: false },
    accounts: { status: "loading" },
    pending: { status: "loading" },
    detail: null,
    enroll: { step: "input", link: "", preview: null, deviceName: "", error: null, account: null },
    history: { status: "loading" },
    accountsUi: { renaming: null, renameText: "", removing: null, error: null },
    code: { account: null, value: null, fetchedAt: now },
    now,
    mobile: false,
  };
}

export function secondsLeft(c: ChallengeView, now: number): number {
  return c.expires_at - now;
}

export function isExpired(c: ChallengeView, now: number): boolean {
  return secondsLeft(c, now) < 0;
}
