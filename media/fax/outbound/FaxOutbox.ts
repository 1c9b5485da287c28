import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { FaxRecord } from "../../../shared/index.ts";
import type { Logger } from "../../common/Logger.ts";
import { composeResultMail, type ResultMailer } from "./resultMail.ts";

/** How one try went. "no channel": the PBX had none free, so nothing was dialled (not counted as a try). */
export type AttemptOutcome = "sent" | "partial" | "busy" | "no answer" | "failed" | "refused" | "no channel";

export interface FaxAttempt {
  outcome: AttemptOutcome;
  /** In words: T.30's text ("OK", "The call dropped prematurely") or the status that ended the call ("486 Busy Here"). */
  detail: string;
  /** Pages that went through. */
  pages: number;
  /** The receiving machine's identity (CSI), when it gave one. */
  remoteIdent: string | null;
  startedAt: string;
  durationMs: number;
  /** The SIP Call-ID of the try's call, when one was placed (its call record's). */
  callId?: string;
}

/** One emailed fax on its way: what to send where, and its tries so far (kept in the spool as JSON). */
export interface OutboundFax {
  id: string;
  pbxId: string;
  /** The allowed sender (envelope address) who is told of the result. */
  sender: string;
  /** The sender's caller ID, presented to the carrier and as our fax identity (TSI). */
  callerId: string;
  number: string;
  /** Pages in the TIFF-F. */
  pages: number;
  /** The mail's subject and its PDFs' names, for the result mail. */
  subject: string;
  fileNames: string[];
  submittedAt: string;
  attempts: FaxAttempt[];
}

export type NewFax = Omit<OutboundFax, "id" | "submittedAt" | "attempts">;

/** Places one try: dials the number and faxes the TIFF-F if answered. Never rejects. */
export type FaxDialer = (fax: Readonly<OutboundFax>, tiff: string) => Promise<FaxAttempt>;

export interface RetryPolicy {
  /** Tries in all (busy, no answer and failed faxes are tried again until then). */
  attempts: number;
  /** Between tries. */
  delayMs: number;
  /** How often a fax waiting for a free channel looks again. */
  channelWaitMs: number;
  /** How long a fax waits for a free channel, in all, before it fails. */
  maxChannelWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  delayMs: 5 * 60_000,
  channelWaitMs: 30_000,
  maxChannelWaitMs: 2 * 3600_000,
};

export interface FaxOutboxOptions {
  /** Where queued faxes are kept (a TIFF-F and a JSON each), so a restart resumes them. */
  spoolDir: string;
  dial: FaxDialer;
  /** Who mails the sender the result; null: no mail (logged). */
  mailer: ResultMailer | null;
  /** The PBX's time zone, for the times in the result mail. */
  timezoneOf: (pbxId: string) => string;
  /** Each fax once it is over, for the PBX's fax log. */
  onRecord?: (pbxId: string, record: FaxRecord) => void;
  retry?: Partial<RetryPolicy>;
  logger: Logger;
}

/**
 * Email-to-fax's queue: each accepted fax is spooled (its TIFF-F and a JSON of its tries) and
 * tried until sent, refused (a number that does not exist) or out of tries; a try that finds every
 * channel of its PBX in use waits for one without counting. Once over, the sender is mailed the
 * result, the fax log gets its record and the spool forgets it. Faxes still spooled when the node
 * stopped are resumed by start().
 */
export class FaxOutbox {
  private readonly running = new Map<string, Promise<void>>();
  private readonly closing = new AbortController();
  private readonly retry: RetryPolicy;

