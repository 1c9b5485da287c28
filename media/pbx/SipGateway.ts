import { EventEmitter } from "node:events";
import { DigestAuthenticator } from "../sip/core/digest.ts";
import { createResponse } from "../sip/core/responses.ts";
import { SipEndpoint } from "../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../sip/core/transactions/ServerTransaction.ts";
import { TcpTransport } from "../sip/platform/TcpTransport.ts";
import type { Transport } from "../sip/platform/transport.ts";
import { UdpTransport } from "../sip/platform/UdpTransport.ts";
import { WsTransport } from "../sip/platform/WsTransport.ts";
import type { PbxDirectory } from "./PbxDirectory.ts";
import { Registrar } from "./Registrar.ts";

export interface SipGatewayOptions {
  host: string;
  /** 0 picks a free port (tests). */
  udpPort: number;
  tcpPort: number;
  wsPort: number;
  directory: PbxDirectory;
}

const ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER";

/**
 * The SIP face of the media node: UDP, TCP and WebSocket transports, the transaction layer, and
 * the PBX services behind them (the registrar now; call control next).
 */
export class SipGateway extends EventEmitter {
  private constructor(
    readonly endpoint: SipEndpoint,
    readonly registrar: Registrar,
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
    const registrar = new Registrar(options.directory, new DigestAuthenticator());
    return new SipGateway(endpoint, registrar, { udp, tcp, ws });
  }

  private dispatch(tx: ServerTransaction): void {
    const { request, peer } = tx;
    switch (request.method) {
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
