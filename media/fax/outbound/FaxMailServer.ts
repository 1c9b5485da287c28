import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Attachment, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { Logger } from "../../common/Logger.ts";
import type { PbxDirectory } from "../../pbx/PbxDirectory.ts";
import { type FaxResolution, pdfToFaxTiff } from "../documents.ts";
import {
  allowedSender,
  DEFAULT_FAX_DOMAIN_PREFIX,
  type FaxRecipient,
  isRefusal,
  parseFaxRecipient,
  type Refusal,
} from "./addresses.ts";
import type { FaxOutbox } from "./FaxOutbox.ts";

export interface FaxMailLimits {
  /** The largest mail taken, bytes (SIZE is announced; a longer DATA is read to its end and refused). */
  maxBytes: number;
  /** The most pages one mail may fax. */
  maxPages: number;
  /** The most fax numbers one mail may go to. */
  maxRecipients: number;
}

export const DEFAULT_FAX_MAIL_LIMITS: FaxMailLimits = { maxBytes: 10 * 1024 * 1024, maxPages: 50, maxRecipients: 10 };

export interface FaxMailServerOptions {
  host: string;
  /** 0: a free port (tests). */
  port: number;
  directory: PbxDirectory;
  outbox: Pick<FaxOutbox, "submit">;
  /** What comes before a PBX's SIP domain in its fax domain (default "fax."). */
  domainPrefix?: string;
  limits?: Partial<FaxMailLimits>;
  resolution?: FaxResolution;
  /** The name the server greets with (default the host's name). */
  name?: string;
  logger: Logger;
}

