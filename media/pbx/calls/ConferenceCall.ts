import { EventEmitter } from "node:events";
import type { CallRecord } from "../../../shared/index.ts";
import { g711Frames } from "../../rtc/tones.ts";
import { randomToken } from "../../sip/core/headers.ts";
import type { SipRequest } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import type { PromptSet } from "../../voice/PromptSet.ts";
import type { ConferenceRoom } from "../conference/ConferenceRoom.ts";
import { AnsweredInvite } from "./AnsweredInvite.ts";
import { askCode } from "./askCode.ts";
import type { CallMediaCounts } from "./Call.ts";
import { parseDtmfInfo } from "./dtmf-info.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";

interface ConferenceCallEvents {
  ended: [record: CallRecord, media: CallMediaCounts];
}

/**
 * One participant of a conference room: the node answers, asks the room's PIN when it has one,
 * then seats the caller in the room until either side hangs up.
 */
export class ConferenceCall extends EventEmitter<ConferenceCallEvents> {
  private answer: AnsweredInvite | null = null;
  private ended = false;
  private seated = false;
  private readonly toTag = randomToken();
  private readonly startedAt = new Date().toISOString();
  private answeredAt: string | null = null;

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly invite: ServerTransaction,
    private readonly leg: MediaLeg,
    private readonly media: CallMediaSession,
    readonly pbxId: string,
    private readonly contactFor: (peer: Peer) => string,
    private readonly room: ConferenceRoom,
    /** For the call record. */
    private readonly call: { from: string; to: string; routeId: string | null; inbound: boolean },
  ) {
    super();
  }

  /** Every inbound participant holds one of the PBX's channels (the guide's note on conferences). */
  get trunkLegs(): number {
    return this.call.inbound ? 1 : 0;
  }

  get callIds(): string[] {
    return [this.invite.request.callId];
  }

  /** `passcode`: the route's caller passcode, asked before the room's PIN. */
  async run(options: { passcode: string | null; pin: string | null; prompts: PromptSet | null }): Promise<void> {
    this.answer = new AnsweredInvite(
      this.endpoint,
      this.invite,
      this.toTag,
      this.contactFor(this.invite.peer),
      this.leg.localSdp(),
      () => this.end(),
    );
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
      if (this.ended || !this.room.join({ id: this.invite.request.callId, listener, speaker })) {
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

  owns(request: SipRequest): boolean {
    return (
      (this.answer?.dialog.matches(request) ?? false) ||
      (request.method === "ACK" && request.callId === this.invite.request.callId)
    );
  }

  handleInDialog(tx: ServerTransaction): void {
    const { request, peer } = tx;
    if (request.method === "INFO" && !this.ended) {
      // Keys by INFO (browsers) feed the PIN prompt like RFC 4733 would.
      const press = parseDtmfInfo(request.get("Content-Type"), request.body);
      const taken = typeof press === "object" && press !== null && this.leg.pressKey(press.digit, press.durationMs);
      tx.respond(createResponse(request, taken ? 200 : press === "unsupported" ? 415 : 400, undefined, peer));
      return;
    }
    tx.respond(createResponse(request, request.method === "BYE" ? 200 : 488, undefined, peer));
    if (request.method === "BYE") this.end();
  }

  acknowledged(): void {
    this.answer?.acknowledged();
  }

  cancelled(): void {}

  lateResponse(): void {}

  private hangUp(): void {
    if (this.ended) return;
    const dialog = this.answer?.dialog;
    if (dialog) this.endpoint.request(dialog.createRequest("BYE"), dialog.peer);
    this.end();
  }

  private end(): void {
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
