import type { CallRecord, ConferenceParticipant } from "../../../shared/index.ts";
import { type CallDecision, decideCall, hasFreeChannel, type RuntimeState } from "../../../shared/index.ts";
import type { Logger } from "../../common/Logger.ts";
import { faxDestination } from "../../fax/destination.ts";
import type { FaxReceiver } from "../../fax/FaxReceiver.ts";
import { CallRecorder } from "../../recording/CallRecorder.ts";
import { type CallRecordings, wantsRecording } from "../../recording/CallRecordings.ts";
import { g711Frames } from "../../rtc/tones.ts";
import type { DigestAuthenticator } from "../../sip/core/digest.ts";
import { parseNameAddr, parseUri } from "../../sip/core/headers.ts";
import type { SipRequest } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import type { PromptSet } from "../../voice/PromptSet.ts";
import type { Voicemail } from "../../voicemail/Voicemail.ts";
import { authenticateExtension } from "../authenticate.ts";
import { ConferenceRoom } from "../conference/ConferenceRoom.ts";
import type { ForwardAllState } from "../ForwardAllState.ts";
import type { PbxDirectory, PbxEntry } from "../PbxDirectory.ts";
import type { Registrar } from "../Registrar.ts";
import { type TrunkSettings, trunkPeer, trunkUri } from "../trunk.ts";
import { askCode } from "./askCode.ts";
import {
  type AnsweredCall,
  Call,
  type CallMediaCounts,
  type Destination,
  RING_TIMEOUT_MS,
  type RingStage,
  type TransferPlan,
  type UnansweredHandler,
} from "./Call.ts";
import { ConferenceCall } from "./ConferenceCall.ts";
import { FaxCall } from "./FaxCall.ts";
import { FeatureCall } from "./FeatureCall.ts";
import { detectFax } from "./faxDetection.ts";
import type { CallMediaSession, MediaPlane } from "./media.ts";
import { recordMessage } from "./recordMessage.ts";
import { TrunkCall, type TrunkCallOutcome } from "./TrunkCall.ts";
import { VoicemailCall } from "./VoicemailCall.ts";

/** What call control can offer beyond ringing phones; each is optional. */
export interface CallServices {
  /** The carrier: calls from its address are inbound to DIDs; external numbers go to it. */
  trunk?: TrunkSettings | null;
  /** The node's prompts, for routes that ask the caller something. */
  prompts?: PromptSet | null;
  /** Personal voicemail: boxes, messages, mail. */
  voicemail?: Voicemail | null;
  /** How long an extension rings before its voicemail answers (default RING_TIMEOUT_MS). */
  ringTimeoutMs?: number;
  /** Someone joined or left a conference room (the portal shows who is in it). */
  onConference?: (pbxId: string, roomId: string, participants: ConferenceParticipant[]) => void;
  /** Call recordings (uploaded to the edge); without them no call is recorded. */
  recordings?: CallRecordings | null;
  /** Fax reception (Virtual FAX routes, faxes heard on voice routes); without it fax routes refuse calls. */
  fax?: FaxReceiver | null;
}

/** A caller as the far ends we ring see it. */
interface CallerIdentity {
  number: string;
  name: string;
}

/**
 * Call control: every new INVITE is authenticated (digest, 407), decided by the shared dial plan
 * and carried out as a B2BUA call; in-dialog requests, ACKs and CANCELs find their call here.
 */
