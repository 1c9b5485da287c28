/**
 * Measuring what a test phone heard, 8 kHz linear samples: the mean power of one frequency
 * (Goertzel over all the samples: a sine of amplitude A gives A²/2) and of everything.
 */
export function goertzel(samples: Int16Array, frequency: number, rate = 8000): number {
  const c = 2 * Math.cos((2 * Math.PI * frequency) / rate);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const n = Math.max(1, samples.length);
  return (2 * (s1 * s1 + s2 * s2 - c * s1 * s2)) / (n * n);
}

/** Mean power of the samples (a sine of amplitude A: A²/2). */
export function meanPower(samples: Int16Array): number {
  let sum = 0;
  for (const x of samples) sum += x * x;
  return sum / Math.max(1, samples.length);
}

/** A power ratio in decibels (a zero denominator counts as a tiny power, not infinity). */
export function decibels(power: number, reference: number): number {
  return 10 * Math.log10(Math.max(power, 1e-9) / Math.max(reference, 1e-9));
}
