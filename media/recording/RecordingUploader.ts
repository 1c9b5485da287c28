import { MAX_RECORDING_BYTES, type RecordingUpload, recordingUploadHeaders } from "../../shared/index.ts";

/** An upload the edge did not take: `status` is its HTTP status, 0 when it could not be reached. */
export class RecordingUploadError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }

  /** Worth sending again later: the edge was unreachable, slow or failing, not refusing this upload. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/**
 * Sends a recording's file to the edge: `PUT {edgeUrl}/api/nodes/recordings/<pbxId>/<id>` with the
 * node token, the file as the body and its metadata in the x-recording-* headers. The edge stores
 * it in R2; an upload of the same id replaces the file (the recording grows while the call goes on).
 */
export class RecordingUploader {
  constructor(
    private readonly edgeUrl: string,
    /** The edge's MEDIA_NODE_TOKEN: sent, never logged nor put in an error. */
    private readonly token: string,
    private readonly timeoutMs = 30_000,
  ) {}

  async put(pbxId: string, recordingId: string, body: Uint8Array, upload: RecordingUpload): Promise<void> {
    if (body.length > MAX_RECORDING_BYTES)
      throw new RecordingUploadError(`recording ${recordingId} is ${body.length} bytes, over the edge's limit`, 413);
    const url = `${this.edgeUrl.replace(/\/$/, "")}/api/nodes/recordings/${encodeURIComponent(pbxId)}/${encodeURIComponent(recordingId)}`;
    let response: Response;
    try {
      // fetch sends Content-Length for a byte body, as the edge requires.
      response = await fetch(url, {
        method: "PUT",
        headers: { ...recordingUploadHeaders(upload), authorization: `Bearer ${this.token}` },
        body: body as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new RecordingUploadError(`the edge cannot be reached (${cause})`, 0);
    }
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    // The problem's title and detail say why (they never hold the token).
    const text = await response.text().catch(() => "");
    let reason = text.slice(0, 300);
    try {
      const problem = JSON.parse(text) as { title?: string; detail?: string; errors?: { field: string }[] };
      reason = [problem.title, problem.detail, problem.errors?.map((e) => e.field).join(", ")]
        .filter(Boolean)
        .join(": ");
    } catch {
      // Not problem+json: the text as it came.
    }
    throw new RecordingUploadError(`the edge refused the upload (${response.status} ${reason})`, response.status);
  }
}
