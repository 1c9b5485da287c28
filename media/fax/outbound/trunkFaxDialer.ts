import type { TrunkCallOutcome } from "../../pbx/calls/TrunkCall.ts";
import { FaxEngine } from "../FaxEngine.ts";
import { faxOnLeg } from "../faxOnLeg.ts";
import type { AttemptOutcome, FaxAttempt, FaxDialer } from "./FaxOutbox.ts";

/** Call control's dialOut: the node's own call through the trunk, within the PBX's channels. */
export type DialOut = (
  pbxId: string,
  number: string,
  callerId: string | null,
  ringTimeoutMs: number,
) => Promise<TrunkCallOutcome>;

/**
 * Tries an outbound fax as a fax machine would: calls the number through the trunk with the
 * sender's caller ID and, once answered, sends the TIFF-F as the calling fax (CNG, then T.30 as
 * the far machine leads) on the call's G.711 audio, then hangs up.
 */
export function trunkFaxDialer(dialOut: DialOut, options: { ringTimeoutMs: number; ecm?: boolean }): FaxDialer {
  return async (fax, tiff) => {
    const startedAt = new Date().toISOString();
    const started = Date.now();
    const attempt = (outcome: AttemptOutcome, detail: string, more: Partial<FaxAttempt> = {}): FaxAttempt => ({
      outcome,
      detail,
      pages: 0,
      remoteIdent: null,
      startedAt,
      durationMs: Date.now() - started,
      ...more,
    });
    const placed = await dialOut(fax.pbxId, fax.number, fax.callerId, options.ringTimeoutMs).catch(
      (error: Error): TrunkCallOutcome => ({ answered: false, status: 500, reason: `500 ${error.message}` }),
    );
    if (!placed.answered) {
      if (placed.local === "no channel") return attempt("no channel", placed.reason);
      if (placed.local === "no trunk") return attempt("refused", "the node has no carrier trunk for this PBX");
      return attempt(outcomeOf(placed.status), placed.reason, placed.callId ? { callId: placed.callId } : {});
    }
    const callId = placed.call.callIds[0];
    let engine: FaxEngine;
    try {
      engine = new FaxEngine({ calling: true, transmitFile: tiff, ident: fax.callerId, ecm: options.ecm ?? true });
    } catch (error) {
      placed.call.hangUp();
      return attempt("failed", `the fax could not start: ${(error as Error).message}`, { callId });
    }
    const result = await faxOnLeg(engine, placed.media, placed.leg, placed.call.signal).catch((error: Error) => error);
    placed.call.hangUp();
    if (result instanceof Error) return attempt("failed", `the call's audio failed: ${result.message}`, { callId });
    return attempt(result.success ? "sent" : result.pagesSent > 0 ? "partial" : "failed", result.text, {
      pages: result.pagesSent,
      remoteIdent: result.remoteIdent || null,
      callId,
    });
  };
}

/** What a final status of our INVITE means for the fax: try again later, or not at all. */
export function outcomeOf(status: number): AttemptOutcome {
  if (status === 486 || status === 600) return "busy";
  if (status === 408 || status === 480 || status === 487) return "no answer";
  // The number does not exist, cannot be reached or refuses us: another try would not change it.
  if ([403, 404, 410, 484, 485, 603, 604].includes(status)) return "refused";
  return "failed";
}
