import { EventEmitter } from "node:events";
import type { CallRecord } from "../../../shared/index.ts";
import { Dialog } from "../../sip/core/Dialog.ts";
import { randomToken } from "../../sip/core/headers.ts";
import { SipRequest, type SipResponse } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ClientTransaction } from "../../sip/core/transactions/ClientTransaction.ts";
import { type ServerTransaction, T1, T2 } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import type { Binding } from "../Registrar.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";

export type CallState = "ringing" | "answered" | "ended";

/** RTP packets each phone sent and got through the node, per leg. */
export interface CallMediaCounts {
  caller: { sent: number; received: number };
  callee: { sent: number; received: number } | null;
}

interface CallEvents {
  ended: [record: CallRecord, media: CallMediaCounts];
}

type Disposition = CallRecord["disposition"];

/** How long devices ring before the caller hears "no answer". */
export const RING_TIMEOUT_MS = 60_000;

interface Branch {
  binding: Binding;
  tx: ClientTransaction;
  leg: MediaLeg;
  invite: SipRequest;
  dialog: Dialog | null;
}

/**
 * One two-party call through the B2BUA: the caller's leg (A, we are its UAS) and one outgoing
 * branch per registered device of the callee (B legs, we are their UAC). Every device rings;
 * the first to answer gets the call and the others are cancelled (RFC 3261 §16.7 behaviour, done
 * by a B2BUA). Media of both legs is anchored in the media session.
 */
