/**
 * SDP offer/answer for SIP legs that speak G.711 (PCMU, PCMA) and RFC 4733 telephone-event:
 * plain RTP/AVP (phones, the carrier) or WebRTC's UDP/TLS/RTP/SAVPF with ICE and DTLS-SRTP
 * (browsers; we are ICE-lite). Parsing goes through sdp-transform, then every field we use is
 * checked again: the remote SDP is untrusted input (anyone who can send an INVITE).
 */
import { isIPv4 } from "node:net";
import * as sdpTransform from "sdp-transform";

/** The codecs a SIP leg may use. mediasoup does not transcode, so both legs of a call use the same one. */
export type G711 = "PCMU" | "PCMA";
export const G711_CODECS: readonly G711[] = ["PCMU", "PCMA"];
/** G.711 for every leg; Opus only between WebRTC legs (browsers), since phones and the carrier lack it. */
export type AudioCodec = G711 | "opus";
export const WEBRTC_CODECS: readonly AudioCodec[] = ["opus", ...G711_CODECS];
/** RFC 3551 static payload types. */
export const STATIC_PAYLOAD_TYPES: Readonly<Record<G711, number>> = { PCMU: 0, PCMA: 8 };
/**
 * Opus's payload type in every call's Router, and so in the RTP mediasoup sends: the one Chromium
 * and Safari use. mediasoup sends a Router's payload types as they are, so a browser offering Opus
 * with another number (Firefox: 109) gets G.711 instead.
 */
export const OPUS_PAYLOAD_TYPE = 111;
/** The RTP format of each codec (RFC 3551, RFC 7587). */
export const CODEC_FORMATS: Readonly<Record<AudioCodec, { clockRate: number; channels: number }>> = {
  PCMU: { clockRate: 8000, channels: 1 },
  PCMA: { clockRate: 8000, channels: 1 },
  opus: { clockRate: 48000, channels: 2 },
};
export const isG711 = (codec: AudioCodec | null | undefined): codec is G711 => codec === "PCMU" || codec === "PCMA";
/** The telephone-event payload type we offer (the de facto standard; any dynamic one is accepted). */
export const DEFAULT_TELEPHONE_EVENT_PT = 101;

export type Direction = "sendrecv" | "sendonly" | "recvonly" | "inactive";

/** The two media profiles a leg speaks: plain RTP, or WebRTC (ICE + DTLS-SRTP, RFC 8829). */
export type MediaProfile = "RTP/AVP" | "UDP/TLS/RTP/SAVPF";
export const WEBRTC_PROFILE: MediaProfile = "UDP/TLS/RTP/SAVPF";

export type DtlsSetup = "active" | "passive" | "actpass";

/** The DTLS fingerprint hashes mediasoup can check. */
export type FingerprintAlgorithm = "sha-1" | "sha-224" | "sha-256" | "sha-384" | "sha-512";
const FINGERPRINT_ALGORITHMS: readonly string[] = ["sha-1", "sha-224", "sha-256", "sha-384", "sha-512"];

/** A WebRTC far end's transport: its ICE credentials, DTLS certificate fingerprint and role, its RTP stream. */
export interface WebRtcRemote {
  iceUfrag: string;
  icePwd: string;
  fingerprint: { algorithm: FingerprintAlgorithm; value: string };
  /** Its DTLS role (RFC 5763): actpass in an offer, active or passive in an answer. */
  setup: DtlsSetup;
  /** The SSRC of the audio it sends (a=ssrc), or null when it sends nothing (recvonly, or not said). */
  ssrc: number | null;
  cname: string | null;
  mid: string | null;
}

/** Our side of a WebRTC leg for the SDP we write (from mediasoup's WebRtcTransport). */
export interface WebRtcLocal {
  iceUfrag: string;
  icePwd: string;
  candidates: { foundation: string; priority: number; ip: string; port: number; protocol: "udp" | "tcp" }[];
  fingerprint: { algorithm: string; value: string };
  setup: DtlsSetup;
  /** The m= line's mid: the offer's, or ours ("0") when we offer. */
  mid: string;
  /** The SSRC and CNAME of what we send the far end, when known. */
  ssrc: { id: number; cname: string } | null;
}

