import { EventEmitter } from "node:events";
import { randomToken } from "../../sip/core/headers.ts";
import type { SipRequest } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import { AnsweredInvite } from "./AnsweredInvite.ts";
import { answerDtmfInfo } from "./dtmf-info.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";

/**
 * A call the node answers itself, with nobody else to ring (a feature code, a conference seat):
 * one leg, our 2xx and its dialog, the caller's BYE or ours. Subclasses say what happens once
 * answered and what ending means.
 */
export abstract class NodeCall<Events extends Record<keyof Events, unknown[]>> extends EventEmitter<Events> {
  protected answer: AnsweredInvite | null = null;
  protected ended = false;
  private readonly toTag = randomToken();

  constructor(
    protected readonly endpoint: SipEndpoint,
    protected readonly invite: ServerTransaction,
    protected readonly leg: MediaLeg,
    protected readonly media: CallMediaSession,
    readonly pbxId: string,
    protected readonly contactFor: (peer: Peer) => string,
  ) {
    super();
  }

  get callIds(): string[] {
    return [this.invite.request.callId];
  }

  owns(request: SipRequest): boolean {
    return (
      (this.answer?.dialog.matches(request) ?? false) ||
      (request.method === "ACK" && request.callId === this.invite.request.callId)
    );
  }

  /**
   * BYE ends the call; INFO keys (browsers) reach the leg as RFC 4733 would, for a prompt that
   * waits for them; anything else is refused and the call goes on.
   */
  handleInDialog(tx: ServerTransaction): void {
    const { request, peer } = tx;
    if (request.method === "INFO" && !this.ended) {
      answerDtmfInfo(tx, this.leg);
      return;
    }
    tx.respond(createResponse(request, request.method === "BYE" ? 200 : 488, undefined, peer));
    if (request.method === "BYE") this.end();
  }

  acknowledged(): void {
    this.answer?.acknowledged();
  }

  /** Answered at once: there is no ringing to cancel. */
  cancelled(): void {}

  /** No outgoing branches: nothing answers late. */
  lateResponse(): void {}

  /** Our 2xx with the leg's SDP; no ACK for it means the caller is gone. */
  protected answerNow(): void {
    this.answer = new AnsweredInvite(
      this.endpoint,
      this.invite,
      this.toTag,
      this.contactFor(this.invite.peer),
      this.leg.localSdp(),
      () => this.end(),
    );
  }

  /** Ends the call from our side: BYE to the caller. */
  protected hangUp(): void {
    if (this.ended) return;
    const dialog = this.answer?.dialog;
    if (dialog) this.endpoint.request(dialog.createRequest("BYE"), dialog.peer);
    this.end();
  }

  /** Once, whoever ended it: stop resending our 2xx, free the media, tell call control. */
  protected abstract end(): void;
}
