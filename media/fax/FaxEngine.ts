import { EventEmitter } from "node:events";
import { accessSync, constants } from "node:fs";
import { dirname } from "node:path";
import { type FaxAddon, type FaxSession, type FaxSessionEvent, type FaxStats, loadFaxAddon } from "./addon.ts";

/** 20 ms of 8 kHz audio: one RTP packet of G.711 at the usual ptime. */
export const FAX_FRAME_SAMPLES = 160;
const SAMPLES_PER_MS = 8;
/**
 * T.30's own timers end a stuck fax within about a minute of audio; this cap only guards against
 * a peer that keeps T.30 busy forever (endless retrains, pages without end).
 */
const DEFAULT_MAX_DURATION_MS = 30 * 60_000;

export interface FaxEngineOptions {
  /** True on the side that placed the call: it sends CNG and waits for the answerer's DIS. */
  calling: boolean;
  /** TIFF-F to send. */
  transmitFile?: string;
  /** TIFF-F to write what is received into (complete once `done` has been emitted). */
  receiveFile?: string;
  /** Our fax identity (TSI/CSI), up to 20 printable characters: usually the number in E.164. */
  ident?: string;
  /** Error correction mode (default on: a page hit by line errors is resent in parts, not damaged). */
  ecm?: boolean;
  /** Audio time after which the engine hangs up whatever T.30 is doing (default 30 min). */
  maxDurationMs?: number;
  /** SpanDSP's log level (0 none … 10), printed to stderr; for debugging only. */
  logLevel?: number;
}

/** How the fax is going, after negotiation and after each page. */
export interface FaxProgress {
  /** Pages sent (sending side) or received (receiving side) so far. */
  pages: number;
  bitRate: number;
  ecm: boolean;
  remoteIdent: string;
  /** ECM blocks of the last page asked for again because they arrived damaged (line errors, lost packets). */
  ecmRetries: number;
  /** Audio processed so far, ms: the call time the fax has taken. */
  atMs: number;
}

/** How the fax ended (T.30 phase E). */
export interface FaxResult {
  success: boolean;
  /** SpanDSP's T.30 completion code (T30_ERR_*, 0 = OK). */
  code: number;
  /** What the code means, e.g. "OK", "The call dropped prematurely". */
  text: string;
  /** Pages sent or received, whichever this engine did (received when it did both). */
  pagesTransferred: number;
  pagesSent: number;
  pagesReceived: number;
  remoteIdent: string;
  bitRate: number;
  ecm: boolean;
  /** Audio processed until the end, ms. */
  durationMs: number;
  /** True when the engine (maxDurationMs) or its owner (hangup/close) ended the fax, not T.30. */
  endedByUs: boolean;
}

export interface FaxEngineEvents {
  /** Capabilities exchanged (phase B): the far end's identity and the bit rate are known. */
  negotiated: [progress: FaxProgress];
  /** A page went through (phase D). */
  page: [progress: FaxProgress];
  /** The fax is over (phase E); the engine has already freed SpanDSP and closed the files. */
  done: [result: FaxResult];
}

/** What both of the addon's sessions (audio, T.38) have: T.30's reports and its end. */
interface T30Session {
  poll(): FaxSessionEvent[];
  stats(): FaxStats;
  terminate(): void;
  close(): void;
}

/**
 * T.30 over some line (audio or T.38): keeps time, turns the addon's polled events into typed
 * events and frees the native state the moment the fax is over, so a finished fax holds no file
 * handles or memory. Subclasses move the line's data in and out.
 */
export abstract class T30Engine<S extends T30Session> extends EventEmitter<FaxEngineEvents> {
  protected session: S | null;
  protected samples = 0;
  private endedByUs = false;
  private outcome: FaxResult | null = null;
  private readonly maxSamples: number;
  private readonly receiving: boolean;
  /** Resolves with the result when the fax is over (never rejects). */
  readonly finished: Promise<FaxResult>;

  protected constructor(options: FaxEngineOptions, open: () => S) {
    super();
    // Checked here so a bad path fails at once with its name, not seconds into the call as a
    // T.30 file error (and a libtiff message on stderr).
    if (options.transmitFile !== undefined) accessSync(options.transmitFile, constants.R_OK);
    if (options.receiveFile !== undefined) accessSync(dirname(options.receiveFile), constants.W_OK);
    this.session = open();
    this.receiving = options.receiveFile !== undefined;
    this.maxSamples = (options.maxDurationMs ?? DEFAULT_MAX_DURATION_MS) * SAMPLES_PER_MS;
    this.finished = new Promise((resolve) => this.once("done", resolve));
  }

