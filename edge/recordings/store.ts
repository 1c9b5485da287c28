import { Problem, problems } from "../http/problem.ts";
import type { RecordingRow } from "../pbx/recordings.ts";
import { contentRange, parseRange } from "./range.ts";

/**
 * Call recording files in R2. Every key starts with the PBX's own prefix, so no listing, read or
 * delete of one PBX ever reaches another's files.
 */

export function recordingPrefix(pbxId: string): string {
  return `pbx/${pbxId}/`;
}

export function recordingKey(pbxId: string, fileName: string): string {
  return `${recordingPrefix(pbxId)}${fileName}`;
}

/** Deletes every file of a PBX (when the PBX is deleted). */
export async function deleteRecordingFiles(bucket: R2Bucket, pbxId: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: recordingPrefix(pbxId), ...(cursor ? { cursor } : {}) });
    if (page.objects.length > 0) await bucket.delete(page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/**
 * A recording's file as an HTTP response: 200 with all of it, or 206 with the one byte range
 * asked for (416 when the file has no such bytes); `download` adds a Content-Disposition.
 */
export async function serveRecording(
  bucket: R2Bucket,
  row: RecordingRow,
  rangeHeader: string | undefined,
  download: boolean,
): Promise<Response> {
  const head = await bucket.head(row.key);
  if (!head) throw problems.notFound(`The file of recording ${row.id}`);
  const range = parseRange(rangeHeader, head.size);
  if (range === "unsatisfiable")
    throw new Problem(
      416,
      "range-not-satisfiable",
      "Range not satisfiable",
      `The recording has ${head.size} bytes.`,
      {},
      { "content-range": `bytes */${head.size}`, "accept-ranges": "bytes" },
    );
  const object = await bucket.get(row.key, range ? { range } : {});
  if (!object) throw problems.notFound(`The file of recording ${row.id}`);
  const headers = new Headers({
    "content-type": object.httpMetadata?.contentType ?? row.contentType,
    "accept-ranges": "bytes",
    etag: object.httpEtag,
    "content-length": String(range ? range.length : object.size),
  });
  if (range) headers.set("content-range", contentRange(range, object.size));
  if (download) headers.set("content-disposition", `attachment; filename="${row.fileName}"`);
  return new Response(object.body, { status: range ? 206 : 200, headers });
}
