// Every screen's states, rendered from plain state values (no shell, no IPC).
import { describe, expect, it, vi } from "vitest";
import { catalogues, errorCatalogues, errorText, translator } from "../src/i18n";
import { initialState, type State } from "../src/model";
import { appView, type Actions } from "../src/views";
import { dateTime } from "../src/format";
import * as fx from "./fixtures";

const noop = () => undefined;
const actions = new Proxy({}, { get: () => vi.fn() }) as unknown as Actions;

function render(patch: Partial<State>, lang: "ja" | "en" = "ja"): HTMLElement {
  const s: State = { ...initialState(fx.NOW), ...patch };
  s.settings = { ...s.settings, language: lang };
  const el = appView({ t: translator(lang), s, act: actions });
  document.body.replaceChildren(el);
  return el;
}
const text = (el: HTMLElement) => el.textContent ?? "";
const ready = <T>(value: T) => ({ status: "ready" as const, value });
const failed = (code: string) => ({ status: "error" as const, error: { code, message: "" } });

describe("catalogues", () => {
  it("English has every Japanese message and every error sentence", () => {
    expect(Object.keys(catalogues.en).sort()).toEqual(Object.keys(catalogues.ja).sort());
    expect(Object.keys(errorCatalogues.en).sort()).toEqual(Object.keys(errorCatalogues.ja).sort());
  });
  it("unknown codes still read as a sentence, naming the code", () => {
    expect(errorText("ja", "teapot")).toContain("teapot");
    expect(errorText("en", "qr_not_found")).toBe("No QR code was found in the image.");
  });
});

describe("pending", () => {
  it("loading", () => expect(text(render({ pending: { status: "loading" } }))).toContain("読み込み中"));
  it("error, with a retry", () => {
    const el = render({ pending: failed("server_unreachable") });
    expect(el.querySelector("[role=alert]")?.textContent).toContain("サーバーに接続できません");
    expect(el.querySelector("[role=alert] button")?.textContent).toBe("もう一度試す");
  });
  it("empty with no accounts asks to enroll", () => {
    const el = render({ pending: ready([]), accounts: ready([]) });
    expect(text(el)).toContain("まだどの証券口座にも登録されていません");
    expect(text(el)).toContain("認証アプリを登録する");
    // Never words that read like opening a brokerage account.
    expect(text(el)).not.toMatch(/口座を(登録|開設)/);
  });
  it("empty with accounts says nothing is waiting", () => {
    expect(text(render({ pending: ready([]), accounts: ready(fx.accounts()) }, "en"))).toContain("Nothing to approve.");
  });
  it("cards with amount, destination, place and a countdown; the tab shows the count", () => {
    const el = render({ pending: ready([fx.withdrawalChallenge(), fx.loginChallenge()]) });
    expect(el.querySelectorAll("article.card")).toHaveLength(2);
    expect(text(el)).toContain("1,250,000 円");
    expect(text(el)).toContain("みずほ銀行 渋谷支店 ****5678");
    expect(text(el)).toContain("203.0.113.7");
    expect(el.querySelector(".countdown")?.textContent).toBe("残り 1:55");
    expect(el.querySelector(".tab .badge")?.textContent).toBe("2");
  });
  it("an expired card says so and cannot be opened", () => {
    const c = { ...fx.loginChallenge(), expires_at: fx.NOW - 1 };
    const el = render({ pending: ready([c]) }, "en");
    expect(el.querySelector(".countdown")?.textContent).toBe("Expired");
    expect(el.querySelector<HTMLButtonElement>("article button")?.disabled).toBe(true);
    expect(el.querySelector(".tab .badge")).toBeNull();
  });
});

function detail(c = fx.withdrawalChallenge(), extra: Partial<NonNullable<State["detail"]>> = {}): Partial<State> {
  return {
    screen: "detail",
    pending: ready([c]),
    detail: { id: c.id, challenge: c, number: "", step: "review", error: null, result: null, gone: false, ...extra },
  };
}

