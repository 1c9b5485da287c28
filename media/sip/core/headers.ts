import { randomBytes } from "node:crypto";

/**
 * Typed views of the header values the gateway reads: SIP URIs, name-addr (From, To, Contact),
 * Via, CSeq and digest credentials. Each parser returns null for input it cannot read.
 */

export interface SipUri {
  scheme: "sip" | "sips";
  user: string | null;
  host: string;
  port: number | null;
  params: Record<string, string | null>;
  headers: string;
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/;

export function parseUri(text: string): SipUri | null {
  const m = /^(sips?):(?:([^@;?]+)@)?([^;?]+?)(?::(\d{1,5}))?((?:;[^?]*)?)(\?.*)?$/i.exec(text.trim());
  if (!m?.[1] || !m[3]) return null;
  const host = m[3].toLowerCase();
  if (!HOST.test(host)) return null;
  const port = m[4] ? Number(m[4]) : null;
  if (port !== null && (port < 1 || port > 65535)) return null;
  let user: string | null = null;
  if (m[2] !== undefined) {
    const rawUser = m[2].split(":")[0] ?? "";
    try {
      user = decodeURIComponent(rawUser);
    } catch {
      return null;
    }
  }
  return {
    scheme: m[1].toLowerCase() as "sip" | "sips",
    user,
    host,
    port,
    params: parseParams(m[5] ?? ""),
    headers: m[6] ?? "",
  };
}

export function formatUri(uri: SipUri): string {
  const user = uri.user === null ? "" : `${encodeURIComponent(uri.user).replace(/%2B/g, "+")}@`;
  const port = uri.port === null ? "" : `:${uri.port}`;
  const params = Object.entries(uri.params)
    .map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`))
    .join("");
  return `${uri.scheme}:${user}${uri.host}${port}${params}${uri.headers}`;
}

/** `;a=b;c` → { a: "b", c: null } with lower-case names. */
export function parseParams(text: string): Record<string, string | null> {
  const params: Record<string, string | null> = {};
  for (const part of text.split(";")) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf("=");
    if (eq < 0) params[trimmed.toLowerCase()] = null;
    else params[trimmed.slice(0, eq).trim().toLowerCase()] = trimmed.slice(eq + 1).trim();
  }
  return params;
}

export interface NameAddr {
  displayName: string | null;
  uri: SipUri;
  /** The URI text as written, for echoing back unchanged. */
  uriText: string;
  params: Record<string, string | null>;
}

/** From, To, Contact, Route: `"Alice" <sip:alice@example.com>;tag=1` or `sip:alice@example.com;tag=1`. */
export function parseNameAddr(text: string): NameAddr | null {
  const value = text.trim();
  const angle = /^(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]+)>(.*)$/.exec(value);
  if (angle) {
    const uri = angle[3] ? parseUri(angle[3]) : null;
    if (!uri || !angle[3]) return null;
    const display = angle[1] !== undefined ? angle[1].replace(/\\(.)/g, "$1") : angle[2]?.trim() || null;
    return { displayName: display, uri, uriText: angle[3], params: parseParams(angle[4] ?? "") };
  }
  // addr-spec form: parameters after the URI belong to the header, not the URI.
  const semi = value.indexOf(";");
  const uriText = semi < 0 ? value : value.slice(0, semi);
  const uri = parseUri(uriText);
  if (!uri) return null;
  return { displayName: null, uri, uriText, params: parseParams(semi < 0 ? "" : value.slice(semi)) };
}

/** The dialog a Replaces header (RFC 3891) names; tags as seen by the UA that receives it. */
export interface Replaces {
  callId: string;
  /** The receiving UA's own tag in that dialog. */
  toTag: string;
  /** The other party's tag in that dialog. */
  fromTag: string;
  earlyOnly: boolean;
}

/** `callid;to-tag=a;from-tag=b[;early-only]`; null without a Call-ID or either tag. */
export function parseReplaces(text: string): Replaces | null {
  const [callId, ...rest] = text.split(";");
  const params = parseParams(rest.join(";"));
  const toTag = params["to-tag"];
  const fromTag = params["from-tag"];
  if (!callId?.trim() || !toTag || !fromTag) return null;
  return { callId: callId.trim(), toTag, fromTag, earlyOnly: "early-only" in params };
}

/**
 * One header carried in a URI's `?name=value&…` part (RFC 3261 §19.1.1), percent-decoded: how a
 * Refer-To carries Replaces. Null when absent or badly escaped.
 */
export function uriHeader(uri: SipUri, name: string): string | null {
  for (const pair of uri.headers.replace(/^\?/, "").split("&")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).toLowerCase() !== name.toLowerCase()) continue;
    try {
      return decodeURIComponent(pair.slice(eq + 1));
    } catch {
      return null;
    }
  }
  return null;
}

export interface Via {
  protocol: string;
  transport: string;
  host: string;
  port: number | null;
  params: Record<string, string | null>;
}

export function parseVia(text: string): Via | null {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+(\[[^\]]+\]|[^\s;:]+)(?:\s*:\s*(\d{1,5}))?\s*((?:;.*)?)$/i.exec(
    text.trim(),
  );
  if (!m?.[1] || !m[2]) return null;
  return {
    protocol: "SIP/2.0",
    transport: m[1].toUpperCase(),
    host: m[2].toLowerCase(),
    port: m[3] ? Number(m[3]) : null,
    params: parseParams(m[4] ?? ""),
  };
}

export function formatVia(via: Via): string {
  const port = via.port === null ? "" : `:${via.port}`;
  const params = Object.entries(via.params)
    .map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`))
    .join("");
  return `SIP/2.0/${via.transport} ${via.host}${port}${params}`;
}

export function parseCSeq(text: string): { seq: number; method: string } | null {
  const m = /^(\d{1,10})\s+([A-Za-z]+)$/.exec(text.trim());
  return m?.[1] && m[2] ? { seq: Number(m[1]), method: m[2].toUpperCase() } : null;
}

/** `Digest username="100", realm="x", …` → lower-case keys, unquoted values. */
export function parseDigest(text: string): Record<string, string> | null {
  const m = /^Digest\s+(.*)$/is.exec(text.trim());
  if (!m?.[1]) return null;
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  re.lastIndex = 0;
  // biome-ignore lint/suspicious/noAssignInExpressions: the usual sticky-regex loop
  while ((match = re.exec(m[1])) !== null) {
    if (match[0] === "") break;
    const key = match[1]?.toLowerCase();
    if (key) params[key] = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : (match[3] ?? "");
    consumed = re.lastIndex;
  }
  return consumed === m[1].length ? params : null;
}

const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

/**
 * An unguessable token for tags, branches and Call-IDs (branches add the z9hG4bK cookie).
 * Bytes come from a pool refilled 4 KB at a time: one randomBytes() call per response was a
 * measurable share of a REGISTER's CPU.
 */
export function randomToken(bytes = 8): string {
  if (poolOffset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const token = pool.toString("hex", poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return token;
}
