import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { summarize } from "../bench/lib/stats.ts";
import type { Logger } from "../media/common/Logger.ts";
import { EdgeLink } from "../media/edge-link/EdgeLink.ts";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../scripts/lib/edge.ts";
import { freePort } from "../scripts/lib/net.ts";
import type { PbxConfig } from "../shared/index.ts";
import { eventually, PortalClient } from "./support/portal-client.ts";

/**
 * The media node's EdgeLink against the real edge Worker (workerd, on-disk SQLite): an applied
 * version reaches the link with its HA1s, the portal's history shows the node's ack, later
 * versions arrive on the same connection, and after the edge restarts the link reconnects by
 * itself and resyncs without being sent what it already has. Also measures Apply → ack.
 */

const NODE_ID = "media-link-test";
const APPLIES = 20;

let dir = "";
let port = 0;
let edge: RunningEdge | undefined;
let link: EdgeLink | undefined;
const logLines: string[] = [];
const events: { at: number; type: string; pbx?: string; version?: number; config?: PbxConfig }[] = [];

const logger: Logger = {
  debug: (m) => logLines.push(`debug ${m}`),
  info: (m) => logLines.push(`info ${m}`),
  warn: (m) => logLines.push(`warn ${m}`),
  error: (m) => logLines.push(`error ${m}`),
};

const shared = { admin: undefined as PortalClient | undefined, pbx: "", extensionId: "", ha1: "" };

/** The next event of a type (and version) after index `from`, waiting up to `ms`. */
function nextEvent(type: string, match: (e: (typeof events)[number]) => boolean = () => true, from = 0, ms = 10_000) {
  return eventually(`${type} event`, async () => events.slice(from).find((e) => e.type === type && match(e)), ms);
}

async function apply(): Promise<number> {
  const { version } = await (shared.admin as PortalClient).expect<{ version: number }>(
    201,
    "POST",
    `/api/pbxs/${shared.pbx}/apply`,
  );
  return version;
}

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), "edgepbx-edge-link-"));
    port = await freePort();
    edge = await startEdge({ port, persistDir: join(dir, "edge") });
  },
  { timeout: 60_000 },
);

after(async () => {
  await link?.stop();
  await edge?.stop();
  await rm(dir, { recursive: true, force: true });
});

test("an applied version reaches the link with its HA1s and the portal shows the node's ack", {
  timeout: 30_000,
}, async () => {
  const admin = await PortalClient.register((edge as RunningEdge).url, "linker");
  shared.admin = admin;
  const { pbx } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Linked Office" });
  shared.pbx = pbx.id;
  const ext = await admin.expect<{ id: string }>(201, "POST", `/api/pbxs/${pbx.id}/extensions`, {
    number: "100",
    name: "Alice",
  });
  shared.extensionId = ext.id;
  assert.equal(await apply(), 2);

  link = new EdgeLink({
    url: (edge as RunningEdge).url,
    nodeId: NODE_ID,
    token: devMediaNodeToken(),
    stateDir: join(dir, "media"),
    logger,
    // Bounded for the restart below: the edge is down a few seconds, not minutes.
    backoffInitialMs: 200,
    backoffMaxMs: 1_000,
    pingIntervalMs: 2_000,
    pongTimeoutMs: 2_000,
  });
  link.on("config", (pbx, version, config) => {
    events.push({ at: performance.now(), type: "config", pbx, version, config });
  });
  link.on("ack", (pbx, version) => events.push({ at: performance.now(), type: "ack", pbx, version }));
  link.on("synced", () => events.push({ at: performance.now(), type: "synced" }));
  link.on("connected", () => events.push({ at: performance.now(), type: "connected" }));
  link.on("disconnected", () => events.push({ at: performance.now(), type: "disconnected" }));
  link.start();

  const received = await nextEvent("config", (e) => e.pbx === pbx.id && e.version === 2);
  const extension = received.config?.extensions.find((e) => e.number === "100");
  assert.ok(extension, "version 2 has the extension");
  assert.equal(extension.name, "Alice");
  // The node gets the real digest HA1 (people only ever see "[secret]").
  assert.match(extension.sip.ha1Md5, /^[0-9a-f]{32}$/);
  assert.match(extension.sip.ha1Sha256, /^[0-9a-f]{64}$/);
  shared.ha1 = extension.sip.ha1Md5;
  await nextEvent("ack", (e) => e.pbx === pbx.id && e.version === 2);
  await nextEvent("synced");

  const acks = await eventually("the node's ack in the history", async () => {
    const { versions } = await admin.expect<{ versions: { version: number; acks: { nodeId: string }[] }[] }>(
      200,
      "GET",
      `/api/pbxs/${pbx.id}/history`,
    );
    const found = versions.find((v) => v.version === 2)?.acks ?? [];
    return found.length > 0 ? found : undefined;
  });
  assert.deepEqual(
    acks.map((a) => a.nodeId),
    [NODE_ID],
  );
  assert.deepEqual(link.store.have()[pbx.id], 2);
});

