/**
 * "SIP call setups/s with media anchored" rows of `npm run bench`:
 *
 * - "call setups/s (media)": completed calls per second through our gateway (B2BUA, every call's
 *   RTP anchored in mediasoup) and through Debian's Kamailio as registrar + stateful proxy
 *   anchoring the media in Debian's rtpengine (userspace forwarding, ng control protocol), in the
 *   same run with the same workload: sipp phones (bench/peers/call-uac.xml) call extensions whose
 *   registered phone is a sipp UAS (bench/peers/call-uas.xml) answering with SDP; each call is
 *   INVITE → 407 → INVITE with digest → 180 → 200 (SDP) → ACK → hold → BYE → 200. Rounds
 *   alternate between the two. Target: ≥ 0.5× Kamailio + rtpengine.
 * - "CPU per call (media)": CPU time of each side's processes (ours: the gateway's Node process
 *   and its mediasoup worker; theirs: Kamailio's processes and rtpengine) per completed call.
 *
 * Before measuring, one call on each side proves the media is anchored (the SDP each phone gets
 * names a port of the anchor, not the other phone's) and one with a wrong password proves the
 * INVITE's digest is checked. Every process and the temporary folder are removed on the way out,
 * also on errors, when the run's budget is spent and on SIGINT/SIGTERM (process exit).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { UdpPhone } from "../../media/test-support/UdpPhone.ts";
import { summarize } from "../lib/stats.ts";
import type { BenchPbx, CallsSample } from "../peers/gateway-runner.ts";
import type { Measured } from "./edge-config.ts";
import { BenchScratch, cpuOf, freeUdpPort, groupOf, md5, type Processes, Runner, rateOf } from "./sip-register.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const UAC = resolve(ROOT, "bench/peers/call-uac.xml");
const UAS = resolve(ROOT, "bench/peers/call-uas.xml");
const KAMAILIO_CFG = resolve(ROOT, "bench/peers/kamailio-proxy.cfg");

export const CALL_SETTINGS = {
  domain: "calls-0.bench.edgepbx.local",
  /** Extensions placing calls (cycled through line by line) and extensions called (round robin). */
  callers: 200,
  callees: 20,
  /** How long each answered call lasts before the caller's BYE (sipp -d). */
  holdMs: 100,
  /**
   * sipp -l: calls in flight at once (a new one starts as soon as one ends). At 300, Kamailio's
   * two workers, each waiting on rtpengine's ng round trip per INVITE/200/BYE, lose whole bursts
   * (180/200/BYE timeouts) on 2 cores; at 100 both sides complete every call.
   */
  inFlight: 100,
  /** Length of one measured segment, and the start of it left out (ramp-up). */
  segmentSeconds: 5,
  skipSeconds: 1,
  /** Segments per side; the order alternates each round. */
  rounds: 2,
  warmUpSeconds: 2,
  /** Kamailio UDP workers: one per core of the bench machine, as in the REGISTER rows. */
  kamailioChildren: 2,
  /**
   * Kamailio's shared memory (kamailio -m, MB). Debian's default of 64 runs out at a few hundred
   * calls/s (each call's transactions stay in memory for tm's wait timer, 5 s), after which it
   * answers 500; providers run with more.
   */
  kamailioShmMb: 256,
  /** Where rtpengine takes its RTP ports (ours: MediaEngine's default 20000-29999). */
  rtpenginePorts: { min: 30000, max: 39999 },
  oursPorts: { min: 20000, max: 29999 },
  targetRatio: 0.5,
} as const;

interface Tools {
  sipp: string;
  kamailio: string;
  rtpengine: string;
  sippVersion: string;
  kamailioVersion: string;
  rtpengineVersion: string;
}

