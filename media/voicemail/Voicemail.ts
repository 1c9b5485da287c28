import { EventEmitter } from "node:events";
import type { Extension } from "../../shared/index.ts";
import type { Logger } from "../common/Logger.ts";
import type { VoicemailMailer } from "./VoicemailMailer.ts";
import type { VoicemailMessage, VoicemailStore } from "./VoicemailStore.ts";

/** New and saved messages in a box: what message-waiting tells the phones. */
export interface BoxCounts {
  new: number;
  saved: number;
}

interface VoicemailEvents {
  /** A box's messages changed (a message left, heard, deleted): phones get message-waiting. */
  changed: [pbxId: string, box: string, counts: BoxCounts];
}

/**
 * Personal voicemail of a node: messages kept in the store, emailed where the box owner asked
 * (and then deleted where asked), and a `changed` event whenever a box's counts change.
 */
export class Voicemail extends EventEmitter<VoicemailEvents> {
  constructor(
    readonly store: VoicemailStore,
    private readonly mailer: VoicemailMailer | null,
    private readonly logger: Logger,
  ) {
    super();
  }

  /** Keeps a message left for `box`; emails it when the box says so. */
  async deposit(
    pbx: { pbxId: string; timezone: string },
    box: Extension,
    caller: { number: string; name: string | null },
    audio: Int16Array,
  ): Promise<VoicemailMessage> {
    const message = await this.store.deposit(pbx.pbxId, box.number, {
      callerNumber: caller.number,
      callerName: caller.name,
      audio,
    });
    this.logger.info(
      `voicemail for ${box.number} on ${pbx.pbxId} from ${caller.number}: ${(message.durationMs / 1000).toFixed(1)} s`,
    );
    const { sendToEmail, deleteAfterEmail } = box.voicemail;
    const to = box.voicemail.email ?? box.email;
    if (sendToEmail && to) {
      if (!this.mailer)
        this.logger.error(`voicemail for ${box.number} on ${pbx.pbxId} kept, not emailed: no mail relay`);
      else
        try {
          await this.mailer.send(to, message, await this.store.wav(message), pbx.timezone);
          if (deleteAfterEmail) await this.store.delete(message);
        } catch (error) {
          // The message stays in the box: nothing is lost when mail fails.
          this.logger.error(`voicemail for ${box.number} on ${pbx.pbxId} not emailed: ${(error as Error).message}`);
        }
    }
    await this.changed(pbx.pbxId, box.number);
    return message;
  }

  /** Tells listeners (message-waiting) a box's current counts. */
  async changed(pbxId: string, box: string): Promise<BoxCounts> {
    const counts = await this.counts(pbxId, box);
    this.emit("changed", pbxId, box, counts);
    return counts;
  }

  async counts(pbxId: string, box: string): Promise<BoxCounts> {
    const messages = await this.store.list(pbxId, box);
    return { new: messages.new.length, saved: messages.saved.length };
  }
}
