import nodemailer from "nodemailer";

/** The relay the node sends its mail through (SMTP_HOST, SMTP_PORT) and the From it uses (MAIL_FROM). */
export interface MailSettings {
  host: string;
  port: number;
  from: string;
}

export interface MailAttachment {
  filename: string;
  content: Buffer;
  contentType: string;
}

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  /** The sender's display name for this mail ("EdgePBX Fax"), at MAIL_FROM's address; else MAIL_FROM as it is. */
  fromName?: string;
  attachments?: MailAttachment[];
}

/**
 * The node's one way out for mail (voicemail, received faxes, fax confirmations): one nodemailer
 * transport to the relay, a relay on loopback or the provider's smarthost (STARTTLS when offered).
 */
export class Mailer {
  private readonly transport: nodemailer.Transporter;

  constructor(readonly settings: MailSettings) {
    this.transport = nodemailer.createTransport({ host: settings.host, port: settings.port, secure: false });
  }

  async send(mail: OutgoingMail): Promise<void> {
    await this.transport.sendMail({
      from: mail.fromName ? { name: mail.fromName, address: addressOf(this.settings.from) } : this.settings.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      attachments: mail.attachments ?? [],
    });
  }

  close(): void {
    this.transport.close();
  }
}

/** The address of a From value: "Name <a@b>" or a bare address. */
export function addressOf(from: string): string {
  return /<([^>]+)>/.exec(from)?.[1]?.trim() ?? from.trim();
}
