import { EventEmitter } from "node:events";
import type { Peer, Transport } from "../platform/transport.ts";
import { parseCSeq, parseUri, parseVia, randomToken } from "./headers.ts";
import { type SipMessage, type SipParseError, SipRequest, type SipResponse } from "./message.ts";
import { createResponse } from "./responses.ts";
import { ClientTransaction } from "./transactions/ClientTransaction.ts";
import { ServerTransaction, T1 } from "./transactions/ServerTransaction.ts";

export interface SipEndpointEvents {
  /** A new request in its own server transaction; the handler must respond. */
  request: [tx: ServerTransaction];
  /** A CANCEL matched to a pending INVITE server transaction (already answered 200). */
  cancel: [invite: ServerTransaction];
  /** An ACK for a 2xx (it belongs to a dialog, not a transaction). */
  ack: [request: SipRequest, peer: Peer];
  /** A response no client transaction of ours is waiting for (a 2xx retransmission, for example). */
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
  private readonly clients = new Map<string, ClientTransaction>();
  /**
   * Completed non-INVITE transactions over UDP (Timer J, 64·T1): only their final response is
   * kept, to answer retransmissions; one sweep a second expires them.
   */
  private readonly completed = new Map<string, { bytes: Buffer; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly transports: Transport[]) {
    super();
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [key, entry] of this.completed) if (entry.expiresAt <= now) this.completed.delete(key);
    }, 1000);
    this.sweeper.unref();
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
      const client = this.clients.get(responseKey(message));
      if (client) client.receive(message, (final: SipResponse) => ackFor(client.request, final));
      else this.emit("response", message, peer);
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
    const done = this.completed.get(key);
    if (done) {
      transport.send(done.bytes, peer);
      return;
    }
    if (message.method === "CANCEL") {
      // §9.2: CANCEL matches the INVITE with the same branch; it gets its own 200 either way.
      const invite = this.transactions.get(transactionKey(message, "INVITE"));
      const cancelTx = new ServerTransaction(key, message, peer, transport, (done) =>
        this.transactions.delete(done.key),
      );
      this.transactions.set(key, cancelTx);
      cancelTx.respond(createResponse(message, invite ? 200 : 481, undefined, peer));
      if (invite && invite.state === "proceeding") this.emit("cancel", invite);
      return;
    }
    const tx = new ServerTransaction(
      key,
      message,
      peer,
      transport,
      (ended) => this.transactions.delete(ended.key),
      (completed, bytes) => this.completed.set(completed.key, { bytes, expiresAt: Date.now() + 64 * T1 }),
    );
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

  /**
   * Sends a request in a new client transaction over the transport of `peer`, with our Via on
   * top (a fresh branch, rport asked for).
   */
  request(request: SipRequest, peer: Peer): ClientTransaction {
    const transport = this.transportFor(peer.transport);
    if (!transport) throw new Error(`no ${peer.transport} transport`);
    const viaTransport = peer.transport === "ws" ? "WS" : peer.transport.toUpperCase();
    request.prepend(
      "Via",
      `SIP/2.0/${viaTransport} ${transport.local.address}:${transport.local.port};branch=z9hG4bK${randomToken()};rport`,
    );
    if (!request.has("Max-Forwards")) request.set("Max-Forwards", "70");
    const tx = new ClientTransaction(responseKeyOf(request), request, peer, transport);
    this.clients.set(tx.key, tx);
    tx.on("terminated", () => this.clients.delete(tx.key));
    tx.start();
    return tx;
  }

  /**
   * Cancels a pending INVITE client transaction (§9.1): the CANCEL copies the INVITE's top Via
   * (same branch), Request-URI, Call-ID, From, To and CSeq number, in its own transaction.
   */
  cancel(invite: ClientTransaction): ClientTransaction | null {
    if (invite.state !== "proceeding") return null;
    const transport = this.transportFor(invite.peer.transport);
    if (!transport) return null;
    const cancel = new SipRequest("CANCEL", invite.request.uri);
    const via = invite.request.getAll("Via")[0];
    if (via) cancel.append("Via", via);
    for (const route of invite.request.getAll("Route")) cancel.append("Route", route);
    cancel.append("From", invite.request.get("From") ?? "");
    cancel.append("To", invite.request.get("To") ?? "");
    cancel.append("Call-ID", invite.request.callId);
    cancel.append("CSeq", `${parseCSeq(invite.request.get("CSeq") ?? "")?.seq ?? 1} CANCEL`);
    cancel.append("Max-Forwards", "70");
    const tx = new ClientTransaction(responseKeyOf(cancel), cancel, invite.peer, transport);
    this.clients.set(tx.key, tx);
    tx.on("terminated", () => this.clients.delete(tx.key));
    tx.start();
    return tx;
  }

  /**
   * Sends a message outside any transaction: 2xx retransmissions, and ACKs for 2xx (which get
   * a Via of ours here when they have none).
   */
  send(message: SipMessage, peer: Peer): void {
    const transport = this.transportFor(peer.transport);
    if (!transport) return;
    if (message instanceof SipRequest && !message.has("Via")) message.prepend("Via", this.via(transport, peer));
    transport.send(message.toBuffer(), peer);
  }

  /** Our top Via for a request over `transport`: a fresh branch, rport asked for (RFC 3581). */
  private via(transport: Transport, peer: Peer): string {
    const name = peer.transport === "ws" ? "WS" : peer.transport.toUpperCase();
    return `SIP/2.0/${name} ${transport.local.address}:${transport.local.port};branch=z9hG4bK${randomToken()};rport`;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.completed.clear();
    for (const tx of this.transactions.values()) tx.terminate();
    for (const tx of this.clients.values()) tx.terminate();
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

/** Client transactions are found by the branch of our Via and the CSeq method (§17.1.3). */
function responseKey(response: SipResponse): string {
  const branch = parseVia(response.getAll("Via")[0] ?? "")?.params.branch ?? "";
  return `${branch}|${parseCSeq(response.get("CSeq") ?? "")?.method ?? ""}`;
}

function responseKeyOf(request: SipRequest): string {
  const branch = parseVia(request.getAll("Via")[0] ?? "")?.params.branch ?? "";
  return `${branch}|${request.method}`;
}

/** The ACK for a non-2xx final (§17.1.1.3): same Request-URI, top Via, Route; To from the response. */
export function ackFor(invite: SipRequest, response: SipResponse): SipRequest {
  const ack = new SipRequest("ACK", invite.uri);
  const via = invite.getAll("Via")[0];
  if (via) ack.append("Via", via);
  for (const route of invite.getAll("Route")) ack.append("Route", route);
  ack.append("From", invite.get("From") ?? "");
  ack.append("To", response.get("To") ?? "");
  ack.append("Call-ID", invite.callId);
  ack.append("CSeq", `${parseCSeq(invite.get("CSeq") ?? "")?.seq ?? 1} ACK`);
  ack.append("Max-Forwards", "70");
  return ack;
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
