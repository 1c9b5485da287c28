import { DurableObject } from "cloudflare:workers";
import {
  type ConferenceParticipant,
  type ForwardAllTable,
  type HubMessage,
  MAX_NODE_FRAME,
  NodeMessage,
  type PbxConfig,
} from "../../shared/index.ts";
import { directory, type Env, pbxObject } from "../env.ts";

/**
 * Where media nodes connect (one WebSocket each, hibernating). The hub sends every applied
 * PBX configuration when a node says hello, pushes each new version as it is applied, and
 * passes the node's acknowledgements to the PBX so the portal shows when a version went live.
 *
 * Wire protocol (JSON text frames; types and schemas in shared/protocol/node-hub.ts):
 *   node → hub  {"type":"hello","have":{"<pbx>":<version>}}   {"type":"ack","pbx":"…","version":n}   {"type":"ping"}
 *               {"type":"call","pbx":"…","record":{…CallRecord}}   {"type":"forwardAll","pbx":"…","route":"…","destination":"…"|null}
 *               {"type":"conference","pbx":"…","room":"…","participants":[{"caller":"…","joinedAt":"…"}]}
 *               {"type":"fax","pbx":"…","fax":{…FaxRecord}}
 *   hub → node  {"type":"config","pbx":"…","version":n,"config":{…}}   {"type":"remove","pbx":"…"}
 *               {"type":"forwardAll","pbx":"…","table":{"<route>":"<destination>"}}
 *               {"type":"synced","pbxs":n}   {"type":"pong"}   {"type":"error","message":"…"}
 */

export interface NodeAttachment {
  nodeId: string;
  connectedAt: string;
}

