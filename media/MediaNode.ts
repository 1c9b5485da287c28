import { join } from "node:path";
import { ConsoleLogger, type Logger } from "./common/Logger.ts";
import type { FtpSettings } from "./config.ts";
import { EdgeLink } from "./edge-link/EdgeLink.ts";
import { faxReception } from "./fax/FaxReceiver.ts";
import { type EmailToFax, type EmailToFaxSettings, startEmailToFax } from "./fax/outbound/EmailToFax.ts";
import { Mailer } from "./mail/Mailer.ts";
import { ForwardAllState } from "./pbx/ForwardAllState.ts";
import { PbxDirectory } from "./pbx/PbxDirectory.ts";
import { SipGateway } from "./pbx/SipGateway.ts";
import type { TrunkSettings } from "./pbx/trunk.ts";
import { CallRecordings } from "./recording/CallRecordings.ts";
import { RecordingFtpServer } from "./recording/RecordingFtpServer.ts";
import { RecordingLibrary } from "./recording/RecordingLibrary.ts";
import { RecordingUploader } from "./recording/RecordingUploader.ts";
import { MediaEngine, type PortRange } from "./rtc/MediaEngine.ts";
import { PromptSet } from "./voice/PromptSet.ts";
import { Voicemail } from "./voicemail/Voicemail.ts";
import { type MailSettings, VoicemailMailer } from "./voicemail/VoicemailMailer.ts";
import { VoicemailStore } from "./voicemail/VoicemailStore.ts";

export interface MediaNodeOptions {
  /** The edge's base URL, e.g. http://127.0.0.1:8787. */
  edgeUrl: string;
  nodeId: string;
  /** The edge's MEDIA_NODE_TOKEN. */
  token: string;
  /** Where the node keeps the last applied configs, so it serves them at once after a restart. */
  stateDir: string;
  sip: { host: string; udpPort: number; tcpPort: number; wsPort: number };
  media: { ip: string; rtpPorts: PortRange; workers: number };
  trunk?: TrunkSettings | null;
  /** The relay voicemail and received faxes are emailed through; none: messages stay in their boxes, faxes are refused. */
  mail?: MailSettings | null;
  /** The FTP server of call recordings; none: recordings are still made, only not served over FTP. */
  ftp?: FtpSettings | null;
  /** Email-to-fax (an SMTP server for <number>@fax.<SIP domain>, faxes through the trunk); none: off. */
  emailToFax?: EmailToFaxSettings | null;
  logger?: Logger;
}

/**
 * One media node: the SIP gateway serving every PBX whose applied configuration the edge sends.
 * A new version replaces the old in the directory as one step; calls in progress keep what they
 * were set up with.
 */
export class MediaNode {
  private constructor(
    readonly directory: PbxDirectory,
    readonly gateway: SipGateway,
    readonly link: EdgeLink,
    readonly engine: MediaEngine,
    readonly recordings: CallRecordings,
    readonly ftp: RecordingFtpServer | null,
    private readonly mailer: Mailer | null,
    readonly emailToFax: EmailToFax | null,
  ) {}

