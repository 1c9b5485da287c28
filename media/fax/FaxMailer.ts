import type { Mailer } from "../mail/Mailer.ts";

/** How a received fax ended, for its email and the fax log. */
export type FaxOutcome = "success" | "partial" | "failed";

/** A fax the node received, as its email tells it. */
export interface ReceivedFaxMail {
  /** The route's Virtual FAX address. */
  to: string;
  /** The caller's number ("anonymous" when withheld). */
  caller: string;
  /** The number the fax was sent to. */
  did: string;
  /** When the call came in (ISO). */
  receivedAt: string;
  /** Whose clock the email's times are in (the fax route's time zone). */
  timezone: string;
  outcome: FaxOutcome;
  pages: number;
  /** T.30's words for how it ended ("OK", "The call dropped prematurely"). */
  detail: string;
  /** The sending machine's identity (TSI), "" when it gave none. */
  remoteIdent: string;
  bitRate: number;
  /** Fax time on the call, ms. */
  durationMs: number;
  /** The received pages (PDF); null when no page arrived. */
  pdf: Buffer | null;
}

/**
 * Fax to email (Virtual FAX): every fax received is mailed to its route's address, the pages as
 * a PDF with the caller, the number, pages, time and result; a failed or partial fax too, saying
 * so, with whatever pages did arrive.
 */
export class FaxMailer {
  constructor(private readonly mailer: Mailer) {}

  async send(fax: ReceivedFaxMail): Promise<void> {
    const mail = composeFaxMail(fax);
    await this.mailer.send({
      to: fax.to,
      fromName: "EdgePBX Fax",
      subject: mail.subject,
      text: mail.text,
      attachments: fax.pdf ? [{ filename: mail.filename, content: fax.pdf, contentType: "application/pdf" }] : [],
    });
  }
}

/** The subject, text and attachment name of a received fax's email. */
export function composeFaxMail(fax: ReceivedFaxMail): { subject: string; text: string; filename: string } {
  const caller = fax.caller === "anonymous" || fax.caller === "" ? "a withheld number" : fax.caller;
  const pages = `${fax.pages} page${fax.pages === 1 ? "" : "s"}`;
  const when = new Date(fax.receivedAt);
  const received = new Intl.DateTimeFormat("en-GB", {
    dateStyle: "full",
    timeStyle: "long",
    timeZone: fax.timezone,
  }).format(when);
  const seconds = Math.round(fax.durationMs / 1000);
  const duration = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  const subject =
    fax.outcome === "success"
      ? `Fax from ${caller} to ${fax.did}: ${pages}`
      : fax.outcome === "partial"
        ? `Partial fax from ${caller} to ${fax.did}: ${pages} received, then it failed`
        : `Failed fax from ${caller} to ${fax.did}: no pages received`;
  const intro =
    fax.outcome === "success"
      ? `A fax to ${fax.did} was received.`
      : fax.outcome === "partial"
        ? `A fax to ${fax.did} was only partly received: it failed after page ${fax.pages}. Ask the sender to send the rest again.`
        : `A fax to ${fax.did} could not be received. Ask the sender to try again.`;
  const result =
    fax.outcome === "success"
      ? "Received in full"
      : `${fax.outcome === "partial" ? "Partial" : "Failed"}: ${fax.detail || "the fax ended without a result"}`;
  const lines = [
    intro,
    "",
    `From: ${caller}${fax.remoteIdent ? ` (fax ID ${fax.remoteIdent})` : ""}`,
    `To: ${fax.did}`,
    `Received: ${received}`,
    `Pages: ${fax.pages}`,
    `Result: ${result}`,
    `Duration: ${duration}${fax.bitRate > 0 ? `, at ${fax.bitRate} bit/s` : ""}`,
    "",
    fax.pdf
      ? fax.outcome === "success"
        ? "The pages are attached as a PDF."
        : "The pages that arrived are attached as a PDF."
      : "No pages arrived, so nothing is attached.",
  ];
  const stamp = localStamp(when, fax.timezone);
  const who = fax.caller.replace(/[^0-9+]/g, "") || "withheld";
  return { subject, text: lines.join("\n"), filename: `fax-${who}-${stamp}.pdf` };
}

/** 20261201-103000 in the time zone given. */
function localStamp(when: Date, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone: timezone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(when)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}${parts.month}${parts.day}-${parts.hour}${parts.minute}${parts.second}`;
}
