import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  alawToLinear,
  CONFIRMATION_TONE,
  decodeG711,
  g711Frames,
  linearToAlaw,
  linearToUlaw,
  toneSamples,
  ulawToLinear,
} from "./tones.ts";

describe("tones", () => {
  it("encodes G.711 µ-law and A-law at the reference points", () => {
    assert.equal(linearToUlaw(0), 0xff);
    assert.equal(linearToUlaw(-1), 0x7f);
    assert.equal(linearToUlaw(32767), 0x80);
    assert.equal(linearToAlaw(0), 0xd5);
    assert.equal(linearToAlaw(32767), 0xaa);
    for (const sample of [-30000, -1000, -8, 0, 8, 1000, 30000]) {
      const back = ulawToLinear(linearToUlaw(sample));
      assert.ok(Math.abs(back - sample) <= Math.max(8, Math.abs(sample) / 16), `${sample} → ${back}`);
    }
  });

  it("makes the confirmation tone as 20 ms frames with beeps and gaps", () => {
    const samples = toneSamples(CONFIRMATION_TONE);
    assert.equal(samples.length, 520 * 8);
    const frames = g711Frames(samples, "PCMU");
    assert.equal(frames.length, 26);
    assert.ok(frames.every((f) => f.length === 160));
    const energy = (frame: Buffer) => frame.reduce((sum, b) => sum + Math.abs(ulawToLinear(b)), 0) / frame.length;
    assert.ok(energy(frames[2] as Buffer) > 5000, "a beep is loud");
    assert.ok(energy(frames[7] as Buffer) < 10, "a gap is silent");
  });

  it("decodes A-law as ITU-T G.711 does, and G.711 payloads both ways round", () => {
    // G.711 Table 1/2 decision values: 0xd5 is +8, 0x55 is -8, 0xaa is +32256.
    assert.equal(alawToLinear(0xd5), 8);
    assert.equal(alawToLinear(0x55), -8);
    assert.equal(alawToLinear(0xaa), 32256);
    for (const sample of [-30000, -1000, -40, 0, 40, 1000, 30000]) {
      const back = alawToLinear(linearToAlaw(sample));
      assert.ok(Math.abs(back - sample) <= Math.max(16, Math.abs(sample) / 16), `${sample} → ${back}`);
    }
    const tone = toneSamples([{ frequencies: [1000], ms: 20 }]);
    for (const codec of ["PCMU", "PCMA"] as const) {
      const decoded = decodeG711(g711Frames(tone, codec)[0] as Buffer, codec);
      const error = decoded.reduce((worst, v, i) => Math.max(worst, Math.abs(v - (tone[i] ?? 0))), 0);
      assert.ok(error < 700, `${codec} round trip error ${error}`);
    }
  });
});