/** A refusal as smtp-server wants it: the reply code on the Error. */
function smtpError({ code, message }: Refusal): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * Email-to-fax's SMTP server (smtp-server): takes mail for `<number>@fax.<PBX's SIP domain>` from
 * the PBX's allowed Virtual FAX senders only, with the add-on enabled; anyone else is refused at
 * RCPT with the reason, so nothing is dialled. At DATA the mail (size-limited, parsed by
 * mailparser) must carry one or more PDFs, which ghostscript makes into one TIFF-F, and the From
 * header must be the envelope sender; the fax is then queued for each recipient and the 250 says
 * so. Anything wrong at DATA is refused too, and nothing is queued. No AUTH and no STARTTLS: it is
 * an MX for the fax domains (behind the provider's own relay where TLS and spam checks happen).
 */
export class FaxMailServer {
  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
  ) {}

  static async start(options: FaxMailServerOptions): Promise<FaxMailServer> {
    const limits = { ...DEFAULT_FAX_MAIL_LIMITS, ...options.limits };
    const prefix = options.domainPrefix ?? DEFAULT_FAX_DOMAIN_PREFIX;
    const { logger, directory } = options;
    const sender = (session: SMTPServerSession) => (session.envelope.mailFrom ? session.envelope.mailFrom.address : "");
    /** The recipient's PBX and number with the sender's entry, or why not. */
    const check = (address: string, from: string) => {
      const recipient = parseFaxRecipient(address, directory, prefix);
      if (isRefusal(recipient)) return recipient;
      const allowed = allowedSender(recipient.pbx.config, from);
      if (isRefusal(allowed)) return allowed;
      return { ...recipient, callerId: allowed.callerId };
    };

    const server = new SMTPServer({
      ...(options.name ? { name: options.name } : {}),
      banner: "EdgePBX Virtual FAX",
      // Each mail may run ghostscript: a bounded number of clients at a time.
      maxClients: 32,
      authOptional: true,
      disabledCommands: ["AUTH", "STARTTLS"],
      size: limits.maxBytes,
      maxRecipients: limits.maxRecipients,
      disableReverseLookup: true,
      logger: false,
      socketTimeout: 60_000,
      onRcptTo(address, session, callback) {
        const checked = check(address.address, sender(session));
        if (isRefusal(checked)) {
          logger.info(`fax mail from <${sender(session)}> to <${address.address}> refused: ${checked.message}`);
          return callback(smtpError(checked));
        }
        callback();
      },
      onData(stream, session, callback) {
        const from = sender(session);
        accept(stream, session)
          .then((reply) => callback(null, reply))
          .catch((error: Error & { responseCode?: number }) => {
            const refusal = error.responseCode
              ? { code: error.responseCode, message: error.message }
              : { code: 451, message: `the fax could not be queued, try again later (${error.message})` };
            logger.info(`fax mail from <${from}> refused at DATA: ${refusal.code} ${refusal.message}`);
            callback(smtpError(refusal));
          });
      },
    });

    const accept = async (stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> => {
      const data = await readLimited(stream, limits.maxBytes);
      if (!data) throw smtpError({ code: 552, message: `the mail is larger than ${limits.maxBytes / 1024 / 1024} MB` });
      const from = sender(session);
      // Checked again: the PBX's config may have changed since RCPT.
      const recipients: (FaxRecipient & { callerId: string })[] = [];
      for (const rcpt of session.envelope.rcptTo) {
        const checked = check(rcpt.address, from);
        if (isRefusal(checked)) throw smtpError(checked);
        recipients.push(checked);
      }
      const mail = await simpleParser(data, { skipHtmlToText: true, skipTextLinks: true, skipImageLinks: true });
      const headerFrom = mail.from?.value[0]?.address ?? "";
      if (headerFrom.toLowerCase() !== from.toLowerCase())
        throw smtpError({
          code: 550,
          message: `the From: header <${headerFrom}> is not the envelope sender <${from}>: nothing was sent`,
        });
      const pdfs = mail.attachments.filter(isPdf);
      if (pdfs.length === 0)
        throw smtpError({
          code: 554,
          message: "no PDF attached: attach the document to fax as a PDF file (the text of the mail is not faxed)",
        });
      const work = await mkdtemp(join(tmpdir(), "edgepbx-fax-mail-"));
      try {
        const files = await Promise.all(
          pdfs.map(async (pdf, i) => {
            // Our own names: a sender's file name never reaches ghostscript's command line.
            const file = join(work, `document-${i + 1}.pdf`);
            await writeFile(file, pdf.content);
            return file;
          }),
        );
        const tiff = join(work, "fax.tif");
        const pages = await pdfToFaxTiff(files, tiff, options.resolution ?? "fine").catch((error: Error) => {
          throw smtpError({ code: 554, message: `the PDF could not be read: ${firstLine(error.message)}` });
        });
        if (pages > limits.maxPages)
          throw smtpError({ code: 554, message: `the PDF has ${pages} pages; at most ${limits.maxPages} are faxed` });
        const queued = [];
        for (const recipient of recipients)
          queued.push(
            await options.outbox.submit(
              {
                pbxId: recipient.pbx.pbxId,
                sender: from,
                callerId: recipient.callerId,
                number: recipient.number,
                pages,
                subject: (mail.subject ?? "").slice(0, 200),
                fileNames: pdfs.map((pdf, i) => pdf.filename ?? `document-${i + 1}.pdf`),
              },
              tiff,
            ),
          );
        return `queued: ${pages} page${pages === 1 ? "" : "s"} to ${queued.map((f) => f.number).join(", ")}; the result will be mailed to you (${queued.map((f) => f.id).join(", ")})`;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    };

    await new Promise<void>((resolve, reject) => {
      server.server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.server.off("error", reject);
        resolve();
      });
    });
    const { port } = server.server.address() as AddressInfo;
    logger.info(`email-to-fax SMTP on ${options.host}:${port} for <number>@${prefix}<SIP domain>`);
    return new FaxMailServer(server, port);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The whole DATA, or null when it went over `maxBytes` (then read to its end and dropped, never kept). */
async function readLimited(stream: SMTPServerDataStream, maxBytes: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes <= maxBytes) chunks.push(chunk);
    else chunks.length = 0;
  }
  return bytes > maxBytes || stream.sizeExceeded ? null : Buffer.concat(chunks);
}

/** A PDF attachment: named or typed as one, and starting as PDFs do (%PDF- within the first 1 KB). */
function isPdf(attachment: Attachment): boolean {
  const named = /\.pdf$/i.test(attachment.filename ?? "") || attachment.contentType === "application/pdf";
  return named && attachment.content.subarray(0, 1024).includes("%PDF-");
}

function firstLine(text: string): string {
  return (text.split("\n").find((line) => line.trim()) ?? text).slice(0, 200);
}
