import { EventEmitter } from "node:events";
import type { Peer, Transport } from "../../platform/transport.ts";
import type { SipRequest, SipResponse } from "../message.ts";
import { T1, T2, T4 } from "./ServerTransaction.ts";

export type ClientTransactionState = "calling" | "trying" | "proceeding" | "completed" | "terminated";

interface ClientTransactionEvents {
  /** Every response that the TU should see (retransmissions of a final response are absorbed). */
  response: [response: SipResponse];
  /** Timer B or F fired: no final response in 64·T1 (RFC 3261 §17.1.1.2, §17.1.2.2). */
  timeout: [];
  terminated: [];
}

/**
 * A client transaction (RFC 3261 §17.1): retransmits the request over UDP (Timers A/E), gives up
 * after 64·T1 (B/F), and for INVITE acknowledges non-2xx finals itself (§17.1.1.3).
 */
export class ClientTransaction extends EventEmitter<ClientTransactionEvents> {
  state: ClientTransactionState;
  private ack: SipRequest | null = null;
  private retransmitTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly peer: Peer,
    private readonly transport: Transport,
  ) {
    super();
    this.state = request.method === "INVITE" ? "calling" : "trying";
  }

  get isInvite(): boolean {
    return this.request.method === "INVITE";
  }

  start(): void {
    this.send(this.request);
    if (!this.transport.reliable) this.scheduleRetransmit(T1);
    this.timeoutTimer = unrefTimeout(64 * T1, () => {
      if (this.state === "calling" || this.state === "trying" || (!this.isInvite && this.state === "proceeding")) {
        this.emit("timeout");
        this.terminate();
      }
    });
  }

  receive(response: SipResponse, buildAck: (response: SipResponse) => SipRequest): void {
    if (this.state === "terminated") return;
    if (response.status < 200) {
      if (this.state === "calling" || this.state === "trying") this.state = "proceeding";
      // A provisional answer to INVITE stops retransmissions (Timer A); non-INVITE keeps them at T2.
      if (this.isInvite) clearTimeout(this.retransmitTimer);
      this.emit("response", response);
      return;
    }
    if (this.state === "completed") {
      // A retransmitted final: for INVITE, repeat our ACK; otherwise nothing to do.
      if (this.isInvite && this.ack) this.send(this.ack);
      return;
    }
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.timeoutTimer);
    if (this.isInvite && response.status < 300) {
      // 2xx: the transaction ends; the dialog sends the ACK and absorbs 2xx retransmissions.
      this.emit("response", response);
      this.terminate();
      return;
    }
    if (this.isInvite) {
      this.ack = buildAck(response);
      this.send(this.ack);
    }
    this.state = "completed";
    this.emit("response", response);
    // Timer D (INVITE) or K: linger to absorb retransmissions.
    const linger = this.transport.reliable ? 0 : this.isInvite ? 32_000 : T4;
    this.lingerTimer = unrefTimeout(linger, () => this.terminate());
  }

  terminate(): void {
    if (this.state === "terminated") return;
    this.state = "terminated";
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.lingerTimer);
    this.emit("terminated");
  }

  private scheduleRetransmit(interval: number): void {
    this.retransmitTimer = unrefTimeout(interval, () => {
      if (this.state === "calling" || this.state === "trying" || (!this.isInvite && this.state === "proceeding")) {
        this.send(this.request);
        // Timer A doubles without a cap for INVITE; Timer E is capped at T2.
        this.scheduleRetransmit(this.isInvite ? interval * 2 : Math.min(interval * 2, T2));
      }
    });
  }

  private send(request: SipRequest): void {
    this.transport.send(request.toBuffer(), this.peer);
  }
}

function unrefTimeout(ms: number, fn: () => void): NodeJS.Timeout {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return timer;
}
