/**
 * The RTP shim: a small UDP relay in Node between one SIP phone and the mediasoup PlainTransport
 * of its call leg.
 *
 * Why it exists (measured with mediasoup 3.19.3): mediasoup matches incoming RTP to a Producer
 * only by SSRC, MID or RID (worker RtpListener). SIP phones send no MID/RID and announce no
 * a=ssrc, so their packets would be dropped as "no suitable Producer". The shim owns the port
 * advertised to the phone and rewrites the phone's SSRC to one fixed per-leg SSRC that the
 * Producer was created with, renumbering seq/timestamp when the phone restarts its stream so that
 * mediasoup sees one continuous stream. Towards the phone it strips the MID header extension
 * mediasoup always adds and sends from the advertised port to wherever the phone's RTP comes
 * from (symmetric RTP, for phones behind NAT).
 *
 * mediasoup consumers drop telephone-event and CN, so RFC 4733 packets never enter mediasoup:
 * the shim decodes them into `dtmf` events (one per key press, not per packet) and hands the raw
 * events to the other leg's shim (`telephoneevent` → injectTelephoneEvent) for pass-through.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { EnhancedEventEmitter } from "../common/EnhancedEventEmitter.ts";
import type { Logger } from "../common/Logger.ts";
import { DtmfReceiver } from "./DtmfReceiver.ts";

export interface UdpAddress {
  address: string;
  port: number;
}

/** Even RTP ports (RTCP on port + 1, RFC 3550 §11) handed out round robin from a range. */
export class RtpPortPool {
  private readonly used = new Set<number>();
  private cursor: number;

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || max - min < 1)
      throw new Error(`invalid RTP port range ${min}-${max}`);
    this.cursor = min + (min % 2);
  }

  get inUse(): number {
    return this.used.size;
  }

  /**
   * Binds an RTP socket and its RTCP neighbour on `ip`. Round robin, so that a port just freed is
   * not reused at once (late packets of the previous call would reach the next). Ports already
   * bound by other processes are skipped.
   */
  async bindPair(ip: string): Promise<{ port: number; rtp: Socket; rtcp: Socket }> {
    const first = this.min + (this.min % 2);
    const slots = Math.floor((this.max - first - 1) / 2) + 1;
    for (let attempt = 0; attempt < slots; attempt++) {
      const port = this.cursor;
      this.cursor = port + 2 + 1 > this.max ? first : port + 2;
      if (this.used.has(port)) continue;
      this.used.add(port);
      const rtp = await bindSocket(ip, port).catch(() => null);
      const rtcp = rtp ? await bindSocket(ip, port + 1).catch(() => null) : null;
      if (rtp && rtcp) return { port, rtp, rtcp };
      rtp?.close();
      this.used.delete(port);
    }
    throw new Error(`no free RTP port in ${this.min}-${this.max} on ${ip}`);
  }

  release(port: number): void {
    this.used.delete(port);
  }
}

function bindSocket(ip: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: "udp4" });
    socket.once("error", (error) => {
      socket.close();
      reject(error);
    });
    socket.bind(port, ip, () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
  });
}

/** What the leg's SDP negotiation decided; the shim forwards nothing before it has this. */
export interface ShimMedia {
  /** Where the phone's SDP (c=/m=) wants our RTP; null for c=0.0.0.0. Used until the phone's RTP latches. */
  remote: UdpAddress | null;
  /** The negotiated codec's payload type towards the phone (the one in its SDP). */
  payloadType: number;
  /**
   * The payload types taken from the phone as that codec (ours, and its own if it differs); the
   * first is the Producer's, and the others are rewritten to it.
   */
  receivePayloadTypes: readonly number[];
  clockRate: number;
  /** The telephone-event PT the phone declared (we send DTMF with it); null: the phone does no RFC 4733. */
  telephoneEventPt: number | null;
  /** The PTs taken from the phone as telephone-event: the phone's and ours (some phones send with ours). */
  receiveTelephoneEventPts: readonly number[];
  /** Our direction allows sending to the phone (it is not holding us). */
  sending: boolean;
  /** Our direction allows receiving from the phone. */
  receiving: boolean;
}

/** One key press of RFC 4733 (emitted twice: end false at key-down, end true once at the end). */
export interface DtmfEvent {
  /** "0"-"9", "*", "#", "A"-"D", or "flash" (event 16). */
  digit: string;
  /** The RFC 4733 event code. */
  event: number;
  end: boolean;
  /** Duration in timestamp units (samples) as the phone last reported it. */
  duration: number;
  durationMs: number;
  /** Volume, in -dBm0 (0-63). */
  volume: number;
  /** True when no end packet arrived and the end was inferred from silence. */
  inferred?: boolean;
}

