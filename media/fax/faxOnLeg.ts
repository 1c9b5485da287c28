import type { CallMediaSession, MediaLeg } from "../pbx/calls/media.ts";
import { encodeG711 } from "../rtc/tones.ts";
import { FAX_FRAME_SAMPLES, type FaxEngine, type FaxResult } from "./FaxEngine.ts";

const TICK_MS = 20;
/**
 * How far what we hear may lag our own clock before silence stands in for it: the far end sends
 * nothing (a gateway with silence suppression, a dead peer), and T.30's timers, which run on the
 * audio heard, must still run. Jitter stays well inside this.
 */
const MAX_RX_LAG_FRAMES = 15;
/**
 * After the call ends, how long the engine still hears the audio in flight: the sender hangs up
 * once its DCN is out, and that BYE may overtake the DCN's last packets on their way through
 * mediasoup. The engine usually finishes by itself well within this.
 */
export const FAX_HANGUP_GRACE_MS = 400;
/** After T.30 ends by itself, the time given to our last audio (a DCN) to reach the far end before we return. */
const DEFAULT_TAIL_MS = 200;

/**
 * Runs one fax on a call leg the node answers or placed: what the far end sends goes to the
 * engine (`receive`, lost packets bridged by SpanDSP's fill-in), and the engine's `transmit()` goes
 * back through a LegSpeaker every 20 ms, paced against the start so timer drift does not add up
 * (as a conference room's mix is). Resolves with the fax's result once T.30 ends (and `tailMs` later,
 * so a hang-up does not cut our last frame), or once `signal` aborts (the call ended) and the
 * audio still in flight has been heard; rejects only when the leg cannot be heard or spoken to
 * (not G.711). The engine is closed after, whatever happened. `stop` ends it at once without
 * the grace or the tail: the fax goes on over another line (the carrier switched to T.38), and
 * what the engine says then is not the fax's result.
 */
export async function faxOnLeg(
  engine: FaxEngine,
  media: CallMediaSession,
  leg: MediaLeg,
  signal: AbortSignal,
  tailMs = DEFAULT_TAIL_MS,
  stop?: AbortSignal,
): Promise<FaxResult> {
  if (signal.aborted || stop?.aborted) {
    engine.close();
    return engine.finished;
  }
  const [listener, speaker] = await Promise.all([media.listen(leg), media.speak(leg)]).catch((error: Error) => {
    engine.close();
    throw error;
  });
  let heard = 0;
  let ticks = 0;
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const silence = new Int16Array(FAX_FRAME_SAMPLES);

  listener.on("frame", (frame: Int16Array, lost?: boolean) => {
    heard++;
    engine.receive(lost ? null : frame);
  });
  const tick = () => {
    if (engine.done) return;
    ticks++;
    speaker.send(encodeG711(engine.transmit(), speaker.codec));
    // Nothing heard for a while: time goes on for T.30 all the same.
    while (!engine.done && ticks - heard > MAX_RX_LAG_FRAMES) {
      heard++;
      engine.receive(silence);
    }
    schedule();
  };
  const schedule = () => {
    const due = started + (ticks + 1) * TICK_MS - performance.now();
    timer = setTimeout(tick, Math.max(0, due));
  };
  schedule();

  const ended = () => {
    // The call is over: hear what is still on its way, then T.30 stops where it is.
    clearTimeout(timer);
    const grace = setTimeout(() => engine.hangup(), FAX_HANGUP_GRACE_MS);
    void engine.finished.then(() => clearTimeout(grace));
  };
  signal.addEventListener("abort", ended, { once: true });
  const stopped = () => {
    clearTimeout(timer);
    engine.close();
  };
  stop?.addEventListener("abort", stopped, { once: true });
  listener.once("close", () => {
    if (!engine.done) engine.hangup();
  });
  try {
    const result = await engine.finished;
    if (!signal.aborted && !stop?.aborted && tailMs > 0)
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(wait);
          resolve();
        };
        const wait = setTimeout(done, tailMs);
        signal.addEventListener("abort", done, { once: true });
      });
    return result;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", ended);
    stop?.removeEventListener("abort", stopped);
    listener.close();
    speaker.close();
    engine.close();
  }
}
