import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mp3Duration } from "../test-support/mp3.ts";
import { Mp3Encoder, RECORDING_RATE } from "./Mp3Encoder.ts";

/** `seconds` of stereo: 440 Hz on the left (caller), 880 Hz on the right (callee), in 20 ms frames. */
function* stereoFrames(seconds: number): Generator<Int16Array> {
  const frame = 160;
  for (let start = 0; start < seconds * RECORDING_RATE; start += frame) {
    const out = new Int16Array(frame * 2);
    for (let i = 0; i < frame; i++) {
      const t = (start + i) / RECORDING_RATE;
      out[i * 2] = Math.round(8000 * Math.sin(2 * Math.PI * 440 * t));
      out[i * 2 + 1] = Math.round(8000 * Math.sin(2 * Math.PI * 880 * t));
    }
    yield out;
  }
}

describe("Mp3Encoder (ffmpeg on pipes)", () => {
  it("turns 8 kHz stereo PCM into an MP3 that ffmpeg decodes to the same duration, and its partial output decodes too", async () => {
    const encoder = new Mp3Encoder();
    let partial: Buffer | null = null;
    let n = 0;
    for (const frame of stereoFrames(6)) {
      encoder.write(frame);
      // Paced a little, so ffmpeg's output arrives while input goes on (as in a call).
      if (++n % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 30));
      if (n === 200) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        partial = encoder.snapshot();
      }
    }
    const { mp3 } = await encoder.finish();
    assert.ok(partial && partial.length > 1000, `MP3 came out during the call: ${partial?.length} bytes`);
    assert.ok(mp3.length > partial.length);
    assert.equal(mp3.subarray(0, partial.length).compare(partial), 0, "the output only grows");
    const full = await mp3Duration(mp3);
    assert.ok(Math.abs(full.seconds - 6) < 0.2, `6 s of audio decodes to ${full.seconds} s`);
    assert.equal(full.channels, 2);
    // 32 kbit/s: 6 s is about 24 KB.
    assert.ok(mp3.length > 20_000 && mp3.length < 30_000, `${mp3.length} bytes`);
    const early = await mp3Duration(partial);
    assert.ok(early.seconds > 2 && early.seconds < 6, `a partial upload is playable: ${early.seconds} s`);
  });

  it("keeps up with a call fed in real time: the MP3 so far lags the audio by well under a second", async () => {
    const encoder = new Mp3Encoder();
    const frames = stereoFrames(2);
    const started = performance.now();
    for (let n = 1; ; n++) {
      const frame = frames.next();
      if (frame.done) break;
      encoder.write(frame.value);
      const due = started + n * 20 - performance.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    }
    // 32 kbit/s is 4,000 bytes a second: what came out covers all but the last few hundred ms.
    const seconds = encoder.size / 4000;
    await encoder.finish();
    assert.ok(seconds > 1.5, `after 2 s of audio, ${seconds.toFixed(2)} s of MP3 is out`);
  });

  it("reports its CPU time when asked (the bench)", async () => {
    const encoder = new Mp3Encoder({ measureCpu: true });
    for (const frame of stereoFrames(10)) encoder.write(frame);
    const { cpuMs } = await encoder.finish();
    assert.ok(cpuMs !== null && cpuMs >= 0 && cpuMs < 5000, `ffmpeg CPU ${cpuMs} ms`);
  });

  it("kill() stops it; what was encoded stays readable", async () => {
    const encoder = new Mp3Encoder();
    for (const frame of stereoFrames(1)) encoder.write(frame);
    encoder.kill();
    await assert.rejects(encoder.finish());
    encoder.write(new Int16Array(320)); // ignored, never EPIPE
  });
});
