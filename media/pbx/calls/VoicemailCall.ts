import { hashPassword, verifyPassword } from "../../../shared/crypto/password.ts";
import type { Extension } from "../../../shared/index.ts";
import { g711Frames } from "../../rtc/tones.ts";
import type { SipEndpoint } from "../../sip/core/SipEndpoint.ts";
import type { ServerTransaction } from "../../sip/core/transactions/ServerTransaction.ts";
import type { Peer } from "../../sip/platform/transport.ts";
import { KeyCollector } from "../../voice/KeyCollector.ts";
import type { PromptId, PromptSet } from "../../voice/PromptSet.ts";
import type { Voicemail } from "../../voicemail/Voicemail.ts";
import type { VoicemailMessage } from "../../voicemail/VoicemailStore.ts";
import { askCode } from "./askCode.ts";
import type { CallMediaSession, MediaLeg } from "./media.ts";
import { NodeCall } from "./NodeCall.ts";
import { recordMessage } from "./recordMessage.ts";

interface VoicemailCallEvents {
  ended: [];
}

/** How long the menu waits for a key. */
const MENU_TIMEOUT_MS = 8000;
/** New PINs: what a phone's keypad can enter, long enough to guess badly. */
const PIN = /^[0-9]{4,12}$/;

type Said = PromptId | Int16Array;

/**
 * An extension's own voicemail, dialled as 777: the PIN followed by #, then a menu: 1 hears the
 * messages (new first, then saved; each followed by 7 delete, 9 keep, 5 again), 3 records the
 * greeting, 5 changes the PIN, * ends. A new message heard becomes saved.
 */
export class VoicemailCall extends NodeCall<VoicemailCallEvents> {
  readonly trunkLegs = 0;
  private keys: KeyCollector | null = null;
  private readonly hungUp = new AbortController();
  private readonly timezone: string;

  constructor(
    endpoint: SipEndpoint,
    invite: ServerTransaction,
    leg: MediaLeg,
    media: CallMediaSession,
    pbx: { pbxId: string; timezone: string },
    contactFor: (peer: Peer) => string,
    private readonly box: Extension,
    private readonly voicemail: Voicemail,
    private readonly prompts: PromptSet,
  ) {
    super(endpoint, invite, leg, media, pbx.pbxId, contactFor);
    this.timezone = pbx.timezone;
  }

  async run(): Promise<void> {
    this.answerNow();
    const store = this.voicemail.store;
    try {
      const portalHash = this.box.voicemail.pinHash;
      const pinHash = await store.pinHash(this.pbxId, this.box.number, portalHash);
      const passed =
        pinHash !== null &&
        (await askCode({
          media: this.media,
          leg: this.leg,
          prompts: this.prompts,
          code: (entered) => verifyPassword(entered, pinHash),
          ask: "enter-pin",
          wrong: "pin-wrong",
        }));
      if (!passed || this.ended) return this.hangUp();
      const listener = await this.media.listen(this.leg);
      this.keys = new KeyCollector({ leg: this.leg, audio: listener });
      this.hungUp.signal.addEventListener("abort", () => listener.close());
      const counts = await this.voicemail.counts(this.pbxId, this.box.number);
      await this.say([await this.speech(`You have ${counts.new} new and ${counts.saved} saved messages.`)]);
      let silent = 0;
      while (!this.ended) {
        await this.say(["voicemail-menu"]);
        const key = await this.key();
        if (key === null) {
          if (++silent >= 2) break;
          continue;
        }
        silent = 0;
        if (key === "1") await this.hearMessages();
        else if (key === "3") await this.recordGreeting();
        else if (key === "5") await this.changePin(portalHash);
        else if (key === "*") break;
      }
      if (!this.ended) await this.say(["goodbye"], false);
    } catch {
      // The caller hung up mid-prompt (the media closed).
    }
    this.hangUp();
  }

