/**
 * Rows for the PBX configuration API of the edge Worker: read, draft write, apply, and the
 * pending-changes diff, all against one PBX with 50 extensions, one request at a time.
 */
import type { ApiClient, Timed } from "../lib/http.ts";
import type { Row, Target } from "../lib/report.ts";
import { summarize } from "../lib/stats.ts";

export const EXTENSIONS = 50;

export interface Measured {
  row: Row;
  ours: number[];
  peer?: number[];
}

export interface Fixture {
  api: ApiClient;
  pbx: string;
  /** The extension that the write, apply and changes rows rename. */
  extension: string;
  /** Makes every rename a real change. */
  renames: number;
}

/** A fresh account, one PBX with 50 extensions, applied once so that an applied version exists. */
export async function setUp(api: ApiClient): Promise<Fixture> {
  await api.register({
    email: "bench@example.com",
    password: "bench-password-0123",
    name: "Bench",
    company: "EdgePBX bench",
  });
  const { pbx } = await api.json<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Bench PBX" });
  const ids: string[] = [];
  for (let i = 0; i < EXTENSIONS; i++) {
    const created = await api.json<{ id: string }>(201, "POST", `/api/pbxs/${pbx.id}/extensions`, {
      number: String(100 + i),
      name: `Extension ${100 + i}`,
      sipPassword: "0123456789abc",
    });
    ids.push(created.id);
  }
  await api.expect(201, "POST", `/api/pbxs/${pbx.id}/apply`, { note: "bench setup" });
  const applied = await api.json<{ config: { extensions: unknown[] } }>(
    200,
    "GET",
    `/api/pbxs/${pbx.id}/config?version=applied`,
  );
  if (applied.config.extensions.length !== EXTENSIONS)
    throw new Error(`setup: applied config has ${applied.config.extensions.length} extensions, not ${EXTENSIONS}`);
  return { api, pbx: pbx.id, extension: ids[0] as string, renames: 0 };
}

function row(
  name: string,
  ours: number[],
  target: Target | null,
  note: string,
  peer?: { name: string; samples: number[] },
): Measured {
  const o = summarize(ours);
  const p = peer ? summarize(peer.samples) : null;
  return {
    row: {
      name,
      unit: "ms",
      p50: o.p50,
      p99: o.p99,
      n: o.n,
      peer: peer?.name ?? null,
      peerP50: p?.p50 ?? null,
      peerP99: p?.p99 ?? null,
      ratio: p ? o.p50 / p.p50 : null,
      target,
      note,
    },
    ours,
    ...(peer ? { peer: peer.samples } : {}),
  };
}

const rename = (f: Fixture) => ({ name: `Bench rename ${++f.renames}` });

async function times(count: number, step: () => Promise<Timed>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) samples.push((await step()).ms);
  return samples;
}

/**
 * GET the applied config, against GET /api/health as the peer: the same workerd and HTTP path
 * without auth or a Durable Object. The two alternate request by request so drift hits both.
 */
export async function configRead(f: Fixture, count = 1000, warmUp = 100): Promise<Measured> {
  const read = () => f.api.expect(200, "GET", `/api/pbxs/${f.pbx}/config?version=applied`);
  const health = () => f.api.expect(200, "GET", "/api/health");
  for (let i = 0; i < warmUp; i++) {
    await read();
    await health();
  }
  const ours: number[] = [];
  const peer: number[] = [];
  for (let i = 0; i < count; i++) {
    ours.push((await read()).ms);
    peer.push((await health()).ms);
  }
  const ratioP99 = summarize(ours).p99 / summarize(peer).p99;
  return row(
    "config read",
    ours,
    { stat: "p99", max: 10 },
    `GET /config?version=applied, ${EXTENSIONS} extensions, ${warmUp} warm-up, interleaved with peer; ratio at p99 ${ratioP99.toFixed(1)}×`,
    { name: "GET /api/health", samples: peer },
  );
}

/** PATCH one extension's name: a draft write with validation of the whole config. */
export async function configWrite(f: Fixture, count = 300, warmUp = 20): Promise<Measured> {
  const patch = () => f.api.expect(200, "PATCH", `/api/pbxs/${f.pbx}/extensions/${f.extension}`, rename(f));
  await times(warmUp, patch);
  const ours = await times(count, patch);
  return row(
    "config write",
    ours,
    null,
    `PATCH /extensions/:id {name}, ${EXTENSIONS} extensions, ${warmUp} warm-up; each adds a pending change`,
  );
}

/** PATCH then POST /apply; only the apply request is timed. Starts from no pending changes. */
export async function apply(f: Fixture, count = 100, warmUp = 5): Promise<Measured> {
  const pending = await f.api.json<{ pending: boolean }>(200, "GET", `/api/pbxs/${f.pbx}/changes`);
  if (pending.pending) await f.api.expect(201, "POST", `/api/pbxs/${f.pbx}/apply`, { note: "bench: clear pending" });
  const step = async () => {
    await f.api.expect(200, "PATCH", `/api/pbxs/${f.pbx}/extensions/${f.extension}`, rename(f));
    return f.api.expect(201, "POST", `/api/pbxs/${f.pbx}/apply`);
  };
  await times(warmUp, step);
  const ours = await times(count, step);
  return row(
    "apply",
    ours,
    { stat: "p99", max: 500 },
    `POST /apply after one PATCH, ${warmUp} warm-up; no media node connected, so no ack is awaited`,
  );
}

/** GET /changes (pending log and diff against the applied version) with exactly one pending change. */
export async function changesDiff(f: Fixture, count = 200, warmUp = 20): Promise<Measured> {
  await f.api.expect(200, "PATCH", `/api/pbxs/${f.pbx}/extensions/${f.extension}`, rename(f));
  const check = await f.api.json<{ pending: boolean; changes: unknown[] }>(200, "GET", `/api/pbxs/${f.pbx}/changes`);
  if (!check.pending || check.changes.length !== 1)
    throw new Error(`changes: expected exactly one pending change, found ${check.changes.length}`);
  const get = () => f.api.expect(200, "GET", `/api/pbxs/${f.pbx}/changes`);
  await times(warmUp, get);
  const ours = await times(count, get);
  return row("changes diff", ours, null, `GET /changes, 1 pending change, ${EXTENSIONS} extensions, ${warmUp} warm-up`);
}
