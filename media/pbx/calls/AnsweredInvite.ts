import { Dialog } from "../../sip/core/Dialog.ts";
import type { SipResponse } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import { type ServerTransaction, T1, T2 } from "../../sip/core/transactions/ServerTransaction.ts";

/**
 * Our 2xx to an incoming INVITE and the dialog it makes. The UAS core (not the transaction) resends
 * the 2xx until the ACK arrives, doubling from T1 to T2, for 64·T1 (RFC 3261 §13.3.1.4); no ACK
 * by then means the caller is gone.
 */
export class AnsweredInvite {
  readonly dialog: Dialog;
  private timer: NodeJS.Timeout | undefined;
  private acked = false;

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly invite: ServerTransaction,
    toTag: string,
    contact: string,
    sdp: string,
    private readonly onNoAck: () => void,
  ) {
    const ok: SipResponse = createResponse(invite.request, 200, "OK", invite.peer, toTag);
    ok.set("Contact", `<${contact}>`);
    ok.set("Content-Type", "application/sdp");
    ok.body = Buffer.from(sdp);
    invite.respond(ok);
    this.dialog = Dialog.asCallee(invite.request, ok, invite.peer);
    this.retransmit(ok, T1, 0);
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