export class CallControl {
  /** Calls by the Call-ID of every leg (the caller's and each outgoing branch's). */
  private readonly calls = new Map<string, CarriedCall>();
  /** Conference rooms in progress, by PBX and room id. */
  private readonly rooms = new Map<string, ConferenceRoom>();
  private readonly trunk: TrunkSettings | null;
  private readonly prompts: PromptSet | null;
  private readonly voicemail: Voicemail | null;
  private readonly ringTimeoutMs: number;
  private readonly onConference: NonNullable<CallServices["onConference"]>;
  private readonly recordings: CallRecordings | null;
  private readonly fax: FaxReceiver | null;

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly directory: PbxDirectory,
    private readonly registrar: Registrar,
    private readonly digest: DigestAuthenticator,
    private readonly media: MediaPlane,
    private readonly onRecord: (pbxId: string, record: CallRecord, media: CallMediaCounts) => void,
    private readonly logger: Logger,
    /** Call Forward All destinations (set by dial code, kept by the edge). */
    private readonly forwardAll: ForwardAllState,
    services: CallServices = {},
  ) {
    this.trunk = services.trunk ?? null;
    this.prompts = services.prompts ?? null;
    this.voicemail = services.voicemail ?? null;
    this.ringTimeoutMs = services.ringTimeoutMs ?? RING_TIMEOUT_MS;
    this.onConference = services.onConference ?? (() => {});
    this.recordings = services.recordings ?? null;
    this.fax = services.fax ?? null;
    endpoint.on("ack", (request) => this.callFor(request)?.acknowledged(request));
    endpoint.on("cancel", (invite) => this.calls.get(invite.request.callId)?.cancelled());
    // A late 2xx from a branch (after we sent CANCEL) must still be acknowledged and hung up.
    endpoint.on("response", (response) => this.calls.get(response.callId)?.lateResponse(response));
  }

  get activeCalls(): number {
    return new Set(this.calls.values()).size;
  }

  /** In-dialog requests of a call we carry; false when the request is not ours. */
  handleInDialog(tx: ServerTransaction): boolean {
    const call = this.callFor(tx.request);
    if (!call) return false;
    call.handleInDialog(tx);
    return true;
  }

  async handleInvite(tx: ServerTransaction): Promise<void> {
    // The carrier is authenticated by its address (IP authentication), phones by digest.
    if (this.trunk && tx.peer.address === this.trunk.host) return this.inbound(tx);
    return this.internal(tx);
  }

  /**
   * A call the node places itself through the carrier (email-to-fax, media/fax/outbound): to
   * `number` with `callerId` (null: the trunk's default), holding one of the PBX's channels like
   * any trunk leg. Resolves once answered (the leg is the caller's to use and hang up) or with the
   * status that ended it; 503 when there is no trunk or every channel is in use.
   */
  async dialOut(
    pbxId: string,
    number: string,
    callerId: string | null,
    ringTimeoutMs = this.ringTimeoutMs,
  ): Promise<TrunkCallOutcome> {
    const pbx = this.directory.get(pbxId);
    if (!this.trunk || !pbx) return { answered: false, status: 503, reason: "503 no carrier trunk", local: "no trunk" };
    const noChannel = () => !hasFreeChannel(pbx.config, this.state(pbxId));
    const busy = { answered: false, status: 503, reason: "503 channel limit reached", local: "no channel" } as const;
    if (noChannel()) return busy;
    const session = await this.media.session(pbxId);
    const leg = await session.createLeg({ remoteSdp: null }).catch((error: Error) => error);
    // Checked again: calls may have taken the channels meanwhile (this one counts once tracked).
    if (leg instanceof Error || noChannel()) {
      session.close();
      return leg instanceof Error ? { answered: false, status: 503, reason: `503 ${leg.message}` } : busy;
    }
    const destination = this.toCarrier({ number, callerId, divertedFrom: null });
    const presented = callerId ?? this.trunk.defaultCallerId ?? "anonymous";
    const contact = this.contactFor(destination.target);
    const call = new TrunkCall(this.endpoint, session, leg, pbxId, destination, contact, {
      from: presented,
      to: number,
    });
    this.track(call);
    call.on("ended", (record, media) => {
      this.logger.info(`node call ${record.from} → ${record.to} on ${pbxId} ${record.disposition}`);
      this.onRecord(pbxId, record, media);
    });
    return call.dial(ringTimeoutMs);
  }

  /** A call from one of the PBX's authenticated extensions. */
  private async internal(tx: ServerTransaction): Promise<void> {
    const { request, peer } = tx;
    const reply = (status: number, reason?: string) => tx.respond(createResponse(request, status, reason, peer));
    const target = parseUri(request.uri);
    const from = parseNameAddr(request.get("From") ?? "");
    const pbx = target ? this.directory.byDomain(target.host) : undefined;
    if (!target || !pbx || !from) {
      reply(404, "Not Found (unknown domain)");
      return;
    }
    // Nothing unauthenticated goes anywhere: not to an extension, never to the trunk.
    const caller = authenticateExtension(this.digest, pbx, tx, "proxy");
    if (!caller) return;
    if (from.uri.user !== caller.number && from.uri.user !== caller.sip.username) {
      reply(403, "Forbidden (From is not the authenticated extension)");
      return;
    }
    const dialled = target.user ?? "";
    const decision = decideCall(
      pbx.config,
      { kind: "internal", from: caller.number, dialled },
      this.state(pbx.pbxId),
      new Date(),
    );
    this.logger.info(`call ${caller.number} → ${dialled} on ${pbx.pbxId}: ${decision.type} (${decision.reason})`);
    await this.carryOut(tx, pbx, decision, { number: caller.number, name: caller.name }, dialled, {
      direction: "internal",
    });
  }

  /** A call from the carrier to a DID: the PBX that owns the DID decides. */
  private async inbound(tx: ServerTransaction): Promise<void> {
    const { request, peer } = tx;
    const did = parseUri(request.uri)?.user ?? parseNameAddr(request.get("To") ?? "")?.uri.user ?? "";
    const pbx = this.directory.byDid(did);
    if (!pbx) {
      tx.respond(createResponse(request, 404, "Not Found (no such number)", peer));
      return;
    }
    const from = parseNameAddr(request.get("From") ?? "");
    const callerId = from?.uri.user && /\d/.test(from.uri.user) ? from.uri.user : null;
    const decision = decideCall(pbx.config, { kind: "inbound", did, callerId }, this.state(pbx.pbxId), new Date());
    this.logger.info(
      `inbound ${callerId ?? "withheld"} → ${did} on ${pbx.pbxId}: ${decision.type} (${decision.reason})`,
    );
    const route = "inbound" in decision ? decision.inbound : undefined;
    const name = [route?.alertName, from?.displayName ?? callerId ?? "Unknown"].filter(Boolean).join(": ");
    await this.carryOut(tx, pbx, decision, { number: callerId ?? "anonymous", name }, did, {
      direction: "inbound",
      routeId: route?.routeId ?? "",
    });
  }

  private async carryOut(
    tx: ServerTransaction,
    pbx: PbxEntry,
    decision: CallDecision,
    caller: CallerIdentity,
    dialled: string,
    origin: Call["origin"],
  ): Promise<void> {
    const { request, peer } = tx;
    const reply = (status: number, reason?: string) => tx.respond(createResponse(request, status, reason, peer));
    if (decision.type === "reject") {
      reply(decision.status, decision.phrase);
      return;
    }
    // A Virtual FAX route takes every call it is given as a fax, whatever its activity.
    const faxEmail = "inbound" in decision ? (decision.inbound?.faxEmail ?? null) : null;
    if (faxEmail && origin.direction === "inbound") {
      await this.receiveFax(tx, pbx, caller, dialled, origin.routeId);
      return;
    }
    if (decision.type === "hangup") {
      reply(480, "Temporarily Unavailable (this number takes no calls)");
      return;
    }
    const passcode = "inbound" in decision ? (decision.inbound?.passcode ?? null) : null;
    // Without prompts nobody can be asked: such a route refuses its calls, never lets them through.
    if (passcode && !this.prompts) {
      reply(480, "Temporarily Unavailable (this number asks a passcode; prompts are not available)");
      return;
    }
    if (decision.type === "setForwardAll" || decision.type === "clearForwardAll") {
      const destination = decision.type === "setForwardAll" ? decision.destination : null;
      this.forwardAll.set(pbx.pbxId, decision.routeId, destination);
      this.logger.info(
        `${pbx.pbxId}: forward-all of ${decision.did} ${destination ? `set to ${destination}` : "cleared"}`,
      );
      await this.confirm(tx, pbx);
      return;
    }
    if (decision.type === "conference") {
      await this.conference(tx, pbx, decision, caller, dialled, origin, passcode);
      return;
    }
    // An announcement is played to the caller (answered), then its next step rings or hangs up.
    const announcement = decision.type === "announcement" ? decision : null;
    if (announcement && !this.prompts) {
      reply(480, "Temporarily Unavailable (announcements are not available)");
      return;
    }
    if (decision.type === "voicemailAccess") {
      await this.voicemailAccess(tx, pbx, decision.box);
      return;
    }
    const ringing = announcement ? announcement.next : decision;
    const unanswered = this.voicemailFor(pbx, ringing, caller);
    let stages: RingStage[];
    try {
      stages = ringing.type === "hangup" ? [] : this.plan(pbx, ringing, caller);
    } catch (error) {
      reply(...(error as PlanError).response);
      return;
    }
    if (stages.length === 0 && !announcement && !unanswered) {
      reply(480, "Temporarily Unavailable (not registered)");
      return;
    }
    const answered = await this.openMedia(tx, pbx.pbxId);
    if (!answered) return;
    const call = new Call(
      this.endpoint,
      tx,
      answered.leg,
      answered.session,
      pbx.pbxId,
      caller.number,
      dialled,
      (p) => this.contactFor(p),
      origin,
    );
    this.track(call);
    call.unanswered = unanswered;
    call.answered = (answered) => void this.record(call, pbx, decision, answered);
    call.on("legs", () => this.index(call));
    call.planTransfer = (number, byExtension) => this.planTransfer(pbx, number, byExtension);
    call.findCall = (callId) => {
      const other = this.calls.get(callId);
      return other instanceof Call ? other : null;
    };
    call.on("ended", (record, media) => {
      this.logger.info(
        `call ${record.from} → ${record.to} ${record.disposition}; RTP caller ${media.caller.sent}↑ ${media.caller.received}↓` +
          (media.callee ? `, callee ${media.callee.sent}↑ ${media.callee.received}↓` : ""),
      );
      this.onRecord(pbx.pbxId, record, media);
    });
    // The caller is answered to be asked or told something; ringing starts after.
    if (passcode || announcement) {
      call.answerFirst();
      const next = await this.beforeRinging(call, answered, pbx, { caller, dialled, passcode, announcement });
      if (next === "done") return;
      if (stages.length === 0 && announcement) {
        call.endAnswered(`announcement:${announcement.name}`);
        return;
      }
    }
    // A fax calling a voice route is heard while the phones ring, and taken as fax (faxDetection.ts).
    const faxTo = this.fax && origin.direction === "inbound" ? faxDestination(pbx.config, origin.routeId) : null;
    if (this.fax && faxTo) {
      call.earlyMedia();
      const { leg, session } = answered;
      const about = { pbxId: pbx.pbxId, caller: caller.number, did: dialled, destination: faxTo };
      void detectFax({ call, leg, media: session, receiver: this.fax, logger: this.logger, ...about });
    }
    await call.ring(stages);
    this.index(call);
  }

  /**
   * Records an answered call when its PBX asks for it (wantsRecording); the recording stops when
   * the call ends and the call record names it. A call the node cannot hear (browser to browser,
   * Opus) goes on unrecorded, with the reason logged.
   */
  private async record(call: Call, pbx: PbxEntry, decision: CallDecision, answered: AnsweredCall): Promise<void> {
    if (!this.recordings || !wantsRecording(pbx.config, decision, answered.calleeIsTrunk)) return;
    const recordingId = CallRecorder.newId();
    call.recordingId = recordingId;
    const recorder = await this.recordings.start(
      {
        pbxId: pbx.pbxId,
        config: pbx.config,
        media: answered.media,
        caller: answered.caller,
        callee: answered.callee,
        call: answered.record,
      },
      recordingId,
    );
    if (!recorder) {
      call.recordingId = null;
      return;
    }
    if (call.state === "ended") void recorder.stop();
    else call.once("ended", () => void recorder.stop());
  }

  /**
   * What a caller answered first goes through before anyone rings: the route's passcode (three
   * tries, else the call is refused) and the announcement. "done" when the call is over.
   */
  private async beforeRinging(
    call: Call,
    answered: CallerMedia,
    pbx: PbxEntry,
    steps: {
      caller: CallerIdentity;
      dialled: string;
      passcode: string | null;
      announcement: Extract<CallDecision, { type: "announcement" }> | null;
    },
  ): Promise<"ring" | "done"> {
    const prompts = this.prompts;
    if (!prompts) {
      // Refused before answering (carryOut); never left answered in silence.
      call.refuse();
      return "done";
    }
    const { passcode, announcement } = steps;
    if (passcode) {
      const passed = await askCode({
        media: answered.session,
        leg: answered.leg,
        prompts,
        code: passcode,
        ask: "enter-passcode",
        wrong: "passcode-wrong",
      });
      if (call.state === "ended") return "done";
      if (!passed) {
        this.logger.info(`${pbx.pbxId}: caller ${steps.caller.number} did not give the passcode of ${steps.dialled}`);
        call.refuse();
        return "done";
      }
    }
    if (announcement) {
      const spoken = announcement.audio
        ? prompts.uploaded(pbx.pbxId, announcement.audio)
        : prompts.speech(announcement.message);
      const speech = await spoken.catch((error: Error) => {
        this.logger.error(`announcement "${announcement.name}" of ${pbx.pbxId} cannot be spoken: ${error.message}`);
        return null;
      });
      if (speech) await answered.session.play(answered.leg, (codec) => g711Frames(speech, codec)).catch(() => {});
      if (call.state === "ended") return "done";
    }
    return "ring";
  }

  /**
   * Who rings, in turn, for a decision. Decisions served elsewhere (conference, announcement) or
   * by media services still to come (voicemail) are refused with 480 here; a ring group's
   * no-answer step is appended when it is one we can ring.
   */
  private plan(pbx: PbxEntry, decision: CallDecision, caller: CallerIdentity): RingStage[] {
    const devices = (numbers: string[]) => numbers.flatMap((n) => this.devicesOf(pbx, n, caller));
    switch (decision.type) {
      case "ringExtensions":
        return [{ destinations: devices(decision.extensions), timeoutMs: this.ringTimeoutMs }];
      case "ringGroup": {
        const timeoutMs = decision.ringSeconds * 1000;
        const members: RingStage[] =
          decision.strategy === "ringAll"
            ? [{ destinations: devices(decision.members), timeoutMs }]
            : decision.members.map((member) => ({ destinations: devices([member]), timeoutMs }));
        let after: RingStage[] = [];
        try {
          after = decision.noAnswer.type === "hangup" ? [] : this.plan(pbx, decision.noAnswer, caller);
        } catch {
          // The group still rings; only its no-answer step is not available.
        }
        return [...members, ...after].filter((stage) => stage.destinations.length > 0);
      }
      case "voicemail":
        // Nobody rings: the call's unanswered handler (the box) answers at once.
        if (!this.voicemail || !this.prompts) throw new PlanError(480, "Temporarily Unavailable (no voicemail)");
        return [];
      case "external": {
        if (!this.trunk) throw new PlanError(503, "Service Unavailable (no carrier trunk)");
        return [{ destinations: [this.toCarrier(decision)], timeoutMs: this.ringTimeoutMs }];
      }
      default:
        throw new PlanError(480, `Temporarily Unavailable (${decision.type} is not available yet)`);
    }
  }

  /**
   * The voicemail box that answers when nobody does: an extension dialled directly (its own box,
   * never a ring group member's), a route to a box, or a ring group whose no-answer step is one.
   */
  private voicemailFor(pbx: PbxEntry, decision: CallDecision, caller: CallerIdentity): UnansweredHandler | null {
    const number =
      decision.type === "ringExtensions"
        ? decision.voicemailBox
        : decision.type === "voicemail"
          ? decision.box
          : decision.type === "ringGroup" && decision.noAnswer.type === "voicemail"
            ? decision.noAnswer.box
            : decision.type === "ringGroup" && decision.noAnswer.type === "ringExtensions"
              ? decision.noAnswer.voicemailBox
              : null;
    const box = number === null ? undefined : pbx.config.extensions.find((e) => e.number === number);
    const voicemail = this.voicemail;
    const prompts = this.prompts;
    if (!box?.voicemail.enabled || !voicemail || !prompts) return null;
    const where = { pbxId: pbx.pbxId, timezone: pbx.config.settings.timezone };
    return {
      label: `voicemail:${box.number}`,
      run: async (leg, media, signal) => {
        const greeting =
          (await voicemail.store.greeting(pbx.pbxId, box.number)) ?? (await standardGreeting(prompts, box.number));
        const { audio, endedBy } = await recordMessage({ media, leg, prompt: greeting, signal });
        // Under a second is a hang-up at the beep, not a message.
        if (audio.length >= 8000)
          await voicemail.deposit(where, box, { number: caller.number, name: caller.name || null }, audio);
        if (endedBy !== "hangup")
          await media.play(leg, (codec) => g711Frames(prompts.get("message-saved"), codec), signal).catch(() => {});
      },
    };
  }

  /** A call to a Virtual FAX route: the node answers it and receives the fax (FaxCall). */
  private async receiveFax(
    tx: ServerTransaction,
    pbx: PbxEntry,
    caller: CallerIdentity,
    did: string,
    routeId: string,
  ): Promise<void> {
    const destination = faxDestination(pbx.config, routeId);
    if (!this.fax || !destination) {
      tx.respond(createResponse(tx.request, 480, "Temporarily Unavailable (no fax reception)", tx.peer));
      return;
    }
    const answered = await this.openMedia(tx, pbx.pbxId);
    if (!answered) return;
    const call = new FaxCall(
      this.endpoint,
      tx,
      answered.leg,
      answered.session,
      pbx.pbxId,
      (p) => this.contactFor(p),
      this.fax,
      { caller: caller.number, did, destination },
      routeId,
    );
    this.track(call);
    call.on("ended", (record, media) => this.onRecord(pbx.pbxId, record, media));
    this.logger.info(`fax ${caller.number} → ${did} on ${pbx.pbxId}: answered as fax for ${destination.email}`);
    await call.run();
  }

  /** 777: the caller's own box, after its PIN. */
  private async voicemailAccess(tx: ServerTransaction, pbx: PbxEntry, number: string): Promise<void> {
    const box = pbx.config.extensions.find((e) => e.number === number);
    if (!box || !this.voicemail || !this.prompts) {
      tx.respond(createResponse(tx.request, 480, "Temporarily Unavailable (no voicemail)", tx.peer));
      return;
    }
    const answered = await this.openMedia(tx, pbx.pbxId);
    if (!answered) return;
    const call = new VoicemailCall(
      this.endpoint,
      tx,
      answered.leg,
      answered.session,
      { pbxId: pbx.pbxId, timezone: pbx.config.settings.timezone },
      (p) => this.contactFor(p),
      box,
      this.voicemail,
      this.prompts,
    );
    this.track(call);
    await call.run();
  }

  /** Every registered device of an extension. */
  private devicesOf(pbx: PbxEntry, extension: string, caller: CallerIdentity): Destination[] {
    const domain = pbx.config.settings.sipDomain;
    const display = caller.name.replace(/["\\]/g, "");
    return this.registrar.lookup(pbx.pbxId, extension).map((binding) => ({
      uri: binding.contact,
      target: binding.target,
      to: `<sip:${extension}@${domain}>`,
      from: `"${display}" <sip:${caller.number}@${domain}>`,
      label: binding.contact,
      trunk: false,
      // SIP over WebSocket is how browsers reach us (RFC 7118): their media is WebRTC.
      webrtc: binding.target.transport === "ws",
    }));
  }

  /** The carrier leg of a call to an external number. */
  private toCarrier(
    decision: Pick<Extract<CallDecision, { type: "external" }>, "number" | "callerId" | "divertedFrom">,
  ): Destination {
    const trunk = this.trunk as TrunkSettings;
    const presented = decision.callerId ?? trunk.defaultCallerId;
    const from = presented ? `<sip:${presented}@${trunk.host}>` : `"Anonymous" <sip:anonymous@anonymous.invalid>`;
    return {
      uri: trunkUri(trunk, decision.number),
      target: trunkPeer(trunk),
      to: `<${trunkUri(trunk, decision.number).replace(/;transport=tcp$/, "")}>`,
      from,
      label: `carrier:${decision.number}`,
      trunk: true,
      ...(trunk.credentials ? { credentials: trunk.credentials } : {}),
      // An inbound call sent back out says which of the PBX's numbers diverted it (RFC 5806).
      headers: decision.divertedFrom
        ? { Diversion: `<sip:${decision.divertedFrom}@${trunk.host}>;reason=unconditional` }
        : {},
    };
  }

  /**
   * Where a blind transfer from an extension goes: the dial plan's first stage for the number,
   * as if the extension had dialled it (so the carrier only for numbers it may call).
   */
  private planTransfer(pbx: PbxEntry, number: string, byExtension: string | null): TransferPlan {
    const extension = pbx.config.extensions.find((e) => e.number === byExtension);
    if (!extension) return { status: 403, reason: "Forbidden (only an extension transfers calls)" };
    const decision = decideCall(
      pbx.config,
      { kind: "internal", from: extension.number, dialled: number },
      this.state(pbx.pbxId),
      new Date(),
    );
    this.logger.info(
      `transfer by ${extension.number} to ${number} on ${pbx.pbxId}: ${decision.type} (${decision.reason})`,
    );
    if (decision.type === "reject") return { status: decision.status, reason: decision.phrase };
    try {
      const first = this.plan(pbx, decision, { number: extension.number, name: extension.name })[0];
      if (!first || first.destinations.length === 0) return { status: 480, reason: "Temporarily Unavailable" };
      return { destinations: first.destinations };
    } catch (error) {
      const [status, reason] = (error as PlanError).response ?? [500, "Server Internal Error"];
      return { status, reason };
    }
  }

  /** Seats the caller in a conference room (the room opens with its first participant). */
  private async conference(
    tx: ServerTransaction,
    pbx: PbxEntry,
    decision: Extract<CallDecision, { type: "conference" }>,
    caller: CallerIdentity,
    dialled: string,
    origin: Call["origin"],
    passcode: string | null,
  ): Promise<void> {
    const key = `${pbx.pbxId}/${decision.roomId}`;
    let room = this.rooms.get(key);
    if (room?.isFull) {
      tx.respond(createResponse(tx.request, 486, "Busy Here (the conference is full)", tx.peer));
      return;
    }
    const answered = await this.openMedia(tx, pbx.pbxId);
    if (!answered) return;
    // Callers who arrived together: the first one past the await opens the room for all.
    room = this.rooms.get(key);
    if (!room) {
      const opened = new ConferenceRoom(decision.name, decision.maxParticipants);
      opened.on("changed", (participants) => this.onConference(pbx.pbxId, decision.roomId, participants));
      opened.once("empty", () => {
        if (this.rooms.get(key) === opened) this.rooms.delete(key);
      });
      this.rooms.set(key, opened);
      room = opened;
    }
    const participant = new ConferenceCall(
      this.endpoint,
      tx,
      answered.leg,
      answered.session,
      pbx.pbxId,
      (p) => this.contactFor(p),
      room,
      {
        from: caller.number,
        to: dialled,
        routeId: origin.direction === "inbound" ? origin.routeId : null,
        inbound: origin.direction === "inbound",
      },
    );
    this.track(participant);
    participant.on("ended", (record, media) => {
      this.logger.info(
        `conference ${decision.name}: ${record.from} left; RTP ${media.caller.sent}↑ ${media.caller.received}↓`,
      );
      this.onRecord(pbx.pbxId, record, media);
    });
    this.logger.info(`conference ${decision.name} on ${pbx.pbxId}: ${caller.number} joins`);
    await participant.run({ passcode, pin: decision.pin, prompts: this.prompts });
  }

  /** Who is in each conference room of a PBX now (for the portal). */
  conferenceParticipants(pbxId: string): Record<string, ConferenceParticipant[]> {
    const rooms: Record<string, ConferenceParticipant[]> = {};
    for (const [key, room] of this.rooms)
      if (key.startsWith(`${pbxId}/`)) rooms[key.slice(pbxId.length + 1)] = room.participants;
    return rooms;
  }

  /** Answers a feature-code call with the confirmation tone, then hangs up. */
  private async confirm(tx: ServerTransaction, pbx: PbxEntry): Promise<void> {
    const answered = await this.openMedia(tx, pbx.pbxId);
    if (!answered) return;
    const feature = new FeatureCall(this.endpoint, tx, answered.leg, answered.session, pbx.pbxId, (p) =>
      this.contactFor(p),
    );
    this.track(feature);
    await feature.run();
  }

  /** The caller's media leg from its offer; on SDP we cannot use, 488 and null. */
  private async openMedia(tx: ServerTransaction, pbxId: string): Promise<CallerMedia | null> {
    const { request, peer } = tx;
    const session = await this.media.session(pbxId);
    try {
      const leg = await session.createLeg({
        remoteSdp: request.body.length > 0 ? request.body.toString("utf8") : null,
      });
      return { session, leg };
    } catch (error) {
      session.close();
      tx.respond(createResponse(request, 488, `Not Acceptable Here (${(error as Error).message})`.slice(0, 120), peer));
      return null;
    }
  }

  /** Indexes a call by its Call-IDs until it ends. */
  private track(call: CarriedCall): void {
    this.index(call);
    call.once("ended", () => {
      // A Call-ID another call took over (an attended transfer's callee) stays with that call.
      for (const id of call.callIds) if (this.calls.get(id) === call) this.calls.delete(id);
    });
  }

  /** Indexes a call's Call-IDs again (ringing adds branches). */
  private index(call: CarriedCall): void {
    for (const id of call.callIds) this.calls.set(id, call);
  }

  /** What the dial plan needs to know beyond the config: forward-all targets, channels in use. */
  private state(pbxId: string): RuntimeState {
    let external = 0;
    for (const call of new Set(this.calls.values())) if (call.pbxId === pbxId) external += call.trunkLegs;
    return { forwardAll: this.forwardAll.get(pbxId), activeExternalCalls: external };
  }

  /** Our Contact URI as reachable over the transport a peer uses. */
  contactFor(peer: Peer): string {
    const transport = this.endpoint.transportFor(peer.transport);
    const address = transport ? `${transport.local.address}:${transport.local.port}` : "127.0.0.1";
    return `sip:edgepbx@${address}${peer.transport === "udp" ? "" : `;transport=${peer.transport}`}`;
  }

  private callFor(request: SipRequest): CarriedCall | undefined {
    const call = this.calls.get(request.callId);
    return call?.owns(request) ? call : undefined;
  }
}

/** The caller's media session and leg, from its offer. */
interface CallerMedia {
  session: CallMediaSession;
  leg: Awaited<ReturnType<CallMediaSession["createLeg"]>>;
}

/** Whatever the node carries: a two-party call, a feature code, a conference seat, voicemail, a fax, its own call out. */
type CarriedCall = Call | FeatureCall | ConferenceCall | VoicemailCall | TrunkCall | FaxCall;

/** "Extension 101 is not available", then the standard invitation to leave a message. */
async function standardGreeting(prompts: PromptSet, box: string): Promise<Int16Array> {
  const intro = await prompts.speech(`Extension ${box.split("").join(" ")} is not available.`);
  const invitation = prompts.get("leave-message");
  const greeting = new Int16Array(intro.length + invitation.length);
  greeting.set(intro);
  greeting.set(invitation, intro.length);
  return greeting;
}

/** A decision the node cannot ring: the SIP status and reason to refuse it with. */
class PlanError extends Error {
  readonly response: [number, string];
  constructor(status: number, reason: string) {
    super(reason);
    this.response = [status, reason];
  }
}
