import nodemailer from "nodemailer";
import type { VoicemailMessage } from "./VoicemailStore.ts";

export interface MailSettings {
  host: string;
  port: number;
  from: string;
}

/** Voicemail to email (the box's "Send Messages to my Mailbox"): the WAV attached, caller, time, length. */
export class VoicemailMailer {
  private readonly transport: nodemailer.Transporter;

  constructor(private readonly settings: MailSettings) {
    // A relay on loopback or the provider's smarthost; STARTTLS when the relay offers it.
    this.transport = nodemailer.createTransport({ host: settings.host, port: settings.port, secure: false });
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
    await this.transport.sendMail({
      from: this.settings.from,
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
    this.transport.close();
  }
}
