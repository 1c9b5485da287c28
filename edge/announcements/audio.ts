import type { AnnouncementAudio } from "../../shared/index.ts";
import { MAX_ANNOUNCEMENT_BYTES } from "../../shared/index.ts";
import { Problem, problems } from "../http/problem.ts";

/**
 * Announcement recordings an admin uploads (WAV or MP3): kept in the AUDIO bucket under the PBX,
 * named by their SHA-256, so a version that refers to a file always finds the same bytes (a
 * revert included) and nodes cache them by that name.
 */

const CONTENT_TYPES: Record<string, AnnouncementAudio["contentType"]> = {
  "audio/wav": "audio/wav",
  "audio/x-wav": "audio/wav",
  "audio/wave": "audio/wav",
  "audio/vnd.wave": "audio/wav",
  "audio/mpeg": "audio/mpeg",
  "audio/mp3": "audio/mpeg",
};

export function audioKey(pbxId: string, sha256: string): string {
  return `pbx/${pbxId}/announcements/${sha256}`;
}

/** Checks an upload (type, size, the file's own signature) and stores it; returns what the config keeps. */
export async function storeAnnouncementAudio(
  bucket: R2Bucket,
  pbxId: string,
  request: { contentType: string | undefined; fileName: string | undefined; body: ArrayBuffer },
): Promise<AnnouncementAudio> {
  const contentType = CONTENT_TYPES[(request.contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? ""];
  if (!contentType)
    throw new Problem(415, "unsupported-media-type", "Not an audio file we take", "Upload a WAV or an MP3 file.");
  const bytes = new Uint8Array(request.body);
  if (bytes.length === 0) throw problems.invalid([{ field: "(body)", message: "the file is empty" }]);
  if (bytes.length > MAX_ANNOUNCEMENT_BYTES)
    throw new Problem(
      413,
      "too-large",
      "File too large",
      `Announcements are at most ${MAX_ANNOUNCEMENT_BYTES / 1024 / 1024} MB.`,
    );
  if (!(contentType === "audio/wav" ? isWav(bytes) : isMp3(bytes)))
    throw problems.invalid([
      { field: "(body)", message: `the file is not ${contentType === "audio/wav" ? "a WAV" : "an MP3"} file` },
    ]);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  await bucket.put(audioKey(pbxId, sha256), bytes, { httpMetadata: { contentType } });
  return {
    sha256,
    fileName: cleanFileName(request.fileName, contentType),
    contentType,
    bytes: bytes.length,
    uploadedAt: new Date().toISOString(),
  };
}

/** The stored file as a response (the portal's preview, a node's download); 404 when missing. */
export async function serveAnnouncementAudio(bucket: R2Bucket, pbxId: string, sha256: string): Promise<Response> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw problems.notFound("That audio file");
  const object = await bucket.get(audioKey(pbxId, sha256));
  if (!object) throw problems.notFound("That audio file");
  return new Response(object.body, {
    headers: {
      "content-type": object.httpMetadata?.contentType ?? "application/octet-stream",
      "content-length": String(object.size),
      "cache-control": "private, max-age=31536000, immutable",
    },
  });
}

/** Deletes every announcement file of a PBX (when the PBX is deleted). */
export async function deleteAnnouncementAudio(bucket: R2Bucket, pbxId: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: `pbx/${pbxId}/announcements/`, ...(cursor ? { cursor } : {}) });
    if (page.objects.length > 0) await bucket.delete(page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** RIFF….WAVE */
function isWav(bytes: Uint8Array): boolean {
  const text = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  return bytes.length >= 12 && text(0, 4) === "RIFF" && text(8, 12) === "WAVE";
}

/** An ID3 tag, or an MPEG audio frame sync (11 set bits). */
function isMp3(bytes: Uint8Array): boolean {
  if (bytes.length >= 3 && String.fromCharCode(...bytes.subarray(0, 3)) === "ID3") return true;
  return bytes.length >= 2 && bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe0) === 0xe0;
}

function cleanFileName(name: string | undefined, contentType: AnnouncementAudio["contentType"]): string {
  const cleaned = (name ?? "")
    .replace(/[^\w .()-]+/g, "_")
    .trim()
    .slice(0, 200);
  return cleaned || (contentType === "audio/wav" ? "announcement.wav" : "announcement.mp3");
}