  constructor(private readonly options: FaxOutboxOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** Creates the spool and resumes the faxes left in it. */
  async start(): Promise<void> {
    await mkdir(this.options.spoolDir, { recursive: true });
    for (const name of await readdir(this.options.spoolDir)) {
      if (!name.endsWith(".json")) continue;
      try {
        const fax = JSON.parse(await readFile(join(this.options.spoolDir, name), "utf8")) as OutboundFax;
        this.options.logger.info(`fax ${fax.id} to ${fax.number} resumed after ${fax.attempts.length} tries`);
        this.launch(fax);
      } catch (error) {
        this.options.logger.error(`spooled fax ${name} unreadable, left in place: ${(error as Error).message}`);
      }
    }
  }

  /** Queues a fax of `tiff` (copied into the spool); returns it as queued. */
  async submit(fax: NewFax, tiff: string): Promise<OutboundFax> {
    const queued: OutboundFax = {
      ...fax,
      id: `fax-${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`,
      submittedAt: new Date().toISOString(),
      attempts: [],
    };
    await copyFile(tiff, this.tiffOf(queued));
    await this.save(queued);
    this.options.logger.info(
      `fax ${queued.id}: ${queued.sender} → ${queued.number} on ${queued.pbxId}, ${queued.pages} pages, queued`,
    );
    this.launch(queued);
    return queued;
  }

  /** Faxes queued or being sent. */
  get pending(): number {
    return this.running.size;
  }

  /** Resolves once every fax queued now is over (tests). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values());
  }

  /** Stops trying (waits end at once; a fax on a call ends with its call). Spooled faxes resume at the next start. */
  async close(): Promise<void> {
    this.closing.abort();
    await Promise.all(this.running.values());
  }

  private launch(fax: OutboundFax): void {
    const run = this.run(fax)
      .catch((error: Error) => this.options.logger.error(`fax ${fax.id}: ${error.message}`))
      .finally(() => this.running.delete(fax.id));
    this.running.set(fax.id, run);
  }

  private async run(fax: OutboundFax): Promise<void> {
    const { logger } = this.options;
    let waitingSince = Date.now();
    while (!this.closing.signal.aborted) {
      const attempt = await this.options.dial(fax, this.tiffOf(fax));
      if (this.closing.signal.aborted) return;
      if (attempt.outcome === "no channel") {
        if (Date.now() - waitingSince < this.retry.maxChannelWaitMs) {
          logger.info(`fax ${fax.id}: every channel of ${fax.pbxId} is in use; waiting`);
          if (!(await this.wait(this.retry.channelWaitMs))) return;
          continue;
        }
        attempt.detail = `every channel stayed in use for ${Math.round(this.retry.maxChannelWaitMs / 60_000)} min`;
        fax.attempts.push(attempt);
        return this.finish(fax, false);
      }
      fax.attempts.push(attempt);
      logger.info(
        `fax ${fax.id} to ${fax.number}, try ${fax.attempts.length}: ${attempt.outcome} (${attempt.detail}), ${attempt.pages}/${fax.pages} pages`,
      );
      if (attempt.outcome === "sent") return this.finish(fax, true);
      if (attempt.outcome === "refused" || fax.attempts.length >= this.retry.attempts) return this.finish(fax, false);
      await this.save(fax);
      if (!(await this.wait(this.retry.delayMs))) return;
      waitingSince = Date.now();
    }
  }

  /** Mails the sender, logs the fax, forgets it. */
  private async finish(fax: OutboundFax, sent: boolean): Promise<void> {
    const { mailer, logger } = this.options;
    const timezone = this.options.timezoneOf(fax.pbxId);
    if (mailer) {
      const mail = composeResultMail(fax, sent, timezone);
      await mailer
        .send({ to: fax.sender, fromName: "EdgePBX Fax", ...mail })
        .catch((error: Error) => logger.error(`fax ${fax.id}: result mail to ${fax.sender} failed: ${error.message}`));
    } else logger.warn(`fax ${fax.id}: no mail relay, ${fax.sender} is not told the result`);
    this.options.onRecord?.(fax.pbxId, recordOf(fax, sent));
    logger.info(`fax ${fax.id} to ${fax.number}: ${sent ? "sent" : "failed"} after ${fax.attempts.length} tries`);
    await Promise.all([rm(this.tiffOf(fax), { force: true }), rm(this.jsonOf(fax), { force: true })]);
  }

  /** Sleeps, or returns false at once when the outbox closes. */
  private async wait(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.closing.signal });
      return true;
    } catch {
      return false;
    }
  }

  private async save(fax: OutboundFax): Promise<void> {
    const temporary = `${this.jsonOf(fax)}.tmp`;
    await writeFile(temporary, JSON.stringify(fax, null, 2));
    await rename(temporary, this.jsonOf(fax));
  }

  private tiffOf(fax: OutboundFax): string {
    return join(this.options.spoolDir, `${fax.id}.tif`);
  }

  private jsonOf(fax: OutboundFax): string {
    return join(this.options.spoolDir, `${fax.id}.json`);
  }
}

/**
 * The fax log's record of a fax that is over: the last try's pages and words; a fax that failed
 * after some pages went through on any try is partial. Its id is the Call-ID of the last call
 * placed (its call record's), or the fax's own when no call was.
 */
export function recordOf(fax: OutboundFax, sent: boolean, now = Date.now()): FaxRecord {
  const last = fax.attempts.at(-1);
  const mostPages = Math.max(0, ...fax.attempts.map((a) => a.pages));
  const startedAt = fax.attempts[0]?.startedAt ?? fax.submittedAt;
  const tries = fax.attempts.length;
  return {
    id: fax.attempts.findLast((a) => a.callId)?.callId ?? fax.id,
    direction: "outbound",
    from: fax.callerId,
    to: fax.number,
    pages: sent ? (last?.pages ?? 0) : mostPages,
    result: sent ? "success" : mostPages > 0 ? "partial" : "failed",
    detail: `${last ? `${last.outcome}: ${last.detail}` : "not sent"}${tries > 1 ? ` (${tries} tries)` : ""}`.slice(
      0,
      300,
    ),
    remoteIdent: fax.attempts.findLast((a) => a.remoteIdent)?.remoteIdent ?? null,
    email: fax.sender,
    routeId: null,
    startedAt,
    durationMs: Math.max(0, now - Date.parse(startedAt)),
  };
}