test("the next apply goes live on the same connection; Apply → ack latency", { timeout: 60_000 }, async () => {
  const admin = shared.admin as PortalClient;
  const connectedBefore = events.filter((e) => e.type === "connected").length;
  assert.equal(connectedBefore, 1);

  await admin.expect(200, "PATCH", `/api/pbxs/${shared.pbx}/extensions/${shared.extensionId}`, { name: "Alice v3" });
  const from = events.length;
  assert.equal(await apply(), 3);
  const v3 = await nextEvent("config", (e) => e.version === 3, from);
  assert.equal(v3.config?.extensions[0]?.name, "Alice v3");
  await nextEvent("ack", (e) => e.version === 3, from);

  // Apply → ack: from sending POST /apply to the node's ack leaving its socket.
  const applyToAck: number[] = [];
  const applyToConfig: number[] = [];
  for (let i = 0; i < APPLIES; i++) {
    await admin.expect(200, "PATCH", `/api/pbxs/${shared.pbx}/extensions/${shared.extensionId}`, {
      name: `Alice ${i}`,
    });
    const mark = events.length;
    const t0 = performance.now();
    const version = await apply();
    const config = await nextEvent("config", (e) => e.version === version, mark);
    const ack = await nextEvent("ack", (e) => e.version === version, mark);
    applyToConfig.push(config.at - t0);
    applyToAck.push(ack.at - t0);
  }
  const ack = summarize(applyToAck);
  const cfg = summarize(applyToConfig);
  console.log(
    `edge-link Apply → ack over ${ack.n} applies: p50 ${ack.p50.toFixed(1)} ms, p99 ${ack.p99.toFixed(1)} ms ` +
      `(min ${ack.min.toFixed(1)}, max ${ack.max.toFixed(1)}); Apply → config at the node p50 ${cfg.p50.toFixed(1)} ms`,
  );
  assert.equal(events.filter((e) => e.type === "connected").length, 1, "no reconnect along the way");
  assert.equal(events.filter((e) => e.type === "disconnected").length, 0);
});

test("after the edge restarts the link reconnects by itself and resyncs without duplicates", {
  timeout: 90_000,
}, async () => {
  const have = (link as EdgeLink).store.have()[shared.pbx];
  assert.equal(have, 3 + APPLIES);
  const mark = events.length;
  await (edge as RunningEdge).stop();
  edge = undefined;
  await nextEvent("disconnected", () => true, mark);

  edge = await startEdge({ port, persistDir: join(dir, "edge") });
  await nextEvent("connected", () => true, mark, 30_000);
  await nextEvent("synced", () => true, mark);
  const since = events.slice(mark);
  assert.deepEqual(
    since.filter((e) => e.type === "config" || e.type === "ack"),
    [],
    "hello said what the node has: nothing is sent again",
  );

  // And the restarted edge still pushes new versions to it.
  await (shared.admin as PortalClient).expect(
    200,
    "PATCH",
    `/api/pbxs/${shared.pbx}/extensions/${shared.extensionId}`,
    { name: "Alice after restart" },
  );
  const after = events.length;
  const version = await apply();
  assert.equal(version, have + 1);
  await nextEvent("ack", (e) => e.version === version, after);
  assert.equal(events.filter((e) => e.type === "connected").length, 2);

  // Nothing in the log gives away the node token or a digest HA1.
  const log = logLines.join("\n");
  assert.ok(!log.includes(devMediaNodeToken()), "the token is not logged");
  assert.ok(shared.ha1 && !log.includes(shared.ha1), "no HA1 is logged");
});
