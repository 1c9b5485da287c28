import { EventEmitter } from "node:events";
import type { ConferenceParticipant } from "../../../shared/index.ts";
import { encodeG711, JOIN_TONE, LEAVE_TONE, toneSamples } from "../../rtc/tones.ts";
import { ConferenceMixer } from "../../voice/ConferenceMixer.ts";

const TICK_MS = 20;

/** One participant's ears and mouth as the room sees them (the node hears them, speaks to them). */
export interface ConferenceSeat {
  id: string;
  /** The caller's number, for the portal's view of the room. */
  caller: string;
  /** Emits `frame`: 20 ms of what the participant says. */
  listener: EventEmitter & { close(): void };
  speaker: { codec: "PCMU" | "PCMA"; send(payload: Buffer): void; close(): void };
}

interface ConferenceRoomEvents {
  /** Someone joined or left: who is in the room now. */
  changed: [participants: ConferenceParticipant[]];
  /** The last participant left: the room is gone. */
  empty: [];
}

/**
 * A conference in progress ("Conference (Basic)"): its participants, each a call of its own, and
 * the mixer that gives each of them everyone else every 20 ms. A participant leaving never stops
 * the room; joins and leaves are heard as short tones.
 */
export class ConferenceRoom extends EventEmitter<ConferenceRoomEvents> {
  private readonly mixer = new ConferenceMixer();
  private readonly seats = new Map<string, ConferenceSeat>();
  private readonly joinedAt = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private ticks = 0;
  private static readonly joinTone = toneSamples(JOIN_TONE);
  private static readonly leaveTone = toneSamples(LEAVE_TONE);

  constructor(
    readonly name: string,
    readonly maxParticipants: number,
  ) {
    super();
  }

  get participants(): ConferenceParticipant[] {
    return [...this.seats.values()].map((seat) => ({
      caller: seat.caller,
      joinedAt: this.joinedAt.get(seat.id) ?? "",
    }));
  }

  get isFull(): boolean {
    return this.seats.size >= this.maxParticipants;
  }

  /** Seats a participant; false when the room is full. */
  join(seat: ConferenceSeat): boolean {
    if (this.isFull) return false;
    this.seats.set(seat.id, seat);
    this.joinedAt.set(seat.id, new Date().toISOString());
    seat.listener.on("frame", (frame: Int16Array) => this.mixer.hear(seat.id, frame));
    // Its media gone (the router closed with the node): the seat is empty, or the room would tick on.
    seat.listener.once("close", () => this.leave(seat.id));
    this.mixer.join(seat.id, (mix) => seat.speaker.send(encodeG711(mix, seat.speaker.codec)));
    this.mixer.play(ConferenceRoom.joinTone);
    if (!this.timer) {
      this.started = performance.now();
      this.ticks = 0;
      this.schedule();
    }
    this.emit("changed", this.participants);
    return true;
  }

  leave(id: string): void {
    const seat = this.seats.get(id);
    if (!seat) return;
    this.seats.delete(id);
    this.joinedAt.delete(id);
    this.mixer.leave(id);
    seat.listener.close();
    seat.speaker.close();
    this.emit("changed", this.participants);
    if (this.seats.size > 0) {
      this.mixer.play(ConferenceRoom.leaveTone);
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.emit("empty");
  }

  /** Ticks paced against the start, so timer drift does not add up (late ticks catch up). */
  private schedule(): void {
    const due = this.started + (this.ticks + 1) * TICK_MS - performance.now();
    this.timer = setTimeout(
      () => {
        if (this.seats.size === 0) return;
        this.ticks++;
        this.mixer.tick();
        this.schedule();
      },
      Math.max(0, due),
    );
  }
}
