import type { Peer, Transport } from "../../platform/transport.ts";
import type { SipRequest, SipResponse } from "../message.ts";

/** RFC 3261 §17.1.1.1 timer values. */
export const T1 = 500;
export const T2 = 4000;
export const T4 = 5000;

export type ServerTransactionState = "trying" | "proceeding" | "completed" | "confirmed" | "terminated";

/**
 * A server transaction (RFC 3261 §17.2): absorbs retransmitted requests by repeating the last
 * response, and for INVITE retransmits a final error until the ACK arrives.
 */
export class ServerTransaction {
  state: ServerTransactionState;
  lastResponse: SipResponse | null = null;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly peer: Peer,
    private readonly transport: Transport,
    private readonly onTerminated: (tx: ServerTransaction) => void,
    /**
     * Takes over a completed non-INVITE transaction over UDP: for Timer J only its final response
     * bytes are needed, so the endpoint keeps those and this object can go.
     */
    private readonly onCompletedUdp?: (tx: ServerTransaction, finalResponse: Buffer) => void,
  ) {
    this.state = request.method === "INVITE" ? "proceeding" : "trying";
  }

  get isInvite(): boolean {
    return this.request.method === "INVITE";
  }

  respond(response: SipResponse): void {
    if (this.state === "completed" || this.state === "confirmed" || this.state === "terminated") return;
    this.lastResponse = response;
    const bytes = response.toBuffer();
    this.transport.send(bytes, this.peer);
    if (response.status < 200) {
      this.state = "proceeding";
      return;
    }
    if (this.isInvite) {
      // 2xx ends the transaction; the dialog layer retransmits it until ACK (§13.3.1.4).
      if (response.status < 300) {
        this.terminate();
        return;
      }
      this.state = "completed";
      if (!this.transport.reliable) this.retransmitUntilAck(T1);
      this.later(64 * T1, () => this.terminate()); // Timer H: no ACK came
    } else if (!this.transport.reliable && this.onCompletedUdp) {
      this.onCompletedUdp(this, bytes); // Timer J runs at the endpoint, on the bytes alone
      this.terminate();
    } else {
      this.state = "completed";
      this.later(this.transport.reliable ? 0 : 64 * T1, () => this.terminate()); // Timer J
    }
  }

  /** The same request again: repeat what we said last. */
  receiveRetransmission(): void {
    if (this.lastResponse && this.state !== "terminated" && this.state !== "confirmed") this.send(this.lastResponse);
  }

  /** ACK for a final error response of an INVITE. */
  receiveAck(): void {
    if (!this.isInvite || this.state !== "completed") return;
    this.state = "confirmed";
    this.clearTimers();
    this.later(this.transport.reliable ? 0 : T4, () => this.terminate()); // Timer I
  }

  terminate(): void {
    if (this.state === "terminated") return;
    this.state = "terminated";
    this.clearTimers();
    this.onTerminated(this);
  }

  private retransmitUntilAck(interval: number): void {
    this.later(interval, () => {
      if (this.state !== "completed" || !this.lastResponse) return;
      this.send(this.lastResponse);
      this.retransmitUntilAck(Math.min(interval * 2, T2)); // Timer G
    });
  }

  private send(response: SipResponse): void {
    this.transport.send(response.toBuffer(), this.peer);
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(fn, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }
}
