import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PbxConfig } from "../../shared/index.ts";
import type { Env } from "../env.ts";
import { ApiClient, BASE, worker } from "../test-support/api-client.ts";

const token = (env as unknown as Env).MEDIA_NODE_TOKEN ?? "";

type HubMessage = { type: string; pbx?: string; version?: number; config?: PbxConfig; message?: string; pbxs?: number };

/** A media node's side of the hub WebSocket, with a queue of received messages. */
class NodeSocket {
  private readonly queue: HubMessage[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.accept();
    ws.addEventListener("message", (event) => {
      this.queue.push(JSON.parse(event.data as string));
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async connect(nodeId: string): Promise<NodeSocket> {
    const res = await connect(nodeId, token);
    if (!res.webSocket) throw new Error(`no WebSocket: ${res.status}`);
    return new NodeSocket(res.webSocket);
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message that matches, waiting up to `ms`. */
  async next(match: (m: HubMessage) => boolean, ms = 5000): Promise<HubMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.queue.findIndex(match);
      if (index >= 0) return this.queue.splice(index, 1)[0] as HubMessage;
      if (Date.now() > deadline) throw new Error(`timed out; have ${JSON.stringify(this.queue.map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.ws.close(1000, "done");
  }
}

function connect(nodeId: string, bearer: string): Promise<Response> {
  return worker.fetch(`${BASE}/api/nodes/connect?node=${encodeURIComponent(nodeId)}`, {
    headers: { upgrade: "websocket", authorization: `Bearer ${bearer}` },
  });
}

describe("media node hub", () => {
  it("refuses a node without the right token or with a bad id", async () => {
    expect(token).toBe("test-media-node-token");
    expect((await connect("node-1", "wrong-token-value")).status).toBe(401);
    expect((await connect("bad id!", token)).status).toBe(400);
    const plain = await worker.fetch(`${BASE}/api/nodes/connect?node=n1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(plain.status).toBe(426);
  });

  it("sends applied configs on hello, pushes each apply, and records the node's acknowledgement", async () => {
    const admin = await ApiClient.registered("hub");
    const pbx = await admin.createPbx();
    const node = await NodeSocket.connect("media-a");
    node.send({ type: "hello", have: {} });
    const initial = await node.next((m) => m.type === "config" && m.pbx === pbx);
    expect(initial.version).toBe(1);
    await node.next((m) => m.type === "synced");

    const ext = await admin.post<{ generatedSecrets: { sipPassword: string } }>(`/api/pbxs/${pbx}/extensions`, {
      number: "100",
      name: "Alice",
    });
    expect(ext.status).toBe(201);
    await admin.post(`/api/pbxs/${pbx}/apply`);
    const pushed = await node.next((m) => m.type === "config" && m.pbx === pbx && m.version === 2);
    // The node gets the real digest HA1 it needs to authenticate phones; people never do.
    expect(pushed.config?.extensions[0]?.sip.ha1Md5).toMatch(/^[0-9a-f]{32}$/);

    node.send({ type: "ack", pbx, version: 2 });
    let acks: { nodeId: string; ackedAt: string }[] = [];
    for (let i = 0; i < 50 && acks.length === 0; i++) {
      const history = await admin.get<{ versions: { version: number; acks: typeof acks }[] }>(
        `/api/pbxs/${pbx}/history`,
      );
      acks = history.body.versions.find((v) => v.version === 2)?.acks ?? [];
      if (acks.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(acks).toEqual([{ nodeId: "media-a", ackedAt: expect.any(String) }]);
    node.close();
  });

  it("skips versions the node already has and tells it about deleted PBXs", async () => {
    const admin = await ApiClient.registered("hub2");
    const kept = await admin.createPbx("Kept");
    const gone = await admin.createPbx("Gone");
    const node = await NodeSocket.connect("media-b");
    node.send({ type: "hello", have: { [kept]: 1, "pbx-deleted-long-ago": 3 } });
    await node.next((m) => m.type === "config" && m.pbx === gone);
    await node.next((m) => m.type === "remove" && m.pbx === "pbx-deleted-long-ago");
    await node.next((m) => m.type === "synced");
    await expect(node.next((m) => m.type === "config" && m.pbx === kept, 500)).rejects.toThrow(/timed out/);

    expect((await admin.delete(`/api/pbxs/${gone}`)).status).toBe(204);
    await node.next((m) => m.type === "remove" && m.pbx === gone);
    node.close();
  });

  it("pushes a newly created PBX at once, so its SIP domain answers before the first apply", async () => {
    const node = await NodeSocket.connect("media-d");
    node.send({ type: "hello", have: {} });
    await node.next((m) => m.type === "synced");
    const admin = await ApiClient.registered("hub3");
    const pbx = await admin.createPbx("Brand new");
    const pushed = await node.next((m) => m.type === "config" && m.pbx === pbx);
    expect(pushed.version).toBe(1);
    expect(pushed.config?.settings.sipDomain).toBe(`${pbx}.pbx.edgepbx.local`);
    node.close();
  });

  it("stores the call records nodes report, once each, and lists them with filters", async () => {
    const admin = await ApiClient.registered("calls");
    const pbx = await admin.createPbx("Calls");
    const node = await NodeSocket.connect("media-e");
    const record = (callId: string, from: string, to: string, startedAt: string) => ({
      callId,
      direction: "internal",
      from,
      to,
      startedAt,
      answeredAt: startedAt,
      endedAt: new Date(Date.parse(startedAt) + 60_000).toISOString(),
      disposition: "answered",
    });
    node.send({ type: "call", pbx, record: record("c1@x", "100", "101", "2026-12-01T10:00:00.000Z") });
    node.send({ type: "call", pbx, record: record("c1@x", "100", "101", "2026-12-01T10:00:00.000Z") });
    node.send({ type: "call", pbx, record: record("c2@x", "102", "0299990000", "2026-12-02T10:00:00.000Z") });
    node.send({ type: "call", pbx, record: { callId: "bad" } });
    expect((await node.next((m) => m.type === "error")).message).toMatch(/invalid call frame/);
    node.send({ type: "ping" });
    await node.next((m) => m.type === "pong");
    const all = await admin.get<{ calls: { callId: string }[] }>(`/api/pbxs/${pbx}/calls`);
    expect(all.body.calls.map((c) => c.callId)).toEqual(["c2@x", "c1@x"]);
    const byNumber = await admin.get<{ calls: { callId: string }[] }>(`/api/pbxs/${pbx}/calls?number=9999`);
    expect(byNumber.body.calls.map((c) => c.callId)).toEqual(["c2@x"]);
    const byDate = await admin.get<{ calls: { callId: string }[] }>(
      `/api/pbxs/${pbx}/calls?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z`,
    );
    expect(byDate.body.calls.map((c) => c.callId)).toEqual(["c1@x"]);
    expect((await admin.get(`/api/pbxs/${pbx}/calls?from=yesterday`)).status).toBe(422);
    const other = await ApiClient.registered("nosy");
    expect((await other.get(`/api/pbxs/${pbx}/calls`)).status).toBe(404);
    node.close();
  });

  it("keeps the fax log nodes report, both directions, once each, listed with filters and the calls' access", async () => {
    const admin = await ApiClient.registered("faxes");
    const pbx = await admin.createPbx("Faxes");
    const node = await NodeSocket.connect("media-f");
    const fax = (id: string, direction: "inbound" | "outbound", from: string, to: string, startedAt: string) => ({
      id,
      direction,
      from,
      to,
      pages: direction === "inbound" ? 2 : 1,
      result: direction === "inbound" ? "success" : "partial",
      detail: direction === "inbound" ? "OK" : "The call dropped prematurely",
      remoteIdent: "+61 2 9000 1000",
      email: "faxes@example.test",
      routeId: direction === "inbound" ? "rt_fax0001" : null,
      startedAt,
      durationMs: 41_250,
    });
    const received = fax("f1@x", "inbound", "0412345678", "+61290004000", "2026-12-01T10:00:00.000Z");
    node.send({ type: "fax", pbx, fax: received });
    node.send({ type: "fax", pbx, fax: received });
    node.send({
      type: "fax",
      pbx,
      fax: fax("f2@x", "outbound", "0290000000", "0299990000", "2026-12-02T10:00:00.000Z"),
    });
    node.send({ type: "fax", pbx, fax: { ...received, id: "f3@x", result: "maybe" } });
    expect((await node.next((m) => m.type === "error")).message).toMatch(/invalid fax frame: fax.result/);
    node.send({
      type: "fax",
      pbx: "pbx-that-does-not-exist",
      fax: fax("f4@x", "inbound", "1", "2", received.startedAt),
    });
    node.send({ type: "ping" });
    await node.next((m) => m.type === "pong");

    type Faxes = { faxes: { id: string; direction: string; pages: number; result: string; durationMs: number }[] };
    const all = await admin.get<Faxes>(`/api/pbxs/${pbx}/faxes`);
    expect(all.status).toBe(200);
    expect(all.body.faxes.map((f) => f.id)).toEqual(["f2@x", "f1@x"]);
    expect(all.body.faxes[1]).toEqual(received);
    const inbound = await admin.get<Faxes>(`/api/pbxs/${pbx}/faxes?direction=inbound`);
    expect(inbound.body.faxes.map((f) => f.id)).toEqual(["f1@x"]);
    const byNumber = await admin.get<Faxes>(`/api/pbxs/${pbx}/faxes?number=9999`);
    expect(byNumber.body.faxes.map((f) => f.id)).toEqual(["f2@x"]);
    const byDate = await admin.get<Faxes>(`/api/pbxs/${pbx}/faxes?from=2026-12-02T00:00:00Z&limit=5`);
    expect(byDate.body.faxes.map((f) => f.id)).toEqual(["f2@x"]);
    expect((await admin.get(`/api/pbxs/${pbx}/faxes?direction=sideways`)).status).toBe(422);
    expect((await admin.get(`/api/pbxs/${pbx}/faxes?from=yesterday`)).status).toBe(422);
    const other = await ApiClient.registered("nosy-fax");
    expect((await other.get(`/api/pbxs/${pbx}/faxes`)).status).toBe(404);
    expect((await new ApiClient().get(`/api/pbxs/${pbx}/faxes`)).status).toBe(401);
    node.close();
  });

  it("shows who is in each conference room as nodes report it, and forgets a node's rooms when it drops", async () => {
    const admin = await ApiClient.registered("rooms");
    const pbx = await admin.createPbx("Rooms");
    const live = async () =>
      (await admin.get<{ rooms: Record<string, unknown[]> }>(`/api/pbxs/${pbx}/conference-rooms/live`)).body.rooms;
    expect(await live()).toEqual({});
    const node = await NodeSocket.connect("media-conf");
    const alice = { caller: "100", joinedAt: "2026-12-04T09:00:00.000Z" };
    const carrier = { caller: "+61299990000", joinedAt: "2026-12-04T09:01:00.000Z" };
    node.send({ type: "conference", pbx, room: "conf_sales001", participants: [alice], seq: 1 });
    node.send({ type: "conference", pbx, room: "conf_sales001", participants: [alice, carrier], seq: 2 });
    node.send({ type: "conference", pbx, room: "conf_board001", participants: [carrier], seq: 3 });
    node.send({ type: "conference", pbx, room: "conf_board001", participants: [], seq: 4 });
    // A report handled after a newer one (frames may be handled out of order) changes nothing.
    node.send({ type: "conference", pbx, room: "conf_sales001", participants: [alice], seq: 1 });
    node.send({ type: "conference", pbx, room: "conf_x", participants: [{ caller: "" }], seq: 5 });
    expect((await node.next((m) => m.type === "error")).message).toMatch(/invalid conference frame/);
    // Frames of one socket may be handled a moment apart: wait for the last one's effect.
    await expect.poll(live, { timeout: 5000 }).toEqual({ conf_sales001: [alice, carrier] });
    // Another tenant sees nothing of it.
    expect(
      (await (await ApiClient.registered("nosy-rooms")).get(`/api/pbxs/${pbx}/conference-rooms/live`)).status,
    ).toBe(404);
    // The node drops: its rooms go with it.
    node.close();
    await expect.poll(live, { timeout: 5000 }).toEqual({});
  });

  it("keeps Call Forward All set by a phone's dial code, shows it in the portal and tells every node", async () => {
    const admin = await ApiClient.registered("forward");
    const pbx = await admin.createPbx("Forwarding");
    const route = await admin.post<{ id: string; forwardAll: { dialCode: string } }>(`/api/pbxs/${pbx}/call-routes`, {
      did: "+61290007000",
      timezone: "UTC",
      alertName: "Main",
      activity: { type: "hangup" },
      forwardAll: { enabled: true },
    });
    expect(route.status).toBe(201);
    const closed = await admin.post<{ id: string }>(`/api/pbxs/${pbx}/call-routes`, {
      did: "+61290007001",
      timezone: "UTC",
      alertName: "No forwarding",
      activity: { type: "hangup" },
    });
    await admin.post(`/api/pbxs/${pbx}/apply`);
    const node = await NodeSocket.connect("media-f");
    const other = await NodeSocket.connect("media-g");
    for (const n of [node, other]) {
      n.send({ type: "hello", have: {} });
      await n.next((m) => m.type === "synced");
      // On connect a node gets each PBX's table with its config: nothing forwards yet.
      expect((await n.next((m) => m.type === "forwardAll" && m.pbx === pbx)) as unknown).toMatchObject({ table: {} });
    }

    // The phone dialled the code and a number on node f: the edge keeps it and both nodes hear.
    node.send({ type: "forwardAll", pbx, route: route.body.id, destination: "0411222333" });
    const table = { [route.body.id]: "0411222333" };
    expect((await other.next((m) => m.type === "forwardAll" && m.pbx === pbx)) as unknown).toMatchObject({ table });
    const listed = await admin.get<{ items: { routeId: string; destination: string | null; setBy: string }[] }>(
      `/api/pbxs/${pbx}/forward-all`,
    );
    expect(listed.body.items.find((i) => i.routeId === route.body.id)).toMatchObject({
      dialCode: route.body.forwardAll.dialCode,
      destination: "0411222333",
      setBy: expect.stringMatching(/dial code, media node media-f/),
    });

    // A route without Enable Forward All cannot be forwarded, by phone or portal.
    node.send({ type: "forwardAll", pbx, route: closed.body.id, destination: "0411222333" });
    expect((await node.next((m) => m.type === "error")).message).toMatch(/disabled/);
    const refused = await admin.put(`/api/pbxs/${pbx}/forward-all/${closed.body.id}`, { destination: "0411222333" });
    expect(refused.status).toBe(409);
    expect((await admin.put(`/api/pbxs/${pbx}/forward-all/rt_missing1`, { destination: null })).status).toBe(404);
    expect((await admin.put(`/api/pbxs/${pbx}/forward-all/${route.body.id}`, { destination: "call me" })).status).toBe(
      422,
    );

    // The portal turns it off: every node gets the new (empty) table; another customer cannot.
    const nosy = await ApiClient.registered("forward-nosy");
    expect((await nosy.put(`/api/pbxs/${pbx}/forward-all/${route.body.id}`, { destination: null })).status).toBe(404);
    const off = await admin.put<{ destination: string | null }>(`/api/pbxs/${pbx}/forward-all/${route.body.id}`, {
      destination: null,
    });
    expect(off.body.destination).toBeNull();
    // Node f heard its own change first, then the portal's.
    const mine = (m: HubMessage) => m.type === "forwardAll" && m.pbx === pbx;
    const tables = [await node.next(mine), await node.next(mine)];
    expect(tables.map((m) => (m as { table?: unknown }).table)).toEqual([table, {}]);

    // A node connecting later gets the table with the configs.
    await admin.put(`/api/pbxs/${pbx}/forward-all/${route.body.id}`, { destination: "0299990000" });
    const late = await NodeSocket.connect("media-h");
    late.send({ type: "hello", have: {} });
    expect((await late.next((m) => m.type === "forwardAll" && m.pbx === pbx)) as unknown).toMatchObject({
      table: { [route.body.id]: "0299990000" },
    });
    for (const n of [node, other, late]) n.close();
  });

  it("answers hostile frames with an error and keeps the connection", async () => {
    const node = await NodeSocket.connect("media-c");
    node.send("{not json");
    expect((await node.next((m) => m.type === "error")).message).toMatch(/not JSON/);
    node.send({ type: "ack", pbx: "pbx-nope", version: "two" });
    expect((await node.next((m) => m.type === "error")).message).toMatch(/invalid ack frame: version/);
    node.send({ type: "launch-missiles" });
    expect((await node.next((m) => m.type === "error")).message).toMatch(/unknown message type/);
    node.send("x".repeat(70_000));
    expect((await node.next((m) => m.type === "error")).message).toMatch(/too large/);
    node.send({ type: "ack", pbx: "pbx-never-existed", version: 1 });
    node.send({ type: "ping" });
    await node.next((m) => m.type === "pong");
    node.close();
  });
});
