import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { freePort } from "../../../scripts/lib/net.ts";
import type { CallRecord } from "../../../shared/index.ts";
import type { MediaEngine } from "../../rtc/MediaEngine.ts";
import { testDirectory } from "../../test-support/extensions.ts";
import { type CallGateway, startCallGateway } from "../../test-support/gateway.ts";
import { runSipp, SIPP_SCENARIOS } from "../../test-support/sipp.ts";
import { UdpPhone } from "../../test-support/UdpPhone.ts";
import { until } from "../../test-support/wait.ts";
import type { Binding } from "../Registrar.ts";
import type { SipGateway } from "../SipGateway.ts";
import type { CallMediaCounts } from "./Call.ts";

/*
 * Interop with a real softphone: Debian's baresip (1.0.0) registers with digest auth, calls and
 * is called through the B2BUA, with RTP anchored in mediasoup. Each baresip runs from its own
 * config folder, sends a sine tone (ausine), has no sound card (no player module) and is driven
 * through its ctrl_tcp module (netstring JSON commands and events).
 */

const PBX_ID = "pbx-baresip";
const DOMAIN = "pbx-baresip.pbx.edgepbx.local";
const PASSWORDS: Record<string, string> = {
  "100": "alice-baresip-1",
  "101": "bob-sipp-22",
  "102": "carol-baresip-3",
};
/** How long an answered call carries media before it is hung up (50 packets a second each way). */
const TALK_MS = 1500;

let gateway: SipGateway;
let engine: MediaEngine;
let ended: CallGateway["ended"] = [];
/** baresip 100 (answers by hand, which it is never asked to) and baresip 102 (answers at once). */
let alice: Baresip;
let carol: Baresip;
const phones: Baresip[] = [];
/** sipp phones still running when a test fails are killed in `after`. */
const sippProcesses: ChildProcess[] = [];
/** Folders the test writes, removed in `after`. */
const scratch: string[] = [];

interface BaresipEvent {
  event: true;
  class?: string;
  type?: string;
  param?: string;
  accountaor?: string;
  direction?: string;
  peeruri?: string;
  id?: string;
}

interface BaresipResponse {
  response: true;
  ok: boolean;
  data?: string;
  token?: string;
}

interface BaresipOptions {
  name: string;
  extension: string;
  /** Answers incoming calls by itself (auto) or only when told to (manual). */
  answer: "auto" | "manual";
}

