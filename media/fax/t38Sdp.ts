/**
 * T.38 in SDP (ITU-T T.38 Annex D, RFC 3362): `m=image <port> udptl t38` with the T38Fax*
 * attributes. Parsing is defensive: an offer is read with sdp-transform, and anything we cannot
 * take (no UDPTL/T.38 stream, no IPv4 address, local TCF, a nonsense port) is a reason, never a throw.
 */
import { parse } from "sdp-transform";

/** What a T.38 offer asks of us. */
export interface T38Offer {
  /** Where the far end receives UDPTL. */
  address: string;
  port: number;
  version: number;
  maxBitRate: number;
  /** The far end's largest UDPTL datagram (T38FaxMaxDatagram; a common default when absent). */
  maxDatagram: number;
  /** t38UDPRedundancy, t38UDPFEC or none. */
  errorCorrection: "redundancy" | "fec" | "none";
  /** Every m-line of the offer, for an answer with as many, in the same order (RFC 3264 §6). */
  mediaLines: { type: string; protocol: string; payloads: string; t38: boolean }[];
}

/** Our T38FaxMaxDatagram: what we take in one UDPTL datagram. */
export const OUR_MAX_DATAGRAM = 400;
/** When the far end does not say (Asterisk's and many gateways' default is around this). */
const DEFAULT_FAR_MAX_DATAGRAM = 200;

function attributes(invalid: { value: string }[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const { value } of invalid ?? []) {
    const colon = value.indexOf(":");
    const name = (colon < 0 ? value : value.slice(0, colon)).trim().toLowerCase();
    out.set(name, colon < 0 ? "" : value.slice(colon + 1).trim());
  }
  return out;
}

function integer(value: string | undefined, fallback: number, min: number, max: number): number {
  const n = value === undefined ? Number.NaN : Number.parseInt(value, 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

/**
 * The T.38 stream of an SDP offer, or why we cannot take it. `{ t38: false }` when the offer has
 * no T.38 at all (a hold, an audio change): that is not ours to take either, but not a T.38 problem.
 */
export function parseT38Offer(
  sdp: string,
): { ok: true; offer: T38Offer } | { ok: false; t38: boolean; reason: string } {
  let session: ReturnType<typeof parse>;
  try {
    session = parse(sdp);
  } catch (error) {
    return { ok: false, t38: false, reason: `unreadable SDP (${(error as Error).message})` };
  }
  const media = Array.isArray(session.media) ? session.media : [];
  const isT38 = (m: (typeof media)[number]) =>
    m.type === "image" && String(m.protocol).toLowerCase() === "udptl" && String(m.payloads).toLowerCase() === "t38";
  const t38 = media.find((m) => isT38(m) && m.port > 0);
  if (!t38) return { ok: false, t38: false, reason: "no T.38 (m=image udptl t38) stream offered" };
  const connection = t38.connection ?? session.connection;
  if (connection?.version !== 4 || !/^\d{1,3}(\.\d{1,3}){3}$/.test(connection.ip))
    return { ok: false, t38: true, reason: "T.38 offered without an IPv4 address" };
  if (!Number.isInteger(t38.port) || t38.port < 1 || t38.port > 65535)
    return { ok: false, t38: true, reason: `T.38 offered on port ${t38.port}` };
  const attrs = attributes((t38 as { invalid?: { value: string }[] }).invalid);
  const management = attrs.get("t38faxratemanagement")?.toLowerCase();
  if (management !== undefined && management !== "transferredtcf")
    return { ok: false, t38: true, reason: `T38FaxRateManagement ${management} (we take transferredTCF over UDPTL)` };
  const ec = attrs.get("t38faxudpec")?.toLowerCase();
  return {
    ok: true,
    offer: {
      address: connection.ip,
      port: t38.port,
      version: integer(attrs.get("t38faxversion"), 0, 0, 3),
      maxBitRate: integer(attrs.get("t38maxbitrate"), 14400, 2400, 33600),
      maxDatagram: integer(attrs.get("t38faxmaxdatagram"), DEFAULT_FAR_MAX_DATAGRAM, 72, 1400),
      errorCorrection: ec === "t38udpredundancy" ? "redundancy" : ec === "t38udpfec" ? "fec" : "none",
      mediaLines: media.map((m) => ({
        type: String(m.type),
        protocol: String(m.protocol),
        payloads: String(m.payloads ?? ""),
        t38: m === t38,
      })),
    },
  };
}

/**
 * Our answer: the T.38 stream at `address`:`port` (version 0, 14400 bit/s at most, transferred
 * TCF, redundancy), every other m-line of the offer refused (port 0).
 */
export function t38Answer(offer: T38Offer, local: { address: string; port: number; sessionId: number }): string {
  const lines = [
    "v=0",
    `o=edgepbx ${local.sessionId} ${local.sessionId} IN IP4 ${local.address}`,
    "s=EdgePBX fax",
    `c=IN IP4 ${local.address}`,
    "t=0 0",
  ];
  for (const m of offer.mediaLines) {
    if (!m.t38) {
      lines.push(`m=${m.type} 0 ${m.protocol} ${m.payloads || "0"}`);
      continue;
    }
    lines.push(
      `m=image ${local.port} udptl t38`,
      "a=T38FaxVersion:0",
      `a=T38MaxBitRate:${Math.min(offer.maxBitRate, 14400)}`,
      "a=T38FaxRateManagement:transferredTCF",
      "a=T38FaxMaxBuffer:2000",
      `a=T38FaxMaxDatagram:${OUR_MAX_DATAGRAM}`,
      "a=T38FaxUdpEC:t38UDPRedundancy",
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}

/** A T.38 offer, as a carrier's gateway sends it in its re-INVITE (the test fax machine's). */
export function t38Offer(local: { address: string; port: number; sessionId: number }): string {
  return [
    "v=0",
    `o=gateway ${local.sessionId} ${local.sessionId} IN IP4 ${local.address}`,
    "s=-",
    `c=IN IP4 ${local.address}`,
    "t=0 0",
    `m=image ${local.port} udptl t38`,
    "a=T38FaxVersion:0",
    "a=T38MaxBitRate:14400",
    "a=T38FaxRateManagement:transferredTCF",
    "a=T38FaxMaxBuffer:2000",
    `a=T38FaxMaxDatagram:${OUR_MAX_DATAGRAM}`,
    "a=T38FaxUdpEC:t38UDPRedundancy",
    "",
  ].join("\r\n");
}
