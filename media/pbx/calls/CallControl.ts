import type { CallRecord } from "../../../shared/index.ts";
import { type CallDecision, decideCall, type RuntimeState } from "../../../shared/index.ts";
import type { Logger } from "../../common/Logger.ts";
import type { DigestAuthenticator } from "../../sip/core/digest.ts";
import { parseNameAddr, parseUri } from "../../sip/core/headers.ts";
import type { SipRequest } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import { authenticateExtension } from "../authenticate.ts";
import type { PbxDirectory, PbxEntry } from "../PbxDirectory.ts";
import type { Registrar } from "../Registrar.ts";
import { Call, type CallMediaCounts } from "./Call.ts";
import type { MediaPlane } from "./media.ts";

/**
 * Call control: every new INVITE is authenticated (digest, 407), decided by the shared dial plan
 * and carried out as a B2BUA call; in-dialog requests, ACKs and CANCELs find their call here.
 */
export class CallControl {
  /** Calls by the Call-ID of every leg (the caller's and each outgoing branch's). */
  private readonly calls = new Map<string, Call>();
  /** Call Forward All destinations per PBX and route (set by dial code; persisted later, #3). */
  private readonly forwardAll = new Map<string, Record<string, string | null>>();

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly directory: PbxDirectory,
    private readonly registrar: Registrar,
    private readonly digest: DigestAuthenticator,
    private readonly media: MediaPlane,
    private readonly onRecord: (pbxId: string, record: CallRecord, media: CallMediaCounts) => void,
    private readonly logger: Logger,
    /** The carrier: calls from its address are inbound calls to DIDs (IP authentication). */
    private readonly trunk: { host: string; port: number } | null = null,
  ) {
    endpoint.on("ack", (request) => this.callFor(request)?.acknowledged());
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
    await this.carryOut(tx, pbx, decision, { number: caller.number, name: caller.name }, { direction: "internal" });
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
    await this.carryOut(
      tx,
      pbx,
      decision,
      { number: callerId ?? "anonymous", name },
      {
        direction: "inbound",
        routeId: route?.routeId ?? "",
      },
    );
  }

  private async carryOut(
    tx: ServerTransaction,
    pbx: PbxEntry,
    decision: CallDecision,
    caller: { number: string; name: string },
    origin: Call["origin"],
  ): Promise<void> {
    const { request, peer } = tx;
    const reply = (status: number, reason?: string) => tx.respond(createResponse(request, status, reason, peer));
    if (decision.type === "reject") {
      reply(decision.status, decision.phrase);
      return;
    }
    if (decision.type !== "ringExtensions") {
      // Ring groups, conferences, voicemail, the trunk and forward-all come with the next steps of #3.
      reply(480, `Temporarily Unavailable (${decision.type} not available yet)`);
      return;
    }
    const bindings = decision.extensions.flatMap((number) => this.registrar.lookup(pbx.pbxId, number));
    if (bindings.length === 0) {
      reply(480, "Temporarily Unavailable (not registered)");
      return;
    }
    const session = await this.media.session(pbx.pbxId);
    let aLeg: Awaited<ReturnType<typeof session.createLeg>>;
    try {
      aLeg = await session.createLeg({ remoteSdp: request.body.length > 0 ? request.body.toString("utf8") : null });
    } catch (error) {
      session.close();
      reply(488, `Not Acceptable Here (${(error as Error).message})`.slice(0, 120));
      return;
    }
    const callee = decision.extensions[0] ?? "";
    const call = new Call(
      this.endpoint,
      tx,
      aLeg,
      session,
      pbx.pbxId,
      { ...caller, domain: pbx.config.settings.sipDomain },
      callee,
      (p) => this.contactFor(p),
      origin,
    );
    this.calls.set(request.callId, call);
    call.on("ended", (record, media) => {
      for (const id of call.callIds) this.calls.delete(id);
      this.logger.info(
        `call ${record.from} → ${record.to} ${record.disposition}; RTP caller ${media.caller.sent}↑ ${media.caller.received}↓` +
          (media.callee ? `, callee ${media.callee.sent}↑ ${media.callee.received}↓` : ""),
      );
      this.onRecord(pbx.pbxId, record, media);
    });
    await call.ring(bindings);
    for (const id of call.callIds) this.calls.set(id, call);
  }

  /** What the dial plan needs to know beyond the config: forward-all targets, channels in use. */
  private state(pbxId: string): RuntimeState {
    let external = 0;
    for (const call of new Set(this.calls.values())) if (call.pbxId === pbxId && call.usesChannel) external++;
    return { forwardAll: this.forwardAll.get(pbxId) ?? {}, activeExternalCalls: external };
  }

  /** Our Contact URI as reachable over the transport a peer uses. */
  contactFor(peer: Peer): string {
    const transport = this.endpoint.transportFor(peer.transport);
    const address = transport ? `${transport.local.address}:${transport.local.port}` : "127.0.0.1";
    return `sip:edgepbx@${address}${peer.transport === "udp" ? "" : `;transport=${peer.transport}`}`;
  }

  private callFor(request: SipRequest): Call | undefined {
    const call = this.calls.get(request.callId);
    return call?.owns(request) ? call : undefined;
  }
}
