/**
 * SIP rows of `npm run bench`:
 *
 * - "REGISTER/s (digest)": completed registrations per second (REGISTER → 401 → REGISTER with
 *   MD5 digest → 200) against our gateway and against Debian's Kamailio in the same run, the same
 *   sipp scenario (test/sipp/register-load.xml), users, domains, HA1s and settings; rounds
 *   alternate between the two so that drift on the machine hits both. Target: ≥ 1.0× Kamailio.
 * - "CPU per REGISTER": CPU time (user + system) of each server's processes per completed
 *   registration during those same segments: what the REGISTER/s figure costs, whatever the
 *   number of cores or workers.
 * - "memory, 10k registered": RSS of the process running our gateway once 10,000 distinct
 *   extensions (10 PBX domains × 1,000) have registered. Target: ≤ 200 MB.
 *
 * The gateway runs in its own Node process (bench/peers/gateway-runner.ts), Kamailio with
 * bench/peers/kamailio-registrar.cfg, sipp as Debian ships it; every process started here is
 * stopped on the way out, also on errors and when the run's budget is spent.
 */
import { type ChildProcess, fork, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { summarize } from "../lib/stats.ts";
import type { BenchPbx, MemorySample, RunnerReply, RunnerRequest } from "../peers/gateway-runner.ts";
import type { Measured } from "./edge-config.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const SCENARIO = resolve(ROOT, "test/sipp/register-load.xml");
const RUNNER = resolve(ROOT, "bench/peers/gateway-runner.ts");
const KAMAILIO_CFG = resolve(ROOT, "bench/peers/kamailio-registrar.cfg");

export const SIP_SETTINGS = {
  /** REGISTER/s: the users cycled through, as PBX domains × extensions. */
  throughputDomains: 4,
  throughputUsersPerDomain: 500,
  /** Memory: distinct extensions that register once each. */
  memoryDomains: 10,
  memoryUsersPerDomain: 1000,
  /**
   * sipp -l: registrations in flight at once (sipp starts a new one as soon as one ends). 100 is
   * where Kamailio peaks on the 2-core bench machine (more only adds UDP drops and retransmissions);
   * ours is flat from 50 up.
   */
  inFlight: 100,
  /** Length of one measured segment, and the start of it left out (ramp-up). */
  segmentSeconds: 5,
  skipSeconds: 1,
  /** Segments per side; the order alternates each round. */
  rounds: 3,
  warmUpSeconds: 2,
  /** Kamailio UDP workers: one per core of the bench machine is its usual setting. */
  kamailioChildren: 2,
  targetRatio: 1.0,
  targetMemoryMb: 200,
} as const;

const MB = 1024 * 1024;

interface Tools {
  sipp: string;
  kamailio: string;
  sippVersion: string;
  kamailioVersion: string;
}

/** sipp and Kamailio must be installed (Debian packages sip-tester and kamailio). */
function requireTools(): Tools {
  const find = (command: string) => {
    const found = spawnSync("sh", ["-c", `command -v ${command} || ls /usr/sbin/${command} 2>/dev/null`], {
      encoding: "utf8",
    });
    return found.stdout.trim().split("\n")[0] ?? "";
  };
  const sipp = find("sipp");
  const kamailio = find("kamailio");
  const missing = [
    ...(sipp ? [] : [{ command: "sipp", pkg: "sip-tester" }]),
    ...(kamailio ? [] : [{ command: "kamailio", pkg: "kamailio" }]),
  ];
  if (missing.length > 0) {
    const pkgs = missing.map((m) => m.pkg).join(" ");
    throw new Error(
      `the SIP rows need ${missing.map((m) => `${m.command} (Debian package ${m.pkg})`).join(" and ")}, ` +
        `which ${missing.length === 1 ? "is" : "are"} not installed. Install with: ` +
        `apt-get update && apt-get install -y --no-install-recommends ${pkgs}`,
    );
  }
  const version = (bin: string, flag: string, pattern: RegExp) => {
    const out = spawnSync(bin, [flag], { encoding: "utf8" });
    return pattern.exec(`${out.stdout}${out.stderr}`)?.[1] ?? "unknown";
  };
  return {
    sipp,
    kamailio,
    sippVersion: version(sipp, "-v", /SIPp v([0-9][^\s-]*)/),
    kamailioVersion: version(kamailio, "-v", /version: kamailio ([^\s]+)/),
  };
}

/** Every process started here, so that all of them are stopped whatever happens. */
/**
 * A SIP row's scratch: a temporary folder and the processes it starts, all removed by close(),
 * when the run's budget is spent (processes), and on a SIGINT exit (the folder).
 */
export class BenchScratch {
  readonly processes = new Processes();
  private readonly removeDir: () => void;
  private readonly stopOnAbort = () => void this.processes.stopAll(500);

  private constructor(
    readonly dir: string,
    private readonly budget: AbortSignal,
  ) {
    // On SIGINT the bench exits without waiting for close(); the folder goes anyway.
    this.removeDir = () => rmSync(dir, { recursive: true, force: true });
    process.once("exit", this.removeDir);
    budget.addEventListener("abort", this.stopOnAbort, { once: true });
  }

  static async open(prefix: string, budget: AbortSignal): Promise<BenchScratch> {
    return new BenchScratch(await mkdtemp(join(tmpdir(), prefix)), budget);
  }

  async close(): Promise<void> {
    this.budget.removeEventListener("abort", this.stopOnAbort);
    await this.processes.stopAll();
    await rm(this.dir, { recursive: true, force: true }).catch(() => {});
    process.off("exit", this.removeDir);
  }
}

export class Processes {
  private readonly live = new Set<ChildProcess>();
  private readonly groups = new Set<ChildProcess>();

  constructor() {
    process.once("exit", this.killNow);
  }

  add(child: ChildProcess, ownGroup = false): ChildProcess {
    this.live.add(child);
    if (ownGroup) this.groups.add(child);
    child.once("exit", () => {
      this.live.delete(child);
      this.groups.delete(child);
    });
    return child;
  }

  /**
   * Asks each process to stop (IPC disconnect for the gateway runners, SIGTERM for the others),
   * then SIGKILL after a grace period (to the whole group for Kamailio, whose workers are its children).
   */
  async stopAll(graceMs = 3000): Promise<void> {
    const waiting = [...this.live].map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          const group = this.groups.has(child) ? child.pid : undefined;
          child.once("exit", () => {
            // Kamailio's main process stops its workers; anything of its group left over goes now.
            if (group) this.killGroup(group, "SIGKILL");
            done();
          });
          const hard = setTimeout(() => this.kill(child, "SIGKILL"), graceMs);
          child.once("exit", () => clearTimeout(hard));
          // A gateway runner leaves when its IPC channel closes (and writes its CPU profile, if any).
          if (child.connected) child.disconnect();
          else this.kill(child, "SIGTERM");
        }),
    );
    await Promise.all(waiting);
    process.off("exit", this.killNow);
  }

  private kill(child: ChildProcess, signal: NodeJS.Signals): void {
    if (!child.pid) return;
    if (this.groups.has(child)) this.killGroup(child.pid, signal);
    else child.kill(signal);
  }

  private killGroup(pgid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-pgid, signal);
    } catch {
      // Already gone.
    }
  }

  /** For process exit: no waiting is possible, so SIGKILL straight away. */
  private readonly killNow = () => {
    for (const child of this.live) this.kill(child, "SIGKILL");
  };
}

