import type { CallRecord } from "../../../shared/index.ts";
import { g711Frames } from "../../rtc/tones.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import type { PromptSet } from "../../voice/PromptSet.ts";
import type { ConferenceRoom } from "../conference/ConferenceRoom.ts";
import { askCode } from "./askCode.ts";
import type { CallMediaCounts } from "./Call.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";
import { NodeCall } from "./NodeCall.ts";

interface ConferenceCallEvents {
  ended: [record: CallRecord, media: CallMediaCounts];
}

/**
 * One participant of a conference room: the node answers, asks the room's PIN when it has one,
 * then seats the caller in the room until either side hangs up.
 */
export class ConferenceCall extends NodeCall<ConferenceCallEvents> {
  private seated = false;
  private readonly startedAt = new Date().toISOString();
  private answeredAt: string | null = null;

  constructor(
    endpoint: SipEndpoint,
    invite: ServerTransaction,
    leg: MediaLeg,
    media: CallMediaSession,
    pbxId: string,
    contactFor: (peer: Peer) => string,
    private readonly room: ConferenceRoom,
    /** For the call record. */
    private readonly call: { from: string; to: string; routeId: string | null; inbound: boolean },
  ) {
    super(endpoint, invite, leg, media, pbxId, contactFor);
  }

  /** Every inbound participant holds one of the PBX's channels (the guide's note on conferences). */
  get trunkLegs(): number {
    return this.call.inbound ? 1 : 0;
  }

  /** `passcode`: the route's caller passcode, asked before the room's PIN. */
  async run(options: { passcode: string | null; pin: string | null; prompts: PromptSet | null }): Promise<void> {
    this.answerNow();
    this.answeredAt = new Date().toISOString();
    try {
      const codes = [
        { code: options.passcode, ask: "enter-passcode", wrong: "passcode-wrong" },
        { code: options.pin, ask: "enter-pin", wrong: "pin-wrong" },
      ] as const;
      for (const { code, ask, wrong } of codes) {
        if (code === null) continue;
        if (!options.prompts) return this.hangUp();
        const passed = await askCode({ media: this.media, leg: this.leg, prompts: options.prompts, code, ask, wrong });
        if (!passed || this.ended) return this.hangUp();
      }
      if (this.ended) return;
      const [listener, speaker] = await Promise.all([this.media.listen(this.leg), this.media.speak(this.leg)]);
      if (
        this.ended ||
        !this.room.join({ id: this.invite.request.callId, caller: this.call.from, listener, speaker })
      ) {
        listener.close();
        speaker.close();
        if (!this.ended && options.prompts) {
          const full = options.prompts.get("conference-full");
          await this.media.play(this.leg, (codec) => g711Frames(full, codec)).catch(() => {});
        }
        return this.hangUp();
      }
      this.seated = true;
    } catch {
      // The caller hung up while being asked (the media closed): end() has run or runs now.
      this.hangUp();
    }
  }
  protected end(): void {
    if (this.ended) return;
    this.ended = true;
    this.answer?.stop();
    if (this.seated) this.room.leave(this.invite.request.callId);
    const { packets } = this.leg.stats();
    this.media.close();
    this.emit(
      "ended",
      {
        callId: this.invite.request.callId,
        direction: this.call.inbound ? "inbound" : "internal",
        from: this.call.from,
        to: this.call.to,
        routeId: this.call.routeId,
        startedAt: this.startedAt,
        answeredAt: this.answeredAt,
        endedAt: new Date().toISOString(),
        disposition: "answered",
        answeredBy: `conference:${this.room.name}`,
        recordingId: null,
      },
      { caller: { sent: packets.fromFarEnd, received: packets.toFarEnd }, callee: null },
    );
  }
}
