import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./app-env.ts";
import { Problem, problems } from "./http/problem.ts";
import { sameOrigin } from "./middleware/same-origin/index.ts";
import { openApiDocument } from "./openapi.ts";
import { authRoutes } from "./routes/auth.ts";
import { meRoutes } from "./routes/me.ts";
import { nodeAudioRoutes } from "./routes/node-audio.ts";
import { isRecordingUpload, nodeRecordingRoutes } from "./routes/node-recordings.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { isAnnouncementUpload, pbxRoutes } from "./routes/pbxs.ts";
import { recordingRoutes } from "./routes/recordings.ts";
import { userRoutes } from "./routes/users.ts";

export const app = new Hono<AppEnv>();

const jsonBodyLimit = bodyLimit({
  maxSize: 1024 * 1024,
  onError: () => new Problem(413, "too-large", "Body too large", "Send at most 1 MB.").toResponse(),
});
// Files (recordings from nodes, announcements from admins) have limits of their own.
const isFileUpload = (method: string, path: string) =>
  isRecordingUpload(method, path) || isAnnouncementUpload(method, path);
app.use("/api/*", (c, next) => (isFileUpload(c.req.method, c.req.path) ? next() : jsonBodyLimit(c, next)));
app.use("/api/*", sameOrigin());
app.use("/api/*", async (c, next) => {
  await next();
  c.header("cache-control", "no-store");
  c.header("x-content-type-options", "nosniff");
});

app.get("/api/health", (c) => c.json({ ok: true }));
app.get("/api/openapi.json", (c) => c.json(openApiDocument()));
app.route("/api/auth", authRoutes);
app.route("/api/me", meRoutes);
app.route("/api/users", userRoutes);
app.route("/api/pbxs", recordingRoutes);
app.route("/api/pbxs", pbxRoutes);
app.route("/api/nodes/recordings", nodeRecordingRoutes);
app.route("/api/nodes/audio", nodeAudioRoutes);
app.route("/api/nodes", nodeRoutes);

app.notFound(() => problems.notFound("That API path").toResponse());

app.onError((error) => {
  if (error instanceof Problem) return error.toResponse();
  console.error(`unhandled: ${error.stack ?? error.message}`);
  return new Problem(500, "internal", "Internal error", "Something went wrong on our side.").toResponse();
});