export function freeUdpPort(): Promise<number> {
  return new Promise((done, reject) => {
    const socket = createSocket("udp4");
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      const { port } = socket.address();
      socket.close(() => done(port));
    });
  });
}

export const md5 = (s: string) => createHash("md5").update(s).digest("hex");

const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;

/** Fields of /proc/<pid>/stat after the command name: [0] is field 3 (state). */
function procStat(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** CPU seconds used so far (user + system, and system alone) by these processes (Linux /proc). */
export function cpuOf(pids: number[]): { total: number; system: number } {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const f = procStat(pid);
    user += Number(f?.[11] ?? 0); // utime, field 14
    system += Number(f?.[12] ?? 0); // stime, field 15
  }
  return { total: (user + system) / CLOCK_TICKS, system: system / CLOCK_TICKS };
}

/** Every process of a process group: Kamailio and the workers it forked. */
export function groupOf(pgid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => Number(procStat(pid)?.[2]) === pgid); // pgrp, field 5
}

function makePbxs(prefix: string, domains: number, usersPerDomain: number): BenchPbx[] {
  return Array.from({ length: domains }, (_, d) => ({
    pbxId: `${prefix}-${d}`,
    domain: `${prefix}-${d}.bench.edgepbx.local`,
    users: Array.from({ length: usersPerDomain }, (_, i) => ({
      user: String(1000 + i),
      password: `bench-${prefix}-${d}-${i}-pw`,
    })),
  }));
}