export interface SdpCodec {
  name: AudioCodec;
  payloadType: number;
}

/** An m= line of the remote SDP, kept so that an answer can reject the streams we do not take (RFC 3264 §6). */
export interface SdpMediaLine {
  type: string;
  protocol: string;
  /** The first format of the line (an answer must name at least one, even with port 0). */
  format: string;
}

/** What we use from a remote SDP (offer or answer). */
export interface RemoteDescription {
  /** o= session id and version (informational: large versions lose precision in sdp-transform). */
  sessionId: string;
  sessionVersion: string;
  profile: MediaProfile;
  /** ICE, DTLS and the stream of a WebRTC far end; null for plain RTP. */
  webrtc: WebRtcRemote | null;
  /** Where the far end wants our RTP: null when it said c=0.0.0.0 (RFC 2543 hold) or gave no c=. */
  address: string | null;
  port: number;
  /** The G.711 codecs of the audio stream, in the far end's order of preference. */
  codecs: SdpCodec[];
  /** Every codec name the far end listed (for error messages). */
  offeredNames: string[];
  /** The far end's telephone-event payload type (8 kHz), or null when it does not do RFC 4733. */
  telephoneEventPt: number | null;
  /** The direction the far end declared (c=0.0.0.0 folded in: it then receives nothing). */
  direction: Direction;
  ptime: number | null;
  mediaLines: SdpMediaLine[];
  /** Which of mediaLines is the audio stream we use. */
  audioIndex: number;
}

export type SdpErrorCode = "malformed" | "unsupported" | "no-common-codec";

