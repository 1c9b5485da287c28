import { randomBytes } from "node:crypto";
import type { EventEmitter } from "node:events";
import { MAX_RECORDING_BYTES, type RecordingUpload } from "../../shared/index.ts";
import type { Logger } from "../common/Logger.ts";
import type { CallMediaSession, MediaLeg } from "../pbx/calls/media.ts";
import { FrameQueue, TICK_SAMPLES } from "./FrameQueue.ts";
import { Mp3Encoder } from "./Mp3Encoder.ts";
import type { RecordingEncryptor } from "./RecordingEncryptor.ts";
import { RecordingUploadError, type RecordingUploader } from "./RecordingUploader.ts";

const TICK_MS = 20;
/** How often the growing file goes to the edge while the call goes on. */
export const UPLOAD_EVERY_MS = 5000;
/**
 * Re-uploading the whole file costs its size each time: past ~1 MB (about 4 minutes) uploads are
 * spaced so a call never sends more than this per second on average (a 30-minute call uploads
 * about every 36 s, an hour-long one every 72 s).
 */
const UPLOAD_BYTES_PER_SECOND = 200 * 1024;
/** The final upload is tried this many times, 1, 2, 4, 8 s apart (15 s in all), when the edge fails. */
const FINAL_ATTEMPTS = 5;
/** Room for the CMS envelope around an encrypted file. */
const ENVELOPE_BYTES = 4096;

/** Who was on the call, as the upload's metadata says. */
export interface RecordedCall {
  /** The caller leg's SIP Call-ID (the call record's). */
  callId: string;
  from: string;
  to: string;
  direction: RecordingUpload["direction"];
}

export interface CallRecorderOptions {
  media: CallMediaSession;
  /** Recorded on the left channel. */
  caller: MediaLeg;
  /** Recorded on the right channel. */
  callee: MediaLeg;
  pbxId: string;
  recordingId: string;
  call: RecordedCall;
  uploader: Pick<RecordingUploader, "put">;
  /** The PBX's recording key; null: the MP3 is stored as it is. */
  encryptor: RecordingEncryptor | null;
  logger: Logger;
  uploadEveryMs?: number;
  /** Spacing of the final upload's attempts (tests shorten it). */
  retryBaseMs?: number;
  /** Told once stop() is done. */
  onFinished?: (outcome: RecordingOutcome) => void;
}

export interface RecordingOutcome {
  recordingId: string;
  durationMs: number;
  /** Bytes of the last upload the edge took (0: none was taken). */
  uploadedBytes: number;
  /** The final upload was stored. */
  final: boolean;
}

type Listener = EventEmitter & { close(): void };

/**
 * Records one answered call: hears both legs (LegListener), lines their frames up on a 20 ms
 * tick (each leg through a FrameQueue: silence where a leg has nothing), feeds the stereo MP3
 * encoder (caller left, callee right) and uploads the whole file so far to the edge every
 * UPLOAD_EVERY_MS with `final: false`, encrypted first when the PBX has a recording key; stop()
 * sends it once more with `final: true`.
 *
 * The periodic uploads are what makes a recording survive its node: a media node that dies
 * mid-call loses only what came after the last upload (at most ~5 s for calls under a few
 * minutes), because the edge already holds the file up to then (final: false). This is a
 * requirement (issue #6), not an optimisation: do not batch uploads to the end of the call.
 *
 * An edge that cannot be reached or fails is tried again at the next upload point and, at stop,
 * a bounded number of times; the log says what failed, never with the node token.
 */
export class CallRecorder {
  private readonly encoder = new Mp3Encoder();
  private readonly queues = { caller: new FrameQueue(), callee: new FrameQueue() };
  private readonly startedAt = new Date();
  private readonly t0 = performance.now();
  private ticks = 0;
  private timer: NodeJS.Timeout | undefined;
  private uploading: Promise<boolean> | null = null;
  private nextUploadAt: number;
  private uploadedBytes = 0;
  private failures = 0;
  /** The edge refused this recording for good (404 PBX gone, 400, 409): no more tries. */
  private refused = false;
  /** Audio stopped going in (too large, or ffmpeg failed); the recording ends there. */
  private full = false;
  private stopping: Promise<RecordingOutcome> | null = null;
  private readonly uploadEveryMs: number;
  private readonly retryBaseMs: number;

  private constructor(
    private readonly options: CallRecorderOptions,
    private readonly listeners: Listener[],
  ) {
    this.uploadEveryMs = options.uploadEveryMs ?? UPLOAD_EVERY_MS;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.nextUploadAt = this.t0 + this.uploadEveryMs;
    const [callerEar, calleeEar] = listeners as [Listener, Listener];
    callerEar.on("frame", (frame: Int16Array) => this.queues.caller.push(frame));
    calleeEar.on("frame", (frame: Int16Array) => this.queues.callee.push(frame));
    this.timer = setInterval(() => this.tick(), TICK_MS);
    // The call holds the recorder, not the process.
    this.timer.unref();
  }

