/**
 * `npm run bench`: starts the edge Worker under workerd with a throwaway SQLite folder, measures
 * each row with sequential keep-alive requests, then the SIP rows (REGISTER/s, call setups/s with
 * media anchored) against Kamailio, prints one table and writes bench/results/<ISO date>.json and
 * bench/results/latest.json. Exits non-zero if anything fails or the run goes over its time
 * budget; a missed target is reported, not a failure.
 *
 * `npm run bench -- sip-calls` (or BENCH_ROWS=sip-calls) runs only some groups of rows: edge,
 * pwa (the portal's first-screen JS, gzipped), mixer (conference mixing), recording (MP3 encoding and
 * encryption per call-minute), fax (SpanDSP CPU per page), sip-register, sip-calls,
 * browser-calls (call setup between two Chromium pages; comma- or space-separated). Such a partial run writes only its dated file, not latest.json.
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type RunningEdge, startEdge } from "../scripts/lib/edge.ts";
import { freePort } from "../scripts/lib/net.ts";
import { ApiClient } from "./lib/http.ts";
import {
  formatMachine,
  formatTable,
  formatVerdicts,
  machine,
  type Report,
  type Row,
  verdicts,
  writeReport,
} from "./lib/report.ts";
import { browserCallRows } from "./rows/browser-calls.ts";
import { apply, changesDiff, configRead, configWrite, type Measured, setUp } from "./rows/edge-config.ts";
import { faxRows } from "./rows/fax.ts";
import { mixerRows } from "./rows/mixer.ts";
import { pwaRows } from "./rows/pwa.ts";
import { recordingRows } from "./rows/recording.ts";
import { callRows } from "./rows/sip-calls.ts";
import { sipRows } from "./rows/sip-register.ts";

const ROOT = resolve(import.meta.dirname, "..");
const RESULTS = resolve(ROOT, "bench/results");
/**
 * The whole run, start-up included: about 20 s of edge rows, 40 s of REGISTER rows, 45 s of call
 * rows and 15 s of browser call rows.
 */
const BUDGET_MS = 180_000;

const GROUPS = ["edge", "pwa", "mixer", "recording", "fax", "sip-register", "sip-calls", "browser-calls"] as const;
type Group = (typeof GROUPS)[number];

/** The groups of rows asked for on the command line or in BENCH_ROWS; all of them by default. */
function selectedGroups(): Group[] {
  const asked = [...process.argv.slice(2), process.env.BENCH_ROWS ?? ""]
    .flatMap((a) => a.split(/[\s,]+/))
    .filter((a) => a !== "");
  const unknown = asked.filter((a) => !(GROUPS as readonly string[]).includes(a));
  if (unknown.length > 0)
    throw new Error(`bench: unknown row group ${unknown.join(", ")}; groups are ${GROUPS.join(", ")}`);
  return asked.length === 0 ? [...GROUPS] : GROUPS.filter((g) => asked.includes(g));
}