/** SDP we cannot use. Call control answers 488 Not Acceptable Here (400 for malformed bodies). */
export class SdpError extends Error {
  override readonly name = "SdpError";
  constructor(
    readonly code: SdpErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The SIP status call control should answer an offer with. */
  get sipStatus(): 400 | 488 {
    return this.code === "malformed" ? 400 : 488;
  }
}

/** Larger than any real audio SDP (a browser's offer is 2–6 KB); refuses to spend time on garbage. */
export const MAX_SDP_LENGTH = 16 * 1024;

/** RFC 3551 static audio payload types, to name what a far end offered in error messages. */
const STATIC_NAMES: Readonly<Record<number, string>> = {
  0: "PCMU",
  3: "GSM",
  4: "G723",
  8: "PCMA",
  9: "G722",
  13: "CN",
  18: "G729",
};

const DIRECTIONS: readonly string[] = ["sendrecv", "sendonly", "recvonly", "inactive"];
const TOKEN = /^[\w.+-]{1,64}$/;
const PAYLOAD_TYPE = /^\d{1,3}$/;

function malformed(message: string): SdpError {
  return new SdpError("malformed", `malformed SDP: ${message}`);
}

function asPort(value: unknown, what: string): number {
  const text = String(value ?? "");
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw malformed(`${what} port ${JSON.stringify(text)}`);
  return Number(text);
}

/** The connection address of c=: a literal IPv4 address (no multicast TTL, no host names: no DNS in the media path). */
function connectionAddress(connection: { version?: unknown; ip?: unknown } | undefined): string | null | undefined {
  if (!connection) return undefined;
  const ip = String(connection.ip ?? "");
  if (String(connection.version) === "6")
    throw new SdpError("unsupported", `IPv6 media address ${ip} is not supported`);
  if (!isIPv4(ip)) throw malformed(`c= address ${JSON.stringify(ip.slice(0, 64))} is not an IPv4 address`);
  return ip === "0.0.0.0" ? null : ip;
}

function parseDirection(value: unknown): Direction | undefined {
  return typeof value === "string" && DIRECTIONS.includes(value) ? (value as Direction) : undefined;
}

/** The far end will not receive at c=0.0.0.0: fold that into the direction it declared. */
function withoutReceive(direction: Direction): Direction {
  return direction === "sendrecv" || direction === "sendonly" ? "sendonly" : "inactive";
}

/**
 * Parses a remote SDP (offer or answer) and picks its first usable audio stream: RTP/AVP on a
 * non-zero port. Throws SdpError; never returns half-checked data.
 */
export function parseRemoteSdp(sdp: unknown): RemoteDescription {
  if (typeof sdp !== "string" || sdp.trim() === "") throw malformed("empty body");
  if (sdp.length > MAX_SDP_LENGTH) throw malformed(`${sdp.length} bytes (at most ${MAX_SDP_LENGTH})`);
  if (!/^v=0\r?$/.test(sdp.trimStart().split("\n", 1)[0] ?? "")) throw malformed("it does not start with v=0");

  let parsed: sdpTransform.SessionDescription;
  try {
    parsed = sdpTransform.parse(sdp);
  } catch (error) {
    throw malformed(error instanceof Error ? error.message : String(error));
  }
  const media = Array.isArray(parsed.media) ? parsed.media : [];
  if (media.length === 0) throw malformed("no m= line");

  const origin = parsed.origin;
  const sessionId = String(origin?.sessionId ?? "");
  const sessionVersion = String(origin?.sessionVersion ?? "");
  if (!TOKEN.test(sessionId) || !TOKEN.test(sessionVersion)) throw malformed("missing or invalid o= line");

  const sessionAddress = connectionAddress(parsed.connection);
  const sessionDirection = parseDirection(parsed.direction) ?? "sendrecv";

  const mediaLines: SdpMediaLine[] = media.map((m, index) => {
    const type = String(m.type ?? "");
    const protocol = String(m.protocol ?? "");
    const formats = String(m.payloads ?? "")
      .split(" ")
      .filter((f) => f !== "");
    if (!TOKEN.test(type) || !/^[\w/]{1,32}$/.test(protocol) || formats.length === 0 || !TOKEN.test(formats[0] ?? ""))
      throw malformed(`m= line ${index + 1}`);
    asPort(m.port, `m= line ${index + 1}`);
    return { type, protocol, format: formats[0] as string };
  });

  const audioIndex = media.findIndex(
    (m) => m.type === "audio" && (m.protocol === "RTP/AVP" || m.protocol === WEBRTC_PROFILE) && Number(m.port) !== 0,
  );
  if (audioIndex < 0) {
    const audio = mediaLines.filter((m) => m.type === "audio").map((m) => m.protocol);
    throw new SdpError(
      "unsupported",
      audio.length === 0
        ? "no audio stream"
        : `no usable audio stream (offered ${audio.join(", ")}; a leg takes plain RTP/AVP or WebRTC's ${WEBRTC_PROFILE})`,
    );
  }
  const audio = media[audioIndex] as sdpTransform.MediaDescription;
  const port = asPort(audio.port, "audio");
  const profile = audio.protocol as MediaProfile;
  const webrtc = profile === WEBRTC_PROFILE ? parseWebRtc(parsed, audio) : null;

  // WebRTC media goes where ICE finds it; c= is only a default (often 0.0.0.0 or IPv6) and not hold.
  const address = webrtc ? null : (connectionAddress(audio.connection) ?? sessionAddress);
  if (address === undefined) throw malformed("no c= line for the audio stream");

  const payloadTypes = String(audio.payloads ?? "")
    .split(" ")
    .filter((f) => f !== "")
    .map((f) => {
      if (!PAYLOAD_TYPE.test(f) || Number(f) > 127) throw malformed(`payload type ${JSON.stringify(f.slice(0, 16))}`);
      return Number(f);
    });
  const rtpmaps = new Map<number, { name: string; rate: number; channels: number }>();
  for (const r of Array.isArray(audio.rtp) ? audio.rtp : []) {
    const pt = Number(r.payload);
    if (!Number.isInteger(pt) || pt < 0 || pt > 127 || rtpmaps.has(pt)) continue;
    rtpmaps.set(pt, { name: String(r.codec ?? ""), rate: Number(r.rate), channels: Number(r.encoding ?? 1) });
  }

  const codecs: SdpCodec[] = [];
  const offeredNames: string[] = [];
  let telephoneEventPt: number | null = null;
  for (const pt of payloadTypes) {
    const map = rtpmaps.get(pt);
    // Static payload types need no rtpmap (RFC 3551); a dynamic one without rtpmap is unusable.
    const name = map?.name ?? STATIC_NAMES[pt] ?? `PT ${pt}`;
    const rate = map ? map.rate : pt === 0 || pt === 8 ? 8000 : Number.NaN;
    offeredNames.push(map ? `${name}/${map.rate}` : name);
    const upper = name.toUpperCase();
    // RFC 7587: opus/48000/2 whatever the audio; only at the Router's payload type (see OPUS_PAYLOAD_TYPE).
    if (upper === "OPUS" && rate === 48000 && map?.channels === 2 && pt === OPUS_PAYLOAD_TYPE) {
      if (profile === WEBRTC_PROFILE && !codecs.some((c) => c.name === "opus"))
        codecs.push({ name: "opus", payloadType: pt });
      continue;
    }
    if (rate !== 8000 || (map && map.channels !== 1)) continue;
    if ((upper === "PCMU" || upper === "PCMA") && !codecs.some((c) => c.name === upper))
      codecs.push({ name: upper, payloadType: pt });
    else if (upper === "TELEPHONE-EVENT" && telephoneEventPt === null) telephoneEventPt = pt;
  }

  let direction = parseDirection(audio.direction) ?? sessionDirection;
  if (address === null && !webrtc) direction = withoutReceive(direction);
  const ptime = Number(audio.ptime);

  return {
    sessionId,
    sessionVersion,
    profile,
    webrtc,
    address,
    port,
    codecs,
    offeredNames,
    telephoneEventPt,
    direction,
    ptime: Number.isInteger(ptime) && ptime >= 10 && ptime <= 200 ? ptime : null,
    mediaLines,
    audioIndex,
  };
}

const ICE_CHAR = /^[A-Za-z0-9+/]+$/;
const FINGERPRINT = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,63}$/;

