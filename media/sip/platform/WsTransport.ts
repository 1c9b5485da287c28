import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { WebSocketServer } from "ws";
import { parseMessage, SipParseError } from "../core/message.ts";
import { type Peer, type StreamConnection, Transport } from "./transport.ts";

/** SIP over WebSocket (RFC 7118): one text or binary frame, one message; subprotocol "sip". */
export class WsTransport extends Transport {
  readonly kind = "ws" as const;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    readonly local: { address: string; port: number },
  ) {
    super();
    wss.on("connection", (ws, request) => {
      const connection: StreamConnection = {
        id: randomUUID(),
        get open() {
          return ws.readyState === ws.OPEN;
        },
        write: (data) => {
          if (ws.readyState === ws.OPEN) ws.send(data.toString("utf8"));
        },
        close: () => ws.close(1000),
      };
      const peer: Peer = {
        transport: "ws",
        address: request.socket.remoteAddress ?? "",
        port: request.socket.remotePort ?? 0,
        connection,
      };
      ws.on("message", (data: Buffer) => {
        if (data.every((b) => b === 0x0d || b === 0x0a)) {
          connection.write(Buffer.from("\r\n"));
          return;
        }
        try {
          this.emit("message", parseMessage(data), peer);
        } catch (error) {
          if (error instanceof SipParseError) this.emit("parseError", error, peer);
          else throw error;
        }
      });
      ws.on("error", () => ws.terminate());
      ws.on("close", () => this.emit("closed", connection));
    });
  }

  static async listen(host: string, port: number): Promise<WsTransport> {
    const http = createServer((_req, res) => {
      res.writeHead(426, { "content-type": "text/plain" }).end("SIP over WebSocket: connect with subprotocol sip\n");
    });
    const wss = new WebSocketServer({
      server: http,
      maxPayload: 65_535,
      handleProtocols: (protocols) => (protocols.has("sip") ? "sip" : false),
    });
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(port, host, () => {
        http.off("error", reject);
        resolve();
      });
    });
    const address = http.address();
    if (!address || typeof address === "string") throw new Error("WebSocket transport has no address");
    return new WsTransport(http, wss, { address: address.address, port: address.port });
  }

  send(data: Buffer, peer: Peer): void {
    if (peer.connection?.open) peer.connection.write(data);
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
