import { type Context, Hono } from "hono";
import type { Role } from "../../shared/index.ts";
import type { AppEnv } from "../app-env.ts";
import { pbxObject } from "../env.ts";
import { problems } from "../http/problem.ts";
import { requireAuth, requireService } from "../middleware/auth/index.ts";
import { type RecordingRow, recordingSummary } from "../pbx/recordings.ts";
import { recordingFilter } from "../recordings/query.ts";
import { serveRecording } from "../recordings/store.ts";

/**
 * Call recordings of a PBX for its customer ("Reports → Call Recordings": filter by date, search
 * by number, play, download): the same access as the PBX's call records. Mounted at /api/pbxs
 * ahead of the PBX routes, whose `/:pbx/:collection` would otherwise take `/recordings`.
 */
export const recordingRoutes = new Hono<AppEnv>();

const auth = requireAuth();

/** Deleting a recording is for the account's Administrators and API users and the PBX's Client Users. */
const MAY_DELETE: Role[] = ["administrator", "apiUser", "clientUser"];

recordingRoutes.get("/:pbx/recordings", auth, async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  const rows = await pbxObject(c.env, service.id).listRecordings(recordingFilter(c.req.query()));
  return c.json({ recordings: rows.map(recordingSummary) });
});

recordingRoutes.get("/:pbx/recordings/:id", auth, async (c) => {
  const row = await findRecording(c);
  return c.json({ recording: recordingSummary(row) });
});

recordingRoutes.get("/:pbx/recordings/:id/audio", auth, async (c) => {
  const row = await findRecording(c);
  return serveRecording(c.env.RECORDINGS, row, c.req.header("range"), c.req.query("download") === "1");
});

recordingRoutes.delete("/:pbx/recordings/:id", auth, async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "edit");
  if (!MAY_DELETE.includes(c.var.principal.user.role))
    throw problems.forbidden("Only Administrators and Client Users delete recordings.");
  const row = await pbxObject(c.env, service.id).deleteRecording(c.req.param("id"));
  if (!row) throw problems.notFound(`Recording ${c.req.param("id")}`);
  await c.env.RECORDINGS.delete(row.key);
  return c.body(null, 204);
});

async function findRecording(c: Context<AppEnv>): Promise<RecordingRow> {
  const service = await requireService(c, c.req.param("pbx") ?? "", "view");
  const id = c.req.param("id") ?? "";
  const row = await pbxObject(c.env, service.id).recording(id);
  if (!row) throw problems.notFound(`Recording ${id}`);
  return row;
}
