// The brokerage demo site in a real browser (Debian's headless Chromium, driven by
// playwright-core), against the real demo site (inkan-site) and verifier (inkan-server), two
// services that talk only over the verifier's public API and its webhook, with the inkan CLI as the customer's device
// (its key in the real Secret Service keychain) and a real SMTP server (aiosmtpd) receiving
// every mail. Screenshots of the main pages in both languages go to test-artifacts/browser/.
//
// Run through scripts/test (it builds the binaries and starts the keychain); alone:
//   scripts/with-keyring npm --prefix tests/browser test
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const target = process.env.CARGO_TARGET_DIR ?? join(root, "target");
const SERVER = join(target, "debug", "inkan-server");
const SITE = join(target, "debug", "inkan-site");
/** The webhook secret the verifier signs with and the site checks (both given it). */
const WEBHOOK_SECRET = "the browser suite's webhook secret, 32 bytes or more";
const CLI = join(target, "debug", "inkan");
const CHROMIUM = process.env.INKAN_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = join(root, "test-artifacts", "browser");
/**
 * On PostgreSQL (`scripts/test` runs this suite again under `with-test-postgres`, which sets
 * INKAN_TEST_PG_URL): a fresh database for each data directory, given as --database-url.
 */
const PG_ADMIN_URL = process.env.INKAN_TEST_PG_URL;
const databases = new Map();
/** A service's --data-dir (under the suite's temporary directory) and, on PostgreSQL, its database. */
function dataArgs(name) {
  const args = ["--data-dir", join(work, name)];
  if (!PG_ADMIN_URL) return args;
  if (!databases.has(name)) {
    const db = `browser_${name.replace(/\W/g, "_")}_${process.pid}`;
    execFileSync("psql", [PG_ADMIN_URL, "-q", "-c", `CREATE DATABASE ${db}`]);
    databases.set(name, PG_ADMIN_URL.replace(/\/postgres$/, `/${db}`));
  }
  return [...args, "--database-url", databases.get(name)];
}
/** Longest a step waits for something that should take milliseconds. */
const STEP_MS = 15_000;
// Addresses the MaxMind test databases (scripts/fetch-test-mmdb) know: Japan (Tokyo's
// coordinates); London; AS15169 (Google), a hosting network.
const HOME_IP = "2001:218::10";
const LONDON_IP = "81.2.69.142";
const HOSTING_IP = "1.0.0.1";

const work = mkdtempSync(join(tmpdir(), "inkan-browser-"));
const children = [];
let origin, port, verifierPort, loopbackPort, smtpPort, smtpDir, demo, browser, serverArgs;
const dkimKeyFile = join(work, "dkim-key.pem");
/** The DKIM records of the servers the suite started, as the operator command prints them. */
const dkimRecords = [];

