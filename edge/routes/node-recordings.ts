import { Hono } from "hono";
import {
  MAX_RECORDING_BYTES,
  RECORDING_UPLOAD_HEADERS,
  RecordingId,
  RecordingUpload,
  recordingFileName,
  recordingUploadFromHeaders,
} from "../../shared/index.ts";
import type { AppEnv } from "../app-env.ts";
import { directory, type Env, pbxObject } from "../env.ts";
import { type FieldError, Problem, problems, zodFieldErrors } from "../http/problem.ts";
import { requireNodeToken } from "../middleware/node-token/index.ts";
import { type RecordingRow, recordingSummary } from "../pbx/recordings.ts";
import { recordingFilter } from "../recordings/query.ts";
import { recordingKey, serveRecording } from "../recordings/store.ts";

/**
 * Call recordings for media nodes (node token only), mounted at /api/nodes/recordings:
 * - `PUT /<pbxId>/<recordingId>`: upload (see shared/protocol/recordings.ts), streamed into R2;
 * - `GET /<pbxId>` and `GET /<pbxId>/<recordingId>` (Range too): for the node's FTP server.
 */
export const nodeRecordingRoutes = new Hono<AppEnv>();
nodeRecordingRoutes.use("*", requireNodeToken());

/** Uploads skip the app's 1 MB body limit: they are streamed, with MAX_RECORDING_BYTES as theirs. */
export function isRecordingUpload(method: string, path: string): boolean {
  return method === "PUT" && path.startsWith("/api/nodes/recordings/");
}

const PBX_ID = /^[A-Za-z0-9_-]{1,64}$/;

nodeRecordingRoutes.put("/:pbxId/:recordingId", async (c) => {
  const { pbxId, recordingId } = c.req.param();
  const errors: FieldError[] = [];
  const id = RecordingId.safeParse(recordingId);
  if (!id.success) errors.push(...zodFieldErrors(id.error, ["recordingId"]));
  const upload = RecordingUpload.safeParse(recordingUploadFromHeaders((name) => c.req.header(name)));
  if (!upload.success)
    errors.push(
      ...zodFieldErrors(upload.error).map((e) => {
        const header = RECORDING_UPLOAD_HEADERS[e.field as keyof typeof RECORDING_UPLOAD_HEADERS];
        return header ? { ...e, message: `${e.message} (header ${header})` } : e;
      }),
    );
  if (errors.length > 0 || !upload.success)
    throw new Problem(400, "validation", "Validation failed", "The recording id or its metadata is not valid.", {
      errors,
    });
  const meta = upload.data;

  const declared = c.req.header("content-length");
  if (declared === undefined || !/^[0-9]{1,15}$/.test(declared))
    throw new Problem(411, "length-required", "Length required", "Send the recording with a Content-Length.");
  const length = Number(declared);
  if (length > MAX_RECORDING_BYTES)
    throw new Problem(413, "too-large", "Recording too large", `Send at most ${MAX_RECORDING_BYTES} bytes.`);

  await requirePbx(c.env, pbxId);
  const pbx = pbxObject(c.env, pbxId);
  const existing = await pbx.recording(recordingId);
  if (existing?.final && !meta.final)
    throw problems.conflict("recording-final", "This recording is complete; an in-progress upload cannot replace it.");
  if (existing && existing.callId !== meta.callId)
    throw problems.conflict("recording-id-taken", "This recording id belongs to another call.");

  const fileName = recordingFileName(recordingId, meta.encrypted);
  const key = recordingKey(pbxId, fileName);
  // The body has a known length (Content-Length), so R2 takes the stream as it comes.
  const object = await c.env.RECORDINGS.put(key, c.req.raw.body ?? new Uint8Array(0), {
    httpMetadata: { contentType: meta.contentType },
    customMetadata: { callId: meta.callId, final: String(meta.final) },
  });
  const row: RecordingRow = {
    id: recordingId,
    callId: meta.callId,
    from: meta.from,
    to: meta.to,
    direction: meta.direction,
    startedAt: new Date(meta.startedAt).toISOString(),
    durationMs: meta.durationMs,
    encrypted: meta.encrypted,
    contentType: meta.contentType,
    fileName,
    key,
    size: object.size,
    final: meta.final,
    updatedAt: new Date().toISOString(),
  };
  const stored = await pbx.putRecording(row).catch(async (error: unknown) => {
    await c.env.RECORDINGS.delete(key);
    throw error;
  });
  if (!stored) {
    await c.env.RECORDINGS.delete(key);
    throw problems.notFound(`PBX ${pbxId}`);
  }
  // Encryption switched on or off mid-call: the file's name changed, the old one goes.
  if (existing && existing.key !== key) await c.env.RECORDINGS.delete(existing.key);
  return c.json({ recording: recordingSummary(row) }, existing ? 200 : 201);
});

nodeRecordingRoutes.get("/:pbxId", async (c) => {
  const pbxId = c.req.param("pbxId");
  const filter = recordingFilter(c.req.query());
  await requirePbx(c.env, pbxId);
  const rows = await pbxObject(c.env, pbxId).listRecordings(filter);
  return c.json({ recordings: rows.map(recordingSummary) });
});

nodeRecordingRoutes.get("/:pbxId/:recordingId", async (c) => {
  const { pbxId, recordingId } = c.req.param();
  await requirePbx(c.env, pbxId);
  const row = await pbxObject(c.env, pbxId).recording(recordingId);
  if (!row) throw problems.notFound(`Recording ${recordingId}`);
  return serveRecording(c.env.RECORDINGS, row, c.req.header("range"), c.req.query("download") === "1");
});

/** A PBX of any account (nodes serve them all), or 404. */
async function requirePbx(env: Env, pbxId: string): Promise<void> {
  if (!PBX_ID.test(pbxId) || !(await directory(env).getService(pbxId))) throw problems.notFound(`PBX ${pbxId}`);
}
