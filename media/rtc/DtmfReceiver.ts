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

/** RFC 4733 event codes of the keys (0-9, *, #, A-D) and flash (16). */
export function dtmfEventCode(digit: string): number | null {
  if (digit.toLowerCase() === "flash") return 16;
  const code = DIGITS.indexOf(digit.toUpperCase());
  return digit.length === 1 && code >= 0 ? code : null;
}

/**
 * The telephone-event payloads of one key press made here (a key that arrived by SIP INFO):
 * one every 50 ms with the duration so far, then the end three times (RFC 4733 §2.5.1.4).
 */
export function keyPressPayloads(code: number, durationMs: number, clockRate = 8000): Buffer[] {
  const total = Math.max(1, Math.round((Math.min(durationMs, 5000) * clockRate) / 1000));
  const step = (50 * clockRate) / 1000;
  const payload = (duration: number, end: boolean) => {
    const out = Buffer.alloc(4);
    out.writeUInt8(code, 0);
    out.writeUInt8((end ? 0x80 : 0) | 10, 1); // volume -10 dBm0
    out.writeUInt16BE(Math.min(duration, 0xffff), 2);
    return out;
  };
  const payloads: Buffer[] = [];
  for (let duration = step; duration < total; duration += step) payloads.push(payload(duration, false));
  for (let i = 0; i < 3; i++) payloads.push(payload(total, true));
  return payloads;
}
