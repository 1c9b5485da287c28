import { EventEmitter } from "node:events";
import type { DigestAuthenticator } from "../sip/core/digest.ts";
import { parseNameAddr, parseUri } from "../sip/core/headers.ts";
import { createResponse } from "../sip/core/responses.ts";
import type { ServerTransaction } from "../sip/core/transactions/ServerTransaction.ts";
import type { Peer, StreamConnection } from "../sip/platform/transport.ts";
import { authenticateExtension } from "./authenticate.ts";
import type { PbxDirectory } from "./PbxDirectory.ts";

export const MIN_EXPIRES = 60;
export const MAX_EXPIRES = 3600;
const DEFAULT_EXPIRES = 3600;
const MAX_BINDINGS_PER_EXTENSION = 10;

/** Where one device of an extension can be reached. */
export interface Binding {
  pbxId: string;
  extension: string;
  contact: string;
  expiresAt: number;
  callId: string;
  cseq: number;
  /** The address the REGISTER really came from. */
  peer: Peer;
  /**
   * Where requests to the phone go: the Contact when it names the address the REGISTER came
   * from (a phone that listens on another port than it sends from), otherwise — a private
   * address behind NAT, or any TCP/WebSocket flow — the source itself.
   */
  target: Peer;
  userAgent: string | null;
}

interface RegistrarEvents {
  registered: [binding: Binding];
  unregistered: [binding: Binding, why: "expired" | "removed" | "connection closed" | "extension removed"];
}

/**
 * The registrar (RFC 3261 §10.3): digest-authenticated REGISTERs bind contacts to an extension of
 * the PBX whose SIP domain the request names. Several devices per extension; expiry; flows over
 * TCP/WebSocket end with their connection.
 */
