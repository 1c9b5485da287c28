/**
 * The softphone inside the portal, for real: the edge (startEdge: workerd, the Durable Objects,
 * pwa/dist) and a real media node (SIP over WebSocket, mediasoup). An admin creates a PBX with
 * extensions 100 and 101, applies it and links two portal users to them; two Chromium contexts
 * (fake microphones playing a tone) log in to the portal as those users, open Phone, register
 * with what GET /api/me/softphone gives (the HA1, no password typed), and A calls B from the dial
 * pad: B answers from the incoming-call screen, both see the call connected with audio flowing
 * (their RTCPeerConnections count the packets received), A sends a key (SIP INFO, the node answers
 * 200), holds and resumes (re-INVITE), hangs up, and both are back on the dial pad with the call
 * in Recent calls. Then a blind transfer: A calls B again, B presses Transfer, a number that is no
 * extension fails (the call stays up, the screen says why), then B picks 102 from the directory:
 * C (a third portal user in a second Chromium whose microphone plays 880 Hz) answers, B's screen
 * says the call was transferred and is back on the dial pad, A never left "Connected" and now hears
 * C's 880 Hz tone (and C hears A's 440 Hz), with both RTCPeerConnections' inbound packets growing.
 * (Packets alone prove little there: the stream from C arrives with a new SSRC that Chromium counts
 * but does not play until the softphone's re-INVITE; the tone is what shows A hears C.)
 *
 * Attended transfer and message-waiting, on a PBX of their own (consultAndVoicemail): Ann calls
 * Ben, Ben consults (Ann on hold) Cleo, who declines, then a voicemail box the node cannot join
 * (NOTIFY 481: both calls stay), cancels (Ann back), consults Cleo again, swaps and completes the
 * transfer: Ann hears Cleo's 880 Hz, Cleo Ann's 440 Hz, one call left on the node. Ann then leaves
 * Ben a voicemail; Ben's screen and header say "1 new voicemail" until he hears it at 777.
 *
 * Then desk phones, with the audio devices and voicemail: Dana (200) logs in from a Chromium that
 * gives the microphone only when told (as a browser before its user allows it), so Audio devices
 * first offers to ask, is refused, then names the fake microphones and speakers once allowed; she
 * picks a microphone and a speaker, which are remembered across a reload. She calls 201, a sipp
 * desk phone echoing RTP (startSippCallee): the call sends from the chosen microphone and plays
 * through the chosen speaker, tcpdump on loopback counts the RTP arriving at the phone's media
 * port, Dana hears her own tone back through the phone, and switching the microphone mid-call
 * (replaceTrack) keeps the phone receiving. A remembered microphone that is gone (and one unplugged
 * while the page is open: a devicechange) falls back to the default with a note. Then 202, a sipp
 * desk phone playing /usr/share/sip-tester/g711a.pcap (test/sipp/desk-caller.xml), calls Dana, who
 * answers in the page: RTP counted at the phone again, and the browser's inbound RTP. The Voicemail
 * button dials the PBX's feature code (777). A browser without setSinkId is told speaker selection
 * is not supported.
 * Screenshots at phone width go to test/artifacts/softphone/.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { MediaNode } from "../media/MediaNode.ts";
import { launchChromium, requireChromium, toneWav } from "../media/test-support/browser.ts";
import { captureRtp, hasTcpdump, type RtpCapture, type RtpCount } from "../media/test-support/rtp-capture.ts";
import { runSipp, startSippCallee } from "../media/test-support/sipp.ts";
import { VoicemailStore } from "../media/voicemail/VoicemailStore.ts";
import { newVoicemailsText, parseMessageSummary } from "../pwa/src/phone/mwi.ts";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../scripts/lib/edge.ts";
import { freePort } from "../scripts/lib/net.ts";
import { eventually, PortalClient } from "./support/portal-client.ts";

const ARTIFACTS = resolve(import.meta.dirname, "artifacts/softphone");
const PHONE = { width: 360, height: 640 };
const PASSWORD = "softphone user 2026";
/** RTP packets (50 a second) each side must have received before the call counts as carrying audio. */
const MIN_PACKETS = 100;

let dir: string;
let edge: RunningEdge;
let node: MediaNode;
let browser: Browser;
/** Carol's Chromium: its fake microphone plays 880 Hz, so Alice can tell whom she hears. */
let browser880: Browser;
/** Dana's Chromium: no fake permission prompt, so the microphone is the page's only once granted. */
let browserAsk: Browser;
const contexts: BrowserContext[] = [];
const pageLog: string[] = [];

