import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { toneSamples } from "../rtc/tones.ts";
import { dtmfFrequencies } from "./InbandDtmfDetector.ts";
import { KeyCollector } from "./KeyCollector.ts";

const press = (leg: EventEmitter, digit: string) => {
  const event = { digit, event: 0, duration: 800, durationMs: 100, volume: 10 };
  leg.emit("dtmf", { ...event, end: false });
  leg.emit("dtmf", { ...event, end: true });
};

/** A key as tones in 20 ms frames, then 100 ms of silence. */
function tones(audio: EventEmitter, digit: string): void {
  const samples = toneSamples([
    { frequencies: dtmfFrequencies(digit) ?? [], ms: 100 },
    { frequencies: [], ms: 100 },
  ]);
  for (let at = 0; at < samples.length; at += 160) audio.emit("frame", samples.subarray(at, at + 160));
}

describe("KeyCollector", () => {
  it("collects keys up to # from the leg's events, counting those pressed before it was asked", async () => {
    const leg = new EventEmitter();
    const keys = new KeyCollector({ leg });
    press(leg, "4");
    press(leg, "2");
    const collected = keys.collect({ maxDigits: 8, timeoutMs: 1000 });
    press(leg, "#");
    assert.equal(await collected, "42");
    keys.close();
  });

  it("hears keys sent as tones, stops at maxDigits, and gives null when no key comes in time", async () => {
    const leg = new EventEmitter();
    const audio = new EventEmitter();
    const keys = new KeyCollector({ leg, audio });
    for (const digit of "123") tones(audio, digit);
    assert.equal(await keys.collect({ maxDigits: 3, timeoutMs: 500 }), "123");
    assert.equal(await keys.collect({ maxDigits: 3, timeoutMs: 100 }), null);
    keys.close();
  });

  it("ignores a leg's tones once it has sent RFC 4733 (phones that send both would double every key)", async () => {
    const leg = new EventEmitter();
    const audio = new EventEmitter();
    const keys = new KeyCollector({ leg, audio });
    press(leg, "7");
    tones(audio, "7");
    press(leg, "#");
    tones(audio, "#");
    assert.equal(await keys.collect({ maxDigits: 8, timeoutMs: 300 }), "7");
    assert.equal(keys.hasKeys, false);
    keys.close();
    assert.equal(await keys.collect({ maxDigits: 8, timeoutMs: 1000 }), null, "closed: nothing more");
  });
});
