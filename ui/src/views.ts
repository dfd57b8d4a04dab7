// Every screen as a pure function of the state. No strings here: all text comes from i18n.
import type { AccountView, AppSettings, ChallengeDetails, ChallengeState, ChallengeView, CommandError, RpName } from "./bindings";
import { h } from "./dom";
import { countdown, dateTime, groupThousands, inLanguage, spacedCode } from "./format";
import { errorText, type MessageKey, type T } from "./i18n";
import { isExpired, secondsLeft, type Load, type Screen, type State } from "./model";

export interface Actions {
  go(screen: Screen): void;
  openChallenge(id: string): void;
  setNumber(v: string): void;
  approve(): void;
  confirmApprove(): void;
  deny(): void;
  askFraud(): void;
  confirmFraud(): void;
  backToReview(): void;
  setLink(v: string): void;
  readLink(): void;
  readImage(file: File): void;
  scanCamera(): void;
  setDeviceName(v: string): void;
  confirmEnroll(): void;
  cancelEnroll(): void;
  restartEnroll(): void;
  startRename(id: string): void;
  setRenameText(v: string): void;
  saveRename(): void;
  cancelRename(): void;
  askRemove(id: string): void;
  confirmRemove(): void;
  cancelRemove(): void;
  showCode(account: string): void;
  setSettings(patch: Partial<AppSettings>): void;
  retry(what: "pending" | "accounts" | "history" | "code"): void;
}

export interface Ctx {
  t: T;
  s: State;
  act: Actions;
}

const NAV: [Screen, MessageKey][] = [
  ["pending", "navPending"],
  ["enroll", "navEnroll"],
  ["history", "navHistory"],
  ["accounts", "navAccounts"],
  ["code", "navCode"],
  ["settings", "navSettings"],
];

export function errorBox(ctx: Ctx, error: CommandError, retry?: () => void): HTMLElement {
  return h(
    "div",
    { class: "error", role: "alert", "data-code": error.code },
    h("p", {}, errorText(ctx.s.settings.language, error.code)),
    retry ? h("button", { type: "button", class: "secondary", onclick: retry }, ctx.t("retry")) : null,
  );
}

function loading(ctx: Ctx): HTMLElement {
  return h("p", { class: "loading", role: "status", "aria-live": "polite" }, ctx.t("loading"));
}

function withLoad<T>(ctx: Ctx, load: Load<T>, retry: () => void, ready: (v: T) => HTMLElement): HTMLElement {
  switch (load.status) {
    case "loading":
      return loading(ctx);
    case "error":
      return errorBox(ctx, load.error, retry);
    case "ready":
      return ready(load.value);
  }
}

/** "残り 1:45" with the live countdown hooks the app ticks. */
function expiry(ctx: Ctx, c: ChallengeView): HTMLElement {
  const left = secondsLeft(c, ctx.s.now);
  const total = Math.max(1, c.expires_at - c.created_at);
  return h(
    "div",
    { class: "expiry" },
    h(
      "span",
      { class: "countdown", "data-expires": c.expires_at, "data-label": ctx.t("expiresIn", { time: "{time}" }), "data-expired": ctx.t("expired") },
      left < 0 ? ctx.t("expired") : ctx.t("expiresIn", { time: countdown(left) }),
    ),
    h("progress", { max: total, value: Math.max(0, left), "data-expires": c.expires_at, "aria-hidden": "true" }),
  );
}

function kindLabel(ctx: Ctx, c: ChallengeView): string {
  return c.details.kind === "login" ? ctx.t("kindLogin") : ctx.t("kindWithdrawal");
}

function yen(ctx: Ctx, amount: number): string {
  return ctx.t("amountYen", { amount: groupThousands(amount) });
}

/** Bank, branch and masked number, each in the reader's language where it is a pair. */
function destinationOf(ctx: Ctx, d: ChallengeDetails): string {
  const lang = ctx.s.settings.language;
  return d.kind === "withdrawal" ? `${inLanguage(d.bank, lang)} ${inLanguage(d.branch, lang)} ${d.account_masked}` : "";
}