before(async () => {
  requireChromium();
  dir = await mkdtemp(join(tmpdir(), "edgepbx-softphone-"));
  await mkdir(ARTIFACTS, { recursive: true });
  const wsPort = await freePort();
  edge = await startEdge({
    port: await freePort(),
    persistDir: join(dir, "edge"),
    vars: { SIP_WS_URL: `ws://127.0.0.1:${wsPort}` },
  });
  node = await MediaNode.start({
    edgeUrl: edge.url,
    nodeId: "media-softphone-test",
    token: devMediaNodeToken(),
    stateDir: join(dir, "media"),
    sip: { host: "127.0.0.1", udpPort: 0, tcpPort: 0, wsPort },
    media: { ip: "127.0.0.1", rtpPorts: { min: 42000, max: 42999 }, workers: 1 },
  });
  const wav = join(dir, "tone-440.wav");
  await writeFile(wav, toneWav(440, 1));
  const wav880 = join(dir, "tone-880.wav");
  await writeFile(wav880, toneWav(880, 1));
  browser = await launchChromium({ fakeAudioFile: wav });
  browser880 = await launchChromium({ fakeAudioFile: wav880 });
  browserAsk = await launchChromium({ fakeAudioFile: wav, askForMicrophone: true });
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await browser880?.close();
  await browserAsk?.close();
  await node?.stop();
  await edge?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * A phone-sized portal window logged in as `email`, on the Phone screen, registered. `microphone:
 * false`: the page may not use the microphone until its context grants it. `init` runs in the page
 * before the portal's scripts.
 */
async function openPhone(
  name: string,
  email: string,
  on: Browser = browser,
  options: { microphone?: boolean; init?: () => void } = {},
): Promise<Page> {
  const context = await on.newContext({
    viewport: PHONE,
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    permissions: options.microphone === false ? [] : ["microphone"],
  });
  contexts.push(context);
  if (options.init) await context.addInitScript(options.init);
  const page = await context.newPage();
  page.on("pageerror", (error) => pageLog.push(`${name} pageerror: ${error.message}`));
  page.on("console", (msg) => pageLog.push(`${name} [${msg.type()}] ${msg.text()}`));
  await page.goto(`${edge.url}/#/phone`);
  await page.getByRole("heading", { name: "Log in to the Management Portal" }).waitFor();
  await page.getByLabel("Email (username)").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  // The header offers Phone to a user with an extension; the login's "next" brings them there.
  await page.getByRole("link", { name: "Phone" }).waitFor();
  await page.getByRole("heading", { name: /^Phone/ }).waitFor();
  await page.locator('.registration[data-state="registered"]').waitFor({ timeout: 15_000 });
  return page;
}

/** The Administrator links Bob to 101 under My Admin → Portal Users; a wrong number first. */
async function linkInPortal(adminEmail: string, bobEmail: string): Promise<void> {
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (error) => pageLog.push(`admin pageerror: ${error.message}`));
  await page.goto(`${edge.url}/#/admin/users`);
  await page.getByLabel("Email (username)").fill(adminEmail);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Portal Users" }).waitFor();
  await page.getByRole("link", { name: new RegExp(bobEmail.replace(/\./g, "\\.")) }).click();
  await page.getByRole("group", { name: "Softphone" }).waitFor();
  await page.getByLabel("PBX").selectOption({ label: "Remote Office" });
  await page.getByLabel("Extension").fill("555");
  await page.getByRole("button", { name: "Save" }).click();
  // The edge's answer beside the field; what was typed stays.
  await page
    .locator(".field.has-error")
    .filter({ has: page.getByLabel("Extension") })
    .getByText("is not an extension of that PBX")
    .waitFor();
  await page.getByLabel("Extension").fill("101");
  await shot(page, "00-portal-user-softphone");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("heading", { name: "Portal Users" }).waitFor();
  await context.close();
}

/** The strongest frequency in what the page's remote-audio element plays (a WebAudio analyser). */
async function heardTone(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const element = document.getElementById("phone-remote-audio") as HTMLAudioElement | null;
    const stream = element?.srcObject;
    if (!(stream instanceof MediaStream)) return 0;
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 8192;
    context.createMediaStreamSource(stream).connect(analyser);
    await context.resume();
    await new Promise((r) => setTimeout(r, 600));
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    let peak = 1;
    for (let i = 1; i < bins.length; i++) if ((bins[i] ?? -Infinity) > (bins[peak] ?? -Infinity)) peak = i;
    await context.close();
    return (peak * context.sampleRate) / analyser.fftSize;
  });
}

async function shot(page: Page, name: string): Promise<void> {
  // Full page, with the sticky Save bar in its place rather than over the middle of the form.
  await page.screenshot({
    path: join(ARTIFACTS, `${name}-phone.png`),
    fullPage: true,
    style: ".actions.sticky { position: static; }",
  });
}

/** RTP packets the page's call has received so far (its RTCPeerConnection's inbound-rtp, shown by the call screen). */
async function packetsReceived(page: Page): Promise<number> {
  return Number((await page.locator(".audio-flow").getAttribute("data-packets")) ?? 0);
}

test("two portal users call each other from the Phone screen through the media node", async () => {
  try {
    await callEachOther();
  } catch (error) {
    console.log(pageLog.slice(-60).join("\n"));
    throw error;
  }
});

