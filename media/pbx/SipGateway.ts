import { EventEmitter } from "node:events";
import type { CallRecord } from "../../shared/index.ts";
import { ConsoleLogger, type Logger } from "../common/Logger.ts";
import type { FaxReceiver } from "../fax/FaxReceiver.ts";
import type { CallRecordings } from "../recording/CallRecordings.ts";
import { tagOf } from "../sip/core/Dialog.ts";
import { DigestAuthenticator } from "../sip/core/digest.ts";
import { createResponse } from "../sip/core/responses.ts";
import { SipEndpoint } from "../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../sip/core/transactions/ServerTransaction.ts";
import { TcpTransport } from "../sip/platform/TcpTransport.ts";
import type { Transport } from "../sip/platform/transport.ts";
import { UdpTransport } from "../sip/platform/UdpTransport.ts";
import { WsTransport } from "../sip/platform/WsTransport.ts";
import type { PromptSet } from "../voice/PromptSet.ts";
import type { Voicemail } from "../voicemail/Voicemail.ts";
import type { CallMediaCounts } from "./calls/Call.ts";
import { CallControl, type CallServices } from "./calls/CallControl.ts";
import type { MediaPlane } from "./calls/media.ts";
import { ForwardAllState } from "./ForwardAllState.ts";
import { MessageWaiting } from "./MessageWaiting.ts";
import type { PbxDirectory } from "./PbxDirectory.ts";
import { Registrar } from "./Registrar.ts";
import type { TrunkSettings } from "./trunk.ts";

export interface SipGatewayOptions {
  host: string;
  /** Where call media is anchored; without one the gateway registers phones but refuses calls. */
  media?: MediaPlane;
  /** Every finished call, for the call records the edge lists. */
  onCallRecord?: (pbxId: string, record: CallRecord, media: CallMediaCounts) => void;
  /** The carrier trunk (the provider's setting): INVITEs from its address are inbound DID calls. */
  trunk?: TrunkSettings | null;
  /** Call Forward All state (the edge keeps it); a fresh table when not given. */
  forwardAll?: ForwardAllState;
  /** The node's spoken prompts; without them, routes that must ask the caller something refuse calls. */
  prompts?: PromptSet | null;
  /** Personal voicemail; without it, calls nobody answers fail as they would without a box. */
  voicemail?: Voicemail | null;
  /** How long extensions ring before voicemail answers (tests shorten it). */
  ringTimeoutMs?: number;
  /** Who is in a conference room, after each join or leave. */
  onConference?: CallServices["onConference"];
  /** Call recordings; without them no call is recorded. */
  recordings?: CallRecordings | null;
  /** Fax reception; without it Virtual FAX routes refuse calls and voice routes hear no fax. */
  fax?: FaxReceiver | null;
  logger?: Logger;
  /** 0 picks a free port (tests). */
  udpPort: number;
  tcpPort: number;
  wsPort: number;
  directory: PbxDirectory;
}

const ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, REGISTER";

/**
 * The SIP face of the media node: UDP, TCP and WebSocket transports, the transaction layer, and
 * the PBX services behind them (the registrar now; call control next).
 */
export class SipGateway extends EventEmitter {
  private constructor(
    readonly endpoint: SipEndpoint,
    readonly registrar: Registrar,
    readonly calls: CallControl | null,
    readonly transports: { udp: UdpTransport; tcp: TcpTransport; ws: WsTransport },
  ) {
    super();
    endpoint.on("request", (tx) => this.dispatch(tx));
    for (const transport of [transports.tcp, transports.ws] as Transport[])
      transport.on("closed", (connection) => registrar.connectionClosed(connection));
  }

  static async start(options: SipGatewayOptions): Promise<SipGateway> {
    const udp = await UdpTransport.listen(options.host, options.udpPort);
    const tcp = await TcpTransport.listen(options.host, options.tcpPort);
    const ws = await WsTransport.listen(options.host, options.wsPort);
    const endpoint = new SipEndpoint([udp, tcp, ws]);
    const digest = new DigestAuthenticator();
    const registrar = new Registrar(options.directory, digest);
    const calls = options.media
      ? new CallControl(
          endpoint,
          options.directory,
          registrar,
          digest,
          options.media,
          options.onCallRecord ?? (() => {}),
          options.logger ?? new ConsoleLogger("calls"),
          options.forwardAll ?? new ForwardAllState(),
          {
            trunk: options.trunk ?? null,
            prompts: options.prompts ?? null,
            voicemail: options.voicemail ?? null,
            ...(options.ringTimeoutMs ? { ringTimeoutMs: options.ringTimeoutMs } : {}),
            ...(options.onConference ? { onConference: options.onConference } : {}),
            recordings: options.recordings ?? null,
            fax: options.fax ?? null,
          },
        )
      : null;
    if (options.voicemail) new MessageWaiting(endpoint, registrar, options.directory, options.voicemail);
    return new SipGateway(endpoint, registrar, calls, { udp, tcp, ws });
  }

  private dispatch(tx: ServerTransaction): void {
    const { request, peer } = tx;
    if (this.calls?.handleInDialog(tx)) return;
    switch (request.method) {
      case "INVITE":
        if (tagOf(request.get("To"))) {
          // A re-INVITE for a dialog we do not have (ended, or never ours): §12.2.2.
          tx.respond(createResponse(request, 481, undefined, peer));
          return;
        }
        if (!this.calls) {
          tx.respond(createResponse(request, 503, "Service Unavailable (no media plane)", peer));
          return;
        }
        this.calls.handleInvite(tx).catch(() => {
          if (tx.state === "proceeding") tx.respond(createResponse(request, 500, undefined, peer));
        });
        return;
      case "REGISTER":
        this.registrar.handle(tx);
        return;
      case "OPTIONS": {
        const response = createResponse(request, 200, "OK", peer);
        response.set("Allow", ALLOW);
        response.set("Accept", "application/sdp");
        response.set("Supported", "path, outbound");
        tx.respond(response);
        return;
      }
      case "BYE":
      case "CANCEL":
        // No dialog or transaction of ours matches (call control answers those it owns).
        tx.respond(createResponse(request, 481, undefined, peer));
        return;
      default: {
        const response = createResponse(request, 501, undefined, peer);
        response.set("Allow", ALLOW);
        tx.respond(response);
      }
    }
  }

  async close(): Promise<void> {
    this.registrar.close();
    await this.endpoint.close();
  }
}
