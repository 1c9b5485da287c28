/** Sequence distance a → b with 16-bit wrap: positive when b is after a. */
function seqDelta(a: number, b: number): number {
  return ((b - a + 0x8000) & 0xffff) - 0x8000;
}

/** A jump this large is a new stream (the far end restarted), not loss. */
const RESYNC_JUMP = 500;

/**
 * Puts one RTP stream's payloads back in order for the node's ears. Holds up to `depth` packets
 * waiting for a missing one (20 ms each); a packet still missing then is lost (null, for the
 * listener to fill with silence). Duplicates and packets that arrive after their turn are dropped.
 */
export class JitterBuffer {
  private next: number | null = null;
  private readonly held = new Map<number, Buffer>();
  private counters = { received: 0, lost: 0, late: 0, duplicates: 0 };

  constructor(private readonly depth = 3) {}

  /** One packet in; the payloads now due, in order (null for each one lost). */
  push(seq: number, payload: Buffer): (Buffer | null)[] {
    this.counters.received++;
    if (this.next === null || Math.abs(seqDelta(this.next, seq)) > RESYNC_JUMP) {
      this.held.clear();
      this.next = seq;
    }
    const ahead = seqDelta(this.next, seq);
    if (ahead < 0) {
      this.counters.late++;
      return [];
    }
    if (this.held.has(seq)) {
      this.counters.duplicates++;
      return [];
    }
    this.held.set(seq, payload);
    return this.drain();
  }

  stats(): { received: number; lost: number; late: number; duplicates: number } {
    return { ...this.counters };
  }

  private drain(): (Buffer | null)[] {
    const out: (Buffer | null)[] = [];
    while (this.next !== null && this.held.size > 0) {
      const payload = this.held.get(this.next);
      if (payload) {
        this.held.delete(this.next);
        out.push(payload);
      } else if (this.held.size > this.depth) {
        // Waited long enough: this one is lost.
        out.push(null);
        this.counters.lost++;
      } else break;
      this.next = (this.next + 1) & 0xffff;
    }
    return out;
  }
}