async function callEachOther(): Promise<void> {
  const admin = await PortalClient.register(edge.url, "softphone-admin");
  const { pbx } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Remote Office" });
  const base = `/api/pbxs/${pbx.id}`;
  await admin.expect(201, "POST", `${base}/extensions`, { number: "100", name: "Alice" });
  await admin.expect(201, "POST", `${base}/extensions`, { number: "101", name: "Bob" });
  await admin.expect(201, "POST", `${base}/extensions`, { number: "102", name: "Carol" });
  const { version } = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
  await eventually("the version live on the node", async () => node.directory.get(pbx.id)?.version === version);

  const stamp = Date.now().toString(36);
  const users: Record<"alice" | "bob" | "carol", string> = {
    alice: `alice.${stamp}@example.test`,
    bob: `bob.${stamp}@example.test`,
    carol: `carol.${stamp}@example.test`,
  };
  // Alice is linked through the API, Bob by the Administrator on the Portal Users screen.
  const alice = await admin.expect<{ user: { softphone: unknown } }>(201, "POST", "/api/users", {
    email: users.alice,
    name: "Alice",
    password: PASSWORD,
    role: "clientUser",
    softphone: { pbxId: pbx.id, extension: "100" },
  });
  assert.deepEqual(alice.user.softphone, { pbxId: pbx.id, extension: "100" });
  const bob = await admin.expect<{ user: { id: string } }>(201, "POST", "/api/users", {
    email: users.bob,
    name: "Bob",
    password: PASSWORD,
    role: "clientUser",
  });
  const { user: me } = await admin.expect<{ user: { email: string } }>(200, "GET", "/api/me");
  await linkInPortal(me.email, users.bob);
  const linked = await admin.expect<{ user: { softphone: unknown } }>(200, "GET", `/api/users/${bob.user.id}`);
  assert.deepEqual(linked.user.softphone, { pbxId: pbx.id, extension: "101" });

  const a = await openPhone("A", users.alice);
  assert.equal(node.gateway.registrar.lookup(pbx.id, "100").length, 1, "A registered on the node");
  const b = await openPhone("B", users.bob);
  await a.getByRole("heading", { name: "Phone · 100 Alice" }).waitFor();
  await b.getByRole("heading", { name: "Phone · 101 Bob" }).waitFor();

  // The PBX's directory lists the other extension.
  await a.getByRole("button", { name: "Call Bob (101)" }).waitFor();
  // Pasted numbers are cleaned; A then dials 101 on the pad.
  await a.getByLabel("Number").fill("(10) 1-");
  assert.equal(await a.getByLabel("Number").inputValue(), "101");
  await a.getByRole("button", { name: "Delete last digit" }).click();
  await a.getByRole("button", { name: "Delete last digit" }).click();
  await a.getByRole("button", { name: "Delete last digit" }).click();
  for (const key of ["1", "0", "1"]) await a.getByRole("button", { name: key, exact: true }).click();
  assert.equal(await a.getByLabel("Number").inputValue(), "101");
  await shot(a, "01-dial-pad");
  const dialled = Date.now();
  await a.getByRole("button", { name: "Call", exact: true }).click();

  await b.getByRole("heading", { name: "Incoming call" }).waitFor({ timeout: 10_000 });
  const rang = Date.now() - dialled;
  await b.getByText("Alice (100)").waitFor();
  await b.getByRole("link", { name: "Phone · ringing" }).waitFor();
  await a.getByRole("heading", { name: "Ringing…" }).waitFor();
  await shot(b, "02-incoming-call");
  const answered = Date.now();
  await b.getByRole("button", { name: "Answer" }).click();

  for (const page of [a, b]) {
    await page.locator('.call[data-phase="active"]').waitFor({ timeout: 10_000 });
    await page.getByRole("heading", { name: "Connected" }).waitFor();
  }
  const flowing = await eventually(
    `both sides receiving ≥ ${MIN_PACKETS} RTP packets`,
    async () => {
      const counts = [await packetsReceived(a), await packetsReceived(b)];
      return counts.every((n) => n >= MIN_PACKETS) ? counts : undefined;
    },
    15_000,
  );
  const audioAfter = Date.now() - answered;
  // What each side plays through its <audio> element is the other's microphone: the 440 Hz tone.
  const tones = [await heardTone(a), await heardTone(b)];
  for (const tone of tones) assert.ok(Math.abs(tone - 440) < 15, `heard ${tone} Hz, not the 440 Hz tone`);
  assert.equal(await a.getByText("Audio is flowing").count(), 1);
  assert.match((await a.locator(".call-duration time").textContent()) ?? "", /^00:0[0-9]$/);
  await shot(a, "03-active-call");

  // A key by SIP INFO: the node answers 200.
  await a.getByRole("button", { name: "Keypad" }).click();
  await a.getByRole("button", { name: "5", exact: true }).click();
  await a.locator('.keys-sent[data-status="200"]').waitFor({ timeout: 5000 });
  assert.equal((await a.locator(".keys-sent").textContent())?.trim(), "5");
  await shot(a, "04-keypad-in-call");

  // Hold and resume by re-INVITE; the call goes on.
  await a.getByRole("button", { name: "Hold" }).click();
  await a.getByRole("heading", { name: "On hold" }).waitFor({ timeout: 5000 });
  await shot(a, "05-on-hold");
  await a.getByRole("button", { name: "Resume" }).click();
  await a.getByRole("heading", { name: "Connected" }).waitFor({ timeout: 5000 });
  const before = await packetsReceived(b);
  await eventually("B still receiving after resume", async () => (await packetsReceived(b)) > before + 20, 10_000);

  // Mute toggles without renegotiating.
  await a.getByRole("button", { name: "Mute" }).click();
  assert.equal(await a.getByRole("button", { name: "Unmute" }).getAttribute("aria-pressed"), "true");
  await a.getByRole("button", { name: "Unmute" }).click();

  await a.getByRole("button", { name: "Hang up" }).click();
  for (const page of [a, b]) {
    await page.getByRole("button", { name: "Call", exact: true }).waitFor({ timeout: 10_000 });
    await page.getByText("Call ended").waitFor();
  }
  // Both histories (IndexedDB) show the call.
  await a.locator(".call-log").getByText("↗ 101").waitFor();
  await b.locator(".call-log").getByText("↙ Alice (100)").waitFor();
  await eventually("no call left on the node", async () => (node.gateway.calls?.activeCalls ?? 0) === 0, 10_000);
  await shot(a, "06-after-call");

  const transferred = await blindTransfer(a, b, admin, pbx.id, users.carol);

  // Logging out unregisters the phone: the node no longer has a binding for 100.
  await a.getByRole("button", { name: "Log out" }).click();
  await a.getByRole("heading", { name: "Log in to the Management Portal" }).waitFor();
  await eventually(
    "100's registration removed",
    async () => node.gateway.registrar.lookup(pbx.id, "100").length === 0,
    10_000,
  );

  console.log(transferred);
  console.log(
    `softphone: heard ${tones.map((t) => t.toFixed(0)).join(" / ")} Hz; incoming call shown ${rang} ms after Call; ≥${MIN_PACKETS} packets both ways ${audioAfter} ms after Answer (A ${flowing[0]}, B ${flowing[1]} received)`,
  );
  assert.deepEqual(
    pageLog.filter((l) => l.includes("pageerror")),
    [],
  );
}

/**
 * A calls B; B transfers to a number that is no extension (refused, the call stays), then to C
 * (102) from the directory. C answers; B is back on the dial pad; A, who never left the call,
 * now hears C. Returns a line for the log.
 */