export class NodeHubObject extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Who is in each conference room, per node that hosts it: live state, dropped with the node.
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS conference (
        node_id TEXT NOT NULL, pbx TEXT NOT NULL, room TEXT NOT NULL, participants TEXT NOT NULL,
        seq INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (node_id, pbx, room)
      );
      CREATE INDEX IF NOT EXISTS conference_pbx ON conference(pbx);
    `);
    // Tables made before reports carried a sequence number get the column.
    const columns = ctx.storage.sql.exec<{ name: string }>("PRAGMA table_info(conference)").toArray();
    if (!columns.some((c) => c.name === "seq"))
      ctx.storage.sql.exec("ALTER TABLE conference ADD COLUMN seq INTEGER NOT NULL DEFAULT 0");
  }

  override async fetch(request: Request): Promise<Response> {
    const nodeId = request.headers.get("x-node-id");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !nodeId)
      return new Response("expected a WebSocket upgrade", { status: 426 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [nodeId]);
    server.serializeAttachment({ nodeId, connectedAt: new Date().toISOString() } satisfies NodeAttachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const { nodeId } = ws.deserializeAttachment() as NodeAttachment;
    const parsed = parseNodeMessage(message);
    if ("error" in parsed) return send(ws, { type: "error", message: parsed.error });
    switch (parsed.type) {
      case "ping":
        return send(ws, { type: "pong" });
      case "hello": {
        // A node (re)connecting reports its rooms again after synced; what it said before is gone.
        this.forgetConferences(nodeId);
        const ids = await directory(this.env).listAllServiceIds();
        for (const pbx of ids) {
          const applied = await pbxObject(this.env, pbx).getAppliedForNode();
          if (!applied) continue;
          if (parsed.have[pbx] !== applied.version)
            send(ws, { type: "config", pbx, version: applied.version, config: applied.config });
          send(ws, { type: "forwardAll", pbx, table: applied.forwardAll });
        }
        for (const pbx of Object.keys(parsed.have)) if (!ids.includes(pbx)) send(ws, { type: "remove", pbx });
        return send(ws, { type: "synced", pbxs: ids.length });
      }
      case "ack":
        await pbxObject(this.env, parsed.pbx).recordAck(nodeId, parsed.version);
        return;
      case "forwardAll": {
        // The PBX stores it and publishes the new table to every node (this one included).
        const result = await pbxObject(this.env, parsed.pbx).setForwardAll(
          parsed.route,
          parsed.destination,
          `phone (dial code, media node ${nodeId})`,
        );
        if (!result.ok) send(ws, { type: "error", message: `forwardAll of ${parsed.pbx}: ${result.reason}` });
        return;
      }
      case "conference":
        // Kept even when empty (the room closed), so a report handled out of order loses to it.
        this.ctx.storage.sql.exec(
          `INSERT INTO conference (node_id, pbx, room, participants, seq) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (node_id, pbx, room) DO UPDATE SET participants = excluded.participants, seq = excluded.seq
           WHERE excluded.seq > conference.seq`,
          nodeId,
          parsed.pbx,
          parsed.room,
          JSON.stringify(parsed.participants),
          parsed.seq,
        );
        return;
      case "call":
        // Only PBXs that exist keep records; the PBX checks that itself.
        await pbxObject(this.env, parsed.pbx).recordCall(nodeId, parsed.record);
        return;
      case "fax":
        // The PBX's fax log; a PBX that does not exist keeps nothing.
        await pbxObject(this.env, parsed.pbx).recordFax(nodeId, parsed.fax);
        return;
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // Its calls are gone with it (or will be back with it, and it reports them again).
    const { nodeId } = ws.deserializeAttachment() as NodeAttachment;
    if (!this.ctx.getWebSockets(nodeId).some((other) => other !== ws)) this.forgetConferences(nodeId);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
  }

  /** Pushes a newly applied version to every connected node. */
  publish(pbx: string, version: number, config: PbxConfig): number {
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) send(ws, { type: "config", pbx, version, config });
    return sockets.length;
  }

  /** Pushes a PBX's forward-all table to every connected node. */
  publishForwardAll(pbx: string, table: ForwardAllTable): void {
    for (const ws of this.ctx.getWebSockets()) send(ws, { type: "forwardAll", pbx, table });
  }

  /** Tells every node a PBX is gone. */
  remove(pbx: string): void {
    for (const ws of this.ctx.getWebSockets()) send(ws, { type: "remove", pbx });
  }

  /** Who is in each of a PBX's conference rooms now, by room id (rooms nobody is in are absent). */
  conferenceParticipants(pbx: string): Record<string, ConferenceParticipant[]> {
    const rooms: Record<string, ConferenceParticipant[]> = {};
    for (const row of this.ctx.storage.sql.exec<{ room: string; participants: string }>(
      "SELECT room, participants FROM conference WHERE pbx = ? AND participants != '[]' ORDER BY node_id",
      pbx,
    ))
      rooms[row.room] = [...(rooms[row.room] ?? []), ...(JSON.parse(row.participants) as ConferenceParticipant[])];
    return rooms;
  }

  private forgetConferences(nodeId: string): void {
    this.ctx.storage.sql.exec("DELETE FROM conference WHERE node_id = ?", nodeId);
  }

  /** The nodes connected now. */
  nodes(): NodeAttachment[] {
    return this.ctx.getWebSockets().map((ws) => ws.deserializeAttachment() as NodeAttachment);
  }
}

function send(ws: WebSocket, message: HubMessage): void {
  try {
    ws.send(JSON.stringify(message));
  } catch {
    // The node went away; it resynchronises with hello when it reconnects.
  }
}

/** Frames come from the network: parse them without trusting them. */
export function parseNodeMessage(raw: string | ArrayBuffer): NodeMessage | { error: string } {
  if (typeof raw !== "string") return { error: "binary frames are not supported" };
  if (raw.length > MAX_NODE_FRAME) return { error: "frame too large" };
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { error: "frame is not JSON" };
  }
  const parsed = NodeMessage.safeParse(data);
  if (parsed.success) return parsed.data;
  const type = (data as { type?: unknown } | null)?.type;
  if (typeof type === "string" && ["hello", "ack", "ping", "call", "fax", "forwardAll", "conference"].includes(type))
    return {
      error: `invalid ${type} frame: ${parsed.error.issues.map((i) => i.path.join(".") || "(frame)").join(", ")}`,
    };
  return { error: `unknown message type ${JSON.stringify(type ?? null).slice(0, 40)}` };
}
