import { Hono } from "hono";
import { serveAnnouncementAudio } from "../announcements/audio.ts";
import type { AppEnv } from "../app-env.ts";
import { requireNodeToken } from "../middleware/node-token/index.ts";

/** Media nodes fetch the announcement files an applied config names (by PBX and SHA-256). */
export const nodeAudioRoutes = new Hono<AppEnv>();

nodeAudioRoutes.use("*", requireNodeToken());

nodeAudioRoutes.get("/:pbx/:sha256", (c) =>
  serveAnnouncementAudio(c.env.AUDIO, c.req.param("pbx"), c.req.param("sha256")),
);