async function blindTransfer(
  a: Page,
  b: Page,
  admin: PortalClient,
  pbxId: string,
  carolEmail: string,
): Promise<string> {
  await admin.expect(201, "POST", "/api/users", {
    email: carolEmail,
    name: "Carol",
    password: PASSWORD,
    role: "clientUser",
    softphone: { pbxId, extension: "102" },
  });
  const c = await openPhone("C", carolEmail, browser880);
  await c.getByRole("heading", { name: "Phone · 102 Carol" }).waitFor();

  await a.getByRole("button", { name: "Call Bob (101)" }).click();
  await b.getByRole("heading", { name: "Incoming call" }).waitFor({ timeout: 10_000 });
  await b.getByRole("button", { name: "Answer" }).click();
  for (const page of [a, b]) await page.getByRole("heading", { name: "Connected" }).waitFor({ timeout: 10_000 });
  await eventually("A hears B", async () => ((await packetsReceived(a)) >= 50 ? true : undefined), 15_000);
  assert.ok(Math.abs((await heardTone(a)) - 440) < 15, "A hears B's 440 Hz before the transfer");

  // Transfer opens a pad and the directory; a number that is no extension is refused.
  const transferButton = b.getByRole("button", { name: "Transfer", exact: true });
  const transferBox = await transferButton.boundingBox();
  assert.ok(transferBox && transferBox.height >= 44 && transferBox.width >= 44, "Transfer is a 44 px target");
  await transferButton.click();
  assert.equal(await transferButton.getAttribute("aria-expanded"), "true");
  await b.getByRole("heading", { name: "Transfer Alice (100)" }).waitFor();
  const directoryButton = b.getByRole("button", { name: "Transfer to Carol (102)" });
  const box = await directoryButton.boundingBox();
  assert.ok(box && box.height >= 44 && box.width >= 44, `directory Transfer button ${JSON.stringify(box)}`);
  for (const key of ["5", "5", "5"]) await b.getByRole("button", { name: key, exact: true }).click();
  assert.equal(await b.getByLabel("Transfer to", { exact: true }).inputValue(), "555");
  await shot(b, "07-transfer-picker");
  await b.getByRole("button", { name: "Transfer now" }).click();
  const failed = b.getByRole("alert").filter({ hasText: "Transfer failed" });
  await failed.waitFor({ timeout: 10_000 });
  const failure = ((await failed.locator("p").textContent()) ?? "").trim();
  assert.match(failure, /^Transfer failed: [3-6]\d\d .+\. You are still in the call\.$/);
  await shot(b, "08-transfer-failed");
  for (const page of [a, b]) assert.equal(await page.getByRole("heading", { name: "Connected" }).count(), 1);
  const stillB = await packetsReceived(b);
  await eventually(
    "B still hears A after the refused transfer",
    async () => (await packetsReceived(b)) > stillB + 20,
    10_000,
  );
  await b.getByRole("button", { name: "Back to the call" }).click();

  // Now to Carol, from the directory: the NOTIFYs say Transferring, then Transferred; the node's BYE ends B's call.
  await b.getByRole("button", { name: "Transfer to Carol (102)" }).click();
  await b.getByText("Transferring to 102…").waitFor({ timeout: 5000 });
  await shot(b, "09-transferring");
  await c.getByRole("heading", { name: "Incoming call" }).waitFor({ timeout: 10_000 });
  const transferAnswered = Date.now();
  await c.getByRole("button", { name: "Answer" }).click();
  await b.getByText("Call transferred to 102").waitFor({ timeout: 10_000 });
  await b.getByRole("button", { name: "Call", exact: true }).waitFor();
  assert.equal(await b.locator(".call").count(), 0, "B is back on the dial pad");
  await b.locator(".call-log").getByText("↙ Alice (100)").first().waitFor();
  await shot(b, "10-transferred");

  // A never left the call; what A receives now comes from C, and C hears A.
  await c.getByRole("heading", { name: "Connected" }).waitFor({ timeout: 10_000 });
  assert.equal(await a.getByRole("heading", { name: "Connected" }).count(), 1);
  const aBefore = await packetsReceived(a);
  const counts = await eventually(
    "A's and C's inbound RTP growing after the transfer",
    async () => {
      const [atA, atC] = [await packetsReceived(a), await packetsReceived(c)];
      return atA > aBefore + MIN_PACKETS && atC >= MIN_PACKETS ? [atA, atC] : undefined;
    },
    15_000,
  );
  const audioAfter = Date.now() - transferAnswered;
  // The node gives A's leg a new SSRC; the softphone notices and re-INVITEs so Chromium plays it.
  let aHears = 0;
  await eventually(
    "A hearing C's 880 Hz tone",
    async () => {
      aHears = await heardTone(a);
      return Math.abs(aHears - 880) < 15;
    },
    10_000,
  ).catch(() => assert.fail(`A hears ${aHears} Hz, not C's 880 Hz tone`));
  const cHears = await heardTone(c);
  assert.ok(Math.abs(cHears - 440) < 15, `C hears ${cHears} Hz, not A's 440 Hz tone`);
  assert.equal(node.gateway.calls?.activeCalls, 1);
  await shot(c, "11-transfer-target-in-call");

  await a.getByRole("button", { name: "Hang up" }).click();
  for (const page of [a, c]) await page.getByText("Call ended").waitFor({ timeout: 10_000 });
  await eventually("no call left on the node", async () => (node.gateway.calls?.activeCalls ?? 0) === 0, 10_000);
  return `transfer: refused first (${failure}); after C answered A heard ${aHears.toFixed(0)} Hz and C ${cHears.toFixed(0)} Hz; A received ${counts[0]} packets (${aBefore} before), C ${counts[1]}; ≥${MIN_PACKETS} new packets at A ${audioAfter} ms after C's Answer`;
}

test("message-summary bodies: new/old counts, Messages-Waiting alone, nothing usable", () => {
  const body = "Messages-Waiting: yes\r\nMessage-Account: sip:301@pbx.test\r\nVoice-Message: 2/1 (0/0)\r\n";
  assert.deepEqual(parseMessageSummary(body), { new: 2, old: 1 });
  assert.deepEqual(parseMessageSummary("Messages-Waiting: no\r\nVoice-Message: 0/3 (0/0)\r\n"), { new: 0, old: 3 });
  assert.deepEqual(parseMessageSummary("messages-waiting:yes\r\n"), { new: 1, old: 0 });
  assert.deepEqual(parseMessageSummary("Messages-Waiting: no\r\n"), { new: 0, old: 0 });
  assert.equal(parseMessageSummary("SIP/2.0 200 OK\r\n"), null);
  assert.equal(newVoicemailsText(1), "1 new voicemail");
  assert.equal(newVoicemailsText(2), "2 new voicemails");
});

test("attended transfer from the Phone screen (consult, swap, cancel, complete) and the voicemail indicator", async () => {
  try {
    await consultAndVoicemail();
  } catch (error) {
    console.log(pageLog.slice(-80).join("\n"));
    throw error;
  }
});

/**
 * Listens to the page's remote audio until `hz` is the strongest frequency for 150 ms (a beep);
 * returns how long that took in ms.
 */
async function untilTone(page: Page, hz: number, ms: number): Promise<number> {
  const took = await page.evaluate(
    async ({ hz, ms }) => {
      const element = document.getElementById("phone-remote-audio") as HTMLAudioElement | null;
      const stream = element?.srcObject;
      if (!(stream instanceof MediaStream)) return -1;
      const context = new AudioContext();
      const analyser = context.createAnalyser();
      analyser.fftSize = 4096;
      analyser.smoothingTimeConstant = 0;
      context.createMediaStreamSource(stream).connect(analyser);
      await context.resume();
      const bins = new Float32Array(analyser.frequencyBinCount);
      const started = performance.now();
      let run = 0;
      while (performance.now() - started < ms) {
        await new Promise((r) => setTimeout(r, 50));
        analyser.getFloatFrequencyData(bins);
        let peak = 1;
        for (let i = 1; i < bins.length; i++) if ((bins[i] ?? -Infinity) > (bins[peak] ?? -Infinity)) peak = i;
        const heard = (peak * context.sampleRate) / analyser.fftSize;
        run = Math.abs(heard - hz) < 15 ? run + 1 : 0;
        if (run >= 3) break;
      }
      await context.close();
      return run >= 3 ? Math.round(performance.now() - started) : -1;
    },
    { hz, ms },
  );
  assert.ok(took >= 0, `no ${hz} Hz tone within ${ms} ms`);
  return took;
}

/** The frequency a page hears, retried until it is `hz` (the far end's tone); fails with what it heard. */
async function hears(page: Page, who: string, hz: number): Promise<number> {
  let heard = 0;
  await eventually(
    `${who} hearing ${hz} Hz`,
    async () => {
      heard = await heardTone(page);
      return Math.abs(heard - hz) < 15;
    },
    10_000,
  ).catch(() => assert.fail(`${who} hears ${heard.toFixed(0)} Hz, not ${hz} Hz`));
  return heard;
}