/** sipp, Kamailio and rtpengine must be installed (Debian packages sip-tester, kamailio, rtpengine-daemon). */
function requireTools(): Tools {
  const find = (command: string) => {
    const found = spawnSync(
      "sh",
      ["-c", `command -v ${command} || ls /usr/sbin/${command} /usr/bin/${command} 2>/dev/null`],
      { encoding: "utf8" },
    );
    return found.stdout.trim().split("\n")[0] ?? "";
  };
  const wanted = [
    { command: "sipp", pkg: "sip-tester" },
    { command: "kamailio", pkg: "kamailio" },
    { command: "rtpengine", pkg: "rtpengine-daemon" },
  ];
  const paths = wanted.map((w) => find(w.command));
  const missing = wanted.filter((_, i) => !paths[i]);
  if (missing.length > 0) {
    throw new Error(
      `the call rows need ${missing.map((m) => `${m.command} (Debian package ${m.pkg})`).join(" and ")}, ` +
        `which ${missing.length === 1 ? "is" : "are"} not installed. Install with: ` +
        `apt-get update && apt-get install -y --no-install-recommends ${missing.map((m) => m.pkg).join(" ")}`,
    );
  }
  const [sipp, kamailio, rtpengine] = paths as [string, string, string];
  const version = (bin: string, flag: string, pattern: RegExp) => {
    const out = spawnSync(bin, [flag], { encoding: "utf8" });
    return pattern.exec(`${out.stdout}${out.stderr}`)?.[1] ?? "unknown";
  };
  return {
    sipp,
    kamailio,
    rtpengine,
    sippVersion: version(sipp, "-v", /SIPp v([0-9][^\s-]*)/),
    kamailioVersion: version(kamailio, "-v", /version: kamailio ([^\s]+)/),
    rtpengineVersion: version(rtpengine, "--version", /Version: ([^\s]+)/),
  };
}

/** One PBX: callers 1000…, callees 2000…, each with a password of its own. */
function makePbx(): BenchPbx & { callers: string[]; callees: string[] } {
  const s = CALL_SETTINGS;
  const callers = Array.from({ length: s.callers }, (_, i) => String(1000 + i));
  const callees = Array.from({ length: s.callees }, (_, i) => String(2000 + i));
  return {
    pbxId: "calls-0",
    domain: s.domain,
    users: [...callers, ...callees].map((user) => ({ user, password: `bench-call-${user}-pw` })),
    callers,
    callees,
  };
}

/** sipp's injection file for the callers; field3 carries the whole [authentication] keyword (see call-uac.xml). */
function injectionFile(pbx: ReturnType<typeof makePbx>, password?: string): string {
  const lines = ["SEQUENTIAL"];
  pbx.callers.forEach((user, i) => {
    const secret = password ?? pbx.users.find((u) => u.user === user)?.password ?? "";
    const callee = pbx.callees[i % pbx.callees.length] ?? "";
    lines.push(`${user};${secret};${pbx.domain};[authentication username=${user} password=${secret}];${callee}`);
  });
  return `${lines.join("\n")}\n`;
}

