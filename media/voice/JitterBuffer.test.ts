import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JitterBuffer } from "./JitterBuffer.ts";

const p = (n: number) => Buffer.from([n & 0xff]);
const names = (out: (Buffer | null)[]) => out.map((b) => (b ? b[0] : "lost"));

describe("JitterBuffer", () => {
  it("passes an in-order stream straight through, across the 16-bit wrap", () => {
    const buffer = new JitterBuffer();
    const out = [65534, 65535, 0, 1].flatMap((seq) => buffer.push(seq, p(seq)));
    assert.deepEqual(names(out), [254, 255, 0, 1]);
  });

  it("puts reordered packets back in order, drops duplicates and late ones", () => {
    const buffer = new JitterBuffer(3);
    const out = [10, 12, 11, 11, 13, 9].flatMap((seq) => buffer.push(seq, p(seq)));
    assert.deepEqual(names(out), [10, 11, 12, 13]);
    // The second 11 came after its turn: late, like 9.
    assert.deepEqual(buffer.stats(), { received: 6, lost: 0, late: 2, duplicates: 0 });
    const held = new JitterBuffer(3);
    const again = [20, 22, 22, 21].flatMap((seq) => held.push(seq, p(seq)));
    assert.deepEqual(names(again), [20, 21, 22]);
    assert.equal(held.stats().duplicates, 1, "a copy of a packet still waiting");
  });

  it("gives a missing packet up as lost once `depth` later ones wait", () => {
    const buffer = new JitterBuffer(2);
    assert.deepEqual(names(buffer.push(1, p(1))), [1]);
    assert.deepEqual(names(buffer.push(3, p(3))), []);
    assert.deepEqual(names(buffer.push(4, p(4))), []);
    assert.deepEqual(names(buffer.push(5, p(5))), ["lost", 3, 4, 5]);
    assert.equal(buffer.stats().lost, 1);
  });

  it("follows a far end that restarts its stream (a jump in sequence numbers)", () => {
    const buffer = new JitterBuffer();
    buffer.push(100, p(1));
    assert.deepEqual(names(buffer.push(40000, p(2))), [2]);
    assert.deepEqual(names(buffer.push(40001, p(3))), [3]);
  });
});
