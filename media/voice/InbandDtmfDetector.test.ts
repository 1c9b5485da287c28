import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { DtmfEvent } from "../rtc/RtpShim.ts";
import { decodeG711, g711Frames } from "../rtc/tones.ts";
import { InbandDtmfDetector } from "./InbandDtmfDetector.ts";
import { cachedSpeech } from "./PromptSet.ts";

const RATE = 8000;
const ROWS = [697, 770, 852, 941];
const COLUMNS = [1209, 1336, 1477, 1633];
const KEYS = ["123A", "456B", "789C", "*0#D"];

/** A key as a phone sends it in the audio: row + column sine for `ms`, each at `amplitude`. */
function keyTone(key: string, ms: number, amplitude = 5000, rowGainDb = 0): Int16Array {
  const row = KEYS.findIndex((r) => r.includes(key));
  const column = KEYS[row]?.indexOf(key) ?? -1;
  const n = (ms * RATE) / 1000;
  const out = new Int16Array(n);
  const rowAmplitude = amplitude * 10 ** (rowGainDb / 20);
  for (let i = 0; i < n; i++)
    out[i] = Math.round(
      rowAmplitude * Math.sin((2 * Math.PI * (ROWS[row] ?? 0) * i) / RATE) +
        amplitude * Math.sin((2 * Math.PI * (COLUMNS[column] ?? 0) * i) / RATE),
    );
  return out;
}

const silence = (ms: number) => new Int16Array((ms * RATE) / 1000);

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Keys detected in the audio, fed in 20 ms frames as they arrive from a call. */
function detect(audio: Int16Array): DtmfEvent[] {
  const detector = new InbandDtmfDetector();
  const events: DtmfEvent[] = [];
  detector.on("dtmf", (event) => events.push(event));
  for (let at = 0; at < audio.length; at += 160) detector.push(audio.subarray(at, at + 160));
  return events;
}

const keysOf = (events: DtmfEvent[]) =>
  events
    .filter((e) => !e.end)
    .map((e) => e.digit)
    .join("");

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgepbx-dtmf-"));
});
after(() => rm(dir, { recursive: true, force: true }));

describe("InbandDtmfDetector", () => {
  it("finds all sixteen keys, 70 ms tones with 50 ms gaps, each once with its end", () => {
    const sequence = "123A456B789C*0#D";
    const events = detect(concat([...[...sequence].flatMap((key) => [keyTone(key, 70), silence(50)]), silence(100)]));
    assert.equal(keysOf(events), sequence);
    assert.equal(events.filter((e) => e.end).length, sequence.length);
    for (const end of events.filter((e) => e.end))
      assert.ok(end.durationMs >= 40 && end.durationMs <= 110, `${end.durationMs} ms`);
  });

  it("hears keys through G.711 both ways, and a long press once", () => {
    for (const codec of ["PCMU", "PCMA"] as const) {
      const audio = concat([keyTone("5", 400, 3000), silence(60), keyTone("#", 80, 3000)]);
      const frames = g711Frames(audio, codec).map((frame) => decodeG711(frame, codec));
      assert.equal(keysOf(detect(concat(frames))), "5#", codec);
    }
  });

  it("ignores too short or too quiet tones, too much twist, one tone alone, noise and speech", async () => {
    assert.equal(keysOf(detect(keyTone("7", 20))), "", "20 ms is a click, not a key");
    assert.equal(keysOf(detect(keyTone("7", 200, 150))), "", "too quiet");
    assert.equal(keysOf(detect(keyTone("7", 200, 4000, 6))), "", "row 6 dB over the column (reverse twist)");
    assert.equal(keysOf(detect(keyTone("7", 200, 4000, -3))), "7", "3 dB of normal twist is fine");
    const single = new Int16Array(1600).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 1209 * i) / RATE)));
    assert.equal(keysOf(detect(single)), "", "one tone alone");
    let seed = 7;
    const noise = new Int16Array(8000).map(() => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed % 16000) - 8000;
    });
    assert.equal(keysOf(detect(noise)), "", "white noise");
    // Talk-off: the node's own prompts must not read as keys.
    const speech = await cachedSpeech(
      dir,
      "Thank you for calling. All of our operators are busy. Press one for sales, two for support, or stay on the line.",
    );
    assert.ok(speech.length > RATE * 3, "espeak-ng spoke");
    assert.equal(keysOf(detect(speech)), "", "speech");
  });
});
