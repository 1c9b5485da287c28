import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { Browser } from "playwright-core";
import type { CallRecord } from "../../../shared/index.ts";
import type { MediaEngine } from "../../rtc/MediaEngine.ts";
import { parseRemoteSdp } from "../../rtc/sdp.ts";
import { linearToUlaw, ulawToLinear } from "../../rtc/tones.ts";
import { randomToken } from "../../sip/core/headers.ts";
import { SipRequest, type SipResponse } from "../../sip/core/message.ts";
import {
  type BrowserStats,
  launchChromium,
  requireChromium,
  Softphone,
  servePage,
  toneWav,
} from "../../test-support/browser.ts";
import { testDirectory } from "../../test-support/extensions.ts";
import { type CallGateway, startCallGateway } from "../../test-support/gateway.ts";
import { UdpPhone } from "../../test-support/UdpPhone.ts";
import { until } from "../../test-support/wait.ts";
import type { Binding } from "../Registrar.ts";
import type { SipGateway } from "../SipGateway.ts";
import type { CallMediaCounts } from "./Call.ts";

/*
 * Browser ↔ phone calls for real: Debian's Chromium (driven by playwright-core) runs SIP.js
 * 0.21.2 from a page served on loopback, registers over SIP-over-WebSocket with digest auth and
 * calls, or is called by, a scripted UDP phone that sends and counts real RTP. The browser's
 * media is WebRTC (ICE-lite, DTLS-SRTP) to a mediasoup WebRtcTransport, bridged to the phone's
 * plain-RTP leg. The browser's microphone is a WAV file of a 440 Hz tone; the phone sends 1 kHz:
 * each side checks it hears the other's tone, not just packets. Also: the browser holds and
 * resumes by re-INVITE, and a browser calls another browser (WebRTC on both legs).
 */

const PBX_ID = "pbx-browser";
const DOMAIN = "pbx-browser.pbx.edgepbx.local";
const PASSWORDS: Record<string, string> = {
  "100": "alice-browser-1",
  "101": "bob-phone-22",
  "102": "dave-phone-3",
  "103": "carol-browser-4",
};
/** How long an answered call carries media (50 packets a second each way). */
const TALK_MS = 2500;
const BROWSER_TONE_HZ = 440;
const PHONE_TONE_HZ = 1000;
/** A conference room both kinds of phone can dial. */
const ROOM_ID = "conf_brow001";
const ROOM_NUMBER = "800";
/** The second browser's microphone (an oscillator in the page). */
const CAROL_TONE_HZ = 660;

let gateway: SipGateway;
let engine: MediaEngine;
let http: Server;
let browser: Browser;
const softphones: Softphone[] = [];
const scratch: string[] = [];
const phones: UdpPhone[] = [];
const rtpSockets: Socket[] = [];
let ended: CallGateway["ended"] = [];

/**
 * The share of the samples' energy at `frequency` (1 for a pure tone there, ~0 for anything else):
 * the median over 50 ms windows, so that a glitch between packets does not spoil the whole.
 */
function toneShare(samples: number[], frequency: number, rate = 8000): number {
  const WINDOW = 400;
  const shares: number[] = [];
  for (let start = 0; start + WINDOW <= samples.length; start += WINDOW) {
    let re = 0;
    let im = 0;
    let energy = 0;
    for (let n = 0; n < WINDOW; n++) {
      const x = samples[start + n] ?? 0;
      re += x * Math.cos((2 * Math.PI * frequency * n) / rate);
      im -= x * Math.sin((2 * Math.PI * frequency * n) / rate);
      energy += x * x;
    }
    shares.push(energy === 0 ? 0 : (2 * (re * re + im * im)) / (WINDOW * energy));
  }
  shares.sort((a, b) => a - b);
  return shares[Math.floor(shares.length / 2)] ?? 0;
}