/** One telephone-event packet on its way to the other leg (every packet: the far end expects the redundancy). */
export interface TelephoneEventPacket {
  /** Identifies the key press (the sender's SSRC and event timestamp). */
  key: string;
  /** The RFC 4733 payload as sent (4 bytes per event). */
  payload: Buffer;
  end: boolean;
}

export interface RtpShimStats {
  port: number;
  /** RTP from the phone: received, and forwarded to mediasoup. */
  phoneToMediasoup: { received: number; forwarded: number; bytes: number };
  /** RTP from mediasoup: received, and sent to the phone. */
  mediasoupToPhone: { received: number; sent: number; bytes: number };
  dtmf: { received: number; sent: number };
  rtcpDropped: number;
  dropped: {
    malformed: number;
    foreignSource: number;
    notReceiving: number;
    payloadType: number;
    notSending: number;
    noDestination: number;
  };
  /** The phone restarted its stream (new SSRC or a sequence jump); the output stayed continuous. */
  streamRestarts: number;
  latched: UdpAddress | null;
  /** Date.now() of the last RTP packet from the phone, or null. */
  lastReceivedAt: number | null;
}

export type RtpShimEvents = {
  dtmf: [DtmfEvent];
  telephoneevent: [TelephoneEventPacket];
  /** The shim started sending to this address because the phone's RTP came from there. */
  latch: [UdpAddress];
};

export interface RtpShimOptions {
  pool: RtpPortPool;
  /** Where the phone-facing sockets listen (the media IP, or 0.0.0.0). */
  listenIp: string;
  /** A silent latched source may be replaced after this long (a phone that moved, a NAT rebinding). */
  relatchAfterMs?: number;
  /** An RFC 4733 key press whose end packets were all lost ends after this much silence. */
  dtmfEndTimeoutMs?: number;
  logger?: Logger;
}

const MAX_SEQ_DROPOUT = 3000; // mediasoup's RtpStream limits: beyond them it discards until it resyncs
const MAX_SEQ_MISORDER = 1500;

/** RTCP multiplexed with RTP: packet types 192-223 in the second byte (RFC 5761 §4). */
function isRtcp(packet: Buffer): boolean {
  if (packet.length < 8 || packet.readUInt8(0) >> 6 !== 2) return false;
  const type = packet.readUInt8(1);
  return type >= 192 && type <= 223;
}

/** RTP fixed header checks; returns the header length (CSRCs and extension included) or -1. */
export function headerLength(packet: Buffer): number {
  if (packet.length < 12) return -1;
  const first = packet.readUInt8(0);
  if (first >> 6 !== 2) return -1;
  let length = 12 + 4 * (first & 0x0f);
  if (first & 0x10) {
    if (packet.length < length + 4) return -1;
    length += 4 + 4 * packet.readUInt16BE(length + 2);
  }
  return length <= packet.length ? length : -1;
}

/**
 * Maps an input RTP stream whose SSRC, sequence numbers and timestamps may restart (a phone after
 * hold or transfer, a new mediasoup consumer) onto one continuous output stream with a fixed SSRC.
 * Packets taken out of the stream (DTMF, CN) close their gap; packets put in (injected DTMF) shift
 * the rest, so the receiver sees loss only where there was loss.
 */
class StreamRewriter {
  private inSsrc: number | null = null;
  private lastInSeq = 0;
  private seqOffset = 0;
  private tsOffset = 0;
  private lastOutSeq: number | null = null;
  private lastOutTs = 0;
  private lastOutAt = 0;
  private tsStep = 0;
  restarts = 0;

  constructor(
    readonly ssrc: number,
    private readonly clockRate: () => number,
  ) {}

  /** A packet that stays in the stream: its output sequence number and timestamp. */
  map(ssrc: number, seq: number, ts: number, now: number): { seq: number; ts: number } {
    this.follow(ssrc, seq, ts, now);
    const outSeq = (seq + this.seqOffset) & 0xffff;
    const outTs = (ts + this.tsOffset) >>> 0;
    if (this.lastOutSeq !== null && ((outSeq - this.lastOutSeq) & 0xffff) === 1) {
      const step = (outTs - this.lastOutTs) >>> 0;
      if (step > 0 && step <= this.clockRate() / 5) this.tsStep = step;
    }
    this.lastOutSeq = outSeq;
    this.lastOutTs = outTs;
    this.lastOutAt = now;
    return { seq: outSeq, ts: outTs };
  }

