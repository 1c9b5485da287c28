import * as z from "zod";

/**
 * Call recordings between the media node and the edge, one definition for both ends.
 *
 * The node uploads a recording with `PUT /api/nodes/recordings/<pbxId>/<recordingId>`: the body
 * is the file (MP3, or with recording encryption a CMS EnvelopedData DER file), with
 * Content-Length, and the metadata below in the headers of RECORDING_UPLOAD_HEADERS. It may upload
 * the same recording again while the call goes on (`final: false`, a growing file); the last
 * upload replaces the file and its metadata, and once one with `final: true` is stored, in-progress
 * uploads of that recording are refused.
 */

/** Letters, digits, _ and -: safe in object keys, file names and URLs. */
export const RecordingId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "must be 8 to 64 letters, digits, _ or -");

/** A number on one end of the call as the node saw it ("anonymous" when withheld). */
const Party = z.string().regex(/^[\x21-\x7e]{0,64}$/, "must be at most 64 printable characters without spaces");

export const RECORDING_CONTENT_TYPES = ["audio/mpeg", "application/pkcs7-mime"] as const;

/** The largest recording the edge stores: 200 MiB (about 3.5 hours of 128 kbit/s MP3). */
export const MAX_RECORDING_BYTES = 200 * 1024 * 1024;

/** Seven days: no call lasts longer. */
const MAX_DURATION_MS = 7 * 24 * 3600 * 1000;

export const RecordingUpload = z
  .object({
    /** The call's SIP Call-ID, as in its CallRecord. */
    callId: z.string().min(1, "is required").max(256),
    from: Party,
    to: Party,
    direction: z.enum(["internal", "inbound", "outbound"]),
    startedAt: z.iso.datetime({ offset: true }),
    /** Recorded so far (final: false) or in all (final: true). */
    durationMs: z.number().int().min(0).max(MAX_DURATION_MS),
    /** Encrypted to the PBX's recording key (the file is then `<id>.mp3.enc`). */
    encrypted: z.boolean(),
    contentType: z.enum(RECORDING_CONTENT_TYPES),
    /** false while the call goes on: a later upload of the same recording replaces this one. */
    final: z.boolean(),
  })
  .superRefine((upload, ctx) => {
    const expected = upload.encrypted ? "application/pkcs7-mime" : "audio/mpeg";
    if (upload.contentType !== expected)
      ctx.addIssue({
        code: "custom",
        path: ["contentType"],
        message: `must be ${expected} for ${upload.encrypted ? "an encrypted" : "an unencrypted"} recording`,
      });
  });
export type RecordingUpload = z.infer<typeof RecordingUpload>;

/** Where each field of RecordingUpload travels on the upload request. */
export const RECORDING_UPLOAD_HEADERS = {
  callId: "x-recording-call-id",
  from: "x-recording-from",
  to: "x-recording-to",
  direction: "x-recording-direction",
  startedAt: "x-recording-started-at",
  durationMs: "x-recording-duration-ms",
  encrypted: "x-recording-encrypted",
  final: "x-recording-final",
  contentType: "content-type",
} as const satisfies Record<keyof RecordingUpload, string>;

/** The node's side: the upload's headers (without Content-Length). */
export function recordingUploadHeaders(upload: RecordingUpload): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [field, header] of Object.entries(RECORDING_UPLOAD_HEADERS))
    headers[header] = String(upload[field as keyof RecordingUpload]);
  return headers;
}

/**
 * The edge's side: the headers as a candidate for RecordingUpload ("true"/"false" and whole
 * numbers become booleans and numbers; anything else stays text for the schema to refuse).
 */
export function recordingUploadFromHeaders(header: (name: string) => string | null | undefined): unknown {
  const candidate: Record<string, unknown> = {};
  for (const [field, name] of Object.entries(RECORDING_UPLOAD_HEADERS)) {
    const raw = header(name) ?? undefined;
    if (raw === undefined) continue;
    const value = name === "content-type" ? (raw.split(";")[0] ?? "").trim().toLowerCase() : raw.trim();
    if (field === "encrypted" || field === "final")
      candidate[field] = value === "true" ? true : value === "false" ? false : value;
    else if (field === "durationMs") candidate[field] = /^[0-9]{1,15}$/.test(value) ? Number(value) : value;
    else candidate[field] = value;
  }
  return candidate;
}

/** The recording's file name, as listed, downloaded and served over FTP. */
export function recordingFileName(id: string, encrypted: boolean): string {
  return `${id}.mp3${encrypted ? ".enc" : ""}`;
}

/** One recording as the edge lists it (`GET /api/pbxs/<pbx>/recordings`, and to media nodes). */
export const RecordingSummary = z.object({
  id: RecordingId,
  callId: z.string(),
  from: z.string(),
  to: z.string(),
  direction: z.enum(["internal", "inbound", "outbound"]),
  /** ISO 8601, UTC. */
  startedAt: z.string(),
  durationMs: z.number().int(),
  encrypted: z.boolean(),
  contentType: z.enum(RECORDING_CONTENT_TYPES),
  /** `<id>.mp3`, or `<id>.mp3.enc` when encrypted. */
  fileName: z.string(),
  /** Bytes stored. */
  size: z.number().int(),
  /** false while the call is still being recorded (a later upload will replace the file). */
  final: z.boolean(),
  /** When the last upload was stored. */
  updatedAt: z.string(),
});
export type RecordingSummary = z.infer<typeof RecordingSummary>;