/** ICE and DTLS of a WebRTC audio stream (media level first, then session level, RFC 8839/8842). */
function parseWebRtc(session: sdpTransform.SessionDescription, audio: sdpTransform.MediaDescription): WebRtcRemote {
  const iceUfrag = String(audio.iceUfrag ?? session.iceUfrag ?? "");
  const icePwd = String(audio.icePwd ?? session.icePwd ?? "");
  // RFC 8839 §5.4: ufrag 4–256 ice-chars, pwd 22–256.
  if (iceUfrag.length < 4 || iceUfrag.length > 256 || !ICE_CHAR.test(iceUfrag)) throw malformed("a=ice-ufrag");
  if (icePwd.length < 22 || icePwd.length > 256 || !ICE_CHAR.test(icePwd)) throw malformed("a=ice-pwd");
  const fingerprint = audio.fingerprint ?? session.fingerprint;
  const algorithm = String(fingerprint?.type ?? "").toLowerCase();
  const value = String(fingerprint?.hash ?? "");
  if (!FINGERPRINT_ALGORITHMS.includes(algorithm)) throw new SdpError("unsupported", "no usable a=fingerprint");
  if (!FINGERPRINT.test(value)) throw malformed("a=fingerprint");
  const setupText = String(audio.setup ?? session.setup ?? "actpass");
  if (setupText !== "active" && setupText !== "passive" && setupText !== "actpass")
    throw new SdpError("unsupported", `a=setup:${setupText.slice(0, 16)}`);
  const ssrcs = Array.isArray(audio.ssrcs) ? audio.ssrcs : [];
  const first = ssrcs.find((line) => Number.isSafeInteger(Number(line.id)) && Number(line.id) <= 0xffffffff);
  const ssrc = first ? Number(first.id) : null;
  const cnameLine = ssrcs.find((line) => Number(line.id) === ssrc && line.attribute === "cname");
  const cname = cnameLine && TOKEN_CNAME.test(String(cnameLine.value)) ? String(cnameLine.value) : null;
  const mid = audio.mid === undefined ? null : String(audio.mid);
  if (mid !== null && !TOKEN_CNAME.test(mid)) throw malformed("a=mid");
  return {
    iceUfrag,
    icePwd,
    fingerprint: { algorithm: algorithm as FingerprintAlgorithm, value: value.toUpperCase() },
    setup: setupText,
    ssrc,
    cname,
    mid,
  };
}

const TOKEN_CNAME = /^[\w.+/=@{}-]{1,255}$/;

