import { Dialog } from "../../sip/core/Dialog.ts";
import type { SipResponse } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import { type ServerTransaction, T1, T2 } from "../../sip/core/transactions/ServerTransaction.ts";

/**
 * Our 2xx with SDP to an INVITE (the first one or a re-INVITE). The UAS core (not the transaction)
 * resends the 2xx until the ACK arrives, doubling from T1 to T2, for 64·T1 (RFC 3261 §13.3.1.4);
 * no ACK by then means the far end is gone.
 */
export class InviteOk {
  readonly response: SipResponse;
  private timer: NodeJS.Timeout | undefined;
  private acked = false;

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly invite: ServerTransaction,
    toTag: string | undefined,
    contact: string,
    sdp: string,
    private readonly onNoAck: () => void,
  ) {
    const ok: SipResponse = createResponse(invite.request, 200, "OK", invite.peer, toTag);
    ok.set("Contact", `<${contact}>`);
    ok.set("Content-Type", "application/sdp");
    ok.body = Buffer.from(sdp);
    invite.respond(ok);
    this.response = ok;
    this.retransmit(ok, T1, 0);
  }

  get isAcknowledged(): boolean {
    return this.acked;
  }

  acknowledged(): void {
    this.acked = true;
    clearTimeout(this.timer);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private retransmit(ok: SipResponse, interval: number, elapsed: number): void {
    this.timer = setTimeout(() => {
      if (this.acked) return;
      if (elapsed + interval >= 64 * T1) {
        this.onNoAck();
        return;
      }
      this.endpoint.send(ok, this.invite.peer);
      this.retransmit(ok, Math.min(interval * 2, T2), elapsed + interval);
    }, interval);
    this.timer.unref();
  }
}

/** Our 2xx to a dialog-creating INVITE, and the dialog it makes (RFC 3261 §12.1.1). */
export class AnsweredInvite extends InviteOk {
  readonly dialog: Dialog;

  constructor(
    endpoint: SipEndpoint,
    invite: ServerTransaction,
    toTag: string,
    contact: string,
    sdp: string,
    onNoAck: () => void,
  ) {
    super(endpoint, invite, toTag, contact, sdp, onNoAck);
    this.dialog = Dialog.asCallee(invite.request, this.response, invite.peer);
  }
}