/** Rejects when the run's budget is spent, so a hung start-up or request cannot stall it. */
function overBudget(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new Error(`bench: over the ${BUDGET_MS / 1000} s budget`));
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const started = performance.now();
  const budget = AbortSignal.timeout(BUDGET_MS);
  const persistDir = await mkdtemp(join(tmpdir(), "edgepbx-bench-"));
  let starting: Promise<RunningEdge> | undefined;
  const stopping = () => {
    process.exitCode = 130;
    hardExitIn(15_000);
    void shutdown().finally(() => process.exit(130));
  };
  async function shutdown(): Promise<void> {
    // Waits out a start-up in flight so that its workerd processes are stopped too.
    const pending = starting;
    starting = undefined;
    const running = await pending?.catch(() => undefined);
    if (running) await running.stop().catch((e: Error) => console.error(`bench: stopping the edge: ${e.message}`));
    await rm(persistDir, { recursive: true, force: true }).catch(() => {});
  }
  // Miniflare's own SIGINT/SIGTERM hook kills workerd and exits at once; the folder still goes.
  const removeFolder = () => rmSync(persistDir, { recursive: true, force: true });
  process.once("exit", removeFolder);
  process.once("SIGINT", stopping);
  process.once("SIGTERM", stopping);

  try {
    const groups = selectedGroups();
    const edgeRows = async (): Promise<Measured[]> => {
      const port = await freePort();
      console.error(`bench: starting the edge on 127.0.0.1:${port} (SQLite in ${persistDir})`);
      starting = startEdge({ port, persistDir });
      const edge = await Promise.race([starting, overBudget(budget)]);
      const api = new ApiClient(edge.url, budget);
      const fixture = await setUp(api);
      const out: Measured[] = [];
      for (const [label, measure] of [
        ["config read", configRead],
        ["config write", configWrite],
        ["apply", apply],
        ["changes diff", changesDiff],
      ] as const) {
        console.error(`bench: ${label}…`);
        out.push(await measure(fixture));
      }
      api.close();
      return out;
    };

    const measured: Measured[] = await Promise.race([
      (async () => {
        const out: Measured[] = [];
        if (groups.includes("edge")) out.push(...(await edgeRows()));
        if (groups.includes("pwa")) out.push(...(await pwaRows()));
        if (groups.includes("mixer")) out.push(...mixerRows());
        if (groups.includes("fax")) out.push(...(await faxRows()));
        if (groups.includes("recording")) out.push(...(await recordingRows()));
        if (groups.includes("sip-register")) out.push(...(await sipRows(budget)));
        if (groups.includes("sip-calls")) out.push(...(await callRows(budget)));
        if (groups.includes("browser-calls")) out.push(...(await browserCallRows(budget)));
        return out;
      })(),
      overBudget(budget),
    ]);

    const rows: Row[] = measured.map((m) => m.row);
    const list = verdicts(rows);
    const report: Report = {
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
      machine: machine(ROOT),
      method:
        "Sequential requests from node:http (one keep-alive connection) to the edge Worker under workerd " +
        "(Miniflare, no dev proxy) on 127.0.0.1, on-disk SQLite Durable Objects; time from writing the request " +
        "to the end of the body (performance.now()); " +
        "nearest-rank p50/p99 of sorted samples; ratio = ours p50 ÷ peer p50. " +
        "SIP rows: sipp load over UDP against our gateway (its own Node process) and Kamailio (with rtpengine " +
        "for calls); see their notes. Browser call rows: two Chromium pages calling each other through our " +
        "gateway, times taken in the pages (see their notes).",
      ...(groups.length < GROUPS.length ? { groups } : {}),
      rows,
      verdicts: list,
      samples: Object.fromEntries(
        measured.map((m) => [m.row.name, { ours: m.ours.map(round), ...(m.peer ? { peer: m.peer.map(round) } : {}) }]),
      ),
    };
    const file = await writeReport(RESULTS, report, { latest: groups.length === GROUPS.length });

    console.log(formatMachine(report.machine));
    console.log("");
    console.log(formatTable(rows));
    console.log("");
    for (const r of rows) console.log(`  ${r.name}: ${r.note}`);
    console.log("");
    console.log("targets:");
    console.log(formatVerdicts(list, (name) => rows.find((r) => r.name === name)?.unit ?? ""));
    console.log("");
    const written = groups.length === GROUPS.length ? `${file} and ${join(RESULTS, "latest.json")}` : file;
    console.log(`wrote ${written} in ${(report.durationMs / 1000).toFixed(1)} s`);
    return 0;
  } catch (error) {
    console.error(`bench failed: ${(error as Error).stack ?? error}`);
    return 1;
  } finally {
    hardExitIn(15_000);
    await shutdown();
  }
}

/** If stopping workerd hangs, give up on it rather than on the exit code (1 unless already decided). */
function hardExitIn(ms: number): void {
  setTimeout(() => process.exit(process.exitCode ?? 1), ms).unref();
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

process.exitCode = await main();
