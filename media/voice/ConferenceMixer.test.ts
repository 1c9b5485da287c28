import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConferenceMixer, FRAME } from "./ConferenceMixer.ts";

const constant = (value: number) => new Int16Array(FRAME).fill(value);

describe("ConferenceMixer", () => {
  it("gives each participant everyone but themself", () => {
    const mixer = new ConferenceMixer();
    const heard: Record<string, number[]> = { a: [], b: [], c: [] };
    for (const id of ["a", "b", "c"]) mixer.join(id, (mix) => heard[id]?.push(mix[0] ?? 0));
    mixer.hear("a", constant(100));
    mixer.hear("b", constant(20));
    mixer.hear("c", constant(3));
    mixer.tick();
    assert.deepEqual(heard, { a: [23], b: [103], c: [120] });
  });

  it("a participant with no frame this tick is silent; a leaver is gone; sums clip instead of wrapping", () => {
    const mixer = new ConferenceMixer();
    const heard: Record<string, number[]> = { a: [], b: [], c: [] };
    for (const id of ["a", "b", "c"]) mixer.join(id, (mix) => heard[id]?.push(mix[0] ?? 0));
    mixer.hear("a", constant(30000));
    mixer.hear("b", constant(30000));
    mixer.tick();
    assert.deepEqual(heard.c, [32767]);
    assert.deepEqual(heard.a, [30000]);
    mixer.leave("b");
    mixer.hear("b", constant(5));
    mixer.hear("a", constant(7));
    mixer.tick();
    assert.deepEqual(heard.c, [32767, 7]);
    assert.equal(heard.b?.length, 1, "b hears nothing after leaving");
    assert.equal(mixer.size, 2);
  });

  it("a cue reaches everyone across ticks; a participant running ahead keeps only the newest 60 ms", () => {
    const mixer = new ConferenceMixer();
    const heard: number[][] = [];
    mixer.join("a", (mix) => heard.push([mix[0] ?? 0, mix[FRAME - 1] ?? 0]));
    mixer.join("b", () => {});
    mixer.play(new Int16Array(FRAME + 10).fill(50));
    for (let v = 1; v <= 5; v++) mixer.hear("b", constant(v));
    mixer.tick();
    mixer.tick();
    mixer.tick();
    // b's frames 1 and 2 were dropped (too far ahead); the cue lasted one frame and ten samples.
    assert.deepEqual(heard, [
      [53, 53],
      [54, 4],
      [5, 5],
    ]);
  });
});