function destination(ctx: Ctx, c: ChallengeView): string {
  return destinationOf(ctx, c.details);
}

/** One line of what a request was: the amount and where it goes, or where the login came from. */
function detailsLine(ctx: Ctx, d: ChallengeDetails): string {
  const lang = ctx.s.settings.language;
  return d.kind === "withdrawal"
    ? `${yen(ctx, d.amount)} → ${destinationOf(ctx, d)}`
    : `${inLanguage(d.place, lang)} · ${d.ip} · ${d.browser}`;
}

function host(origin: string): string {
  try {
    return new URL(origin).hostname;
  } catch {
    return origin;
  }
}

/** Who is asking: the brokerage's name in this language, or the server's host without one. */
function asker(ctx: Ctx, v: { rp_name: RpName | null; origin: string }): string {
  return v.rp_name ? v.rp_name[ctx.s.settings.language] : host(v.origin);
}

/**
 * The brokerage account: its masked number, and the name the person gave it when it is more
 * than the brokerage's name and that number (the label every account starts with).
 */
function accountLine(c: ChallengeView): string {
  const plain = [c.rp_name?.ja, c.rp_name?.en].filter(Boolean).map((n) => `${n} ${c.account_masked}`);
  const named = c.account_name && c.account_name !== c.account_masked && !plain.includes(c.account_name);
  return named ? `${c.account_masked}（${c.account_name}）` : c.account_masked;
}

// ---- pending --------------------------------------------------------------------------

export function pendingView(ctx: Ctx): HTMLElement {
  const { s, t, act } = ctx;
  return h(
    "section",
    { class: "screen", "aria-labelledby": "pending-title" },
    h("h1", { id: "pending-title" }, t("pendingTitle")),
    withLoad(ctx, s.pending, () => act.retry("pending"), (list) => {
      if (list.length === 0) {
        const noAccounts = s.accounts.status === "ready" && s.accounts.value.length === 0;
        return h(
          "div",
          { class: "empty" },
          h("p", { class: "empty-title" }, noAccounts ? t("pendingNoAccounts") : t("pendingEmpty")),
          noAccounts
            ? h("button", { type: "button", class: "primary", onclick: () => act.go("enroll") }, t("pendingEnrollCta"))
            : h("p", { class: "muted" }, t("pendingEmptyHint")),
        );
      }
      return h("ul", { class: "cards" }, list.map((c) => h("li", {}, challengeCard(ctx, c))));
    }),
  );
}

function challengeCard(ctx: Ctx, c: ChallengeView): HTMLElement {
  const { t, act } = ctx;
  const expired = isExpired(c, ctx.s.now);
  const d = c.details;
  return h(
    "article",
    { class: `card ${d.kind}${expired ? " expired" : ""}`, "data-challenge": c.id },
    h("h2", {}, kindLabel(ctx, c)),
    d.kind === "withdrawal"
      ? h("p", { class: "amount" }, yen(ctx, d.amount))
      : h("p", { class: "where" }, `${inLanguage(d.place, ctx.s.settings.language)} · ${d.ip}`),
    d.kind === "withdrawal"
      ? h("p", { class: "dest" }, destination(ctx, c))
      : h("p", { class: "muted" }, d.browser),
    h("p", { class: "muted small who" }, `${asker(ctx, c)} · ${accountLine(c)}`),
    expiry(ctx, c),
    h(
      "button",
      { type: "button", class: "primary", disabled: expired, onclick: () => act.openChallenge(c.id) },
      t("open"),
    ),
  );
}

// ---- approval detail ------------------------------------------------------------------

function row(label: string, value: string, cls = ""): HTMLElement {
  return h("div", { class: `row ${cls}` }, h("dt", {}, label), h("dd", {}, value));
}

const RESULT_TEXT: Record<ChallengeState, MessageKey> = {
  approved: "resultApproved",
  denied: "resultDenied",
  denied_fraud: "resultFraud",
  failed: "resultFailed",
  expired: "resultExpired",
  cancelled: "resultCancelled",
  pending: "sending",
};

