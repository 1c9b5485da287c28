/**
 * RFC 3261 messages: parsing that does not trust its input, and serialisation.
 * Headers keep their order and raw values; typed views (Via, name-addr, CSeq, digest) live in
 * headers.ts and are computed on demand.
 */

export const MAX_MESSAGE_BYTES = 65_535;
const MAX_HEADERS = 128;
const MAX_LINE = 8_192;

/** RFC 3261 §7.3.3 compact forms, and the canonical spelling used when we serialise. */
const COMPACT: Record<string, string> = {
  i: "Call-ID",
  m: "Contact",
  e: "Content-Encoding",
  l: "Content-Length",
  c: "Content-Type",
  f: "From",
  s: "Subject",
  k: "Supported",
  t: "To",
  v: "Via",
  o: "Event",
  r: "Refer-To",
  b: "Referred-By",
  u: "Allow-Events",
  x: "Session-Expires",
};

const CANONICAL = new Map(
  [
    "Accept",
    "Allow",
    "Authorization",
    "Call-ID",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Expires",
    "From",
    "Max-Forwards",
    "Min-Expires",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "Record-Route",
    "Require",
    "Retry-After",
    "Route",
    "Server",
    "Supported",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "WWW-Authenticate",
    "Warning",
    "Allow-Events",
    "Event",
    "Refer-To",
    "Referred-By",
    "Session-Expires",
    "Subject",
  ].map((name) => [name.toLowerCase(), name]),
);

/** Headers whose value may be a comma-separated list of several values (RFC 3261 §7.3.1). */
const LIST_HEADERS = new Set([
  "via",
  "contact",
  "route",
  "record-route",
  "allow",
  "supported",
  "require",
  "proxy-require",
  "unsupported",
  "accept",
  "allow-events",
]);

export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? CANONICAL.get(lower) ?? name;
}

const keys = new Map<string, string>();

/** The lookup key of a header name (canonical, lower case), memoised: lookups are hot. */
function headerKey(name: string): string {
  let key = keys.get(name);
  if (key === undefined) {
    key = canonicalHeaderName(name).toLowerCase();
    if (keys.size < 1024) keys.set(name, key);
  }
  return key;
}

export interface Header {
  name: string;
  /** canonicalHeaderName(name) in lower case, computed once. */
  key: string;
  value: string;
}

function makeHeader(name: string, value: string): Header {
  return { name: canonicalHeaderName(name), key: headerKey(name), value };
}

abstract class SipMessageBase {
  headers: Header[] = [];
  body: Buffer = Buffer.alloc(0);

  /** The first value of a header, or undefined. */
  get(name: string): string | undefined {
    const wanted = headerKey(name);
    for (const h of this.headers) if (h.key === wanted) return h.value;
    return undefined;
  }

  /** Every value of a header, list headers split at top-level commas. */
  getAll(name: string): string[] {
    const wanted = headerKey(name);
    const values = this.headers.filter((h) => h.key === wanted).map((h) => h.value);
    return LIST_HEADERS.has(wanted) ? values.flatMap(splitList) : values;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Replaces every occurrence of a header with one value. */
  set(name: string, value: string): this {
    this.remove(name);
    return this.append(name, value);
  }

  append(name: string, value: string): this {
    this.headers.push(makeHeader(name, value));
    return this;
  }

  /** Adds a header before the others of its name (a new top Via, for example). */
  prepend(name: string, value: string): this {
    const header = makeHeader(name, value);
    const index = this.headers.findIndex((h) => h.key === header.key);
    this.headers.splice(Math.max(index, 0), 0, header);
    return this;
  }

  remove(name: string): this {
    const wanted = headerKey(name);
    this.headers = this.headers.filter((h) => h.key !== wanted);
    return this;
  }

  get callId(): string {
    return this.get("Call-ID") ?? "";
  }

  protected abstract startLine(): string;

  toBuffer(): Buffer {
    const lines = [this.startLine()];
    for (const h of this.headers) if (h.key !== "content-length") lines.push(`${h.name}: ${h.value}`);
    lines.push(`Content-Length: ${this.body.length}`);
    return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "utf8"), this.body]);
  }

  toString(): string {
    return this.toBuffer().toString("utf8");
  }
}

export class SipRequest extends SipMessageBase {
  constructor(
    public method: string,
    public uri: string,
  ) {
    super();
  }

  protected startLine(): string {
    return `${this.method} ${this.uri} SIP/2.0`;
  }
}

export class SipResponse extends SipMessageBase {
  constructor(
    public status: number,
    public reason: string,
  ) {
    super();
  }

  protected startLine(): string {
    return `SIP/2.0 ${this.status} ${this.reason}`;
  }
}

export type SipMessage = SipRequest | SipResponse;

export class SipParseError extends Error {
  constructor(
    message: string,
    /** The request as far as it could be read, so a 400 can still be addressed to its sender. */
    readonly partial?: SipRequest,
  ) {
    super(message);
  }
}

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;

