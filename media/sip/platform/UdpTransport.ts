import { createSocket, type Socket } from "node:dgram";
import { parseMessage, SipParseError } from "../core/message.ts";
import { type Peer, Transport } from "./transport.ts";

/** SIP over UDP: one datagram, one message. */
export class UdpTransport extends Transport {
  readonly kind = "udp" as const;
  private constructor(
    private readonly socket: Socket,
    readonly local: { address: string; port: number },
  ) {
    super();
    socket.on("message", (data, rinfo) => {
      const peer: Peer = { transport: "udp", address: rinfo.address, port: rinfo.port };
      // A datagram of only CRLFs is a keep-alive (RFC 5626 uses STUN on UDP; some phones send CRLF).
      if (data.every((b) => b === 0x0d || b === 0x0a)) return;
      try {
        this.emit("message", parseMessage(data), peer);
      } catch (error) {
        if (error instanceof SipParseError) this.emit("parseError", error, peer);
        else throw error;
      }
    });
  }

  static async listen(host: string, port: number): Promise<UdpTransport> {
    const socket = createSocket({ type: host.includes(":") ? "udp6" : "udp4", recvBufferSize: 4 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, host, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.on("error", () => {
      // ICMP unreachable and friends: the transaction timers handle the silence.
    });
    const address = socket.address();
    return new UdpTransport(socket, { address: address.address, port: address.port });
  }

  send(data: Buffer, peer: Peer): void {
    this.socket.send(data, peer.port, peer.address);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