  /** The result once the fax is over, else null. */
  get result(): FaxResult | null {
    return this.outcome;
  }

  get done(): boolean {
    return this.outcome !== null;
  }

  /** Line time processed so far, ms. */
  get elapsedMs(): number {
    return this.samples / SAMPLES_PER_MS;
  }

  /** The call ended (or we give up): T.30 stops, a partly received fax is kept, `done` is emitted. */
  hangup(): void {
    if (!this.session || this.outcome) return;
    this.endedByUs = true;
    const session = this.session;
    session.terminate();
    this.drain();
    // T.30 always reports phase E on terminate; should that report be lost, still end cleanly.
    if (!this.outcome) this.finish(false, -1, "ended without a T.30 result", session.stats());
  }

  /** Frees everything; emits `done` first if the fax was still running. Idempotent. */
  close(): void {
    this.hangup();
    this.release();
  }

  /** Time went on by `count` samples: the duration cap applies. */
  protected advance(count: number): void {
    this.samples += count;
    this.drain();
    if (!this.outcome && this.samples >= this.maxSamples) this.hangup();
  }

  protected drain(): void {
    const session = this.session;
    if (!session) return;
    for (const event of session.poll()) {
      // A listener may have hung up or closed the engine meanwhile: the rest is stale.
      if (this.outcome) return;
      if (event.type === "complete") {
        this.finish(event.success, event.code, event.text, event.stats);
        return;
      }
      this.emit(event.type, this.progress(event.stats));
    }
  }

  private finish(success: boolean, code: number, text: string, stats: FaxStats): void {
    if (this.outcome) return;
    // Free SpanDSP before anyone hears of the result: closing the session finishes the
    // received TIFF, which the `done` listener will want to read.
    this.release();
    this.outcome = {
      success,
      code,
      text,
      pagesTransferred: this.receiving ? stats.pagesReceived : stats.pagesSent,
      pagesSent: stats.pagesSent,
      pagesReceived: stats.pagesReceived,
      remoteIdent: stats.remoteIdent,
      bitRate: stats.bitRate,
      ecm: stats.ecm,
      durationMs: this.elapsedMs,
      endedByUs: this.endedByUs,
    };
    this.emit("done", this.outcome);
  }

  private release(): void {
    this.session?.close();
    this.session = null;
  }

  private progress(stats: FaxStats): FaxProgress {
    return {
      pages: this.receiving ? stats.pagesReceived : stats.pagesSent,
      bitRate: stats.bitRate,
      ecm: stats.ecm,
      remoteIdent: stats.remoteIdent,
      ecmRetries: stats.ecmRetries,
      atMs: this.elapsedMs,
    };
  }
}

/**
 * One fax on one call leg, as 8 kHz audio: `receive()` what the line carries, `transmit()` what
 * to send back, every 20 ms. SpanDSP does the modems and T.30 (through the addon).
 */
export class FaxEngine extends T30Engine<FaxSession> {
  constructor(options: FaxEngineOptions, addon: FaxAddon = loadFaxAddon()) {
    super(
      options,
      () =>
        new addon.FaxSession({
          calling: options.calling,
          transmitFile: options.transmitFile,
          receiveFile: options.receiveFile,
          ident: options.ident,
          ecm: options.ecm ?? true,
          logLevel: options.logLevel ?? 0,
        }),
    );
  }

  /**
   * Audio heard from the line (normally one 20 ms frame); null for a lost packet, which SpanDSP
   * bridges (fax_rx_fillin) rather than hearing silence that would break the modem's carrier.
   */
  receive(frame: Int16Array | null): void {
    const session = this.session;
    if (!session) return;
    if (frame) session.rx(frame);
    else session.fillin(FAX_FRAME_SAMPLES);
    this.advance(frame ? frame.length : FAX_FRAME_SAMPLES);
  }

  /** The next frame to send: fax tones while the fax runs, silence after. */
  transmit(samples = FAX_FRAME_SAMPLES): Int16Array {
    const session = this.session;
    if (!session) return new Int16Array(samples);
    const out = session.tx(samples);
    this.drain();
    return out;
  }
}
