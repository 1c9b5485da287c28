import type { G711 } from "./sdp.ts";

/**
 * Call-progress tones as G.711 payloads of 20 ms (160 samples at 8 kHz), made here rather than
 * shipped as files: a tone is a sum of sines, and G.711 encoding is a few lines (ITU-T G.711).
 */

const RATE = 8000;
const FRAME = 160;

export interface ToneSegment {
  /** Frequencies summed (Hz); empty for silence. */
  frequencies: number[];
  ms: number;
}

/** The confirmation tone after a feature code: three short high beeps. */
export const CONFIRMATION_TONE: ToneSegment[] = [
  { frequencies: [880], ms: 120 },
  { frequencies: [], ms: 80 },
  { frequencies: [880], ms: 120 },
  { frequencies: [], ms: 80 },
  { frequencies: [880], ms: 120 },
];

/** Linear samples of a tone at -10 dBFS per component. */
export function toneSamples(segments: ToneSegment[]): Int16Array {
  const total = segments.reduce((n, s) => n + Math.round((s.ms * RATE) / 1000), 0);
  const samples = new Int16Array(total);
  let offset = 0;
  for (const segment of segments) {
    const count = Math.round((segment.ms * RATE) / 1000);
    const amplitude = segment.frequencies.length ? (32767 * 0.316) / segment.frequencies.length : 0;
    for (let i = 0; i < count; i++) {
      let value = 0;
      for (const f of segment.frequencies) value += Math.sin((2 * Math.PI * f * i) / RATE);
      samples[offset + i] = Math.round(value * amplitude);
    }
    offset += count;
  }
  return samples;
}

/** One payload of G.711 from linear samples (a 20 ms frame: 160 samples). */
export function encodeG711(samples: Int16Array, codec: G711): Buffer {
  const encode = codec === "PCMU" ? linearToUlaw : linearToAlaw;
  const out = Buffer.allocUnsafe(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = encode(samples[i] ?? 0);
  return out;
}

/** A short two-note cue: rising when someone joins a conference, falling when someone leaves. */
export const JOIN_TONE: ToneSegment[] = [
  { frequencies: [660], ms: 100 },
  { frequencies: [880], ms: 120 },
];
export const LEAVE_TONE: ToneSegment[] = [
  { frequencies: [880], ms: 100 },
  { frequencies: [660], ms: 120 },
];

/** 20 ms G.711 frames of the samples (the last one padded with silence). */
export function g711Frames(samples: Int16Array, codec: G711): Buffer[] {
  const encode = codec === "PCMU" ? linearToUlaw : linearToAlaw;
  const frames: Buffer[] = [];
  for (let start = 0; start < samples.length; start += FRAME) {
    const frame = Buffer.alloc(FRAME, encode(0));
    for (let i = 0; i < FRAME && start + i < samples.length; i++) frame[i] = encode(samples[start + i] ?? 0);
    frames.push(frame);
  }
  return frames;
}

export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const sign = sample < 0 ? 0x80 : 0;
  let magnitude = Math.min(Math.abs(sample), 32635) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  magnitude = ~(sign | (exponent << 4) | mantissa);
  return magnitude & 0xff;
}

export function linearToAlaw(sample: number): number {
  const sign = sample >= 0 ? 0x80 : 0;
  const magnitude = Math.min(sample >= 0 ? sample : -sample - 1, 32767) >> 3;
  let value: number;
  if (magnitude < 32) value = magnitude >> 1;
  else {
    // Segment n ≥ 1 holds magnitudes 32·2^(n-1) … 32·2^n - 1 (ITU-T G.711 Table 1).
    let exponent = 1;
    while (magnitude >> (exponent + 5) > 0 && exponent < 7) exponent++;
    value = (exponent << 4) | ((magnitude >> exponent) & 0x0f);
  }
  return (value | sign) ^ 0x55;
}

export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign ? -magnitude : magnitude;
}

export function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

/** Linear samples of one G.711 payload. */
export function decodeG711(payload: Buffer, codec: G711): Int16Array {
  const decode = codec === "PCMU" ? ulawToLinear : alawToLinear;
  const samples = new Int16Array(payload.length);
  for (let i = 0; i < payload.length; i++) samples[i] = decode(payload[i] ?? 0);
  return samples;
}

/** Ringback while the node rings someone for a caller it already answered: 425 Hz, 1 s on, 4 s off (ITU-T E.180). */
export const RINGBACK_CADENCE: ToneSegment[] = [
  { frequencies: [425], ms: 1000 },
  { frequencies: [], ms: 4000 },
];
