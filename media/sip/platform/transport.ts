import { EventEmitter } from "node:events";
import type { SipMessage, SipParseError } from "../core/message.ts";

export type TransportKind = "udp" | "tcp" | "ws";

/** A connection-oriented channel (TCP socket, WebSocket) a message arrived on. */
export interface StreamConnection {
  readonly id: string;
  readonly open: boolean;
  write(data: Buffer): void;
  close(): void;
}

/** Where a message came from, and so where its answer goes. */
export interface Peer {
  transport: TransportKind;
  address: string;
  port: number;
  connection?: StreamConnection;
}

export interface TransportEvents {
  message: [message: SipMessage, peer: Peer];
  /** A frame that is not SIP; the layer above decides whether a 400 can be sent. */
  parseError: [error: SipParseError, peer: Peer];
  closed: [connection: StreamConnection];
}

/** What every transport offers the transaction layer. */
export abstract class Transport extends EventEmitter<TransportEvents> {
  abstract readonly kind: TransportKind;
  /** The address and port peers reach this transport on, for Via and Contact. */
  abstract readonly local: { address: string; port: number };
  abstract send(data: Buffer, peer: Peer): void;
  abstract close(): Promise<void>;
  /** Reliable transports need no retransmissions (RFC 3261 §17). */
  get reliable(): boolean {
    return this.kind !== "udp";
  }
}

export function peerKey(peer: Peer): string {
  return `${peer.transport}:${peer.address}:${peer.port}`;
}