/**
 * Ann (300) calls Ben (301). Ben consults Cleo (302), who declines: Ann stays on hold and Ben is
 * told. Ben consults 303, a voicemail box with no phone: the node answers it itself, so it cannot
 * join it to Ann's call (NOTIFY 481): both calls stay and Ben is told; Cancel hangs the
 * consultation up and Ann is back. Ben consults Cleo again, who answers: both calls on the
 * screen, Ben hears Cleo (880 Hz), swaps to Ann and back, completes the transfer: his screen says
 * so, Ann (who never left) hears Cleo and Cleo hears Ann, one call left on the node. Then Ann calls
 * Ben, who declines: Ann leaves a message on Ben's voicemail, and Ben's Phone screen and header
 * say "1 new voicemail"; Ben hears it at 777 (PIN 1234#, 1) and the indicator goes.
 */
async function consultAndVoicemail(): Promise<void> {
  const admin = await PortalClient.register(edge.url, "consult-admin");
  const { pbx } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Branch Office" });
  const base = `/api/pbxs/${pbx.id}`;
  await admin.expect(201, "POST", `${base}/extensions`, { number: "300", name: "Ann" });
  await admin.expect(201, "POST", `${base}/extensions`, {
    number: "301",
    name: "Ben",
    voicemail: { enabled: true, pin: "1234" },
  });
  await admin.expect(201, "POST", `${base}/extensions`, { number: "302", name: "Cleo" });
  await admin.expect(201, "POST", `${base}/extensions`, {
    number: "303",
    name: "Dora",
    voicemail: { enabled: true, pin: "4321" },
  });
  const { version } = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
  await eventually("the version live on the node", async () => node.directory.get(pbx.id)?.version === version);
  const stamp = Date.now().toString(36);
  const emails = {
    ann: `ann.${stamp}@example.test`,
    ben: `ben.${stamp}@example.test`,
    cleo: `cleo.${stamp}@example.test`,
  };
  for (const [who, extension] of [
    ["ann", "300"],
    ["ben", "301"],
    ["cleo", "302"],
  ] as const)
    await admin.expect(201, "POST", "/api/users", {
      email: emails[who],
      name: who,
      password: PASSWORD,
      role: "clientUser",
      softphone: { pbxId: pbx.id, extension },
    });
  const a = await openPhone("Ann", emails.ann);
  const b = await openPhone("Ben", emails.ben);
  const c = await openPhone("Cleo", emails.cleo, browser880);
  const calls = () => node.gateway.calls?.activeCalls ?? 0;

  await a.getByRole("button", { name: "Call Ben (301)" }).click();
  await b.getByRole("heading", { name: "Incoming call" }).waitFor({ timeout: 10_000 });
  await b.getByRole("button", { name: "Answer" }).click();
  for (const page of [a, b]) await page.getByRole("heading", { name: "Connected" }).waitFor({ timeout: 10_000 });
  await hears(a, "Ann", 440);

  // ---- Consult Cleo, who declines: Ann stays on hold, Ben is told ----
  const consultButton = b.getByRole("button", { name: "Consult", exact: true });
  await assertTarget("Consult", consultButton);
  await consultButton.click();
  await b.getByRole("heading", { name: "Consult before transferring Ann (300)" }).waitFor();
  await assertTarget("directory Consult", b.getByRole("button", { name: "Consult Cleo (302)" }));
  await shot(b, "17-consult-picker");
  await b.getByRole("button", { name: "Consult Cleo (302)" }).click();
  await b.getByRole("heading", { name: "Consultation" }).waitFor({ timeout: 5000 });
  await b.locator('.line[data-line="call"][data-held="true"]').waitFor();
  await c.getByRole("heading", { name: "Incoming call" }).waitFor({ timeout: 10_000 });
  await c.getByText("Ben (301)").waitFor();
  await b.locator('.line[data-line="consultation"][data-phase="ringing"]').waitFor({ timeout: 5000 });
  // Ann on hold hears nothing of Ben's tone.
  const onHold = await heardTone(a);
  assert.ok(Math.abs(onHold - 440) >= 15, `Ann on hold still hears Ben's 440 Hz (${onHold} Hz)`);
  await c.getByRole("button", { name: "Decline" }).click();
  const declined = b.locator(".call-note").filter({ hasText: "Cleo (302) did not answer (603" });
  await declined.waitFor({ timeout: 10_000 });
  const declinedText = ((await declined.textContent()) ?? "").trim();
  assert.match(declinedText, /^Cleo \(302\) did not answer \(603 [^)]+\)\. Ann \(300\) is on hold\.$/);
  await b.getByRole("heading", { name: "On hold" }).waitFor();
  assert.equal(await a.getByRole("heading", { name: "Connected" }).count(), 1, "Ann is still in the call");
  await shot(b, "18-consult-not-answered");

  // ---- Consult 303 (a voicemail box, no phone): the node cannot join it; NOTIFY 481, both calls stay ----
  await consultButton.click();
  await b.getByLabel("Consult", { exact: true }).fill("303");
  await b.getByRole("button", { name: "Call to consult" }).click();
  await b.locator('.line[data-line="consultation"][data-phase="active"]').waitFor({ timeout: 10_000 });
  await b.getByRole("button", { name: "Complete transfer" }).click();
  const failed = b.getByRole("alert").filter({ hasText: "Transfer failed" });
  await failed.waitFor({ timeout: 10_000 });
  const failure = ((await failed.locator("p").textContent()) ?? "").trim();
  assert.match(failure, /^Transfer failed: 481 .+\. You still have both calls\.$/);
  assert.equal(await b.locator(".lines .line").count(), 2, "both calls are still on the screen");
  await shot(b, "19-consult-transfer-failed");
  await b.getByRole("button", { name: "Back to the calls" }).click();
  // Cancel: the consultation hangs up and Ann is back (resumed: she hears Ben again).
  const cancel = b.getByRole("button", { name: "Cancel", exact: true });
  await assertTarget("Cancel", cancel);
  await cancel.click();
  await b.getByRole("heading", { name: "Connected" }).waitFor({ timeout: 10_000 });
  assert.equal(await b.getByText("Ann (300)").count(), 1);
  await hears(a, "Ann after Cancel", 440);
  await hears(b, "Ben after Cancel", 440);
  await eventually("the consultation gone from the node", async () => calls() === 1, 10_000);

  // ---- Consult Cleo, who answers: two calls; swap; complete the transfer ----
  await consultButton.click();
  await b.getByRole("button", { name: "Consult Cleo (302)" }).click();
  await c.getByRole("heading", { name: "Incoming call" }).waitFor({ timeout: 10_000 });
  await c.getByRole("button", { name: "Answer" }).click();
  await b.locator('.line[data-line="consultation"][data-phase="active"]').waitFor({ timeout: 10_000 });
  await c.getByRole("heading", { name: "Connected" }).waitFor({ timeout: 10_000 });
  assert.equal(calls(), 2);
  const benHearsCleo = await hears(b, "Ben consulting Cleo", 880);
  await hears(c, "Cleo consulted by Ben", 440);
  await b.locator(".audio-flow").filter({ hasText: "Talking with Cleo (302)" }).waitFor({ timeout: 5000 });
  const complete = b.getByRole("button", { name: "Complete transfer" });
  const swap = b.getByRole("button", { name: "Swap to Ann (300)" });
  for (const [what, target] of [
    ["Complete transfer", complete],
    ["Swap", swap],
  ] as const)
    await assertTarget(what, target);
  await shot(b, "20-consultation-two-calls");
  // Swap: Cleo waits, Ben talks with Ann (her 440 Hz); then back to Cleo.
  await swap.click();
  await b.locator('.line.focus[data-line="call"]').waitFor({ timeout: 5000 });
  await b.locator('.line[data-line="consultation"][data-held="true"]').waitFor();
  await hears(b, "Ben swapped to Ann", 440);
  await shot(b, "21-consultation-swapped");
  await b.getByRole("button", { name: "Swap to Cleo (302)" }).click();
  await b.locator('.line.focus[data-line="consultation"]').waitFor({ timeout: 5000 });
  await hears(b, "Ben back with Cleo", 880);

  const completed = Date.now();
  await complete.click();
  await b.getByText("Call transferred to Cleo (302)").waitFor({ timeout: 10_000 });
  const transferTook = Date.now() - completed;
  await b.getByRole("button", { name: "Call", exact: true }).waitFor();
  assert.equal(await b.locator(".call").count(), 0, "Ben is back on the dial pad");
  // Ben's history has both calls.
  await b.locator(".call-log").getByText("↙ Ann (300)").first().waitFor();
  await b.locator(".call-log").getByText("↗ Cleo (302)").first().waitFor();
  await shot(b, "22-attended-transferred");
  // Ann never left; she now hears Cleo, and Cleo hears her; one call left on the node.
  assert.equal(await a.getByRole("heading", { name: "Connected" }).count(), 1);
  assert.equal(await c.getByRole("heading", { name: "Connected" }).count(), 1);
  const annHears = await hears(a, "Ann after the transfer", 880);
  const cleoHears = await hears(c, "Cleo after the transfer", 440);
  await eventually("one call left on the node", async () => calls() === 1, 10_000);
  const aBefore = await packetsReceived(a);
  await eventually("Ann's inbound RTP growing", async () => (await packetsReceived(a)) > aBefore + 50, 10_000);
  await a.getByRole("button", { name: "Hang up" }).click();
  for (const page of [a, c]) await page.getByText("Call ended").waitFor({ timeout: 10_000 });
  await eventually("no call left on the node", async () => calls() === 0, 10_000);

  // ---- Message-waiting: Ann leaves Ben a voicemail ----
  // Ben's box is empty: registering brought a NOTIFY saying so, and nothing shows.
  assert.equal(await b.locator(".mwi").count(), 0, "no indicator for an empty box");
  await a.getByRole("button", { name: "Call Ben (301)" }).click();
  await b.getByRole("heading", { name: "Incoming call" }).waitFor({ timeout: 10_000 });
  await b.getByRole("button", { name: "Decline" }).click();
  // The voicemail answers Ann: the greeting and the beep (1000 Hz), then Ann's 440 Hz is the message.
  await a.getByRole("heading", { name: "Connected" }).waitFor({ timeout: 10_000 });
  const greeting = await untilTone(a, 1000, 15_000);
  await new Promise((r) => setTimeout(r, 2500));
  await a.getByRole("button", { name: "Hang up" }).click();
  await a.getByText("Call ended").waitFor({ timeout: 10_000 });
  const left = Date.now();
  const indicator = b.locator(".voicemail-button .mwi");
  await indicator.filter({ hasText: "1 new voicemail" }).waitFor({ timeout: 10_000 });
  const indicatorAfter = Date.now() - left;
  await b.getByRole("link", { name: "Phone (1 new voicemail)" }).waitFor();
  const box = await new VoicemailStore(join(dir, "media", "voicemail")).list(pbx.id, "301");
  assert.equal(box.new.length, 1, "one new message in Ben's box");
  const seconds = (box.new[0]?.durationMs ?? 0) / 1000;
  assert.ok(seconds >= 1.5, `the message lasts ${seconds} s`);
  await assertTarget("Voicemail", b.getByRole("button", { name: /^Voicemail/ }));
  await shot(b, "23-voicemail-waiting");

  // Ben hears it at 777 (PIN 1234#, then 1): it is saved, the indicator goes, "1 saved" stays small.
  await b.getByRole("button", { name: /^Voicemail/ }).click();
  await b.getByRole("heading", { name: "Connected" }).waitFor({ timeout: 10_000 });
  await b.getByRole("button", { name: "Keypad" }).click();
  await new Promise((r) => setTimeout(r, 1000));
  for (const key of ["1", "2", "3", "4", "#"]) {
    await b.getByRole("button", { name: key, exact: true }).click();
    await b.locator('.keys-sent[data-status="200"]').waitFor({ timeout: 5000 });
  }
  // The menu comes once the PIN is taken: 1 hears the messages.
  await new Promise((r) => setTimeout(r, 2500));
  await b.getByRole("link", { name: "Phone · in call (1 new voicemail)" }).waitFor();
  await b.getByRole("button", { name: "1", exact: true }).click();
  // Once heard, the message is saved: the node's NOTIFY takes the count off the header.
  await b.getByRole("link", { name: "Phone · in call", exact: true }).waitFor({ timeout: 30_000 });
  await b.getByRole("button", { name: "Hang up" }).click();
  await b.getByText("Call ended").waitFor({ timeout: 10_000 });
  await b.locator(".voicemail-button .mwi-saved").filter({ hasText: "1 saved" }).waitFor();
  assert.equal(await indicator.count(), 0, "no new voicemail shown");
  assert.equal(await b.getByRole("link", { name: "Phone", exact: true }).count(), 1, "the header's count went");
  await shot(b, "24-voicemail-heard");
  await eventually("no call left on the node", async () => calls() === 0, 10_000);

  console.log(
    `attended transfer: refused by the node when consulting a voicemail box (${failure}); after Complete transfer Ben back on the dial pad in ${transferTook} ms, Ann heard ${annHears.toFixed(0)} Hz and Cleo ${cleoHears.toFixed(0)} Hz (Ben heard Cleo ${benHearsCleo.toFixed(0)} Hz while consulting, Ann on hold ${onHold.toFixed(0)} Hz); voicemail: the beep ${greeting} ms after the voicemail answered, a ${seconds.toFixed(1)} s message, "1 new voicemail" on Ben's screen ${indicatorAfter} ms after Ann hung up`,
  );
  assert.deepEqual(
    pageLog.filter((l) => l.includes("pageerror")),
    [],
  );
}