/** The next `registered` event of the registrar for `extension` (listen before the phone registers). */
function registered(extension: string, timeoutMs = 10_000): Promise<Binding> {
  const binding = new Promise<Binding>((resolve, reject) => {
    const timer = setTimeout(() => {
      gateway.registrar.off("registered", listener);
      reject(new Error(`${extension} did not register within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (binding: Binding) => {
      if (binding.pbxId !== PBX_ID || binding.extension !== extension) return;
      clearTimeout(timer);
      gateway.registrar.off("registered", listener);
      resolve(binding);
    };
    gateway.registrar.on("registered", listener);
  });
  binding.catch(() => undefined); // when SIP.js fails first, its error is the one reported
  return binding;
}

async function recordAfter(count: number): Promise<{ record: CallRecord; media: CallMediaCounts }> {
  assert.ok(await until(() => ended.length > count, 5000, 20), "a call record");
  return ended[count] as { record: CallRecord; media: CallMediaCounts };
}

/** The RTP side of a scripted phone: sends a PCMU tone to the node and keeps what it gets. */
class RtpEndpoint {
  readonly received: { payloadType: number; payload: Buffer }[] = [];
  sent = 0;
  private timer: NodeJS.Timeout | undefined;

  private constructor(readonly socket: Socket) {
    socket.on("message", (packet) => {
      // RTP version 2 with a 12-byte header and no CSRCs/extension (what mediasoup sends phones).
      if (packet.length < 12 || packet[0] !== 0x80) return;
      this.received.push({ payloadType: (packet[1] ?? 0) & 0x7f, payload: packet.subarray(12) });
    });
  }

  static async open(): Promise<RtpEndpoint> {
    const socket = createSocket("udp4");
    rtpSockets.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    return new RtpEndpoint(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** 20 ms PCMU frames of a sine to address:port until stop(). */
  sendTone(address: string, port: number, frequency: number): void {
    const ssrc = (Math.random() * 2 ** 32) >>> 0;
    let n = 0;
    this.timer = setInterval(() => {
      const packet = Buffer.alloc(12 + 160);
      packet[0] = 0x80;
      packet[1] = n === 0 ? 0x80 : 0; // PT 0 (PCMU), marker on the first
      packet.writeUInt16BE(n & 0xffff, 2);
      packet.writeUInt32BE((n * 160) >>> 0, 4);
      packet.writeUInt32BE(ssrc, 8);
      for (let i = 0; i < 160; i++)
        packet[12 + i] = linearToUlaw(Math.round(8000 * Math.sin((2 * Math.PI * frequency * (n * 160 + i)) / 8000)));
      this.socket.send(packet, port, address);
      this.sent++;
      n++;
    }, 20);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The PCMU audio received after the first `skip` packets, as linear samples. */
  samples(skip = 25): number[] {
    return this.received
      .slice(skip)
      .filter((p) => p.payloadType === 0)
      .flatMap((p) => [...p.payload].map(ulawToLinear));
  }
}

/** A scripted desk phone on UDP registered as `extension` (digest), its Contact its own socket. */
async function registeredPhone(extension: string): Promise<UdpPhone> {
  const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.transports.udp.local.port });
  phones.push(phone);
  const ok = await phone.registerWithAuth(phone.register(extension, DOMAIN), extension, PASSWORDS[extension] ?? "");
  assert.equal(ok.status, 200, "the phone registered");
  return phone;
}

/** A request to the phone of `method` (retransmitted INVITEs and others are skipped). */
async function nextRequestOf(phone: UdpPhone, method: string, timeoutMs = 10_000): Promise<SipRequest> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const request = await phone.nextRequest(Math.max(1, deadline - Date.now()));
    if (request.method === method) return request;
  }
}

/** A BYE from the phone in the dialog its INVITE's 200 `answer` made. */
function byeAfter(phone: UdpPhone, answer: SipResponse): SipRequest {
  const contact = /<([^>]+)>/.exec(answer.get("Contact") ?? "")?.[1];
  assert.ok(contact, "the 200 has a Contact");
  const bye = new SipRequest("BYE", contact);
  bye.append("Via", `SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bK${randomToken()};rport`);
  bye.append("From", answer.get("From") ?? "");
  bye.append("To", answer.get("To") ?? "");
  bye.append("Call-ID", answer.callId);
  bye.append("CSeq", "10 BYE");
  bye.append("Max-Forwards", "70");
  return bye;
}

/** Runs a test body; on failure prints each page's console (SIP.js warnings, errors) and SDP. */
async function withPageLog(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    for (const phone of softphones) {
      console.error(`----- ${phone.name}: page console -----\n${phone.log.slice(-60).join("\n")}`);
      const sdp = await phone.run("sdp").catch(() => null);
      if (sdp)
        console.error(`----- ${phone.name}: local SDP -----\n${sdp.local}\n----- remote SDP -----\n${sdp.remote}`);
    }
    throw error;
  }
}

/** A new page with the softphone loaded, registered as `extension` over ws:// (digest). */
async function openSoftphone(name: string, extension: string, toneHz?: number): Promise<Softphone> {
  const phone = new Softphone(name, await browser.newPage());
  softphones.push(phone);
  const address = http.address();
  assert.ok(address && typeof address === "object");
  await phone.page.goto(`http://127.0.0.1:${address.port}/`);
  await phone.page.waitForFunction(() => "edge" in globalThis, undefined, { timeout: 10_000 });
  const bound = registered(extension);
  await phone.run("register", {
    server: `ws://127.0.0.1:${gateway.transports.ws.local.port}`,
    uri: `sip:${extension}@${DOMAIN}`,
    username: extension,
    password: PASSWORDS[extension] ?? "",
    ...(toneHz ? { toneHz } : {}),
  });
  const binding = await bound;
  assert.equal(binding.target.transport, "ws");
  return phone;
}

before(async () => {
  requireChromium();
  const directory = testDirectory(
    { id: PBX_ID, domain: DOMAIN, passwords: PASSWORDS, idPrefix: "ext_brow0" },
    { conferenceRooms: [{ id: ROOM_ID, name: "Browsers and phones", number: ROOM_NUMBER }] },
  );
  ({ gateway, engine, ended } = await startCallGateway({
    directory,
    rtpPorts: { min: 47000, max: 47999 },
  }));
  http = await servePage();
  const dir = mkdtempSync(join(tmpdir(), "browser-test-"));
  scratch.push(dir);
  const wav = join(dir, "tone.wav");
  writeFileSync(wav, toneWav(BROWSER_TONE_HZ, 1));
  browser = await launchChromium({ fakeAudioFile: wav });
});

after(async () => {
  await browser?.close();
  for (const socket of rtpSockets) socket.close();
  for (const phone of phones) {
    try {
      phone.close();
    } catch {
      // Already closed by its test (after unregistering).
    }
  }
  // Keep-alive connections left by a failed test must not hold the process open.
  http?.closeAllConnections();
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  await gateway?.close();
  engine?.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe("Chromium (SIP.js over WebSocket, WebRTC) ↔ SIP phones through the B2BUA", () => {
  let alice: Softphone;

  it("SIP.js registers over ws:// with digest auth", { timeout: 20_000 }, () =>
    withPageLog(async () => {
      alice = await openSoftphone("alice", "100");
      const [binding] = gateway.registrar.lookup(PBX_ID, "100");
      assert.match(binding?.contact ?? "", /\.invalid;transport=ws$/);
      // SIP.js 0.21.2 still calls itself 0.21.1; the gateway keys its MD5-only challenge on "SIP.js".
      assert.match(binding?.userAgent ?? "", /^SIP\.js\//);
    }),
  );

  it("the browser calls a phone: WebRTC ↔ plain RTP both ways, each hears the other's tone", { timeout: 30_000 }, () =>
    withPageLog(async () => {
      assert.ok(alice, "the browser registered (first test)");
      const phone = await registeredPhone("101");
      const rtp = await RtpEndpoint.open();
      const records = ended.length;
      await alice.run("call", `sip:101@${DOMAIN}`);
      const invite = await nextRequestOf(phone, "INVITE");
      // The phone is offered plain RTP whatever the browser speaks.
      const offer = parseRemoteSdp(invite.body.toString("utf8"));
      assert.equal(offer.profile, "RTP/AVP");
      assert.ok(offer.address && offer.codecs.some((c) => c.name === "PCMU"), "PCMU offered to the phone");
      phone.answerInvite(invite, rtp.port);
      await nextRequestOf(phone, "ACK");
      await alice.run("waitState", "Established", 5000);
      rtp.sendTone(offer.address, offer.port, PHONE_TONE_HZ);
      await delay(TALK_MS);
      const stats = await alice.run("stats");
      const heard = await alice.run("tone");
      // Keys pressed in the browser (SIP INFO) reach the phone as RFC 4733 with its payload type (101).
      assert.deepEqual(await alice.run("dtmf", "5#"), [200, 200], "the node took both keys");
      await delay(500);
      const keys = rtp.received.filter((p) => p.payloadType === 101 && p.payload.length >= 4);
      const keysEnded = new Set(keys.filter((p) => ((p.payload[1] ?? 0) & 0x80) !== 0).map((p) => p.payload[0]));
      console.log(
        `browser → phone DTMF: ${keys.length} telephone-event packets, keys ended ${[...keysEnded].join(",")}`,
      );
      assert.deepEqual(
        [...keysEnded].sort((a = 0, b = 0) => a - b),
        [5, 11],
        "5 and # arrived, each with its end packets",
      );
      rtp.stop();
      await alice.run("hangup");
      const bye = await nextRequestOf(phone, "BYE");
      phone.answer(bye, 200);
      await alice.run("waitState", "Terminated", 5000);
      const { record, media } = await recordAfter(records);
      await phone.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");

      report("browser → phone", stats, heard, rtp, media);
      assert.equal(record.disposition, "answered");
      assert.equal(record.from, "100");
      assert.equal(record.to, "101");
      assertWebRtc(stats);
      assertPhoneMedia(stats, heard, rtp, { browser: media.caller, phone: media.callee });
    }),
  );

  it("a phone calls the browser: SIP.js answers, RTP both ways, the phone hangs up", { timeout: 30_000 }, () =>
    withPageLog(async () => {
      assert.ok(alice, "the browser registered (first test)");
      const phone = await registeredPhone("102");
      const rtp = await RtpEndpoint.open();
      const records = ended.length;
      const answer = await phone.call("102", DOMAIN, PASSWORDS["102"] ?? "", "100", rtp.port);
      assert.equal(answer.status, 200, `the call to the browser: ${answer.status} ${answer.reason}`);
      const ours = parseRemoteSdp(answer.body.toString("utf8"));
      assert.equal(ours.profile, "RTP/AVP");
      assert.equal(ours.codecs[0]?.name, "PCMU", "the browser took PCMU (the phone's first choice)");
      assert.ok(ours.address);
      await alice.run("waitState", "Established", 5000);
      rtp.sendTone(ours.address, ours.port, PHONE_TONE_HZ);
      await delay(TALK_MS);
      const stats = await alice.run("stats");
      const heard = await alice.run("tone");
      await holdAndResume(alice, rtp);
      rtp.stop();
      phone.send(byeAfter(phone, answer));
      let byeAnswer = await phone.next(5000);
      while (byeAnswer.status < 200) byeAnswer = await phone.next(5000);
      assert.equal(byeAnswer.status, 200, "the BYE is answered");
      await alice.run("waitState", "Terminated", 5000);
      const { record, media } = await recordAfter(records);
      await phone.unregisterAndClose("102", DOMAIN, PASSWORDS["102"] ?? "");

      report("phone → browser", stats, heard, rtp, media);
      assert.equal(record.disposition, "answered");
      assert.equal(record.from, "102");
      assert.equal(record.to, "100");
      assert.match(record.answeredBy ?? "", /\.invalid;transport=ws$/);
      assertWebRtc(stats);
      assertPhoneMedia(stats, heard, rtp, { browser: media.callee, phone: media.caller });
    }),
  );

  it("a browser calls a browser: WebRTC on both legs, Opus end to end, each hears the other", { timeout: 30_000 }, () =>
    withPageLog(async () => {
      assert.ok(alice, "the browser registered (first test)");
      // Carol's microphone is an oscillator, so each side's tone is its own.
      const carol = await openSoftphone("carol", "103", CAROL_TONE_HZ);
      const records = ended.length;
      await alice.run("call", `sip:103@${DOMAIN}`);
      await carol.run("waitState", "Established", 5000);
      await alice.run("waitState", "Established", 5000);
      await delay(TALK_MS);
      const aliceStats = await alice.run("stats");
      const carolStats = await carol.run("stats");
      const aliceHeard = await alice.run("tone");
      const carolHeard = await carol.run("tone");
      await carol.run("hangup");
      await alice.run("waitState", "Terminated", 5000);
      const { record, media } = await recordAfter(records);
      console.log(
        `browser → browser: alice sent ${aliceStats.outbound?.packetsSent}, got ${aliceStats.inbound?.packetsReceived} ` +
          `(peak ${aliceHeard?.peakHz.toFixed(0)} Hz); carol sent ${carolStats.outbound?.packetsSent}, got ` +
          `${carolStats.inbound?.packetsReceived} (peak ${carolHeard?.peakHz.toFixed(0)} Hz); record ${JSON.stringify(media)}`,
      );
      assert.equal(record.disposition, "answered");
      assert.equal(record.from, "100");
      assert.equal(record.to, "103");
      const minimum = (TALK_MS / 20) * 0.6;
      for (const [stats, heard, hz] of [
        [aliceStats, aliceHeard, CAROL_TONE_HZ],
        [carolStats, carolHeard, BROWSER_TONE_HZ],
      ] as const) {
        assertWebRtc(stats);
        // Both far ends are browsers: Opus, relayed as it is (mediasoup does not transcode).
        assert.equal(stats.outbound?.codec, "audio/opus");
        assert.equal(stats.inbound?.codec, "audio/opus");
        assert.ok((stats.outbound?.packetsSent ?? 0) >= minimum, `sent ${stats.outbound?.packetsSent}`);
        assert.ok((stats.inbound?.packetsReceived ?? 0) >= minimum, `got ${stats.inbound?.packetsReceived}`);
        assert.ok(heard && Math.abs(heard.peakHz - hz) < 20, `hears ${heard?.peakHz} Hz, not ${hz}`);
      }
      assert.ok(media.callee, "callee leg");
      for (const leg of [media.caller, media.callee])
        assert.ok(leg.sent >= minimum * 0.5 && leg.received >= minimum * 0.5, `node counted ${JSON.stringify(leg)}`);
      const dump = await engine.dump();
      assert.equal(JSON.stringify(dump).includes('transportIds":["'), false, "no transports left behind");
    }),
  );

  it("a browser and a desk phone in a conference room: mixed alike, each hears the other", { timeout: 30_000 }, () =>
    withPageLog(async () => {
      assert.ok(alice, "the browser registered (first test)");
      const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.transports.udp.local.port });
      phones.push(phone);
      const rtp = await RtpEndpoint.open();
      const ok = await phone.call("101", DOMAIN, PASSWORDS["101"] ?? "", ROOM_NUMBER, rtp.port);
      assert.equal(ok.status, 200, "the room answers the phone");
      const answer = parseRemoteSdp(ok.body.toString("utf8"));
      rtp.sendTone(answer.address ?? "127.0.0.1", answer.port, PHONE_TONE_HZ);
      await alice.run("call", `sip:${ROOM_NUMBER}@${DOMAIN}`);
      await alice.run("waitState", "Established", 5000);
      await delay(TALK_MS);
      const stats = await alice.run("stats");
      const heard = await alice.run("tone");
      const seated = gateway.calls?.conferenceParticipants(PBX_ID)[ROOM_ID] ?? [];
      rtp.stop();
      await alice.run("hangup");
      phone.send(byeAfter(phone, ok));
      // The browser's leg is G.711 (the mixer's), not Opus: it is mixed like any phone.
      assert.equal(stats.inbound?.codec, "audio/PCMU");
      assert.deepEqual(seated.map((p) => p.caller).sort(), ["100", "101"]);
      assert.ok(heard && Math.abs(heard.peakHz - PHONE_TONE_HZ) < 20, `the browser hears ${heard?.peakHz} Hz`);
      const share = toneShare(rtp.samples(50), BROWSER_TONE_HZ);
      assert.ok(share > 0.5, `the phone hears the browser's ${BROWSER_TONE_HZ} Hz (${(share * 100).toFixed(1)}%)`);
      console.log(
        `conference: browser heard ${heard?.peakHz.toFixed(0)} Hz; phone heard ${(share * 100).toFixed(1)}% at ${BROWSER_TONE_HZ} Hz`,
      );
    }),
  );
});

/**
 * The browser holds the call and resumes it by re-INVITE (the node answers it; the phone's dialog
 * is left alone): on hold the node stops sending it the phone's RTP, after resuming it flows again.
 */
async function holdAndResume(softphone: Softphone, rtp: RtpEndpoint): Promise<void> {
  const received = async () => (await softphone.run("stats")).inbound?.packetsReceived ?? 0;
  assert.equal(await softphone.run("reinvite", true), 200, "hold accepted");
  assert.equal(await softphone.run("state"), "Established", "SIP.js took our answer");
  await delay(300); // packets already on their way
  const held = await received();
  await delay(1000);
  const whileHeld = (await received()) - held;
  const heardBefore = rtp.received.length;
  assert.equal(await softphone.run("reinvite", false), 200, "resume accepted");
  assert.equal(await softphone.run("state"), "Established", "SIP.js took our answer");
  const resumed = await received();
  await delay(1000);
  const afterResume = (await received()) - resumed;
  console.log(`hold: the browser got ${whileHeld} packets in 1 s on hold, ${afterResume} in 1 s after resuming`);
  assert.ok(whileHeld <= 2, `on hold the browser still got ${whileHeld} packets`);
  assert.ok(afterResume >= 30, `after resuming the browser got ${afterResume} packets`);
  // SIP.js mutes its microphone on hold; resumed, the phone hears the tone again.
  const share = toneShare(rtp.samples(heardBefore + 10), BROWSER_TONE_HZ);
  assert.ok(share > 0.8, `after resuming the phone hears the browser's tone (${(share * 100).toFixed(1)}%)`);
}

function report(
  what: string,
  stats: BrowserStats,
  heard: { peakHz: number; level: number } | null,
  rtp: RtpEndpoint,
  media: CallMediaCounts,
): void {
  console.log(
    `${what}: browser sent ${stats.outbound?.packetsSent} (${stats.outbound?.codec}), got ${stats.inbound?.packetsReceived} ` +
      `(lost ${stats.inbound?.packetsLost}, peak ${heard?.peakHz.toFixed(0)} Hz at ${heard?.level.toFixed(1)} dB); ` +
      `phone sent ${rtp.sent}, got ${rtp.received.length} (${(toneShare(rtp.samples(), BROWSER_TONE_HZ) * 100).toFixed(1)}% at ${BROWSER_TONE_HZ} Hz); ` +
      `record ${JSON.stringify(media)}; ${stats.transport?.srtpCipher}, browser DTLS ${stats.transport?.dtlsRole}`,
  );
}

/** ICE and DTLS-SRTP really came up between Chromium and mediasoup. */
function assertWebRtc(stats: BrowserStats): void {
  assert.equal(stats.transport?.dtlsState, "connected");
  assert.ok(stats.transport?.srtpCipher, "an SRTP cipher was negotiated");
  assert.equal(stats.pair?.state, "succeeded");
  assert.match(stats.pair?.remote ?? "", /^127\.0\.0\.1:47\d\d\d$/, "media went to mediasoup's candidate");
}

/** Packets both ways, counted by the browser, the phone and the node; each side heard the other's tone. */
function assertPhoneMedia(
  stats: BrowserStats,
  heard: { peakHz: number; level: number } | null,
  rtp: RtpEndpoint,
  legs: { browser: { sent: number; received: number } | null; phone: { sent: number; received: number } | null },
): void {
  const minimum = (TALK_MS / 20) * 0.6;
  // Browser → phone: what Chromium sent reached the phone's socket, and it is the WAV's tone.
  assert.equal(stats.outbound?.codec, "audio/PCMU");
  assert.ok((stats.outbound?.packetsSent ?? 0) >= minimum, `browser sent ${stats.outbound?.packetsSent}`);
  assert.ok(rtp.received.length >= minimum, `the phone got ${rtp.received.length} packets`);
  const share = toneShare(rtp.samples(), BROWSER_TONE_HZ);
  assert.ok(share > 0.8, `the phone hears the browser's ${BROWSER_TONE_HZ} Hz tone (${(share * 100).toFixed(1)}%)`);
  // Phone → browser: Chromium decrypted and decoded the phone's RTP, and plays its tone.
  assert.equal(stats.inbound?.codec, "audio/PCMU");
  assert.ok((stats.inbound?.packetsReceived ?? 0) >= minimum, `browser got ${stats.inbound?.packetsReceived}`);
  assert.ok(heard, "the browser's analyser ran");
  assert.ok(Math.abs(heard.peakHz - PHONE_TONE_HZ) < 20, `the browser hears ${heard.peakHz} Hz`);
  // The node's own counters (a WebRTC leg's are read from mediasoup once a second, so they lag).
  assert.ok(legs.browser && legs.phone, "both legs in the record");
  assert.ok(legs.phone.received >= minimum, `node sent the phone ${legs.phone.received}`);
  assert.ok(legs.phone.sent >= minimum, `node got from the phone ${legs.phone.sent}`);
  assert.ok(legs.browser.sent >= minimum * 0.5, `node got from the browser ${legs.browser.sent}`);
  assert.ok(legs.browser.received >= minimum * 0.5, `node sent the browser ${legs.browser.received}`);
}
