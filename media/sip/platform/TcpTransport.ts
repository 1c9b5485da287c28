import { randomUUID } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { parseMessage, SipParseError } from "../core/message.ts";
import { StreamFramer } from "./StreamFramer.ts";
import { type Peer, type StreamConnection, Transport } from "./transport.ts";

const IDLE_TIMEOUT_MS = 10 * 60_000;

/**
 * SIP over TCP: answers go back on the connection the request came in on; requests to a peer
 * without one (the carrier trunk) open a connection, reused while it lasts.
 */
export class TcpTransport extends Transport {
  readonly kind = "tcp" as const;
  private readonly sockets = new Set<Socket>();
  /** Connections we opened, by "address:port" of the far end. */
  private readonly outbound = new Map<string, StreamConnection>();

  private constructor(
    private readonly server: Server,
    readonly local: { address: string; port: number },
  ) {
    super();
    server.on("connection", (socket) => this.accept(socket));
  }

  static async listen(host: string, port: number): Promise<TcpTransport> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("TCP transport has no address");
    return new TcpTransport(server, { address: address.address, port: address.port });
  }

  private accept(socket: Socket, remote?: { address: string; port: number }): StreamConnection {
    this.sockets.add(socket);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    const connection: StreamConnection = {
      id: randomUUID(),
      get open() {
        return !socket.destroyed && socket.writable;
      },
      write: (data) => {
        if (!socket.destroyed) socket.write(data);
      },
      close: () => socket.destroy(),
    };
    const peer: Peer = {
      transport: "tcp",
      address: remote?.address ?? socket.remoteAddress ?? "",
      port: remote?.port ?? socket.remotePort ?? 0,
      connection,
    };
    const framer = new StreamFramer();
    socket.on("data", (chunk: Buffer) => {
      let result: ReturnType<StreamFramer["push"]>;
      try {
        result = framer.push(chunk);
      } catch (error) {
        // The stream is out of step and cannot be resynchronised: drop the connection.
        if (error instanceof SipParseError) this.emit("parseError", error, peer);
        socket.destroy();
        return;
      }
      for (let i = 0; i < result.pings; i++) connection.write(Buffer.from("\r\n"));
      for (const frame of result.frames) {
        try {
          this.emit("message", parseMessage(frame), peer);
        } catch (error) {
          if (error instanceof SipParseError) this.emit("parseError", error, peer);
          else throw error;
        }
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      this.sockets.delete(socket);
      if (remote && this.outbound.get(`${remote.address}:${remote.port}`) === connection)
        this.outbound.delete(`${remote.address}:${remote.port}`);
      this.emit("closed", connection);
    });
    return connection;
  }

  send(data: Buffer, peer: Peer): void {
    if (peer.connection?.open) {
      peer.connection.write(data);
      return;
    }
    // No connection of the peer's own: use ours to its address, or open one (writes wait for it).
    const key = `${peer.address}:${peer.port}`;
    let connection = this.outbound.get(key);
    if (!connection?.open) {
      const socket = connect({ host: peer.address, port: peer.port, noDelay: true });
      connection = this.accept(socket, { address: peer.address, port: peer.port });
      this.outbound.set(key, connection);
    }
    connection.write(data);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