describe("approval detail", () => {
  it("a withdrawal shows amount and masked destination in large type, and asks for the number", () => {
    const el = render(detail());
    expect(el.querySelector(".amount.big")?.textContent).toBe("1,250,000 円");
    expect(el.querySelector(".row.dest dd")?.textContent).toBe("みずほ銀行 渋谷支店 ****5678");
    expect(el.querySelector("label[for=number]")?.textContent).toContain("3 桁");
    expect(el.querySelector<HTMLInputElement>("#number")?.maxLength).toBe(3);
    expect(text(el)).toContain("心当たりがない");
  });
  it("a login shows when, where, IP and browser", () => {
    const el = render(detail(fx.loginChallenge()), "en");
    for (const s of ["Tokyo", "203.0.113.7", "Chrome 131 / Windows 11", "2026"]) expect(text(el)).toContain(s);
  });
  it("the signed place's two halves: each language shows its own", () => {
    const c = fx.loginChallenge();
    const abroad = { ...c, details: { ...c.details, place: "イギリス / United Kingdom" } };
    const ja = text(render(detail(abroad)));
    expect(ja).toContain("イギリス");
    expect(ja).not.toContain("United Kingdom");
    const en = text(render(detail(abroad), "en"));
    expect(en).toContain("United Kingdom");
    expect(en).not.toContain("イギリス");
    const card = text(render({ pending: ready([abroad]) }, "en"));
    expect(card).toContain("United Kingdom · 203.0.113.7");
  });
  it("confirm step names the amount and destination", () => {
    const el = render(detail(undefined, { step: "confirm", number: "123" }), "en");
    expect(el.querySelector("[role=dialog]")?.textContent).toContain("sends ¥1,250,000 to みずほ銀行 渋谷支店 ****5678");
  });
  it("the not-me step explains what happens next", () => {
    const el = render(detail(undefined, { step: "fraud" }));
    expect(el.querySelector("[role=dialog]")?.textContent).toContain("プッシュ通知を止め");
  });
  it("sending disables the buttons", () => {
    const el = render(detail(undefined, { step: "sending", number: "123" }));
    expect(el.querySelector<HTMLButtonElement>("#approve")?.disabled).toBe(true);
    expect(text(el)).toContain("送信中");
  });
  it("a wrong number is an error in the person's language, and the card stays", () => {
    const el = render(detail(undefined, { error: { code: "number_mismatch", message: "x" } }), "en");
    expect(el.querySelector("[role=alert]")?.textContent).toContain("Wrong number");
    expect(el.querySelector("#approve")).not.toBeNull();
  });
  it("success", () => {
    const el = render(detail(undefined, { step: "done", result: { challenge_id: "ch-wd-1", state: "approved" } }));
    expect(el.querySelector("[data-state=approved]")?.textContent).toBe("承認しました。");
  });
  it("reported as fraud says pushes are stopped", () => {
    const el = render(detail(undefined, { step: "done", result: { challenge_id: "x", state: "denied_fraud" } }), "en");
    expect(el.querySelector("[data-state=denied_fraud]")?.textContent).toContain("Pushes to this account are now stopped");
  });
  it("expired", () => {
    const c = { ...fx.withdrawalChallenge(), expires_at: fx.NOW - 3 };
    const el = render(detail(c));
    expect(el.querySelector("[data-state=expired]")?.textContent).toContain("期限切れ");
    expect(el.querySelector("#approve")).toBeNull();
  });
  it("who is asking is the brokerage's name, not a host and port", () => {
    const el = render(detail());
    expect(el.querySelector(".row.asker dd")?.textContent).toBe("いんかん証券");
    expect(text(el)).not.toContain("broker.example");
    expect(render(detail(), "en").querySelector(".row.asker dd")?.textContent).toBe("Inkan Securities");
    const card = render({ pending: ready([fx.withdrawalChallenge()]) });
    expect(card.querySelector(".who")?.textContent).toBe("いんかん証券 · ****0001");
    expect(render(detail()).querySelector(".row.account dd")?.textContent).toBe("****0001");
    // A name the person gave the account is shown beside the number.
    const named = { ...fx.withdrawalChallenge(), account_name: "仕事用" };
    expect(render(detail(named)).querySelector(".who .row.account dd")?.textContent).toBe("****0001（仕事用）");
    // Enrolled before the verifier named itself: the host, never a port.
    const old = { ...fx.withdrawalChallenge(), rp_name: null, origin: "http://127.0.0.1:44967" };
    expect(render(detail(old)).querySelector(".row.asker dd")?.textContent).toBe("127.0.0.1");
  });
  it("a wrong number that ended the request says what to do next, then opens the new request", () => {
    const failedOne = fx.withdrawalChallenge();
    const ended = { ...detail(failedOne, { step: "done", error: { code: "number_mismatch", message: "" } }), pending: ready([]) };
    let el = render(ended);
    expect(el.querySelector("[data-code=number_mismatch]")?.textContent).toContain("数字が違うため");
    expect(el.querySelector(".next-step")?.textContent).toContain("「最初からやり直す」");
    expect(el.querySelector("#approve")).toBeNull();
    const again = fx.withdrawalChallenge(fx.NOW, "ch-wd-2");
    el = render({ ...ended, pending: ready([again]) });
    expect(el.querySelector("#next-request")?.textContent).toBe("届いた新しい依頼を確認する");
  });
  it("handled elsewhere", () => {
    expect(text(render(detail(undefined, { gone: true }), "en"))).toContain("handled elsewhere");
  });
});

