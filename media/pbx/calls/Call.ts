import { EventEmitter } from "node:events";
import type { CallRecord } from "../../../shared/index.ts";
import type { G711 } from "../../rtc/sdp.ts";
import { g711Frames, RINGBACK_CADENCE, type ToneSegment, toneSamples } from "../../rtc/tones.ts";
import { Dialog } from "../../sip/core/Dialog.ts";
import {
  parseCSeq,
  parseNameAddr,
  parseReplaces,
  type Replaces,
  randomToken,
  uriHeader,
} from "../../sip/core/headers.ts";
import type { SipRequest, SipResponse } from "../../sip/core/message.ts";
import { createResponse, REASONS } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ClientTransaction } from "../../sip/core/transactions/ClientTransaction.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import { AnsweredInvite, InviteOk } from "./AnsweredInvite.ts";
import { answerDtmfInfo } from "./dtmf-info.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";
import { authenticatedInvite, inviteSeq, outgoingInvite } from "./outgoing.ts";

export type CallState = "ringing" | "answered" | "ended";

/** RTP packets each phone sent and got through the node, per leg. */
export interface CallMediaCounts {
  caller: { sent: number; received: number };
  callee: { sent: number; received: number } | null;
}

interface CallEvents {
  ended: [record: CallRecord, media: CallMediaCounts];
  /** New outgoing legs (a transfer's target): their Call-IDs belong to this call now. */
  legs: [];
}

/** The node answering a caller nobody answered: `run` gets the caller's leg until `signal` aborts. */
export interface UnansweredHandler {
  /** The call record's answeredBy ("voicemail:101"). */
  label: string;
  run(leg: MediaLeg, media: CallMediaSession, signal: AbortSignal): Promise<void>;
}

/** An answered call, both parties bridged: what call control records. */
export interface AnsweredCall {
  caller: MediaLeg;
  callee: MediaLeg;
  media: CallMediaSession;
  /** The carrier answered (an outbound call). */
  calleeIsTrunk: boolean;
  record: Pick<CallRecord, "callId" | "direction" | "from" | "to">;
}

/** Where a transfer goes: the first stage of the dial plan for the number, or why not. */
export type TransferPlan = { destinations: Destination[] } | { status: number; reason: string };

/** How long a blind transfer's target rings before the transferor hears it failed. */
const TRANSFER_RING_MS = 30_000;

type Disposition = CallRecord["disposition"];

/** How long devices ring before the caller hears "no answer". */
export const RING_TIMEOUT_MS = 60_000;

/** Where one outgoing branch goes: a registered device of an extension, or the carrier. */
export interface Destination {
  /** The INVITE's Request-URI. */
  uri: string;
  /** Where the INVITE is sent. */
  target: Peer;
  /** The To header value the far end sees. */
  to: string;
  /** The caller as presented to this far end (From), without tag. */
  from: string;
  /** The call record's answeredBy when this branch answers. */
  label: string;
  /** Our credentials, for a far end that challenges us (the carrier trunk). */
  credentials?: { username: string; password: string };
  /** A leg through the carrier trunk: it holds one of the PBX's channels. */
  trunk: boolean;
  /** Extra headers for this far end (Diversion to the carrier). */
  headers?: Record<string, string>;
  /** A browser (registered over WebSocket): offered WebRTC media. */
  webrtc?: boolean;
}

/** Who rings, in turn: each stage rings its destinations together until answered or timed out. */
export interface RingStage {
  destinations: Destination[];
  timeoutMs: number;
}

interface PendingReinvite {
  /** Our 2xx, once sent. */
  ok: InviteOk | null;
  leg: MediaLeg;
  /** The re-INVITE had no SDP: we offered in the 2xx and the answer is in the ACK. */
  offerless: boolean;
  /** Its CSeq number, which its ACK repeats. */
  seq: number;
}

interface Branch {
  destination: Destination;
  tx: ClientTransaction;
  leg: MediaLeg;
  invite: SipRequest;
  dialog: Dialog | null;
  authenticated: boolean;
  stage: number;
  /** It ended without answering (refused, timed out or cancelled). */
  failed: boolean;
}

