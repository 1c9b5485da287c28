/**
 * "Browser call" rows of `npm run bench -- browser-calls`: call setup time between two browsers
 * over loopback. A SipGateway with its MediaEngine (mediasoup) runs in this process on 127.0.0.1;
 * Debian's Chromium (playwright-core, never downloaded) opens the softphone page of the browser
 * tests (media/test-support/browser.ts: SIP.js over ws://, WebRTC) twice, registered as two
 * extensions. Then browser A calls browser B, B answers, both wait for audio, B hangs up; per call:
 *
 * - dial → INVITE at the callee: A's call() starts → B's SIP.js onInvite (after B sent its 180);
 * - dial → ringing: A's call() starts → A gets the 180 Ringing;
 * - answer → first audio (caller / callee): B's accept() → the first inbound audio packet counted
 *   by A's / B's RTCPeerConnection (getStats() inbound-rtp packetsReceived > 0, polled every 5 ms).
 *
 * Times are taken in the pages (performance.timeOrigin + performance.now()); the two pages' clocks
 * are compared from Node before and after the calls, and B's marks are moved onto A's clock.
 * Everything started here (browser, page server, gateway, mediasoup worker) is stopped on the way
 * out, on errors and as soon as the run's budget is spent.
 */
import type { Server } from "node:http";
import { cpus } from "node:os";
import type { Logger } from "../../media/common/Logger.ts";
import { PbxDirectory } from "../../media/pbx/PbxDirectory.ts";
import {
  type CallMarks,
  launchChromium,
  requireChromium,
  Softphone,
  servePage,
} from "../../media/test-support/browser.ts";
import { testExtensions } from "../../media/test-support/extensions.ts";
import { startCallGateway } from "../../media/test-support/gateway.ts";
import { until } from "../../media/test-support/wait.ts";
import { emptyConfig, PbxConfig } from "../../shared/index.ts";
import type { Target } from "../lib/report.ts";
import { summarize } from "../lib/stats.ts";
import type { Measured } from "./edge-config.ts";

export const BROWSER_CALL_SETTINGS = {
  pbxId: "bench-browser",
  domain: "bench-browser.pbx.edgepbx.local",
  caller: { extension: "100", password: "bench-browser-caller-1" },
  callee: { extension: "101", password: "bench-browser-callee-2" },
  /** Calls measured, after warm-up calls not counted (first getUserMedia, JIT, the worker's first transports). */
  calls: 20,
  warmUp: 2,
  /** RTP ports of the MediaEngine, clear of the SIP rows' (ours 20000-29999, rtpengine 30000-39999). */
  rtpPorts: { min: 41000, max: 41999 },
  /** How long to wait for each step of a call before failing the row. */
  stepTimeoutMs: 5000,
  /** getStats() poll interval in the page (POLL_MS in the page script). */
  pollMs: 5,
  /**
   * Answer → first audio, both sides: a callee says "hello" as they answer; what is not flowing by
   * then is clipped. On loopback nothing but our signalling and the two legs' ICE-lite + DTLS
   * handshakes with mediasoup is in it, so a real network's round trips come on top of this.
   */
  firstAudioTarget: { stat: "p99", max: 500 } as Target,
} as const;

/** Node ↔ page round trips: B's clock minus A's, from the tightest of `rounds` A-B-A brackets. */
async function clockOffset(a: Softphone, b: Softphone, rounds = 15): Promise<{ offset: number; bound: number }> {
  let best = { offset: 0, bound: Number.POSITIVE_INFINITY };
  for (let i = 0; i < rounds; i++) {
    const t1 = await a.run("clock");
    const tb = await b.run("clock");
    const t2 = await a.run("clock");
    if ((t2 - t1) / 2 < best.bound) best = { offset: tb - (t1 + t2) / 2, bound: (t2 - t1) / 2 };
  }
  return best;
}

const need = (marks: CallMarks, name: keyof CallMarks, who: string): number => {
  const at = marks[name];
  if (at === undefined) throw new Error(`browser calls: ${who} has no ${name} mark: ${JSON.stringify(marks)}`);
  return at;
};

const fixed = (n: number, digits = 1) => n.toFixed(digits);

/** The gateway's call log: its per-call info lines only with BENCH_VERBOSE, warnings and errors always (all on stderr). */
function gatewayLogger(log: (line: string) => void): Logger {
  const verbose = Boolean(process.env.BENCH_VERBOSE);
  return {
    debug: () => {},
    info: (message) => verbose && log(`edgepbx:calls ${message}`),
    warn: (message) => log(`edgepbx:calls WARN ${message}`),
    error: (message) => log(`edgepbx:calls ERROR ${message}`),
  };
}

