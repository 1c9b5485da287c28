/**
 * The management portal (PWA) walked as the guide describes it, by a new user on a phone, in
 * Debian's Chromium driven by playwright-core, against the real edge (startEdge: workerd, the
 * Durable Objects, pwa/dist as static assets) and a media node speaking the hub protocol:
 * register → log out → log in → My Services → create a PBX → add an extension (voicemail; a
 * field error from the API shown beside its field, nothing typed lost) → a holiday → a call route
 * with forward all and the holiday → View PBX Changes → View Details (green added, red removed
 * lines) → Apply (the node's acknowledgement) → Change History → revert; My Account; the
 * recovery mail's link. Screenshots of each main screen at 360×640 and 1280×800 go to
 * test/artifacts/pwa/.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import WebSocket from "ws";
import { encodeWav } from "../media/voicemail/wav.ts";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../scripts/lib/edge.ts";
import { freePort } from "../scripts/lib/net.ts";
import { MailSink } from "./support/mail-sink.ts";
import { PortalClient } from "./support/portal-client.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = resolve(import.meta.dirname, "artifacts/pwa");
const PHONE = { width: 360, height: 640 };
const DESKTOP = { width: 1280, height: 800 };
const NODE_ID = "media-pwa-test";

let dir: string;
let edge: RunningEdge;
let mail: MailSink;
let browser: Browser;
let node: WebSocket | null = null;
const pageErrors: string[] = [];

/** A media node as far as the edge can tell: hello, then an ack for every configuration it gets. */
async function connectNode(url: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/nodes/connect?node=${NODE_ID}`, {
    headers: { authorization: `Bearer ${devMediaNodeToken()}` },
  });
  await new Promise((ok, fail) => {
    ws.once("open", ok);
    ws.once("error", fail);
  });
  ws.on("message", (data) => {
    const message = JSON.parse(String(data)) as { type: string; pbx?: string; version?: number };
    if (message.type === "config") ws.send(JSON.stringify({ type: "ack", pbx: message.pbx, version: message.version }));
  });
  ws.send(JSON.stringify({ type: "hello", have: {} }));
  return ws;
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  dir = await mkdtemp(join(tmpdir(), "edgepbx-pwa-"));
  await mkdir(ARTIFACTS, { recursive: true });
  mail = await new MailSink().start();
  const port = await freePort();
  edge = await startEdge({
    port,
    persistDir: join(dir, "edge"),
    vars: { SMTP_PORT: String(mail.smtpPort), PORTAL_URL: `http://127.0.0.1:${port}` },
  });
  node = await connectNode(edge.url);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
});

