import { createSocket, type Socket } from "node:dgram";
import type { CallRecord } from "../../../shared/index.ts";
import type { FaxReceiver, FaxReception, IncomingFax } from "../../fax/FaxReceiver.ts";
import type { UdptlLine } from "../../fax/faxOnUdptl.ts";
import { parseT38Offer, t38Answer } from "../../fax/t38Sdp.ts";
import { parseCSeq, parseNameAddr } from "../../sip/core/headers.ts";
import type { SipRequest } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import { InviteOk } from "./AnsweredInvite.ts";
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
 * the sender did. The call record says answeredBy "fax". A carrier that re-INVITEs to T.38 gets
 * our T.38 answer (UDPTL on a socket of the call's own) and the fax goes on there; a T.38 offer
 * we cannot take, or any other re-INVITE, gets 488 and the audio fax goes on.
 */
export class FaxCall extends NodeCall<FaxCallEvents> {
  /** A carrier call: it holds one of the PBX's channels. */
  readonly trunkLegs = 1;
  private readonly hungUp = new AbortController();
  private readonly startedAt = new Date().toISOString();
  private answeredAt: string | null = null;
  /** Until the engine has heard the audio in flight, the media stays open (even after a BYE). */
  private faxHeard: Promise<unknown> = Promise.resolve();
  private reception: FaxReception | null = null;
  /** Once the carrier switched to T.38: our UDPTL socket and where the far end listens. */
  private udptl: (UdptlLine & { answer: string }) | null = null;
  /** Our 2xx to a re-INVITE, resent until its ACK. */
  private reinviteOk: { ok: InviteOk; seq: number } | null = null;
  private readonly sessionId = Math.floor(Math.random() * 1e9);

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
    this.reception = reception;
    this.faxHeard = reception.received;
    // Over (and our last frame out): the sender usually hangs up first; if not, we do.
    await reception.received;
    this.hangUp();
  }

  /** A re-INVITE: T.38 is taken (see the class); BYE and INFO as any node call. */
  override handleInDialog(tx: ServerTransaction): void {
    if (tx.request.method === "INVITE" && !this.ended) {
      void this.reinvited(tx);
      return;
    }
    super.handleInDialog(tx);
  }

  /** An ACK: to a re-INVITE's 2xx of ours, or to the first one. */
  override acknowledged(ack?: SipRequest): void {
    const seq = ack ? parseCSeq(ack.get("CSeq") ?? "")?.seq : undefined;
    if (this.reinviteOk && seq === this.reinviteOk.seq) {
      this.reinviteOk.ok.acknowledged();
      this.reinviteOk = null;
      return;
    }
    super.acknowledged();
  }

  private async reinvited(tx: ServerTransaction): Promise<void> {
    const { request, peer } = tx;
    const dialog = this.answer?.dialog;
    if (!dialog) {
      tx.respond(createResponse(request, 481, undefined, peer));
      return;
    }
    const seq = parseCSeq(request.get("CSeq") ?? "")?.seq ?? 0;
    if (seq <= dialog.remoteSeq) {
      tx.respond(createResponse(request, 500, "CSeq Out of Order", peer));
      return;
    }
    dialog.remoteSeq = seq;
    if (this.reinviteOk) {
      const busy = createResponse(request, 500, "Previous re-INVITE Pending", peer);
      busy.set("Retry-After", String(1 + Math.floor(Math.random() * 5)));
      tx.respond(busy);
      return;
    }
    const refuse = (why: string) => {
      const refused = createResponse(request, 488, undefined, peer);
      refused.set("Warning", `399 edgepbx "${why.replace(/["\\\r\n]/g, "'").slice(0, 200)}"`);
      tx.respond(refused);
    };
    const parsed = parseT38Offer(request.body.toString("utf8"));
    if (!parsed.ok) {
      if (parsed.t38) this.reception?.refusedT38(parsed.reason);
      refuse(parsed.reason);
      return;
    }
    const { offer } = parsed;
    let line = this.udptl;
    if (line) {
      // Already on T.38 (a refresh, or the gateway moved): same answer, new far-end address.
      line.remote = { address: offer.address, port: offer.port };
    } else {
      const socket = await this.openUdptl().catch((error: Error) => error);
      if (socket instanceof Error) {
        refuse(`no UDPTL socket (${socket.message})`);
        return;
      }
      const address = this.localAddress();
      const answer = t38Answer(offer, { address, port: socket.address().port, sessionId: this.sessionId });
      line = {
        socket,
        remote: { address: offer.address, port: offer.port },
        maxDatagram: offer.maxDatagram,
        redundancy: 3,
        answer,
      };
      if (this.ended || !this.reception?.switchToT38(line)) {
        socket.close();
        refuse("too late to switch this fax to T.38");
        return;
      }
      this.udptl = line;
    }
    const contact = parseNameAddr(request.get("Contact") ?? "")?.uriText;
    if (contact) dialog.remoteTarget = contact;
    const ok = new InviteOk(this.endpoint, tx, undefined, this.contactFor(peer), line.answer, () => this.hangUp());
    this.reinviteOk = { ok, seq };
  }

  /** UDPTL's socket, on the address our SDP names (or every address when that one is not ours: NAT). */
  private async openUdptl(): Promise<Socket> {
    const bind = (address: string) =>
      new Promise<Socket>((resolve, reject) => {
        const socket = createSocket("udp4");
        socket.once("error", (error) => {
          socket.close();
          reject(error);
        });
        socket.bind(0, address, () => {
          socket.removeAllListeners("error");
          // A late ICMP error or the like must not take the node down.
          socket.on("error", () => {});
          resolve(socket);
        });
      });
    return bind(this.localAddress()).catch(() => bind("0.0.0.0"));
  }

  /** The node's media address, as our audio SDP gave it. */
  private localAddress(): string {
    return /^c=IN IP4 (\S+)/m.exec(this.leg.localSdp())?.[1] ?? "127.0.0.1";
  }

  protected end(): void {
    if (this.ended) return;
    this.ended = true;
    const endedAt = new Date().toISOString();
    this.answer?.stop();
    this.reinviteOk?.ok.stop();
    this.hungUp.abort();
    void this.faxHeard.then(() => {
      const { packets } = this.leg.stats();
      this.udptl?.socket.close();
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