/**
 * sipp's injection file. The fourth field carries the whole [authentication] keyword: sipp 3.6
 * cannot nest [field] keywords inside [authentication ...], but parses one injected from a field.
 */
function injectionFile(pbxs: BenchPbx[]): string {
  const lines = ["SEQUENTIAL"];
  for (const pbx of pbxs)
    for (const { user, password } of pbx.users)
      lines.push(`${user};${password};${pbx.domain};[authentication username=${user} password=${password}]`);
  return `${lines.join("\n")}\n`;
}

/** Kamailio's runtime config: the checked-in registrar plus listen address, workers and the HA1 table. */
async function kamailioConfig(port: number, pbxs: BenchPbx[]): Promise<string> {
  const template = await readFile(KAMAILIO_CFG, "utf8");
  const entries = pbxs.flatMap((pbx) =>
    pbx.users.map(
      ({ user, password }) => `\t$sht(ha1=>${user}@${pbx.domain}) = "${md5(`${user}:${pbx.domain}:${password}`)}";`,
    ),
  );
  return [
    template.replace(
      /^#!KAMAILIO\n/,
      `#!KAMAILIO\n#!define BENCH_LISTEN udp:127.0.0.1:${port}\n#!define BENCH_CHILDREN ${SIP_SETTINGS.kamailioChildren}\n`,
    ),
    "event_route[htable:mod-init] {",
    ...entries,
    "}",
    "",
  ].join("\n");
}

/** One message to the gateway runner, one answer back. */
export class Runner {
  private constructor(
    readonly child: ChildProcess,
    private readonly output: () => string,
  ) {}