/**
 * One two-party call through the B2BUA: the caller's leg (A, we are its UAS) and outgoing
 * branches (B legs, we are their UAC), rung in stages: a stage is every device of an extension,
 * every member of a ring-all group, one member of a hunt group, or the carrier. Within a stage
 * the first to answer gets the call and the others are cancelled (RFC 3261 §16.7 behaviour, done
 * by a B2BUA); a stage that times out or refuses moves to the next. Media of both legs is
 * anchored in the media session.
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
  private answer: AnsweredInvite | null = null;
  /** Re-INVITEs answered (or being answered) per dialog, until their ACK. */
  private readonly reinvites = new Map<Dialog, PendingReinvite>();
  private sentRinging = false;
  /** The caller was answered before ringing (to ask for a passcode): it hears ringback, not 180. */
  private preAnswered = false;
  /** The caller has our SDP in a 183 (earlyMedia): it hears our ringback, and we hear it. */
  private early = false;
  /** The node answered the caller itself (voicemail, fax): nothing rings or answers any more. */
  private nodeAnswered = false;
  private ringback: AbortController | null = null;
  /** A blind transfer in progress (one at a time). */
  private transferring = false;
  /** The branch that took the caller's side after the caller transferred the call away. */
  private aBranch: Branch | null = null;
  /**
   * Call control's dial plan for a transfer target, as a call from the transferring side's
   * extension (null: that side is not an extension, the carrier).
   */
  planTransfer: ((number: string, byExtension: string | null) => TransferPlan) | null = null;
  /**
   * What answers the caller when nobody does (busy, no answer, nobody registered): the node
   * itself, e.g. the extension's voicemail. Null: the caller hears the failure.
   */
  unanswered: UnansweredHandler | null = null;
  /** Told once the call is answered and bridged (call control starts its recording here). */
  answered: ((call: AnsweredCall) => void) | null = null;
  /** The call record's recordingId, set by whoever records this call. */
  recordingId: string | null = null;
  /** Aborted when the call ends, for the node's own audio on the caller's leg. */
  private readonly ending = new AbortController();
  /** Call control's lookup of the call an attended transfer's Replaces names (by its Call-ID). */
  findCall: ((callId: string) => Call | null) | null = null;
  /** Media sessions of calls joined into this one (attended transfers): closed with it. */
  private readonly joinedMedia: CallMediaSession[] = [];
  /** This call's far end went to another call (attended transfer): its media is that call's now. */
  private handedOver = false;
  private ringTimer: NodeJS.Timeout | undefined;
  private readonly toTag = randomToken();
  private readonly failures: number[] = [];
  private stages: RingStage[] = [];
  private stage = -1;
  /** INVITEs of the current stage are still being sent: its failures cannot end it yet. */
  private launching = false;

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly invite: ServerTransaction,
    private aLeg: MediaLeg,
    private readonly media: CallMediaSession,
    readonly pbxId: string,
    /** The caller's number, for the call record. */
    private readonly caller: string,
    /** What was dialled (or the DID called), for the call record. */
    private readonly callee: string,
    /** Our Contact URI as seen from a peer (its transport's address). */
    private readonly contactFor: (peer: Peer) => string,
    /** Where the call came from: an extension, or the carrier to one of the PBX's DIDs. */
    readonly origin: { direction: "internal" } | { direction: "inbound"; routeId: string },
  ) {
    super();
  }

  /** Carrier legs this call holds against the PBX's channel count (inbound, outbound, or both). */
  get trunkLegs(): number {
    const inbound = this.origin.direction === "inbound" ? 1 : 0;
    return inbound + (this.stages.some((s) => s.destinations.some((d) => d.trunk)) ? 1 : 0);
  }

  /**
   * Rings the stages in turn; each destination gets its own INVITE and media leg. After the last
   * stage the caller hears the best failure (busy before no answer).
   */
  async ring(stages: RingStage[]): Promise<void> {
    this.stages = stages.filter((s) => s.destinations.length > 0);
    if ((this.preAnswered || this.early) && this.state === "ringing") {
      this.ringback = new AbortController();
      const cadence = g711Cadence(RINGBACK_CADENCE);
      void this.media
        .play(this.aLeg, (codec) => repeat(cadence(codec), RING_TIMEOUT_MS / 5000), this.ringback.signal)
        .catch(() => undefined);
    }
    await this.nextStage();
  }

  /**
   * Answers the caller now, before anyone rings (the node asks for a caller passcode first). The
   * call then rings with ringback played to the caller, and ends with a BYE if nobody answers.
   */
  answerFirst(): void {
    if (this.state !== "ringing" || this.answer) return;
    this.sendAnswer();
    this.preAnswered = true;
  }

  /**
   * Early media (183 Session Progress with our SDP, RFC 3960) before ringing: the node hears the
   * caller while phones ring (a calling fax's CNG) and plays the ringback itself. Call it before
   * ring(); the 180s of the branches are then not passed on.
   */
  earlyMedia(): void {
    if (this.state !== "ringing" || this.answer || this.early) return;
    this.early = true;
    this.sentRinging = true;
    const progress = createResponse(this.invite.request, 183, "Session Progress", this.invite.peer, this.toTag);
    progress.set("Contact", `<${this.contactFor(this.invite.peer)}>`);
    progress.set("Content-Type", "application/sdp");
    progress.body = Buffer.from(this.aLeg.localSdp());
    this.invite.respond(progress);
  }

  /**
   * The node takes the caller away from the phones ringing (a fax heard on a voice route): the
   * branches are cancelled and `handler` answers, as `unanswered` would. False when it is too
   * late: someone answered (or is being bridged), the node answered already, or the call ended.
   */
  takeOver(handler: UnansweredHandler): boolean {
    if (this.state !== "ringing" || this.winner || this.nodeAnswered) return false;
    clearTimeout(this.ringTimer);
    for (const branch of this.branches) this.endpoint.cancel(branch.tx);
    void this.answerUnanswered(handler);
    return true;
  }

  /**
   * Ends a call answered first whose only answer was the node's own (an announcement followed by
   * hang-up): it counts as answered by `label`, and the caller gets a BYE.
   */
  endAnswered(label: string): void {
    if (this.state !== "ringing" || !this.aDialog) return;
    this.answeredAt = new Date().toISOString();
    this.answeredBy = label;
    this.hangUp("a");
  }

  /** Ends a call answered first (a wrong passcode three times): BYE to the caller. */
  refuse(): void {
    if (this.state !== "ringing" || !this.aDialog) return;
    this.endpoint.request(this.aDialog.createRequest("BYE"), this.aDialog.peer);
    this.end("rejected");
  }

  private async nextStage(): Promise<void> {
    clearTimeout(this.ringTimer);
    if (this.state !== "ringing" || this.nodeAnswered) return;
    this.stage++;
    const stage = this.stages[this.stage];
    if (!stage) {
      this.giveUp();
      return;
    }
    // Nobody rings forever: unanswered after the timeout, the stage's devices are cancelled.
    const number = this.stage;
    this.ringTimer = setTimeout(() => this.stageTimedOut(number), stage.timeoutMs);
    this.ringTimer.unref();
    this.launching = true;
    for (const destination of stage.destinations) {
      let leg: MediaLeg;
      try {
        leg = await this.media.createLeg({ remoteSdp: null, webrtc: destination.webrtc ?? false });
      } catch {
        this.failures.push(503);
        continue;
      }
      if (this.state !== "ringing" || this.stage !== number || this.nodeAnswered) {
        leg.close();
        this.launching = false;
        return;
      }
      this.watch(this.launch(destination, leg, number));
    }
    this.launching = false;
    if (!this.branches.some((b) => b.stage === number && !b.failed)) void this.nextStage();
  }

  private watch(branch: Branch): void {
    branch.tx.on("response", (response) => void this.onBranchResponse(branch, response));
    branch.tx.on("timeout", () => this.onBranchFailed(branch, 408));
  }

  private stageTimedOut(stage: number): void {
    if (this.state !== "ringing" || this.stage !== stage) return;
    for (const branch of this.branches) if (branch.stage === stage) this.endpoint.cancel(branch.tx);
    this.failures.push(480);
    void this.nextStage();
  }

  /** The Call-IDs of the caller's leg and of every branch. */
  get callIds(): string[] {
    return [this.invite.request.callId, ...this.branches.map((b) => b.invite.callId)];
  }

  /** A 2xx retransmission or a late answer on a branch, outside its transaction. */
  lateResponse(response: SipResponse): void {
    const branch = this.branches.find((b) => b.invite.callId === response.callId);
    if (!branch || response.status < 200 || response.status >= 300) return;
    const target = branch.destination.target;
    const dialog = branch.dialog ?? Dialog.asCaller(branch.invite, response, target);
    this.endpoint.send(dialog.createRequest("ACK", inviteSeq(branch.invite)), target);
    if (branch !== this.winner && branch !== this.aBranch) this.endpoint.request(dialog.createRequest("BYE"), target);
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
      if (this.state === "ringing" && fromA) {
        // A caller answered first hung up before anyone answered.
        for (const branch of this.branches) this.endpoint.cancel(branch.tx);
        this.end("cancelled");
        return;
      }
      this.hangUp(fromA ? "b" : "a");
      return;
    }
    if (request.method === "INVITE" && this.state === "answered") {
      void this.reinvited(tx);
      return;
    }
    if (request.method === "INFO" && this.state === "answered") {
      this.infoReceived(tx);
      return;
    }
    if (request.method === "REFER" && this.state === "answered") {
      void this.referred(tx);
      return;
    }
    // UPDATE, a re-INVITE or INFO before the answer: refuse without ending the call.
    tx.respond(createResponse(request, request.method === "INVITE" ? 491 : 501, undefined, peer));
  }

  /**
   * A blind transfer (REFER, RFC 3515): the side that sent it leaves, the other side is connected
   * to the Refer-To number as if the transferor had dialled it. The transferor hears how it goes
   * by NOTIFY (message/sipfrag) and gets a BYE once the target answered; if the target does not
   * answer, nothing changes. A Refer-To with Replaces is an attended transfer (attendedTransfer).
   */
  private async referred(tx: ServerTransaction): Promise<void> {
    const { request, peer } = tx;
    const fromA = this.aDialog?.matches(request) ?? false;
    const transferor = fromA ? this.aDialog : this.bDialog;
    const stays = fromA ? this.winner?.leg : this.aLeg;
    const leaves = fromA ? this.aLeg : this.winner?.leg;
    const referTo = parseNameAddr(request.get("Refer-To") ?? "");
    const number = referTo?.uri.user;
    if (!transferor || !stays || !leaves) return tx.respond(createResponse(request, 481, undefined, peer));
    if (this.transferring) return tx.respond(createResponse(request, 491, undefined, peer));
    // Attended: the dialog named by Replaces says who; the URI is its far end's Contact (ours here).
    const replacesText = referTo ? uriHeader(referTo.uri, "Replaces") : null;
    if (replacesText !== null) {
      const replaces = parseReplaces(replacesText);
      if (!replaces) return tx.respond(createResponse(request, 400, "Bad Replaces in Refer-To", peer));
      return this.attendedTransfer(tx, replaces, fromA);
    }
    if (!referTo || !number || !/^[0-9*#+]{1,32}$/.test(number))
      return tx.respond(createResponse(request, 400, "Bad Refer-To", peer));
    // The transferor's extension: the caller of an internal call, or the extension that answered.
    const byExtension = fromA
      ? this.origin.direction === "internal"
        ? this.caller
        : null
      : (parseNameAddr(this.winner?.destination.to ?? "")?.uri.user ?? null);
    const plan = this.planTransfer?.(number, byExtension) ?? {
      status: 501,
      reason: "Transfer Not Available",
    };
    if ("status" in plan) return tx.respond(createResponse(request, plan.status, plan.reason, peer));
    tx.respond(createResponse(request, 202, "Accepted", peer));
    this.transferring = true;
    const notify = this.transferNotifier(transferor);
    notify(100, false);
    const result = await this.dialTransferTarget(plan.destinations);
    this.transferring = false;
    if (this.state !== "answered") {
      if ("branch" in result) this.dropBranch(result.branch);
      return;
    }
    if ("status" in result) return notify(result.status, true);
    try {
      await this.media.bridge(stays, result.branch.leg);
    } catch {
      this.dropBranch(result.branch);
      return notify(488, true);
    }
    notify(200, true);
    this.endpoint.request(transferor.createRequest("BYE"), transferor.peer);
    leaves.close();
    this.takeFarEnd(fromA, result.branch, result.dialog);
    // A browser that stays now hears another stream: tell it (re-INVITE), or it plays silence.
    const staying = fromA ? this.bDialog : this.aDialog;
    if (staying) this.refreshFarEnd(staying, stays);
  }

  /** The side the transferor was on is now `branch` (a transfer's target). */
  private takeFarEnd(fromA: boolean, branch: Branch, dialog: Dialog): void {
    if (fromA) {
      this.aLeg = branch.leg;
      this.aDialog = dialog;
      this.aBranch = branch;
    } else {
      this.winner = branch;
      this.bDialog = dialog;
    }
    this.answeredBy = branch.destination.label;
  }

  /** NOTIFYs of a REFER's progress (RFC 3515: message/sipfrag with the target's status line). */
  private transferNotifier(transferor: Dialog): (status: number, final: boolean) => void {
    return (status, final) => {
      const message = transferor.createRequest("NOTIFY");
      message.append("Event", "refer");
      message.append("Subscription-State", final ? "terminated;reason=noresource" : "active;expires=60");
      message.append("Contact", `<${this.contactFor(transferor.peer)}>`);
      message.append("Content-Type", "message/sipfrag;version=2.0");
      message.body = Buffer.from(`SIP/2.0 ${status} ${REASONS[status] ?? ""}\r\n`);
      this.endpoint.request(message, transferor.peer);
    };
  }

  /**
   * An attended transfer (REFER whose Refer-To carries Replaces, RFC 3891): the transferor has a
   * second call through this node (the consultation, which it placed) and asks us to join its far
   * end to ours. Both calls' media are anchored here, so the node joins them itself: the side that
   * stays here and the consultation's callee are bridged, the transferor gets BYE on both calls,
   * and this call goes on with the callee in the transferor's place.
   */
  private async attendedTransfer(tx: ServerTransaction, replaces: Replaces, fromA: boolean): Promise<void> {
    const { request, peer } = tx;
    const transferor = fromA ? this.aDialog : this.bDialog;
    const stays = fromA ? this.winner?.leg : this.aLeg;
    const leaves = fromA ? this.aLeg : this.winner?.leg;
    if (!transferor || !stays || !leaves) return tx.respond(createResponse(request, 481, undefined, peer));
    tx.respond(createResponse(request, 202, "Accepted", peer));
    const notify = this.transferNotifier(transferor);
    const consultation = this.findCall?.(replaces.callId) ?? null;
    const party = consultation && consultation !== this ? consultation.consultedParty(replaces, this.pbxId) : null;
    // RFC 3891 §3: a Replaces that names no confirmed dialog of ours is 481.
    if (!consultation || !party) return notify(481, true);
    this.transferring = true;
    notify(100, false);
    try {
      await this.media.bridge(stays, party.branch.leg);
    } catch {
      this.transferring = false;
      await this.media.bridge(stays, leaves).catch(() => this.hangUp("both"));
      return notify(488, true);
    }
    this.transferring = false;
    if (this.state !== "answered" || consultation.state !== "answered") {
      // One of the calls ended while they were being joined.
      if (this.state === "answered") await this.media.bridge(stays, leaves).catch(() => this.hangUp("both"));
      return notify(487, true);
    }
    this.joinedMedia.push(...consultation.handOver());
    notify(200, true);
    this.endpoint.request(transferor.createRequest("BYE"), transferor.peer);
    leaves.close();
    this.branches.push(party.branch);
    this.takeFarEnd(fromA, party.branch, party.dialog);
    this.emit("legs");
    // Both far ends now hear a new stream: browsers need to be told (re-INVITE).
    const staying = fromA ? this.bDialog : this.aDialog;
    if (staying) this.refreshFarEnd(staying, stays);
    this.refreshFarEnd(party.dialog, party.branch.leg);
  }

  /**
   * The callee of this call, when `replaces` names our dialog with its caller (tags as the caller
   * sees them: to-tag is ours) and the call is answered: what an attended transfer joins.
   */
  private consultedParty(replaces: Replaces, pbxId: string): { branch: Branch; dialog: Dialog } | null {
    const dialog = this.aDialog;
    if (this.state !== "answered" || pbxId !== this.pbxId || this.transferring || !dialog) return null;
    if (
      dialog.callId !== replaces.callId ||
      dialog.localTag !== replaces.toTag ||
      dialog.remoteTag !== replaces.fromTag
    )
      return null;
    if (!this.winner || !this.bDialog) return null;
    return { branch: this.winner, dialog: this.bDialog };
  }

  /**
   * The caller (the transferor) leaves with a BYE; the callee and the media sessions now belong
   * to the call that took them. This call ends, its record written, its media left open.
   */
  private handOver(): CallMediaSession[] {
    this.handedOver = true;
    if (this.aDialog) this.endpoint.request(this.aDialog.createRequest("BYE"), this.aDialog.peer);
    this.aLeg.close();
    this.end("answered");
    return [this.media, ...this.joinedMedia];
  }

  /**
   * Re-INVITEs a far end whose description changed under it (offerIfChanged): its answer is
   * taken as any answer; a refusal keeps the description in force.
   */
  private refreshFarEnd(dialog: Dialog, leg: MediaLeg): void {
    const sdp = leg.offerIfChanged();
    if (!sdp) return;
    const invite = dialog.createRequest("INVITE");
    invite.append("Contact", `<${this.contactFor(dialog.peer)}>`);
    invite.append("Content-Type", "application/sdp");
    invite.body = Buffer.from(sdp);
    const tx = this.endpoint.request(invite, dialog.peer);
    tx.on("timeout", () => leg.rollbackOffer());
    tx.on("response", (response) => {
      if (response.status < 200) return;
      if (response.status >= 300) return leg.rollbackOffer();
      this.endpoint.send(dialog.createRequest("ACK", inviteSeq(invite)), dialog.peer);
      leg.setRemoteSdp(response.body.toString("utf8")).catch(() => this.hangUp("both"));
    });
  }

  /** Rings a transfer's destinations together; the first to answer (with usable SDP) wins. */
  private dialTransferTarget(
    destinations: Destination[],
  ): Promise<{ branch: Branch; dialog: Dialog } | { status: number }> {
    return new Promise((resolve) => {
      const attempts: Branch[] = [];
      const failures: number[] = [];
      let done = false;
      let launching = true;
      const finish = (result: { branch: Branch; dialog: Dialog } | { status: number }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const other of attempts)
          if (!("branch" in result) || other !== result.branch) this.endpoint.cancel(other.tx);
        resolve(result);
      };
      const failed = (branch: Branch, status: number) => {
        branch.failed = true;
        branch.leg.close();
        failures.push(status);
        if (!launching && attempts.every((b) => b.failed))
          finish({ status: failures.includes(486) ? 486 : failures.includes(603) ? 603 : (failures[0] ?? 480) });
      };
      const timer = setTimeout(() => finish({ status: 480 }), TRANSFER_RING_MS);
      timer.unref();
      const watch = (branch: Branch) => {
        branch.tx.on("timeout", () => failed(branch, 408));
        branch.tx.on("response", async (response) => {
          if (response.status < 200) return;
          if (
            (response.status === 401 || response.status === 407) &&
            this.retryWithCredentials(branch, response, watch)
          )
            return;
          if (response.status >= 300) return failed(branch, response.status);
          const dialog = Dialog.asCaller(branch.invite, response, branch.destination.target);
          branch.dialog = dialog;
          this.endpoint.send(dialog.createRequest("ACK", inviteSeq(branch.invite)), branch.destination.target);
          if (done) return this.dropBranch(branch);
          try {
            await branch.leg.setRemoteSdp(response.body.toString("utf8"));
          } catch {
            this.endpoint.request(dialog.createRequest("BYE"), branch.destination.target);
            return failed(branch, 488);
          }
          finish({ branch, dialog });
        });
      };
      void (async () => {
        for (const destination of destinations) {
          let leg: MediaLeg;
          try {
            leg = await this.media.createLeg({ remoteSdp: null, webrtc: destination.webrtc ?? false });
          } catch {
            failures.push(503);
            continue;
          }
          if (done) {
            leg.close();
            break;
          }
          const branch = this.launch(destination, leg, -1);
          attempts.push(branch);
          this.emit("legs");
          watch(branch);
        }
        launching = false;
        if (attempts.every((b) => b.failed)) finish({ status: failures.includes(486) ? 486 : (failures[0] ?? 480) });
      })();
    });
  }

  /** A branch that answered too late or could not be bridged: hung up, its leg freed. */
  private dropBranch(branch: Branch): void {
    if (branch.dialog) this.endpoint.request(branch.dialog.createRequest("BYE"), branch.destination.target);
    branch.leg.close();
  }

  /**
   * INFO with a key press (browsers' DTMF: their RFC 4733 stops inside mediasoup, whose Consumers
   * forward media codecs only): the leg it came from announces the key, the other side hears it
   * as RFC 4733. Other INFO bodies are refused (415), the call goes on.
   */
  private infoReceived(tx: ServerTransaction): void {
    const fromA = this.aDialog?.matches(tx.request) ?? false;
    answerDtmfInfo(tx, (fromA ? this.aLeg : this.winner?.leg) ?? null);
  }

  /**
   * A re-INVITE from either side (hold, resume, a phone that moved): the media is anchored here,
   * so it is answered here. Its leg takes the new SDP (hold pauses what flows to or from it in
   * mediasoup), the other side's dialog is left alone. SDP we cannot use gets 488 and the call
   * goes on as it was (RFC 3261 §14.2).
   */
  private async reinvited(tx: ServerTransaction): Promise<void> {
    const { request, peer } = tx;
    const fromA = this.aDialog?.matches(request) ?? false;
    const dialog = fromA ? this.aDialog : this.bDialog;
    const leg = fromA ? this.aLeg : this.winner?.leg;
    if (!dialog || !leg) {
      tx.respond(createResponse(request, 481, undefined, peer));
      return;
    }
    const seq = parseCSeq(request.get("CSeq") ?? "")?.seq ?? 0;
    if (seq <= dialog.remoteSeq) {
      tx.respond(createResponse(request, 500, "CSeq Out of Order", peer));
      return;
    }
    dialog.remoteSeq = seq;
    if (this.reinvites.has(dialog)) {
      // The previous re-INVITE on this dialog is not through yet (§14.2).
      const busy = createResponse(request, 500, "Previous re-INVITE Pending", peer);
      busy.set("Retry-After", String(1 + Math.floor(Math.random() * 10)));
      tx.respond(busy);
      return;
    }
    const offer = request.body.length > 0 ? request.body.toString("utf8") : null;
    const pending: PendingReinvite = { ok: null, leg, offerless: offer === null, seq };
    this.reinvites.set(dialog, pending);
    let sdp: string;
    try {
      if (offer !== null) await leg.setRemoteSdp(offer);
      sdp = offer !== null ? leg.localSdp() : leg.reoffer();
    } catch (error) {
      this.reinvites.delete(dialog);
      const refused = createResponse(request, 488, undefined, peer);
      refused.set("Warning", `399 edgepbx "${sdpProblem(error)}"`);
      tx.respond(refused);
      return;
    }
    if (this.state !== "answered") {
      this.reinvites.delete(dialog);
      tx.respond(createResponse(request, 487, undefined, peer));
      return;
    }
    // A target refresh (§12.2.2): in-dialog requests now go to the new Contact.
    const contact = parseNameAddr(request.get("Contact") ?? "")?.uriText;
    if (contact) dialog.remoteTarget = contact;
    pending.ok = new InviteOk(this.endpoint, tx, undefined, this.contactFor(peer), sdp, () => this.hangUp("both"));
  }

  /** An ACK: for our 2xx to the caller, or to a re-INVITE (bringing the answer to an offerless one). */
  acknowledged(ack: SipRequest): void {
    const seq = parseCSeq(ack.get("CSeq") ?? "")?.seq;
    for (const [dialog, pending] of this.reinvites) {
      if (!pending.ok || pending.seq !== seq || !dialog.matches(ack)) continue;
      this.reinvites.delete(dialog);
      pending.ok.acknowledged();
      if (!pending.offerless) return;
      if (ack.body.length === 0) {
        pending.leg.rollbackOffer();
        return;
      }
      pending.leg.setRemoteSdp(ack.body.toString("utf8")).catch(() => {
        // An answer we cannot use: too late to refuse (§14.2 says end the session), so end it.
        this.hangUp("both");
      });
      return;
    }
    this.answer?.acknowledged();
  }

  /** Every stage is done: busy wins over everything else, as a person would expect. */
  private giveUp(): void {
    if (this.state !== "ringing") return;
    if (this.unanswered) {
      void this.answerUnanswered(this.unanswered);
      return;
    }
    const busy = this.failures.includes(486) || this.failures.includes(600);
    const declined = this.failures.length > 0 && this.failures.every((s) => s === 603);
    const final = busy ? 486 : declined ? 603 : 480;
    const reason = final === 480 ? "Temporarily Unavailable (no answer)" : undefined;
    if (this.preAnswered && this.aDialog) this.endpoint.request(this.aDialog.createRequest("BYE"), this.aDialog.peer);
    else this.invite.respond(createResponse(this.invite.request, final, reason, this.invite.peer, this.toTag));
    this.end(busy ? "busy" : declined ? "rejected" : "no answer");
  }

  /** The node answers the caller itself (voicemail), then hangs up unless the caller did. */
  private async answerUnanswered(handler: UnansweredHandler): Promise<void> {
    this.unanswered = null;
    this.nodeAnswered = true;
    this.ringback?.abort();
    if (!this.preAnswered) this.sendAnswer();
    this.preAnswered = true;
    this.answeredAt = new Date().toISOString();
    this.answeredBy = handler.label;
    try {
      await handler.run(this.aLeg, this.media, this.ending.signal);
    } catch {
      // The caller hung up (the media closed) or the service failed: either way the call ends.
    }
    if (this.state === "ringing") this.hangUp("a");
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
      if (response.status >= 180 && !this.sentRinging && !this.preAnswered && this.state === "ringing") {
        this.sentRinging = true;
        const ringing = createResponse(this.invite.request, 180, "Ringing", this.invite.peer, this.toTag);
        // A 1xx that makes an early dialog carries our Contact (RFC 3261 §12.1.1); SIP.js drops it otherwise.
        ringing.set("Contact", `<${this.contactFor(this.invite.peer)}>`);
        this.invite.respond(ringing);
      }
      return;
    }
    if ((response.status === 401 || response.status === 407) && this.retryWithCredentials(branch, response)) return;
    if (response.status >= 300) {
      this.onBranchFailed(branch, response.status);
      return;
    }
    const target = branch.destination.target;
    const dialog = Dialog.asCaller(branch.invite, response, target);
    branch.dialog = dialog;
    // Every 2xx is acknowledged; a late second answer is then hung up at once.
    this.endpoint.send(dialog.createRequest("ACK", inviteSeq(branch.invite)), target);
    if (this.state !== "ringing" || this.winner || this.nodeAnswered) {
      this.endpoint.request(dialog.createRequest("BYE"), target);
      return;
    }
    this.winner = branch;
    this.bDialog = dialog;
    this.ringback?.abort();
    try {
      await branch.leg.setRemoteSdp(response.body.toString("utf8"));
      await this.media.bridge(this.aLeg, branch.leg);
    } catch {
      this.endpoint.request(dialog.createRequest("BYE"), target);
      if (this.preAnswered && this.aDialog) this.endpoint.request(this.aDialog.createRequest("BYE"), this.aDialog.peer);
      else this.invite.respond(createResponse(this.invite.request, 488, undefined, this.invite.peer, this.toTag));
      this.end("failed");
      return;
    }
    for (const other of this.branches) if (other !== branch) this.endpoint.cancel(other.tx);
    this.answerCaller(branch);
  }

  /**
   * The carrier challenged our INVITE: send it again, once, with credentials (same Call-ID and
   * From tag, next CSeq). False when we have none or they were already refused.
   */
  private retryWithCredentials(
    branch: Branch,
    response: SipResponse,
    watch: (branch: Branch) => void = (b) => this.watch(b),
  ): boolean {
    const credentials = branch.destination.credentials;
    if (!credentials || branch.authenticated || this.state === "ended") return false;
    const invite = authenticatedInvite(branch.invite, response, credentials);
    if (!invite) return false;
    branch.invite = invite;
    branch.authenticated = true;
    branch.tx = this.endpoint.request(invite, branch.destination.target);
    watch(branch);
    return true;
  }

  private onBranchFailed(branch: Branch, status: number): void {
    branch.leg.close();
    branch.failed = true;
    if (this.state !== "ringing" || branch.stage !== this.stage) return;
    this.failures.push(status);
    if (this.launching || this.branches.some((b) => b.stage === this.stage && !b.failed)) return;
    // Everyone in this stage said no: on to the next (a hunt group's next member), or give up.
    void this.nextStage();
  }

  private answerCaller(branch: Branch): void {
    this.state = "answered";
    this.answeredAt = new Date().toISOString();
    this.answeredBy = branch.destination.label;
    if (!this.preAnswered) this.sendAnswer();
    this.answered?.({
      caller: this.aLeg,
      callee: branch.leg,
      media: this.media,
      calleeIsTrunk: branch.destination.trunk,
      record: { callId: this.invite.request.callId, direction: this.direction, from: this.caller, to: this.callee },
    });
  }

  /** An extension calling out through the carrier is outbound. */
  private get direction(): CallRecord["direction"] {
    return this.origin.direction === "internal" && this.winner?.destination.trunk ? "outbound" : this.origin.direction;
  }

  /** Our 2xx to the caller, with our SDP; no ACK for it means the caller is gone: both sides end. */
  private sendAnswer(): void {
    this.answer = new AnsweredInvite(
      this.endpoint,
      this.invite,
      this.toTag,
      this.contactFor(this.invite.peer),
      this.aLeg.localSdp(),
      () => this.hangUp("both"),
    );
    this.aDialog = this.answer.dialog;
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
    this.ending.abort();
    this.answer?.stop();
    this.ringback?.abort();
    for (const pending of this.reinvites.values()) pending.ok?.stop();
    clearTimeout(this.ringTimer);
    void this.report(disposition);
  }

  /** The call record, once the legs' last packet counts are read (WebRTC counters are sampled). */
  private async report(disposition: Disposition): Promise<void> {
    const legs = this.winner ? [this.aLeg, this.winner.leg] : [this.aLeg];
    await Promise.all(legs.map((leg) => leg.settleStats().catch(() => undefined)));
    const counts = (leg: MediaLeg) => {
      const { packets } = leg.stats();
      return { sent: packets.fromFarEnd, received: packets.toFarEnd };
    };
    const media: CallMediaCounts = { caller: counts(this.aLeg), callee: this.winner ? counts(this.winner.leg) : null };
    if (!this.handedOver) for (const session of [this.media, ...this.joinedMedia]) session.close();
    this.emit(
      "ended",
      {
        callId: this.invite.request.callId,
        direction: this.direction,
        from: this.caller,
        to: this.callee,
        routeId: this.origin.direction === "inbound" ? this.origin.routeId : null,
        startedAt: this.startedAt,
        answeredAt: this.answeredAt,
        endedAt: new Date().toISOString(),
        disposition: this.answeredAt ? "answered" : disposition,
        answeredBy: this.answeredBy,
        recordingId: this.recordingId,
      },
      media,
    );
  }

  /** Sends the INVITE of a new outgoing branch (`stage` -1: a transfer's) with the leg's offer. */
  private launch(destination: Destination, leg: MediaLeg, stage: number): Branch {
    const invite = outgoingInvite(destination, leg.localSdp(), this.contactFor(destination.target));
    const branch: Branch = {
      destination,
      tx: this.endpoint.request(invite, destination.target),
      leg,
      invite,
      dialog: null,
      authenticated: false,
      stage,
      failed: false,
    };
    this.branches.push(branch);
    return branch;
  }
}

/** Why SDP was refused, for a Warning header: the SdpError's message, without quotes or line breaks. */
function sdpProblem(error: unknown): string {
  const text = error instanceof Error ? error.message : "unusable SDP";
  return text.replace(/["\\\r\n]/g, "'").slice(0, 200);
}

/** A tone's cadence as G.711 frames, per codec (made once per call). */
function g711Cadence(segments: ToneSegment[]): (codec: G711) => Buffer[] {
  const samples = toneSamples(segments);
  return (codec) => g711Frames(samples, codec);
}

/** The frames `times` over (the same buffers: nothing is copied). */
function repeat(frames: Buffer[], times: number): Buffer[] {
  return Array.from({ length: Math.ceil(times) }, () => frames).flat();
}
