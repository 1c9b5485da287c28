import { type EmailToFaxSettings, emailToFaxFromEnv } from "./fax/outbound/EmailToFax.ts";
import type { TrunkSettings } from "./pbx/trunk.ts";
import type { MailSettings } from "./voicemail/VoicemailMailer.ts";

/** The media node's settings, from the environment, with the defaults `npm start` uses. */
export interface MediaNodeSettings {
  edgeUrl: string;
  nodeId: string;
  token: string;
  stateDir: string;
  sip: { host: string; udpPort: number; tcpPort: number; wsPort: number };
  media: { ip: string; rtpPorts: { min: number; max: number }; workers: number };
  /** The carrier trunk; calls from its address are inbound calls to DIDs. Null: no trunk. */
  trunk: TrunkSettings | null;
  /** Where voicemail is emailed from (SMTP_HOST, SMTP_PORT, MAIL_FROM; the edge's relay by default). */
  mail: MailSettings;
  /** The FTP server of call recordings; null when FTP_PORT is "off". */
  ftp: FtpSettings | null;
  /** Email-to-fax's SMTP server and retries (FAX_SMTP_PORT 2526, FAX_*); null when FAX_SMTP_PORT is "off". */
  emailToFax: EmailToFaxSettings | null;
}

/** FTP_HOST (the SIP host), FTP_PORT (2121; 0 a free one), FTP_PASV_MIN–FTP_PASV_MAX (2122–2199), FTP_PASV_HOST (the media IP). */
export interface FtpSettings {
  host: string;
  port: number;
  passivePorts: { min: number; max: number };
  passiveHost: string;
}

export function settingsFromEnv(
  env: NodeJS.ProcessEnv,
  defaults: { edgeUrl: string; stateDir: string; token?: string },
): MediaNodeSettings {
  const port = (name: string, fallback: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number`);
    return value;
  };
  const token = env.MEDIA_NODE_TOKEN ?? defaults.token;
  if (!token) throw new Error("MEDIA_NODE_TOKEN is not set (the edge's node token)");
  return {
    edgeUrl: env.EDGE_URL ?? defaults.edgeUrl,
    nodeId: env.NODE_ID ?? "media-1",
    token,
    stateDir: env.MEDIA_STATE_DIR ?? defaults.stateDir,
    trunk: env.TRUNK_HOST ? trunkFromEnv(env, env.TRUNK_HOST, port("TRUNK_PORT", 5060)) : null,
    mail: {
      host: env.SMTP_HOST ?? "127.0.0.1",
      port: port("SMTP_PORT", 2525),
      from: env.MAIL_FROM ?? "EdgePBX Voicemail <voicemail@edgepbx.local>",
    },
    media: {
      ip: env.MEDIA_IP ?? env.SIP_HOST ?? "127.0.0.1",
      rtpPorts: { min: port("RTP_PORT_MIN", 20000), max: port("RTP_PORT_MAX", 29999) },
      workers: Math.max(1, Number(env.MEDIA_WORKERS ?? 1) || 1),
    },
    ftp:
      env.FTP_PORT === "off"
        ? null
        : {
            host: env.FTP_HOST ?? env.SIP_HOST ?? "127.0.0.1",
            port: port("FTP_PORT", 2121),
            passivePorts: { min: port("FTP_PASV_MIN", 2122), max: port("FTP_PASV_MAX", 2199) },
            passiveHost: env.FTP_PASV_HOST ?? env.MEDIA_IP ?? env.SIP_HOST ?? "127.0.0.1",
          },
    emailToFax: emailToFaxFromEnv(env, env.SIP_HOST ?? "127.0.0.1"),
    sip: {
      host: env.SIP_HOST ?? "127.0.0.1",
      udpPort: port("SIP_PORT", 5060),
      tcpPort: port("SIP_PORT", 5060),
      wsPort: port("SIP_WS_PORT", 5066),
    },
  };
}

/**
 * TRUNK_HOST, TRUNK_PORT, TRUNK_TRANSPORT (udp|tcp), TRUNK_USERNAME + TRUNK_PASSWORD when the
 * carrier challenges (else IP authentication), TRUNK_CALLER_ID for extensions without one.
 */
function trunkFromEnv(env: NodeJS.ProcessEnv, host: string, port: number): TrunkSettings {
  const transport = (env.TRUNK_TRANSPORT ?? "udp").toLowerCase();
  if (transport !== "udp" && transport !== "tcp") throw new Error("TRUNK_TRANSPORT must be udp or tcp");
  if (Boolean(env.TRUNK_USERNAME) !== Boolean(env.TRUNK_PASSWORD))
    throw new Error("TRUNK_USERNAME and TRUNK_PASSWORD go together");
  const callerId = env.TRUNK_CALLER_ID ?? null;
  if (callerId !== null && !/^\+?[0-9]{3,16}$/.test(callerId))
    throw new Error("TRUNK_CALLER_ID must be a phone number");
  return {
    host,
    port,
    transport,
    credentials:
      env.TRUNK_USERNAME && env.TRUNK_PASSWORD ? { username: env.TRUNK_USERNAME, password: env.TRUNK_PASSWORD } : null,
    defaultCallerId: callerId,
  };
}
