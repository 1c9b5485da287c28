import { EventEmitter } from "node:events";
import type { CallRecord } from "../../../shared/index.ts";
import { Dialog } from "../../sip/core/Dialog.ts";
import type { SipRequest, SipResponse } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ClientTransaction } from "../../sip/core/transactions/ClientTransaction.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { CallMediaCounts, Destination } from "./Call.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";
import { authenticatedInvite, inviteSeq, outgoingInvite } from "./outgoing.ts";

/**
 * How a call the node placed went: answered (its leg is the node's to use), or the status that
 * ended it; `local` when the node did not place it at all (no free channel, no trunk).
 */
export type TrunkCallOutcome =
  | { answered: true; call: TrunkCall; leg: MediaLeg; media: CallMediaSession }
  | { answered: false; status: number; reason: string; callId?: string; local?: "no channel" | "no trunk" };

interface TrunkCallEvents {
  ended: [record: CallRecord, media: CallMediaCounts];
}

type Disposition = CallRecord["disposition"];

/**
 * A call the node places itself to the carrier (email-to-fax): we are the UAC of one INVITE with
 * the SDP of our own media leg. A 401/407 is answered once with the trunk's credentials; a 2xx
 * is acknowledged and its SDP taken; nothing answering within the ring time is cancelled. Once
 * answered, the leg belongs to whoever placed the call (it speaks and listens on it) until either
 * side hangs up. A re-INVITE from the carrier (to T.38, say) is refused with 488 and the call goes
 * on as it was. Call control tracks it like any call: it holds one of the PBX's channels.
 */
