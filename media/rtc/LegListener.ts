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
 * order, decoded from G.711 and cut into 20 ms frames whatever the phone's packet time (many
 * send 30 ms: sip-tester's g711a.pcap does).
 */
export class LegListener extends EnhancedEventEmitter<LegListenerEvents> {
  private readonly jitter = new JitterBuffer();
  private closed = false;
  /** Samples in the phone's last packet: what a lost packet stood for. */
  private packetSamples = FRAME;
  /** Samples heard but not yet a whole frame, and which of them stand for lost packets. */
  private pending = new Int16Array(0);
  private pendingLost = new Uint8Array(0);

  private constructor(
    private readonly transport: types.DirectTransport,
    consumer: types.Consumer,
    codec: G711,
  ) {
    super();
    consumer.on("rtp", (packet) => {
      const header = headerLength(packet);
      if (header < 0) return;
      const payload = packet.subarray(header);
      for (const frame of this.jitter.push(packet.readUInt16BE(2), payload)) {
        if (frame?.length) this.packetSamples = frame.length;
        this.hear(frame ? decodeG711(frame, codec) : new Int16Array(this.packetSamples), frame === null);
      }
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

  /**
   * One packet's samples in order (silence for a lost one): out as 20 ms frames. A frame is marked
   * lost when all of it stands for lost packets.
   */
  private hear(samples: Int16Array, lost: boolean): void {
    if (this.pending.length === 0 && samples.length === FRAME) {
      this.safeEmit("frame", samples, lost);
      return;
    }
    const pending = new Int16Array(this.pending.length + samples.length);
    pending.set(this.pending);
    pending.set(samples, this.pending.length);
    const pendingLost = new Uint8Array(pending.length);
    pendingLost.set(this.pendingLost);
    pendingLost.fill(lost ? 1 : 0, this.pending.length);
    let at = 0;
    for (; at + FRAME <= pending.length; at += FRAME)
      this.safeEmit(
        "frame",
        pending.slice(at, at + FRAME),
        pendingLost.subarray(at, at + FRAME).every((x) => x === 1),
      );
    this.pending = pending.slice(at);
    this.pendingLost = pendingLost.slice(at);
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