export function detailView(ctx: Ctx): HTMLElement {
  const { s, t, act } = ctx;
  const d = s.detail;
  if (!d) return pendingView(ctx);
  const c = d.challenge;
  const expired = isExpired(c, s.now);
  const lang = s.settings.language;
  const facts =
    c.details.kind === "withdrawal"
      ? [
          h("p", { class: "amount big", "aria-label": t("detailAmount") }, yen(ctx, c.details.amount)),
          h("dl", {}, [
            row(t("detailDestination"), destination(ctx, c), "dest"),
            row(t("detailRequestedAt"), dateTime(c.details.requested_at, lang)),
          ]),
        ]
      : [
          h("dl", {}, [
            row(t("detailWhen"), dateTime(c.details.time, lang)),
            row(t("detailWhere"), inLanguage(c.details.place, lang)),
            row(t("detailIp"), c.details.ip),
            row(t("detailBrowser"), c.details.browser),
          ]),
        ];
  const head = [
    h("button", { type: "button", class: "link back", onclick: () => act.go("pending") }, `← ${t("back")}`),
    h("h1", {}, kindLabel(ctx, c)),
    facts,
    h("dl", { class: "who" }, [row(t("detailServer"), asker(ctx, c), "asker"), row(t("detailAccount"), accountLine(c), "account")]),
  ];
  // Every outcome (decided, refused, gone, expired) ends with the same way back.
  const close = () => h("button", { type: "button", class: "primary", onclick: () => act.go("pending") }, t("close"));
  let body: (HTMLElement | null)[];
  if (d.step === "done" && d.result) {
    const ok = d.result.state === "approved";
    body = [
      h(
        "div",
        { class: `result ${ok ? "ok" : d.result.state}`, role: "status", "data-state": d.result.state },
        h("p", {}, t(RESULT_TEXT[d.result.state])),
      ),
      close(),
    ];
  } else if (d.step === "done" && d.error) {
    // A request ended by a wrong number: say what to do next, and open the new request as
    // soon as the brokerage's page sends one.
    const next =
      s.pending.status === "ready"
        ? s.pending.value.find((x) => x.account === c.account && x.id !== c.id && !isExpired(x, s.now))
        : undefined;
    body = [
      errorBox(ctx, d.error),
      next
        ? h("button", { type: "button", class: "primary", id: "next-request", onclick: () => act.openChallenge(next.id) }, t("nextRequestOpen"))
        : h("p", { class: "next-step", role: "status" }, t("nextRequestHint")),
      next ? h("button", { type: "button", class: "secondary", onclick: () => act.go("pending") }, t("close")) : close(),
    ];
  } else if (d.gone) {
    body = [
      h("div", { class: "result gone", role: "status" }, h("p", {}, t("resolvedElsewhere"))),
      close(),
    ];
  } else if (expired) {
    body = [
      h("div", { class: "result expired", role: "status", "data-state": "expired" }, h("p", {}, t("detailExpired"))),
      close(),
    ];
  } else if (d.step === "confirm") {
    body = [
      expiry(ctx, c),
      h(
        "div",
        { class: "confirm", role: "dialog", "aria-labelledby": "confirm-title" },
        h("h2", { id: "confirm-title" }, t("confirmTitle")),
        h(
          "p",
          {},
          c.details.kind === "withdrawal"
            ? t("confirmWithdrawal", { amount: groupThousands(c.details.amount), destination: destination(ctx, c) })
            : t("confirmLogin"),
        ),
        h("button", { type: "button", class: "primary", id: "confirm-approve", onclick: act.confirmApprove }, t("confirmApprove")),
        h("button", { type: "button", class: "secondary", onclick: act.backToReview }, t("back")),
      ),
    ];
  } else if (d.step === "fraud") {
    body = [
      h(
        "div",
        { class: "confirm fraud", role: "dialog", "aria-labelledby": "fraud-title" },
        h("h2", { id: "fraud-title" }, t("notMe")),
        h("p", {}, t("notMeExplain")),
        h("button", { type: "button", class: "danger", id: "confirm-fraud", onclick: act.confirmFraud }, t("notMe")),
        h("button", { type: "button", class: "secondary", onclick: act.backToReview }, t("back")),
      ),
    ];
  } else {
    const sending = d.step === "sending";
    const digits = c.number_digits;
    body = [
      d.sameDevice ? h("p", { class: "notice same-device", role: "status" }, t("sameDeviceNote")) : null,
      expiry(ctx, c),
      digits
        ? h(
            "div",
            { class: "number" },
            h("label", { for: "number" }, t("numberLabel", { digits })),
            h("input", {
              id: "number",
              name: "number",
              inputmode: "numeric",
              autocomplete: "one-time-code",
              pattern: `[0-9]{${digits}}`,
              maxlength: digits,
              value: d.number,
              disabled: sending,
              "aria-describedby": "number-hint",
              oninput: (e: Event) => act.setNumber((e.target as HTMLInputElement).value),
            }),
            h("p", { id: "number-hint", class: "muted small" }, t("numberHint")),
          )
        : null,
      d.error ? errorBox(ctx, d.error) : null,
      sending ? h("p", { class: "loading", role: "status" }, t("sending")) : null,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "primary", id: "approve", disabled: sending, onclick: act.approve }, t("approve")),
        h("button", { type: "button", class: "secondary", id: "deny", disabled: sending, onclick: act.deny }, t("deny")),
        h("button", { type: "button", class: "danger-link", id: "not-me", disabled: sending, onclick: act.askFraud }, t("notMe")),
      ),
    ];
  }
  return h("section", { class: `screen detail ${c.details.kind}`, "data-challenge": c.id }, head, body);
}