export class TrunkCall extends EventEmitter<TrunkCallEvents> {
  readonly trunkLegs = 1;
  state: "calling" | "answered" | "ended" = "calling";
  readonly startedAt = new Date().toISOString();
  private answeredAt: string | null = null;
  private invite: SipRequest;
  private tx: ClientTransaction | null = null;
  private dialog: Dialog | null = null;
  /** Our ACK of the 2xx, sent again for each 2xx retransmission. */
  private ack: SipRequest | null = null;
  private authenticated = false;
  private ringTimer: NodeJS.Timeout | undefined;
  private settle: (outcome: TrunkCallOutcome) => void = () => {};
  private readonly ending = new AbortController();
  /** Aborted when the call ends, whoever ended it: the node's audio on the leg stops. */
  readonly signal = this.ending.signal;

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly media: CallMediaSession,
    private readonly leg: MediaLeg,
    readonly pbxId: string,
    private readonly destination: Destination,
    /** Our Contact URI for the carrier's transport. */
    contact: string,
    /** The caller and callee for the call record. */
    private readonly parties: { from: string; to: string },
  ) {
    super();
    this.invite = outgoingInvite(destination, leg.localSdp(), contact);
  }

  get callIds(): string[] {
    return [this.invite.callId];
  }

  /** Sends the INVITE; resolves when answered or ended, whichever first. */
  dial(ringTimeoutMs: number): Promise<TrunkCallOutcome> {
    const outcome = new Promise<TrunkCallOutcome>((resolve) => {
      this.settle = resolve;
    });
    this.send(this.invite);
    this.ringTimer = setTimeout(() => this.ringTimedOut(), ringTimeoutMs);
    this.ringTimer.unref();
    return outcome;
  }

  /** Ends the call from our side: BYE once answered, CANCEL while it rings. */
  hangUp(): void {
    if (this.state === "ended") return;
    if (this.dialog) this.endpoint.request(this.dialog.createRequest("BYE"), this.dialog.peer);
    else if (this.tx) this.endpoint.cancel(this.tx);
    this.end(this.state === "answered" ? "answered" : "cancelled", 487, "Request Terminated (hung up by us)");
  }

  owns(request: SipRequest): boolean {
    return this.dialog?.matches(request) ?? false;
  }

  /** BYE ends the call; a re-INVITE is refused (488: the call stays as it is); the rest is answered plainly. */
  handleInDialog(tx: ServerTransaction): void {
    const { request, peer } = tx;
    if (request.method === "BYE") {
      tx.respond(createResponse(request, 200, "OK", peer));
      this.end("answered", 200, "the far end hung up");
      return;
    }
    if (request.method === "INVITE" || request.method === "UPDATE") {
      const refused = createResponse(request, 488, undefined, peer);
      refused.set("Warning", '399 edgepbx "this call keeps its G.711 audio"');
      tx.respond(refused);
      return;
    }
    tx.respond(
      createResponse(request, request.method === "OPTIONS" || request.method === "INFO" ? 200 : 501, undefined, peer),
    );
  }

  /** No INVITE of the far end's to acknowledge: nothing to do. */
  acknowledged(): void {}

  /** Not a call anyone placed to us: nothing to cancel. */
  cancelled(): void {}

  /** A 2xx outside the transaction: a retransmission (ACK again) or another fork's answer (ACK and BYE). */
  lateResponse(response: SipResponse): void {
    if (response.status < 200 || response.status >= 300) return;
    const target = this.destination.target;
    if (this.dialog && this.ack && this.dialog.remoteTag === Dialog.asCaller(this.invite, response, target).remoteTag) {
      this.endpoint.send(this.ack, target);
      return;
    }
    this.refuseAnswer(response);
  }

  private send(invite: SipRequest): void {
    const tx = this.endpoint.request(invite, this.destination.target);
    this.tx = tx;
    tx.on("response", (response) => void this.onResponse(tx, response));
    tx.on("timeout", () => {
      if (tx === this.tx) this.end("failed", 408, "Request Timeout (the carrier did not answer the INVITE)");
    });
  }

  private async onResponse(tx: ClientTransaction, response: SipResponse): Promise<void> {
    if (response.status < 200) return;
    if (response.status >= 300) {
      if (tx !== this.tx || this.state !== "calling") return;
      const credentials = this.destination.credentials;
      if ((response.status === 401 || response.status === 407) && credentials && !this.authenticated) {
        const again = authenticatedInvite(this.invite, response, credentials);
        if (again) {
          this.authenticated = true;
          this.invite = again;
          this.send(again);
          return;
        }
      }
      this.end(dispositionOf(response.status), response.status, `${response.status} ${response.reason}`);
      return;
    }
    if (this.state !== "calling" || tx !== this.tx) {
      // Answered after we gave up (CANCEL crossed the 2xx): acknowledge, then hang up.
      this.refuseAnswer(response);
      return;
    }
    const target = this.destination.target;
    const dialog = Dialog.asCaller(this.invite, response, target);
    this.dialog = dialog;
    this.ack = dialog.createRequest("ACK", inviteSeq(this.invite));
    this.endpoint.send(this.ack, target);
    clearTimeout(this.ringTimer);
    try {
      await this.leg.setRemoteSdp(response.body.toString("utf8"));
    } catch (error) {
      this.endpoint.request(dialog.createRequest("BYE"), target);
      this.end("failed", 488, `488 unusable SDP in the answer (${(error as Error).message})`);
      return;
    }
    if (this.state !== "calling") return;
    this.state = "answered";
    this.answeredAt = new Date().toISOString();
    this.settle({ answered: true, call: this, leg: this.leg, media: this.media });
  }

  private refuseAnswer(response: SipResponse): void {
    const target = this.destination.target;
    const dialog = Dialog.asCaller(this.invite, response, target);
    this.endpoint.send(dialog.createRequest("ACK", inviteSeq(this.invite)), target);
    this.endpoint.request(dialog.createRequest("BYE"), target);
  }

  private ringTimedOut(): void {
    if (this.state !== "calling") return;
    if (this.tx) this.endpoint.cancel(this.tx);
    this.end("no answer", 480, "480 no answer within the ring time");
  }

  private end(disposition: Disposition, status: number, reason: string): void {
    if (this.state === "ended") return;
    const wasAnswered = this.state === "answered";
    this.state = "ended";
    clearTimeout(this.ringTimer);
    this.ending.abort();
    if (!wasAnswered) this.settle({ answered: false, status, reason, callId: this.invite.callId });
    void this.report(wasAnswered ? "answered" : disposition);
  }

  private async report(disposition: Disposition): Promise<void> {
    await this.leg.settleStats().catch(() => undefined);
    const { packets } = this.leg.stats();
    this.media.close();
    this.emit(
      "ended",
      {
        callId: this.invite.callId,
        direction: "outbound",
        from: this.parties.from,
        to: this.parties.to,
        routeId: null,
        startedAt: this.startedAt,
        answeredAt: this.answeredAt,
        endedAt: new Date().toISOString(),
        disposition,
        answeredBy: this.answeredAt ? this.destination.label : null,
        recordingId: null,
      },
      // The node itself is the caller; the carrier's leg is the callee's.
      { caller: { sent: 0, received: 0 }, callee: { sent: packets.fromFarEnd, received: packets.toFarEnd } },
    );
  }
}

function dispositionOf(status: number): Disposition {
  if (status === 486 || status === 600) return "busy";
  if (status === 408 || status === 480 || status === 487) return "no answer";
  if (status === 603) return "rejected";
  return "failed";
}
