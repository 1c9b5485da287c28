import type { AddressInfo, Server } from "node:net";
import { FtpSrv } from "ftp-srv";
import { verifyPassword } from "../../shared/crypto/password.ts";
import type { Logger } from "../common/Logger.ts";
import type { PbxDirectory } from "../pbx/PbxDirectory.ts";
import { RecordingFileSystem } from "./RecordingFileSystem.ts";
import type { RecordingLibrary } from "./RecordingLibrary.ts";

export interface RecordingFtpOptions {
  /** Where to listen, e.g. 0.0.0.0 (the node's SIP host by default). */
  host: string;
  /** FTP_PORT: 2121 by default; 0 picks a free one (tests). */
  port: number;
  /** Ports for passive data connections (FTP_PASV_MIN–FTP_PASV_MAX). */
  passivePorts: { min: number; max: number };
  /** The address PASV tells clients to connect to (FTP_PASV_HOST; the media IP by default). */
  passiveHost: string;
  directory: PbxDirectory;
  library: RecordingLibrary;
  logger: Logger;
  /** A refused login answers after this long (slows password guessing). */
  refusalDelayMs?: number;
}

/**
 * Refused for everyone: anything that changes files, and active mode (PORT/EPRT make the server
 * connect out to an address the client names: the FTP bounce attack). Clients use passive mode.
 */
const REFUSED_COMMANDS = [
  "STOR",
  "APPE",
  "STOU",
  "DELE",
  "RMD",
  "XRMD",
  "MKD",
  "XMKD",
  "RNFR",
  "RNTO",
  "SITE",
  "PORT",
  "EPRT",
];

/**
 * The media node's FTP server (ftp-srv): each PBX's call recordings, read-only, to the FTP
 * username and password set on its Call Recordings add-on page. Files are listed and streamed
 * from the edge (the node keeps none). FTP is plain text, as the add-on's customers expect it;
 * the files themselves may be encrypted (recording encryption).
 *
 * A login names the PBX by its FTP username; usernames are chosen per PBX and may repeat across
 * PBXs, so the password decides among them, and `username@<pbx id>` picks one outright.
 */
export class RecordingFtpServer {
  private constructor(
    private readonly server: FtpSrv,
    readonly port: number,
  ) {}

  static async start(options: RecordingFtpOptions): Promise<RecordingFtpServer> {
    const { logger } = options;
    const signals = ["SIGTERM", "SIGINT", "SIGQUIT"] as const;
    const before = new Map(signals.map((s) => [s, process.listeners(s)]));
    const server = new FtpSrv({
      url: `ftp://${options.host}:${options.port}`,
      pasv_url: options.passiveHost,
      pasv_min: options.passivePorts.min,
      pasv_max: options.passivePorts.max,
      anonymous: false,
      greeting: "EdgePBX call recordings (read-only)",
      blacklist: REFUSED_COMMANDS,
      log: quietLog(logger),
    });
    // ftp-srv exits the process on these signals; the node has its own orderly shutdown.
    for (const signal of signals)
      for (const listener of process.listeners(signal))
        if (!before.get(signal)?.includes(listener)) process.removeListener(signal, listener);

    server.on("login", ({ connection, username, password }, resolve, reject) => {
      authenticate(options, username, password)
        .then(async (pbxId) => {
          if (!pbxId) {
            logger.info(`FTP login refused for "${username.slice(0, 80)}" from ${connection.ip}`);
            await new Promise((r) => setTimeout(r, options.refusalDelayMs ?? 1000));
            return reject(new Error("Login incorrect"));
          }
          logger.info(`FTP login to ${pbxId}'s recordings from ${connection.ip}`);
          resolve({ fs: new RecordingFileSystem(connection, options.library, pbxId) });
        })
        .catch(() => reject(new Error("Login failed")));
    });
    server.on("client-error", ({ error }) => logger.debug(`FTP client error: ${error.message}`));
    await server.listen();
    const address = (server as unknown as { server: Server }).server.address() as AddressInfo;
    logger.info(`FTP (call recordings) on ${options.host}:${address.port}`);
    return new RecordingFtpServer(server, address.port);
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

/**
 * The PBX whose Call Recordings FTP credentials these are, or null. Every PBX with that FTP
 * username is tried (or only `<pbx id>` for `username@<pbx id>`); exactly one must take the password.
 */
async function authenticate(options: RecordingFtpOptions, login: string, password: string): Promise<string | null> {
  const at = login.lastIndexOf("@");
  const username = at > 0 ? login.slice(0, at) : login;
  const pbxId = at > 0 ? login.slice(at + 1) : null;
  const matches: string[] = [];
  for (const entry of options.directory.entries()) {
    const ftp = entry.config.addons.callRecording.ftp;
    if (!ftp || ftp.username !== username || (pbxId !== null && entry.pbxId !== pbxId)) continue;
    if (await verifyPassword(password, ftp.passwordHash)) matches.push(entry.pbxId);
  }
  if (matches.length > 1)
    options.logger.warn(
      `FTP login "${username}" fits ${matches.length} PBXs; refused (log in as ${username}@<pbx id>)`,
    );
  return matches.length === 1 ? (matches[0] as string) : null;
}

/** ftp-srv logs through a bunyan-like object: its warnings and errors go to our log, the rest is dropped. */
function quietLog(logger: Logger): unknown {
  const text = (args: unknown[]) =>
    args
      .map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : ""))
      .filter(Boolean)
      .join(" ");
  const log = {
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (...args: unknown[]) => logger.debug(`ftp-srv: ${text(args)}`),
    error: (...args: unknown[]) => logger.debug(`ftp-srv: ${text(args)}`),
    child: () => log,
  };
  return log;
}