// ---- enroll ---------------------------------------------------------------------------

export function enrollView(ctx: Ctx): HTMLElement {
  const { s, t, act } = ctx;
  const e = s.enroll;
  const parts: (HTMLElement | null)[] = [h("h1", {}, t("enrollTitle"))];
  if (e.step === "input" || e.step === "reading") {
    const busy = e.step === "reading";
    parts.push(
      h("p", { class: "muted" }, t("enrollIntro")),
      h("label", { for: "link" }, t("enrollPasteLabel")),
      h("textarea", {
        id: "link",
        rows: 3,
        spellcheck: "false",
        autocomplete: "off",
        value: e.link,
        disabled: busy,
        oninput: (ev: Event) => act.setLink((ev.target as HTMLTextAreaElement).value),
      }),
      h("button", { type: "button", class: "primary", id: "read-link", disabled: busy, onclick: act.readLink }, t("enrollRead")),
      h(
        "div",
        {
          class: "drop",
          ondragover: (ev: Event) => ev.preventDefault(),
          ondrop: (ev: Event) => {
            ev.preventDefault();
            const f = (ev as DragEvent).dataTransfer?.files?.[0];
            if (f) act.readImage(f);
          },
        },
        h("p", { class: "muted" }, t("enrollDrop")),
        h("label", { for: "qr-file", class: "file-label" }, t("enrollImageLabel")),
        h("input", {
          id: "qr-file",
          class: "file-input",
          type: "file",
          accept: "image/png,image/jpeg",
          disabled: busy,
          onchange: (ev: Event) => {
            const f = (ev.target as HTMLInputElement).files?.[0];
            if (f) act.readImage(f);
          },
        }),
      ),
      s.mobile ? h("button", { type: "button", class: "secondary", onclick: act.scanCamera }, t("enrollCamera")) : null,
      busy ? h("p", { class: "loading", role: "status" }, t("enrollReading")) : null,
      e.error ? errorBox(ctx, e.error) : null,
    );
  } else if ((e.step === "preview" || e.step === "working") && e.preview) {
    const p = e.preview;
    const working = e.step === "working";
    parts.push(
      h("h2", {}, t("enrollCheck")),
      h("dl", { class: "preview" }, [
        row(t("enrollServer"), p.host, "server"),
        row(t("enrollAccount"), p.label, "account"),
        row(t("enrollKey"), p.server_key_short),
      ]),
      p.insecure ? h("p", { class: "warning", role: "note" }, t("enrollInsecure")) : null,
      p.already_enrolled ? h("p", { class: "warning", role: "note" }, t("enrollAlready")) : null,
      h("label", { for: "device-name" }, t("enrollDeviceName")),
      h("input", {
        id: "device-name",
        maxlength: 64,
        value: e.deviceName,
        disabled: working,
        oninput: (ev: Event) => act.setDeviceName((ev.target as HTMLInputElement).value),
      }),
      e.error ? errorBox(ctx, e.error) : null,
      working
        ? h(
            "div",
            { class: "progress", role: "status", "aria-live": "polite" },
            h("progress", { "aria-label": t("enrollWorking") }),
            h("p", {}, t("enrollWorking")),
            h("p", { class: "muted small" }, t("enrollWorkingHint")),
          )
        : h(
            "div",
            { class: "actions" },
            h("button", { type: "button", class: "primary", id: "confirm-enroll", onclick: act.confirmEnroll }, t("enrollConfirm")),
            h("button", { type: "button", class: "secondary", onclick: act.cancelEnroll }, t("cancel")),
          ),
    );
  } else if (e.step === "done" && e.account) {
    parts.push(
      h(
        "div",
        { class: "result ok", role: "status", "data-state": "enrolled" },
        h("p", {}, t("enrollDone")),
        h("p", {}, t("enrollDoneHint", { name: e.account.name })),
      ),
      h("button", { type: "button", class: "primary", onclick: () => act.go("pending") }, t("navPending")),
      h("button", { type: "button", class: "secondary", onclick: act.restartEnroll }, t("enrollAgain")),
    );
  }
  return h("section", { class: "screen enroll" }, parts);
}

