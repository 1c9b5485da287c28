/** 20 ms at 8 kHz: what the recorder takes from each leg per tick. */
export const TICK_SAMPLES = 160;

/**
 * One leg's audio waiting for the recorder's 20 ms tick. Frames arrive as the leg's packets do (160
 * samples, or 240 from phones with 30 ms packets, in bursts after a network hiccup); the tick takes
 * exactly 160. A little is held back first (`prebuffer`) so that 30 ms packets and jitter never
 * leave a tick half-filled (a click): a leg with too little gives silence and builds up again.
 * More than `maxQueued` waiting means this leg's clock runs ahead of ours (or a burst came): the
 * oldest samples go, so the two legs stay lined up in time.
 */
export class FrameQueue {
  private readonly chunks: Int16Array[] = [];
  /** Samples already taken from chunks[0]. */
  private offset = 0;
  private queued = 0;
  private primed = false;
  private counters = { silentTicks: 0, droppedSamples: 0 };

  constructor(
    private readonly prebuffer = 3 * TICK_SAMPLES,
    private readonly maxQueued = 15 * TICK_SAMPLES,
  ) {}

  push(frame: Int16Array): void {
    if (frame.length === 0) return;
    this.chunks.push(frame);
    this.queued += frame.length;
    if (this.queued > this.maxQueued) this.drop(this.queued - this.prebuffer);
  }

  /** The next 20 ms: the leg's audio, or silence when it has not enough. */
  take(): Int16Array {
    const out = new Int16Array(TICK_SAMPLES);
    if (!this.primed && this.queued >= this.prebuffer) this.primed = true;
    if (!this.primed || this.queued < TICK_SAMPLES) {
      this.primed = false;
      this.counters.silentTicks++;
      return out;
    }
    let filled = 0;
    while (filled < TICK_SAMPLES) {
      const chunk = this.chunks[0] as Int16Array;
      const n = Math.min(TICK_SAMPLES - filled, chunk.length - this.offset);
      out.set(chunk.subarray(this.offset, this.offset + n), filled);
      filled += n;
      this.consume(n);
    }
    return out;
  }

  /** Samples waiting now. */
  get size(): number {
    return this.queued;
  }

  /** Ticks given silence, samples dropped to stay in time. */
  stats(): { silentTicks: number; droppedSamples: number } {
    return { ...this.counters };
  }

  private drop(samples: number): void {
    this.counters.droppedSamples += samples;
    let left = samples;
    while (left > 0) {
      const chunk = this.chunks[0] as Int16Array;
      const n = Math.min(left, chunk.length - this.offset);
      this.consume(n);
      left -= n;
    }
  }

  private consume(n: number): void {
    this.offset += n;
    this.queued -= n;
    if (this.offset === (this.chunks[0] as Int16Array).length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
