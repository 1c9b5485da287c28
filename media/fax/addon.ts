// The one place that loads the fax addon (media/fax/native: SpanDSP's audio fax and T.38 terminal
// through node-addon-api), as media/rtc/worker-bin.ts is for mediasoup. Fax is optional: when the postinstall could not
// build the addon (no libspandsp-dev, no compiler, EDGEPBX_SKIP_FAX), loading it throws
// FaxUnavailableError with the reason the build recorded, and nothing else in the node breaks.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { addonFile, readStatus } from "../../scripts/fax/addon-path.mjs";

export interface FaxSessionOptions {
  /** True on the side that placed the call (it sends CNG and waits for the answerer's DIS). */
  calling: boolean;
  /** TIFF-F to send (all pages). */
  transmitFile?: string;
  /** TIFF-F to write the received pages into. */
  receiveFile?: string;
  /** Our T.30 identity (TSI/CSI): up to 20 printable ASCII characters, usually the fax number. */
  ident?: string;
  /** Error correction mode (default true). */
  ecm?: boolean;
  /** SpanDSP's own log level to stderr, 0 (default, none) to 10; for debugging only. */
  logLevel?: number;
}

/** What T.30 knew at one moment (SpanDSP's t30_stats_t and the remote identity). */
export interface FaxStats {
  bitRate: number;
  ecm: boolean;
  pagesSent: number;
  pagesReceived: number;
  /** Pages in the file being sent (-1 when unknown). */
  pagesInFile: number;
  /** Size and resolution (pixels per metre) of the last page. */
  width: number;
  length: number;
  xResolution: number;
  yResolution: number;
  encoding: number;
  /** Rows of the last page received damaged (without ECM). */
  badRows: number;
  /** ECM blocks asked for again (PPR) because frames arrived damaged. */
  ecmRetries: number;
  remoteIdent: string;
}

export type FaxSessionEvent =
  | { type: "negotiated"; code: number; stats: FaxStats }
  | { type: "page"; code: number; stats: FaxStats }
  | { type: "complete"; code: number; success: boolean; text: string; stats: FaxStats };

/** The addon's class: one SpanDSP fax_state_t. All calls are synchronous and cheap. */
export interface FaxSession {
  /** Audio heard from the line (8 kHz, at most 8000 samples); returns the samples left unprocessed. */
  rx(samples: Int16Array): number;
  /** `count` samples (0..8000) that were lost on the way (a missing packet); returns the unprocessed count. */
  fillin(count: number): number;
  /** The next `count` samples (8 kHz, 0..8000) to send; silence while the modem is idle. */
  tx(count: number): Int16Array;
  /** Events since the last poll, oldest first. */
  poll(): FaxSessionEvent[];
  stats(): FaxStats;
  /** The call is gone: T.30 ends now and reports completion (a no-op once it has). */
  terminate(): void;
  /** Terminates if needed and frees the native state; idempotent. Files are closed after it. */
  close(): void;
  readonly active: boolean;
  readonly closed: boolean;
}

export interface T38SessionOptions extends FaxSessionOptions {
  /** The far end's T38FaxMaxDatagram (bytes an IFP may take); SpanDSP splits image data to fit. */
  maxDatagram?: number;
}

/**
 * The addon's T.38 class: one SpanDSP t38_terminal_state_t (T.30 over T.38, the same reports as
 * FaxSession). IFP packets go in with their UDPTL sequence number and come out of packets();
 * tick() every 20 ms keeps T.38's timers and pacing.
 */
export interface T38Session {
  /** One IFP packet heard (at most 1024 bytes); SpanDSP skips repeats. 0 OK, -1 not understood (dropped). */
  rx(ifp: Buffer, seq: number): number;
  /** `samples` (0..8000, 8 kHz) of time went by; true once T.30 has nothing left to do. */
  tick(samples: number): boolean;
  /** IFP packets to send since the last call, oldest first. */
  packets(): Buffer[];
  poll(): FaxSessionEvent[];
  stats(): FaxStats;
  terminate(): void;
  close(): void;
  readonly active: boolean;
  readonly closed: boolean;
}

export interface FaxAddon {
  FaxSession: new (options: FaxSessionOptions) => FaxSession;
  T38Session: new (options: T38SessionOptions) => T38Session;
  spandspVersion: string;
  samplesPerSecond: number;
  maxSamplesPerCall: number;
}

export class FaxUnavailableError extends Error {
  override name = "FaxUnavailableError";
}

let loaded: FaxAddon | undefined;

/** The addon, loaded once. Throws FaxUnavailableError saying why fax cannot work here. */
export function loadFaxAddon(): FaxAddon {
  if (loaded) return loaded;
  const status = readStatus();
  const retry = "`npm run fax:build` builds it (it needs libspandsp-dev: apt-get install libspandsp-dev)";
  if (status && !status.ok) throw new FaxUnavailableError(`fax unavailable: ${status.reason}; ${retry}`);
  if (!existsSync(addonFile)) throw new FaxUnavailableError(`fax unavailable: the addon is not built; ${retry}`);
  try {
    loaded = createRequire(import.meta.url)(addonFile) as FaxAddon;
  } catch (error) {
    throw new FaxUnavailableError(
      `fax unavailable: ${addonFile} does not load (${(error as Error).message}); ${retry}`,
    );
  }
  return loaded;
}

/** Whether fax works here, and if not why (for start-up logs and skipped tests). */
export function faxAvailability(): { available: true; spandsp: string } | { available: false; reason: string } {
  try {
    return { available: true, spandsp: loadFaxAddon().spandspVersion };
  } catch (error) {
    if (error instanceof FaxUnavailableError) return { available: false, reason: error.message };
    throw error;
  }
}