test("desk phones: the softphone calls a sipp phone and takes its call, on the audio devices chosen; Voicemail dials 777", async () => {
  assert.ok(await hasTcpdump(), "tcpdump is missing: apt-get install tcpdump (npm test's pretest installs it)");
  try {
    await deskPhones();
  } catch (error) {
    console.log(pageLog.slice(-60).join("\n"));
    throw error;
  }
});

/** 44 px or more both ways (WCAG target size, as the rest of the Phone screen). */
async function assertTarget(what: string, locator: ReturnType<Page["locator"]>): Promise<void> {
  const box = await locator.boundingBox();
  assert.ok(box && box.height >= 44 && box.width >= 44, `${what} is a 44 px target: ${JSON.stringify(box)}`);
}

/** The option labels of a select, in order. */
function optionLabels(page: Page, label: string): Promise<string[]> {
  return page
    .getByLabel(label, { exact: true })
    .locator("option")
    .evaluateAll((options) => options.map((o) => (o.textContent ?? "").trim()));
}

/** Waits until a capture at a phone's media port holds `min` RTP packets, and returns its count. */
function phoneReceived(capture: RtpCapture, min: number, what: string): Promise<RtpCount> {
  return eventually(
    `${what}: ≥ ${min} RTP packets at the desk phone`,
    async () => {
      const count = await capture.count();
      return count.packets >= min ? count : undefined;
    },
    15_000,
  );
}

