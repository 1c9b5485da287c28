import { g711Frames, toneSamples } from "../../rtc/tones.ts";
import { KeyCollector } from "../../voice/KeyCollector.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";

/** The beep after a greeting: where the message starts. */
const BEEP = [{ frequencies: [1000], ms: 400 }];
/** The longest message or greeting the node keeps. */
export const MAX_MESSAGE_MS = 180_000;
/** Audio of the key that ended a recording, cut from its end (a tone the far end sent in-band). */
const KEY_TAIL_MS = 300;

/**
 * Plays `prompt` and a beep to an answered caller, then records what the caller says until a key
 * is pressed, the caller hangs up (`signal`) or MAX_MESSAGE_MS passes. Returns the 8 kHz audio
 * (possibly empty); keys come as RFC 4733, SIP INFO or tones, like everywhere else.
 */
export async function recordMessage(options: {
  media: CallMediaSession;
  leg: MediaLeg;
  prompt: Int16Array;
  signal: AbortSignal;
  maxMs?: number;
}): Promise<{ audio: Int16Array; endedBy: "key" | "hangup" | "limit" }> {
  const { media, leg, signal } = options;
  await media.play(leg, (codec) => g711Frames(options.prompt, codec), signal).catch(() => {});
  if (signal.aborted) return { audio: new Int16Array(0), endedBy: "hangup" };
  await media.play(leg, (codec) => g711Frames(toneSamples(BEEP), codec), signal).catch(() => {});
  if (signal.aborted) return { audio: new Int16Array(0), endedBy: "hangup" };
  const listener = await media.listen(leg);
  const keys = new KeyCollector({ leg, audio: listener });
  const frames: Int16Array[] = [];
  listener.on("frame", (frame) => frames.push(frame));
  const maxFrames = Math.floor((options.maxMs ?? MAX_MESSAGE_MS) / 20);
  let endedBy: "key" | "hangup" | "limit" = "limit";
  try {
    endedBy = await new Promise((resolve) => {
      const limit = setTimeout(() => resolve("limit"), maxFrames * 20);
      const done = (why: "key" | "hangup") => {
        clearTimeout(limit);
        resolve(why);
      };
      void keys.nextKey().then(() => done(signal.aborted ? "hangup" : "key"));
      signal.addEventListener("abort", () => done("hangup"), { once: true });
      listener.once("close", () => done("hangup"));
    });
  } finally {
    keys.close();
    listener.close();
  }
  // Frames are a packet's worth each (20 ms, or 30 ms from some phones): cut by samples.
  const samples = frames.reduce((n, frame) => n + frame.length, 0);
  const tail = endedBy === "key" ? (KEY_TAIL_MS * 8000) / 1000 : 0;
  const audio = new Int16Array(Math.max(0, Math.min(samples - tail, (maxFrames * 8000 * 20) / 1000)));
  let offset = 0;
  for (const frame of frames) {
    if (offset >= audio.length) break;
    audio.set(frame.subarray(0, audio.length - offset), offset);
    offset += frame.length;
  }
  return { audio, endedBy };
}