/** The direction of our answer to a far end that declared `remote` (RFC 3264 §6.1). */
export function answerDirection(remote: Direction): Direction {
  switch (remote) {
    case "sendonly":
      return "recvonly";
    case "recvonly":
      return "sendonly";
    default:
      return remote;
  }
}

export interface LocalDescription {
  sessionId: string;
  sessionVersion: number;
  /** The node's media IP, announced in o= and c=. */
  address: string;
  /** The RTP shim's port. */
  port: number;
  codecs: readonly SdpCodec[];
  /** Our telephone-event payload type, or null to offer/answer no RFC 4733. */
  telephoneEventPt: number | null;
  direction: Direction;
  ptime: number;
  /** For an answer: the offer's m= lines (all but audioIndex are rejected with port 0). */
  mediaLines?: readonly SdpMediaLine[];
  audioIndex?: number;
  /** A WebRTC leg's ICE and DTLS; absent for plain RTP/AVP. */
  webrtc?: WebRtcLocal;
}

/** Our SDP (offer or answer) for one SIP leg. */
export function writeLocalSdp(local: LocalDescription): string {
  const webrtc = local.webrtc;
  const audio: sdpTransform.MediaDescription = {
    type: "audio",
    port: local.port,
    protocol: webrtc ? WEBRTC_PROFILE : "RTP/AVP",
    payloads: [
      ...local.codecs.map((c) => c.payloadType),
      ...(local.telephoneEventPt === null ? [] : [local.telephoneEventPt]),
    ].join(" "),
    rtp: local.codecs.map((c) => ({
      payload: c.payloadType,
      codec: c.name,
      rate: CODEC_FORMATS[c.name].clockRate,
      ...(CODEC_FORMATS[c.name].channels > 1 ? { encoding: CODEC_FORMATS[c.name].channels } : {}),
    })),
    // Opus: mono voice with in-band FEC, as browsers send it by default (RFC 7587 §7).
    fmtp: local.codecs
      .filter((c) => c.name === "opus")
      .map((c) => ({ payload: c.payloadType, config: "minptime=10;useinbandfec=1" })),
    ptime: local.ptime,
    direction: local.direction,
  };
  if (local.telephoneEventPt !== null) {
    audio.rtp.push({ payload: local.telephoneEventPt, codec: "telephone-event", rate: 8000 });
    audio.fmtp.push({ payload: local.telephoneEventPt, config: "0-16" });
  }
  if (webrtc) {
    audio.mid = webrtc.mid;
    audio.iceUfrag = webrtc.iceUfrag;
    audio.icePwd = webrtc.icePwd;
    audio.fingerprint = { type: webrtc.fingerprint.algorithm, hash: webrtc.fingerprint.value };
    audio.setup = webrtc.setup;
    audio.candidates = webrtc.candidates.map((c) => ({
      foundation: c.foundation,
      component: 1,
      transport: c.protocol,
      priority: c.priority,
      ip: c.ip,
      port: c.port,
      type: "host",
    }));
    audio.endOfCandidates = "end-of-candidates";
    audio.rtcpMux = "rtcp-mux";
    if (webrtc.ssrc) audio.ssrcs = [{ id: webrtc.ssrc.id, attribute: "cname", value: webrtc.ssrc.cname }];
  }
  const lines = local.mediaLines ?? [{ type: "audio", protocol: audio.protocol, format: "0" }];
  const audioIndex = local.audioIndex ?? 0;
  const media = lines.map(
    (line, index): sdpTransform.MediaDescription =>
      index === audioIndex
        ? audio
        : { type: line.type, port: 0, protocol: line.protocol, payloads: line.format, rtp: [], fmtp: [] },
  );
  return sdpTransform.write({
    version: 0,
    origin: {
      username: "-",
      sessionId: local.sessionId,
      sessionVersion: local.sessionVersion,
      netType: "IN",
      ipVer: 4,
      address: local.address,
    },
    name: "EdgePBX",
    connection: { version: 4, ip: local.address },
    timing: { start: 0, stop: 0 },
    // mediasoup is ICE-lite: the browser does the checks (RFC 8445 §2.5).
    ...(webrtc ? { icelite: "ice-lite", groups: [{ type: "BUNDLE", mids: webrtc.mid }] } : {}),
    media,
  });
}