  /** A packet taken out of the stream: later ones move back by one so that no gap shows. */
  remove(ssrc: number, seq: number, ts: number, now: number): void {
    this.follow(ssrc, seq, ts, now);
    this.seqOffset = (this.seqOffset - 1) & 0xffff;
  }

  /** A packet put into the stream: the next sequence number, and later mapped packets move on by one. */
  insert(): number {
    const seq = ((this.lastOutSeq ?? Math.floor(Math.random() * 0x8000)) + 1) & 0xffff;
    this.lastOutSeq = seq;
    this.seqOffset = (this.seqOffset + 1) & 0xffff;
    return seq;
  }

  /** The output timestamp for "now", extrapolated from the last packet (RFC 4733 events start now). */
  timestampNow(now: number): number {
    if (this.lastOutSeq === null) return (Math.random() * 2 ** 32) >>> 0;
    return (this.lastOutTs + Math.round(((now - this.lastOutAt) * this.clockRate()) / 1000)) >>> 0;
  }

  private follow(ssrc: number, seq: number, ts: number, now: number): void {
    if (this.inSsrc === ssrc) {
      const ahead = (seq - this.lastInSeq) & 0xffff;
      if (ahead < 0x8000) this.lastInSeq = seq;
      if (ahead <= MAX_SEQ_DROPOUT || ahead >= 0x10000 - MAX_SEQ_MISORDER) return;
    }
    // A new stream (or a jump mediasoup would discard packets over): continue where we are.
    if (this.inSsrc !== null) this.restarts++;
    this.inSsrc = ssrc;
    this.lastInSeq = seq;
    if (this.lastOutSeq === null) return; // the first stream passes through unchanged
    const step = this.tsStep || Math.round(this.clockRate() / 50);
    const elapsed = Math.round(((now - this.lastOutAt) * this.clockRate()) / 1000);
    const gap = Math.max(1, Math.round(elapsed / step)) * step;
    this.seqOffset = (this.lastOutSeq + 1 - seq) & 0xffff;
    this.tsOffset = (this.lastOutTs + gap - ts) >>> 0;
  }
}

interface Latch extends UdpAddress {
  lastSeenAt: number;
}

/**
 * One leg's relay between its SIP phone and mediasoup. Open it, connect the leg's PlainTransport
 * to `innerAddress`, then `attach()` the transport's local tuple and `configure()` the negotiated
 * media.
 */
export class RtpShim extends EnhancedEventEmitter<RtpShimEvents> {
  /** The SSRC the leg's Producer is created with: every phone SSRC is rewritten to it. */
  readonly ssrc: number;
  private readonly ingress: StreamRewriter;
  private readonly egress: StreamRewriter;
  private media: ShimMedia | null = null;
  private mediasoup: UdpAddress | null = null;
  private latched: Latch | null = null;
  private readonly dtmf: DtmfReceiver;
  private egressEvent: { key: string; ts: number } | null = null;
  private closed = false;
  private readonly relatchAfterMs: number;
  private readonly counters: Omit<RtpShimStats, "streamRestarts" | "latched">;

  private constructor(
    readonly port: number,
    private readonly outer: Socket,
    private readonly rtcp: Socket,
    private readonly inner: Socket,
    private readonly options: RtpShimOptions,
  ) {
    super();
    this.relatchAfterMs = options.relatchAfterMs ?? 1000;
    this.ssrc = randomSsrc();
    let egressSsrc = randomSsrc();
    while (egressSsrc === this.ssrc) egressSsrc = randomSsrc();
    const clockRate = () => this.media?.clockRate ?? 8000;
    this.dtmf = new DtmfReceiver(clockRate, options.dtmfEndTimeoutMs ?? 800);
    this.dtmf.on("dtmf", (event) => this.safeEmit("dtmf", event));
    this.dtmf.on("telephoneevent", (packet) => this.safeEmit("telephoneevent", packet));
    this.ingress = new StreamRewriter(this.ssrc, clockRate);
    this.egress = new StreamRewriter(egressSsrc, clockRate);
    this.counters = {
      port,
      phoneToMediasoup: { received: 0, forwarded: 0, bytes: 0 },
      mediasoupToPhone: { received: 0, sent: 0, bytes: 0 },
      dtmf: { received: 0, sent: 0 },
      rtcpDropped: 0,
      dropped: { malformed: 0, foreignSource: 0, notReceiving: 0, payloadType: 0, notSending: 0, noDestination: 0 },
      lastReceivedAt: null,
    };
    // A UDP send error (e.g. EPERM from a firewall) must never crash the node: count and log.
    for (const socket of [outer, rtcp, inner])
      socket.on("error", (error) => this.options.logger?.warn(`RTP shim :${port}: ${error.message}`));
    outer.on("message", (packet, from) => this.fromPhone(packet, from));
    // RTCP from phones is not relayed: mediasoup ignores RTCP about SSRCs it does not know.
    rtcp.on("message", () => this.counters.rtcpDropped++);
    inner.on("message", (packet) => this.fromMediasoup(packet));
  }