/** `inkan-site … dns-records`: the DKIM key's "NAME<tab>RECORD", the TXT strings joined. */
function dkimRecord(args) {
  const out = execFileSync(SITE, [...args, "dns-records"], { encoding: "utf8" });
  const line = out.split("\n").find((l) => l.includes("._domainkey."));
  const [, name, strings] = /^(\S+)\. IN TXT (.*)$/.exec(line);
  return `${name}\t${[...strings.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join("")}`;
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitForPort(port) {
  const deadline = Date.now() + STEP_MS;
  while (Date.now() < deadline) {
    const open = await new Promise((ok) => {
      const c = connect(port, "127.0.0.1", () => { c.end(); ok(true); });
      c.on("error", () => ok(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

function start(cmd, args, env = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  children.push(child);
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { out += d; });
  child.output = () => out;
  return child;
}

/** Mail the SMTP server received, oldest first. */
function mails() {
  const r = spawnSync("python3", [join(here, "read_maildir.py"), smtpDir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** Waits for a mail whose subject contains `subject` beyond the first `after` such mails. */
async function mailWith(subject, after = 0) {
  const deadline = Date.now() + STEP_MS;
  while (Date.now() < deadline) {
    const found = mails().filter((m) => m.subject.includes(subject));
    if (found.length > after) return found[found.length - 1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail "${subject}"`);
}

function codeIn(mail) {
  return /コード: (\d{6})/.exec(mail.body)[1];
}

/** The inkan CLI as a device with its own profile; JSON out, throws with the error code. */
function cli(profile, ...args) {
  const r = spawnSync(CLI, ["--profile", join(work, profile), "--json", ...args], { encoding: "utf8" });
  const lines = r.stdout.trim().split("\n").filter(Boolean);
  const last = lines.length ? JSON.parse(lines[lines.length - 1]) : {};
  if (r.status !== 0) {
    const e = new Error(`inkan ${args[0]} failed: ${r.stdout} ${r.stderr}`);
    e.code = last.code ?? last.error;
    throw e;
  }
  return last;
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Screenshots `page` as it is in Japanese, then in English, and goes back to Japanese. */
async function shotBoth(page, name) {
  await shot(page, `${name}-ja`);
  await page.context().addCookies([{ name: "inkan_lang", value: "en", url: origin }]);
  await page.reload();
  await shot(page, `${name}-en`);
  await page.context().addCookies([{ name: "inkan_lang", value: "ja", url: origin }]);
  await page.reload();
}

async function newPage(ip = HOME_IP) {
  const context = await browser.newContext({ extraHTTPHeaders: { "X-Forwarded-For": ip }, locale: "ja-JP" });
  return context.newPage();
}

async function submitPassword(page, account, password) {
  await page.goto(`${origin}/login`);
  await page.fill("#account", account);
  await page.fill("#password", password);
  await page.click("form[action='/login'] button[type=submit]");
}

/**
 * A real-time phishing relay: the real site's passkey request for the step `page` shows
 * (started on the real origin) is put to the browser by a page of another origin
 * (http://127.0.0.1:PORT, a copy of the site). What the browser answers: "signed" or the error.
 */
async function relayedToLookAlike(page) {
  const startUrl = await page.locator("form[data-passkey-withdraw]").getAttribute("data-start-url");
  const relayed = await page.evaluate(async (url) => {
    const body = new URLSearchParams({ csrf: document.querySelector("input[name=csrf]").value });
    return (await fetch(url, { method: "POST", body })).json();
  }, startUrl);
  const evil = await page.context().newPage();
  await evil.goto(`http://127.0.0.1:${port}/login`);
  const answer = await evil.evaluate(async (o) => {
    const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
    try {
      await navigator.credentials.get({ publicKey: { ...o, challenge: bytes(o.challenge),
        allowCredentials: o.allowCredentials.map((c) => ({ ...c, id: bytes(c.id) })) } });
      return "signed";
    } catch (e) {
      return e.name;
    }
  }, relayed.options.publicKey);
  await evil.close();
  return answer;
}

/** Presses a passkey form's button and waits for `url`; fails with the page's message if it shows one. */
async function passkeyStep(page, form, url) {
  await page.bringToFront(); // WebAuthn runs only in the focused page
  await page.click(`${form} button[type=submit]`);
  const error = page.locator(`${form} .passkey-status[data-error]`);
  await Promise.race([
    page.waitForURL(url, { timeout: STEP_MS }),
    error.waitFor({ timeout: STEP_MS }).then(async () => {
      throw new Error(`passkey step failed: ${await error.getAttribute("data-error")}: ${await error.textContent()}`);
    }),
  ]);
}

async function enterCode(page, code) {
  await page.fill("#code", code);
  await page.click("form[action$='/code'] button[type=submit]");
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  smtpDir = join(work, "maildir");
  smtpPort = await freePort();
  start("python3", ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${smtpPort}`, "-c", "aiosmtpd.handlers.Mailbox", smtpDir]);
  await waitForPort(smtpPort);
  port = await freePort();
  verifierPort = await freePort();
  loopbackPort = await freePort();
  // A host name, not 127.0.0.1: WebAuthn needs one for the relying party id.
  origin = `http://localhost:${port}`;
  // The verifier: its webhook goes to the site, and it tells enrolled apps the site's origin.
  const verifier = start(SERVER, ["--dev", ...dataArgs("verifier"), "serve", "--listen", `127.0.0.1:${verifierPort}`], {
    INKAN_RP_WEBHOOK_URL: `http://127.0.0.1:${port}/inkan/webhook`,
    INKAN_RP_WEBHOOK_SECRET: WEBHOOK_SECRET,
    INKAN_RP_WEB_ORIGIN: origin,
    INKAN_LIMIT_WEBHOOK_RETRY_MAX_SECS: "1",
  });
  // The mail is signed with an RSA key of the operator's (here made by Node's crypto, as
  // `openssl genrsa` would), given as a file only its owner reads.
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(dkimKeyFile, privateKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 });
  const mmdb = execFileSync(join(here, "..", "..", "scripts", "fetch-test-mmdb"), { encoding: "utf8" }).trim();
  serverArgs = [
    "--dev", ...dataArgs("data"), "--smtp-url", `smtp://127.0.0.1:${smtpPort}`,
    "--dkim-selector", "s2026", "--dkim-key-file", dkimKeyFile,
    "--geoip-city-db", join(mmdb, "GeoIP2-City-Test.mmdb"), "--geoip-asn-db", join(mmdb, "GeoLite2-ASN-Test.mmdb"),
    "--trust-x-forwarded-for", "--app-loopback-port", String(loopbackPort),
    "--verifier-url", `http://127.0.0.1:${verifierPort}`,
  ];
  const server = start(SITE, [...serverArgs, "serve", "--listen", `127.0.0.1:${port}`], { INKAN_SITE_WEBHOOK_SECRET: WEBHOOK_SECRET });
  const deadline = Date.now() + STEP_MS;
  while (!(server.output().includes("listening on") && verifier.output().includes("listening on")) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(verifier.output(), /listening on/, verifier.output());
  const out = server.output();
  assert.match(out, /listening on/, out);
  dkimRecords.push(dkimRecord(serverArgs));
  demo = {
    account: /account number:\s+(\S+)/.exec(out)[1],
    password: /\/ password:\s+(\S+)/.exec(out)[1],
    withdrawal: /withdrawal password:\s+(\S+)/.exec(out)[1],
  };
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  for (const c of children) c.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
});

let main; // the customer's usual browser, logged in across the tests below

test("first login takes the e-mailed code from the real SMTP server; pages show masked data only", async () => {
  main = await newPage();
  await main.goto(`${origin}/login`);
  await shotBoth(main, "login");
  await submitPassword(main, demo.account, demo.password);
  await main.getByText("ワンタイム認証コード").first().waitFor();
  await enterCode(main, codeIn(await mailWith("One-time code")));
  await main.waitForURL("**/home");
  const text = await main.textContent("main");
  assert.match(text, /ta\*+@ex\*+\.com/);
  assert.match(text, /090-\*\*\*\*-5678/);
  assert.match(text, /\*{3,}\d{4}/, "masked bank account");
  assert.doesNotMatch(await main.content(), /taro\.yamada@example\.com|1234-5678/);
  const notice = await mailWith("Login notice");
  assert.ok(notice.body.includes(HOME_IP), notice.body);
  assert.match(notice.body, /場所\(目安\): 日本\r?\n/);
  assert.match(notice.body, /Place \(approximate\): Japan\r?\n/);
  assert.doesNotMatch(notice.body, /taro\.yamada@example\.com/);
});

test("the CLI enrolls from the settings page, then approves a login push with the page's number", async () => {
  await main.goto(`${origin}/settings/authenticators/new`);
  await main.locator(".qr svg").waitFor();
  const link = await main.locator("[data-enroll-link] a").getAttribute("href");
  cli("qa-device", "enroll", link, "--name", "QA CLI");
  await main.waitForURL("**/settings?m=enrolled", { timeout: STEP_MS }); // the page noticed by itself
  await main.getByText("QA CLI").waitFor();
  await shotBoth(main, "settings");
  await mailWith("Authenticator app added");

  await main.click("form[action='/logout'] button");
  await main.waitForURL("**/login?out=1");
  await submitPassword(main, demo.account, demo.password);
  const number = (await main.locator("[data-number]").textContent()).trim();
  assert.match(number, /^\d{3}$/, "the typed code has 3 digits by default");
  await shotBoth(main, "number-matching");
  const [pending] = cli("qa-device", "pending");
  assert.equal(pending.kind, "login");
  assert.equal(pending.details.ip, HOME_IP);
  assert.equal(cli("qa-device", "approve", pending.challenge_id, "--number", number).state, "approved");
  await main.waitForURL("**/home", { timeout: STEP_MS }); // no manual refresh
});

test("same-device approval: the page hands its login to the app on this computer; a phishing page gets nothing", async () => {
  const app = start(CLI, ["--profile", join(work, "qa-device"), "--json", "loopback", "--approve", "--port", String(loopbackPort)]);
  await waitForPort(loopbackPort);
  // A browser of its own on this computer, sending nothing but what a browser sends (the
  // other pages add X-Forwarded-For, which a CORS preflight would have to allow).
  const page = await (await browser.newContext({ locale: "ja-JP" })).newPage();
  const codes = mails().filter((m) => m.subject.includes("One-time code")).length;
  await submitPassword(page, demo.account, demo.password);
  await enterCode(page, codeIn(await mailWith("One-time code", codes)));
  await page.locator("form[data-loopback]").waitFor();
  await shotBoth(page, "same-device");
  const [pending] = cli("qa-device", "pending");

  // The same request from a page of another origin (a copy of the site): refused, unreadable.
  const evil = await page.context().newPage();
  await evil.goto(`http://127.0.0.1:${port}/login`);
  const answer = await evil.evaluate(async ([url, id, number]) => {
    try {
      const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ challenge_id: id, number }) });
      return `status ${r.status}`;
    } catch (e) {
      return "blocked";
    }
  }, [`http://127.0.0.1:${loopbackPort}/v1/approve`, pending.challenge_id, await page.locator("[data-number]").textContent()]);
  assert.equal(answer, "blocked");
  await evil.close();
  assert.equal(cli("qa-device", "pending")[0].challenge_id, pending.challenge_id, "still waiting");

  await page.bringToFront();
  await page.click("form[data-loopback] button[type=submit]");
  await page.waitForURL("**/home", { timeout: STEP_MS });
  assert.match(app.output(), /origin_not_enrolled|no account is enrolled/);
  app.kill("SIGTERM");
  await page.context().close();
});

test("a withdrawal shows the amount, the device signs it, and the page completes", async () => {
  await main.goto(`${origin}/withdraw`);
  await main.fill("#amount", "250000");
  await main.fill("#wpassword", demo.withdrawal);
  await main.click("form[action='/withdraw'] button[type=submit]");
  await main.locator("[data-number]").waitFor();
  assert.match(await main.textContent("main"), /250,000円/);
  await shotBoth(main, "withdrawal");
  const number = (await main.locator("[data-number]").textContent()).trim();
  const [pending] = cli("qa-device", "pending");
  assert.equal(pending.kind, "withdrawal");
  assert.equal(pending.details.amount, 250000);
  assert.equal(pending.details.currency, "JPY");
  assert.match(pending.details.account_masked, /^\*+\d{4}$/);
  cli("qa-device", "approve", pending.challenge_id, "--number", number);
  await main.getByText("出金を受け付けました").waitFor({ timeout: STEP_MS });
  await shot(main, "withdrawal-done-ja");
  const mail = await mailWith("Withdrawal request received");
  assert.match(mail.body, /250,000円/);
});

test("a login from a new browser and network is risky: e-mail code and push", async () => {
  const page = await newPage("198.51.100.7");
  await submitPassword(page, demo.account, demo.password);
  await page.getByText("いつもと異なる環境").waitFor();
  await shot(page, "risky-step-up-ja");
  const before = mails().filter((m) => m.subject.includes("One-time code")).length;
  await enterCode(page, codeIn(await mailWith("One-time code", before - 1)));
  const number = (await page.locator("[data-number]").textContent()).trim();
  const [pending] = cli("qa-device", "pending");
  assert.equal(pending.details.ip, "198.51.100.7");
  cli("qa-device", "approve", pending.challenge_id, "--number", number);
  await page.waitForURL("**/home", { timeout: STEP_MS });
  await page.context().close();
});

/** Logs `page` out and in again with the password, the e-mailed code and the push. */
async function steppedUpLogin(page, shotName) {
  await page.click("form[action='/logout'] button");
  await page.waitForURL("**/login?out=1");
  const codes = mails().filter((m) => m.subject.includes("One-time code")).length;
  await submitPassword(page, demo.account, demo.password);
  await page.getByText("いつもと異なる環境").waitFor();
  if (shotName) await shot(page, shotName);
  await enterCode(page, codeIn(await mailWith("One-time code", codes)));
  const number = (await page.locator("[data-number]").textContent()).trim();
  const [pending] = cli("qa-device", "pending");
  cli("qa-device", "approve", pending.challenge_id, "--number", number);
  await page.waitForURL("**/home", { timeout: STEP_MS });
}

test("a login from a data centre, from abroad (a new country, impossible travel) and back home steps up; the device and the mail name the place", async () => {
  // A rented server's network, from the browser the site knows: stepped up all the same.
  await main.setExtraHTTPHeaders({ "X-Forwarded-For": HOSTING_IP });
  try {
    await steppedUpLogin(main, "hosting-step-up-ja");
  } finally {
    await main.setExtraHTTPHeaders({ "X-Forwarded-For": HOME_IP });
  }
  await main.goto(`${origin}/activity`);
  assert.match(await main.textContent("#activity"), /hosting_network/);

  // London, minutes after Tokyo: a new country, and nobody flies that fast.
  const page = await newPage(LONDON_IP);
  const before = mails().filter((m) => m.subject.includes("One-time code")).length;
  await submitPassword(page, demo.account, demo.password);
  await page.getByText("いつもと異なる環境").waitFor();
  await enterCode(page, codeIn(await mailWith("One-time code", before)));
  const number = (await page.locator("[data-number]").textContent()).trim();
  const [pending] = cli("qa-device", "pending");
  assert.equal(pending.details.place, "イギリス / United Kingdom", "the device's signed text names the country");
  const notices = mails().filter((m) => m.subject.includes("Login notice")).length;
  cli("qa-device", "approve", pending.challenge_id, "--number", number);
  await page.waitForURL("**/home", { timeout: STEP_MS });
  const notice = await mailWith("Login notice", notices);
  assert.match(notice.body, /場所\(目安\): イギリス\r?\n/);
  assert.match(notice.body, /Place \(approximate\): United Kingdom\r?\n/);
  // The history names the place in the page's language, with the reasons for the step-up.
  await page.goto(`${origin}/activity`);
  const ja = await page.textContent("#activity");
  assert.match(ja, /place: イギリス/);
  assert.doesNotMatch(ja, /United Kingdom/);
  assert.match(ja, /new_country/);
  assert.match(ja, /impossible_travel/);
  await shotBoth(page, "activity-abroad");
  await page.context().close();

  // Back home minutes later, on the usual browser and network: the travel alone steps it up.
  await steppedUpLogin(main, null);
});

test("a revoked device's next approval fails", async () => {
  await main.goto(`${origin}/withdraw`);
  await main.fill("#amount", "1000");
  await main.fill("#wpassword", demo.withdrawal);
  await main.click("form[action='/withdraw'] button[type=submit]");
  const number = (await main.locator("[data-number]").textContent()).trim();
  const [pending] = cli("qa-device", "pending");
  const other = await main.context().newPage();
  await other.goto(`${origin}/settings`);
  await other.click("#authenticators form button");
  // It is the customer's only authenticator: the page says what remains and asks to confirm.
  await other.getByText("最後の認証手段").first().waitFor();
  await shot(other, "last-authenticator-ja");
  await other.click("form:has(input[name=confirm]) button[type=submit]");
  await other.getByText("認証アプリの登録を解除しました").waitFor();
  assert.throws(() => cli("qa-device", "approve", pending.challenge_id, "--number", number), (e) => {
    assert.match(String(e.code), /device_revoked|session_expired|unauthorized/);
    return true;
  });
  await mailWith("Authenticator app removed");
});

test("five wrong passwords lock the account, with a mail that sends the customer to the support centre", async () => {
  const created = execFileSync(SITE, ["--dev", ...dataArgs("data"), "customer", "create", "--account", "10000002",
    "--email", "hanako@example.com"], { encoding: "utf8" });
  const password = created.match(/パスワード \/ password: +(\S+)/)[1];
  const page = await newPage();
  for (let i = 0; i < 5; i++) {
    await submitPassword(page, "10000002", "Wrong-pass-0");
    await page.getByText("口座番号またはパスワードが正しくありません").waitFor();
  }
  // Whoever typed the wrong password is not told the account is locked (that would tell a
  // stranger it exists); the customer is mailed, and the right password is told.
  assert.doesNotMatch(await page.textContent("main"), /ロック/);
  const mail = await mailWith("Account locked");
  await submitPassword(page, "10000002", password);
  await page.getByText("ロックしています").waitFor();
  await shot(page, "locked-ja");
  assert.match(mail.to, /hanako@example\.com/);
  assert.doesNotMatch(mail.body, /https?:\/\//, "no self-service unlock link");
  assert.match(mail.body, /サポートセンター/);
  await page.context().close();
});

test("passkeys: register, log in alone, confirm a withdrawal and a destination change (mail, waiting period), remove", async () => {
  // Chromium's DevTools virtual authenticator: a platform authenticator with user verification.
  const cdp = await main.context().newCDPSession(main);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true },
  });
  await main.goto(`${origin}/settings`);
  await main.fill("#passkey_name", "ノート PC");
  await passkeyStep(main, "form[data-passkey-register]", "**/settings?m=passkey_added");
  await main.locator("#passkeys").getByText("ノート PC").waitFor();
  await shotBoth(main, "passkeys");
  assert.match((await mailWith("Passkey registered")).body, /ノート PC/);
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.ok(credentials[0].isResidentCredential, "discoverable: login needs no account number");

  await main.click("form[action='/logout'] button");
  await main.waitForURL("**/login?out=1");
  const notices = mails().filter((m) => m.subject.includes("Login notice")).length;
  await passkeyStep(main, "form[data-passkey-login]", "**/home");
  const notice = await mailWith("Login notice", notices);
  assert.ok(notice.body.includes(HOME_IP), notice.body);
  await main.goto(`${origin}/activity`);
  assert.match(await main.textContent("main"), /passkey/);

  // A withdrawal: first the passkey, bound to its amount and destination, then the push to a
  // newly enrolled CLI device, approved with the page's number.
  await main.goto(`${origin}/settings/authenticators/new`);
  const link = await main.locator("[data-enroll-link] a").getAttribute("href");
  cli("desk-device", "enroll", link, "--name", "Desk CLI");
  await main.waitForURL("**/settings?m=enrolled", { timeout: STEP_MS });
  await main.goto(`${origin}/withdraw`);
  await main.fill("#amount", "30000");
  await main.fill("#wpassword", demo.withdrawal);
  await main.click("form[action='/withdraw'] button[type=submit]");
  await main.locator("form[data-passkey-withdraw]").waitFor();
  await shotBoth(main, "withdrawal-passkey");
  const ours = (list) => list.filter((c) => c.details.amount === 30000);
  assert.equal(ours(cli("desk-device", "pending")).length, 0, "no push before the passkey");
  await main.bringToFront();
  await main.click("form[data-passkey-withdraw] button[type=submit]");
  await main.locator("[data-number]").waitFor({ timeout: STEP_MS });
  const [push] = ours(cli("desk-device", "pending"));
  assert.ok(push, "the push follows the passkey");
  cli("desk-device", "approve", push.challenge_id, "--number", (await main.locator("[data-number]").textContent()).trim());
  await main.getByText("出金を受け付けました").waitFor({ timeout: STEP_MS });

  // The same flow relayed by a look-alike origin: the real site's passkey request, asked from
  // another origin's page, fails in the browser before any authenticator is asked.
  await main.goto(`${origin}/withdraw`);
  await main.fill("#amount", "20000");
  await main.fill("#wpassword", demo.withdrawal);
  await main.click("form[action='/withdraw'] button[type=submit]");
  assert.equal(await relayedToLookAlike(main), "SecurityError");
  assert.equal(cli("desk-device", "pending").filter((c) => c.details.amount === 20000).length, 0,
    "nothing pushed for the relayed attempt");

  // Changing the withdrawal account: withdrawal password and passkey, a mail, then the
  // waiting period before money can go there.
  await main.goto(`${origin}/settings/destination`);
  await main.fill("#bank", "三井住友銀行 / SMBC");
  await main.fill("#branch", "新宿支店 / Shinjuku");
  await main.fill("#number", "7654321");
  await main.fill("#holder", "ヤマダ タロウ");
  await main.fill("#dwpassword", demo.withdrawal);
  await main.click("form[action='/settings/destination'] button[type=submit]");
  await main.locator("form[data-passkey-withdraw]").waitFor();
  assert.doesNotMatch(await main.content(), /7654321/, "masked once entered");
  await shotBoth(main, "destination-change");
  await main.bringToFront();
  await main.click("form[data-passkey-withdraw] button[type=submit]");
  await main.getByText("出金先口座を変更しました").waitFor({ timeout: STEP_MS });
  // A second change, relayed by a look-alike origin: refused by the browser at the passkey.
  await main.goto(`${origin}/settings/destination`);
  for (const [field, value] of [["#bank", "偽銀行"], ["#branch", "本店"], ["#number", "1112223"], ["#holder", "サギ タロウ"]]) {
    await main.fill(field, value);
  }
  await main.fill("#dwpassword", demo.withdrawal);
  await main.click("form[action='/settings/destination'] button[type=submit]");
  await main.locator("form[data-passkey-withdraw]").waitFor();
  assert.equal(await relayedToLookAlike(main), "SecurityError");
  const changed = await mailWith("Withdrawal account changed");
  assert.match(changed.body, /\*+4321/);
  assert.doesNotMatch(changed.body, /7654321/);
  await main.goto(`${origin}/withdraw`);
  await main.fill("#amount", "1000");
  await main.fill("#wpassword", demo.withdrawal);
  await main.click("form[action='/withdraw'] button[type=submit]");
  await main.getByText("待機期間").waitFor();
  await shot(main, "destination-waiting-ja");

  await main.goto(`${origin}/settings`);
  await main.click("#passkeys form button");
  await main.getByText("パスキーを削除しました").waitFor();
  await mailWith("Passkey removed");
  await main.click("form[action='/logout'] button");
  await main.waitForURL("**/login?out=1");
  // The authenticator still holds the credential; the site no longer knows it.
  await main.click("form[data-passkey-login] button[type=submit]");
  await main.locator(".passkey-status[data-error=unknown_passkey]").waitFor({ timeout: STEP_MS });
  assert.match(await main.textContent(".passkey-status"), /登録されていません/);
  await shot(main, "passkey-unknown-ja");
});

test("where the deployment forbids push-only withdrawals, a customer without a passkey is refused", async () => {
  const strictPort = await freePort();
  // Another deployment: its own verifier (with the --dev webhook secret) and site.
  const strictVerifierPort = await freePort();
  const strictVerifier = start(SERVER, ["--dev", ...dataArgs("strict-verifier"), "serve", "--listen", `127.0.0.1:${strictVerifierPort}`], {
    INKAN_RP_WEBHOOK_URL: `http://127.0.0.1:${strictPort}/inkan/webhook`,
    INKAN_RP_WEBHOOK_SECRET: "insecure-dev-webhook-secret-not-for-production",
  });
  const strict = start(SITE, [
    "--dev", ...dataArgs("strict"), "--smtp-url", `smtp://127.0.0.1:${smtpPort}`,
    "--verifier-url", `http://127.0.0.1:${strictVerifierPort}`,
    "--forbid-push-only-withdrawals", "serve", "--listen", `127.0.0.1:${strictPort}`,
  ]);
  const deadline = Date.now() + STEP_MS;
  while (!(strict.output().includes("listening on") && strictVerifier.output().includes("listening on")) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const out = strict.output();
  // No key given: --dev signs with the development key it made in its data directory.
  dkimRecords.push(dkimRecord(["--dev", ...dataArgs("strict")]));
  const account = /account number:\s+(\S+)/.exec(out)[1];
  const password = /\/ password:\s+(\S+)/.exec(out)[1];
  const withdrawal = /withdrawal password:\s+(\S+)/.exec(out)[1];
  const site = `http://localhost:${strictPort}`;
  const page = await (await browser.newContext({ locale: "ja-JP" })).newPage();
  const codes = mails().filter((m) => m.subject.includes("One-time code")).length;
  await page.goto(`${site}/login`);
  await page.fill("#account", account);
  await page.fill("#password", password);
  await page.click("form[action='/login'] button[type=submit]");
  await enterCode(page, codeIn(await mailWith("One-time code", codes)));
  await page.waitForURL("**/home");
  await page.goto(`${site}/withdraw`);
  await page.fill("#amount", "1000");
  await page.fill("#wpassword", withdrawal);
  await page.click("form[action='/withdraw'] button[type=submit]");
  await page.getByText("出金にはパスキーによる確認が必要です").waitFor();
  await shot(page, "withdrawal-needs-passkey-ja");
  await page.context().close();
  strict.kill("SIGTERM");
  strictVerifier.kill("SIGTERM");
});

/**
 * `inkan fleet` as a QA pipeline runs it: one process for many devices, JSON commands on
 * stdin, JSON events on stdout. `call` sends a command and resolves with its reply.
 */
function startFleet(profile) {
  const child = spawn(CLI, ["--profile", join(work, profile), "fleet"], { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  const seen = [];
  const waiting = [];
  let buffer = "";
  child.stdout.on("data", (d) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const event = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      seen.push(event);
      for (const w of waiting.splice(0)) if (!w(event)) waiting.push(w);
    }
  });
  const next = (pick) => new Promise((ok, fail) => {
    const found = seen.find(pick);
    if (found) return ok(found);
    const timer = setTimeout(() => fail(new Error(`fleet: nothing matched; last: ${JSON.stringify(seen.slice(-5))}`)), STEP_MS * 2);
    waiting.push((e) => (pick(e) ? (clearTimeout(timer), ok(e), true) : false));
  });
  let id = 0;
  const call = (command) => {
    const mine = ++id;
    child.stdin.write(JSON.stringify({ ...command, id: mine }) + "\n");
    return next((e) => e.reply_to === mine);
  };
  return { child, seen, next, call };
}

test("QA pipeline: a fleet enrolls from the site's QR codes as the screen shows them, and approves the logins the browser drives", async () => {
  const fleet = startFleet("qa-fleet");
  await fleet.next((e) => e.event === "ready");
  const customers = ["10000101", "10000102"].map((account) => ({ account, password: "QaFleet2026Pw7" }));
  for (const c of customers) {
    execFileSync(SITE, ["--dev", ...dataArgs("data"), "customer", "create", "--account", c.account,
      "--email", `qa-${c.account}@example.com`, "--passwords-stdin"], { input: `${c.password}\nQaWd2026Pw99x\n` });
  }
  for (const c of customers) {
    const page = await newPage();
    const codes = mails().filter((m) => m.subject.includes("One-time code")).length;
    await submitPassword(page, c.account, c.password);
    await enterCode(page, codeIn(await mailWith("One-time code", codes)));
    await page.waitForURL("**/home");
    // The QR code as the customer's screen shows it, photographed: no link copied out.
    await page.goto(`${origin}/settings/authenticators/new`);
    const qr = join(work, `qr-${c.account}.png`);
    await page.locator(".qr svg").screenshot({ path: qr });
    const enrolled = await fleet.call({ op: "enroll", qr, name: `QA fleet ${c.account}` });
    assert.equal(enrolled.event, "enroll_ok", JSON.stringify(enrolled));
    assert.equal(enrolled.device.account_id, c.account);
    assert.equal(enrolled.device.name, `QA fleet ${c.account}`);
    await page.waitForURL("**/settings?m=enrolled", { timeout: STEP_MS });
    await fleet.next((e) => e.event === "connected" && e.account === enrolled.device.id);

    await page.click("form[action='/logout'] button");
    await page.waitForURL("**/login?out=1");
    await submitPassword(page, c.account, c.password);
    const number = (await page.locator("[data-number]").textContent()).trim();
    const decided = await fleet.call({ op: "approve", account: c.account, number });
    assert.equal(decided.state, "approved", JSON.stringify(decided));
    await page.waitForURL("**/home", { timeout: STEP_MS });
    await page.context().close();
  }
  const { devices } = await fleet.call({ op: "devices" });
  assert.deepEqual(devices.map((d) => [d.account_id, d.channel]).sort(), customers.map((c) => [c.account, "connected"]));
  fleet.child.stdin.end();
  await fleet.next((e) => e.event === "finished");
});

test("every mail the suite sent verifies under DKIM, and a tampered copy does not", () => {
  const records = join(work, "dkim-records.txt");
  writeFileSync(records, dkimRecords.join("\n") + "\n");
  const r = spawnSync("python3", [join(here, "..", "mail", "dkim_check.py"), smtpDir, records, "--tamper"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const checked = JSON.parse(r.stdout);
  assert.ok(checked.length >= 10, `${checked.length} mails`);
  for (const m of checked) {
    assert.equal(m.dkim, true, `DKIM fails: ${JSON.stringify(m)}`);
    assert.equal(m.d, "inkan.example", "d= is the From domain");
    for (const [change, verdict] of Object.entries(m.tampered)) assert.equal(verdict, false, `${change} changed, still verifies: ${m.subject}`);
  }
});
