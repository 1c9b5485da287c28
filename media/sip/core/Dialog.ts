import type { Peer } from "../platform/transport.ts";
import { parseCSeq, parseNameAddr, randomToken } from "./headers.ts";
import { SipRequest, type SipResponse } from "./message.ts";

/**
 * A dialog (RFC 3261 §12): what both ends agreed on in INVITE and its 2xx, enough to send
 * in-dialog requests (ACK, BYE, re-INVITE) and to recognise the other side's.
 * Requests always go to `peer`, the address the other side really uses (NAT).
 */
export class Dialog {
  private localSeq: number;
  remoteSeq: number;

  private constructor(
    readonly callId: string,
    readonly localTag: string,
    readonly remoteTag: string,
    /** Our From/To URI text and theirs, as name-addr values without tags. */
    readonly localAddress: string,
    readonly remoteAddress: string,
    public remoteTarget: string,
    readonly routeSet: string[],
    readonly peer: Peer,
    localSeq: number,
    remoteSeq: number,
  ) {
    this.localSeq = localSeq;
    this.remoteSeq = remoteSeq;
  }

  /** Our side as the one that answered `invite` with `response` (a UAS dialog, §12.1.1). */
  static asCallee(invite: SipRequest, response: SipResponse, peer: Peer): Dialog {
    const from = withoutTag(invite.get("From") ?? "");
    const to = withoutTag(response.get("To") ?? "");
    return new Dialog(
      invite.callId,
      tagOf(response.get("To")) ?? randomToken(),
      tagOf(invite.get("From")) ?? "",
      to,
      from,
      contactUri(invite.get("Contact")) ?? parseNameAddr(from)?.uriText ?? invite.uri,
      invite.getAll("Record-Route"),
      peer,
      Math.floor(Math.random() * 10_000) + 1,
      parseCSeq(invite.get("CSeq") ?? "")?.seq ?? 0,
    );
  }

  /** Our side as the one that sent `invite` and got `response` (a UAC dialog, §12.1.2). */
  static asCaller(invite: SipRequest, response: SipResponse, peer: Peer): Dialog {
    return new Dialog(
      invite.callId,
      tagOf(invite.get("From")) ?? "",
      tagOf(response.get("To")) ?? "",
      withoutTag(invite.get("From") ?? ""),
      withoutTag(response.get("To") ?? ""),
      contactUri(response.get("Contact")) ?? invite.uri,
      [...response.getAll("Record-Route")].reverse(),
      peer,
      parseCSeq(invite.get("CSeq") ?? "")?.seq ?? 1,
      0,
    );
  }

  get id(): string {
    return `${this.callId}|${this.localTag}|${this.remoteTag}`;
  }

  /** A request inside the dialog; ACK reuses the INVITE's sequence number. */
  createRequest(method: string, inviteSeq?: number): SipRequest {
    const seq = method === "ACK" && inviteSeq !== undefined ? inviteSeq : ++this.localSeq;
    const request = new SipRequest(method, this.remoteTarget);
    for (const route of this.routeSet) request.append("Route", route);
    request.append("From", `${this.localAddress};tag=${this.localTag}`);
    request.append("To", `${this.remoteAddress};tag=${this.remoteTag}`);
    request.append("Call-ID", this.callId);
    request.append("CSeq", `${seq} ${method}`);
    request.append("Max-Forwards", "70");
    return request;
  }

  /** The sequence number of the next request we send (for re-INVITE ACKs). */
  get currentSeq(): number {
    return this.localSeq;
  }

  /** Whether an incoming request belongs to this dialog (§12.2.2). */
  matches(request: SipRequest): boolean {
    return (
      request.callId === this.callId &&
      tagOf(request.get("To")) === this.localTag &&
      tagOf(request.get("From")) === this.remoteTag
    );
  }
}

export function tagOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return parseNameAddr(header)?.params.tag ?? undefined;
}

function withoutTag(header: string): string {
  return header.replace(/;\s*tag=[^;]*/i, "");
}

function contactUri(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return parseNameAddr(header)?.uriText;
}
