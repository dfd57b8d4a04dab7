// The controller against a fake shell: what the person does becomes the right command, and
// what the shell answers (or pushes) becomes the right screen.
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Api } from "../src/api";
import type { ChallengeView, Focus } from "../src/bindings";
import { App } from "../src/app";
import * as fx from "./fixtures";

type Handlers = {
  inbox?: (l: ChallengeView[]) => void;
  focus?: () => void;
  /** What the fake shell holds for the window; taken once, like the real one. */
  waiting: Focus[];
};

/** The shell keeps `f` and says so, as it does for a click, a link or a page's request. */
async function focusOn(on: Handlers, f: Focus): Promise<void> {
  on.waiting.push(f);
  on.focus?.();
  await flush();
}

function fakeApi(over: Partial<Api> = {}): { api: Api; on: Handlers } {
  const on: Handlers = { waiting: [] };
  const api: Api = {
    getSettings: vi.fn(async () => ({ language: "ja" as const, theme: "system" as const, notifications: true, start_minimised: false })),
    setSettings: vi.fn(async () => undefined),
    listAccounts: vi.fn(async () => fx.accounts()),
    renameAccount: vi.fn(async () => undefined),
    removeAccount: vi.fn(async () => undefined),
    previewLink: vi.fn(async () => fx.preview()),
    previewQrImage: vi.fn(async () => fx.preview()),
    cancelEnroll: vi.fn(async () => undefined),
    enroll: vi.fn(async () => fx.accounts()[0]),
    pending: vi.fn(async () => [fx.withdrawalChallenge(Math.floor(Date.now() / 1000))]),
    decide: vi.fn(async (id: string) => ({ challenge_id: id, state: "approved" as const })),
    history: vi.fn(async () => fx.history()),
    offlineCode: vi.fn(async () => fx.code()),
    takeFocus: vi.fn(async () => on.waiting.shift() ?? null),
    uiPainted: vi.fn(async () => undefined),
    onInbox: vi.fn(async (cb) => void (on.inbox = cb)),
    onAccounts: vi.fn(async () => undefined),
    onFocus: vi.fn(async (cb) => void (on.focus = cb)),
    ...over,
  };
  return { api, on };
}

const root = () => document.getElementById("root") as HTMLElement;
const click = (sel: string) => (root().querySelector(sel) as HTMLElement).click();
const flush = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  document.body.innerHTML = '<div id="root"></div>';
});

describe("approving", () => {
  it("types the number, confirms, and sends exactly that decision", async () => {
    const { api } = fakeApi();
    const app = new App(root(), api);
    await app.start();
    click("article.card button");
    app.actions.setNumber("4 2 7");
    click("#approve");
    expect(root().querySelector("[role=dialog]")).not.toBeNull();
    click("#confirm-approve");
    await flush();
    expect(api.decide).toHaveBeenCalledWith("ch-wd-1", "approve", "427");
    expect(root().querySelector("[data-state=approved]")).not.toBeNull();
  });

  it("a same-device request opens the challenge with the page's number filled in; the person still confirms", async () => {
    const { api, on } = fakeApi();
    const app = new App(root(), api);
    await app.start();
    const login = fx.loginChallenge(Math.floor(Date.now() / 1000));
    on.inbox?.([login]); // the shell puts it in the inbox first
    await focusOn(on, { kind: "same_device", request: { challenge: login, number: "738" } });
    expect(root().querySelector(".same-device")).not.toBeNull();
    expect((root().querySelector("#number") as HTMLInputElement).value).toBe("738");
    expect(api.decide).not.toHaveBeenCalled();
    click("#approve");
    click("#confirm-approve");
    await flush();
    expect(api.decide).toHaveBeenCalledWith(fx.loginChallenge(0).id, "approve", "738");
  });

  it("a window opened from a notification starts on that request", async () => {
    const { api, on } = fakeApi();
    const wd = fx.withdrawalChallenge(Math.floor(Date.now() / 1000));
    on.waiting.push({ kind: "challenge", challenge: wd });
    const app = new App(root(), api);
    await app.start();
    expect(app.s.screen).toBe("detail");
    expect(root().querySelector(`[data-challenge="${wd.id}"] #approve`)).not.toBeNull();
    // Taken once: the next focus (the tray, with several waiting) goes to the list.
    await focusOn(on, { kind: "pending" });
    expect(app.s.screen).toBe("pending");
    expect(api.takeFocus).toHaveBeenCalledTimes(2);
  });

  it("will not ask the shell without a number of the right length", async () => {
    const { api } = fakeApi();
    const app = new App(root(), api);
    await app.start();
    click("article.card button");
    click("#approve");
    expect(root().querySelector("[data-code=number_required]")).not.toBeNull();
    app.actions.setNumber("12");
    click("#approve");
    expect(root().querySelector("[data-code=number_malformed]")).not.toBeNull();
    expect(api.decide).not.toHaveBeenCalled();
  });

  /** Opens the first card, types a wrong number and confirms; the shell refuses with `code`. */
  async function answerWrongNumber(code: string): Promise<Handlers> {
    const { api, on } = fakeApi({ decide: vi.fn(async () => Promise.reject({ code, message: "no" })) });
    await new App(root(), api).start();
    click("article.card button");
    (root().querySelector("#number") as HTMLInputElement).value = "999";
    root().querySelector("#number")?.dispatchEvent(new Event("input"));
    click("#approve");
    click("#confirm-approve");
    await flush();
    return on;
  }

  it("a wrong number with a try left keeps the card open for another try", async () => {
    await answerWrongNumber("number_mismatch_try_again");
    expect(root().querySelector("[data-code=number_mismatch_try_again]")).not.toBeNull();
    expect(root().querySelector("#approve")).not.toBeNull();
  });

  it("a wrong number that ended the request says so, even after the inbox drops it", async () => {
    const on = await answerWrongNumber("number_mismatch");
    on.inbox?.([]);
    expect(root().querySelector("[data-code=number_mismatch]")).not.toBeNull();
    expect(root().querySelector("#approve")).toBeNull();
    expect(root().textContent).not.toContain("別の場所");
  });

  it("not me: explains, then sends deny_fraud", async () => {
    const { api } = fakeApi({ decide: vi.fn(async (id: string) => ({ challenge_id: id, state: "denied_fraud" as const })) });
    const app = new App(root(), api);
    await app.start();
    click("article.card button");
    click("#not-me");
    click("#confirm-fraud");
    await flush();
    expect(api.decide).toHaveBeenCalledWith("ch-wd-1", "deny_fraud", null);
    expect(root().querySelector("[data-state=denied_fraud]")).not.toBeNull();
  });

  it("a challenge resolved elsewhere while open says so", async () => {
    const { api, on } = fakeApi();
    const app = new App(root(), api);
    await app.start();
    click("article.card button");
    on.inbox?.([]);
    expect(root().textContent).toContain("別の場所で処理された");
  });

  it("reports painted cards to the shell once each", async () => {
    const { api } = fakeApi();
    vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => (cb(0), 0));
    const app = new App(root(), api);
    await app.start();
    app.render();
    await flush();
    const ids = (api.uiPainted as ReturnType<typeof vi.fn>).mock.calls.flatMap((c) => c[0]);
    expect(ids.filter((id: string) => id === "ch-wd-1")).toHaveLength(1);
    vi.unstubAllGlobals();
  });
});

