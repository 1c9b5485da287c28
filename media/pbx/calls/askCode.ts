import { g711Frames } from "../../rtc/tones.ts";
import { KeyCollector } from "../../voice/KeyCollector.ts";
import type { PromptId, PromptSet } from "../../voice/PromptSet.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";

/** Tries a caller gets at a passcode or PIN before the call ends. */
export const CODE_TRIES = 3;
/** How long the node waits for the next key. */
const KEY_TIMEOUT_MS = 8000;

/**
 * Asks the caller (already answered) for a code ended by # (a route's caller passcode, a
 * conference room's PIN): true when it is right within three tries. A key pressed during a
 * prompt cuts the prompt short and counts. Keys come as RFC 4733, SIP INFO or tones in the audio.
 */
export async function askCode(options: {
  media: CallMediaSession;
  leg: MediaLeg;
  prompts: PromptSet;
  /** The code, or a check of what was entered (a voicemail PIN kept as a hash). */
  code: string | ((entered: string) => Promise<boolean>);
  /** What the caller is asked, and told after a wrong code. */
  ask: PromptId;
  wrong: PromptId;
  keyTimeoutMs?: number;
}): Promise<boolean> {
  const { media, leg, prompts } = options;
  const listener = await media.listen(leg).catch(() => null);
  const keys = new KeyCollector({ leg, ...(listener ? { audio: listener } : {}) });
  const say = async (ids: PromptId[], interruptible = true) => {
    for (const id of ids) {
      const stop = new AbortController();
      if (interruptible) void keys.nextKey().then(() => stop.abort());
      await media.play(leg, (codec) => g711Frames(prompts.get(id), codec), stop.signal);
      stop.abort();
      if (interruptible && keys.hasKeys) return; // the caller is already answering
    }
  };
  try {
    for (let attempt = 1; attempt <= CODE_TRIES; attempt++) {
      await say(attempt === 1 ? [options.ask] : [options.wrong, options.ask]);
      const entered = await keys.collect({ maxDigits: 32, timeoutMs: options.keyTimeoutMs ?? KEY_TIMEOUT_MS });
      const code = options.code;
      if (entered !== null && (typeof code === "string" ? entered === code : await code(entered))) return true;
    }
    await say(["goodbye"], false);
    return false;
  } finally {
    keys.close();
    listener?.close();
  }
}
