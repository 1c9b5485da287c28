import { digestAuthorization } from "../../sip/core/digest.ts";
import { parseCSeq, parseDigest, randomToken } from "../../sip/core/headers.ts";
import { SipRequest, type SipResponse } from "../../sip/core/message.ts";
import type { Peer } from "../../sip/platform/transport.ts";

/**
 * What the node needs to send an INVITE of its own to a far end: the B2BUA's outgoing branches
 * (Call) and the calls the node places itself (TrunkCall) build and authenticate them here.
 */
export interface InviteTarget {
  /** The INVITE's Request-URI. */
  uri: string;
  /** Where the INVITE is sent. */
  target: Peer;
  /** The To header value the far end sees. */
  to: string;
  /** The caller as presented to this far end (From), without tag. */
  from: string;
  /** Our credentials, for a far end that challenges us (the carrier trunk). */
  credentials?: { username: string; password: string };
  /** Extra headers for this far end (Diversion to the carrier). */
  headers?: Record<string, string>;
}

/** A new INVITE (new Call-ID and From tag, CSeq 1) offering `sdp`, with our Contact. */
export function outgoingInvite(destination: InviteTarget, sdp: string, contact: string): SipRequest {
  const invite = new SipRequest("INVITE", destination.uri);
  invite.append("From", `${destination.from};tag=${randomToken()}`);
  invite.append("To", destination.to);
  invite.append("Call-ID", `${randomToken(12)}@edgepbx`);
  invite.append("CSeq", "1 INVITE");
  invite.append("Max-Forwards", "70");
  invite.append("Contact", `<${contact}>`);
  invite.append("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY");
  for (const [name, value] of Object.entries(destination.headers ?? {})) invite.append(name, value);
  invite.append("Content-Type", "application/sdp");
  invite.body = Buffer.from(sdp);
  return invite;
}

/**
 * The INVITE again, answering the 401/407 `response` with `credentials`: same Call-ID, From tag
 * and body, the next CSeq, no Via (the transaction layer adds a new branch). Null when the
 * response carries no usable challenge.
 */
export function authenticatedInvite(
  invite: SipRequest,
  response: SipResponse,
  credentials: { username: string; password: string },
): SipRequest | null {
  const proxy = response.status === 407;
  const challenge = parseDigest(response.get(proxy ? "Proxy-Authenticate" : "WWW-Authenticate") ?? "");
  if (!challenge?.nonce) return null;
  const again = new SipRequest("INVITE", invite.uri);
  again.headers = invite.headers.filter((h) => h.key !== "via");
  again.body = invite.body;
  again.set("CSeq", `${inviteSeq(invite) + 1} INVITE`);
  again.set(
    proxy ? "Proxy-Authorization" : "Authorization",
    digestAuthorization(challenge, credentials, "INVITE", again.uri),
  );
  return again;
}

/** The CSeq number of an INVITE (which its ACK repeats). */
export function inviteSeq(invite: SipRequest): number {
  return parseCSeq(invite.get("CSeq") ?? "")?.seq ?? 1;
}