// ---- history --------------------------------------------------------------------------

const STATE_TEXT: Record<ChallengeState, MessageKey> = {
  pending: "statePending",
  approved: "stateApproved",
  denied: "stateDenied",
  denied_fraud: "stateDeniedFraud",
  expired: "stateExpired",
  failed: "stateFailed",
  cancelled: "stateCancelled",
};

export function historyView(ctx: Ctx): HTMLElement {
  const { s, t, act } = ctx;
  return h(
    "section",
    { class: "screen" },
    h("h1", {}, t("historyTitle")),
    withLoad(ctx, s.history, () => act.retry("history"), (items) =>
      items.length === 0
        ? h("p", { class: "empty" }, t("historyEmpty"))
        : h(
            "ul",
            { class: "history" },
            items.map((i) =>
              h(
                "li",
                { class: `decision-${i.decision}`, "data-state": i.state, "data-refused": i.refused },
                // The outcome says the decision too (承認済み, 拒否済み…); a refused one says why.
                h(
                  "p",
                  {},
                  h("strong", {}, t(i.kind === "withdrawal" ? "kindWithdrawal" : "kindLogin")),
                  " · ",
                  i.refused === "number_mismatch"
                    ? t("historyWrongNumber")
                    : i.refused
                      ? errorText(s.settings.language, i.refused)
                      : t(STATE_TEXT[i.state]),
                ),
                h("p", { class: "muted small" }, `${dateTime(i.at, s.settings.language)} · ${i.account_name}`),
                h("p", { class: "small what" }, i.details ? detailsLine(ctx, i.details) : i.summary),
              ),
            ),
          ),
    ),
  );
}

// ---- accounts -------------------------------------------------------------------------

const CHANNEL_TEXT: Record<AccountView["channel"], MessageKey> = {
  connecting: "channelConnecting",
  connected: "channelConnected",
  offline: "channelOffline",
  stopped: "channelStopped",
};