async function deskPhones(): Promise<void> {
  const admin = await PortalClient.register(edge.url, "desk-admin");
  const { pbx } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Desk Office" });
  const base = `/api/pbxs/${pbx.id}`;
  const passwords = { "201": "desk-phone-201-pass", "202": "desk-phone-202-pass" };
  await admin.expect(201, "POST", `${base}/extensions`, { number: "200", name: "Dana" });
  await admin.expect(201, "POST", `${base}/extensions`, {
    number: "201",
    name: "Lobby",
    sipPassword: passwords["201"],
  });
  await admin.expect(201, "POST", `${base}/extensions`, {
    number: "202",
    name: "Front Desk",
    sipPassword: passwords["202"],
  });
  const { version } = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
  await eventually("the version live on the node", async () => node.directory.get(pbx.id)?.version === version);
  const domain = node.directory.get(pbx.id)?.config.settings.sipDomain ?? "";
  const server = { host: "127.0.0.1", port: node.gateway.transports.udp.local.port };
  const dana = `dana.${Date.now().toString(36)}@example.test`;
  await admin.expect(201, "POST", "/api/users", {
    email: dana,
    name: "Dana",
    password: PASSWORD,
    role: "clientUser",
    softphone: { pbxId: pbx.id, extension: "200" },
  });

  // ---- Audio devices: names only once the microphone is allowed ----
  const d = await openPhone("D", dana, browserAsk, { microphone: false });
  await d.getByRole("heading", { name: "Phone · 200 Dana" }).waitFor();
  const summary = d.locator(".devices > summary");
  await assertTarget("Audio devices", summary);
  assert.equal(await d.getByLabel("Microphone", { exact: true }).isVisible(), false, "Audio devices starts folded");
  await summary.click();
  const allow = d.getByRole("button", { name: "Allow microphone to list devices" });
  await allow.waitFor();
  assert.deepEqual(
    await optionLabels(d, "Microphone"),
    ["Default"],
    "no device names before the microphone is allowed",
  );
  await shot(d, "12-audio-devices-not-allowed");
  // The browser says no first (nothing granted), then the user allows the microphone.
  await allow.click();
  await d.getByRole("alert").filter({ hasText: "The browser did not allow the microphone" }).waitFor();
  await d.context().grantPermissions(["microphone"], { origin: edge.url });
  await allow.click();
  await allow.waitFor({ state: "detached" });
  const microphones = await optionLabels(d, "Microphone");
  assert.deepEqual(microphones, ["Default", "Fake Audio Input 1", "Fake Audio Input 2"]);
  assert.deepEqual(await optionLabels(d, "Speaker"), ["Default", "Fake Audio Output 1", "Fake Audio Output 2"]);
  for (const label of ["Microphone", "Speaker"]) await assertTarget(label, d.getByLabel(label, { exact: true }));
  await d.getByLabel("Microphone", { exact: true }).selectOption({ label: "Fake Audio Input 2" });
  await d.getByLabel("Speaker", { exact: true }).selectOption({ label: "Fake Audio Output 1" });
  await shot(d, "13-audio-devices");

  // Remembered in this browser: after a reload (the phone registers again) the same devices.
  await d.reload();
  await d.locator('.registration[data-state="registered"]').waitFor({ timeout: 15_000 });
  await d.locator(".devices > summary").click();
  const chosen = async (label: string) =>
    d
      .getByLabel(label, { exact: true })
      .evaluate((select: HTMLSelectElement) => select.selectedOptions[0]?.textContent ?? "");
  await eventually(
    "the remembered microphone selected",
    async () => (await chosen("Microphone")) === "Fake Audio Input 2",
  );
  assert.equal(await chosen("Speaker"), "Fake Audio Output 1");
  const speakerId = await d.getByLabel("Speaker", { exact: true }).inputValue();

  // ---- Dana calls 201, a sipp desk phone echoing what it gets ----
  const callee = await startSippCallee({ server, domain, extension: "201", password: passwords["201"] });
  const atDesk = await captureRtp(callee.mediaPort);
  await d.getByLabel("Number").fill("201");
  await d.getByRole("button", { name: "Call", exact: true }).click();
  await d.getByRole("heading", { name: "Connected" }).waitFor({ timeout: 10_000 });
  // The call sends from the chosen microphone and plays through the chosen speaker.
  await d.locator('.call-microphone[data-label="Fake Audio Input 2"]').waitFor({ timeout: 5000 });
  const sinkId = await d.evaluate(() => (document.getElementById("phone-remote-audio") as HTMLAudioElement).sinkId);
  assert.equal(sinkId, speakerId, "the remote audio plays through the chosen speaker");
  const before = await phoneReceived(atDesk, MIN_PACKETS, "Dana → 201");
  await eventually(
    "Dana receiving the echo",
    async () => ((await packetsReceived(d)) >= MIN_PACKETS ? true : undefined),
    15_000,
  );
  // What comes back is the desk phone's echo of Dana's own microphone: her 440 Hz tone.
  const echo = await heardTone(d);
  assert.ok(Math.abs(echo - 440) < 15, `Dana hears ${echo} Hz back from the desk phone, not her 440 Hz tone`);
  await shot(d, "14-desk-phone-call");

  // A new microphone mid-call: the sender's track is replaced, the phone keeps receiving.
  const switched = (await atDesk.count()).packets;
  await d.getByLabel("Microphone", { exact: true }).selectOption({ label: "Fake Audio Input 1" });
  await d.locator('.call-microphone[data-label="Fake Audio Input 1"]').waitFor({ timeout: 5000 });
  const afterSwitch = await phoneReceived(atDesk, switched + MIN_PACKETS, "after the microphone switch");
  assert.equal(await d.getByRole("alert").count(), 0, "no problem switching");
  await d.getByRole("button", { name: "Hang up" }).click();
  await d.getByText("Call ended").waitFor({ timeout: 10_000 });
  const outbound = await atDesk.stop();
  assert.equal(await callee.exited, 0, "the desk phone saw the whole call (INVITE … BYE)");
  assert.ok(outbound.packets >= afterSwitch.packets);
  assert.ok((outbound.payloadTypes[8] ?? 0) >= 2 * MIN_PACKETS, `PCMA at the desk phone: ${JSON.stringify(outbound)}`);

  // ---- A remembered microphone that is gone: the default, with a note ----
  await d.evaluate(() =>
    localStorage.setItem(
      "edgepbx.phone.devices",
      JSON.stringify({ microphone: { id: "unplugged-usb-headset", label: "USB Headset" } }),
    ),
  );
  await d.reload();
  await d.locator('.registration[data-state="registered"]').waitFor({ timeout: 15_000 });
  const gone = d.locator(".device-missing");
  await gone.filter({ hasText: "The microphone you chose (USB Headset) is not connected" }).waitFor();
  await d.locator(".devices > summary").click();
  assert.equal(await chosen("Microphone"), "Default");
  await shot(d, "15-device-missing");
  // Choosing again clears the note; unplugging it while the page is open (devicechange) brings it back.
  await d.getByLabel("Microphone", { exact: true }).selectOption({ label: "Fake Audio Input 2" });
  await gone.waitFor({ state: "detached" });
  // No real device can be unplugged here: the page's list loses it and the browser's event fires.
  await d.evaluate(() => {
    const media = navigator.mediaDevices;
    const real = media.enumerateDevices.bind(media);
    (window as unknown as { restoreDevices: () => void }).restoreDevices = () => {
      media.enumerateDevices = real;
      media.dispatchEvent(new Event("devicechange"));
    };
    media.enumerateDevices = async () => (await real()).filter((x) => x.label !== "Fake Audio Input 2");
    media.dispatchEvent(new Event("devicechange"));
  });
  await gone.filter({ hasText: "(Fake Audio Input 2) is not connected" }).waitFor();
  assert.equal(await chosen("Microphone"), "Default");
  await d.evaluate(() => (window as unknown as { restoreDevices: () => void }).restoreDevices());
  await gone.waitFor({ state: "detached" });
  assert.equal(await chosen("Microphone"), "Fake Audio Input 2");

  // ---- 202, a sipp desk phone playing g711a.pcap, calls Dana; she answers in the page ----
  const deskMedia = await freePort();
  const atCaller = await captureRtp(deskMedia);
  const caller = runSipp(
    [`127.0.0.1:${server.port}`, "-sf", "desk-caller.xml", "-key", "domain", domain, "-key", "caller", "202"].concat(
      ["-s", "200", "-au", "202", "-ap", passwords["202"], "-d", "7000", "-m", "1"],
      ["-i", "127.0.0.1", "-p", String(await freePort()), "-mp", String(deskMedia)],
    ),
    40_000,
  );
  await d.getByRole("heading", { name: "Incoming call" }).waitFor({ timeout: 10_000 });
  await d.getByText("Front Desk (202)").waitFor();
  await d.getByRole("button", { name: "Answer" }).click();
  await d.getByRole("heading", { name: "Connected" }).waitFor({ timeout: 10_000 });
  await d.locator('.call-microphone[data-label="Fake Audio Input 2"]').waitFor({ timeout: 5000 });
  const inboundAtPhone = await phoneReceived(atCaller, MIN_PACKETS, "Dana → 202");
  const browserGot = await eventually(
    `Dana receiving ≥ ${MIN_PACKETS} packets of the desk phone's pcap`,
    async () => {
      const n = await packetsReceived(d);
      return n >= MIN_PACKETS ? n : undefined;
    },
    15_000,
  );
  await shot(d, "16-desk-phone-calls-in");
  // The desk phone hangs up after its 7 s.
  await d.getByText("Call ended").waitFor({ timeout: 15_000 });
  const desk = await caller;
  const inbound = await atCaller.stop();
  assert.equal(desk.code, 0, desk.output.slice(-1500));
  assert.ok(inbound.packets >= inboundAtPhone.packets);
  await d.locator(".call-log").getByText("↙ Front Desk (202)").first().waitFor();

  // ---- Voicemail: the button dials the PBX's feature code ----
  await assertTarget("Voicemail", d.getByRole("button", { name: "Voicemail" }));
  await d.getByRole("button", { name: "Voicemail" }).click();
  // Voicemail is not enabled on 200 (nor served by the node yet): the PBX answers 777 with a status.
  await d.locator(".call-log").getByText("↗ Voicemail (777)").waitFor({ timeout: 10_000 });
  if (await d.getByRole("button", { name: "Hang up" }).count())
    await d.getByRole("button", { name: "Hang up" }).click();
  const vm = ((await d.locator(".last-call").textContent()) ?? "").trim();
  assert.doesNotMatch(vm, /Could not call/, "777 was dialled");
  await eventually("no call left on the node", async () => (node.gateway.calls?.activeCalls ?? 0) === 0, 10_000);

  // ---- A browser without setSinkId (iOS Safari) ----
  const e = await openPhone("E", dana, browser, {
    init: () => {
      delete (HTMLMediaElement.prototype as { setSinkId?: unknown }).setSinkId;
    },
  });
  await e.locator(".devices > summary").click();
  await e.getByText("Speaker selection is not supported by this browser.").waitFor();
  assert.equal(await e.getByLabel("Speaker", { exact: true }).count(), 0);
  await e.getByRole("button", { name: "Log out" }).click();

  console.log(
    `desk phones: Dana → 201 (sipp, echo): ${outbound.packets} RTP packets at the phone in ${outbound.seconds.toFixed(1)} s (${before.packets} when first counted, ${afterSwitch.packets - switched} after the microphone switch), payload types ${JSON.stringify(outbound.payloadTypes)}, Dana heard ${echo.toFixed(0)} Hz back; 202 (sipp, g711a.pcap) → Dana: ${inbound.packets} RTP packets at the phone in ${inbound.seconds.toFixed(1)} s, Dana's browser ≥${browserGot} received; voicemail: ${vm}`,
  );
  assert.deepEqual(
    pageLog.filter((l) => l.includes("pageerror")),
    [],
  );
}
