// The controller: holds the state, turns actions into commands, re-renders, and ticks the
// countdowns. State flows from the shell's events; the UI never decides what is valid.
import type { Api } from "./api";
import { asCommandError } from "./api";
import type { AppSettings, ChallengeView, Decision, Focus, LinkPreview } from "./bindings";
import { countdown } from "./format";
import { translator } from "./i18n";
import { type DetailState, initialState, type Screen, type State } from "./model";
import { appView, type Actions } from "./views";

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A request opened for review, nothing typed yet. */
const freshDetail = (c: ChallengeView): DetailState => ({
  id: c.id,
  challenge: c,
  number: "",
  step: "review",
  error: null,
  result: null,
  gone: false,
});

/** Answers after which the server has ended the request (a wrong number with no try left). */
const FINAL_ERRORS = ["number_mismatch"];
/** Answers meaning the request was decided elsewhere or no longer exists. */
const GONE_ERRORS = ["challenge_not_pending", "challenge_unknown", "challenge_not_found"];

export class App {
  s: State;
  private painted = new Set<string>();
  private firstPaint = false;

  constructor(
    private root: HTMLElement,
    private api: Api,
    init?: Partial<State>,
  ) {
    this.s = { ...initialState(nowSeconds()), ...init };
  }

  /** Loads everything, subscribes to the shell's events and starts the countdown tick. */
  async start(): Promise<void> {
    this.render();
    await Promise.all([
      this.api.onInbox((list) => this.onInbox(list)),
      this.api.onAccounts((list) => this.set({ accounts: { status: "ready", value: list } })),
      this.api.onFocus(() => void this.takeFocus()),
    ]);
    try {
      this.set({ settings: await this.api.getSettings() });
    } catch (e) {
      console.warn("settings", asCommandError(e).code);
    }
    await Promise.all([this.load("accounts"), this.load("pending")]);
    // The window may have been opened for something (a notification, a link, a page here).
    await this.takeFocus();
    setInterval(() => this.tick(), 1000);
  }

  /** Shows what the shell kept for the window: a request, the list, a link, a handed-over request. */
  async takeFocus(): Promise<void> {
    let focus: Focus | null;
    try {
      focus = await this.api.takeFocus();
    } catch (e) {
      console.warn("focus", asCommandError(e).code);
      return;
    }
    if (!focus) return;
    switch (focus.kind) {
      case "challenge":
        this.set({ screen: "detail", detail: freshDetail(focus.challenge) });
        break;
      case "pending":
        this.set({ screen: "pending" });
        break;
      case "same_device":
        this.set({
          screen: "detail",
          detail: { ...freshDetail(focus.request.challenge), number: focus.request.number, sameDevice: true },
        });
        break;
      case "link":
        if (focus.opened.preview) {
          this.showPreview(focus.opened.preview);
        } else if (focus.opened.error) {
          this.set({ screen: "enroll", enroll: { ...this.s.enroll, step: "input", error: focus.opened.error } });
        }
        break;
    }
  }

  private async load(what: "pending" | "accounts" | "history" | "code"): Promise<void> {
    try {
      if (what === "pending") this.onInbox(await this.api.pending());
      if (what === "accounts") this.set({ accounts: { status: "ready", value: await this.api.listAccounts() } });
      if (what === "history") this.set({ history: { status: "ready", value: await this.api.history() } });
      if (what === "code" && this.s.code.account) await this.actions.showCode(this.s.code.account);
    } catch (e) {
      const error = asCommandError(e);
      if (what === "pending") this.set({ pending: { status: "error", error } });
      if (what === "accounts") this.set({ accounts: { status: "error", error } });
      if (what === "history") this.set({ history: { status: "error", error } });
    }
  }

  private onInbox(list: ChallengeView[]): void {
    const d = this.s.detail;
    let detail = d;
    if (d && d.step !== "done" && d.step !== "sending") {
      const still = list.find((c) => c.id === d.id);
      detail = still ? { ...d, challenge: still } : { ...d, gone: true };
    }
    this.set({ pending: { status: "ready", value: list }, detail });
  }

  set(patch: Partial<State>): void {
    this.s = { ...this.s, ...patch };
    this.render();
  }

  render(): void {
    const t = translator(this.s.settings.language);
    document.documentElement.lang = this.s.settings.language;
    document.documentElement.dataset.theme = this.s.settings.theme;
    document.title = t("appName");
    const focusedId = document.activeElement?.id;
    this.root.replaceChildren(appView({ t, s: this.s, act: this.actions }));
    if (focusedId) document.getElementById(focusedId)?.focus();
    this.reportPaint();
  }