describe("enroll", () => {
  const e = initialState(fx.NOW).enroll;
  it("input: paste, open or drop an image", () => {
    const el = render({ screen: "enroll", enroll: e });
    expect(el.querySelector("textarea#link")).not.toBeNull();
    expect(el.querySelector<HTMLInputElement>("input#qr-file")?.accept).toBe("image/png,image/jpeg");
    expect(el.querySelector(".drop")).not.toBeNull();
    expect(text(el)).not.toContain("カメラ");
  });
  it("mobile offers the camera", () => {
    expect(text(render({ screen: "enroll", enroll: e, mobile: true }))).toContain("カメラで読み取る");
  });
  it("loading while a QR image is read", () => {
    expect(text(render({ screen: "enroll", enroll: { ...e, step: "reading" } }))).toContain("QR コードを読み取っています");
  });
  it("errors for a garbage link and a non-QR image", () => {
    expect(text(render({ screen: "enroll", enroll: { ...e, error: { code: "uri_not_a_link", message: "" } } }))).toContain(
      "リンクではありません",
    );
    expect(text(render({ screen: "enroll", enroll: { ...e, error: { code: "qr_not_found", message: "" } } }, "en"))).toContain(
      "No QR code was found",
    );
  });
  it("preview shows the server and the masked account before confirming, and warns on http", () => {
    const el = render({ screen: "enroll", enroll: { ...e, step: "preview", preview: fx.preview(true), deviceName: "x" } });
    expect(el.querySelector(".row.server dd")?.textContent).toBe("127.0.0.1");
    expect(el.querySelector(".row.account dd")?.textContent).toBe("いんかん証券 ****0001");
    expect(el.querySelector(".warning")?.textContent).toContain("http");
    expect(el.querySelector("#confirm-enroll")).not.toBeNull();
  });
  it("progress while the key is made and registered", () => {
    const el = render({ screen: "enroll", enroll: { ...e, step: "working", preview: fx.preview() } });
    expect(el.querySelector(".progress")?.textContent).toContain("鍵を作成し");
    expect(el.querySelector("#confirm-enroll")).toBeNull();
  });
  it("a used ticket and a locked keychain read clearly", () => {
    const used = render({ screen: "enroll", enroll: { ...e, error: { code: "ticket_already_used", message: "" } } });
    expect(text(used)).toContain("すでに使われています");
    const locked = render(
      { screen: "enroll", enroll: { ...e, step: "preview", preview: fx.preview(), error: { code: "keychain_locked", message: "" } } },
      "en",
    );
    expect(text(locked)).toContain("The keychain is locked");
  });
  it("success", () => {
    const el = render({ screen: "enroll", enroll: { ...e, step: "done", account: fx.accounts()[0] } }, "en");
    expect(el.querySelector("[data-state=enrolled]")?.textContent).toContain("いんかん証券 ****0001");
    expect(el.querySelector("[data-state=enrolled]")?.textContent).toContain("The authenticator app is registered.");
  });
});

describe("history", () => {
  it("loading, empty, error", () => {
    expect(text(render({ screen: "history", history: { status: "loading" } }))).toContain("読み込み中");
    expect(text(render({ screen: "history", history: ready([]) }))).toContain("まだ履歴はありません");
    expect(text(render({ screen: "history", history: failed("storage") }, "en"))).toContain("could not be read");
  });
  it("decisions with their outcome, dates and amounts as Japanese customers read them", () => {
    const el = render({ screen: "history", history: ready(fx.history()) });
    expect(el.querySelectorAll(".history li")).toHaveLength(3);
    const [approved, refused, notMe] = [...el.querySelectorAll(".history li")].map((li) => li.textContent ?? "");
    expect(approved).toContain("承認済み");
    expect(approved).toContain("1,250,000 円 → みずほ銀行 渋谷支店 ****5678");
    expect(approved).toContain("2026年11月27日 17:58");
    expect(approved).not.toContain("JPY");
    expect(approved).not.toContain("Withdrawal");
    // One outcome per line: no "承認 · 承認済み".
    expect(approved.match(/承認/g)).toHaveLength(2); // 出金の承認 · 承認済み
    expect(refused).toContain("番号が違ったため無効");
    expect(notMe).toContain("「心当たりがない」と報告");
    expect(notMe).toContain("大阪府 · 198.51.100.9");
    expect(notMe).not.toContain("Osaka");
  });
  it("in English, English dates and yen", () => {
    const el = render({ screen: "history", history: ready(fx.history()) }, "en");
    const first = el.querySelector(".history li")?.textContent ?? "";
    expect(first).toContain("27 Nov 2026, 17:58");
    expect(first).toContain("¥1,250,000 → みずほ銀行 渋谷支店 ****5678");
    expect(el.querySelectorAll(".history li")[1]?.textContent).toContain("Invalid: wrong number");
  });
});

