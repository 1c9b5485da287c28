import { LogLevel, WorkerMailer } from "worker-mailer";
import type { Env } from "../env.ts";

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
}

/**
 * Sends one message through the configured SMTP relay over a TCP socket (cloudflare:sockets,
 * via worker-mailer). STARTTLS is used when the relay is not on loopback.
 */
export async function sendMail(env: Env, mail: OutgoingMail): Promise<void> {
  const loopback = env.SMTP_HOST === "127.0.0.1" || env.SMTP_HOST === "localhost" || env.SMTP_HOST === "::1";
  const mailer = await WorkerMailer.connect({
    host: env.SMTP_HOST,
    port: Number(env.SMTP_PORT),
    secure: false,
    startTls: !loopback,
    ...(env.SMTP_USER && env.SMTP_PASSWORD
      ? { credentials: { username: env.SMTP_USER, password: env.SMTP_PASSWORD }, authType: "plain" as const }
      : {}),
    logLevel: LogLevel.WARN,
    socketTimeoutMs: 10_000,
    responseTimeoutMs: 10_000,
  });
  try {
    await mailer.send({ from: parseAddress(env.MAIL_FROM), to: mail.to, subject: mail.subject, text: mail.text });
  } finally {
    await mailer.close().catch(() => {});
  }
}

/** "Name <email>" → { name, email }. */
function parseAddress(text: string): { name?: string; email: string } {
  const match = text.match(/^\s*(.*?)\s*<([^>]+)>\s*$/);
  return match?.[2] ? { ...(match[1] ? { name: match[1] } : {}), email: match[2] } : { email: text.trim() };
}

export function recoveryMail(portalUrl: string, email: string, token: string): OutgoingMail {
  const link = `${portalUrl.replace(/\/$/, "")}/#/reset?token=${encodeURIComponent(token)}`;
  return {
    to: email,
    subject: "Reset your EdgePBX password",
    text: [
      "Someone asked to reset the password of this EdgePBX portal login.",
      "",
      `Open this link within one hour to choose a new password:`,
      link,
      "",
      `Or enter this code on the "Having trouble signing in" page: ${token}`,
      "",
      "The link works once. If you did not ask for it, ignore this message: your password stays as it is.",
    ].join("\n"),
  };
}
