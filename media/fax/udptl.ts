/**
 * UDPTL (ITU-T T.38 clause 9.1), the UDP transport of T.38 that carriers use: each datagram is
 *
 *   UDPTLPacket ::= SEQUENCE {
 *     seq-number          INTEGER (0..65535),                    -- 2 octets
 *     primary-ifp-packet  open type (the IFP)                    -- length determinant + octets
 *     error-recovery      CHOICE {                               -- 1 bit, padded to an octet
 *       secondary-ifp-packets  SEQUENCE OF open type (IFPs),     -- count determinant, then each
 *       fec-info               SEQUENCE { fec-npackets, fec-data } } }
 *
 * in ASN.1 PER (aligned). Redundancy repeats the previous IFPs, newest first (seq-1, seq-2, …), so
 * one datagram lost out of a few is rebuilt from the next. FEC is decoded as far as the primary
 * (we answer with t38UDPRedundancy, so a peer that honours the answer never sends it).
 * Nothing here throws on what comes off the wire: a datagram that does not parse is null.
 */

/** IFPs longer than this are not T.38 (a V.17 ECM frame at 40 ms per packet is ~100 octets). */
const MAX_IFP = 1024;
/** Secondary IFPs we accept in one datagram (senders use 1–5). */
const MAX_SECONDARY = 16;

export interface UdptlPacket {
  seq: number;
  ifp: Buffer;
  /** The previous IFPs, newest first: secondary[0] is seq-1. Empty with FEC or no redundancy. */
  secondary: Buffer[];
}

/** PER length determinant (X.691 10.9, no fragments: lengths < 16384). */
function lengthBytes(length: number): number[] {
  if (length < 0x80) return [length];
  if (length < 0x4000) return [0x80 | (length >> 8), length & 0xff];
  throw new RangeError(`UDPTL: ${length} is too long for one fragment`);
}

/** One UDPTL datagram. */
export function encodeUdptl(packet: UdptlPacket): Buffer {
  if (!Number.isInteger(packet.seq) || packet.seq < 0 || packet.seq > 0xffff)
    throw new RangeError(`UDPTL: sequence number ${packet.seq}`);
  const parts: Buffer[] = [Buffer.from([packet.seq >> 8, packet.seq & 0xff])];
  const openType = (ifp: Buffer) => {
    parts.push(Buffer.from(lengthBytes(ifp.length)), ifp);
  };
  openType(packet.ifp);
  // error-recovery: the CHOICE's bit 0 (secondary-ifp-packets), then the count.
  parts.push(Buffer.from([0x00, ...lengthBytes(packet.secondary.length)]));
  for (const ifp of packet.secondary) openType(ifp);
  return Buffer.concat(parts);
}

/** A reader that says null rather than reading past the end. */
class Reader {
  offset = 0;
  constructor(private readonly data: Buffer) {}

  byte(): number | null {
    if (this.offset >= this.data.length) return null;
    return this.data[this.offset++] ?? null;
  }

  length(): number | null {
    const first = this.byte();
    if (first === null) return null;
    if ((first & 0x80) === 0) return first;
    if ((first & 0xc0) === 0x80) {
      const second = this.byte();
      return second === null ? null : ((first & 0x3f) << 8) | second;
    }
    return null; // fragmented: never used for T.38's short packets
  }

  bytes(count: number): Buffer | null {
    if (count < 0 || this.offset + count > this.data.length) return null;
    const out = this.data.subarray(this.offset, this.offset + count);
    this.offset += count;
    return out;
  }

  openType(): Buffer | null {
    const length = this.length();
    if (length === null || length > MAX_IFP) return null;
    return this.bytes(length);
  }

  get left(): number {
    return this.data.length - this.offset;
  }
}

/** A UDPTL datagram, or null when it is not one (truncated, lengths that do not add up, garbage). */
export function decodeUdptl(data: Buffer): UdptlPacket | null {
  if (data.length < 4) return null;
  const reader = new Reader(data);
  const seq = ((reader.byte() ?? 0) << 8) | (reader.byte() ?? 0);
  const ifp = reader.openType();
  if (!ifp || ifp.length === 0) return null;
  const choice = reader.byte();
  if (choice === null) return null;
  const secondary: Buffer[] = [];
  if ((choice & 0x80) === 0) {
    const count = reader.length();
    if (count === null || count > MAX_SECONDARY) return null;
    for (let i = 0; i < count; i++) {
      const entry = reader.openType();
      if (!entry) return null;
      secondary.push(entry);
    }
    if (reader.left !== 0) return null;
  }
  // FEC: the primary is all we take; its parity data is left unread.
  return { seq, ifp: Buffer.from(ifp), secondary: secondary.map((b) => Buffer.from(b)) };
}

/**
 * Our side of a UDPTL stream: numbers the IFPs and sends each with up to `redundancy` previous
 * ones, fewer when the far end's T38FaxMaxDatagram would be exceeded.
 */
export class UdptlSender {
  private seq = 0;
  private readonly history: Buffer[] = [];

  constructor(
    private readonly redundancy = 3,
    private readonly maxDatagram = 400,
  ) {}

  /** The datagram carrying `ifp` (and its predecessors). */
  next(ifp: Buffer): Buffer {
    let secondary = this.history.slice(0, this.redundancy);
    let datagram = encodeUdptl({ seq: this.seq, ifp, secondary });
    while (datagram.length > this.maxDatagram && secondary.length > 0) {
      secondary = secondary.slice(0, -1);
      datagram = encodeUdptl({ seq: this.seq, ifp, secondary });
    }
    this.seq = (this.seq + 1) & 0xffff;
    this.history.unshift(ifp);
    this.history.length = Math.min(this.history.length, this.redundancy);
    return datagram;
  }
}

/** An IFP ready for T.38, with its sequence number. */
export interface ReceivedIfp {
  seq: number;
  ifp: Buffer;
}

/**
 * The far end's UDPTL stream, in order: a datagram after a gap first yields the lost IFPs its
 * redundancy still carries (oldest first), then its own; repeats and stale datagrams yield nothing.
 * A gap deeper than the redundancy stays a gap (T.38 sees the jump in sequence numbers).
 */
export class UdptlReceiver {
  private expected: number | null = null;
  /** Datagrams that did not parse. */
  garbage = 0;
  /** IFPs rebuilt from redundancy. */
  recovered = 0;

  push(data: Buffer): ReceivedIfp[] {
    const packet = decodeUdptl(data);
    if (!packet) {
      this.garbage++;
      return [];
    }
    const out: ReceivedIfp[] = [];
    if (this.expected !== null) {
      const ahead = (packet.seq - this.expected) & 0xffff;
      // Behind us (a repeat, or reordered and already rebuilt): nothing new.
      if (ahead >= 0x8000) return [];
      for (let back = Math.min(ahead, packet.secondary.length); back >= 1; back--) {
        const ifp = packet.secondary[back - 1];
        if (!ifp || ifp.length === 0) continue;
        out.push({ seq: (packet.seq - back) & 0xffff, ifp });
        this.recovered++;
      }
    }
    out.push({ seq: packet.seq, ifp: packet.ifp });
    this.expected = (packet.seq + 1) & 0xffff;
    return out;
  }
}
