/** 20 ms at 8 kHz. */
export const FRAME = 160;
/** Frames a participant may be ahead of the mixer before the oldest is dropped (60 ms). */
const MAX_QUEUE = 3;

interface Participant {
  queue: Int16Array[];
  sink: (mix: Int16Array) => void;
}

/**
 * The sound of a conference, 20 ms at a time: tick() gives every participant the sum of what all
 * the others said (never their own voice back), plus any cue (join/leave tones) for everyone.
 * Who is missing a frame (a late packet) counts as silent for that tick.
 */
export class ConferenceMixer {
  private readonly participants = new Map<string, Participant>();
  private cue: { samples: Int16Array; at: number } | null = null;
  private readonly total = new Int32Array(FRAME);

  get size(): number {
    return this.participants.size;
  }

  join(id: string, sink: (mix: Int16Array) => void): void {
    this.participants.set(id, { queue: [], sink });
  }

  leave(id: string): void {
    this.participants.delete(id);
  }

  /** 20 ms of what a participant said. */
  hear(id: string, frame: Int16Array): void {
    const participant = this.participants.get(id);
    if (!participant || frame.length !== FRAME) return;
    participant.queue.push(frame);
    if (participant.queue.length > MAX_QUEUE) participant.queue.shift();
  }

  /** A sound everyone hears from the next tick on (a tone when someone joins or leaves). */
  play(samples: Int16Array): void {
    this.cue = { samples, at: 0 };
  }

  /** Mixes 20 ms and hands each participant its mix. */
  tick(): void {
    const total = this.total;
    total.fill(0);
    const said = new Map<string, Int16Array>();
    for (const [id, participant] of this.participants) {
      const frame = participant.queue.shift();
      if (!frame) continue;
      said.set(id, frame);
      for (let i = 0; i < FRAME; i++) total[i] = (total[i] ?? 0) + (frame[i] ?? 0);
    }
    const cue = this.cue;
    if (cue) {
      for (let i = 0; i < FRAME && cue.at + i < cue.samples.length; i++)
        total[i] = (total[i] ?? 0) + (cue.samples[cue.at + i] ?? 0);
      cue.at += FRAME;
      if (cue.at >= cue.samples.length) this.cue = null;
    }
    for (const [id, participant] of this.participants) {
      const own = said.get(id);
      const mix = new Int16Array(FRAME);
      for (let i = 0; i < FRAME; i++) {
        const value = (total[i] ?? 0) - (own ? (own[i] ?? 0) : 0);
        mix[i] = Math.min(32767, Math.max(-32768, value)); // an Int16Array would wrap, not clip
      }
      participant.sink(mix);
    }
  }
}