/** One baresip process with its own config folder, controlled over ctrl_tcp. */
class Baresip {
  readonly events: BaresipEvent[] = [];
  private output = "";
  private control: Socket | null = null;
  private readonly pending = new Map<string, (response: BaresipResponse) => void>();
  private tokens = 0;
  private wake: (() => void)[] = [];
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly sipPort: number,
    readonly controlPort: number,
    private readonly process: ChildProcess,
  ) {
    const collect = (chunk: Buffer) => {
      this.output = `${this.output}${chunk.toString("utf8")}`.slice(-200_000);
      this.notify();
    };
    process.stdout?.on("data", collect);
    process.stderr?.on("data", collect);
    this.exited = new Promise((resolve) =>
      process.on("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        this.notify();
        resolve(code);
      }),
    );
  }

  /**
   * Writes the config and accounts files, starts baresip and connects to its control port. The
   * ports are free when picked, but another process may take one before baresip binds it: then
   * it starts again on new ones.
   */
  static async start(options: BaresipOptions): Promise<Baresip> {
    for (let attempt = 1; ; attempt++) {
      const phone = await Baresip.launch(options);
      try {
        await phone.waitOutput(/baresip is ready/, 10_000);
        if (/Address already in use/.test(phone.output)) throw new Error(`${phone.name}: a port was taken`);
        await phone.connect();
        return phone;
      } catch (error) {
        if (attempt >= 3 || !/Address already in use|ECONNREFUSED/.test(`${phone.output} ${error}`)) throw error;
        await phone.stop();
        phones.splice(phones.indexOf(phone), 1);
      }
    }
  }

  private static async launch(options: BaresipOptions): Promise<Baresip> {
    const dir = mkdtempSync(join(tmpdir(), `baresip-${options.name}-`));
    const sipPort = await freePort();
    const controlPort = await freePort();
    const rtpBase = 44_000 + Math.floor(Math.random() * 100) * 20;
    writeFileSync(
      join(dir, "config"),
      [
        "poll_method epoll",
        `sip_listen 127.0.0.1:${sipPort}`,
        // An address, not an interface name: baresip 1.0.0 takes either and then uses it for
        // Contact, Via and the SDP c= line.
        "net_interface 127.0.0.1",
        "call_local_timeout 30",
        "call_max_calls 2",
        // A 440 Hz tone as microphone; ausine makes 48 kHz stereo, resampled to G.711's 8 kHz mono.
        "audio_source ausine,440",
        "ausrc_srate 48000",
        "ausrc_channels 2",
        // No player module is loaded: received audio is decoded and dropped, no sound card needed.
        `rtp_ports ${rtpBase}-${rtpBase + 19}`,
        "rtp_stats no",
        "module_path /usr/lib/baresip/modules",
        "module g711.so",
        "module ausine.so",
        "module_tmp account.so",
        "module_app menu.so",
        "module_app ctrl_tcp.so",
        "statmode_default off",
        `ctrl_tcp_listen 127.0.0.1:${controlPort}`,
        "",
      ].join("\n"),
    );
    const { extension } = options;
    // The PBX's SIP domain names no host: every request goes to the gateway as outbound proxy.
    writeFileSync(
      join(dir, "accounts"),
      `<sip:${extension}@${DOMAIN}>;auth_pass=${PASSWORDS[extension]};` +
        `outbound="sip:127.0.0.1:${gateway.transports.udp.local.port}";regint=300;answermode=${options.answer}\n`,
    );
    writeFileSync(join(dir, "contacts"), "");
    const child = spawn("baresip", ["-f", dir, "-s"], { stdio: ["ignore", "pipe", "pipe"] });
    const phone = new Baresip(options.name, dir, sipPort, controlPort, child);
    phones.push(phone);
    return phone;
  }

  private notify(): void {
    for (const wake of this.wake.splice(0)) wake();
  }

  /** Resolves when `check` holds, re-checked on every output chunk, event or exit; fails after `timeoutMs`. */
  private async waitUntil<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (this.exitCode !== undefined)
        throw new Error(`${this.name}: baresip exited (${this.exitCode}) before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitOutput(pattern: RegExp, timeoutMs: number): Promise<true> {
    return this.waitUntil(() => (pattern.test(this.output) ? true : undefined), timeoutMs, `output ${pattern}`);
  }

  /** The first event from index `from` on of `type` (a mark taken before the action that causes it). */
  waitEvent(type: string, from: number, timeoutMs = 10_000): Promise<BaresipEvent> {
    return this.waitUntil(() => this.events.slice(from).find((e) => e.type === type), timeoutMs, `event ${type}`);
  }

  private async connect(): Promise<void> {
    const socket = connect(this.controlPort, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.on("error", () => {});
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      // Netstrings: "<length>:<JSON>,".
      for (;;) {
        const colon = buffer.indexOf(":");
        if (colon < 0) break;
        const length = Number(buffer.subarray(0, colon).toString());
        if (buffer.length < colon + 1 + length + 1) break;
        const message = JSON.parse(buffer.subarray(colon + 1, colon + 1 + length).toString("utf8"));
        buffer = buffer.subarray(colon + 1 + length + 1);
        if (message.event) this.events.push(message as BaresipEvent);
        else if (message.response) this.pending.get(String(message.token))?.(message as BaresipResponse);
      }
      this.notify();
    });
    this.control = socket;
  }

  /** Runs a baresip (menu) command such as `dial <uri>`, `hangup` or `reginfo`. */
  async command(command: string, params = "", timeoutMs = 5000): Promise<BaresipResponse> {
    const token = `t${++this.tokens}`;
    const payload = Buffer.from(JSON.stringify({ command, params, token }));
    const response = new Promise<BaresipResponse>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no answer to ${command}`)), timeoutMs);
      this.pending.set(token, (r) => {
        clearTimeout(timer);
        this.pending.delete(token);
        resolve(r);
      });
    });
    this.control?.write(Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(",")]));
    return response;
  }

  /** The last `chars` of baresip's output (with its SIP trace), for failure reports. */
  tail(chars = 8000): string {
    return this.output.slice(-chars);
  }

  /** Quits (baresip unregisters first), killing it if it does not exit in time; removes its folder. */
  async stop(): Promise<void> {
    if (this.exitCode === undefined) {
      await this.command("quit", "", 1000).catch(() => undefined);
      const quit = await Promise.race([this.exited.then(() => true), delay(3000).then(() => false)]);
      if (!quit) {
        this.process.kill("SIGKILL");
        await this.exited;
      }
    }
    this.control?.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs a test body; on failure prints every baresip's output (SIP trace included), then fails. */
async function withOutput(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    for (const phone of phones) console.error(`----- baresip ${phone.name} output (tail) -----\n${phone.tail()}`);
    throw error;
  }
}

