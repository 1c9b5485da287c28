import { EventEmitter } from "node:events";
import { CONFIRMATION_TONE, g711Frames, toneSamples } from "../../rtc/tones.ts";
import { randomToken } from "../../sip/core/headers.ts";
import type { SipRequest } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import { AnsweredInvite } from "./AnsweredInvite.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";

interface FeatureCallEvents {
  ended: [];
}

/**
 * A call to a feature code (Call Forward All on or off): the node answers, plays the
 * confirmation tone and hangs up; the caller may hang up first.
 */
export class FeatureCall extends EventEmitter<FeatureCallEvents> {
  readonly trunkLegs = 0;
  private answer: AnsweredInvite | null = null;
  private ended = false;
  private readonly toTag = randomToken();

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly invite: ServerTransaction,
    private readonly leg: MediaLeg,
    private readonly media: CallMediaSession,
    readonly pbxId: string,
    private readonly contactFor: (peer: Peer) => string,
  ) {
    super();
  }

  get callIds(): string[] {
    return [this.invite.request.callId];
  }

  async run(): Promise<void> {
    this.answer = new AnsweredInvite(
      this.endpoint,
      this.invite,
      this.toTag,
      this.contactFor(this.invite.peer),
      this.leg.localSdp(),
      () => this.end(),
    );
    try {
      await this.media.play(this.leg, (codec) => g711Frames(toneSamples(CONFIRMATION_TONE), codec));
    } catch {
      // The caller hung up during the tone (the media closed): nothing left to do.
    }
    if (this.ended) return;
    this.endpoint.request(this.answer.dialog.createRequest("BYE"), this.answer.dialog.peer);
    this.end();
  }

  owns(request: SipRequest): boolean {
    return (
      (this.answer?.dialog.matches(request) ?? false) ||
      (request.method === "ACK" && request.callId === this.invite.request.callId)
    );
  }

  handleInDialog(tx: ServerTransaction): void {
    tx.respond(createResponse(tx.request, tx.request.method === "BYE" ? 200 : 488, undefined, tx.peer));
    if (tx.request.method === "BYE") this.end();
  }

  acknowledged(): void {
    this.answer?.acknowledged();
  }

  cancelled(): void {}

  lateResponse(): void {}

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.answer?.stop();
    this.media.close();
    this.emit("ended");
  }
}
