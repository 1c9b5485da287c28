import type { EventEmitter } from "node:events";
import type { DtmfEvent } from "../rtc/RtpShim.ts";
import { InbandDtmfDetector } from "./InbandDtmfDetector.ts";

/** What a KeyCollector listens to: a leg's `dtmf` events (RFC 4733, SIP INFO) and, optionally, its audio. */
export interface KeySource {
  leg: EventEmitter;
  /** 20 ms frames of the leg's audio, for phones that send keys as tones. */
  audio?: EventEmitter;
}

/**
 * The keys one caller presses, however they come: RFC 4733 or SIP INFO (the leg's `dtmf` events)
 * or tones in the audio. Once a leg has sent RFC 4733, its tones are ignored (some phones send
 * both, which would double every key).
 */
export class KeyCollector {
  private readonly pressed: string[] = [];
  private readonly waiters = new Set<() => void>();
  private outOfBand = false;
  private closed = false;
  private readonly detector = new InbandDtmfDetector();
  private readonly onDtmf = (event: DtmfEvent) => {
    this.outOfBand = true;
    if (!event.end) this.press(event.digit);
  };
  private readonly onFrame = (frame: Int16Array) => this.detector.push(frame);

  constructor(private readonly source: KeySource) {
    source.leg.on("dtmf", this.onDtmf);
    source.audio?.on("frame", this.onFrame);
    this.detector.on("dtmf", (event) => {
      if (!this.outOfBand && !event.end) this.press(event.digit);
    });
  }

  /** Keys pressed and not yet collected. */
  get hasKeys(): boolean {
    return this.pressed.length > 0;
  }

  /** Resolves at the next key press (for stopping a prompt the caller talks over), or on close. */
  nextKey(): Promise<void> {
    if (this.pressed.length > 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.add(resolve);
    });
  }

  /**
   * The keys up to `#` (without it), or `maxDigits` of them; null when no key comes for
   * `timeoutMs` or the collector closes. Keys pressed before the call (during a prompt) count.
   */
  async collect(options: { maxDigits: number; timeoutMs: number }): Promise<string | null> {
    let digits = "";
    for (;;) {
      const key = await this.take(options.timeoutMs);
      if (key === null) return null;
      if (key === "#") return digits;
      digits += key;
      if (digits.length >= options.maxDigits) return digits;
    }
  }

  /** Keys pressed so far and not yet collected are forgotten (a new question). */
  clear(): void {
    this.pressed.length = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.source.leg.off("dtmf", this.onDtmf);
    this.source.audio?.off("frame", this.onFrame);
    this.detector.removeAllListeners();
    this.wake();
  }

  private press(digit: string): void {
    if (this.closed) return;
    this.pressed.push(digit);
    this.wake();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter();
  }

  private async take(timeoutMs: number): Promise<string | null> {
    if (this.pressed.length === 0 && !this.closed) {
      let timer: NodeJS.Timeout | undefined;
      let wake: (() => void) | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        this.waiters.add(resolve);
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      if (wake) this.waiters.delete(wake);
    }
    return this.closed ? null : (this.pressed.shift() ?? null);
  }
}
