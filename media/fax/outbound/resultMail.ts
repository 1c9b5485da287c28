import type { OutboundFax } from "./FaxOutbox.ts";

/** What sends the result mails: the node's Mailer (media/mail/Mailer.ts) is one. */
export interface ResultMailer {
  send(mail: { to: string; subject: string; text: string; fromName?: string }): Promise<void>;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function minutes(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/**
 * The sender's mail once a fax is over: sent (pages, when, how long, the far machine's identity),
 * or failed after its last try (each try's outcome). Times are in the PBX's time zone.
 */
export function composeResultMail(
  fax: OutboundFax,
  sent: boolean,
  timezone: string,
  now = new Date(),
): { subject: string; text: string } {
  const when = new Intl.DateTimeFormat("en-GB", { dateStyle: "full", timeStyle: "long", timeZone: timezone }).format(
    now,
  );
  const last = fax.attempts.at(-1);
  const tries = fax.attempts.map((a, i) => `  ${i + 1}. ${a.startedAt}: ${a.outcome} (${a.detail})`);
  const document = [
    `Document: ${fax.fileNames.join(", ") || "(PDF)"}, ${plural(fax.pages, "page")}`,
    ...(fax.subject ? [`Your mail: "${fax.subject}"`] : []),
  ];
  if (sent && last) {
    return {
      subject: `Fax sent to ${fax.number}: ${plural(last.pages, "page")}`,
      text: [
        `Your fax to ${fax.number} was sent.`,
        "",
        `Pages sent: ${last.pages} of ${fax.pages}`,
        `Sent: ${when}`,
        `Fax time: ${minutes(last.durationMs)}`,
        `Caller ID: ${fax.callerId}`,
        ...(last.remoteIdent ? [`Receiving fax: ${last.remoteIdent}`] : []),
        `Tries: ${fax.attempts.length}`,
        ...document,
      ].join("\n"),
    };
  }
  return {
    subject: `Fax to ${fax.number} failed: ${last?.outcome ?? "not sent"}`,
    text: [
      `Your fax to ${fax.number} could not be sent${fax.attempts.length > 1 ? ` after ${fax.attempts.length} tries` : ""}.`,
      "",
      `Result: ${last ? `${last.outcome} (${last.detail})` : "not sent"}`,
      ...(last && last.pages > 0 ? [`Pages that went through on the last try: ${last.pages} of ${fax.pages}`] : []),
      `Given up: ${when}`,
      `Caller ID: ${fax.callerId}`,
      ...document,
      "",
      "Tries:",
      ...tries,
      "",
      "Send the mail again to try once more.",
    ].join("\n"),
  };
}
