import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FrameQueue, TICK_SAMPLES } from "./FrameQueue.ts";

/** A frame whose samples count on from `first`, so order and gaps show. */
function ramp(first: number, length: number): Int16Array {
  return Int16Array.from({ length }, (_, i) => first + i);
}

describe("FrameQueue (one leg's audio, taken 20 ms per tick)", () => {
  it("gives silence until it holds the prebuffer, then the audio in order, 160 samples a tick", () => {
    const queue = new FrameQueue();
    queue.push(ramp(1, 160));
    assert.ok(
      queue.take().every((s) => s === 0),
      "not enough yet: silence",
    );
    queue.push(ramp(161, 160));
    queue.push(ramp(321, 160));
    const first = queue.take();
    assert.equal(first.length, TICK_SAMPLES);
    assert.equal(first[0], 1);
    assert.equal(first[159], 160);
    assert.equal(queue.take()[0], 161);
  });

  it("cuts 30 ms packets (240 samples) into 20 ms ticks without gaps once primed", () => {
    const queue = new FrameQueue();
    let next = 1;
    let expected = 1;
    // 30 ms packets arrive every 30 ms; ticks every 20 ms: 3 packets per 2 ticks… 2 packets per 3 ticks.
    for (let ms = 0; ms < 3000; ms += 10) {
      if (ms % 30 === 0) {
        queue.push(ramp(next, 240));
        next += 240;
      }
      if (ms % 20 === 0 && ms >= 60) {
        const tick = queue.take();
        assert.equal(tick[0], expected, `at ${ms} ms`);
        assert.equal(tick[159], expected + 159);
        expected += 160;
      }
    }
    assert.equal(queue.stats().silentTicks, 0);
  });

  it("a leg that falls silent gives silence, then builds up again; a leg far ahead drops its oldest audio", () => {
    const queue = new FrameQueue();
    for (let i = 0; i < 3; i++) queue.push(ramp(1 + i * 160, 160));
    for (let i = 0; i < 3; i++) queue.take();
    assert.ok(
      queue.take().every((s) => s === 0),
      "underrun: silence",
    );
    queue.push(ramp(1000, 160));
    assert.ok(
      queue.take().every((s) => s === 0),
      "re-priming",
    );
    // A burst of 20 frames (400 ms): the oldest go, 60 ms is kept.
    for (let i = 0; i < 20; i++) queue.push(ramp(5000 + i * 160, 160));
    assert.ok(queue.size <= 15 * TICK_SAMPLES, `${queue.size} waiting`);
    assert.ok(queue.stats().droppedSamples > 0);
    const tick = queue.take();
    assert.ok((tick[0] ?? 0) > 5000, "the newest audio is what is kept");
  });
});
