import { Mailer, type MailSettings } from "../mail/Mailer.ts";
import type { VoicemailMessage } from "./VoicemailStore.ts";

export type { MailSettings } from "../mail/Mailer.ts";

/** Voicemail to email (the box's "Send Messages to my Mailbox"): the WAV attached, caller, time, length. */
export class VoicemailMailer {
  private readonly mailer: Mailer;
  private readonly ownsMailer: boolean;

  /** Through the node's shared Mailer, or one of its own made from `settings`. */
  constructor(mailer: Mailer | MailSettings) {
    this.ownsMailer = !(mailer instanceof Mailer);
    this.mailer = mailer instanceof Mailer ? mailer : new Mailer(mailer);
  }

  async send(to: string, message: VoicemailMessage, wav: Buffer, timezone: string): Promise<void> {
    const caller = message.callerName ? `${message.callerName} (${message.callerNumber})` : message.callerNumber;
    const received = new Intl.DateTimeFormat("en-GB", {
      dateStyle: "full",
      timeStyle: "long",
      timeZone: timezone,
    }).format(new Date(message.receivedAt));
    const seconds = Math.round(message.durationMs / 1000);
    const duration = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    await this.mailer.send({
      to,
      subject: `New voicemail from ${caller} for extension ${message.box}`,
      text: [
        `You have a new voicemail message in box ${message.box}.`,
        "",
        `From: ${caller}`,
        `Received: ${received}`,
        `Duration: ${duration}`,
        "",
        "The recording is attached.",
      ].join("\n"),
      attachments: [{ filename: `voicemail-${message.box}-${message.id}.wav`, content: wav, contentType: "audio/wav" }],
    });
  }

  close(): void {
    if (this.ownsMailer) this.mailer.close();
  }
}