  /** `profileDir`: write a V8 CPU profile of the whole process there when it exits (--cpu-prof). */
  static start(processes: Processes, profileDir?: string): Runner {
    let output = "";
    const child = fork(RUNNER, [], {
      cwd: ROOT,
      execArgv: [
        "--import",
        "tsx",
        "--expose-gc",
        ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
      ],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    processes.add(child);
    const keep = (chunk: Buffer) => {
      output = `${output}${chunk.toString("utf8")}`.slice(-4000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    return new Runner(child, () => output);
  }

  ask(request: RunnerRequest, timeoutMs = 20_000): Promise<RunnerReply & { ok: true }> {
    return new Promise((done, reject) => {
      const fail = (why: string) => {
        cleanup();
        reject(new Error(`gateway runner: ${request.cmd}: ${why}\n${this.output()}`));
      };
      const onMessage = (reply: RunnerReply) => {
        cleanup();
        if (reply.ok) done(reply);
        else reject(new Error(`gateway runner: ${request.cmd}: ${reply.error}`));
      };
      const onExit = (code: number | null, signal: string | null) => fail(`exited (${code ?? signal})`);
      const timer = setTimeout(() => fail(`no answer in ${timeoutMs} ms`), timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.child.off("message", onMessage);
        this.child.off("exit", onExit);
      };
      this.child.on("message", onMessage);
      this.child.once("exit", onExit);
      this.child.send(request);
    });
  }

  async memory(): Promise<MemorySample> {
    const reply = await this.ask({ cmd: "memory" });
    if (!reply.memory) throw new Error("gateway runner: no memory sample");
    return reply.memory;
  }
}

interface SippResult {
  code: number;
  output: string;
  /** Completed registrations per second over the measured part (after skipSeconds). */
  rate: number;
  successful: number;
  failed: number;
  retransmissions: number;
  seconds: number;
}

interface SippRun {
  target: string;
  injection: string;
  /** Stop starting calls after this long (sipp -timeout); in-flight calls still finish. */
  seconds?: number;
  /** Or stop after this many calls (sipp -m). */
  calls?: number;
  skipSeconds?: number;
}

class Sipp {
  private runs = 0;

  constructor(
    private readonly tools: Tools,
    private readonly processes: Processes,
    private readonly dir: string,
    private readonly signal: AbortSignal,
  ) {}

  async run(options: SippRun): Promise<SippResult> {
    const id = ++this.runs;
    const stats = join(this.dir, `sipp-${id}.csv`);
    const args = [
      "-nostdin",
      options.target,
      "-sf",
      SCENARIO,
      "-inf",
      options.injection,
      "-key",
      "expires",
      "3600",
      "-i",
      "127.0.0.1",
      "-p",
      String(await freeUdpPort()),
      "-r",
      "100000",
      "-l",
      String(SIP_SETTINGS.inFlight),
      "-m",
      String(options.calls ?? 100_000_000),
      "-trace_stat",
      "-stf",
      stats,
      "-fd",
      "1",
      ...(options.seconds ? ["-timeout", `${options.seconds}s`] : []),
    ];
    const limitMs = ((options.seconds ?? 20) + 15) * 1000;
    const { code, output } = await new Promise<{ code: number; output: string }>((done, reject) => {
      if (this.signal.aborted) return reject(new Error("sipp: aborted"));
      const child = spawn(this.tools.sipp, args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
      this.processes.add(child);
      let out = "";
      const keep = (chunk: Buffer) => {
        out = `${out}${chunk.toString("utf8")}`.slice(-6000);
      };
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      const stop = () => child.kill("SIGKILL");
      const timer = setTimeout(stop, limitMs);
      this.signal.addEventListener("abort", stop, { once: true });
      child.once("error", reject);
      child.once("close", (exitCode, signal) => {
        clearTimeout(timer);
        this.signal.removeEventListener("abort", stop);
        if (signal) reject(new Error(`sipp ${args.join(" ")}: killed (${signal})\n${out}`));
        else done({ code: exitCode ?? -1, output: out });
      });
    });
    const table = await readFile(stats, "utf8").catch(() => "");
    return { code, output, ...rateOf(table, options.skipSeconds ?? 0, options.seconds) };
  }
}

/**
 * Reads sipp's -trace_stat CSV (one row a second, cumulative counters): registrations completed
 * between the first row at least `skip` seconds in and the last row within the run's time box.
 */
export function rateOf(
  csv: string,
  skip: number,
  seconds?: number,
): Omit<SippResult, "code" | "output"> & { rows: number } {
  const lines = csv.split("\n").filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").split(";");
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`sipp statistics: no ${name} column in ${JSON.stringify(lines[0] ?? "")}`);
    return i;
  };
  const [time, ok, failed, retrans] = [
    col("CurrentTime"),
    col("SuccessfulCall(C)"),
    col("FailedCall(C)"),
    col("Retransmissions(C)"),
  ];
  const rows = lines.slice(1).map((line) => {
    const cells = line.split(";");
    const stamp = (cells[time] ?? "").split("\t");
    return {
      t: Number(stamp[stamp.length - 1]),
      ok: Number(cells[ok]),
      failed: Number(cells[failed]),
      retrans: Number(cells[retrans]),
    };
  });
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (!first || !last) throw new Error("sipp statistics: no rows");
  const inBox = seconds === undefined ? rows : rows.filter((r) => r.t - first.t <= seconds + 0.05);
  const from = inBox.find((r) => r.t - first.t >= skip - 0.05) ?? first;
  const to = inBox[inBox.length - 1] ?? last;
  const span = to.t - from.t;
  return {
    rate: span > 0 ? (to.ok - from.ok) / span : 0,
    successful: last.ok,
    failed: last.failed,
    retransmissions: last.retrans,
    seconds: span,
    rows: rows.length,
  };
}

async function startKamailio(
  tools: Tools,
  processes: Processes,
  dir: string,
  pbxs: BenchPbx[],
): Promise<{ port: number; pid: number; logs: () => string }> {
  const port = await freeUdpPort();
  const cfg = join(dir, "kamailio.cfg");
  await writeFile(cfg, await kamailioConfig(port, pbxs));
  const check = spawnSync(tools.kamailio, ["-c", "-f", cfg], { encoding: "utf8" });
  if (check.status !== 0) throw new Error(`kamailio -c rejected ${cfg}:\n${check.stdout}${check.stderr}`);
  let logs = "";
  // Its own process group: Kamailio's workers are its children and must go with it.
  const child = spawn(tools.kamailio, ["-DD", "-E", "-f", cfg, "-w", dir, "-Y", dir], {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  processes.add(child, true);
  const keep = (chunk: Buffer) => {
    logs = `${logs}${chunk.toString("utf8")}`.slice(-6000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.once("exit", (code, signal) => {
    logs += `\n[kamailio exited: ${code ?? signal}]`;
  });
  if (!child.pid) throw new Error(`kamailio did not start:\n${logs}`);
  return { port, pid: child.pid, logs: () => logs };
}

/** A REGISTER with a wrong password must fail: proves the server really checks the digest. */
async function rejectsWrongPassword(sipp: Sipp, target: string, pbx: BenchPbx, dir: string, name: string) {
  const user = pbx.users[0];
  if (!user) throw new Error("no user");
  const file = join(dir, `wrong-${name}.csv`);
  await writeFile(file, injectionFile([{ ...pbx, users: [{ user: user.user, password: "not-the-password" }] }]));
  const run = await sipp.run({ target, injection: file, calls: 1, seconds: 3 });
  if (run.successful !== 0 || run.code === 0)
    throw new Error(`${name} registered a phone with a wrong password:\n${run.output}`);
}

/** The first registrations must all succeed, or the comparison would be of error paths. */
function mustSucceed(name: string, run: SippResult, logs = ""): void {
  if (run.successful === 0 || run.failed > 0)
    throw new Error(
      `${name}: ${run.successful} registrations succeeded and ${run.failed} failed during warm-up\n${run.output}\n${logs}`,
    );
}

const mb = (bytes: number) => bytes / MB;
const fixed = (n: number, digits = 0) => n.toFixed(digits);

/** Runs the SIP rows; stops everything it started before returning or throwing. */
export async function sipRows(budget: AbortSignal, log = (line: string) => console.error(line)): Promise<Measured[]> {
  const tools = requireTools();
  const s = SIP_SETTINGS;
  const scratch = await BenchScratch.open("edgepbx-bench-sip-", budget);
  const { dir, processes } = scratch;
  const sipp = new Sipp(tools, processes, dir, budget);
  try {
    // ---- memory: 10,000 distinct extensions register once each ----
    log(`bench: SIP memory, ${s.memoryDomains * s.memoryUsersPerDomain} extensions…`);
    const memoryPbxs = makePbxs("mem", s.memoryDomains, s.memoryUsersPerDomain);
    const memoryUsers = join(dir, "memory-users.csv");
    await writeFile(memoryUsers, injectionFile(memoryPbxs));
    const holder = Runner.start(processes);
    const holderPort = (await holder.ask({ cmd: "start" })).port;
    const empty = await holder.memory();
    const loaded = await holder.ask({ cmd: "load", pbxs: memoryPbxs });
    const configured = await holder.memory();
    const extensions = s.memoryDomains * s.memoryUsersPerDomain;
    const registration = await sipp.run({
      target: `127.0.0.1:${holderPort}`,
      injection: memoryUsers,
      calls: extensions,
      seconds: 30,
    });
    const hot = await holder.memory();
    if (loaded.extensions !== extensions || hot.bindings !== extensions)
      throw new Error(
        `memory row: ${loaded.extensions} extensions loaded, ${hot.bindings} bound, ` +
          `${registration.failed} sipp failures; expected ${extensions}\n${registration.output}`,
      );

    // ---- REGISTER/s: ours and Kamailio, same users, alternating ----
    log("bench: SIP REGISTER/s, ours and Kamailio…");
    const pbxs = makePbxs("reg", s.throughputDomains, s.throughputUsersPerDomain);
    const users = join(dir, "users.csv");
    await writeFile(users, injectionFile(pbxs));
    // BENCH_SIP_CPU_PROF=<dir>: a .cpuprofile of our gateway under this load (open it in Chrome DevTools).
    const gateway = Runner.start(processes, process.env.BENCH_SIP_CPU_PROF || undefined);
    const ourPort = (await gateway.ask({ cmd: "start" })).port;
    await gateway.ask({ cmd: "load", pbxs });
    const kamailio = await startKamailio(tools, processes, dir, pbxs);
    const side = (target: string, pids: () => number[], logs: () => string) => ({
      target,
      pids,
      logs,
      rates: [] as number[],
      failed: 0,
      retrans: 0,
      /** CPU seconds (all of each segment) and the registrations completed meanwhile. */
      cpu: 0,
      cpuSystem: 0,
      wall: 0,
      registrations: 0,
      cpuPerRegistration: [] as number[],
    });
    const gatewayPid = gateway.child.pid ?? 0;
    const sides = {
      ours: side(
        `127.0.0.1:${ourPort}`,
        () => [gatewayPid],
        () => "",
      ),
      kamailio: side(`127.0.0.1:${kamailio.port}`, () => groupOf(kamailio.pid), kamailio.logs),
    };
    // Kamailio forks its workers after start; retry its first registration briefly.
    for (let attempt = 0; ; attempt++) {
      const probe = await sipp.run({ target: sides.kamailio.target, injection: users, calls: 1, seconds: 2 });
      if (probe.successful === 1) break;
      if (attempt >= 5) throw new Error(`kamailio does not register phones:\n${probe.output}\n${kamailio.logs()}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    await rejectsWrongPassword(sipp, sides.ours.target, pbxs[0] as BenchPbx, dir, "our gateway");
    await rejectsWrongPassword(sipp, sides.kamailio.target, pbxs[0] as BenchPbx, dir, "kamailio");
    for (const name of ["ours", "kamailio"] as const) {
      const warm = await sipp.run({ target: sides[name].target, injection: users, seconds: s.warmUpSeconds });
      mustSucceed(name, warm, sides[name].logs());
    }
    for (let round = 0; round < s.rounds; round++) {
      const order = round % 2 === 0 ? (["ours", "kamailio"] as const) : (["kamailio", "ours"] as const);
      for (const name of order) {
        const one = sides[name];
        const pids = one.pids();
        const cpuBefore = cpuOf(pids);
        const wallBefore = performance.now();
        const run = await sipp.run({
          target: one.target,
          injection: users,
          seconds: s.segmentSeconds,
          skipSeconds: s.skipSeconds,
        });
        const cpuAfter = cpuOf(pids);
        one.rates.push(run.rate);
        one.failed += run.failed;
        one.retrans += run.retransmissions;
        one.cpu += cpuAfter.total - cpuBefore.total;
        one.cpuSystem += cpuAfter.system - cpuBefore.system;
        one.wall += (performance.now() - wallBefore) / 1000;
        one.registrations += run.successful;
        one.cpuPerRegistration.push(((cpuAfter.total - cpuBefore.total) / Math.max(1, run.successful)) * 1e6);
        log(`bench:   round ${round + 1} ${name}: ${fixed(run.rate)} REGISTER/s, ${run.failed} failed`);
      }
    }

    // Timer J (32 s on UDP) keeps each REGISTER transaction for a while; by now those of the
    // memory run have ended, which is the steady state of a node whose phones re-register hourly.
    const settled = await holder.memory();
    // The REGISTER/s gateway right after its load: what sustained traffic costs (Timer J again).
    const loadedGateway = await gateway.memory();

    const o = summarize(sides.ours.rates);
    const k = summarize(sides.kamailio.rates);
    const ratio = o.p50 / k.p50;
    const met = ratio >= s.targetRatio;
    const machineNote = `sipp ${tools.sippVersion}, kamailio ${tools.kamailioVersion} (${s.kamailioChildren} UDP workers), our gateway in one Node process, all on this machine`;
    const throughput: Measured = {
      row: {
        name: "REGISTER/s (digest)",
        unit: "REGISTER/s",
        p50: o.p50,
        p99: o.p99,
        n: o.n,
        peer: `kamailio ${tools.kamailioVersion}`,
        peerP50: k.p50,
        peerP99: k.p99,
        ratio,
        target: null,
        note:
          `target ≥ ${s.targetRatio.toFixed(1)}× Kamailio: ${met ? "met" : `MISSED by ${fixed((1 - ratio) * 100)}%`} ` +
          `(${fixed(ratio, 2)}×); completed REGISTER→401→REGISTER→200 per second over ${s.segmentSeconds - s.skipSeconds} s ` +
          `of each ${s.segmentSeconds} s segment, ${s.rounds} alternating rounds (p50 = median round, p99 column = best round); ` +
          `rounds ours ${sides.ours.rates.map((r) => fixed(r)).join("/")}, kamailio ${sides.kamailio.rates.map((r) => fixed(r)).join("/")}; ` +
          `failed ${sides.ours.failed}/${sides.kamailio.failed}, retransmissions ${sides.ours.retrans}/${sides.kamailio.retrans} (ours/kamailio); ` +
          `UDP, ${s.throughputDomains * s.throughputUsersPerDomain} users in ${s.throughputDomains} domains, ${s.inFlight} in flight (sipp -l); ${machineNote}`,
      },
      ours: sides.ours.rates,
      peer: sides.kamailio.rates,
    };

    const drained = settled.transactions === 0;
    const chosen = drained ? settled : hot;
    const memory: Measured = {
      row: {
        name: "memory, 10k registered",
        unit: "MB",
        p50: mb(chosen.rss),
        p99: mb(Math.max(hot.rss, settled.rss)),
        n: 1,
        peer: null,
        peerP50: null,
        peerP99: null,
        ratio: null,
        target: { stat: "p50", max: s.targetMemoryMb },
        note:
          `RSS of the gateway process (after gc) with ${extensions} extensions (${s.memoryDomains} PBX domains × ${s.memoryUsersPerDomain}) ` +
          `each registered once over UDP (${fixed(registration.rate)} REGISTER/s)${drained ? ", transactions ended" : `, ${settled.transactions} transactions still live`}; ` +
          `p99 column = peak (right after registering, ${hot.transactions} transactions in Timer J: ${fixed(mb(hot.rss))} MB RSS, ${fixed(mb(hot.heapUsed))} MB heap). ` +
          `RSS: empty gateway ${fixed(mb(empty.rss))}, +config ${fixed(mb(configured.rss))}, registered ${fixed(mb(chosen.rss))} MB; ` +
          `heapUsed: ${fixed(mb(empty.heapUsed))} → ${fixed(mb(configured.heapUsed))} → ${fixed(mb(chosen.heapUsed))} MB, ` +
          `i.e. ${fixed((configured.heapUsed - empty.heapUsed) / extensions / 1024, 1)} KB/extension of config and ` +
          `${fixed((chosen.heapUsed - configured.heapUsed) / extensions / 1024, 1)} KB/binding; ` +
          `the REGISTER/s gateway after its load: ${fixed(mb(loadedGateway.rss))} MB RSS, ${fixed(mb(loadedGateway.heapUsed))} MB heap, ` +
          `${loadedGateway.transactions} transactions live; node ${process.version} under tsx`,
      },
      ours: [mb(chosen.rss)],
    };
    const oc = summarize(sides.ours.cpuPerRegistration);
    const kc = summarize(sides.kamailio.cpuPerRegistration);
    const busy = (x: typeof sides.ours) =>
      `${fixed(x.cpu / x.wall, 2)} cores busy, ${fixed((x.cpuSystem / Math.max(x.cpu, 1e-9)) * 100)}% of it in the kernel`;
    const cpu: Measured = {
      row: {
        name: "CPU per REGISTER",
        unit: "µs",
        p50: oc.p50,
        p99: oc.p99,
        n: oc.n,
        peer: `kamailio ${tools.kamailioVersion}`,
        peerP50: kc.p50,
        peerP99: kc.p99,
        ratio: oc.p50 / kc.p50,
        target: null,
        note:
          `CPU time (user + system, from /proc) of the server's processes per completed registration ` +
          `(2 transactions) over whole REGISTER/s segments; lower is better, ratio = ours ÷ kamailio; p99 column = worst round; ` +
          `ours ${busy(sides.ours)} (one Node process), kamailio ${busy(sides.kamailio)} (${s.kamailioChildren} UDP workers + helpers), of ${cpus().length} cores shared with sipp`,
      },
      ours: sides.ours.cpuPerRegistration,
      peer: sides.kamailio.cpuPerRegistration,
    };
    return [throughput, cpu, memory];
  } catch (error) {
    if (budget.aborted) throw new Error(`SIP rows stopped: ${(error as Error).message}`);
    throw error;
  } finally {
    await scratch.close();
  }
}
