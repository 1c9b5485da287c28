import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { type WebSocket, WebSocketServer } from "ws";
import { ConfigStore } from "./ConfigStore.ts";
import { EdgeLink, type EdgeLinkOptions } from "./EdgeLink.ts";
import { HA1_MD5, HA1_SHA256, MemoryLogger, sampleConfig, waitFor } from "./test-support.ts";

const TOKEN = "node-token-that-must-never-be-logged";

interface Received {
  type: string;
  pbx?: string;
  version?: number;
  have?: Record<string, number>;
}

/** One node connection as the fake hub sees it. */
interface HubConnection {
  ws: WebSocket;
  request: IncomingMessage;
  received: Received[];
  openedAt: number;
  closedAt: number | null;
}

/** A stand-in for the edge's node hub: records frames; each test scripts its answers. */
class FakeHub {
  readonly connections: HubConnection[] = [];
  answerPings = true;
  /** Runs on every hello; by default the hub answers synced. */
  onHello: (conn: HubConnection, have: Record<string, number>) => void = (conn) =>
    this.send(conn, { type: "synced", pbxs: 0 });
  private constructor(
    readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(options: { refuse?: boolean } = {}): Promise<FakeHub> {
    const wss = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      ...(options.refuse ? { verifyClient: (_info, done) => done(false, 401, "Unauthorized") } : {}),
    } as ConstructorParameters<typeof WebSocketServer>[0]);
    await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
    const address = wss.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const hub = new FakeHub(wss, `http://127.0.0.1:${port}`);
    wss.on("connection", (ws, request) => hub.accept(ws, request));
    return hub;
  }

  private accept(ws: WebSocket, request: IncomingMessage): void {
    const conn: HubConnection = { ws, request, received: [], openedAt: Date.now(), closedAt: null };
    this.connections.push(conn);
    ws.on("close", () => {
      conn.closedAt = Date.now();
    });
    ws.on("message", (data) => {
      const message = JSON.parse(data.toString()) as Received;
      conn.received.push(message);
      if (message.type === "ping" && this.answerPings) this.send(conn, { type: "pong" });
      if (message.type === "hello") this.onHello(conn, message.have ?? {});
    });
  }

  send(conn: HubConnection, message: unknown, binary = false): void {
    conn.ws.send(typeof message === "string" ? message : JSON.stringify(message), { binary });
  }

  get last(): HubConnection {
    const conn = this.connections.at(-1);
    assert.ok(conn, "no node has connected");
    return conn;
  }

  acks(conn = this.last): { pbx?: string; version?: number }[] {
    return conn.received.filter((m) => m.type === "ack").map(({ pbx, version }) => ({ pbx, version }));
  }

  async stop(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

describe("EdgeLink", () => {
  let stateDir = "";
  let logger: MemoryLogger;
  let hub: FakeHub;
  const links: EdgeLink[] = [];

  const newLink = (options: Partial<EdgeLinkOptions> = {}) => {
    const link = new EdgeLink({ url: hub.url, nodeId: "node-1", token: TOKEN, stateDir, logger, ...options });
    links.push(link);
    return link;
  };

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "edgepbx-link-"));
    logger = new MemoryLogger();
    hub = await FakeHub.start();
  });

  afterEach(async () => {
    await Promise.all(links.splice(0).map((l) => l.stop()));
    await hub.stop();
    // Whatever a test did, the token and the HA1s were never written to the log.
    const log = logger.text();
    for (const secret of [TOKEN, HA1_MD5, HA1_SHA256]) assert.ok(!log.includes(secret), `the log leaks ${secret}`);
    await rm(stateDir, { recursive: true, force: true });
  });

  test("refuses a bad node id or an empty token", () => {
    assert.throws(() => newLink({ nodeId: "bad id!" }), /nodeId/);
    assert.throws(() => newLink({ token: "" }), /token/);
  });

  test("serves stored configs at once, says hello with what it has, takes a pushed config and acks it", async () => {
    const seeded = new ConfigStore({ dir: stateDir, logger });
    seeded.set("pbx-old", 3, sampleConfig("pbx-old"));
    await seeded.flush();

    const link = newLink();
    const delivered: [string, number][] = [];
    link.on("config", (pbx, version) => {
      delivered.push([pbx, version]);
    });
    link.start();
    await waitFor("the stored config", () => delivered.length === 1);
    assert.deepEqual(delivered, [["pbx-old", 3]], "before the edge has said anything");

    const conn = await waitFor(
      "a hello",
      () => hub.connections[0]?.received.find((m) => m.type === "hello") && hub.last,
    );
    assert.equal(conn.request.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(conn.request.url, "/api/nodes/connect?node=node-1");
    assert.deepEqual(conn.received[0], { type: "hello", have: { "pbx-old": 3 } });
    // The stored version was live but never acked (say, a crash before the ack): synced makes up for it.
    await waitFor("the ack of the stored version", () => hub.acks(conn).length === 1);
    assert.deepEqual(hub.acks(conn), [{ pbx: "pbx-old", version: 3 }]);

    const acked = new Promise((resolve) => link.once("ack", (pbx, version) => resolve([pbx, version])));
    hub.send(conn, { type: "config", pbx: "pbx-new", version: 1, config: sampleConfig("pbx-new", ["200", "201"]) });
    assert.deepEqual(await acked, ["pbx-new", 1]);
    assert.deepEqual(delivered.at(-1), ["pbx-new", 1]);
    await waitFor("the ack at the hub", () => hub.acks(conn).length === 2);
    assert.deepEqual(hub.acks(conn).at(-1), { pbx: "pbx-new", version: 1 });
    assert.equal(link.store.get("pbx-new")?.config.extensions.length, 2);

    await link.stop();
    const reloaded = new ConfigStore({ dir: stateDir, logger });
    assert.deepEqual(reloaded.have(), { "pbx-old": 3, "pbx-new": 1 });
    assert.ok(reloaded.entries().every((e) => e.acked));
  });

  test("an invalid config frame is rejected, not stored, not delivered, not acked; the connection stays", async () => {
    const link = newLink();
    const delivered: number[] = [];
    const rejected: string[] = [];
    link.on("config", (_pbx, version) => {
      delivered.push(version);
    });
    link.on("rejected", (frame) => rejected.push(frame.reason));
    link.start();
    const conn = await waitFor("a connection", () => hub.connections[0]);

    const good = sampleConfig("pbx-a");
    const badHa1 = "ABCDEF0123456789ABCDEF0123456789"; // upper case: not an HA1 the schema takes
    const hostile: [unknown, boolean?][] = [
      ["{not json"],
      [JSON.stringify({ type: "config", pbx: "pbx-a", version: 1, config: good }), true],
      [{ type: "config", pbx: "pbx-a", version: "1", config: good }],
      [{ type: "config", pbx: "pbx-a", version: 0, config: good }],
      [{ type: "config", pbx: "../../etc", version: 1, config: good }],
      [{ type: "config", pbx: "__proto__", version: 1, config: good }],
      [{ type: "config", pbx: "pbx-a", version: 1 }],
      [{ type: "config", pbx: "pbx-a", version: 1, config: { ...good, schemaVersion: 2 } }],
      [
        {
          type: "config",
          pbx: "pbx-a",
          version: 1,
          config: {
            ...good,
            extensions: [{ ...good.extensions[0], sip: { ...good.extensions[0]?.sip, ha1Md5: badHa1 } }],
          },
        },
      ],
      [{ type: "remove", pbx: 42 }],
      [{ type: "synced", pbxs: -1 }],
      [{ type: "nonsense" }],
      [[1, 2, 3]],
      ["null"],
    ];
    for (const [frame, binary] of hostile) hub.send(conn, frame, binary);
    await waitFor("every frame refused", () => rejected.length === hostile.length);
    assert.match(rejected[0] ?? "", /not JSON/);
    assert.match(rejected[8] ?? "", /extensions\.0\.sip\.ha1Md5/);
    assert.ok(!logger.text().includes(badHa1), "the refused HA1 is not logged");

    // Still connected and still working: a valid version after all that is taken.
    hub.send(conn, { type: "config", pbx: "pbx-a", version: 1, config: good });
    await waitFor("the ack", () => hub.acks(conn).length === 1);
    assert.deepEqual(delivered, [1]);
    assert.deepEqual(hub.acks(conn), [{ pbx: "pbx-a", version: 1 }]);
    assert.equal(hub.connections.length, 1);
    assert.equal(logger.at("warn").filter((w) => w.startsWith("refused")).length, hostile.length);
  });

  test("a listener that fails keeps the version un-acked; an async listener is awaited before the ack", async () => {
    const link = newLink();
    let switching = 0;
    link.on("config", (_pbx, version) => {
      if (version === 1) throw new Error("the call engine could not load v1");
    });
    link.on("config", async (_pbx, version) => {
      if (version === 3) throw new Error("async failure on v3");
      switching++;
      await new Promise((r) => setTimeout(r, 80));
      switching--;
    });
    link.start();
    const conn = await waitFor("a connection", () => hub.connections[0]);
    const send = (version: number) =>
      hub.send(conn, { type: "config", pbx: "pbx-a", version, config: sampleConfig("pbx-a") });

    send(1);
    send(2);
    send(3);
    send(4);
    await waitFor("the acks", () => hub.acks(conn).length === 2);
    assert.deepEqual(
      hub.acks(conn).map((a) => a.version),
      [2, 4],
    );
    assert.equal(switching, 0, "no ack before the listener finished");
    assert.match(logger.at("error").join("\n"), /could not load v1[\s\S]*async failure on v3/);
    assert.equal(hub.connections.length, 1);
  });

  test("the same version again is acked again without switching twice", async () => {
    const link = newLink();
    let deliveries = 0;
    link.on("config", () => {
      deliveries++;
    });
    link.start();
    const conn = await waitFor("a connection", () => hub.connections[0]);
    for (let i = 0; i < 3; i++)
      hub.send(conn, { type: "config", pbx: "pbx-a", version: 5, config: sampleConfig("pbx-a") });
    await waitFor("three acks", () => hub.acks(conn).length === 3);
    assert.equal(deliveries, 1);
  });

  test("remove deletes the PBX and tells the listeners; synced is passed on", async () => {
    const seeded = new ConfigStore({ dir: stateDir, logger });
    seeded.set("pbx-gone", 2, sampleConfig("pbx-gone"));
    await seeded.flush();
    hub.onHello = (conn, have) => {
      for (const pbx of Object.keys(have)) hub.send(conn, { type: "remove", pbx });
      hub.send(conn, { type: "synced", pbxs: 0 });
    };
    const link = newLink();
    const removed: string[] = [];
    link.on("remove", (pbx) => removed.push(pbx));
    const synced = new Promise((resolve) => link.once("synced", resolve));
    link.start();
    assert.equal(await synced, 0);
    assert.deepEqual(removed, ["pbx-gone"]);
    assert.equal(link.store.size, 0);
    await link.stop();
    assert.equal(new ConfigStore({ dir: stateDir, logger }).size, 0);
  });

  test("reconnects with growing, jittered delays while the hub drops it; a stable connection resets the backoff", async () => {
    const drops = 5;
    hub.onHello = (conn) => {
      if (hub.connections.length <= drops) conn.ws.terminate();
      else hub.send(conn, { type: "synced", pbxs: 0 });
    };
    const link = newLink({ backoffInitialMs: 40, backoffMaxMs: 200, stableAfterMs: 300 });
    link.start();
    await waitFor("a connection that holds", () => hub.connections.length === drops + 1, 5_000);

    // Connection k+1 comes between half and all of min(200, 40·2^k) after connection k was dropped.
    const gaps = hub.connections.slice(1).map((c, k) => c.openedAt - (hub.connections[k]?.closedAt ?? 0));
    const ceilings = [40, 80, 160, 200, 200];
    gaps.forEach((gap, k) => {
      const ceiling = ceilings[k] as number;
      assert.ok(
        gap >= ceiling / 2 - 5 && gap <= ceiling + 60,
        `gap ${k}: ${gap} ms, expected ${ceiling / 2}–${ceiling}`,
      );
    });
    await waitFor("the link open", () => link.state === "open");

    // Held longer than stableAfterMs: the next drop waits at most the first delay again.
    await new Promise((r) => setTimeout(r, 400));
    const before = hub.connections.length;
    hub.last.ws.terminate();
    const droppedAt = Date.now();
    await waitFor("the reconnect", () => hub.connections.length === before + 1, 2_000);
    assert.ok(hub.last.openedAt - droppedAt <= 40 + 60, `reconnected after ${hub.last.openedAt - droppedAt} ms`);
    // It said hello again each time, with what it has.
    await waitFor("hello on the new connection", () => hub.last.received.length > 0);
    assert.ok(hub.connections.every((c) => c.received[0]?.type === "hello"));
  });

  test("a missing pong means a dead connection: it is dropped and the link reconnects", async () => {
    hub.answerPings = false;
    const link = newLink({ pingIntervalMs: 100, pongTimeoutMs: 150, backoffInitialMs: 20 });
    const reasons: string[] = [];
    link.on("disconnected", (reason) => reasons.push(reason));
    link.start();
    const first = await waitFor("a connection", () => hub.connections[0]);
    await waitFor("the first connection dropped", () => first.closedAt !== null, 2_000);
    const lifetime = (first.closedAt ?? 0) - first.openedAt;
    assert.ok(lifetime >= 240 && lifetime < 600, `dropped after ${lifetime} ms; expected ping at 100 + 150 ms timeout`);
    assert.equal(first.received.filter((m) => m.type === "ping").length, 1, "one ping, then the timeout");
    assert.match(reasons[0] ?? "", /code 1006/);
    assert.match(logger.at("warn").join("\n"), /no pong from the edge within 150 ms/);
    await waitFor("a new connection", () => hub.connections.length >= 2, 2_000);
  });

  test("with pongs the connection stays up", async () => {
    const link = newLink({ pingIntervalMs: 50, pongTimeoutMs: 100 });
    link.start();
    const conn = await waitFor("a connection", () => hub.connections[0]);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(conn.received.filter((m) => m.type === "ping").length >= 5);
    assert.equal(conn.closedAt, null);
    assert.equal(hub.connections.length, 1);
  });

  test("a refused token is retried with backoff, never logged, and stop() ends the retries", async () => {
    await hub.stop();
    hub = await FakeHub.start({ refuse: true });
    let attempts = 0;
    hub.wss.on("headers", () => attempts++);
    const link = newLink({ backoffInitialMs: 20, backoffMaxMs: 40 });
    const disconnects: string[] = [];
    link.on("disconnected", (reason) => disconnects.push(reason));
    link.start();
    await waitFor("a few refusals", () => disconnects.length >= 3, 2_000);
    assert.match(logger.at("warn").join("\n"), /Unexpected server response: 401/);
    await link.stop();
    const count = disconnects.length;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(disconnects.length, count, "no attempt after stop()");
    assert.equal(link.state, "stopped");
    void attempts;
  });
});
