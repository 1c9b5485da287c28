import type { types } from "mediasoup";
import { type G711, STATIC_PAYLOAD_TYPES } from "./sdp.ts";

const CLOCK_RATE = 8000;
/** Timestamp units of one 20 ms frame. */
const FRAME_TS = 160;

/**
 * The node's voice on one leg (prompts, tones, a conference's mix): a DirectTransport Producer
 * the leg consumes, fed 20 ms G.711 payloads as RTP of one continuous stream. The caller paces
 * the frames (real time); a gap in sending is a gap in the stream's timestamps, not its sequence.
 */
export class LegSpeaker {
  private seq = Math.floor(Math.random() * 0xffff);
  private readonly ts0 = (Math.random() * 2 ** 32) >>> 0;
  private readonly started = performance.now();
  private first = true;
  private lastFrame = -1;

  private constructor(
    private readonly transport: types.DirectTransport,
    private readonly producer: types.Producer,
    readonly codec: G711,
    /** The Producer's encoding routes by it: every packet carries it. */
    private readonly ssrc: number,
  ) {}

  /** A Producer on `router` for `codec`; `attach` makes the leg hear it. */
  static async open(
    router: types.Router,
    codec: G711,
    attach: (producer: types.Producer) => Promise<void>,
  ): Promise<LegSpeaker> {
    const transport = await router.createDirectTransport();
    const ssrc = (Math.random() * 2 ** 32) >>> 0;
    try {
      const producer = await transport.produce({
        kind: "audio",
        rtpParameters: {
          codecs: [{ mimeType: `audio/${codec}`, payloadType: STATIC_PAYLOAD_TYPES[codec], clockRate: CLOCK_RATE }],
          encodings: [{ ssrc }],
        },
      });
      const speaker = new LegSpeaker(transport, producer, codec, ssrc);
      await attach(producer);
      return speaker;
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  get isClosed(): boolean {
    return this.producer.closed;
  }

  /**
   * Sends one 20 ms payload, timestamped by the wall clock since the speaker opened, so that a
   * pause (nothing to say) keeps the far end's jitter buffer in time.
   */
  send(payload: Buffer): void {
    if (this.producer.closed) return;
    const frame = Math.max(this.lastFrame + 1, Math.round((performance.now() - this.started) / 20));
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    // The marker starts a talk spurt: the first packet, and the first after a pause.
    header[1] = (this.first || frame > this.lastFrame + 1 ? 0x80 : 0) | STATIC_PAYLOAD_TYPES[this.codec];
    header.writeUInt16BE(this.seq, 2);
    header.writeUInt32BE((this.ts0 + frame * FRAME_TS) >>> 0, 4);
    header.writeUInt32BE(this.ssrc, 8);
    this.producer.send(Buffer.concat([header, payload]));
    this.seq = (this.seq + 1) & 0xffff;
    this.lastFrame = frame;
    this.first = false;
  }

  close(): void {
    this.transport.close();
  }
}