/** Runs the browser call rows; stops everything it started before returning or throwing. */
export async function browserCallRows(
  budget: AbortSignal,
  log = (line: string) => console.error(line),
): Promise<Measured[]> {
  requireChromium();
  const s = BROWSER_CALL_SETTINGS;
  // Everything started, stopped last-first by drain(): on the way out, or at once when the budget
  // is spent (the pending page.evaluate calls then fail with the browser closed).
  const stops: (() => Promise<unknown>)[] = [];
  let stopping = false;
  const drain = async () => {
    stopping = true;
    for (let stop = stops.pop(); stop; stop = stops.pop())
      await stop().catch((e: Error) => log(`bench: stopping the browser calls: ${e.message}`));
  };
  const own = async <T>(value: T, stop: (v: T) => unknown): Promise<T> => {
    stops.push(async () => stop(value));
    if (stopping) {
      await drain();
      throw new Error("stopped: the bench's budget is spent");
    }
    return value;
  };
  const onAbort = () => void drain();
  budget.addEventListener("abort", onAbort, { once: true });
  const softphones: Softphone[] = [];

  try {
    if (budget.aborted) throw new Error("the bench's budget is spent");
    log(`bench: browser ↔ browser call setup in Chromium, ${s.calls} calls…`);
    const directory = new PbxDirectory();
    const passwords = { [s.caller.extension]: s.caller.password, [s.callee.extension]: s.callee.password };
    directory.upsert(
      s.pbxId,
      1,
      PbxConfig.parse({ ...emptyConfig(s.domain), extensions: testExtensions(s.domain, passwords, "ext_bench") }),
    );
    const calls = await own(
      await startCallGateway({ directory, rtpPorts: s.rtpPorts, logger: gatewayLogger(log) }),
      (g) => g.close(),
    );
    const http = await own(await servePage(), (server: Server) => {
      server.closeAllConnections();
      return new Promise<void>((done) => server.close(() => done()));
    });
    const browser = await own(await launchChromium(), (b) => b.close());
    const version = browser.version();
    const address = http.address();
    if (!address || typeof address !== "object") throw new Error("browser calls: the page server has no port");

    const open = async (name: string, who: { extension: string; password: string }, manualAnswer: boolean) => {
      const phone = new Softphone(name, await browser.newPage());
      softphones.push(phone);
      await phone.page.goto(`http://127.0.0.1:${address.port}/`);
      await phone.page.waitForFunction(() => "edge" in globalThis, undefined, { timeout: 10_000 });
      await phone.run("register", {
        server: `ws://127.0.0.1:${calls.gateway.transports.ws.local.port}`,
        uri: `sip:${who.extension}@${s.domain}`,
        username: who.extension,
        password: who.password,
        manualAnswer,
      });
      return phone;
    };
    const a = await open("caller", s.caller, false);
    const b = await open("callee", s.callee, true);
    const before = await clockOffset(a, b);

    const samples = { invite: [] as number[], ringing: [] as number[], audioA: [] as number[], audioB: [] as number[] };
    const established: number[] = [];
    const windows: number[] = [];
    const t = s.stepTimeoutMs;
    for (let i = 0; i < s.warmUp + s.calls; i++) {
      const records = calls.ended.length;
      await b.run("clearMarks");
      await a.run("call", `sip:${s.callee.extension}@${s.domain}`);
      const incoming = await b.run("waitMark", "incoming", t);
      const ringing = await a.run("waitMark", "ringing", t);
      await b.run("answer");
      const callerMarks = await a.run("waitMark", "firstAudio", t);
      const calleeMarks = await b.run("waitMark", "firstAudio", t);
      await b.run("hangup");
      await a.run("waitState", "Terminated", t);
      await b.run("waitState", "Terminated", t);
      if (!(await until(() => calls.ended.length > records, t, 5)))
        throw new Error(`browser calls: call ${i + 1} left no call record`);
      const record = calls.ended[records]?.record;
      if (record?.disposition !== "answered" || record.from !== s.caller.extension)
        throw new Error(`browser calls: call ${i + 1} was recorded as ${JSON.stringify(record)}`);
      if (i < s.warmUp) continue;
      // B's marks on A's clock.
      const onA = (at: number) => at - before.offset;
      const dial = need(ringing, "dial", "the caller");
      const acceptOnB = need(calleeMarks, "accept", "the callee");
      const accept = onA(acceptOnB);
      samples.invite.push(onA(need(incoming, "incoming", "the callee")) - dial);
      samples.ringing.push(need(ringing, "ringing", "the caller") - dial);
      samples.audioA.push(need(callerMarks, "firstAudio", "the caller") - accept);
      samples.audioB.push(need(calleeMarks, "firstAudio", "the callee") - acceptOnB);
      established.push(need(callerMarks, "established", "the caller") - accept);
      windows.push(
        need(callerMarks, "firstAudioWindow", "the caller"),
        need(calleeMarks, "firstAudioWindow", "the callee"),
      );
    }
    const after = await clockOffset(a, b);
    const left = await calls.engine.dump();

    const w = summarize(windows);
    const clocks =
      `page clocks: B − A = ${fixed(before.offset, 2)} ms ± ${fixed(before.bound, 2)} before the calls, ` +
      `${fixed(after.offset, 2)} ± ${fixed(after.bound, 2)} after (A-B-A page.evaluate brackets); B's marks moved onto A's clock by the first`;
    const setup =
      `${s.calls} calls (after ${s.warmUp} warm-up) browser A → browser B, one at a time, Chromium ${version} ` +
      `(2 pages of one browser, SIP.js 0.21.2 over ws://, Opus over WebRTC) ↔ our SipGateway + MediaEngine ` +
      `(1 mediasoup worker) in the bench's Node process, all on 127.0.0.1, ${cpus().length} cores shared; ` +
      `times from performance.timeOrigin + performance.now() in the pages; p99 of ${s.calls} = the slowest call; ` +
      "no peer (nothing else to run browsers against here)";
    const short = `${s.calls} calls, Chromium ${version} ↔ our gateway on 127.0.0.1, times taken in the pages, no peer (setup: see the first browser call row)`;
    const audio =
      `first audio = the first getStats() (every ${s.pollMs} ms) whose inbound-rtp audio packetsReceived > 0, ` +
      `taken when that getStats() resolved: the packet arrived up to one poll earlier (window p50 ${fixed(w.p50)} ms, ` +
      `max ${fixed(w.max)} ms, getStats() included); B answers from Node (page.evaluate) once the call rings, ` +
      `its accept() is marked in the page; the caller's row moves B's accept onto A's clock (see the first browser call row)`;
    const row = (name: string, ours: number[], note: string, target: Target | null = null): Measured => {
      const o = summarize(ours);
      return {
        row: {
          name,
          unit: "ms",
          p50: o.p50,
          p99: o.p99,
          n: o.n,
          peer: null,
          peerP50: null,
          peerP99: null,
          ratio: null,
          target,
          note,
        },
        ours,
      };
    };
    const firstAudio = (side: string, own: string) =>
      `B's accept() → the ${side}'s first inbound audio packet; ${own}; ${audio}; ${short}`;
    return [
      row(
        "browser call: dial → INVITE at callee",
        samples.invite,
        "A's call() starts (getUserMedia, offer, ICE gathering, INVITE, 407 + digest) → B's SIP.js onInvite, " +
          `which comes after B sent its 180; ${clocks}; ${setup}; left after the calls: ${left.calls} media sessions, ${left.rtpPortsInUse} RTP ports`,
      ),
      row(
        "browser call: dial → ringing",
        samples.ringing,
        `A's call() starts → A's SIP.js gets the 180 Ringing (B's 180 relayed by the B2BUA); both marks on A's clock; ${short}`,
      ),
      row(
        "browser call: answer → first audio (caller)",
        samples.audioA,
        firstAudio(
          "caller (A)",
          `B's 200 reaches A's SIP.js ${fixed(summarize(established).p50)} ms after accept() (p50), then A's ICE + DTLS with mediasoup`,
        ),
        s.firstAudioTarget,
      ),
      row(
        "browser call: answer → first audio (callee)",
        samples.audioB,
        firstAudio("callee (B)", "B's RTCPeerConnection is made by accept(), its ICE + DTLS with mediasoup after that"),
        s.firstAudioTarget,
      ),
    ];
  } catch (error) {
    for (const phone of softphones) log(`bench: ${phone.name}'s page console:\n${phone.log.slice(-30).join("\n")}`);
    if (budget.aborted) throw new Error(`browser call rows stopped: ${(error as Error).message}`);
    throw error;
  } finally {
    budget.removeEventListener("abort", onAbort);
    await drain();
  }
}