after(async () => {
  await browser?.close();
  node?.close();
  await edge?.stop();
  await mail?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function phoneContext(storageState?: Awaited<ReturnType<BrowserContext["storageState"]>>) {
  return browser.newContext({
    viewport: PHONE,
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    ...(storageState ? { storageState } : {}),
  });
}

function watch(page: Page): Page {
  page.on("pageerror", (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  page.on("console", (msg) => {
    // A 4xx answer the screen shows beside a field is expected; script errors are not.
    if (msg.type() === "error" && !msg.text().includes("Failed to load resource"))
      pageErrors.push(`${page.url()}: ${msg.text()}`);
  });
  page.on("dialog", (dialog) => void dialog.accept());
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  const size = page.viewportSize()?.width === PHONE.width ? "phone" : "desktop";
  // Full page, with the sticky Save bar in its place rather than over the middle of the form.
  await page.screenshot({
    path: join(ARTIFACTS, `${name}-${size}.png`),
    fullPage: true,
    style: ".actions.sticky { position: static; }",
  });
}

/**
 * What every screen must offer: a label for each form control, and touch targets of at least
 * 44 × 44 px for buttons, links styled as buttons, rows, tiles, inputs and selects.
 */
async function checkAccessible(page: Page, screen: string): Promise<void> {
  const problems = await page.evaluate(() => {
    const found: string[] = [];
    for (const el of Array.from(
      document.querySelectorAll<HTMLInputElement>("main input, main select, main textarea"),
    )) {
      if (el.type === "hidden") continue;
      if (!el.labels || el.labels.length === 0) found.push(`no label: ${el.outerHTML.slice(0, 80)}`);
    }
    const targets = document.querySelectorAll<HTMLElement>(
      "button, .button, .row-link, .tile, main input:not([type=checkbox]), main select, header a, .crumbs a, .field.check label",
    );
    for (const el of Array.from(targets)) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      if (box.height < 43.5 || box.width < 43.5)
        found.push(`small target ${Math.round(box.width)}×${Math.round(box.height)}: ${el.outerHTML.slice(0, 80)}`);
    }
    return found;
  });
  assert.deepEqual(problems, [], `${screen}: ${problems.join("\n")}`);
}

test("a new user walks the guide in the portal on a phone: register, PBX, extension, holiday, route, changes, apply, history", async () => {
  const context = await phoneContext();
  const page = watch(await context.newPage());
  try {
    await walk(context, page);
  } catch (error) {
    // What the screen showed when it went wrong, for the person reading the failure.
    await page.screenshot({ path: join(ARTIFACTS, "failure.png"), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
  assert.deepEqual(pageErrors, [], "no script errors in the portal");
});

async function walk(context: BrowserContext, page: Page): Promise<void> {
  const stamp = Date.now().toString(36);
  const email = `dana.${stamp}@example.test`;
  const password = "harbour lights 2026";
  const did = `+612${String(Date.now()).slice(-8)}`;

  // ---- Login screen, Register ----
  await page.goto(`${edge.url}/`);
  await page.getByRole("heading", { name: "Log in to the Management Portal" }).waitFor();
  await checkAccessible(page, "login");
  await shot(page, "01-login");
  await page.getByRole("link", { name: "Register" }).click();
  await page.getByRole("heading", { name: "Register" }).waitFor();
  await page.getByLabel("Your name").fill("Dana Walker");
  await page.getByLabel("Company").fill("Harbour Freight Pty Ltd");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Register" }).click();
  // The shared schema's message, beside the Password field; what was typed stays.
  const passwordError = page.locator(".field.has-error").filter({ has: page.getByLabel("Password") });
  await passwordError.getByText("must be at least 10 characters").waitFor();
  assert.equal(await page.getByLabel("Your name").inputValue(), "Dana Walker");
  assert.equal(await page.getByLabel("Email").inputValue(), email);
  await checkAccessible(page, "register");
  await shot(page, "02-register-error");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Register" }).click();
  await page.getByRole("heading", { name: "My Services" }).waitFor();

  // ---- Log out, log in with the keyboard ----
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("heading", { name: "Log in to the Management Portal" }).waitFor();
  await page.getByLabel("Email (username)").focus();
  await page.keyboard.type(email);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "f-password");
  await page.keyboard.type(password);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "My Services" }).waitFor();

  // ---- My Services: Voice, create a PBX ----
  await page.locator("summary", { hasText: "Voice" }).waitFor();
  await checkAccessible(page, "my services");
  await page.getByLabel("PBX name").fill("Harbour Office");
  await page.getByRole("button", { name: "Create PBX" }).click();
  await page.getByRole("heading", { name: "Harbour Office" }).waitFor();
  const pbxId = page.url().match(/#\/pbx\/([^/?]+)/)?.[1] ?? "";
  assert.ok(pbxId, `PBX id in ${page.url()}`);
  for (const tile of ["Call Routing", "Offices & Users", "Virtual Extensions", "Blacklist", "Holidays", "Addons"])
    await page.locator(".tile-label", { hasText: tile }).waitFor();
  assert.equal(await page.getByRole("link", { name: "View PBX Changes" }).count(), 0, "nothing pending yet");
  await checkAccessible(page, "pbx homepage");
  await shot(page, "03-pbx-homepage");
  await page.getByRole("link", { name: "My Services" }).first().click();
  await page.getByRole("link", { name: /Harbour Office/ }).waitFor();
  await shot(page, "04-my-services");
  await page.getByRole("link", { name: /Harbour Office/ }).click();

  // ---- Offices & Users: add an extension with voicemail ----
  await page.locator(".tile", { hasText: "Offices & Users" }).click();
  await page.getByRole("heading", { name: "Offices & Users" }).waitFor();
  await page.getByRole("link", { name: "Add Extension" }).click();
  await page.getByLabel("Extension Number").fill("200");
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("Dana");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Office").fill("Sydney");
  await page.getByLabel("Enable Voicemail").check();
  await page.getByLabel("Voicemail PIN").fill("4321");
  await page.getByLabel("Enable call recording (outbound calls)").check();
  await page.getByRole("button", { name: "Save & Close" }).click();
  // The edge refuses recording without the plugin: its message sits beside that checkbox.
  const recordingError = page
    .locator(".field.has-error")
    .filter({ has: page.getByLabel("Enable call recording (outbound calls)") });
  await recordingError.getByText("enable the Call Recording Plugin under Addons first").waitFor();
  assert.equal(await page.getByLabel("Extension Number").inputValue(), "200");
  assert.equal(await page.getByLabel("Office").inputValue(), "Sydney");
  assert.equal(await page.getByLabel("Voicemail PIN").inputValue(), "4321");
  await checkAccessible(page, "extension form");
  await shot(page, "05-extension-error");
  await page.getByLabel("Enable call recording (outbound calls)").uncheck();
  await page.getByRole("button", { name: "Save & Close" }).click();
  await page.getByRole("heading", { name: "Extension 200 Dana added" }).waitFor();
  const sipPassword = await page.getByTestId("sip-password").textContent();
  assert.match(sipPassword ?? "", /^\S{12,}$/, "the generated SIP password is shown once");
  await shot(page, "06-extension-added");
  await page.getByRole("link", { name: "Done" }).click();
  await page.getByRole("heading", { name: "Sydney" }).waitFor();
  await page.getByRole("link", { name: /200 Dana/ }).waitFor();
  await shot(page, "07-offices-and-users");

  // ---- Holidays: a condition with two dates, calls to Dana's voicemail ----
  await page.getByRole("link", { name: "Harbour Office" }).click();
  await page.locator(".tile", { hasText: "Holidays" }).click();
  await page.getByRole("link", { name: "Add Condition" }).click();
  await page.getByLabel("Name").fill("Christmas");
  await page.getByLabel("Date 1", { exact: true }).fill("2026-12-25");
  await page.getByRole("button", { name: "Add date" }).click();
  await page.getByLabel("Date 2", { exact: true }).fill("2026-12-26");
  await page.getByLabel("Activity Type").selectOption("voicemail");
  await page.getByLabel("Activity", { exact: true }).selectOption("200");
  await checkAccessible(page, "holiday form");
  await shot(page, "08-holiday-form");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("link", { name: /Christmas/ }).waitFor();

  // ---- Call Routing: a number to Dana, forward all, the holiday ----
  await page.getByRole("link", { name: "Harbour Office" }).click();
  await page.locator(".tile", { hasText: "Call Routing" }).click();
  await page.getByRole("link", { name: "Add Call Route" }).click();
  await page.getByLabel("Timezone").selectOption("Australia/Sydney");
  await page.getByLabel("Phone Number").fill(did);
  await page.getByLabel("Call Alert Name").fill("Main line");
  await page.getByLabel("Activity Type").selectOption("extension");
  await page.getByLabel("Activity", { exact: true }).selectOption("200");
  await page.getByLabel("Enable Forward All").check();
  await page.getByText("Allocated Dial Code: allocated when you save").waitFor();
  await page.getByLabel("Enable Holiday").check();
  await page.getByLabel("Holiday condition").selectOption({ label: "Christmas" });
  await checkAccessible(page, "call route form");
  await shot(page, "09-call-route-form");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Allocated Dial Code: *401").waitFor();
  await page.getByRole("link", { name: new RegExp(`${did.replace("+", "\\+")} Main line`) }).waitFor();
  await shot(page, "10-call-routing");

  // ---- View PBX Changes: the pending list and View Details ----
  await page.getByRole("link", { name: "Harbour Office" }).click();
  await page.getByRole("link", { name: "View PBX Changes" }).click();
  await page.getByRole("heading", { name: "View PBX Changes" }).waitFor();
  const pending = (await page.getByRole("list", { name: "Pending changes" }).textContent()) ?? "";
  assert.match(pending, /Added extension 200 Dana/);
  assert.match(pending, /Added holiday Christmas/);
  assert.match(pending, new RegExp(`Added call route \\${did} Main line`));
  await checkAccessible(page, "view pbx changes");
  await shot(page, "11-view-pbx-changes");
  await page.getByRole("link", { name: "View Details" }).click();
  await page.getByRole("heading", { name: "View Details" }).waitFor();
  const added = page.locator(".diff-line.added");
  const removed = page.locator(".diff-line.removed");
  await added.first().waitFor();
  assert.ok((await added.count()) > 20, "many added lines");
  const addedText = (await added.allInnerTexts()).join("\n");
  assert.match(addedText, /"number": "200"/);
  assert.match(addedText, /"dialCode": "\*401"/);
  assert.match(addedText, /"2026-12-25"/);
  assert.match((await removed.allInnerTexts()).join("\n"), /"extensions": \[\]/);
  // (No named functions inside evaluate: tsx would wrap them in a helper the page does not have.)
  const [addedBg = "", removedBg = ""] = await page.evaluate(() =>
    [".diff-line.added", ".diff-line.removed"].map(
      (selector) => getComputedStyle(document.querySelector(selector) as Element).backgroundColor,
    ),
  );
  const colours = { added: addedBg, removed: removedBg };
  const rgb = (css: string) => (css.match(/\d+/g) ?? []).map(Number);
  const [ar = 0, ag = 0, ab = 0] = rgb(colours.added);
  const [rr = 0, rg = 0, rb = 0] = rgb(colours.removed);
  assert.ok(ag > ar && ag > ab, `added lines are green, got ${colours.added}`);
  assert.ok(rr > rg && rr > rb, `removed lines are red, got ${colours.removed}`);
  await shot(page, "12-view-details");

  // ---- Apply PBX Changes: the media node's acknowledgement ----
  await page.getByRole("button", { name: "Apply PBX Changes" }).click();
  await page.getByRole("heading", { name: "Version 2 applied" }).waitFor();
  await page.getByText(`Live on media node ${NODE_ID}`).waitFor({ timeout: 15_000 });
  await shot(page, "13-applied");
  await page.getByRole("link", { name: "Return to Service" }).click();
  await page.getByRole("heading", { name: "Harbour Office" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "View PBX Changes" }).count(), 0, "nothing pending after Apply");

  // The API has what the screens showed.
  const api = context.request;
  const v2 = (await (await api.get(`${edge.url}/api/pbxs/${pbxId}/config?version=2`)).json()) as {
    config: {
      extensions: { number: string; office: string; voicemail: { enabled: boolean; pinHash: string } }[];
      holidays: { id: string; name: string; dates: string[] }[];
      callRoutes: {
        id: string;
        did: string;
        timezone: string;
        holidayId: string;
        forwardAll: { enabled: boolean; dialCode: string };
      }[];
    };
  };
  assert.deepEqual(
    v2.config.extensions.map((e) => [e.number, e.office, e.voicemail.enabled, e.voicemail.pinHash]),
    [["200", "Sydney", true, "[secret]"]],
  );
  assert.deepEqual(v2.config.holidays[0]?.dates, ["2026-12-25", "2026-12-26"]);
  const route = v2.config.callRoutes[0];
  assert.equal(route?.did, did);
  assert.equal(route?.timezone, "Australia/Sydney");
  assert.equal(route?.holidayId, v2.config.holidays[0]?.id);
  assert.deepEqual(route?.forwardAll, { enabled: true, dialCode: "*401" });

  // ---- The desktop width: the same screens ----
  const desktop = await browser.newContext({ viewport: DESKTOP, storageState: await context.storageState() });
  const wide = watch(await desktop.newPage());
  for (const [path, heading, name] of [
    ["/services", "My Services", "04-my-services"],
    [`/pbx/${pbxId}`, "Harbour Office", "03-pbx-homepage"],
    [`/pbx/${pbxId}/extensions`, "Offices & Users", "07-offices-and-users"],
    [`/pbx/${pbxId}/routes/${route?.id}`, "Call Route", "09-call-route-form"],
    [`/pbx/${pbxId}/history/2`, "Version 2", "12-view-details"],
    [`/pbx/${pbxId}/history`, "Change History", "14-change-history"],
  ] as const) {
    await wide.goto(`${edge.url}/#${path}`);
    await wide.getByRole("heading", { name: heading }).first().waitFor();
    await wide.waitForLoadState("networkidle");
    await shot(wide, name);
  }
  await desktop.close();
  const anonymous = await browser.newContext({ viewport: DESKTOP });
  const login = watch(await anonymous.newPage());
  await login.goto(`${edge.url}/`);
  await login.getByRole("heading", { name: "Log in to the Management Portal" }).waitFor();
  await shot(login, "01-login");
  await anonymous.close();

  // ---- Change History: both versions, the acknowledgement, revert ----
  await page.locator(".tile", { hasText: "Change History" }).click();
  await page.getByRole("heading", { name: "Change History" }).waitFor();
  const history = page.getByRole("list", { name: "Applied versions" });
  await history.getByText("Version 2 (current)").waitFor();
  await history.getByText("Version 1", { exact: true }).waitFor();
  assert.match((await history.textContent()) ?? "", new RegExp(`live on ${NODE_ID}`));
  await checkAccessible(page, "change history");
  await shot(page, "14-change-history");
  await page.getByRole("button", { name: "Revert to version 1" }).click();
  await page.getByText("Reverted to version 1: it is now version 3.").waitFor();
  await history.getByText("Version 3 (current)").waitFor();
  const versions = (await (await api.get(`${edge.url}/api/pbxs/${pbxId}/history`)).json()) as {
    versions: { version: number; revertOf: number | null }[];
  };
  assert.deepEqual(
    versions.versions.map((v) => [v.version, v.revertOf]),
    [
      [3, 1],
      [2, null],
      [1, null],
    ],
  );

  // ---- My Account: contact details and notification preferences ----
  await page.getByRole("link", { name: "My Account" }).click();
  await page.getByRole("heading", { name: "My Account" }).waitFor();
  await page.getByLabel("Mobile").fill("0412 345 678");
  await page.getByLabel("Newsletters").check();
  await checkAccessible(page, "my account");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Your account was saved.").waitFor();
  await shot(page, "15-my-account");
  await page.setViewportSize(DESKTOP);
  await shot(page, "15-my-account");
  await page.setViewportSize(PHONE);
  const me = (await (await api.get(`${edge.url}/api/me`)).json()) as {
    user: { mobile: string; notifications: { newsletters: boolean } };
  };
  assert.equal(me.user.mobile, "0412 345 678");
  assert.equal(me.user.notifications.newsletters, true);

  // ---- Having trouble signing in: the mailed link resets the password ----
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("link", { name: "Having trouble signing in?" }).click();
  await page.getByRole("heading", { name: "Having trouble signing in" }).waitFor();
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Send me a reset link" }).click();
  await page.getByText("a reset link is on its way").waitFor();
  await checkAccessible(page, "recovery");
  const link = await waitForLink(email);
  await page.goto(link);
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await page.getByLabel("New password").fill("a brand new secret");
  await page.getByRole("button", { name: "Set new password" }).click();
  await page.getByText("Your password was changed").waitFor();
  await page.getByRole("link", { name: "Log in" }).click();
  await page.getByLabel("Email (username)").fill(email);
  await page.getByLabel("Password").fill("a brand new secret");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "My Services" }).waitFor();
}

async function waitForLink(to: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const message = mail.messages.find((m) => m.to.includes(to));
    const link = message?.text.match(/https?:\/\/\S+#\/reset\?token=\S+/)?.[0];
    if (link) return link;
    if (Date.now() > deadline) throw new Error(`no recovery mail for ${to}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A fresh account registered through the browser context's API (the context keeps the cookie). */
async function registerIn(context: BrowserContext, name: string) {
  const email = `${name.toLowerCase().replace(/\W+/g, ".")}.${Date.now().toString(36)}@example.test`;
  const password = "correct horse battery";
  const res = await context.request.post(`${edge.url}/api/auth/register`, { data: { name, email, password } });
  assert.equal(res.status(), 201, await res.text());
  const csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
  const send = async (method: "POST" | "PATCH", path: string, data: unknown) => {
    const answer = await context.request.fetch(`${edge.url}/api${path}`, {
      method,
      data,
      headers: { "x-csrf-token": csrf },
    });
    assert.ok(answer.ok(), `${method} ${path}: ${answer.status()} ${await answer.text()}`);
    return answer.json();
  };
  return { email, password, send };
}

/** The portal's service worker controls the page, and IndexedDB holds a last-seen PBX. */
async function readyForOffline(page: Page): Promise<void> {
  await page.waitForFunction(
    () => navigator.serviceWorker?.controller !== null && navigator.serviceWorker?.controller !== undefined,
  );
  await page.waitForFunction(
    () =>
      new Promise<boolean>((ok) => {
        const open = indexedDB.open("edgepbx");
        open.addEventListener("error", () => ok(false));
        open.addEventListener("success", () => {
          try {
            const count = open.result.transaction("pbxs").objectStore("pbxs").count();
            count.addEventListener("success", () => ok(count.result > 0));
            count.addEventListener("error", () => ok(false));
          } catch {
            ok(false);
          }
        });
      }),
  );
}

test("offline: the PBX opens as last seen, edits are queued and replayed with If-Match, a conflicting edit is shown", async () => {
  const context = await phoneContext();
  const page = watch(await context.newPage());
  try {
    const admin = await registerIn(context, "Olive Offline");
    const pbx = ((await admin.send("POST", "/pbxs", { name: "Island Office" })) as { pbx: { id: string } }).pbx.id;
    const holiday = (await admin.send("POST", `/pbxs/${pbx}/holidays`, {
      name: "Easter",
      dates: ["2027-03-26"],
      action: { type: "hangup" },
    })) as { id: string };
    const did = `+613${String(Date.now()).slice(-8)}`;
    const route = (await admin.send("POST", `/pbxs/${pbx}/call-routes`, {
      did,
      timezone: "Australia/Sydney",
      alertName: "Reception",
      activity: { type: "hangup" },
    })) as { id: string };

    await page.goto(`${edge.url}/#/pbx/${pbx}`);
    await page.getByRole("heading", { name: "Island Office" }).waitFor();
    await readyForOffline(page);

    // ---- no network: the shell from the service worker, the PBX from IndexedDB ----
    await context.setOffline(true);
    await page.reload();
    await page.getByText("You are offline.").waitFor();
    await page.getByRole("heading", { name: "Island Office" }).waitFor();
    await page.getByText("Offline: showing this PBX as last seen").waitFor();
    await shot(page, "16-offline-pbx");

    await page.locator(".tile", { hasText: "Call Routing" }).click();
    await page.getByRole("link", { name: /Reception/ }).click();
    await page.getByLabel("Call Alert Name").fill("Front desk");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved on this device: it is sent to the PBX when you are back online.").waitFor();
    await page.getByRole("link", { name: "Island Office" }).click();
    await page.locator(".tile", { hasText: "Holidays" }).click();
    await page.getByRole("link", { name: /Easter/ }).click();
    await page.getByLabel("Name").fill("Easter Monday");
    await page.getByRole("button", { name: "Save" }).click();
    const outbox = page.locator(".outbox");
    await outbox.getByText("Changes saved on this device (2)").waitFor();
    assert.match((await outbox.textContent()) ?? "", new RegExp(`Change call route \\${did}.*waiting for the network`));
    await shot(page, "17-offline-queued");

    // Meanwhile someone else changes the holiday on the edge.
    const other = new PortalClient(edge.url);
    await other.expect(200, "POST", "/api/auth/login", { email: admin.email, password: admin.password });
    await other.expect(200, "PATCH", `/api/pbxs/${pbx}/holidays/${holiday.id}`, {
      dates: ["2027-03-26", "2027-03-29"],
    });

    // ---- back online: the route edit goes through, the holiday edit is a conflict ----
    await context.setOffline(false);
    await outbox.getByText("Changes saved on this device (1)").waitFor({ timeout: 15_000 });
    await outbox.getByText("Someone changed this on the PBX while you were offline").waitFor();
    assert.match((await outbox.textContent()) ?? "", /Change holiday Easter Monday\s*conflict/);
    // Nothing typed is lost: the refused edit is there to read and type again.
    await outbox.getByText("Your edit", { exact: true }).click();
    await outbox.getByText("Easter Monday").first().waitFor();
    await shot(page, "18-offline-conflict");
    const sentRoute = await other.expect<{ alertName: string }>(200, "GET", `/api/pbxs/${pbx}/call-routes/${route.id}`);
    assert.equal(sentRoute.alertName, "Front desk");
    const keptHoliday = await other.expect<{ name: string; dates: string[] }>(
      200,
      "GET",
      `/api/pbxs/${pbx}/holidays/${holiday.id}`,
    );
    assert.deepEqual([keptHoliday.name, keptHoliday.dates], ["Easter", ["2027-03-26", "2027-03-29"]]);

    await outbox.getByRole("button", { name: "Discard" }).click();
    await outbox.getByText("1 change saved offline was sent to the PBX.").waitFor();
  } catch (error) {
    await page.screenshot({ path: join(ARTIFACTS, "failure-offline.png"), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
  assert.deepEqual(pageErrors, [], "no script errors in the portal");
});

test("an Administrator creates a Client User under My Admin → Portal Users, who then sees only their PBX", async () => {
  const context = await phoneContext();
  const page = watch(await context.newPage());
  let clientContext: BrowserContext | null = null;
  try {
    const admin = await registerIn(context, "Ada Admin");
    const north = ((await admin.send("POST", "/pbxs", { name: "North Branch" })) as { pbx: { id: string } }).pbx.id;
    const south = ((await admin.send("POST", "/pbxs", { name: "South Branch" })) as { pbx: { id: string } }).pbx.id;
    const clientEmail = `carl.client.${Date.now().toString(36)}@example.test`;

    await page.goto(`${edge.url}/#/services`);
    await page.getByRole("link", { name: "My Admin" }).click();
    await page.getByRole("heading", { name: "Portal Users" }).waitFor();
    await page.getByRole("link", { name: "Add Portal User" }).click();
    await page.getByLabel("Email").fill(clientEmail);
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Carl Client");
    await page.getByLabel("Role").selectOption("clientUser");
    await page.getByLabel("Password").fill("client password 1");
    await page.getByLabel("North Branch").check();
    await checkAccessible(page, "portal user form");
    await shot(page, "19-portal-user-form");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("link", { name: new RegExp(clientEmail.replace(/\./g, "\\.")) }).waitFor();
    await shot(page, "20-portal-users");

    clientContext = await phoneContext();
    const client = watch(await clientContext.newPage());
    await client.goto(`${edge.url}/`);
    await client.getByLabel("Email (username)").fill(clientEmail);
    await client.getByLabel("Password").fill("client password 1");
    await client.getByRole("button", { name: "Log in" }).click();
    await client.getByRole("heading", { name: "My Services" }).waitFor();
    await client.getByRole("link", { name: /North Branch/ }).waitFor();
    assert.equal(await client.getByRole("link", { name: /South Branch/ }).count(), 0);
    assert.equal(await client.getByRole("link", { name: "My Admin" }).count(), 0, "no My Admin for a Client User");
    assert.equal(await client.getByRole("heading", { name: "Create a PBX" }).count(), 0);
    await client.goto(`${edge.url}/#/pbx/${south}`);
    await client.getByText("This PBX does not exist or is not yours to see.").waitFor();
    const mine = (await (await clientContext.request.get(`${edge.url}/api/pbxs`)).json()) as { pbxs: { id: string }[] };
    assert.deepEqual(
      mine.pbxs.map((p) => p.id),
      [north],
    );
  } catch (error) {
    await page.screenshot({ path: join(ARTIFACTS, "failure-users.png"), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await clientContext?.close();
    await context.close();
  }
  assert.deepEqual(pageErrors, [], "no script errors in the portal");
});

test("Addons: the disclaimer is agreed before the Call Recording Plugin is enabled; FTP access, a Virtual FAX sender, then a route records", async () => {
  const context = await phoneContext();
  const page = watch(await context.newPage());
  try {
    const admin = await registerIn(context, "Rita Recorder");
    const pbx = ((await admin.send("POST", "/pbxs", { name: "Quay Office" })) as { pbx: { id: string } }).pbx.id;
    const did = `+614${String(Date.now()).slice(-8)}`;
    await admin.send("POST", `/pbxs/${pbx}/call-routes`, {
      did,
      timezone: "UTC",
      alertName: "Sales",
      activity: { type: "hangup" },
    });

    await page.goto(`${edge.url}/#/pbx/${pbx}`);
    await page.locator(".tile", { hasText: "Addons" }).click();
    await page.getByRole("link", { name: /^Configure Addons/ }).click();
    await page.getByRole("heading", { name: "Configure Addons" }).waitFor();
    const plugin = page.getByLabel("Enable Call Recording Plugin");
    assert.equal(await plugin.isDisabled(), true, "the plugin waits for the disclaimer");
    await page.getByLabel("I agree to the call recording disclaimer").check();
    await plugin.check();
    await checkAccessible(page, "configure addons");
    await shot(page, "21-configure-addons");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("heading", { name: "Quay Office" }).waitFor();
    await page.getByRole("link", { name: "View PBX Changes" }).waitFor();

    await page.locator(".tile", { hasText: "Addons" }).click();
    await page.getByRole("link", { name: /^Call Recordings/ }).click();
    await page.getByLabel("FTP username").fill("quay-recordings");
    await page.getByLabel("FTP password").fill("ftp password 123");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("FTP access saved.").waitFor();
    await page.getByRole("link", { name: /^Virtual FAX/ }).click();
    await page.getByRole("link", { name: "Add Virtual FAX Sender" }).click();
    await page.getByLabel("Sender email").fill("fax@quay.example.test");
    await page.getByLabel("Caller ID").fill("+61299991234");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("link", { name: /fax@quay\.example\.test/ }).waitFor();

    await page.getByRole("link", { name: "Quay Office" }).click();
    await page.locator(".tile", { hasText: "Call Routing" }).click();
    await page.getByRole("link", { name: /Sales/ }).click();
    await page.getByLabel("Enable Call Recording").check();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText(`Call route ${did} saved.`).waitFor();

    const draft = (await (await context.request.get(`${edge.url}/api/pbxs/${pbx}/config`)).json()) as {
      config: {
        addons: { callRecording: { enabled: boolean; disclaimerAccepted: boolean; ftp: { username: string } | null } };
        faxSenders: { email: string; callerId: string }[];
        callRoutes: { recordInbound: boolean }[];
      };
    };
    assert.deepEqual(
      [
        draft.config.addons.callRecording.enabled,
        draft.config.addons.callRecording.disclaimerAccepted,
        draft.config.addons.callRecording.ftp?.username,
      ],
      [true, true, "quay-recordings"],
    );
    assert.deepEqual(
      draft.config.faxSenders.map((f) => [f.email, f.callerId]),
      [["fax@quay.example.test", "+61299991234"]],
    );
    assert.equal(draft.config.callRoutes[0]?.recordInbound, true);
  } catch (error) {
    await page.screenshot({ path: join(ARTIFACTS, "failure-addons.png"), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
  assert.deepEqual(pageErrors, [], "no script errors in the portal");
});

test("Ring Groups, Conference Rooms and Announcements from the homepage tiles; Settings; Call Forward All set and cleared on a route", async () => {
  const context = await phoneContext();
  const page = watch(await context.newPage());
  try {
    const admin = await registerIn(context, "Rhea Rings");
    const pbx = ((await admin.send("POST", "/pbxs", { name: "Bay Office" })) as { pbx: { id: string } }).pbx.id;
    await admin.send("POST", `/pbxs/${pbx}/extensions`, { number: "301", name: "Ann" });
    await admin.send("POST", `/pbxs/${pbx}/extensions`, { number: "302", name: "Ben" });
    const did = `+615${String(Date.now()).slice(-8)}`;
    const route = (await admin.send("POST", `/pbxs/${pbx}/call-routes`, {
      did,
      timezone: "UTC",
      alertName: "Front desk",
      activity: { type: "extension", extension: "301" },
      forwardAll: { enabled: true },
    })) as { id: string };

    // ---- Ring Groups: a field error beside Members, nothing typed lost, then saved ----
    await page.goto(`${edge.url}/#/pbx/${pbx}`);
    for (const tile of ["Ring Groups", "Conference Rooms", "Announcements", "Call Forward All", "Settings"])
      await page.locator(".tile-label", { hasText: tile }).waitFor();
    await checkAccessible(page, "pbx homepage with every tile");
    await page.locator(".tile", { hasText: "Ring Groups" }).click();
    await page.getByRole("heading", { name: "Ring Groups" }).waitFor();
    await page.getByRole("link", { name: "Add Ring Group" }).click();
    await page.getByLabel("Ring Group Number").fill("600");
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Sales team");
    await page.getByLabel("Strategy").selectOption("hunt");
    await page.getByLabel("Ring seconds").fill("20");
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator(".error-summary").getByText("Members").waitFor();
    await page.locator("fieldset", { hasText: "Members" }).getByText("needs at least one member").waitFor();
    assert.equal(await page.getByLabel("Ring Group Number").inputValue(), "600");
    assert.equal(await page.getByLabel("Strategy").inputValue(), "hunt");
    assert.equal(await page.getByLabel("Ring seconds").inputValue(), "20");
    await page.getByLabel("301 Ann").check();
    await page.getByLabel("302 Ben").check();
    await page.getByLabel("Activity Type").selectOption("extension");
    await page.getByLabel("Activity", { exact: true }).selectOption("302");
    await checkAccessible(page, "ring group form");
    await shot(page, "22-ring-group-form");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Ring group 600 Sales team saved.").waitFor();
    await page.getByRole("link", { name: /600 Sales team/ }).waitFor();
    await checkAccessible(page, "ring groups");
    await shot(page, "23-ring-groups");

    // ---- Conference Rooms ----
    await page.getByRole("link", { name: "Bay Office" }).click();
    await page.locator(".tile", { hasText: "Conference Rooms" }).click();
    await page.getByRole("link", { name: "Add Conference Room" }).click();
    await page.getByLabel("Room Number").fill("700");
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Board room");
    await page.getByLabel("PIN").fill("12");
    await page.getByLabel("Max participants").fill("10");
    await page.getByRole("button", { name: "Save" }).click();
    const pinError = page.locator(".field.has-error").filter({ has: page.getByLabel("PIN") });
    await pinError.waitFor();
    assert.equal(await page.getByLabel("Room Number").inputValue(), "700");
    assert.equal(await page.getByLabel("Max participants").inputValue(), "10");
    await page.getByLabel("PIN").fill("4242");
    await checkAccessible(page, "conference room form");
    await shot(page, "24-conference-room-form");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("link", { name: /Room 700 Board room/ }).waitFor();

    // ---- Announcements ----
    await page.getByRole("link", { name: "Bay Office" }).click();
    await page.locator(".tile", { hasText: "Announcements" }).click();
    await page.getByRole("link", { name: "Add Announcement" }).click();
    await page.getByLabel("Name").fill("After hours");
    await page.getByLabel("Message").fill("We are closed. Please call back tomorrow.");
    await page.getByLabel("Activity Type").selectOption("ringGroup");
    await checkAccessible(page, "announcement form");
    await shot(page, "25-announcement-form");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("link", { name: /After hours/ }).waitFor();
    // A recording for it: a file that is not audio is refused beside the field, a WAV is kept.
    await page.getByRole("link", { name: /After hours/ }).click();
    await page.getByText("No recording: callers hear the message spoken.").waitFor();
    const fileInput = page.getByLabel(/Upload a recording/);
    await fileInput.setInputFiles({ name: "notes.wav", mimeType: "audio/wav", buffer: Buffer.from("not audio") });
    await page
      .getByRole("alert")
      .filter({ hasText: /not a WAV file|not valid/ })
      .waitFor();
    await fileInput.setInputFiles({
      name: "after-hours.wav",
      mimeType: "audio/wav",
      buffer: encodeWav(new Int16Array(8000)),
    });
    await page.getByText("Recording uploaded. Your changes are ready to apply.").waitFor();
    await page.getByText(/after-hours\.wav · 16 KB/).waitFor();
    assert.equal(await page.getByLabel("Listen to the recording").count(), 1);
    await shot(page, "25b-announcement-recording");
    await page.getByRole("link", { name: "Announcements" }).first().click();
    await page.getByRole("link", { name: /After hours/ }).waitFor();

    // ---- Settings: the timezone; the channels are the provider's ----
    await page.getByRole("link", { name: "Bay Office" }).click();
    await page.locator(".tile", { hasText: "Settings" }).click();
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    await page.getByText("Your provider sets this").waitFor();
    await page.getByLabel("Timezone").selectOption("Australia/Perth");
    await checkAccessible(page, "settings");
    await shot(page, "26-settings");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("heading", { name: "Bay Office" }).waitFor();

    // ---- the pending diff, then Apply ----
    await page.getByRole("link", { name: "View PBX Changes" }).click();
    const pending = (await page.getByRole("list", { name: "Pending changes" }).textContent()) ?? "";
    assert.match(pending, /Added ring group 600 Sales team/);
    assert.match(pending, /Added conference room 700 Board room/);
    assert.match(pending, /Added announcement After hours/);
    await page.getByRole("link", { name: "View Details" }).click();
    await page.locator(".diff-line.added").first().waitFor();
    const addedText = (await page.locator(".diff-line.added").allInnerTexts()).join("\n");
    assert.match(addedText, /"strategy": "hunt"/);
    assert.match(addedText, /"maxParticipants": 10/);
    assert.match(addedText, /"timezone": "Australia\/Perth"/);
    await page.getByRole("button", { name: "Apply PBX Changes" }).click();
    await page.getByRole("heading", { name: "Version 2 applied" }).waitFor();
    const applied = (await (await context.request.get(`${edge.url}/api/pbxs/${pbx}/config?version=2`)).json()) as {
      config: {
        settings: { timezone: string; channels: number };
        ringGroups: { id: string; number: string; strategy: string; members: string[]; ringSeconds: number }[];
        conferenceRooms: { number: string; name: string; pin: string; maxParticipants: number }[];
        announcements: {
          name: string;
          next: { type: string; ringGroupId?: string };
          audio: { fileName: string } | null;
        }[];
      };
    };
    const group = applied.config.ringGroups[0];
    assert.deepEqual(
      [group?.number, group?.strategy, group?.members, group?.ringSeconds],
      ["600", "hunt", ["301", "302"], 20],
    );
    assert.deepEqual(
      applied.config.conferenceRooms.map((r) => [r.number, r.name, r.pin, r.maxParticipants]),
      [["700", "Board room", "4242", 10]],
    );
    assert.deepEqual(applied.config.announcements[0]?.next, { type: "ringGroup", ringGroupId: group?.id });
    assert.equal(applied.config.announcements[0]?.audio?.fileName, "after-hours.wav");
    assert.deepEqual(applied.config.settings.timezone, "Australia/Perth");
    assert.equal(applied.config.settings.channels, 4, "the channel count is left alone");

    // ---- Call Forward All: set, a bad number refused beside the field, then cleared ----
    await page.getByRole("link", { name: "Return to Service" }).click();
    await page.locator(".tile", { hasText: "Call Forward All" }).click();
    await page.getByRole("heading", { name: "Call Forward All" }).waitFor();
    const row = page.locator("section", { hasText: did });
    await row.getByText("Not forwarding · dial code *401").waitFor();
    const forwardTo = row.getByLabel(`Forward ${did} to`);
    await forwardTo.fill("12");
    await row.getByRole("button", { name: "Forward" }).click();
    await row.locator(".field.has-error").getByText("must be a phone number").waitFor();
    assert.equal(await forwardTo.inputValue(), "12");
    await forwardTo.fill("0412345678");
    await row.getByRole("button", { name: "Forward" }).click();
    await row.getByText(`Calls to ${did} now go to 0412345678.`).waitFor();
    await row.getByText(/^Forwarding to 0412345678 \(set by portal/).waitFor();
    await checkAccessible(page, "call forward all");
    await shot(page, "27-forward-all");
    const forwardState = async () =>
      (
        (await (await context.request.get(`${edge.url}/api/pbxs/${pbx}/forward-all`)).json()) as {
          items: { routeId: string; destination: string | null; dialCode: string | null }[];
        }
      ).items.find((i) => i.routeId === route.id);
    assert.deepEqual([(await forwardState())?.destination, (await forwardState())?.dialCode], ["0412345678", "*401"]);
    await row.getByRole("button", { name: "Stop forwarding" }).click();
    await row.getByText("Forwarding stopped.").waitFor();
    await row.getByText("Not forwarding · dial code *401").waitFor();
    assert.equal((await forwardState())?.destination, null);

    // ---- the new screens at desktop width ----
    await page.setViewportSize(DESKTOP);
    await shot(page, "27-forward-all");
    for (const [path, heading, name] of [
      [`/pbx/${pbx}`, "Bay Office", "03-pbx-homepage-all-tiles"],
      [`/pbx/${pbx}/ring-groups/${group?.id}`, "Ring Group 600", "22-ring-group-form"],
      [`/pbx/${pbx}/conference-rooms`, "Conference Rooms", "28-conference-rooms"],
    ] as const) {
      await page.goto(`${edge.url}/#${path}`);
      await page.getByRole("heading", { name: heading }).first().waitFor();
      await page.waitForLoadState("networkidle");
      // The rooms list says who is in each room now (the media nodes' report; nobody here).
      if (name === "28-conference-rooms") await page.getByText(/Room 700 Board room/).waitFor();
      if (name === "28-conference-rooms")
        await page
          .getByText(/nobody in the room/)
          .first()
          .waitFor();
      await shot(page, name);
    }
  } catch (error) {
    await page.screenshot({ path: join(ARTIFACTS, "failure-features.png"), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
  assert.deepEqual(pageErrors, [], "no script errors in the portal");
});
