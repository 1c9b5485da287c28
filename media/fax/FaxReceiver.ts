import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { FaxRecord } from "../../shared/index.ts";
import type { Logger } from "../common/Logger.ts";
import type { Mailer } from "../mail/Mailer.ts";
import type { CallMediaSession, MediaLeg } from "../pbx/calls/media.ts";
import { type FaxAddon, faxAvailability } from "./addon.ts";
import type { FaxDestination } from "./destination.ts";
import { faxTiffToPdf } from "./documents.ts";
import { FaxEngine, type FaxResult } from "./FaxEngine.ts";
import { FaxMailer, type FaxOutcome } from "./FaxMailer.ts";
import { faxOnLeg } from "./faxOnLeg.ts";
import { faxOnUdptl, type UdptlLine } from "./faxOnUdptl.ts";
import { T38Engine } from "./T38Engine.ts";

export interface FaxReceiverOptions {
  /** Where received pages wait until mailed ($MEDIA_STATE_DIR/fax); a fax whose mail failed stays in `unsent/`. */
  dir: string;
  mailer: FaxMailer;
  /** Every fax received, however it ended: the PBX's fax log. */
  onFax?: (pbxId: string, fax: FaxRecord) => void;
  logger: Logger;
  /** The SpanDSP addon (tests); loaded through media/fax/addon.ts otherwise. */
  addon?: FaxAddon;
}

/** A call the node receives a fax on. */
export interface IncomingFax {
  /** The call's SIP Call-ID: the fax log's id. */
  callId: string;
  pbxId: string;
  /** The caller's number ("anonymous" when withheld). */
  caller: string;
  /** The number called. */
  did: string;
  /** Where the fax goes: the route's Virtual FAX address (or the PBX's, for a fax heard on a voice route). */
  destination: FaxDestination;
  /** When the call came in (ISO). */
  startedAt: string;
}

/** A fax being received: the line part, then the mail and the log. */
export interface FaxReception {
  /** T.30 is over (the call may be hung up). */
  received: Promise<FaxResult>;
  /** The fax was mailed (or failed to be) and logged. Never rejects. */
  delivered: Promise<FaxRecord>;
  /**
   * The carrier re-INVITEd to T.38 (and we answered it): the audio engine stops, its word on the
   * fax discarded, and T.30 starts again over `line` into the same file; `received` is then
   * T.38's result. False (audio goes on) once the fax is over, already on T.38, or when pages
   * came as audio already (T.30 cannot resume mid-document on another engine).
   */
  switchToT38(line: UdptlLine): boolean;
  /** A T.38 offer we could not take (it was refused with 488): logged, the audio fax goes on. */
  refusedT38(reason: string): void;
}

/**
 * Fax to email: receives a fax on an answered call leg (SpanDSP, ECM on, our identity the number
 * called), writes the pages as TIFF-F in the node's state folder, makes them a PDF (tiff2pdf) and
 * mails it to the destination's address with the caller, number, pages, time and result. A failed
 * or partial fax is mailed too, saying so, with whatever pages arrived. The files are removed
 * once mailed; a mail that fails keeps the PDF under `unsent/` and says so in the log. Every fax
 * is reported for the PBX's fax log.
 */
export class FaxReceiver {
  constructor(private readonly options: FaxReceiverOptions) {}

  receive(fax: IncomingFax, leg: MediaLeg, media: CallMediaSession, signal: AbortSignal): FaxReception {
    const { logger } = this.options;
    const base = join(this.options.dir, `${Date.now()}-${randomBytes(6).toString("hex")}`);
    const tiff = `${base}.tif`;
    const label = `fax ${fax.caller} → ${fax.did} on ${fax.pbxId}`;
    const options = { calling: false, receiveFile: tiff, ident: faxIdent(fax.did), ecm: true };
    const watch = (engine: FaxEngine | T38Engine) => {
      engine.once("negotiated", (p) =>
        logger.info(`${label}: ${p.bitRate} bit/s, ECM ${p.ecm ? "on" : "off"}, from "${p.remoteIdent}"`),
      );
      engine.on("page", (p) => logger.info(`${label}: page ${p.pages} at ${(p.atMs / 1000).toFixed(1)} s`));
    };
    const handOver = new AbortController();
    let t38Line: UdptlLine | null = null;
    let audioPages = 0;
    let over = false;
    const received = (async (): Promise<FaxResult> => {
      await mkdir(this.options.dir, { recursive: true });
      const audio = new FaxEngine(options, this.options.addon);
      watch(audio);
      audio.on("page", () => audioPages++);
      const heard = await faxOnLeg(audio, media, leg, signal, undefined, handOver.signal);
      if (!t38Line) return heard;
      // The audio engine is closed (it wrote no page): T.30 starts again over T.38, same file.
      const line: UdptlLine = t38Line;
      const t38 = new T38Engine({ ...options, maxDatagram: line.maxDatagram - 8 }, this.options.addon);
      watch(t38);
      const counts = { sent: 0, received: 0, recovered: 0, garbage: 0 };
      const result = await faxOnUdptl(t38, line, signal, counts);
      logger.info(
        `${label}: T.38 UDPTL ${counts.sent} sent, ${counts.received} received, ` +
          `${counts.recovered} rebuilt from redundancy, ${counts.garbage} unreadable`,
      );
      return result;
    })()
      .catch((error: Error) => failedResult(`the fax could not start: ${error.message}`))
      .finally(() => {
        over = true;
      });
    const switchToT38 = (line: UdptlLine): boolean => {
      if (over || t38Line || audioPages > 0 || signal.aborted) return false;
      t38Line = line;
      logger.info(`${label}: the carrier switched to T.38 (UDPTL to ${line.remote.address}:${line.remote.port})`);
      handOver.abort();
      return true;
    };
    const delivered = received.then((result) => this.deliver(fax, result, tiff, base, label));
    const refusedT38 = (reason: string) => logger.warn(`${label}: T.38 refused (${reason}); the fax goes on as audio`);
    return { received, delivered, switchToT38, refusedT38 };
  }

