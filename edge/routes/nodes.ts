import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { nodeHub } from "../env.ts";
import { Problem, problems } from "../http/problem.ts";
import { requireNodeToken } from "../middleware/node-token/index.ts";

/**
 * Media nodes: `GET /api/nodes/connect?node=<id>` with `Authorization: Bearer <node token>`
 * upgrades to the hub's WebSocket (see NodeHubObject for the protocol).
 */
export const nodeRoutes = new Hono<AppEnv>();

nodeRoutes.get("/connect", requireNodeToken(), async (c) => {
  const nodeId = c.req.query("node") ?? "";
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(nodeId))
    throw problems.badRequest("node must be 1 to 64 letters, digits, . _ or -");
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
    throw new Problem(426, "upgrade-required", "WebSocket required", "Connect with a WebSocket upgrade.");
  const headers = new Headers(c.req.raw.headers);
  headers.set("x-node-id", nodeId);
  return nodeHub(c.env).fetch(new Request(c.req.url, { headers }));
});
