import { EnhancedEventEmitter } from "../common/EnhancedEventEmitter.ts";
import type { DtmfEvent, TelephoneEventPacket } from "./RtpShim.ts";

const DIGITS = "0123456789*#ABCD";

export type DtmfReceiverEvents = {
  /** Once at key-down (end false), once at the end (end true). */
  dtmf: [DtmfEvent];
  /** Every packet of a key press, for the other leg (its far end expects the redundancy). */
  telephoneevent: [TelephoneEventPacket];
};

interface KeyPress {
  key: string;
  event: number;
  duration: number;
  volume: number;
  ended: boolean;
  lastPacketAt: number;
}

/**
 * RFC 4733 telephone-event packets of one far end turned into key presses: one `dtmf` at
 * key-down and one at the end, however many packets (the end is sent three times, §2.5.1.4); a
 * key press whose end packets were all lost ends after some silence.
 */
export class DtmfReceiver extends EnhancedEventEmitter<DtmfReceiverEvents> {
  private current: KeyPress | null = null;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    /** The clock of the stream's timestamps and durations (8000 for telephone-event/8000). */
    private readonly clockRate: () => number,
    private readonly endTimeoutMs = 800,
  ) {
    super();
  }

  /**
   * One RTP packet's telephone-event payload (padding removed). "malformed": shorter than an
   * event; "not-dtmf": an RFC 4734 tone, not a key (we announce events 0-16 only).
   */
  receive(
    payload: Buffer,
    ssrc: number,
    timestamp: number,
    now = performance.now(),
  ): "dtmf" | "malformed" | "not-dtmf" {
    if (payload.length < 4) return "malformed";
    const code = payload.readUInt8(0);
    if (code > 16) return "not-dtmf";
    const end = (payload.readUInt8(1) & 0x80) !== 0;
    const key = `${ssrc}:${timestamp}`;
    let current = this.current;
    if (current?.key !== key) {
      if (current && !current.ended) this.end(current, true);
      const volume = payload.readUInt8(1) & 0x3f;
      current = { key, event: code, duration: payload.readUInt16BE(2), volume, ended: false, lastPacketAt: now };
      this.current = current;
      this.emitDtmf(current, false);
    }
    current.lastPacketAt = now;
    current.duration = Math.max(current.duration, payload.readUInt16BE(2));
    if (end && !current.ended) this.end(current, false);
    else if (!current.ended) this.watchEnd();
    this.safeEmit("telephoneevent", { key, payload: Buffer.from(payload), end });
    return "dtmf";
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.removeAllListeners();
  }

  private end(press: KeyPress, inferred: boolean): void {
    press.ended = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.emitDtmf(press, true, inferred);
  }

  private emitDtmf(press: KeyPress, end: boolean, inferred = false): void {
    this.safeEmit("dtmf", {
      digit: press.event === 16 ? "flash" : (DIGITS[press.event] ?? "?"),
      event: press.event,
      end,
      duration: press.duration,
      durationMs: Math.round((press.duration * 1000) / this.clockRate()),
      volume: press.volume,
      ...(inferred ? { inferred } : {}),
    });
  }

  private watchEnd(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const current = this.current;
      if (!current || current.ended || this.closed) return;
      if (performance.now() - current.lastPacketAt >= this.endTimeoutMs) this.end(current, true);
      else this.watchEnd();
    }, this.endTimeoutMs);
    this.timer.unref();
  }
}
