import type { Logger } from "../../common/Logger.ts";
import type { FaxDestination } from "../../fax/destination.ts";
import type { FaxReceiver } from "../../fax/FaxReceiver.ts";
import { CngDetector } from "../../voice/CngDetector.ts";
import type { Call } from "./Call.ts";
import { FAX_ANSWERED_BY } from "./FaxCall.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";

/**
 * How long the node listens for a calling fax: CNG repeats every 3.5 s for as long as T.30's
 * T1 (35 ± 5 s) and the phones ring at most a minute; past that nothing will switch.
 */
const LISTEN_MS = 60_000;

export interface FaxDetection {
  call: Call;
  /** The caller's leg and its media session (the Call's). */
  leg: MediaLeg;
  media: CallMediaSession;
  receiver: FaxReceiver;
  destination: FaxDestination;
  pbxId: string;
  caller: string;
  did: string;
  logger: Logger;
}

/**
 * Fax detection on an inbound voice call (the PBX has a fax destination): the caller gets early
 * media (Call.earlyMedia: a 183 with our SDP, our own ringback), so the node hears it while the
 * phones ring, and a CngDetector listens to its leg. On CNG while the call still rings, the
 * phones are cancelled and the node answers as fax (Call.takeOver): the fax goes to the
 * destination's address like any received fax, and the call record says answeredBy "fax". A CNG
 * heard once someone answered is only logged: the call stays with whoever took it (a person who
 * hears a fax hangs up; the sender tries again and may reach the fax number). Listening stops at
 * CNG, when the call ends, or after a minute.
 */
export async function detectFax(detection: FaxDetection): Promise<void> {
  const { call, leg, media, logger } = detection;
  const label = `${detection.caller} → ${detection.did} on ${detection.pbxId}`;
  let listener: Awaited<ReturnType<CallMediaSession["listen"]>>;
  try {
    listener = await media.listen(leg);
  } catch (error) {
    // A leg the node cannot hear (not G.711): the call goes on without fax detection.
    logger.info(`no fax detection for ${label}: ${(error as Error).message}`);
    return;
  }
  const started = performance.now();
  const detector = new CngDetector();
  const stop = () => {
    clearTimeout(timer);
    listener.close();
  };
  const timer = setTimeout(stop, LISTEN_MS);
  timer.unref();
  if (call.state === "ended") return stop();
  call.once("ended", stop);
  listener.on("frame", (frame: Int16Array) => detector.push(frame));
  detector.once("cng", () => {
    stop();
    call.off("ended", stop);
    const heardAfter = `${((performance.now() - started) / 1000).toFixed(1)} s`;
    const { receiver, destination } = detection;
    const switched = call.takeOver({
      label: FAX_ANSWERED_BY,
      run: async (callerLeg, callMedia, signal) => {
        const reception = receiver.receive(
          {
            callId: call.callIds[0] ?? "",
            pbxId: detection.pbxId,
            caller: detection.caller,
            did: detection.did,
            destination,
            startedAt: call.startedAt,
          },
          callerLeg,
          callMedia,
          signal,
        );
        await reception.received;
      },
    });
    if (switched)
      logger.info(
        `fax tone (CNG) from ${label} after ${heardAfter}: switched to fax reception for ${destination.email}`,
      );
    else logger.info(`fax tone (CNG) from ${label} after ${heardAfter}, but the call is answered: left as it is`);
  });
}