describe("accounts", () => {
  it("loading, empty, error", () => {
    expect(text(render({ screen: "accounts" }))).toContain("読み込み中");
    expect(text(render({ screen: "accounts", accounts: ready([]) }))).toContain("登録した証券口座はありません");
    expect(text(render({ screen: "accounts", accounts: failed("storage") }))).toContain("データを読み書き");
  });
  it("several accounts on several servers, a revoked one says why", () => {
    const el = render({ screen: "accounts", accounts: ready(fx.accounts()) }, "en");
    expect(el.querySelectorAll("article.account")).toHaveLength(2);
    expect(el.querySelector("[data-channel=stopped]")?.textContent).toContain("revoked by the brokerage");
    expect(text(el)).toContain("staging.broker.example");
  });
  it("rename and remove ask first", () => {
    const base = { screen: "accounts" as const, accounts: ready(fx.accounts()) };
    const ui = initialState(fx.NOW).accountsUi;
    const renaming = render({ ...base, accountsUi: { ...ui, renaming: "acc1", renameText: "仕事用" } });
    expect(renaming.querySelector<HTMLInputElement>("#rename-acc1")?.value).toBe("仕事用");
    const removing = render({ ...base, accountsUi: { ...ui, removing: "acc2" } });
    expect(removing.querySelector("[role=dialog]")?.textContent).toContain("QA staging ****0042");
    expect(removing.querySelector("[role=dialog]")?.textContent).toContain("セキュリティ設定");
  });
});

describe("offline code", () => {
  const base = { screen: "code" as const, accounts: ready(fx.accounts()) };
  it("loading, error, success with countdown", () => {
    expect(text(render({ ...base, code: { account: "acc1", value: { status: "loading" }, fetchedAt: fx.NOW } }))).toContain("読み込み中");
    expect(text(render({ ...base, code: { account: "acc1", value: failed("key_missing"), fetchedAt: fx.NOW } }))).toContain(
      "鍵がキーチェーンに見つかりません",
    );
    const el = render({ ...base, code: { account: "acc1", value: ready(fx.code()), fetchedAt: fx.NOW - 2 } }, "en");
    expect(el.querySelector(".code")?.textContent).toBe("482 913");
    expect(text(el)).toContain("15 s left");
    expect(el.querySelector("select#code-account")).not.toBeNull();
  });
  it("no accounts", () => {
    expect(text(render({ screen: "code", accounts: ready([]) }))).toContain("コードを表示する証券口座がありません");
  });
});

describe("settings", () => {
  it("shows the current choices, in either language", () => {
    const el = render({ screen: "settings" }, "en");
    expect(el.querySelector<HTMLInputElement>("input[name=lang][value=en]")?.checked).toBe(true);
    expect(el.querySelector<HTMLInputElement>("#notifications")?.checked).toBe(true);
    expect(text(el)).toContain("Notify me when a request arrives");
    expect(text(render({ screen: "settings" }))).toContain("承認依頼が届いたら通知する");
  });
});

void noop;

describe("dates", () => {
  // The same cases as inkan_protocol::display's dates_as_people_read_them.
  it("Japanese and English, in Japan time", () => {
    for (const [unix, ja, en] of [
      [1_796_161_380, "2026年12月2日 6:43", "2 Dec 2026, 06:43"],
      [1_798_729_200, "2027年1月1日 0:00", "1 Jan 2027, 00:00"],
      [1_798_729_199, "2026年12月31日 23:59", "31 Dec 2026, 23:59"],
      [0, "1970年1月1日 9:00", "1 Jan 1970, 09:00"],
    ] as const) {
      expect(dateTime(unix, "ja")).toBe(ja);
      expect(dateTime(unix, "en")).toBe(en);
    }
    expect(dateTime("2026-12-02T06:43:00+09:00", "ja")).toBe("2026年12月2日 6:43");
  });
});
