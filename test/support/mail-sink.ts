import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  receivedAt: string;
  /** Attachments (voicemail audio); left out of the HTTP inbox's JSON. */
  attachments: { filename: string; contentType: string; content: Buffer }[];
}

/**
 * A real SMTP server on loopback that keeps what it receives, plus a tiny HTTP inbox
 * (GET /messages, DELETE /messages) so tests running inside workerd can read the mail.
 */
export class MailSink {
  readonly messages: ReceivedMail[] = [];
  private smtp?: SMTPServer;
  private inbox?: Server;
  smtpPort = 0;
  inboxPort = 0;

  async start(smtpPort = 0, inboxPort = 0): Promise<this> {
    this.smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["AUTH", "STARTTLS"],
      logger: false,
      onData: (stream, session, callback) => {
        simpleParser(stream)
          .then((parsed) => {
            this.messages.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
              to: session.envelope.rcptTo.map((r) => r.address),
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
              receivedAt: new Date().toISOString(),
              attachments: parsed.attachments.map((a) => ({
                filename: a.filename ?? "",
                contentType: a.contentType,
                content: a.content,
              })),
            });
            callback();
          })
          .catch(callback);
      },
    });
    const smtp = this.smtp;
    await new Promise<void>((resolve) => smtp.listen(smtpPort, "127.0.0.1", resolve));
    this.smtpPort = (smtp.server.address() as AddressInfo).port;
    this.inbox = createServer((req, res) => {
      if (req.method === "DELETE") this.messages.length = 0;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(this.messages.map(({ attachments: _a, ...mail }) => mail)));
    });
    const inbox = this.inbox;
    await new Promise<void>((resolve) => inbox.listen(inboxPort, "127.0.0.1", resolve));
    this.inboxPort = (inbox.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.smtp ? this.smtp.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (this.inbox ? this.inbox.close(() => resolve()) : resolve()));
  }
}