  static async start(options: MediaNodeOptions): Promise<MediaNode> {
    const logger = options.logger ?? new ConsoleLogger("media");
    const directory = new PbxDirectory();
    const engine = await MediaEngine.create({
      mediaIp: options.media.ip,
      rtpPorts: options.media.rtpPorts,
      workers: options.media.workers,
      logger: new ConsoleLogger("rtc"),
    });
    // Without prompts the node still carries calls; routes that must ask something refuse theirs.
    const prompts = await PromptSet.create(join(options.stateDir, "prompts")).catch((error: Error) => {
      logger.error(`no spoken prompts: ${error.message}`);
      return null;
    });
    if (prompts)
      prompts.uploadSource = async (pbx, sha256) => {
        const response = await fetch(`${options.edgeUrl}/api/nodes/audio/${encodeURIComponent(pbx)}/${sha256}`, {
          headers: { authorization: `Bearer ${options.token}` },
        });
        if (!response.ok)
          throw new Error(`the edge answered ${response.status} for announcement ${sha256.slice(0, 12)}…`);
        return Buffer.from(await response.arrayBuffer());
      };
    let link: EdgeLink | null = null;
    const forwardAll = new ForwardAllState();
    // One way out for mail: voicemail, received faxes.
    const mailer = options.mail ? new Mailer(options.mail) : null;
    const voicemail = new Voicemail(
      new VoicemailStore(join(options.stateDir, "voicemail")),
      mailer ? new VoicemailMailer(mailer) : null,
      new ConsoleLogger("voicemail"),
    );
    // Recordings go to the edge (R2) as they are made; the node keeps none on its disk.
    const recordings = new CallRecordings(
      new RecordingUploader(options.edgeUrl, options.token),
      new ConsoleLogger("recordings"),
    );
    // Virtual FAX inbound: received pages wait in the state folder until mailed.
    const fax = faxReception({
      dir: join(options.stateDir, "fax"),
      mailer,
      onFax: (pbx, record) => link?.reportFax(pbx, record),
      logger: new ConsoleLogger("fax"),
    });
    const gateway = await SipGateway.start({
      ...options.sip,
      directory,
      media: engine,
      forwardAll,
      trunk: options.trunk ?? null,
      prompts,
      voicemail,
      recordings,
      fax,
      onCallRecord: (pbx, record) => link?.reportCall(pbx, record),
      onConference: (pbx, room, participants) => link?.reportConference(pbx, room, participants),
      logger: new ConsoleLogger("calls"),
    });
    link = new EdgeLink({
      url: options.edgeUrl,
      nodeId: options.nodeId,
      token: options.token,
      stateDir: options.stateDir,
      logger: new ConsoleLogger("edge-link"),
    });
    link.on("config", (pbx, version, config) => {
      directory.upsert(pbx, version, config);
      logger.info(`PBX ${pbx} version ${version} live (${config.extensions.length} extensions)`);
      // Spoken (or downloaded) now rather than when the first caller is waiting for it.
      for (const announcement of config.announcements)
        (announcement.audio
          ? prompts?.uploaded(pbx, announcement.audio.sha256)
          : prompts?.speech(announcement.message)
        )?.catch((error: Error) => {
          logger.error(`announcement "${announcement.name}" of ${pbx} cannot be played: ${error.message}`);
        });
    });
    // Dial codes change forward-all here; the edge keeps it and tells every node.
    forwardAll.on("changed", (pbx, route, destination) => link?.reportForwardAll(pbx, route, destination));
    link.on("forwardAll", (pbx, table) => forwardAll.load(pbx, table));
    link.on("remove", (pbx) => {
      forwardAll.remove(pbx);
      directory.remove(pbx);
      logger.info(`PBX ${pbx} removed`);
    });
    link.start();
    const ftp = options.ftp
      ? await RecordingFtpServer.start({
          ...options.ftp,
          directory,
          library: new RecordingLibrary(options.edgeUrl, options.token),
          logger: new ConsoleLogger("ftp"),
        })
      : null;
    // Virtual FAX outbound: mail from a PBX's fax senders is faxed through the trunk.
    const emailToFax = options.emailToFax
      ? await startEmailToFax({
          settings: options.emailToFax,
          spoolDir: join(options.stateDir, "fax-outbox"),
          directory,
          calls: gateway.calls,
          hasTrunk: Boolean(options.trunk),
          mailer,
          onFax: (pbx, record) => link?.reportFax(pbx, record),
          logger: new ConsoleLogger("fax-out"),
        })
      : null;
    return new MediaNode(directory, gateway, link, engine, recordings, ftp, mailer, emailToFax);
  }

  /** Where phones reach this node. */
  get addresses() {
    const { udp, tcp, ws } = this.gateway.transports;
    return {
      udp: `${udp.local.address}:${udp.local.port}`,
      tcp: `${tcp.local.address}:${tcp.local.port}`,
      ws: `ws://${ws.local.address}:${ws.local.port}`,
    };
  }

  async stop(): Promise<void> {
    // No new faxes; queued ones stay spooled for the next start.
    await this.emailToFax?.close();
    // Recordings of calls still up get their final upload while the link to the edge is there.
    await this.recordings.stopAll();
    await this.ftp?.close();
    await this.link.stop();
    await this.gateway.close();
    this.engine.close();
    this.mailer?.close();
  }
}