/** The next `registered` event of the registrar for `extension` (listen before the phone starts). */
function registered(extension: string, timeoutMs = 10_000): Promise<Binding> {
  const binding = new Promise<Binding>((resolve, reject) => {
    const timer = setTimeout(() => {
      gateway.registrar.off("registered", listener);
      reject(new Error(`${extension} did not register within ${timeoutMs} ms`));
    }, timeoutMs).unref();
    const listener = (binding: Binding) => {
      if (binding.pbxId !== PBX_ID || binding.extension !== extension) return;
      clearTimeout(timer);
      gateway.registrar.off("registered", listener);
      resolve(binding);
    };
    gateway.registrar.on("registered", listener);
  });
  binding.catch(() => undefined); // a phone that failed to start is the error reported
  return binding;
}

/** The call record of the next call to end after `count` records (call control emits it when a side hangs up). */
async function recordAfter(count: number): Promise<{ record: CallRecord; media: CallMediaCounts }> {
  assert.ok(await until(() => ended.length > count, 5000, 20), "a call record");
  return ended[count] as { record: CallRecord; media: CallMediaCounts };
}

/**
 * test/sipp/caller.xml with `rrs="true"` on its 200: without it sipp leaves [next_url] empty, so
 * its ACK and BYE go out as "ACK  SIP/2.0" (no Request-URI), the gateway drops them and the call
 * lasts until the 2xx gives up waiting for an ACK (32 s).
 */
function callerScenario(): string {
  const original = readFileSync(join(SIPP_SCENARIOS, "caller.xml"), "utf8");
  const fixed = original.replace(
    '<recv response="200" rtd="true" crlf="true"/>',
    '<recv response="200" rtd="true" rrs="true" crlf="true"/>',
  );
  assert.match(fixed, /<recv response="200"[^>]*rrs="true"/, "caller.xml's 200 records the route set");
  const dir = mkdtempSync(join(tmpdir(), "sipp-caller-"));
  scratch.push(dir);
  writeFileSync(join(dir, "caller.xml"), fixed);
  return join(dir, "caller.xml");
}

/** RTP both ways through the node: each side sent at least `min` packets and the other got (nearly) all. */
function assertMediaBothWays(media: CallMediaCounts, min: number): void {
  assert.ok(media.callee, "callee leg");
  const line = `caller sent ${media.caller.sent}, callee got ${media.callee.received}, callee sent ${media.callee.sent}, caller got ${media.caller.received}`;
  console.log(`RTP: ${line}`);
  assert.ok(media.caller.sent >= min, line);
  assert.ok(media.callee.received >= media.caller.sent * 0.9, `the callee got the caller's RTP: ${line}`);
  assert.ok(media.callee.sent >= min, line);
  assert.ok(media.caller.received >= media.callee.sent * 0.9, `the caller got the callee's RTP: ${line}`);
}