export function accountsView(ctx: Ctx): HTMLElement {
  const { s, t, act } = ctx;
  const ui = s.accountsUi;
  return h(
    "section",
    { class: "screen" },
    h("h1", {}, t("accountsTitle")),
    ui.error ? errorBox(ctx, ui.error) : null,
    withLoad(ctx, s.accounts, () => act.retry("accounts"), (list) =>
      list.length === 0
        ? h(
            "div",
            { class: "empty" },
            h("p", {}, t("accountsEmpty")),
            h("button", { type: "button", class: "primary", onclick: () => act.go("enroll") }, t("pendingEnrollCta")),
          )
        : h(
            "ul",
            { class: "cards" },
            list.map((a) =>
              h(
                "li",
                {},
                h(
                  "article",
                  { class: "card account", "data-account": a.id },
                  ui.renaming === a.id
                    ? h(
                        "div",
                        { class: "rename" },
                        h("label", { for: `rename-${a.id}` }, t("nameLabel")),
                        h("input", {
                          id: `rename-${a.id}`,
                          maxlength: 64,
                          value: ui.renameText,
                          oninput: (e: Event) => act.setRenameText((e.target as HTMLInputElement).value),
                        }),
                        h("button", { type: "button", class: "primary", onclick: act.saveRename }, t("save")),
                        h("button", { type: "button", class: "secondary", onclick: act.cancelRename }, t("cancel")),
                      )
                    : h("h2", {}, a.name),
                  h("dl", {}, [
                    row(t("detailServer"), asker(ctx, a), "asker"),
                    row(t("enrollAccount"), a.account_masked),
                    row(t("enrollServer"), host(a.origin)),
                    row(t("deviceName"), a.device_name),
                    row(t("enrolledAt"), dateTime(a.enrolled_at, s.settings.language)),
                  ]),
                  h(
                    "p",
                    { class: `channel ${a.channel}`, "data-channel": a.channel },
                    t(CHANNEL_TEXT[a.channel]),
                    a.channel_error && a.channel !== "connected" ? ` — ${errorText(s.settings.language, a.channel_error)}` : "",
                  ),
                  ui.removing === a.id
                    ? h(
                        "div",
                        { class: "confirm", role: "dialog", "aria-labelledby": `remove-${a.id}` },
                        h("h3", { id: `remove-${a.id}` }, t("removeConfirm", { name: a.name })),
                        h("p", {}, t("removeExplain")),
                        h("button", { type: "button", class: "danger", onclick: act.confirmRemove }, t("removeYes")),
                        h("button", { type: "button", class: "secondary", onclick: act.cancelRemove }, t("cancel")),
                      )
                    : h(
                        "div",
                        { class: "actions inline" },
                        h("button", { type: "button", class: "secondary", onclick: () => act.showCode(a.id) }, t("showCode")),
                        h("button", { type: "button", class: "secondary", onclick: () => act.startRename(a.id) }, t("rename")),
                        h("button", { type: "button", class: "danger-link", onclick: () => act.askRemove(a.id) }, t("remove")),
                      ),
                ),
              ),
            ),
          ),
    ),
  );
}

// ---- offline code ---------------------------------------------------------------------

export function codeView(ctx: Ctx): HTMLElement {
  const { s, t, act } = ctx;
  const accounts = s.accounts.status === "ready" ? s.accounts.value : [];
  const parts: (HTMLElement | null)[] = [h("h1", {}, t("codeTitle")), h("p", { class: "muted" }, t("codeIntro"))];
  if (s.accounts.status === "ready" && accounts.length === 0) {
    parts.push(h("p", { class: "empty" }, t("codeNoAccounts")));
  } else if (s.accounts.status !== "ready") {
    parts.push(withLoad(ctx, s.accounts, () => act.retry("accounts"), () => h("span")));
  } else {
    if (accounts.length > 1) {
      parts.push(
        h("label", { for: "code-account" }, t("codeAccount")),
        h(
          "select",
          { id: "code-account", onchange: (e: Event) => act.showCode((e.target as HTMLSelectElement).value) },
          accounts.map((a) => h("option", { value: a.id, selected: a.id === s.code.account }, a.name)),
        ),
      );
    }
    const v = s.code.value;
    if (!v || v.status === "loading") parts.push(loading(ctx));
    else if (v.status === "error") parts.push(errorBox(ctx, v.error, () => act.retry("code")));
    else {
      const left = Math.max(0, v.value.seconds_left - (s.now - s.code.fetchedAt));
      parts.push(
        h("p", { class: "code", "aria-live": "polite" }, spacedCode(v.value.code)),
        h("p", { class: "muted" }, t("codeSeconds", { seconds: left })),
        h("progress", { max: v.value.period, value: left, "aria-hidden": "true" }),
      );
    }
  }
  return h("section", { class: "screen code-screen" }, parts);
}