describe("enrolling", () => {
  it("link -> preview -> enroll -> done", async () => {
    const { api } = fakeApi();
    const app = new App(root(), api);
    await app.start();
    app.actions.go("enroll");
    app.actions.setLink("inkan://enroll?v=1&...");
    click("#read-link");
    await flush();
    expect(api.previewLink).toHaveBeenCalledWith("inkan://enroll?v=1&...", "pasted");
    expect(root().querySelector(".row.server dd")?.textContent).toBe("broker.example");
    click("#confirm-enroll");
    await flush();
    expect(api.enroll).toHaveBeenCalledWith("Inkan app (Linux)");
    expect(root().querySelector("[data-state=enrolled]")).not.toBeNull();
  });

  it("a used ticket goes back to the start with the reason; the server down keeps the preview", async () => {
    const enroll = vi
      .fn()
      .mockRejectedValueOnce({ code: "server_unreachable", message: "" })
      .mockRejectedValueOnce({ code: "ticket_already_used", message: "" });
    const { api } = fakeApi({ enroll });
    const app = new App(root(), api);
    await app.start();
    app.actions.go("enroll");
    click("#read-link");
    await flush();
    click("#confirm-enroll");
    await flush();
    expect(root().querySelector("[data-code=server_unreachable]")).not.toBeNull();
    expect(root().querySelector("#confirm-enroll")).not.toBeNull();
    click("#confirm-enroll");
    await flush();
    expect(root().querySelector("[data-code=ticket_already_used]")).not.toBeNull();
    expect(root().querySelector("textarea#link")).not.toBeNull();
  });

  it("a deep link opens the preview; a bad one shows its error", async () => {
    const { api, on } = fakeApi();
    const app = new App(root(), api);
    await app.start();
    await focusOn(on, { kind: "link", opened: { preview: { ...fx.preview(), source: "deep_link" }, error: null } });
    expect(app.s.screen).toBe("enroll");
    expect(root().querySelector("#confirm-enroll")).not.toBeNull();
    await focusOn(on, { kind: "link", opened: { preview: null, error: { code: "uri_missing_field", message: "" } } });
    expect(root().querySelector("[data-code=uri_missing_field]")).not.toBeNull();
  });
});

describe("settings and accounts", () => {
  it("switching to English re-renders and saves", async () => {
    const { api } = fakeApi();
    const app = new App(root(), api);
    await app.start();
    app.actions.go("settings");
    (root().querySelector("input[name=lang][value=en]") as HTMLInputElement).dispatchEvent(new Event("change"));
    await flush();
    expect(document.documentElement.lang).toBe("en");
    expect(root().textContent).toContain("Settings");
    expect(api.setSettings).toHaveBeenCalledWith(expect.objectContaining({ language: "en" }));
  });

  it("rename and remove go to the shell", async () => {
    const { api } = fakeApi();
    const app = new App(root(), api);
    await app.start();
    app.actions.go("accounts");
    app.actions.startRename("acc1");
    app.actions.setRenameText("仕事用");
    await app.actions.saveRename();
    expect(api.renameAccount).toHaveBeenCalledWith("acc1", "仕事用");
    app.actions.askRemove("acc2");
    await app.actions.confirmRemove();
    expect(api.removeAccount).toHaveBeenCalledWith("acc2");
  });

  it("the history loads when opened, and its error offers a retry", async () => {
    const history = vi.fn().mockRejectedValueOnce({ code: "storage", message: "" }).mockResolvedValue(fx.history());
    const { api } = fakeApi({ history });
    const app = new App(root(), api);
    await app.start();
    app.actions.go("history");
    await flush();
    click("[role=alert] button");
    await flush();
    expect(root().querySelectorAll(".history li")).toHaveLength(3);
  });
});
