import type { FaxRecord } from "../../../shared/index.ts";
import type { Logger } from "../../common/Logger.ts";
import type { Mailer } from "../../mail/Mailer.ts";
import type { CallControl } from "../../pbx/calls/CallControl.ts";
import type { PbxDirectory } from "../../pbx/PbxDirectory.ts";
import { faxAvailability } from "../addon.ts";
import { DEFAULT_FAX_DOMAIN_PREFIX } from "./addresses.ts";
import { FaxMailServer } from "./FaxMailServer.ts";
import { FaxOutbox } from "./FaxOutbox.ts";
import { trunkFaxDialer } from "./trunkFaxDialer.ts";

/**
 * Email-to-fax's settings (media/config.ts reads them from the environment): FAX_SMTP_HOST (the
 * SIP host), FAX_SMTP_PORT (2526; 0 a free one; "off" disables email-to-fax), FAX_DOMAIN_PREFIX
 * ("fax.": mail goes to <number>@fax.<PBX's SIP domain>), FAX_MAX_MAIL_MB (10), FAX_MAX_PAGES
 * (50), FAX_ATTEMPTS (3), FAX_RETRY_SECONDS (300), FAX_RING_SECONDS (60).
 */
export interface EmailToFaxSettings {
  host: string;
  port: number;
  domainPrefix: string;
  maxBytes: number;
  maxPages: number;
  attempts: number;
  retryDelayMs: number;
  ringTimeoutMs: number;
  /** How often a fax waiting for a free channel looks again (default 30 s). */
  channelWaitMs?: number;
}

export function emailToFaxFromEnv(env: NodeJS.ProcessEnv, sipHost: string): EmailToFaxSettings | null {
  if (env.FAX_SMTP_PORT === "off") return null;
  const number = (name: string, fallback: number, min: number, max: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name} must be ${min} to ${max}`);
    return value;
  };
  const port = number("FAX_SMTP_PORT", 2526, 0, 65535);
  if (!Number.isInteger(port)) throw new Error("FAX_SMTP_PORT must be a port number or off");
  const domainPrefix = env.FAX_DOMAIN_PREFIX ?? DEFAULT_FAX_DOMAIN_PREFIX;
  if (!/^([a-z0-9-]+\.)*$/i.test(domainPrefix))
    throw new Error('FAX_DOMAIN_PREFIX must be labels ending in a dot ("fax.") or empty');
  return {
    host: env.FAX_SMTP_HOST ?? sipHost,
    port,
    domainPrefix,
    maxBytes: Math.round(number("FAX_MAX_MAIL_MB", 10, 1, 100) * 1024 * 1024),
    maxPages: Math.round(number("FAX_MAX_PAGES", 50, 1, 1000)),
    attempts: Math.round(number("FAX_ATTEMPTS", 3, 1, 10)),
    retryDelayMs: number("FAX_RETRY_SECONDS", 300, 0, 86_400) * 1000,
    ringTimeoutMs: number("FAX_RING_SECONDS", 60, 5, 300) * 1000,
  };
}

/** Email-to-fax running on a node: its SMTP server and its outbox. */
export interface EmailToFax {
  server: FaxMailServer;
  outbox: FaxOutbox;
  close(): Promise<void>;
}

/**
 * Starts email-to-fax when it can work: SpanDSP loaded and a carrier trunk to call through
 * (otherwise it says why in the log and the node runs without it). Without a mail relay faxes are
 * still sent, only the senders are not told the result.
 */
export async function startEmailToFax(options: {
  settings: EmailToFaxSettings;
  /** Where queued faxes are spooled ($MEDIA_STATE_DIR/fax-outbox). */
  spoolDir: string;
  directory: PbxDirectory;
  calls: CallControl | null;
  hasTrunk: boolean;
  mailer: Mailer | null;
  onFax?: (pbxId: string, record: FaxRecord) => void;
  logger: Logger;
}): Promise<EmailToFax | null> {
  const { settings, logger, calls, directory } = options;
  const availability = faxAvailability();
  if (!availability.available) {
    logger.warn(`email-to-fax off: ${availability.reason}`);
    return null;
  }
  if (!calls || !options.hasTrunk) {
    logger.warn("email-to-fax off: no carrier trunk to send faxes through (TRUNK_HOST)");
    return null;
  }
  if (!options.mailer) logger.warn("email-to-fax: no mail relay, senders will not be told how their faxes went");
  const outbox = new FaxOutbox({
    spoolDir: options.spoolDir,
    dial: trunkFaxDialer((...args) => calls.dialOut(...args), { ringTimeoutMs: settings.ringTimeoutMs }),
    mailer: options.mailer,
    timezoneOf: (pbxId) => directory.get(pbxId)?.config.settings.timezone ?? "UTC",
    onRecord: options.onFax,
    retry: {
      attempts: settings.attempts,
      delayMs: settings.retryDelayMs,
      ...(settings.channelWaitMs ? { channelWaitMs: settings.channelWaitMs } : {}),
    },
    logger,
  });
  await outbox.start();
  const server = await FaxMailServer.start({
    host: settings.host,
    port: settings.port,
    directory,
    outbox,
    domainPrefix: settings.domainPrefix,
    limits: { maxBytes: settings.maxBytes, maxPages: settings.maxPages },
    logger,
  }).catch(async (error: Error) => {
    await outbox.close();
    throw new Error(`email-to-fax SMTP on ${settings.host}:${settings.port}: ${error.message}`);
  });
  return {
    server,
    outbox,
    async close() {
      await server.close();
      await outbox.close();
    },
  };
}
