import { EnhancedEventEmitter } from "../common/EnhancedEventEmitter.ts";
import type { DtmfEvent } from "../rtc/RtpShim.ts";

const RATE = 8000;
/** Goertzel block: 205 samples at 8 kHz (25.6 ms), the classic size that separates all eight tones. */
const BLOCK = 205;
const ROWS = [697, 770, 852, 941];
const COLUMNS = [1209, 1336, 1477, 1633];
const KEYS = ["123A", "456B", "789C", "*0#D"];
/** Each tone's mean power must reach this (amplitude ≈ 400 of 32767, about -38 dBm0). */
const MIN_TONE_POWER = 80_000;
/** The two tones must carry this share of the block's power (speech and music spread theirs). */
const MIN_TONE_SHARE = 0.6;
/** Q.24: the column (high) tone may be up to 8 dB above the row tone, the row up to 4 dB above. */
const MAX_NORMAL_TWIST = 10 ** (8 / 10);
const MAX_REVERSE_TWIST = 10 ** (4 / 10);
/** Each tone must stand 8 dB above the others of its group. */
const MIN_GROUP_PEAK = 10 ** (8 / 10);

/** The two frequencies (row, column) of each key (ITU-T Q.23). */
export function dtmfFrequencies(key: string): [number, number] | null {
  const row = KEYS.findIndex((r) => r.includes(key.toUpperCase()));
  const column = KEYS[row]?.indexOf(key.toUpperCase()) ?? -1;
  return row >= 0 && column >= 0 ? [ROWS[row] as number, COLUMNS[column] as number] : null;
}

const coefficient = (frequency: number) => 2 * Math.cos((2 * Math.PI * frequency) / RATE);
const ROW_COEFFICIENTS = ROWS.map(coefficient);
const COLUMN_COEFFICIENTS = COLUMNS.map(coefficient);

export type InbandDtmfEvents = { dtmf: [DtmfEvent] };

/**
 * Keys sent as tones in the audio (ITU-T Q.23), for phones that do no RFC 4733: Goertzel power
 * of the eight DTMF frequencies per 25.6 ms block, a key when one row and one column tone stand
 * out (level, twist, share of the block's power), held for two blocks; it ends after two blocks
 * without it. Emits the same `dtmf` events as RFC 4733 reception.
 */
export class InbandDtmfDetector extends EnhancedEventEmitter<InbandDtmfEvents> {
  private readonly block = new Float64Array(BLOCK);
  private filled = 0;
  /** The key seen in the last block(s), how many blocks in a row, and the key being held. */
  private candidate: string | null = null;
  private streak = 0;
  private held: { key: string; blocks: number } | null = null;
  private misses = 0;

  /** 8 kHz linear samples, any number at a time. */
  push(samples: Int16Array): void {
    for (let i = 0; i < samples.length; i++) {
      this.block[this.filled++] = samples[i] ?? 0;
      if (this.filled === BLOCK) {
        this.filled = 0;
        this.decide(this.analyse());
      }
    }
  }

  /** The key a block holds, or null. */
  private analyse(): string | null {
    const block = this.block;
    let energy = 0;
    for (let i = 0; i < BLOCK; i++) energy += (block[i] ?? 0) * (block[i] ?? 0);
    const meanPower = energy / BLOCK;
    if (meanPower < 2 * MIN_TONE_POWER) return null;
    const rows = ROW_COEFFICIENTS.map((c) => tonePower(block, c));
    const columns = COLUMN_COEFFICIENTS.map((c) => tonePower(block, c));
    const row = strongest(rows);
    const column = strongest(columns);
    const rowPower = rows[row] ?? 0;
    const columnPower = columns[column] ?? 0;
    if (rowPower < MIN_TONE_POWER || columnPower < MIN_TONE_POWER) return null;
    if (columnPower > rowPower * MAX_NORMAL_TWIST || rowPower > columnPower * MAX_REVERSE_TWIST) return null;
    if (rows.some((p, i) => i !== row && p * MIN_GROUP_PEAK > rowPower)) return null;
    if (columns.some((p, i) => i !== column && p * MIN_GROUP_PEAK > columnPower)) return null;
    if (rowPower + columnPower < MIN_TONE_SHARE * meanPower) return null;
    return KEYS[row]?.[column] ?? null;
  }

  private decide(key: string | null): void {
    this.streak = key !== null && key === this.candidate ? this.streak + 1 : key === null ? 0 : 1;
    this.candidate = key;
    if (this.held) {
      if (key === this.held.key) {
        this.held.blocks++;
        this.misses = 0;
        return;
      }
      // A block or two of something else inside a key is noise; two in a row end it.
      if (++this.misses < 2 && key === null) return;
      this.announce(this.held.key, true, this.held.blocks);
      this.held = null;
      this.misses = 0;
    }
    if (key !== null && this.streak >= 2) {
      this.held = { key, blocks: this.streak };
      this.announce(key, false, this.streak);
    }
  }

  private announce(key: string, end: boolean, blocks: number): void {
    const duration = blocks * BLOCK;
    this.safeEmit("dtmf", {
      digit: key,
      event: "0123456789*#ABCD".indexOf(key),
      end,
      duration,
      durationMs: Math.round((duration * 1000) / RATE),
      volume: 0,
    });
  }
}

/** Mean power of one frequency in the block (Goertzel): about A²/2 for a sine of amplitude A. */
function tonePower(block: Float64Array, coefficient: number): number {
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < BLOCK; i++) {
    const s0 = (block[i] ?? 0) + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const magnitude2 = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
  return (2 * magnitude2) / (BLOCK * BLOCK);
}

function strongest(powers: number[]): number {
  let best = 0;
  for (let i = 1; i < powers.length; i++) if ((powers[i] ?? 0) > (powers[best] ?? 0)) best = i;
  return best;
}