/** Output of a child process, the last `limit` characters of it. */
function tail(child: ChildProcess, limit = 6000): () => string {
  let out = "";
  const keep = (chunk: Buffer) => {
    out = `${out}${chunk.toString("utf8")}`.slice(-limit);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.once("exit", (code, signal) => {
    out += `\n[exited: ${code ?? signal}]`;
  });
  return () => out;
}

// ---- rtpengine's ng control protocol: "<cookie> <bencoded dictionary>" over UDP ----

type Bencoded = string | number | Bencoded[] | { [key: string]: Bencoded };

function bencode(value: Bencoded): string {
  if (typeof value === "number") return `i${value}e`;
  if (typeof value === "string") return `${Buffer.byteLength(value)}:${value}`;
  if (Array.isArray(value)) return `l${value.map(bencode).join("")}e`;
  return `d${Object.entries(value)
    .map(([k, v]) => bencode(k) + bencode(v))
    .join("")}e`;
}

function bdecode(text: Buffer, at = { i: 0 }): Bencoded {
  const c = String.fromCharCode(text[at.i] ?? 0);
  if (c === "i") {
    const end = text.indexOf("e", at.i);
    const n = Number(text.subarray(at.i + 1, end).toString());
    at.i = end + 1;
    return n;
  }
  if (c === "l" || c === "d") {
    at.i++;
    const items: Bencoded[] = [];
    while (text[at.i] !== 0x65 /* e */) {
      if (at.i >= text.length) throw new Error("bencode: truncated");
      items.push(bdecode(text, at));
    }
    at.i++;
    if (c === "l") return items;
    const dict: Record<string, Bencoded> = {};
    for (let k = 0; k + 1 < items.length; k += 2) dict[String(items[k])] = items[k + 1] as Bencoded;
    return dict;
  }
  const colon = text.indexOf(":", at.i);
  if (colon < 0) throw new Error("bencode: not a string");
  const length = Number(text.subarray(at.i, colon).toString());
  at.i = colon + 1 + length;
  return text.subarray(colon + 1, colon + 1 + length).toString("utf8");
}

/** Sends one ng command to rtpengine and resolves with its answer dictionary. */
function ng(port: number, command: Record<string, Bencoded>, timeoutMs = 1000): Promise<Record<string, Bencoded>> {
  return new Promise((done, reject) => {
    const socket = createSocket("udp4");
    const cookie = Math.random().toString(36).slice(2, 10);
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`rtpengine: no answer to ${String(command.command)} in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("message", (data) => {
      const space = data.indexOf(" ");
      if (data.subarray(0, space).toString() !== cookie) return;
      clearTimeout(timer);
      socket.close();
      try {
        done(bdecode(data.subarray(space + 1)) as Record<string, Bencoded>);
      } catch (error) {
        reject(error);
      }
    });
    socket.send(`${cookie} ${bencode(command)}`, port, "127.0.0.1");
  });
}

async function startRtpengine(
  tools: Tools,
  processes: Processes,
  dir: string,
): Promise<{ port: number; pid: number; logs: () => string }> {
  const port = await freeUdpPort();
  const { min, max } = CALL_SETTINGS.rtpenginePorts;
  // No config file (Debian's /etc/rtpengine/rtpengine.conf asks for the kernel module), no kernel
  // forwarding table (--table=-1: packets are relayed in userspace), deleted calls freed at once
  // (as ours: the bench opens thousands of calls a minute).
  const args = [
    "--config-file=none",
    "--foreground",
    "--log-stderr",
    "--log-level=4",
    "--no-log-timestamps",
    "--table=-1",
    "--interface=127.0.0.1",
    `--listen-ng=127.0.0.1:${port}`,
    `--port-min=${min}`,
    `--port-max=${max}`,
    "--delete-delay=0",
  ];
  const child = spawn(tools.rtpengine, args, { cwd: dir, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  processes.add(child, true);
  const logs = tail(child);
  if (!child.pid) throw new Error(`rtpengine did not start:\n${logs()}`);
  for (let attempt = 0; ; attempt++) {
    const pong = await ng(port, { command: "ping" }, 300).catch(() => null);
    if (pong?.result === "pong") break;
    if (attempt >= 20 || child.exitCode !== null)
      throw new Error(`rtpengine does not answer ng pings on 127.0.0.1:${port}:\n${logs()}`);
  }
  return { port, pid: child.pid, logs };
}

/** Kamailio's runtime config: the checked-in proxy plus listen address, workers, rtpengine and the HA1 table. */
async function kamailioConfig(port: number, rtpenginePort: number, pbx: BenchPbx): Promise<string> {
  const template = await readFile(KAMAILIO_CFG, "utf8");
  const entries = pbx.users.map(
    ({ user, password }) => `\t$sht(ha1=>${user}@${pbx.domain}) = "${md5(`${user}:${pbx.domain}:${password}`)}";`,
  );
  const defines = [
    `#!define BENCH_LISTEN udp:127.0.0.1:${port}`,
    `#!define BENCH_CHILDREN ${CALL_SETTINGS.kamailioChildren}`,
    `#!define BENCH_RTPENGINE "udp:127.0.0.1:${rtpenginePort}"`,
  ];
  return [
    template.replace(/^#!KAMAILIO\n/, `#!KAMAILIO\n${defines.join("\n")}\n`),
    "event_route[htable:mod-init] {",
    ...entries,
    "}",
    "",
  ].join("\n");
}

async function startKamailio(
  tools: Tools,
  processes: Processes,
  dir: string,
  pbx: BenchPbx,
  rtpenginePort: number,
): Promise<{ port: number; pid: number; logs: () => string }> {
  const port = await freeUdpPort();
  const cfg = join(dir, "kamailio-proxy.cfg");
  await writeFile(cfg, await kamailioConfig(port, rtpenginePort, pbx));
  const check = spawnSync(tools.kamailio, ["-c", "-f", cfg], { encoding: "utf8" });
  if (check.status !== 0) throw new Error(`kamailio -c rejected ${cfg}:\n${check.stdout}${check.stderr}`);
  // Its own process group: Kamailio's workers are its children and must go with it.
  const args = ["-DD", "-E", "-m", String(CALL_SETTINGS.kamailioShmMb), "-f", cfg, "-w", dir, "-Y", dir];
  const child = spawn(tools.kamailio, args, {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  processes.add(child, true);
  const logs = tail(child);
  if (!child.pid) throw new Error(`kamailio did not start:\n${logs()}`);
  return { port, pid: child.pid, logs };
}

interface Uas {
  port: number;
  mediaPort: number;
  /** Offer ports it logged so far (one line per INVITE received). */
  offers: () => Promise<number[]>;
  /** Its output, and the start of its error log (unexpected messages). */
  logs: () => Promise<string>;
  alive: () => boolean;
}

/** The called phones: one sipp in server mode, answering every call it gets. */
async function startUas(tools: Tools, processes: Processes, dir: string, name: string): Promise<Uas> {
  const port = await freeUdpPort();
  const mediaPort = await freeUdpPort();
  const log = join(dir, `uas-${name}.log`);
  const errors = join(dir, `uas-${name}-errors.log`);
  const args = ["-nostdin", "-sf", UAS, "-i", "127.0.0.1", "-p", String(port), "-mp", String(mediaPort)].concat([
    "-buff_size",
    String(4 * 1024 * 1024),
    "-trace_logs",
    "-log_file",
    log,
    "-trace_err",
    "-error_file",
    errors,
  ]);
  const child = spawn(tools.sipp, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  processes.add(child);
  const output = tail(child);
  const logs = async () => `${output()}\n${(await readFile(errors, "utf8").catch(() => "")).slice(0, 3000)}`;
  const alive = () => child.exitCode === null && child.signalCode === null;
  // sipp binds its sockets at once; give it a moment, and fail early if it died.
  await new Promise((r) => setTimeout(r, 200));
  if (!alive()) throw new Error(`sipp UAS ${name} exited at start:\n${await logs()}`);
  return {
    port,
    mediaPort,
    logs,
    alive,
    offers: async () => {
      const text = await readFile(log, "utf8").catch(() => "");
      return [...text.matchAll(/^offer m=audio (\d+) /gm)].map((m) => Number(m[1]));
    },
  };
}

/** Registers every callee at `server` with the UAS's port as Contact (REGISTER → 401 → REGISTER → 200). */
async function registerCallees(server: number, uas: Uas, pbx: ReturnType<typeof makePbx>, name: string) {
  const phone = await UdpPhone.open({ host: "127.0.0.1", port: server });
  try {
    for (const extension of pbx.callees) {
      const password = pbx.users.find((u) => u.user === extension)?.password ?? "";
      let status = 0;
      for (let attempt = 0; attempt < 5 && status !== 200; attempt++) {
        const request = phone.register(extension, pbx.domain, {
          Contact: `<sip:${extension}@127.0.0.1:${uas.port}>`,
          Expires: "3600",
        });
        status = (await phone.registerWithAuth(request, extension, password).catch(() => null))?.status ?? 0;
      }
      if (status !== 200) throw new Error(`${name}: registering callee ${extension} answered ${status}`);
    }
  } finally {
    phone.close();
  }
}

interface CallRun {
  code: number;
  output: string;
  rate: number;
  successful: number;
  failed: number;
  retransmissions: number;
  /** The answer's m= port of each call, when run with `log`. */
  answers: number[];
  /** The start of sipp's error log (unexpected messages, timeouts): why calls failed. */
  errors: string;
}

class Caller {
  private runs = 0;

  constructor(
    private readonly tools: Tools,
    private readonly processes: Processes,
    private readonly dir: string,
    private readonly signal: AbortSignal,
  ) {}

  /** sipp as the calling phones; `seconds`: stop placing calls then (calls in flight still end). */
  async run(options: {
    target: string;
    injection: string;
    seconds: number;
    calls?: number;
    skipSeconds?: number;
    /** Log each answer's m= port (-trace_logs). */
    log?: boolean;
  }): Promise<CallRun & { mediaPort: number }> {
    const s = CALL_SETTINGS;
    const id = ++this.runs;
    const stats = join(this.dir, `uac-${id}.csv`);
    const log = join(this.dir, `uac-${id}.log`);
    const errors = join(this.dir, `uac-${id}-errors.log`);
    const mediaPort = await freeUdpPort();
    const args = [
      "-nostdin",
      options.target,
      "-sf",
      UAC,
      "-inf",
      options.injection,
      "-i",
      "127.0.0.1",
      "-p",
      String(await freeUdpPort()),
      "-mp",
      String(mediaPort),
      "-d",
      String(s.holdMs),
      // No rate limit of sipp's own: -l (calls in flight) is what paces the load.
      "-r",
      "100000",
      "-buff_size",
      String(4 * 1024 * 1024),
      "-l",
      String(s.inFlight),
      "-m",
      String(options.calls ?? 100_000_000),
      // A call stuck waiting (a message lost for good) fails instead of holding a slot.
      "-recv_timeout",
      "8000",
      "-trace_stat",
      "-stf",
      stats,
      "-fd",
      "1",
      "-timeout",
      `${options.seconds}s`,
      "-trace_err",
      "-error_file",
      errors,
      ...(options.log ? ["-trace_logs", "-log_file", log] : []),
    ];
    const limitMs = (options.seconds + 15) * 1000;
    const { code, output } = await new Promise<{ code: number; output: string }>((done, reject) => {
      if (this.signal.aborted) return reject(new Error("sipp: aborted"));
      const child = spawn(this.tools.sipp, args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
      this.processes.add(child);
      const out = tail(child);
      const stop = () => child.kill("SIGKILL");
      const timer = setTimeout(stop, limitMs);
      this.signal.addEventListener("abort", stop, { once: true });
      child.once("error", reject);
      child.once("close", (exitCode, signal) => {
        clearTimeout(timer);
        this.signal.removeEventListener("abort", stop);
        if (signal) reject(new Error(`sipp ${args.join(" ")}: killed (${signal})\n${out()}`));
        else done({ code: exitCode ?? -1, output: out() });
      });
    });
    const table = await readFile(stats, "utf8").catch(() => "");
    const measured = rateOf(table, options.skipSeconds ?? 0, options.seconds);
    const answers = options.log
      ? [...(await readFile(log, "utf8").catch(() => "")).matchAll(/^answer m=audio (\d+) /gm)].map((m) => Number(m[1]))
      : [];
    const errorLog = await readFile(errors, "utf8").catch(() => "");
    return { code, output, ...measured, answers, errors: errorLog.slice(0, 3000), mediaPort };
  }
}

const fixed = (n: number, digits = 0) => n.toFixed(digits);
const inRange = (port: number, range: { min: number; max: number }) => port >= range.min && port <= range.max;

/** Runs the call rows; stops everything it started before returning or throwing. */
export async function callRows(budget: AbortSignal, log = (line: string) => console.error(line)): Promise<Measured[]> {
  const tools = requireTools();
  const s = CALL_SETTINGS;
  const scratch = await BenchScratch.open("edgepbx-bench-calls-", budget);
  const { dir, processes } = scratch;
  const caller = new Caller(tools, processes, dir, budget);
  try {
    log("bench: SIP call setups/s with media anchored, ours and Kamailio + rtpengine…");
    const pbx = makePbx();
    const callers = join(dir, "callers.csv");
    await writeFile(callers, injectionFile(pbx));
    const wrong = join(dir, "wrong-password.csv");
    await writeFile(wrong, injectionFile(pbx, "not-the-password"));

    // BENCH_SIP_CPU_PROF=<dir>: a .cpuprofile of our gateway under this load too.
    const gateway = Runner.start(processes, process.env.BENCH_SIP_CPU_PROF || undefined);
    const started = await gateway.ask({ cmd: "start", media: true });
    await gateway.ask({ cmd: "load", pbxs: [pbx] });
    const rtpengine = await startRtpengine(tools, processes, dir);
    const kamailio = await startKamailio(tools, processes, dir, pbx, rtpengine.port);
    const gatewayPids = [gateway.child.pid ?? 0, ...(started.mediaPids ?? [])];
    const sides = {
      ours: {
        label: "ours",
        server: started.port ?? 0,
        uas: await startUas(tools, processes, dir, "ours"),
        pids: () => gatewayPids,
        logs: () => "",
        anchorPorts: s.oursPorts,
      },
      kamailio: {
        label: "kamailio+rtpengine",
        server: kamailio.port,
        uas: await startUas(tools, processes, dir, "kamailio"),
        pids: () => [...groupOf(kamailio.pid), rtpengine.pid],
        logs: () => `${kamailio.logs().slice(-3000)}\n--- rtpengine:\n${rtpengine.logs().slice(-3000)}`,
        anchorPorts: s.rtpenginePorts,
      },
    };
    const results = {
      ours: { rates: [] as number[], failed: 0, retrans: 0, calls: 0, cpu: 0, wall: 0, cpuPerCall: [] as number[] },
      kamailio: { rates: [] as number[], failed: 0, retrans: 0, calls: 0, cpu: 0, wall: 0, cpuPerCall: [] as number[] },
    };

    for (const name of ["ours", "kamailio"] as const) {
      const side = sides[name];
      const target = `127.0.0.1:${side.server}`;
      await registerCallees(side.server, side.uas, pbx, side.label);
      // One call: both phones must get SDP naming a port of the anchor, not each other's.
      const probe = await caller.run({ target, injection: callers, calls: 1, seconds: 5, log: true });
      const offers = await side.uas.offers();
      const answer = probe.answers[0];
      const offer = offers[offers.length - 1];
      if (probe.successful !== 1 || answer === undefined || offer === undefined)
        throw new Error(
          `${side.label}: the first call did not complete (${probe.successful} ok, ${probe.failed} failed)\n` +
            `${probe.output}\n${await side.uas.logs()}\n${side.logs()}`,
        );
      if (!inRange(answer, side.anchorPorts) || !inRange(offer, side.anchorPorts))
        throw new Error(
          `${side.label}: media not anchored: the caller (RTP port ${probe.mediaPort}) got an answer for port ${answer}, ` +
            `the callee (RTP port ${side.uas.mediaPort}) an offer for port ${offer}; expected ports ${side.anchorPorts.min}-${side.anchorPorts.max}`,
        );
      // A wrong password must not get a call through: proves the INVITE's digest is checked.
      // (The refused call ends with the second 407; sipp then lingers to its timeout, hence 2 s.)
      const refused = await caller.run({ target, injection: wrong, calls: 1, seconds: 2 });
      if (refused.successful !== 0 || refused.failed !== 1)
        throw new Error(
          `${side.label}: a call with a wrong password was not refused (${refused.successful} ok, ${refused.failed} failed):\n` +
            `${refused.output}\n${refused.errors}`,
        );
      if (process.env.BENCH_VERBOSE) log(`bench:   wrong password on ${side.label}:\n${refused.errors}`);
      const warm = await caller.run({ target, injection: callers, seconds: s.warmUpSeconds });
      // A cold start may lose some of the first burst (sockets, port pools, caches filling); the
      // measured rounds count their failures in the row's note. Nothing completing is an error.
      if (warm.failed > 0) log(`bench:   warm-up ${side.label}: ${warm.successful} calls, ${warm.failed} failed`);
      if (warm.successful === 0)
        throw new Error(
          `${side.label}: ${warm.successful} calls succeeded and ${warm.failed} failed during warm-up\n` +
            `${warm.output}\n${side.logs()}`,
        );
    }

    for (let round = 0; round < s.rounds; round++) {
      const order = round % 2 === 0 ? (["ours", "kamailio"] as const) : (["kamailio", "ours"] as const);
      for (const name of order) {
        const side = sides[name];
        const one = results[name];
        const pids = side.pids();
        const cpuBefore = cpuOf(pids).total;
        const wallBefore = performance.now();
        const run = await caller.run({
          target: `127.0.0.1:${side.server}`,
          injection: callers,
          seconds: s.segmentSeconds,
          skipSeconds: s.skipSeconds,
        });
        const cpu = cpuOf(pids).total - cpuBefore;
        one.rates.push(run.rate);
        one.failed += run.failed;
        one.retrans += run.retransmissions;
        one.calls += run.successful;
        one.cpu += cpu;
        one.wall += (performance.now() - wallBefore) / 1000;
        one.cpuPerCall.push((cpu / Math.max(1, run.successful)) * 1e6);
        log(
          `bench:   round ${round + 1} ${side.label}: ${fixed(run.rate)} calls/s, ${run.failed} failed, ${run.retransmissions} retransmissions`,
        );
        if (!side.uas.alive())
          throw new Error(`${side.label}: the called phones' sipp died:\n${await side.uas.logs()}`);
        if (run.failed > 0 && process.env.BENCH_VERBOSE)
          log(
            `bench:   sipp errors of ${side.label}:\n${run.errors}\nbench:   its logs:\n${side.logs()}\n` +
              `bench:   the called phones:\n${await side.uas.logs()}`,
          );
      }
    }

    // Every call has ended (sipp waited for its BYEs): nothing may be left in either anchor.
    await new Promise((r) => setTimeout(r, 300));
    const ours: CallsSample = (await gateway.ask({ cmd: "calls" })).calls ?? {
      ended: {},
      active: -1,
      mediaCalls: -1,
      rtpPortsInUse: -1,
    };
    const stats = await ng(rtpengine.port, { command: "statistics" }).catch(() => null);
    const section = (name: string) =>
      (stats?.statistics as Record<string, Record<string, Bencoded>> | undefined)?.[name];
    const rtpengineLeft = Number(section("currentstatistics")?.sessionsown ?? -1);
    const rtpengineManaged = Number(section("totalstatistics")?.managedsessions ?? -1);

    const o = summarize(results.ours.rates);
    const k = summarize(results.kamailio.rates);
    // No ratio against a peer that completed nothing: its setup failed, not ours.
    const ratio = k.p50 > 0 ? o.p50 / k.p50 : null;
    const peer = `kamailio ${tools.kamailioVersion} + rtpengine ${tools.rtpengineVersion}`;
    const records = Object.entries(ours.ended)
      .map(([disposition, n]) => `${n} ${disposition}`)
      .join(", ");
    const setups: Measured = {
      row: {
        name: "call setups/s (media)",
        unit: "calls/s",
        p50: o.p50,
        p99: o.p99,
        n: o.n,
        peer,
        peerP50: k.p50,
        peerP99: k.p99,
        ratio,
        target: { stat: "ratio", min: s.targetRatio },
        note:
          `completed calls per second (INVITE → 407 → INVITE with MD5 digest → 180 → 200 with SDP → ACK → ${s.holdMs} ms → BYE → 200, ` +
          `media anchored: ours in mediasoup (B2BUA, one Node process + 1 mediasoup worker), theirs in rtpengine ${tools.rtpengineVersion} ` +
          `(userspace, --table=-1, ng over UDP) behind kamailio ${tools.kamailioVersion} (stateful proxy + registrar, ${s.kamailioChildren} UDP workers, ` +
          `digest on REGISTER and INVITE from the same HA1s, record-routed, rtpengine_manage), over ${s.segmentSeconds - s.skipSeconds} s ` +
          `of each ${s.segmentSeconds} s segment, ${s.rounds} alternating rounds (p50 = median round, p99 column = best round); ` +
          `rounds ours ${results.ours.rates.map((r) => fixed(r)).join("/")}, kamailio+rtpengine ${results.kamailio.rates.map((r) => fixed(r)).join("/")}; ` +
          `failed calls ${results.ours.failed}/${results.kamailio.failed}, retransmissions ${results.ours.retrans}/${results.kamailio.retrans} (ours/theirs); ` +
          `sipp ${tools.sippVersion} UAC (${s.callers} callers, ${s.inFlight} calls in flight, sipp -l) → ${s.callees} extensions registered to one sipp UAS, ` +
          `UDP on 127.0.0.1, no RTP sent (the cost measured is setting media up and tearing it down); ` +
          `left after the run: ours ${ours.active} calls, ${ours.mediaCalls} media sessions, ${ours.rtpPortsInUse} RTP ports ` +
          `(call records: ${records || "none"}), rtpengine ${rtpengineLeft} sessions (of ${rtpengineManaged} it managed)`,
      },
      ours: results.ours.rates,
      peer: results.kamailio.rates,
    };
    const oc = summarize(results.ours.cpuPerCall);
    const kc = summarize(results.kamailio.cpuPerCall);
    const busy = (x: typeof results.ours) => `${fixed(x.cpu / Math.max(x.wall, 1e-9), 2)} cores busy`;
    const cpu: Measured = {
      row: {
        name: "CPU per call (media)",
        unit: "µs",
        p50: oc.p50,
        p99: oc.p99,
        n: oc.n,
        peer,
        peerP50: kc.p50,
        peerP99: kc.p99,
        ratio: kc.p50 > 0 ? oc.p50 / kc.p50 : null,
        target: null,
        note:
          `CPU time (user + system, from /proc) per completed call over whole call setups/s segments; lower is better, ` +
          `ratio = ours ÷ theirs; p99 column = worst round; ours = the gateway's Node process + its mediasoup worker ` +
          `(${busy(results.ours)}), theirs = kamailio's processes + rtpengine (${busy(results.kamailio)}), of ${cpus().length} cores shared with the two sipps`,
      },
      ours: results.ours.cpuPerCall,
      peer: results.kamailio.cpuPerCall,
    };
    return [setups, cpu];
  } catch (error) {
    if (budget.aborted) throw new Error(`call rows stopped: ${(error as Error).message}`);
    throw error;
  } finally {
    await scratch.close();
  }
}
