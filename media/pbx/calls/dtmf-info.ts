import { createResponse } from "../../sip/core/responses.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";

/** A key press carried by SIP INFO, as WebRTC softphones send DTMF (JsSIP, SIP.js's SimpleUser). */
export interface InfoKeyPress {
  digit: string;
  durationMs: number;
}

export const DTMF_INFO_TYPES = ["application/dtmf-relay", "application/dtmf"] as const;

const DEFAULT_DURATION_MS = 160;
const KEY = /^([0-9*#A-Da-d]|1[0-1]|16)$/;

/**
 * The key press in an INFO body: application/dtmf-relay ("Signal=5\r\nDuration=160") or
 * application/dtmf ("5"). "unsupported" for another content type, null for a body that names no
 * key. The body is untrusted: short, known keys only, durations bounded.
 */
export function parseDtmfInfo(contentType: string | undefined, body: Buffer): InfoKeyPress | null | "unsupported" {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (!(DTMF_INFO_TYPES as readonly string[]).includes(type)) return "unsupported";
  if (body.length > 256) return null;
  const text = body.toString("utf8");
  let signal: string | undefined;
  let duration: string | undefined;
  if (type === "application/dtmf") signal = text.trim();
  else
    for (const line of text.split(/\r?\n/)) {
      const match = /^\s*(signal|duration)\s*=\s*(\S+)\s*$/i.exec(line);
      if (!match) continue;
      if (match[1]?.toLowerCase() === "signal") signal = match[2];
      else duration = match[2];
    }
  if (!signal || !KEY.test(signal)) return null;
  // Some phones send the RFC 4733 event code: 10 is *, 11 is #, 16 is flash.
  const digit = signal === "10" ? "*" : signal === "11" ? "#" : signal === "16" ? "flash" : signal.toUpperCase();
  const ms = Number(duration);
  const durationMs = Number.isInteger(ms) && ms > 0 ? Math.min(Math.max(ms, 40), 5000) : DEFAULT_DURATION_MS;
  return { digit, durationMs };
}

/**
 * Answers an in-dialog INFO: a key press goes to the leg it came from (which announces it and
 * plays it to its peer) with 200; another kind of body 415 naming what we take; a body that names
 * no key, or a leg that cannot take one, 400. The call goes on either way.
 */
export function answerDtmfInfo(
  tx: ServerTransaction,
  leg: { pressKey(digit: string, durationMs?: number): boolean } | null,
): void {
  const { request, peer } = tx;
  const press = parseDtmfInfo(request.get("Content-Type"), request.body);
  if (press === "unsupported") {
    const refused = createResponse(request, 415, undefined, peer);
    refused.set("Accept", DTMF_INFO_TYPES.join(", "));
    tx.respond(refused);
    return;
  }
  if (!press || !leg?.pressKey(press.digit, press.durationMs)) {
    tx.respond(createResponse(request, 400, "Bad DTMF Signal", peer));
    return;
  }
  tx.respond(createResponse(request, 200, "OK", peer));
}