  /** Tells the shell which cards are on screen after the browser painted them (measure mode). */
  private reportPaint(): void {
    const ids = [...this.root.querySelectorAll<HTMLElement>("[data-challenge]")]
      .map((e) => e.dataset.challenge as string)
      .filter((id) => !this.painted.has(id));
    if (this.firstPaint && ids.length === 0) return;
    this.firstPaint = true;
    ids.forEach((id) => this.painted.add(id));
    requestAnimationFrame(() => setTimeout(() => void this.api.uiPainted(ids).catch(() => undefined), 0));
  }

  /** Moves the countdowns without re-rendering (typing is not disturbed). */
  tick(): void {
    const now = nowSeconds();
    const crossed =
      this.s.pending.status === "ready" &&
      this.s.pending.value.some((c) => c.expires_at - this.s.now >= 0 && c.expires_at - now < 0);
    this.s = { ...this.s, now };
    if (crossed || this.s.screen === "code") {
      this.render();
      if (this.s.screen === "code" && this.s.code.value?.status === "ready") {
        const v = this.s.code.value.value;
        if (v.seconds_left - (now - this.s.code.fetchedAt) <= 0 && this.s.code.account) {
          void this.actions.showCode(this.s.code.account);
        }
      }
      return;
    }
    const t = translator(this.s.settings.language);
    this.root.querySelectorAll<HTMLElement>("span[data-expires]").forEach((el) => {
      const left = Number(el.dataset.expires) - now;
      el.textContent = left < 0 ? t("expired") : t("expiresIn", { time: countdown(left) });
    });
    this.root.querySelectorAll<HTMLProgressElement>("progress[data-expires]").forEach((el) => {
      el.value = Math.max(0, Number(el.dataset.expires) - now);
    });
  }

  /** An enrollment link read and kept by the shell: show where it enrolls before confirming. */
  private showPreview(preview: LinkPreview): void {
    this.set({
      screen: "enroll",
      enroll: { ...this.s.enroll, step: "preview", preview, deviceName: preview.device_name, error: null },
    });
  }

  /** Reads a link (pasted, from an image or the camera) through the shell into a preview. */
  private async readPreview(read: () => Promise<LinkPreview>): Promise<void> {
    this.set({ enroll: { ...this.s.enroll, step: "reading", error: null } });
    try {
      this.showPreview(await read());
    } catch (err) {
      this.set({ enroll: { ...this.s.enroll, step: "input", error: asCommandError(err) } });
    }
  }

  private async decide(decision: Decision): Promise<void> {
    const d = this.s.detail;
    if (!d) return;
    this.set({ detail: { ...d, step: "sending", error: null } });
    try {
      const result = await this.api.decide(d.id, decision, decision === "approve" ? d.number.trim() || null : null);
      this.set({ detail: { ...d, step: "done", result, error: null } });
    } catch (e) {
      const error = asCommandError(e);
      if (FINAL_ERRORS.includes(error.code)) {
        // The server ended the request because of this answer: say why, and let the inbox's
        // removal of it (which may come a moment later) change nothing.
        this.set({ detail: { ...d, step: "done", result: null, error } });
        return;
      }
      this.set({ detail: { ...d, step: "review", error, gone: GONE_ERRORS.includes(error.code) } });
    }
  }