export class Registrar extends EventEmitter<RegistrarEvents> {
  private readonly bindings = new Map<string, Map<string, Binding>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly directory: PbxDirectory,
    private readonly digest: DigestAuthenticator,
  ) {
    super();
    this.sweeper = setInterval(() => this.sweep(), 5_000);
    this.sweeper.unref();
    // Extensions that disappear from the applied config lose their bindings.
    directory.on("changed", (pbxId) => this.prune(pbxId));
    directory.on("removed", (pbxId) => this.prune(pbxId));
  }

  /** Current bindings of one extension, newest first. */
  lookup(pbxId: string, extension: string): Binding[] {
    const now = Date.now();
    return [...(this.bindings.get(bindingKey(pbxId, extension))?.values() ?? [])]
      .filter((b) => b.expiresAt > now)
      .sort((a, b) => b.expiresAt - a.expiresAt);
  }

  get bindingCount(): number {
    let n = 0;
    for (const map of this.bindings.values()) n += map.size;
    return n;
  }

  handle(tx: ServerTransaction): void {
    const { request, peer } = tx;
    const reply = (status: number, reason?: string): void => tx.respond(createResponse(request, status, reason, peer));

    const domain = parseUri(request.uri)?.host;
    const pbx = domain ? this.directory.byDomain(domain) : undefined;
    if (!domain || !pbx) {
      reply(404, "Not Found (unknown domain)");
      return;
    }

    const extension = authenticateExtension(this.digest, pbx, tx, "registrar");
    if (!extension) return;

    // The address of record must be the authenticated extension (by number or SIP username).
    const to = parseNameAddr(request.get("To") ?? "");
    const aor = to?.uri.user ?? "";
    if ((aor !== extension.number && aor !== extension.sip.username) || to?.uri.host !== domain.toLowerCase()) {
      reply(403, "Forbidden (not your address of record)");
      return;
    }

    const key = bindingKey(pbx.pbxId, extension.number);
    const existing = this.bindings.get(key) ?? new Map<string, Binding>();
    const cseq = Number((request.get("CSeq") ?? "").split(/\s+/)[0]);
    const headerExpires = parseExpires(request.get("Expires"));
    const contacts = request.getAll("Contact");
    const now = Date.now();

    if (contacts.length === 1 && contacts[0]?.trim() === "*") {
      if (headerExpires !== 0) {
        reply(400, "Bad Request (* needs Expires: 0)");
        return;
      }
      for (const binding of existing.values()) this.drop(key, binding, "removed");
      this.ok(tx, pbx.pbxId, extension.number);
      return;
    }

    const changes: { contact: string; expires: number }[] = [];
    for (const value of contacts) {
      const contact = parseNameAddr(value);
      if (!contact) {
        reply(400, "Bad Request (Contact)");
        return;
      }
      const expires = parseExpires(contact.params.expires) ?? headerExpires ?? DEFAULT_EXPIRES;
      if (expires > 0 && expires < MIN_EXPIRES) {
        const response = createResponse(request, 423, undefined, peer);
        response.set("Min-Expires", String(MIN_EXPIRES));
        tx.respond(response);
        return;
      }
      changes.push({ contact: contact.uriText, expires: Math.min(expires, MAX_EXPIRES) });
    }
    for (const change of changes) {
      const previous = existing.get(change.contact);
      // §10.3 step 7: an older or repeated CSeq of the same Call-ID must not undo a newer binding.
      if (previous && previous.callId === request.callId && cseq <= previous.cseq) {
        reply(500, "Server Internal Error (out of order)");
        return;
      }
    }
    for (const change of changes) {
      const previous = existing.get(change.contact);
      if (change.expires === 0) {
        if (previous) this.drop(key, previous, "removed");
        continue;
      }
      if (!previous && existing.size >= MAX_BINDINGS_PER_EXTENSION) {
        reply(403, "Forbidden (too many devices)");
        return;
      }
      const binding: Binding = {
        pbxId: pbx.pbxId,
        extension: extension.number,
        contact: change.contact,
        expiresAt: now + change.expires * 1000,
        callId: request.callId,
        cseq,
        peer: { ...peer },
        target: reachableAt(change.contact, peer),
        userAgent: request.get("User-Agent") ?? null,
      };
      existing.set(change.contact, binding);
      this.bindings.set(key, existing);
      if (peer.connection) this.watchConnection(peer.connection, key, change.contact);
      this.emit("registered", binding);
    }
    this.ok(tx, pbx.pbxId, extension.number);
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private ok(tx: ServerTransaction, pbxId: string, extension: string): void {
    const response = createResponse(tx.request, 200, "OK", tx.peer);
    const now = Date.now();
    for (const binding of this.lookup(pbxId, extension)) {
      response.append(
        "Contact",
        `<${binding.contact}>;expires=${Math.max(0, Math.round((binding.expiresAt - now) / 1000))}`,
      );
    }
    response.set("Date", httpDate());
    tx.respond(response);
  }

  private drop(
    key: string,
    binding: Binding,
    why: "expired" | "removed" | "connection closed" | "extension removed",
  ): void {
    const map = this.bindings.get(key);
    if (!map?.delete(binding.contact)) return;
    if (map.size === 0) this.bindings.delete(key);
    this.emit("unregistered", binding, why);
  }

  private readonly flows = new Map<string, Set<string>>();

  /** A binding made over TCP/WebSocket lives only as long as its connection (RFC 5626 flows). */
  private watchConnection(connection: StreamConnection, key: string, contact: string): void {
    const entries = this.flows.get(connection.id) ?? new Set<string>();
    entries.add(`${key}\n${contact}`);
    this.flows.set(connection.id, entries);
  }

  /** Called by the transport layer when a connection closes. */
  connectionClosed(connection: StreamConnection): void {
    const entries = this.flows.get(connection.id);
    if (!entries) return;
    this.flows.delete(connection.id);
    for (const entry of entries) {
      const [key, contact] = entry.split("\n") as [string, string];
      const binding = this.bindings.get(key)?.get(contact);
      if (binding?.peer.connection?.id === connection.id) this.drop(key, binding, "connection closed");
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, map] of this.bindings) {
      for (const binding of map.values()) if (binding.expiresAt <= now) this.drop(key, binding, "expired");
    }
  }

  private prune(pbxId: string): void {
    const pbx = this.directory.get(pbxId);
    for (const [key, map] of this.bindings) {
      if (!key.startsWith(`${pbxId}|`)) continue;
      for (const binding of map.values()) {
        if (!pbx?.extensions.has(binding.extension)) this.drop(key, binding, "extension removed");
      }
    }
  }
}

function reachableAt(contact: string, peer: Peer): Peer {
  if (peer.transport !== "udp") return { ...peer };
  const uri = parseUri(contact);
  if (!uri || uri.host !== peer.address) return { ...peer };
  return { transport: "udp", address: uri.host, port: uri.port ?? 5060 };
}

let dateSecond = 0;
let dateText = "";

/** The Date header value, formatted once per second. */
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

function bindingKey(pbxId: string, extension: string): string {
  return `${pbxId}|${extension}`;
}

function parseExpires(value: string | null | undefined): number | undefined {
  if (value === undefined || value === null) return undefined;
  const trimmed = value.trim();
  if (!/^\d{1,10}$/.test(trimmed)) return undefined;
  return Number(trimmed);
}
