// What the end-to-end tests share: the accounts-local that scripts/test-web started (E2E_*
// variables), API calls from node, codes from the data dir's mail outbox, accounts made through
// the API, the system chromium driven by playwright-core, axe-core, and screenshots for
// docs/console/ when UPDATE_SCREENSHOTS is set.
import { mkdir, readdir, readFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

export const BASE = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";
// The same server by name: WebAuthn refuses IP addresses as relying party ids, so the passkey
// tests browse http://localhost:<port> (a secure context over http), the RP id `localhost`
// that scripts/test-web gives accounts-local with this origin in WEBAUTHN_ORIGINS.
export const NAMED_BASE = BASE.replace("://127.0.0.1:", "://localhost:");
export const DATA = process.env.E2E_DATA_DIR ?? ".local";
export const BIN = process.env.E2E_BIN ?? "target/debug";
export const ADMIN = { username: process.env.E2E_ADMIN_USER ?? "console_admin", password: process.env.E2E_ADMIN_PASSWORD ?? "" };
// A browser's user agent: register and login refuse HeadlessChrome (docs/auth.md, bot detection).
export const USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 console-e2e";
const SHOTS = process.env.UPDATE_SCREENSHOTS ? fileURLToPath(new URL("../../docs/console/", import.meta.url)) : null;
const require = createRequire(import.meta.url);

export async function api(method, path, { body, auth } = {}) {
  const headers = { "User-Agent": USER_AGENT };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) headers.Authorization = auth;
  const response = await fetch(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

export async function ok(method, path, options) {
  const answer = await api(method, path, options);
  assert.ok(answer.status >= 200 && answer.status < 300, `${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** The newest 6-digit code mailed to `email` (the outbox holds one JSON file per mail). */
export async function codeFor(email) {
  for (let i = 0; i < 50; i++) {
    const dir = `${DATA}/outbox`;
    const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".json")).sort().reverse();
    for (const file of files) {
      const message = JSON.parse(await readFile(`${dir}/${file}`, "utf8"));
      if (message.to === email) {
        const code = /\b(\d{6})\b/.exec(message.text);
        if (code) return code[1];
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no code mailed to ${email}`);
}

let counter = 0;
export function uniqueName(prefix) {
  counter += 1;
  return `${prefix}${Date.now().toString(36).slice(-4)}${counter}`;
}

/** A verified account made through the API. */
export async function createUser(prefix) {
  const username = uniqueName(prefix);
  const email = `${username}@example.com`;
  const password = `Amber-Lighthouse-${counter}-Quiet`;
  const user = await ok("POST", "/api/auth/register/", { body: { username, email, password } });
  await ok("POST", "/api/auth/verify/", { body: { email, code: await codeFor(email) } });
  return { id: user.id, username, email, password };
}

let adminToken = null;
/** `Token <key>` of the administrator: a service, for content events and awards. */
export async function admin() {
  if (adminToken) return adminToken;
  const { access } = await ok("POST", "/api/auth/jwt/login/", { body: { username: ADMIN.username, password: ADMIN.password } });
  const token = await ok("POST", "/api/auth/tokens/", { body: { name: "e2e" }, auth: `Bearer ${access}` });
  adminToken = `Token ${token.key}`;
  return adminToken;
}

export async function badgesOf(userId) {
  const page = await ok("GET", `/api/user-badges/?user=${userId}&page_size=100`, { auth: await admin() });
  return page.results.map((b) => b.badge.name);
}

/** Waits until the user holds the badge (the in-process bus awards after the request). */
export async function waitForBadge(userId, name) {
  for (let i = 0; i < 100; i++) {
    if ((await badgesOf(userId)).includes(name)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`user ${userId} did not earn ${name}`);
}

export function runTask(name) {
  execFileSync(`${BIN}/accounts-admin`, ["--data-dir", DATA, "run-task", name], { stdio: "ignore" });
}

export async function launch() {
  // playwright-core starts the browser with a fresh temporary --user-data-dir of its own.
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
}

export async function newContext(browser, options = {}) {
  return browser.newContext({ baseURL: BASE, userAgent: USER_AGENT, viewport: { width: 1100, height: 780 }, ...options });
}

/**
 * A platform authenticator for `page` (Chromium's virtual authenticator over the DevTools
 * protocol): makes discoverable credentials, verifies the user and answers at once, no UI.
 */
export async function addAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { credentials: async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials };
}

/** Signs the context in through the API (cookies land in the context's jar). */
export async function signIn(context, user) {
  const response = await context.request.post("/api/auth/login/", { data: { username: user.username, password: user.password }, headers: { "User-Agent": USER_AGENT } });
  assert.equal(response.status(), 200, await response.text());
}

/** Closes every celebration dialog the page shows (badges earned before the test's own). */
export async function dismissCelebrations(page) {
  await page.waitForLoadState("networkidle");
  // On a loaded machine the look at the user's badges can take a while: wait for it (a dialog
  // that opened after this returned would block the next click).
  await page.locator("html[data-celebrations]").waitFor({ state: "attached", timeout: 30_000 }).catch(() => undefined);
  for (let i = 0; i < 10; i++) {
    const dialog = page.getByRole("dialog", { name: "New badge earned!" });
    if (!(await dialog.isVisible())) {
      await page.waitForTimeout(150);
      if (!(await dialog.isVisible())) return;
    }
    await dialog.getByRole("button", { name: "Close" }).click();
  }
}

/**
 * Goes to `path` and waits for the page's data (no spinner left). `quick` waits for the page's
 * heading and its spinners instead of half a second of network silence (the axe pass).
 */
export async function visit(page, path, { quick = false } = {}) {
  await page.goto(path);
  if (quick) await page.locator("main h1").first().waitFor({ timeout: 10_000 });
  else await page.waitForLoadState("networkidle");
  await page.locator(".state-loading").first().waitFor({ state: "detached", timeout: 10_000 }).catch(() => undefined);
}

const axeSource = await readFile(require.resolve("axe-core/axe.min.js"), "utf8");
/** axe-core's serious and critical violations on the page as it is now. */
export async function axeViolations(page) {
  await page.addScriptTag({ content: axeSource });
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
}

export async function shot(page, name) {
  if (!SHOTS) return;
  await mkdir(SHOTS, { recursive: true });
  const path = `${SHOTS}${name}.png`;
  await page.screenshot({ path });
  // Keep the committed pictures small: a 256-colour palette when pngquant is installed.
  try {
    execFileSync("pngquant", ["--force", "--ext", ".png", "--quality", "60-90", "--strip", "--speed", "1", path], { stdio: "ignore" });
  } catch {
    // no pngquant: the full-colour PNG stays
  }
}
