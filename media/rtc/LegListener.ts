import type { types } from "mediasoup";
import { EnhancedEventEmitter } from "../common/EnhancedEventEmitter.ts";
import { JitterBuffer } from "../voice/JitterBuffer.ts";
import { headerLength } from "./RtpShim.ts";
import type { G711 } from "./sdp.ts";
import { decodeG711 } from "./tones.ts";

/** 20 ms at 8 kHz. */
const FRAME = 160;

export type LegListenerEvents = {
  /**
   * 20 ms of what the far end says, 8 kHz linear, in order; silence where a packet was lost, with
   * `lost` true (a fax modem bridges the gap itself rather than hear the silence).
   */
  frame: [frame: Int16Array, lost: boolean];
  close: [];
};

/**
 * The node's ears on one leg (voicemail, prompts that wait for keys, the conference mixer): a
 * DirectTransport Consumer of the leg's Producer, whose packets a JitterBuffer puts back in
 * order, decoded from G.711.
 */
export class LegListener extends EnhancedEventEmitter<LegListenerEvents> {
  private readonly jitter = new JitterBuffer();
  private closed = false;

  private constructor(
    private readonly transport: types.DirectTransport,
    consumer: types.Consumer,
    codec: G711,
  ) {
    super();
    const silence = new Int16Array(FRAME);
    consumer.on("rtp", (packet) => {
      const header = headerLength(packet);
      if (header < 0) return;
      const payload = packet.subarray(header);
      for (const frame of this.jitter.push(packet.readUInt16BE(2), payload))
        this.safeEmit("frame", frame ? decodeG711(frame, codec) : silence, frame === null);
    });
    consumer.on("producerclose", () => this.close());
    transport.on("routerclose", () => this.close());
  }

  static async open(router: types.Router, producer: types.Producer, codec: G711): Promise<LegListener> {
    const transport = await router.createDirectTransport();
    try {
      const mimeType = `audio/${codec}`.toLowerCase();
      const codecs = (router.rtpCapabilities.codecs ?? []).filter((c) => c.mimeType.toLowerCase() === mimeType);
      const consumer = await transport.consume({
        producerId: producer.id,
        rtpCapabilities: { codecs, headerExtensions: [] },
      });
      return new LegListener(transport, consumer, codec);
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  /** Packets put in order, lost, late or doubled so far. */
  stats(): ReturnType<JitterBuffer["stats"]> {
    return this.jitter.stats();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
    this.safeEmit("close");
    this.removeAllListeners();
  }
}