/**
 * A sipp desk phone that answers one call and echoes the RTP it gets (PCMA); its REGISTER (with
 * digest) is sent by a scripted phone that names sipp's port as Contact, and removed when sipp exits.
 */
async function sippCallee(extension: string): Promise<{ exited: Promise<number | null>; port: number }> {
  const port = await freePort();
  const child = spawn(
    "sipp",
    ["-sf", "callee.xml", "-m", "1", "-i", "127.0.0.1", "-p", String(port), "-mp", String(await freePort())].concat([
      "-rtp_echo",
      "-nostdin",
      "-timeout",
      "30",
    ]),
    { cwd: SIPP_SCENARIOS, stdio: "ignore" },
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  sippProcesses.push(child);
  const registrar = await UdpPhone.open({ host: "127.0.0.1", port: gateway.transports.udp.local.port });
  const contact = `<sip:${extension}@127.0.0.1:${port}>`;
  const ok = await registrar.registerWithAuth(
    registrar.register(extension, DOMAIN, { Contact: contact }),
    extension,
    PASSWORDS[extension] ?? "",
  );
  assert.equal(ok.status, 200);
  // Once sipp is gone its binding goes too (best effort: the gateway may be closing).
  const done = exited.then(async (code) => {
    const request = registrar.register(extension, DOMAIN, { Contact: contact, Expires: "0" });
    await registrar.registerWithAuth(request, extension, PASSWORDS[extension] ?? "").catch(() => undefined);
    registrar.close();
    return code;
  });
  return { exited: done, port };
}

before(async () => {
  if (spawnSync("sh", ["-c", "command -v baresip"]).status !== 0)
    throw new Error("baresip is not installed (apt-get install baresip; npm test's pretest does it)");
  const directory = testDirectory({ id: PBX_ID, domain: DOMAIN, passwords: PASSWORDS, idPrefix: "ext_bare0" });
  ({ gateway, engine, ended } = await startCallGateway({
    directory,
    rtpPorts: { min: 43000, max: 43999 },
  }));
});

after(async () => {
  // baresip unregisters on quit, so the gateway stays up until every phone is gone.
  await Promise.all(phones.map((phone) => phone.stop()));
  for (const child of sippProcesses) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  await gateway?.close();
  engine?.close();
});

describe("Debian's baresip through the gateway", () => {
  it("registers over UDP with digest auth; the registrar holds its binding", { timeout: 30_000 }, () =>
    withOutput(async () => {
      const aliceBound = registered("100");
      const carolBound = registered("102");
      alice = await Baresip.start({ name: "alice", extension: "100", answer: "manual" });
      carol = await Baresip.start({ name: "carol", extension: "102", answer: "auto" });
      const binding = await aliceBound;
      await carolBound;
      assert.match(binding.contact, new RegExp(`^sip:100-[^@]+@127\\.0\\.0\\.1:${alice.sipPort}$`));
      assert.match(binding.userAgent ?? "", /^baresip v1\./);
      assert.equal(`${binding.target.address}:${binding.target.port}`, `127.0.0.1:${alice.sipPort}`, "sent to");
      assert.ok(binding.expiresAt - Date.now() > 250_000, "regint=300 honoured");
      const bindings = gateway.registrar.lookup(PBX_ID, "100");
      assert.deepEqual(
        bindings.map((b) => b.contact),
        [binding.contact],
      );
      assert.equal(gateway.registrar.lookup(PBX_ID, "102").length, 1);
      // baresip itself saw the 200 OK to its authenticated REGISTER.
      await alice.waitOutput(/200 OK/, 5000);
      const info = await alice.command("reginfo");
      assert.equal(info.ok, true);
      assert.match(info.data ?? "", /OK/, info.data);
    }),
  );

  it("baresip calls a sipp phone: answered, RTP both ways through mediasoup, it hangs up", { timeout: 40_000 }, () =>
    withOutput(async () => {
      assert.ok(alice && carol, "both baresips are up (first test)");
      const callee = await sippCallee("101");
      const records = ended.length;
      const mark = alice.events.length;
      const dial = await alice.command("dial", `sip:101@${DOMAIN}`);
      assert.equal(dial.ok, true, dial.data);
      await alice.waitEvent("CALL_ESTABLISHED", mark);
      // baresip has RTP from the far end: sipp's echo of its own tone, through both legs.
      await alice.waitEvent("CALL_RTPESTAB", mark, 5000);
      await delay(TALK_MS);
      const hangup = await alice.command("hangup");
      assert.equal(hangup.ok, true, hangup.data);
      await alice.waitEvent("CALL_CLOSED", mark);
      assert.equal(await callee.exited, 0, "sipp got the BYE");
      const { record, media } = await recordAfter(records);
      assert.equal(record.disposition, "answered");
      assert.equal(record.direction, "internal");
      assert.equal(record.from, "100");
      assert.equal(record.to, "101");
      assert.equal(record.answeredBy, `sip:101@127.0.0.1:${callee.port}`);
      assertMediaBothWays(media, 40);
    }),
  );

  it("a sipp phone calls baresip: it answers by itself, RTP both ways, the caller hangs up", { timeout: 40_000 }, () =>
    withOutput(async () => {
      assert.ok(alice && carol, "both baresips are up (first test)");
      const records = ended.length;
      const mark = carol.events.length;
      const run = await runSipp(
        [`127.0.0.1:${gateway.transports.udp.local.port}`, "-sf", callerScenario(), "-key", "domain", DOMAIN]
          .concat(["-key", "caller", "100", "-d", "2000", "-s", "102", "-au", "100", "-ap", PASSWORDS["100"] ?? ""])
          .concat(["-m", "1", "-i", "127.0.0.1", "-p", String(await freePort()), "-mp", String(await freePort())]),
        20_000,
      );
      assert.equal(run.code, 0, run.output.slice(-2500));
      // baresip 1.0.0 announces no CALL_INCOMING when it answers by itself: the call is simply up.
      const established = await carol.waitEvent("CALL_ESTABLISHED", mark);
      assert.equal(established.direction, "incoming");
      assert.equal(established.peeruri, `sip:100@${DOMAIN}`);
      await carol.waitEvent("CALL_RTPESTAB", mark);
      await carol.waitEvent("CALL_CLOSED", mark);
      const { record, media } = await recordAfter(records);
      assert.equal(record.disposition, "answered");
      assert.equal(record.from, "100");
      assert.equal(record.to, "102");
      assert.match(record.answeredBy ?? "", new RegExp(`^sip:102-[^@]+@127\\.0\\.0\\.1:${carol.sipPort}$`));
      // sipp plays its pcap for the 2 s before its BYE, baresip its tone for as long as the call lasts.
      assertMediaBothWays(media, 40);
    }),
  );

  it("baresip calls baresip: auto-answered, RTP both ways, the callee hangs up", { timeout: 40_000 }, () =>
    withOutput(async () => {
      assert.ok(alice && carol, "both baresips are up (first test)");
      const records = ended.length;
      const aliceMark = alice.events.length;
      const carolMark = carol.events.length;
      const dial = await alice.command("dial", `sip:102@${DOMAIN}`);
      assert.equal(dial.ok, true, dial.data);
      await carol.waitEvent("CALL_ESTABLISHED", carolMark);
      await alice.waitEvent("CALL_ESTABLISHED", aliceMark);
      await Promise.all([alice.waitEvent("CALL_RTPESTAB", aliceMark), carol.waitEvent("CALL_RTPESTAB", carolMark)]);
      await delay(TALK_MS);
      const hangup = await carol.command("hangup");
      assert.equal(hangup.ok, true, hangup.data);
      await carol.waitEvent("CALL_CLOSED", carolMark);
      await alice.waitEvent("CALL_CLOSED", aliceMark);
      const { record, media } = await recordAfter(records);
      assert.equal(record.disposition, "answered");
      assert.equal(record.from, "100");
      assert.equal(record.to, "102");
      assertMediaBothWays(media, 40);
      const dump = await engine.dump();
      assert.equal(JSON.stringify(dump).includes('transportIds":["'), false, "no transports left behind");
    }),
  );
});