  readonly actions: Actions = {
    go: (screen: Screen) => {
      const patch: Partial<State> = { screen };
      if (screen === "history") {
        patch.history = { status: "loading" };
        void this.load("history");
      }
      if (screen === "code") {
        const accounts = this.s.accounts.status === "ready" ? this.s.accounts.value : [];
        const account = this.s.code.account ?? accounts[0]?.id ?? null;
        if (account) void this.actions.showCode(account);
      }
      if (screen === "enroll" && this.s.enroll.step === "done") {
        patch.enroll = { ...this.s.enroll, step: "input", link: "", preview: null, error: null, account: null };
      }
      this.set(patch);
    },
    openChallenge: (id) => {
      const c = this.s.pending.status === "ready" ? this.s.pending.value.find((x) => x.id === id) : undefined;
      if (!c) return;
      this.set({ screen: "detail", detail: freshDetail(c) });
    },
    setNumber: (v) => {
      if (this.s.detail) this.s = { ...this.s, detail: { ...this.s.detail, number: v.replace(/\D/g, "") } };
    },
    approve: () => {
      const d = this.s.detail;
      if (!d) return;
      const digits = d.challenge.number_digits;
      if (digits && d.number.trim().length === 0) {
        this.set({ detail: { ...d, error: { code: "number_required", message: "" } } });
      } else if (digits && d.number.trim().length !== digits) {
        this.set({ detail: { ...d, error: { code: "number_malformed", message: "" } } });
      } else {
        this.set({ detail: { ...d, step: "confirm", error: null } });
      }
    },
    confirmApprove: () => void this.decide("approve"),
    deny: () => void this.decide("deny"),
    askFraud: () => this.s.detail && this.set({ detail: { ...this.s.detail, step: "fraud" } }),
    confirmFraud: () => void this.decide("deny_fraud"),
    backToReview: () => this.s.detail && this.set({ detail: { ...this.s.detail, step: "review" } }),
    setLink: (v) => {
      this.s = { ...this.s, enroll: { ...this.s.enroll, link: v } };
    },
    readLink: () => void this.readPreview(() => this.api.previewLink(this.s.enroll.link, "pasted")),
    readImage: (file: File) =>
      void this.readPreview(async () => this.api.previewQrImage(new Uint8Array(await file.arrayBuffer()))),
    scanCamera: () =>
      void this.readPreview(async () => {
        // Mobile only: the barcode-scanner plugin reads the QR code with the camera.
        const { scan, Format } = await import("@tauri-apps/plugin-barcode-scanner");
        const found = await scan({ formats: [Format.QRCode] });
        return this.api.previewLink(found.content, "camera");
      }),
    setDeviceName: (v) => {
      this.s = { ...this.s, enroll: { ...this.s.enroll, deviceName: v } };
    },
    confirmEnroll: async () => {
      const e = this.s.enroll;
      this.set({ enroll: { ...e, step: "working", error: null } });
      try {
        const account = await this.api.enroll(e.deviceName);
        this.set({ enroll: { ...e, step: "done", account, error: null, link: "" } });
        void this.load("accounts");
      } catch (err) {
        const error = asCommandError(err);
        // A refused ticket cannot be retried: back to the start, with the reason.
        const final = !["server_unreachable", "keychain_unavailable", "keychain_locked", "name_invalid"].includes(error.code);
        this.set({ enroll: { ...e, step: final ? "input" : "preview", error, preview: final ? null : e.preview } });
      }
    },
    cancelEnroll: () => {
      void this.api.cancelEnroll();
      this.set({ enroll: { step: "input", link: "", preview: null, deviceName: "", error: null, account: null } });
    },
    restartEnroll: () =>
      this.set({ enroll: { step: "input", link: "", preview: null, deviceName: "", error: null, account: null } }),
    startRename: (id) => {
      const a = this.s.accounts.status === "ready" ? this.s.accounts.value.find((x) => x.id === id) : undefined;
      this.set({ accountsUi: { ...this.s.accountsUi, renaming: id, renameText: a?.name ?? "", error: null } });
    },
    setRenameText: (v) => {
      this.s = { ...this.s, accountsUi: { ...this.s.accountsUi, renameText: v } };
    },
    saveRename: async () => {
      const ui = this.s.accountsUi;
      if (!ui.renaming) return;
      try {
        await this.api.renameAccount(ui.renaming, ui.renameText);
        this.set({ accountsUi: { ...ui, renaming: null, error: null } });
        await this.load("accounts");
      } catch (e) {
        this.set({ accountsUi: { ...ui, error: asCommandError(e) } });
      }
    },
    cancelRename: () => this.set({ accountsUi: { ...this.s.accountsUi, renaming: null, error: null } }),
    askRemove: (id) => this.set({ accountsUi: { ...this.s.accountsUi, removing: id, error: null } }),
    confirmRemove: async () => {
      const ui = this.s.accountsUi;
      if (!ui.removing) return;
      try {
        await this.api.removeAccount(ui.removing);
        this.set({ accountsUi: { ...ui, removing: null, error: null } });
        await this.load("accounts");
      } catch (e) {
        this.set({ accountsUi: { ...ui, removing: null, error: asCommandError(e) } });
      }
    },
    cancelRemove: () => this.set({ accountsUi: { ...this.s.accountsUi, removing: null } }),
    showCode: async (account) => {
      this.set({ screen: "code", code: { account, value: { status: "loading" }, fetchedAt: nowSeconds() } });
      try {
        const value = await this.api.offlineCode(account);
        this.set({ code: { account, value: { status: "ready", value }, fetchedAt: nowSeconds() } });
      } catch (e) {
        this.set({ code: { account, value: { status: "error", error: asCommandError(e) }, fetchedAt: nowSeconds() } });
      }
    },
    setSettings: async (patch: Partial<AppSettings>) => {
      const next = { ...this.s.settings, ...patch };
      this.set({ settings: next });
      try {
        await this.api.setSettings(next);
      } catch (e) {
        console.warn("settings not saved", asCommandError(e).code);
      }
    },
    retry: (what) => void this.load(what),
  };
}