export class Call extends EventEmitter<CallEvents> {
  state: CallState = "ringing";
  readonly startedAt = new Date().toISOString();
  private answeredAt: string | null = null;
  private answeredBy: string | null = null;
  private readonly branches: Branch[] = [];
  private aDialog: Dialog | null = null;
  private bDialog: Dialog | null = null;
  private winner: Branch | null = null;
  private aOk: SipResponse | null = null;
  private aOkTimer: NodeJS.Timeout | undefined;
  private sentRinging = false;
  private ringTimer: NodeJS.Timeout | undefined;
  private readonly toTag = randomToken();
  private readonly failures: number[] = [];

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly invite: ServerTransaction,
    private readonly aLeg: MediaLeg,
    private readonly media: CallMediaSession,
    readonly pbxId: string,
    private readonly caller: { number: string; name: string; domain: string },
    private readonly callee: string,
    /** Our Contact URI as seen from a peer (its transport's address). */
    private readonly contactFor: (peer: Peer) => string,
    /** Where the call came from: an extension, or the carrier to one of the PBX's DIDs. */
    readonly origin: { direction: "internal" } | { direction: "inbound"; routeId: string },
  ) {
    super();
  }

  /** Calls that hold a carrier channel count against the PBX's channel limit. */
  get usesChannel(): boolean {
    return this.origin.direction !== "internal";
  }

  /** Rings every device: one INVITE per binding, each with its own media leg and offer. */
  async ring(bindings: Binding[], ringTimeoutMs = RING_TIMEOUT_MS): Promise<void> {
    // Nobody rings forever: unanswered after the timeout, the devices are cancelled (480).
    this.ringTimer = setTimeout(() => this.noAnswer(), ringTimeoutMs);
    this.ringTimer.unref();
    for (const binding of bindings) {
      const leg = await this.media.createLeg({ remoteSdp: null });
      const invite = this.outgoingInvite(binding, leg.localSdp());
      const tx = this.endpoint.request(invite, binding.target);
      const branch: Branch = { binding, tx, leg, invite, dialog: null };
      this.branches.push(branch);
      tx.on("response", (response) => void this.onBranchResponse(branch, response));
      tx.on("timeout", () => this.onBranchFailed(branch, 408));
    }
  }

  /** The Call-IDs of the caller's leg and of every branch. */
  get callIds(): string[] {
    return [this.invite.request.callId, ...this.branches.map((b) => b.invite.callId)];
  }

  /** A 2xx retransmission or a late answer on a branch, outside its transaction. */
  lateResponse(response: SipResponse): void {
    const branch = this.branches.find((b) => b.invite.callId === response.callId);
    if (!branch || response.status < 200 || response.status >= 300) return;
    const dialog = branch.dialog ?? Dialog.asCaller(branch.invite, response, branch.binding.target);
    this.endpoint.send(dialog.createRequest("ACK", 1), branch.binding.target);
    if (branch !== this.winner) this.endpoint.request(dialog.createRequest("BYE"), branch.binding.target);
  }

  /** Does this in-dialog request belong to this call? */
  owns(request: SipRequest): boolean {
    return (
      (this.aDialog?.matches(request) ?? false) ||
      (this.bDialog?.matches(request) ?? false) ||
      (request.method === "ACK" && request.callId === this.invite.request.callId)
    );
  }

  /** BYE (or another in-dialog request) from either side. */
  handleInDialog(tx: ServerTransaction): void {
    const { request, peer } = tx;
    if (request.method === "BYE") {
      tx.respond(createResponse(request, 200, "OK", peer));
      const fromA = this.aDialog?.matches(request) ?? false;
      this.hangUp(fromA ? "b" : "a");
      return;
    }
    // Re-INVITE, UPDATE, INFO: not relayed yet; refuse without ending the call.
    tx.respond(createResponse(request, request.method === "INVITE" ? 488 : 501, undefined, peer));
  }

  /** ACK for our 2xx to the caller. */
  acknowledged(): void {
    clearTimeout(this.aOkTimer);
  }

  private noAnswer(): void {
    if (this.state !== "ringing") return;
    this.invite.respond(
      createResponse(this.invite.request, 480, "Temporarily Unavailable (no answer)", this.invite.peer, this.toTag),
    );
    for (const branch of this.branches) this.endpoint.cancel(branch.tx);
    this.end("no answer");
  }

  /** The caller gave up before anyone answered. */
  cancelled(): void {
    if (this.state !== "ringing") return;
    this.invite.respond(createResponse(this.invite.request, 487, undefined, this.invite.peer, this.toTag));
    for (const branch of this.branches) this.endpoint.cancel(branch.tx);
    this.end("cancelled");
  }

  private async onBranchResponse(branch: Branch, response: SipResponse): Promise<void> {
    if (response.status < 200) {
      if (response.status >= 180 && !this.sentRinging && this.state === "ringing") {
        this.sentRinging = true;
        this.invite.respond(createResponse(this.invite.request, 180, "Ringing", this.invite.peer, this.toTag));
      }
      return;
    }
    if (response.status >= 300) {
      this.onBranchFailed(branch, response.status);
      return;
    }
    const dialog = Dialog.asCaller(branch.invite, response, branch.binding.target);
    branch.dialog = dialog;
    // Every 2xx is acknowledged; a late second answer is then hung up at once.
    this.endpoint.send(dialog.createRequest("ACK", 1), branch.binding.target);
    if (this.state !== "ringing" || this.winner) {
      this.endpoint.request(dialog.createRequest("BYE"), branch.binding.target);
      return;
    }
    this.winner = branch;
    this.bDialog = dialog;
    try {
      await branch.leg.setRemoteSdp(response.body.toString("utf8"));
      await this.media.bridge(this.aLeg, branch.leg);
    } catch {
      this.endpoint.request(dialog.createRequest("BYE"), branch.binding.target);
      this.invite.respond(createResponse(this.invite.request, 488, undefined, this.invite.peer, this.toTag));
      this.end("failed");
      return;
    }
    for (const other of this.branches) if (other !== branch) this.endpoint.cancel(other.tx);
    this.answerCaller(branch);
  }

  private onBranchFailed(branch: Branch, status: number): void {
    branch.leg.close();
    this.failures.push(status);
    if (this.state !== "ringing" || this.failures.length < this.branches.length) return;
    // All devices said no: busy wins over everything else, as a person would expect.
    const status486 = this.failures.includes(486) || this.failures.includes(600);
    const final = status486 ? 486 : this.failures.every((s) => s === 603) ? 603 : 480;
    this.invite.respond(createResponse(this.invite.request, final, undefined, this.invite.peer, this.toTag));
    this.end(status486 ? "busy" : "no answer");
  }

  private answerCaller(branch: Branch): void {
    const ok = createResponse(this.invite.request, 200, "OK", this.invite.peer, this.toTag);
    ok.set("Contact", `<${this.contactFor(this.invite.peer)}>`);
    ok.set("Content-Type", "application/sdp");
    ok.body = Buffer.from(this.aLeg.localSdp());
    this.aOk = ok;
    this.invite.respond(ok);
    this.aDialog = Dialog.asCallee(this.invite.request, ok, this.invite.peer);
    this.state = "answered";
    this.answeredAt = new Date().toISOString();
    this.answeredBy = branch.binding.contact;
    this.retransmitOk(T1, 0);
  }

  /** §13.3.1.4: the UAS core resends its 2xx until the ACK arrives, for 64·T1. */
  private retransmitOk(interval: number, elapsed: number): void {
    this.aOkTimer = setTimeout(() => {
      if (!this.aOk || this.state !== "answered") return;
      if (elapsed + interval >= 64 * T1) {
        // No ACK: the caller is gone. End the call on both sides.
        this.hangUp("both");
        return;
      }
      this.endpoint.send(this.aOk, this.invite.peer);
      this.retransmitOk(Math.min(interval * 2, T2), elapsed + interval);
    }, interval);
    this.aOkTimer.unref();
  }

  /** Ends an answered call: BYE to the side(s) that did not hang up. */
  private hangUp(sendByeTo: "a" | "b" | "both"): void {
    if (this.state === "ended") return;
    if ((sendByeTo === "a" || sendByeTo === "both") && this.aDialog)
      this.endpoint.request(this.aDialog.createRequest("BYE"), this.aDialog.peer);
    if ((sendByeTo === "b" || sendByeTo === "both") && this.bDialog)
      this.endpoint.request(this.bDialog.createRequest("BYE"), this.bDialog.peer);
    this.end("answered");
  }

  private end(disposition: Disposition): void {
    if (this.state === "ended") return;
    this.state = "ended";
    clearTimeout(this.aOkTimer);
    clearTimeout(this.ringTimer);
    const counts = (leg: MediaLeg) => {
      const { shim } = leg.stats();
      return { sent: shim.phoneToMediasoup.received, received: shim.mediasoupToPhone.sent };
    };
    const media: CallMediaCounts = { caller: counts(this.aLeg), callee: this.winner ? counts(this.winner.leg) : null };
    this.media.close();
    this.emit(
      "ended",
      {
        callId: this.invite.request.callId,
        direction: this.origin.direction,
        from: this.caller.number,
        to: this.callee,
        routeId: this.origin.direction === "inbound" ? this.origin.routeId : null,
        startedAt: this.startedAt,
        answeredAt: this.answeredAt,
        endedAt: new Date().toISOString(),
        disposition: this.answeredAt ? "answered" : disposition,
        answeredBy: this.answeredBy,
        recordingId: null,
      },
      media,
    );
  }

  private outgoingInvite(binding: Binding, sdp: string): SipRequest {
    const invite = new SipRequest("INVITE", binding.contact);
    const display = this.caller.name.replace(/["\\]/g, "");
    invite.append("From", `"${display}" <sip:${this.caller.number}@${this.caller.domain}>;tag=${randomToken()}`);
    invite.append("To", `<sip:${this.callee}@${this.caller.domain}>`);
    invite.append("Call-ID", `${randomToken(12)}@edgepbx`);
    invite.append("CSeq", "1 INVITE");
    invite.append("Contact", `<${this.contactFor(binding.target)}>`);
    invite.append("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
    invite.append("Content-Type", "application/sdp");
    invite.body = Buffer.from(sdp);
    return invite;
  }
}