/**
 * Parses one whole message (a UDP datagram, or a frame cut out by the stream framer).
 * Throws SipParseError for anything that is not a well-formed SIP/2.0 message.
 */
export function parseMessage(input: Buffer): SipMessage {
  if (input.length > MAX_MESSAGE_BYTES) throw new SipParseError("message too large");
  // Leading CRLFs before a message are keep-alives to be ignored (RFC 3261 §7.5).
  let offset = 0;
  while (offset < input.length && (input[offset] === 0x0d || input[offset] === 0x0a)) offset++;
  const data = input.subarray(offset);
  const headerEnd = findHeaderEnd(data);
  if (!headerEnd) throw new SipParseError("no end of headers");
  const head = data.subarray(0, headerEnd.end).toString("utf8");
  const rawLines = head.split(/\r?\n/);
  const start = rawLines.shift();
  if (!start) throw new SipParseError("empty message");
  if (start.length > MAX_LINE) throw new SipParseError("start line too long");

  let message: SipMessage;
  const response = /^SIP\/2\.0 ([1-6][0-9]{2}) (.*)$/i.exec(start);
  if (response) {
    message = new SipResponse(Number(response[1]), response[2] ?? "");
  } else {
    const request = /^([^ ]+) ([^ ]+) SIP\/(\d+\.\d+)$/.exec(start);
    if (!request?.[1] || !request[2]) throw new SipParseError(`malformed start line: ${start.slice(0, 80)}`);
    if (request[3] !== "2.0")
      throw new SipParseError(`unsupported SIP version ${request[3]}`, new SipRequest(request[1], request[2]));
    if (!TOKEN.test(request[1])) throw new SipParseError("method is not a token");
    message = new SipRequest(request[1], request[2]);
  }
  const partial = message instanceof SipRequest ? message : undefined;

  // Unfold continuation lines (leading whitespace) into the header before them.
  const lines: string[] = [];
  for (const line of rawLines) {
    if (line.length > MAX_LINE) throw new SipParseError("header line too long", partial);
    if ((line.startsWith(" ") || line.startsWith("\t")) && lines.length > 0)
      lines[lines.length - 1] += ` ${line.trim()}`;
    else lines.push(line);
  }
  if (lines.length > MAX_HEADERS) throw new SipParseError("too many headers", partial);
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new SipParseError(`malformed header line: ${line.slice(0, 40)}`, partial);
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) throw new SipParseError(`malformed header name: ${name.slice(0, 40)}`, partial);
    message.headers.push(makeHeader(name, line.slice(colon + 1).trim()));
  }

  const bodyStart = headerEnd.bodyStart;
  const available = data.length - bodyStart;
  const lengthHeader = message.get("Content-Length");
  let length = available;
  if (lengthHeader !== undefined) {
    if (!/^\d{1,6}$/.test(lengthHeader)) throw new SipParseError("Content-Length is not a number", partial);
    length = Number(lengthHeader);
    if (length > available) throw new SipParseError("body shorter than Content-Length", partial);
  }
  message.body = Buffer.from(data.subarray(bodyStart, bodyStart + length));

  for (const required of ["Via", "From", "To", "Call-ID", "CSeq"]) {
    if (!message.has(required)) throw new SipParseError(`missing ${required}`, partial);
  }
  if (message instanceof SipRequest) {
    const cseq = /^(\d{1,10})\s+(\S+)$/.exec(message.get("CSeq") ?? "");
    if (!cseq || Number(cseq[1]) > 2 ** 31 - 1) throw new SipParseError("malformed CSeq", message);
    if (cseq[2] !== message.method && message.method !== "ACK" && message.method !== "CANCEL")
      throw new SipParseError("CSeq method does not match the request method", message);
  }
  return message;
}

/** Where the header block ends (CRLFCRLF, or bare LFLF from lenient peers). */
export function findHeaderEnd(data: Buffer): { end: number; bodyStart: number } | null {
  const crlf = data.indexOf("\r\n\r\n");
  const lf = data.indexOf("\n\n");
  if (crlf < 0 && lf < 0) return null;
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { end: crlf, bodyStart: crlf + 4 };
  return { end: lf, bodyStart: lf + 2 };
}

/** Splits a header value at commas that are not inside quotes or angle brackets. */
export function splitList(value: string): string[] {
  const parts: string[] = [];
  let depthAngle = 0;
  let quoted = false;
  let current = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === "\\" && i + 1 < value.length) {
        current += ch + value[++i];
        continue;
      }
      if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === "<") depthAngle++;
    else if (ch === ">") depthAngle = Math.max(0, depthAngle - 1);
    else if (ch === "," && depthAngle === 0) {
      if (current.trim()) parts.push(current.trim());
      current = "";
      continue;
    }
    current += ch;
  }
  if (current.trim()) parts.push(current.trim());
  return parts;
}
