import { PbxConfig } from "../../shared/config/schema.ts";
import { ForwardAllTable } from "../../shared/runtime/forward-all.ts";

/**
 * The hub's WebSocket protocol as the media node sees it (the edge side is
 * edge/nodes/NodeHubObject.ts, whose header comment is the reference).
 */

import type { HubMessage, NodeMessage } from "../../shared/protocol/node-hub.ts";

export type { HubMessage, NodeMessage };

/** A frame that was refused, with what is known of it; `reason` never quotes secrets. */
export interface RejectedFrame {
  type: string | null;
  pbx: string | null;
  version: number | null;
  reason: string;
}

/** PBX ids as the edge makes them ("pbx-3f9a…"), and nothing that could be a path or a prototype key trick. */
export const PBX_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const MAX_ISSUES = 5;

export function isVersion(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/** Frames come from the network: parse them without trusting them (types first, then the zod schema). */
export function parseHubMessage(raw: unknown, isBinary: boolean): HubMessage | RejectedFrame {
  const reject = (reason: string, m?: Record<string, unknown>): RejectedFrame => ({
    type: typeof m?.type === "string" ? m.type.slice(0, 40) : null,
    pbx: typeof m?.pbx === "string" && PBX_ID.test(m.pbx) ? m.pbx : null,
    version: isVersion(m?.version) ? m.version : null,
    reason,
  });
  if (isBinary) return reject("binary frames are not part of the protocol");
  const text = Buffer.isBuffer(raw) ? raw.toString("utf8") : typeof raw === "string" ? raw : null;
  if (text === null) return reject("frame is not text");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return reject(`frame is not JSON (${text.length} characters)`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) return reject("frame is not a JSON object");
  const m = data as Record<string, unknown>;
  switch (m.type) {
    case "config": {
      if (typeof m.pbx !== "string" || !PBX_ID.test(m.pbx)) return reject("config.pbx is not a PBX id", m);
      if (!isVersion(m.version)) return reject("config.version is not a positive integer", m);
      const parsed = PbxConfig.safeParse(m.config);
      if (!parsed.success) {
        // Paths and zod's messages only: zod 4 does not quote the input, so no HA1 gets logged.
        const issues = parsed.error.issues
          .slice(0, MAX_ISSUES)
          .map((i) => `${i.path.join(".") || "config"}: ${i.message.slice(0, 120)}`);
        const more =
          parsed.error.issues.length > MAX_ISSUES ? ` (+${parsed.error.issues.length - MAX_ISSUES} more)` : "";
        return reject(`config does not match the PbxConfig schema: ${issues.join("; ")}${more}`, m);
      }
      return { type: "config", pbx: m.pbx, version: m.version, config: parsed.data };
    }
    case "remove":
      if (typeof m.pbx !== "string" || !PBX_ID.test(m.pbx)) return reject("remove.pbx is not a PBX id", m);
      return { type: "remove", pbx: m.pbx };
    case "forwardAll": {
      if (typeof m.pbx !== "string" || !PBX_ID.test(m.pbx)) return reject("forwardAll.pbx is not a PBX id", m);
      const table = ForwardAllTable.safeParse(m.table);
      if (!table.success) return reject("forwardAll.table is not a forward-all table", m);
      return { type: "forwardAll", pbx: m.pbx, table: table.data };
    }
    case "synced":
      if (typeof m.pbxs !== "number" || !Number.isSafeInteger(m.pbxs) || m.pbxs < 0)
        return reject("synced.pbxs is not a count", m);
      return { type: "synced", pbxs: m.pbxs };
    case "pong":
      return { type: "pong" };
    case "error":
      return { type: "error", message: typeof m.message === "string" ? m.message.slice(0, 500) : "(no message)" };
    default:
      return reject(`unknown message type ${JSON.stringify(m.type ?? null).slice(0, 40)}`, m);
  }
}

export function isRejected(message: HubMessage | RejectedFrame): message is RejectedFrame {
  return "reason" in message;
}
