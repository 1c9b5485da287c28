import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { sleep } from "../../test-support/wait.ts";
import { ConferenceRoom, type ConferenceSeat } from "./ConferenceRoom.ts";

/** A seat whose ears close like a LegListener's (a `close` event) and whose mouth counts frames. */
function seat(id: string): ConferenceSeat & { sent: () => number; hangUpMedia: () => void } {
  const listener = Object.assign(new EventEmitter(), { close: () => listener.emit("close") });
  let sent = 0;
  return {
    id,
    caller: id,
    listener,
    speaker: { codec: "PCMU", send: () => sent++, close: () => {} },
    sent: () => sent,
    hangUpMedia: () => listener.emit("close"),
  };
}

describe("ConferenceRoom", () => {
  it("a seat whose media closes leaves the room; the last one's closes the room and its ticking", async () => {
    const room = new ConferenceRoom("Team", 10);
    const seen: number[] = [];
    room.on("changed", (participants) => seen.push(participants.length));
    let empty = false;
    room.once("empty", () => {
      empty = true;
    });
    const [a, b] = [seat("100"), seat("101")];
    assert.ok(room.join(a));
    assert.ok(room.join(b));
    await sleep(100);
    assert.ok(a.sent() > 0 && b.sent() > 0, "the room speaks to both");
    a.hangUpMedia();
    assert.deepEqual(
      room.participants.map((p) => p.caller),
      ["101"],
    );
    b.hangUpMedia();
    assert.deepEqual(seen, [1, 2, 1, 0]);
    assert.ok(empty, "the room is gone");
    const sent = b.sent();
    await sleep(100);
    assert.equal(b.sent(), sent, "and no longer ticks");
  });
});