  private async hearMessages(): Promise<void> {
    const { new: fresh, saved } = await this.voicemail.store.list(this.pbxId, this.box.number);
    const messages = [...fresh, ...saved];
    for (let i = 0; i < messages.length && !this.ended; i++) {
      const message = messages[i] as VoicemailMessage;
      const intro = await this.speech(
        `${message.folder === "new" ? "New" : "Saved"} message ${i + 1}, from ${spokenNumber(message.callerNumber)}, received ${this.when(message.receivedAt)}.`,
      );
      const audio = await this.voicemail.store.audio(message);
      let again = true;
      while (again && !this.ended) {
        again = false;
        await this.say([intro, audio]);
        if (message.folder === "new") {
          await this.voicemail.store.markSaved(message);
          await this.voicemail.changed(this.pbxId, this.box.number);
        }
        await this.say(["message-options"]);
        const key = await this.key();
        if (key === "5") again = true;
        else if (key === "7") {
          await this.voicemail.store.delete(message);
          await this.voicemail.changed(this.pbxId, this.box.number);
          await this.say(["message-deleted"], false);
        }
      }
    }
    if (!this.ended) await this.say(["no-more-messages"], false);
  }

  private async recordGreeting(): Promise<void> {
    this.keys?.clear();
    this.keys?.close();
    const { audio } = await recordMessage({
      media: this.media,
      leg: this.leg,
      prompt: this.prompts.get("record-greeting"),
      signal: this.hungUp.signal,
    });
    const listener = await this.media.listen(this.leg);
    this.keys = new KeyCollector({ leg: this.leg, audio: listener });
    this.hungUp.signal.addEventListener("abort", () => listener.close());
    if (this.ended || audio.length < 8000) return;
    await this.voicemail.store.setGreeting(this.pbxId, this.box.number, audio);
    await this.say(["greeting-saved"], false);
  }

  private async changePin(portalHash: string | null): Promise<void> {
    await this.say(["new-pin"]);
    const first = await this.keys?.collect({ maxDigits: 12, timeoutMs: MENU_TIMEOUT_MS });
    await this.say(["new-pin-again"]);
    const second = await this.keys?.collect({ maxDigits: 12, timeoutMs: MENU_TIMEOUT_MS });
    if (!first || first !== second || !PIN.test(first)) return this.say(["pin-unchanged"], false);
    await this.voicemail.store.setPinHash(this.pbxId, this.box.number, await hashPassword(first), portalHash);
    await this.say(["pin-changed"], false);
  }

  /** Plays prompts in turn; a key pressed stops them (the caller is answering already). */
  private async say(parts: Said[], interruptible = true): Promise<void> {
    for (const part of parts) {
      if (this.ended) return;
      const audio = typeof part === "string" ? this.prompts.get(part) : part;
      const stop = new AbortController();
      this.hungUp.signal.addEventListener("abort", () => stop.abort(), { once: true });
      if (interruptible) void this.keys?.nextKey().then(() => stop.abort());
      await this.media.play(this.leg, (codec) => g711Frames(audio, codec), stop.signal);
      stop.abort();
      if (interruptible && this.keys?.hasKeys) return;
    }
  }

  /** One key of the menu, or null after the timeout. */
  private async key(): Promise<string | null> {
    const keys = (await this.keys?.collect({ maxDigits: 1, timeoutMs: MENU_TIMEOUT_MS })) ?? null;
    // collect() stops at # without returning it: an empty answer is the # key.
    return keys === "" ? "#" : keys;
  }

  private speech(text: string): Promise<Int16Array> {
    return this.prompts.speech(text);
  }

  private when(iso: string): string {
    return new Intl.DateTimeFormat("en-US", {
      weekday: "long",
      hour: "numeric",
      minute: "2-digit",
      timeZone: this.timezone,
    }).format(new Date(iso));
  }
  protected end(): void {
    if (this.ended) return;
    this.ended = true;
    this.hungUp.abort();
    this.keys?.close();
    this.answer?.stop();
    this.media.close();
    this.emit("ended");
  }
}

/** A number read digit by digit ("1 0 1"), as people read phone numbers. */
function spokenNumber(number: string): string {
  return /^[0-9+]+$/.test(number) ? number.replace(/\+/g, "plus ").split("").join(" ") : number;
}
