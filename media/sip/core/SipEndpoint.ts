import { EventEmitter } from "node:events";
import type { Peer, Transport } from "../platform/transport.ts";
import { parseUri, parseVia } from "./headers.ts";
import { type SipMessage, type SipParseError, SipRequest, type SipResponse } from "./message.ts";
import { createResponse } from "./responses.ts";
import { ServerTransaction } from "./transactions/ServerTransaction.ts";

export interface SipEndpointEvents {
  /** A new request in its own server transaction; the handler must respond. */
  request: [tx: ServerTransaction];
  /** An ACK for a 2xx (it belongs to a dialog, not a transaction). */
  ack: [request: SipRequest, peer: Peer];
  response: [response: SipResponse, peer: Peer];
}

/** Extensions (Require option tags) the endpoint supports. */
const SUPPORTED = new Set(["path", "outbound", "replaces", "timer"]);

/**
 * The transaction layer over all transports: matches requests to server transactions
 * (RFC 3261 §17.2.3), answers what is malformed, and hands new requests to the TU above.
 */
export class SipEndpoint extends EventEmitter<SipEndpointEvents> {
  private readonly transactions = new Map<string, ServerTransaction>();

  constructor(readonly transports: Transport[]) {
    super();
    for (const transport of transports) {
      transport.on("message", (message, peer) => this.receive(message, peer, transport));
      transport.on("parseError", (error, peer) => this.malformed(error, peer, transport));
    }
  }

  get transactionCount(): number {
    return this.transactions.size;
  }

  transportFor(kind: Peer["transport"]): Transport | undefined {
    return this.transports.find((t) => t.kind === kind);
  }

  private receive(message: SipMessage, peer: Peer, transport: Transport): void {
    if (!(message instanceof SipRequest)) {
      this.emit("response", message, peer);
      return;
    }
    const key = transactionKey(message);
    if (message.method === "ACK") {
      const invite = this.transactions.get(transactionKey(message, "INVITE"));
      if (invite) invite.receiveAck();
      else this.emit("ack", message, peer);
      return;
    }
    const existing = this.transactions.get(key);
    if (existing) {
      existing.receiveRetransmission();
      return;
    }
    const tx = new ServerTransaction(key, message, peer, transport, (done) => this.transactions.delete(done.key));
    this.transactions.set(key, tx);

    const problem = checkRequest(message);
    if (problem) {
      const response = createResponse(message, problem.status, problem.reason, peer);
      if (problem.unsupported) response.set("Unsupported", problem.unsupported);
      tx.respond(response);
      return;
    }
    if (message.method === "INVITE") tx.respond(createResponse(message, 100, "Trying", peer));
    this.emit("request", tx);
  }

  private malformed(error: SipParseError, peer: Peer, transport: Transport): void {
    const request = error.partial;
    // Only a request whose Via we could read can be answered; anything else is dropped.
    if (!request || request.method === "ACK" || !request.get("Via") || !parseVia(request.get("Via") ?? "")) return;
    const response = createResponse(request, 400, `Bad Request (${error.message})`.slice(0, 120), peer);
    transport.send(response.toBuffer(), peer);
  }

  /** Sends a message outside any transaction (stateless forwarding, 2xx retransmissions). */
  send(message: SipMessage, peer: Peer): void {
    this.transportFor(peer.transport)?.send(message.toBuffer(), peer);
  }

  async close(): Promise<void> {
    for (const tx of this.transactions.values()) tx.terminate();
    await Promise.all(this.transports.map((t) => t.close()));
  }
}

/** RFC 3261 §17.2.3: branch + sent-by + method (ACK and CANCEL map onto the INVITE's key as asked). */
export function transactionKey(request: SipRequest, method = request.method): string {
  const via = parseVia(request.getAll("Via")[0] ?? "");
  const branch = via?.params.branch ?? "";
  const sentBy = via ? `${via.host}:${via.port ?? 5060}` : "";
  if (branch.startsWith("z9hG4bK")) return `${branch}|${sentBy}|${method}`;
  // RFC 2543 peers: fall back to the dialog and sequence identifiers.
  const fromTag = /;\s*tag=([^;]+)/i.exec(request.get("From") ?? "")?.[1] ?? "";
  const cseq = (request.get("CSeq") ?? "").split(/\s+/)[0];
  return `2543|${request.callId}|${fromTag}|${cseq}|${sentBy}|${method}`;
}

function checkRequest(request: SipRequest): { status: number; reason?: string; unsupported?: string } | null {
  const maxForwards = request.get("Max-Forwards");
  if (maxForwards !== undefined) {
    if (!/^\d{1,3}$/.test(maxForwards.trim())) return { status: 400, reason: "Bad Request (Max-Forwards)" };
    if (Number(maxForwards) === 0 && request.method !== "OPTIONS") return { status: 483 };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(request.uri)?.[1]?.toLowerCase();
  if (scheme !== "sip" && scheme !== "sips") return { status: 416 };
  if (!parseUri(request.uri)) return { status: 400, reason: "Bad Request (Request-URI)" };
  const required = request
    .getAll("Require")
    .map((tag) => tag.trim().toLowerCase())
    .filter((tag) => tag && !SUPPORTED.has(tag));
  if (required.length > 0 && request.method !== "CANCEL" && request.method !== "ACK")
    return { status: 420, unsupported: required.join(", ") };
  for (const header of ["From", "To"]) {
    const value = request.get(header) ?? "";
    if (!/<[^>]+>|^[^<]*sips?:/i.test(value)) return { status: 400, reason: `Bad Request (${header})` };
  }
  return null;
}