  /** Binds the phone-facing RTP/RTCP pair from the pool and a loopback socket for mediasoup. */
  static async open(options: RtpShimOptions): Promise<RtpShim> {
    const { port, rtp, rtcp } = await options.pool.bindPair(options.listenIp);
    try {
      const inner = await bindSocket("127.0.0.1", 0);
      return new RtpShim(port, rtp, rtcp, inner, options);
    } catch (error) {
      rtp.close();
      rtcp.close();
      options.pool.release(port);
      throw error;
    }
  }

  /** Where the leg's PlainTransport must `connect()` to. */
  get innerAddress(): UdpAddress {
    const { address, port } = this.inner.address();
    return { address, port };
  }

  /** The SSRC the phone sees in our RTP (stable for the whole leg, whatever mediasoup does). */
  get egressSsrc(): number {
    return this.egress.ssrc;
  }

  /** The PlainTransport's local address: the only source accepted on the inner socket, and where phone RTP goes. */
  async attach(mediasoup: UdpAddress): Promise<void> {
    if (this.mediasoup) throw new Error("the RTP shim is already attached");
    // A connected socket drops datagrams from anyone else, in the kernel.
    await new Promise<void>((resolve) => this.inner.connect(mediasoup.port, mediasoup.address, resolve));
    this.mediasoup = mediasoup;
  }

  /** Applies a negotiation (or a re-INVITE: hold, resume, a new address). */
  configure(media: ShimMedia): void {
    const previous = this.media?.remote;
    if (previous?.address !== media.remote?.address || previous?.port !== media.remote?.port) {
      // The far end moved (e.g. a re-INVITE from another device): learn its source again.
      this.latched = null;
    }
    if (media.receivePayloadTypes.length === 0) throw new Error("no payload type to receive");
    this.media = {
      ...media,
      receivePayloadTypes: [...media.receivePayloadTypes],
      receiveTelephoneEventPts: [...media.receiveTelephoneEventPts],
    };
  }

  /** Sends one telephone-event packet of the other leg to this leg's phone, in this leg's stream. */
  injectTelephoneEvent(packet: TelephoneEventPacket): void {
    const media = this.media;
    if (this.closed || !media?.sending || media.telephoneEventPt === null) {
      this.counters.dropped.notSending++;
      return;
    }
    const destination = this.latched ?? media.remote;
    if (!destination) {
      this.counters.dropped.noDestination++;
      return;
    }
    const now = performance.now();
    const first = this.egressEvent?.key !== packet.key;
    // All packets of one event carry the event's start timestamp (RFC 4733 §2.5.1.2).
    if (first) this.egressEvent = { key: packet.key, ts: this.egress.timestampNow(now) };
    const out = Buffer.allocUnsafe(12 + packet.payload.length);
    out.writeUInt8(0x80, 0);
    out.writeUInt8((first ? 0x80 : 0) | media.telephoneEventPt, 1); // marker on the first packet of an event
    out.writeUInt16BE(this.egress.insert(), 2);
    out.writeUInt32BE(this.egressEvent?.ts ?? 0, 4);
    out.writeUInt32BE(this.egress.ssrc, 8);
    packet.payload.copy(out, 12);
    this.outer.send(out, destination.port, destination.address);
    this.counters.dtmf.sent++;
  }

