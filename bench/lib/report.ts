import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, platform, release } from "node:os";
import { resolve } from "node:path";

/**
 * A limit on one statistic of a row: a ceiling on a latency, e.g. p99 ≤ 10 ms, or a floor on a
 * throughput or on the ratio against the peer, e.g. ratio ≥ 0.5× (at least half the peer's).
 */
export type Target = { stat: "p50" | "p99"; max: number } | { stat: "p50" | "p99" | "ratio"; min: number };

/**
 * One line of the benchmark table. `peer` is what the row is compared against in the same run
 * (a floor such as a bare request, or later another implementation such as Kamailio);
 * `ratio` is ours ÷ peer at p50.
 */
export interface Row {
  name: string;
  unit: string;
  p50: number;
  p99: number;
  n: number;
  peer: string | null;
  peerP50: number | null;
  peerP99: number | null;
  ratio: number | null;
  target: Target | null;
  note: string;
}

export interface Machine {
  cpu: string;
  cores: number;
  os: string;
  node: string;
  workerd: string;
}

export function machine(root: string): Machine {
  const cpu = cpus();
  let workerd = "unknown";
  try {
    const pkg = JSON.parse(readFileSync(resolve(root, "node_modules/workerd/package.json"), "utf8"));
    workerd = String(pkg.version);
  } catch {
    // Reported as unknown; the numbers are still worth having.
  }
  return {
    cpu: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    os: `${platform()} ${release()}`,
    node: process.version,
    workerd,
  };
}

export interface Verdict {
  row: string;
  target: string;
  actual: number;
  /** The unit of actual and missBy: the row's, or "×" for a ratio target. */
  unit?: string;
  met: boolean;
  /** How far past the target (over a ceiling, under a floor), in `unit`; 0 when met. */
  missBy: number;
  /** The same as a percentage of the target; 0 when met. */
  missByPercent: number;
}

export function verdicts(rows: readonly Row[]): Verdict[] {
  return rows.flatMap((row) => {
    const target = row.target;
    if (!target) return [];
    const ratio = target.stat === "ratio";
    // A ratio target on a row without a ratio (no peer measured) is missed outright.
    const actual = target.stat === "ratio" ? (row.ratio ?? 0) : row[target.stat];
    // A floor (min: throughput, a ratio) is missed below it; a ceiling (max: latency) above it.
    const limit = "min" in target ? target.min : target.max;
    const past = "min" in target ? target.min - actual : actual - target.max;
    return [
      {
        row: row.name,
        target: describeTarget(target, row.unit),
        actual,
        ...(ratio ? { unit: "×" } : {}),
        met: past <= 0,
        missBy: Math.max(0, past),
        missByPercent: past > 0 ? (past / limit) * 100 : 0,
      },
    ];
  });
}

const describeTarget = (t: Target, unit: string) =>
  "min" in t
    ? t.stat === "ratio"
      ? `ratio ≥ ${t.min}×`
      : `${t.stat} ≥ ${t.min} ${unit}`
    : `${t.stat} ≤ ${t.max} ${unit}`;
const num = (v: number | null, digits = 2) => (v === null ? "—" : v.toFixed(digits));

export function formatTable(rows: readonly Row[]): string {
  const header = ["row", "n", "p50", "p99", "unit", "peer", "peer p50", "peer p99", "ratio", "target"];
  const right = new Set([1, 2, 3, 6, 7, 8]);
  const body = rows.map((r) => [
    r.name,
    String(r.n),
    num(r.p50),
    num(r.p99),
    r.unit,
    r.peer ?? "—",
    num(r.peerP50),
    num(r.peerP99),
    r.ratio === null ? "—" : `${r.ratio.toFixed(r.ratio < 1 ? 2 : 1)}×`,
    r.target ? describeTarget(r.target, r.unit) : "—",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

export function formatMachine(m: Machine): string {
  return `machine: ${m.cpu} × ${m.cores} cores, ${m.os}, node ${m.node}, workerd ${m.workerd}`;
}

export function formatVerdicts(list: readonly Verdict[], unitOf: (row: string) => string): string {
  return list
    .map((v) => {
      const unit = v.unit ?? unitOf(v.row);
      const floor = v.unit === "×";
      const show = (n: number) => (floor ? `${num(n)}×` : `${num(n)} ${unit}`);
      return v.met
        ? `  met     ${v.row}: ${v.target}, actual ${show(v.actual)}`
        : `  MISSED  ${v.row}: ${v.target}, actual ${show(v.actual)} — ${floor ? "under" : "over"} by ${show(v.missBy)} (${floor ? "-" : "+"}${v.missByPercent.toFixed(0)}%)`;
    })
    .join("\n");
}

export interface Report {
  startedAt: string;
  durationMs: number;
  machine: Machine;
  method: string;
  /** The groups of rows run, when not all of them (`npm run bench -- <group>`). */
  groups?: string[];
  rows: Row[];
  verdicts: Verdict[];
  /** Raw samples in milliseconds, by row name, for later analysis. */
  samples: Record<string, { ours: number[]; peer?: number[] }>;
}

/** Writes bench/results/<ISO date>.json and (unless told not to) bench/results/latest.json; returns the dated path. */
export async function writeReport(dir: string, report: Report, options: { latest?: boolean } = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const dated = resolve(dir, `${report.startedAt.replace(/:/g, "-")}.json`);
  await writeFile(dated, json);
  if (options.latest ?? true) await writeFile(resolve(dir, "latest.json"), json);
  return dated;
}
