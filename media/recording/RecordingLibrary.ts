import { Readable } from "node:stream";
import * as z from "zod";
import { RecordingSummary } from "../../shared/index.ts";

/** The edge answered otherwise than expected; `status` 0 when it could not be reached. */
export class RecordingLibraryError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const Listing = z.object({ recordings: z.array(RecordingSummary) });

/** The edge lists at most this many per request (newest first). */
export const LIST_LIMIT = 1000;

/**
 * A PBX's stored recordings as the edge's node API serves them (node token): the list and each
 * file, streamed. The FTP server reads through this; the node keeps no copy of its own.
 */
export class RecordingLibrary {
  constructor(
    private readonly edgeUrl: string,
    /** The edge's MEDIA_NODE_TOKEN: sent, never logged nor put in an error. */
    private readonly token: string,
    private readonly timeoutMs = 15_000,
  ) {}

  /** The newest LIST_LIMIT recordings of a PBX, newest first. */
  async list(pbxId: string): Promise<RecordingSummary[]> {
    const response = await this.get(`${this.base(pbxId)}?limit=${LIST_LIMIT}`, {});
    const body = Listing.safeParse(await response.json().catch(() => null));
    if (!body.success) throw new RecordingLibraryError("the edge's recording list is not in the expected shape", 502);
    return body.data.recordings;
  }

  /** One recording's bytes from `start` on (an FTP REST), as a stream. */
  async open(pbxId: string, recordingId: string, start = 0): Promise<Readable> {
    const headers: Record<string, string> = start > 0 ? { range: `bytes=${start}-` } : {};
    const response = await this.get(`${this.base(pbxId)}/${encodeURIComponent(recordingId)}`, headers);
    if (!response.body) return Readable.from([]);
    return Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  }

  private base(pbxId: string): string {
    return `${this.edgeUrl.replace(/\/$/, "")}/api/nodes/recordings/${encodeURIComponent(pbxId)}`;
  }

  private async get(url: string, headers: Record<string, string>): Promise<Response> {
    let response: Response;
    // The timeout covers the answer's headers only: a long download to a slow FTP client goes on.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      response = await fetch(url, {
        headers: { ...headers, authorization: `Bearer ${this.token}` },
        signal: abort.signal,
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new RecordingLibraryError(`the edge cannot be reached (${cause})`, 0);
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new RecordingLibraryError(`the edge answered ${response.status}`, response.status);
    }
    return response;
  }
}