// ---- settings -------------------------------------------------------------------------

export function settingsView(ctx: Ctx): HTMLElement {
  const { s, t, act } = ctx;
  const st = s.settings;
  const radio = (name: string, value: string, checked: boolean, label: string, on: () => void) =>
    h("label", { class: "choice" }, h("input", { type: "radio", name, value, checked, onchange: on }), label);
  return h(
    "section",
    { class: "screen settings" },
    h("h1", {}, t("settingsTitle")),
    h(
      "fieldset",
      {},
      h("legend", {}, t("settingsLanguage")),
      radio("lang", "ja", st.language === "ja", "日本語", () => act.setSettings({ language: "ja" })),
      radio("lang", "en", st.language === "en", "English", () => act.setSettings({ language: "en" })),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, t("settingsTheme")),
      radio("theme", "system", st.theme === "system", t("themeSystem"), () => act.setSettings({ theme: "system" })),
      radio("theme", "light", st.theme === "light", t("themeLight"), () => act.setSettings({ theme: "light" })),
      radio("theme", "dark", st.theme === "dark", t("themeDark"), () => act.setSettings({ theme: "dark" })),
    ),
    h(
      "label",
      { class: "choice" },
      h("input", { type: "checkbox", id: "notifications", checked: st.notifications, onchange: (e: Event) => act.setSettings({ notifications: (e.target as HTMLInputElement).checked }) }),
      t("settingsNotifications"),
    ),
    h(
      "label",
      { class: "choice" },
      h("input", { type: "checkbox", id: "start-minimised", checked: st.start_minimised, onchange: (e: Event) => act.setSettings({ start_minimised: (e.target as HTMLInputElement).checked }) }),
      t("settingsStartMinimised"),
    ),
  );
}

// ---- the frame ------------------------------------------------------------------------

const SCREENS: Record<Screen, (ctx: Ctx) => HTMLElement> = {
  pending: pendingView,
  detail: detailView,
  enroll: enrollView,
  history: historyView,
  accounts: accountsView,
  code: codeView,
  settings: settingsView,
};

export function appView(ctx: Ctx): HTMLElement {
  const { s, t, act } = ctx;
  const count = s.pending.status === "ready" ? s.pending.value.filter((c) => !isExpired(c, s.now)).length : 0;
  const current = s.screen === "detail" ? "pending" : s.screen;
  return h(
    "div",
    { class: "frame" },
    h(
      "header",
      { class: "top" },
      h("span", { class: "seal", "aria-hidden": "true" }, "印"),
      h("span", { class: "brand" }, t("appName")),
      h("span", { class: "tagline" }, t("tagline")),
    ),
    h(
      "nav",
      { class: "tabs", "aria-label": t("appName") },
      NAV.map(([screen, key]) =>
        h(
          "button",
          {
            type: "button",
            class: "tab",
            "data-screen": screen,
            "aria-current": current === screen ? "page" : null,
            onclick: () => act.go(screen),
          },
          t(key),
          screen === "pending" && count > 0 ? h("span", { class: "badge" }, count) : null,
        ),
      ),
    ),
    h("main", { id: "main" }, SCREENS[s.screen](ctx)),
  );
}