  stats(): RtpShimStats {
    const c = this.counters;
    return {
      ...c,
      phoneToMediasoup: { ...c.phoneToMediasoup },
      mediasoupToPhone: { ...c.mediasoupToPhone },
      dtmf: { ...c.dtmf },
      dropped: { ...c.dropped },
      streamRestarts: this.ingress.restarts,
      latched: this.latched ? { address: this.latched.address, port: this.latched.port } : null,
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dtmf.close();
    for (const socket of [this.outer, this.rtcp, this.inner]) socket.close();
    this.options.pool.release(this.port);
    this.removeAllListeners();
  }

  private fromPhone(packet: Buffer, from: RemoteInfo): void {
    const c = this.counters;
    c.phoneToMediasoup.received++;
    c.phoneToMediasoup.bytes += packet.length;
    if (isRtcp(packet)) {
      c.rtcpDropped++; // rtcp-mux (RFC 5761 §4)
      return;
    }
    const header = headerLength(packet);
    if (header < 0) {
      c.dropped.malformed++;
      return;
    }
    const pt = packet.readUInt8(1) & 0x7f;
    const now = performance.now();
    if (!this.acceptSource(from, now)) {
      c.dropped.foreignSource++;
      return;
    }
    c.lastReceivedAt = Date.now();
    const media = this.media;
    if (!media?.receiving || !this.mediasoup) {
      c.dropped.notReceiving++;
      return;
    }
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const ts = packet.readUInt32BE(4);
    if (media.receiveTelephoneEventPts.includes(pt)) {
      this.ingress.remove(ssrc, seq, ts, now);
      this.fromPhoneTelephoneEvent(packet, header, ssrc, ts, now);
      return;
    }
    const producerPt = media.receivePayloadTypes[0] ?? pt;
    if (pt !== producerPt && !media.receivePayloadTypes.includes(pt)) {
      // CN, a codec we did not negotiate, garbage: out of the stream without leaving a gap.
      this.ingress.remove(ssrc, seq, ts, now);
      c.dropped.payloadType++;
      return;
    }
    const out = this.ingress.map(ssrc, seq, ts, now);
    packet.writeUInt16BE(out.seq, 2);
    packet.writeUInt32BE(out.ts, 4);
    packet.writeUInt32BE(this.ingress.ssrc, 8);
    if (pt !== producerPt) packet.writeUInt8((packet.readUInt8(1) & 0x80) | producerPt, 1);
    this.inner.send(packet);
    c.phoneToMediasoup.forwarded++;
  }

  private fromPhoneTelephoneEvent(packet: Buffer, header: number, ssrc: number, ts: number, now: number): void {
    const padding = packet.readUInt8(0) & 0x20 ? packet.readUInt8(packet.length - 1) : 0;
    const result = this.dtmf.receive(packet.subarray(header, Math.max(header, packet.length - padding)), ssrc, ts, now);
    if (result === "malformed") this.counters.dropped.malformed++;
    else if (result === "not-dtmf") this.counters.dropped.payloadType++;
    else this.counters.dtmf.received++;
  }

  private fromMediasoup(packet: Buffer): void {
    const c = this.counters;
    c.mediasoupToPhone.received++;
    // mediasoup's RTCP is not relayed: its SRs and RRs are about SSRCs the phone never saw.
    if (isRtcp(packet)) return;
    const header = headerLength(packet);
    if (header < 0) return;
    const media = this.media;
    if (!media?.sending) {
      c.dropped.notSending++;
      return;
    }
    const destination = this.latched ?? media.remote;
    if (!destination) {
      c.dropped.noDestination++;
      return;
    }
    let out = packet;
    const first = packet.readUInt8(0);
    if (first & 0x10) {
      // Strip the header extension (mediasoup always adds its MID one): move the fixed header and
      // CSRCs forward over it, without copying the payload.
      const fixed = 12 + 4 * (first & 0x0f);
      const extension = header - fixed;
      packet.copyWithin(extension, 0, fixed);
      out = packet.subarray(extension);
      out.writeUInt8(first & ~0x10, 0);
    }
    const now = performance.now();
    const mapped = this.egress.map(out.readUInt32BE(8), out.readUInt16BE(2), out.readUInt32BE(4), now);
    out.writeUInt8((out.readUInt8(1) & 0x80) | media.payloadType, 1);
    out.writeUInt16BE(mapped.seq, 2);
    out.writeUInt32BE(mapped.ts, 4);
    out.writeUInt32BE(this.egress.ssrc, 8);
    this.outer.send(out, destination.port, destination.address);
    c.mediasoupToPhone.sent++;
    c.mediasoupToPhone.bytes += out.length;
  }

  /**
   * Symmetric RTP (RFC 4961 practice): the first source is latched and we send there; another
   * source is taken only once the latched one has been silent for relatchAfterMs, so that a stray
   * or hostile sender cannot steal an active stream.
   */
  private acceptSource(from: RemoteInfo, now: number): boolean {
    const latched = this.latched;
    if (latched && latched.port === from.port && latched.address === from.address) {
      latched.lastSeenAt = now;
      return true;
    }
    if (latched && now - latched.lastSeenAt < this.relatchAfterMs) return false;
    this.latched = { address: from.address, port: from.port, lastSeenAt: now };
    this.safeEmit("latch", { address: from.address, port: from.port });
    return true;
  }
}

function randomSsrc(): number {
  return (Math.floor(Math.random() * 0xffff_fffe) + 1) >>> 0;
}
