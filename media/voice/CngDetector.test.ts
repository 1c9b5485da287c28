import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeG711, encodeG711, type ToneSegment, toneSamples } from "../rtc/tones.ts";
import { CngDetector } from "./CngDetector.ts";
import { speak } from "./PromptSet.ts";

/** T.30 CNG: 1100 Hz for 0.5 s, 3 s of silence, `cycles` times, after `leadMs` of silence. */
function cng(cycles: number, leadMs = 0): Int16Array {
  const segments: ToneSegment[] = [{ frequencies: [], ms: leadMs }];
  for (let i = 0; i < cycles; i++) segments.push({ frequencies: [1100], ms: 500 }, { frequencies: [], ms: 3000 });
  return toneSamples(segments);
}

/** Pushes audio in 20 ms frames as a call delivers it; returns when CNG was heard (ms), or null. */
function listen(samples: Int16Array, through?: "PCMU" | "PCMA"): number | null {
  const detector = new CngDetector();
  let at: number | null = null;
  detector.on("cng", (ms) => {
    at = ms;
  });
  for (let offset = 0; offset + 160 <= samples.length; offset += 160) {
    const frame = samples.subarray(offset, offset + 160);
    detector.push(through ? decodeG711(encodeG711(frame, through), through) : frame);
  }
  return at;
}

describe("CngDetector", () => {
  it("hears a calling fax's first CNG burst at once, through G.711 too, within 4 s however the call starts", () => {
    const plain = listen(cng(2));
    assert.ok(plain !== null && plain >= 500 && plain <= 700, `heard at ${plain} ms`);
    for (const codec of ["PCMU", "PCMA"] as const) {
      const heard = listen(cng(2), codec);
      assert.ok(heard !== null && heard <= 700, `${codec}: heard at ${heard} ms`);
    }
    // Answered in the middle of a silence: the next burst comes within 3 s, heard by 4 s.
    const late = listen(cng(2, 2900));
    assert.ok(late !== null && late <= 4000, `heard at ${late} ms`);
  });

  it("stays quiet for speech, keys, a held 1100 Hz tone and silence", async () => {
    const rendered = await speak(
      "Hello, this is Bay Office. Please hold while we connect your call to the next available person.",
    );
    const speech = new Int16Array(rendered.buffer, rendered.byteOffset, rendered.length / 2);
    assert.equal(listen(speech, "PCMU"), null, "speech");
    const keys = toneSamples(
      "1100".split("").flatMap(() => [
        { frequencies: [697, 1209], ms: 120 },
        { frequencies: [], ms: 80 },
      ]),
    );
    assert.equal(listen(keys), null, "DTMF keys");
    assert.equal(listen(toneSamples([{ frequencies: [1100], ms: 3000 }])), null, "a 3 s tone is not CNG");
    assert.equal(
      listen(
        toneSamples([
          { frequencies: [1100], ms: 150 },
          { frequencies: [], ms: 500 },
        ]),
      ),
      null,
      "a blip",
    );
    assert.equal(listen(new Int16Array(8000 * 5)), null, "silence");
  });
});
