import type { CallRecord } from "../../../shared/index.ts";
import type { FaxReceiver, IncomingFax } from "../../fax/FaxReceiver.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import type { CallMediaCounts } from "./Call.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";
import { NodeCall } from "./NodeCall.ts";

interface FaxCallEvents {
  ended: [record: CallRecord, media: CallMediaCounts];
}

/** The call record's answeredBy for a call the node took as a fax. */
export const FAX_ANSWERED_BY = "fax";

/**
 * A call to a Virtual FAX route: the node answers it as a fax machine would and receives the fax
 * (FaxReceiver: SpanDSP on the leg, then the PDF by email and the fax log), then hangs up unless
 * the sender did. The call record says answeredBy "fax".
 */
export class FaxCall extends NodeCall<FaxCallEvents> {
  /** A carrier call: it holds one of the PBX's channels. */
  readonly trunkLegs = 1;
  private readonly hungUp = new AbortController();
  private readonly startedAt = new Date().toISOString();
  private answeredAt: string | null = null;
  /** Until the engine has heard the audio in flight, the media stays open (even after a BYE). */
  private faxHeard: Promise<unknown> = Promise.resolve();

  constructor(
    endpoint: SipEndpoint,
    invite: ServerTransaction,
    leg: MediaLeg,
    media: CallMediaSession,
    pbxId: string,
    contactFor: (peer: Peer) => string,
    private readonly receiver: FaxReceiver,
    private readonly fax: Omit<IncomingFax, "callId" | "pbxId" | "startedAt">,
    /** The DID's call route, for the call record. */
    private readonly routeId: string,
  ) {
    super(endpoint, invite, leg, media, pbxId, contactFor);
  }

  async run(): Promise<void> {
    this.answerNow();
    this.answeredAt = new Date().toISOString();
    const reception = this.receiver.receive(
      { ...this.fax, callId: this.invite.request.callId, pbxId: this.pbxId, startedAt: this.startedAt },
      this.leg,
      this.media,
      this.hungUp.signal,
    );
    this.faxHeard = reception.received;
    // Over (and our last frame out): the sender usually hangs up first; if not, we do.
    await reception.received;
    this.hangUp();
  }

  protected end(): void {
    if (this.ended) return;
    this.ended = true;
    const endedAt = new Date().toISOString();
    this.answer?.stop();
    this.hungUp.abort();
    void this.faxHeard.then(() => {
      const { packets } = this.leg.stats();
      this.media.close();
      this.emit(
        "ended",
        {
          callId: this.invite.request.callId,
          direction: "inbound",
          from: this.fax.caller,
          to: this.fax.did,
          routeId: this.routeId,
          startedAt: this.startedAt,
          answeredAt: this.answeredAt,
          endedAt,
          disposition: "answered",
          answeredBy: FAX_ANSWERED_BY,
          recordingId: null,
        },
        { caller: { sent: packets.fromFarEnd, received: packets.toFarEnd }, callee: null },
      );
    });
  }
}