  private async deliver(
    fax: IncomingFax,
    result: FaxResult,
    tiff: string,
    base: string,
    label: string,
  ): Promise<FaxRecord> {
    const { logger } = this.options;
    const pages = result.pagesReceived;
    const outcome: FaxOutcome = result.success && pages > 0 ? "success" : pages > 0 ? "partial" : "failed";
    const detail = result.success && pages === 0 ? "no pages were sent" : result.text;
    const ended = result.endedByUs ? "ended by the hang-up" : "T.30 ended it";
    logger.info(
      `${label}: ${outcome}, ${pages} page(s), ${detail} (${(result.durationMs / 1000).toFixed(1)} s, ${ended})`,
    );
    const pdf = `${base}.pdf`;
    let document: Buffer | null = null;
    let problem = "";
    if (pages > 0) {
      try {
        await faxTiffToPdf(tiff, pdf);
        document = await readFile(pdf);
      } catch (error) {
        problem = `; the pages could not be made a PDF (${(error as Error).message})`;
        logger.error(`${label}: ${problem.slice(2)}`);
      }
    }
    try {
      await this.options.mailer.send({
        to: fax.destination.email,
        caller: fax.caller,
        did: fax.did,
        receivedAt: fax.startedAt,
        timezone: fax.destination.timezone,
        outcome,
        pages,
        detail: detail + problem,
        remoteIdent: result.remoteIdent,
        bitRate: result.bitRate,
        durationMs: result.durationMs,
        pdf: document,
      });
      await rm(pdf, { force: true });
    } catch (error) {
      // Nothing received is lost: the PDF stays on the node for the administrator.
      const kept = join(this.options.dir, "unsent", `${fax.pbxId}-${base.slice(this.options.dir.length + 1)}.pdf`);
      const saved = document
        ? await mkdir(join(this.options.dir, "unsent"), { recursive: true })
            .then(() => rename(pdf, kept))
            .then(() => ` (kept as ${kept})`)
            .catch(() => "")
        : "";
      logger.error(`${label}: not mailed to ${fax.destination.email}: ${(error as Error).message}${saved}`);
    }
    await rm(tiff, { force: true });
    const record: FaxRecord = {
      id: fax.callId,
      direction: "inbound",
      from: fax.caller,
      to: fax.did,
      pages,
      result: outcome,
      detail: (detail + problem).slice(0, 300),
      remoteIdent: result.remoteIdent ? result.remoteIdent.slice(0, 64) : null,
      email: fax.destination.email,
      routeId: fax.destination.routeId,
      startedAt: fax.startedAt,
      durationMs: Math.max(0, Date.now() - Date.parse(fax.startedAt)),
    };
    this.options.onFax?.(fax.pbxId, record);
    return record;
  }
}

/** Our T.30 identity (CSI): the number called, as far as T.30 allows (digits, +, space; 20 at most). */
export function faxIdent(number: string): string {
  return number.replace(/[^0-9+ ]/g, "").slice(0, 20);
}

function failedResult(text: string): FaxResult {
  return {
    success: false,
    code: -1,
    text,
    pagesTransferred: 0,
    pagesSent: 0,
    pagesReceived: 0,
    remoteIdent: "",
    bitRate: 0,
    ecm: false,
    durationMs: 0,
    endedByUs: true,
  };
}

/**
 * The node's fax reception, or null (with the reason logged) when it cannot work here: no fax
 * addon (SpanDSP) or no mail relay to deliver faxes to. Without it, Virtual FAX routes refuse
 * their calls (480) rather than take faxes nobody would get, and voice routes hear no fax.
 */
export function faxReception(
  options: Omit<FaxReceiverOptions, "mailer"> & { mailer: Mailer | null },
): FaxReceiver | null {
  const availability = faxAvailability();
  if (!availability.available) {
    options.logger.warn(`fax reception off: ${availability.reason}`);
    return null;
  }
  if (!options.mailer) {
    options.logger.warn("fax reception off: no mail relay to deliver received faxes to");
    return null;
  }
  options.logger.info(`fax reception on (SpanDSP ${availability.spandsp}); received pages wait in ${options.dir}`);
  return new FaxReceiver({ ...options, mailer: new FaxMailer(options.mailer) });
}
