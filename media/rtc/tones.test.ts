import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CONFIRMATION_TONE, g711Frames, linearToAlaw, linearToUlaw, toneSamples, ulawToLinear } from "./tones.ts";

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
});
