import { EnhancedEventEmitter } from "../common/EnhancedEventEmitter.ts";

const RATE = 8000;
/** 20 ms blocks: CNG's 0.5 s burst spans 25 of them. */
const BLOCK = 160;
/** ITU-T T.30 CNG: 1100 Hz ± 38 Hz, 0.5 s on, 3 s off. */
const CNG_HZ = 1100;
/** Bins either side that must stay below the tone: a pure tone, not speech or music. */
const SIDE_HZ = [700, 1500];
/** Mean power the tone must reach (amplitude ≈ 300 of 32767, about -40 dBm0). */
const MIN_TONE_POWER = 45_000;
/** The tone's share of the block's power. */
const MIN_TONE_SHARE = 0.7;
/** The tone must stand this much above each side bin. */
const MIN_SIDE_RATIO = 20;
/** Blocks in a row for one burst: 400 ms of the 500 ms (an edge block may be split). */
const BURST_BLOCKS = 20;
/** A burst longer than this is not CNG (a held test tone, a modem's carrier). */
const MAX_BURST_BLOCKS = 35;

const coefficient = (frequency: number) => 2 * Math.cos((2 * Math.PI * frequency) / RATE);

export type CngDetectorEvents = {
  /** A calling fax machine's tone (T.30 CNG) was heard: `atMs` into the audio pushed so far. */
  cng: [atMs: number];
};

/**
 * Hears a calling fax machine (T.30 CNG: bursts of 1100 Hz, 0.5 s on, 3 s off) in a call's audio,
 * so a fax that arrives on a voice route can be switched to fax reception. Goertzel power at
 * 1100 Hz against the block's power and two side frequencies, per 20 ms block; one whole burst
 * (400–700 ms of tone, then its end) is enough: speech never holds one pure tone that long.
 */
export class CngDetector extends EnhancedEventEmitter<CngDetectorEvents> {
  private readonly block = new Float64Array(BLOCK);
  private filled = 0;
  private blocks = 0;
  private run = 0;
  private heard = false;

  /** 8 kHz linear samples, any number at a time. */
  push(samples: Int16Array): void {
    for (let i = 0; i < samples.length; i++) {
      this.block[this.filled++] = samples[i] ?? 0;
      if (this.filled === BLOCK) {
        this.filled = 0;
        this.blocks++;
        this.decide(this.isTone());
      }
    }
  }

  /** Whether CNG has been heard. */
  get detected(): boolean {
    return this.heard;
  }

  private decide(tone: boolean): void {
    if (tone) {
      this.run++;
      return;
    }
    // A burst ends: CNG when it lasted like one.
    if (!this.heard && this.run >= BURST_BLOCKS && this.run <= MAX_BURST_BLOCKS) {
      this.heard = true;
      this.safeEmit("cng", (this.blocks * BLOCK * 1000) / RATE);
    }
    this.run = 0;
  }

  private isTone(): boolean {
    let energy = 0;
    for (let n = 0; n < BLOCK; n++) energy += (this.block[n] ?? 0) ** 2;
    const power = goertzel(this.block, CNG_HZ);
    // Goertzel power of a sine of amplitude A over N samples is (A·N/2)²; mean power A²/2.
    const meanTonePower = (2 * power) / (BLOCK * BLOCK);
    if (meanTonePower < MIN_TONE_POWER || energy === 0) return false;
    if ((2 * power) / (BLOCK * energy) < MIN_TONE_SHARE) return false;
    return SIDE_HZ.every((hz) => power > MIN_SIDE_RATIO * goertzel(this.block, hz));
  }
}

function goertzel(block: Float64Array, frequency: number): number {
  const k = coefficient(frequency);
  let s1 = 0;
  let s2 = 0;
  for (let n = 0; n < block.length; n++) {
    const s0 = (block[n] ?? 0) + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - k * s1 * s2;
}
