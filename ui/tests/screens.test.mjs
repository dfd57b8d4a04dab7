// The UI in headless Chromium with Tauri's IPC mocked (tests/mock-main.ts): every screen in
// Japanese and English at phone and desktop sizes, screenshotted to
// ../test-artifacts/ui/, each checked with axe-core (no serious or critical violations).
// Needs `INKAN_UI_MOCK=1 vite build` first (the `screens` npm script does it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile, mkdir } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = join(here, "..", "dist-mock");
const artifacts = join(here, "..", "..", "test-artifacts", "ui");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SIZES = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };

let server, base, browser;

before(async () => {
  server = createServer(async (req, res) => {
    const path = normalize(new URL(req.url, "http://x").pathname).replace(/^\/+/, "");
    try {
      const body = await readFile(join(dist, path || "mock.html"));
      res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  await mkdir(artifacts, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function open(page, scenario, lang) {
  await page.goto(`${base}/mock.html?scenario=${scenario}&lang=${lang}`);
  await page.waitForSelector(`body[data-ready="${scenario}"]`, { timeout: 10_000 });
}

test("every screen, in Japanese and English, phone and desktop: screenshots and axe", async () => {
  const context = await browser.newContext({ viewport: SIZES.phone });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await open(page, "pending-list", "ja");
  const scenarios = await page.evaluate(() => window.INKAN_SCENARIOS);
  assert.ok(scenarios.length >= 20, "the mock page lists its scenarios");
  const problems = [];
  for (const [size, viewport] of Object.entries(SIZES)) {
    await page.setViewportSize(viewport);
    for (const lang of ["ja", "en"]) {
      for (const scenario of scenarios) {
        await open(page, scenario, lang);
        assert.equal(await page.getAttribute("html", "lang"), lang, `${scenario}: html lang`);
        await page.screenshot({ path: join(artifacts, `${scenario}-${lang}-${size}.png`), fullPage: true });
        const result = await new AxeBuilder({ page }).analyze();
        for (const v of result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")) {
          problems.push(`${scenario} ${lang} ${size}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
        }
      }
    }
  }
  assert.deepEqual(errors, [], "no script errors on any screen");
  assert.deepEqual(problems, [], "no serious accessibility violations");
  await context.close();
});

test("the screens say what they should, in the chosen language", async () => {
  const page = await browser.newPage({ viewport: SIZES.phone });
  await open(page, "detail-withdrawal", "ja");
  assert.equal(await page.textContent(".amount.big"), "1,250,000 円");
  assert.equal(await page.textContent(".row.dest dd"), "みずほ銀行 渋谷支店 ****5678");
  await open(page, "detail-withdrawal", "en");
  assert.equal(await page.textContent(".amount.big"), "¥1,250,000");
  await open(page, "pending-error", "en");
  assert.match(await page.textContent("[role=alert]"), /server cannot be reached/);
  await open(page, "code-error", "ja");
  assert.match(await page.textContent("[role=alert]"), /鍵がキーチェーンに見つかりません/);
  // The countdown moves on its own.
  await open(page, "pending-list", "en");
  const first = await page.textContent(".countdown");
  await page.waitForFunction((t) => document.querySelector(".countdown")?.textContent !== t, first, { timeout: 3000 });
  // Typing a number survives the tick, and approving goes through the confirm step.
  await open(page, "detail-withdrawal", "en");
  await page.fill("#number", "427");
  await page.waitForTimeout(1200);
  assert.equal(await page.inputValue("#number"), "427");
  await page.click("#approve");
  assert.match(await page.textContent("[role=dialog]"), /sends ¥1,250,000/);
  await page.close();
});
