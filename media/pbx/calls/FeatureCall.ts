import { CONFIRMATION_TONE, g711Frames, toneSamples } from "../../rtc/tones.ts";
import { NodeCall } from "./NodeCall.ts";

interface FeatureCallEvents {
  ended: [];
}

/**
 * A call to a feature code (Call Forward All on or off): the node answers, plays the
 * confirmation tone and hangs up; the caller may hang up first.
 */
export class FeatureCall extends NodeCall<FeatureCallEvents> {
  readonly trunkLegs = 0;

  async run(): Promise<void> {
    this.answerNow();
    try {
      await this.media.play(this.leg, (codec) => g711Frames(toneSamples(CONFIRMATION_TONE), codec));
    } catch {
      // The caller hung up during the tone (the media closed): nothing left to do.
    }
    this.hangUp();
  }
  protected end(): void {
    if (this.ended) return;
    this.ended = true;
    this.answer?.stop();
    this.media.close();
    this.emit("ended");
  }
}