  /**
   * Starts hearing both legs. Rejects, recording nothing, when a leg cannot be heard: the node
   * decodes G.711 only, so a browser-to-browser call (Opus) is not recordable.
   */
  static async start(options: CallRecorderOptions): Promise<CallRecorder> {
    const caller = await options.media.listen(options.caller);
    let callee: Listener;
    try {
      callee = await options.media.listen(options.callee);
    } catch (error) {
      caller.close();
      throw error;
    }
    return new CallRecorder(options, [caller, callee]);
  }

  /** A new recording id: sortable by time in an FTP listing, unique by its random tail. */
  static newId(now = new Date()): string {
    const stamp = now
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z")
      .replace("T", "-");
    return `${stamp}-${randomBytes(6).toString("base64url")}`;
  }

  get recordingId(): string {
    return this.options.recordingId;
  }

  /** Audio recorded so far. */
  get durationMs(): number {
    return this.ticks * TICK_MS;
  }

  /**
   * Ends the recording: the listeners close, ffmpeg flushes, and the whole file goes to the edge
   * with `final: true` (tried FINAL_ATTEMPTS times). Resolves with what was stored; never rejects.
   */
  stop(): Promise<RecordingOutcome> {
    this.stopping ??= this.finish();
    return this.stopping;
  }

  private tick(): void {
    // Timers drift and stall: the ticks due are counted from the start, so time keeps up.
    const due = Math.floor((performance.now() - this.t0) / TICK_MS);
    while (this.ticks < due && !this.full) {
      const left = this.queues.caller.take();
      const right = this.queues.callee.take();
      const stereo = new Int16Array(TICK_SAMPLES * 2);
      for (let i = 0; i < TICK_SAMPLES; i++) {
        stereo[i * 2] = left[i] as number;
        stereo[i * 2 + 1] = right[i] as number;
      }
      this.encoder.write(stereo);
      this.ticks++;
    }
    if (!this.full && this.encoder.error) {
      this.full = true;
      this.options.logger.error(`recording ${this.recordingId}: the encoder failed (${this.encoder.error.message})`);
    }
    if (!this.full && this.encoder.size + ENVELOPE_BYTES >= MAX_RECORDING_BYTES) {
      this.full = true;
      this.options.logger.warn(`recording ${this.recordingId}: reached the size limit, the rest is not recorded`);
    }
    const now = performance.now();
    if (now >= this.nextUploadAt && !this.uploading && !this.refused) {
      const spacing = Math.max(this.uploadEveryMs, (this.encoder.size / UPLOAD_BYTES_PER_SECOND) * 1000);
      this.nextUploadAt = now + spacing;
      const upload = this.upload(this.encoder.snapshot(), false).finally(() => {
        this.uploading = null;
      });
      this.uploading = upload;
    }
  }

  private async finish(): Promise<RecordingOutcome> {
    clearInterval(this.timer);
    for (const listener of this.listeners) listener.close();
    await this.uploading;
    let mp3: Buffer;
    try {
      ({ mp3 } = await this.encoder.finish());
    } catch (error) {
      // What was encoded before ffmpeg failed is still a playable MP3.
      this.options.logger.error(`recording ${this.recordingId}: the encoder failed (${(error as Error).message})`);
      mp3 = this.encoder.snapshot();
    }
    let stored = false;
    for (let attempt = 0; attempt < FINAL_ATTEMPTS && !this.refused && !stored; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, this.retryBaseMs * 2 ** (attempt - 1)));
      stored = await this.upload(mp3, true);
    }
    if (!stored)
      this.options.logger.error(
        `recording ${this.recordingId} of ${this.options.pbxId}: the final upload failed; the edge keeps ${this.uploadedBytes} bytes`,
      );
    mp3.fill(0);
    const outcome: RecordingOutcome = {
      recordingId: this.recordingId,
      durationMs: this.durationMs,
      uploadedBytes: this.uploadedBytes,
      final: stored,
    };
    this.options.onFinished?.(outcome);
    return outcome;
  }

  /** One upload of the whole file so far; true when the edge stored it. Failures are logged, not thrown. */
  private async upload(mp3: Buffer, final: boolean): Promise<boolean> {
    const { encryptor, uploader, pbxId, call, logger } = this.options;
    try {
      const body = encryptor ? await encryptor.encrypt(mp3) : mp3;
      // The plaintext copy is not needed once encrypted (the encoder keeps its own until stop).
      if (encryptor && !final) mp3.fill(0);
      await uploader.put(pbxId, this.recordingId, body, {
        ...call,
        startedAt: this.startedAt.toISOString(),
        durationMs: this.durationMs,
        encrypted: encryptor !== null,
        contentType: encryptor ? "application/pkcs7-mime" : "audio/mpeg",
        final,
      });
      if (this.failures > 0) logger.info(`recording ${this.recordingId}: the edge takes uploads again`);
      this.failures = 0;
      this.uploadedBytes = body.length;
      return true;
    } catch (error) {
      const retryable = error instanceof RecordingUploadError ? error.retryable : true;
      if (!retryable) this.refused = true;
      this.failures++;
      // Every failure of a final upload is told; while the call goes on, the first and every 12th (a minute).
      if (final || this.failures % 12 === 1 || !retryable)
        logger.warn(
          `recording ${this.recordingId} of ${pbxId}: upload failed (${(error as Error).message})${retryable ? "; will retry" : ""}`,
        );
      return false;
    }
  }
}
