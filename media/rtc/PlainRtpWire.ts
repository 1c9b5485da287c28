import type { types } from "mediasoup";
import type { Logger } from "../common/Logger.ts";
import { LegWire, type WireMedia, type WirePackets } from "./LegWire.ts";
import type { PortRange } from "./MediaEngine.ts";
import type { RtpPortPool, RtpShim, RtpShimStats, TelephoneEventPacket } from "./RtpShim.ts";
import { RtpShim as Shim } from "./RtpShim.ts";
import type { WebRtcLocal } from "./sdp.ts";

/**
 * A plain RTP far end (a desk phone, the carrier): an RTP shim on the media IP in front of a
 * PlainTransport on loopback. The shim gives mediasoup the fixed SSRC it routes by, latches the
 * phone's real source (NAT) and carries RFC 4733, which mediasoup does not forward.
 */
export class PlainRtpWire extends LegWire {
  readonly profile = "RTP/AVP" as const;

  private constructor(
    readonly transport: types.PlainTransport,
    private readonly shim: RtpShim,
  ) {
    super();
    shim.on("dtmf", (event) => this.safeEmit("dtmf", event));
    shim.on("telephoneevent", (packet) => this.safeEmit("telephoneevent", packet));
  }

  static async open(
    router: types.Router,
    options: { pool: RtpPortPool; listenIp: string; loopbackPorts: PortRange; logger: Logger },
  ): Promise<PlainRtpWire> {
    const shim = await Shim.open({ pool: options.pool, listenIp: options.listenIp, logger: options.logger });
    let transport: types.PlainTransport | undefined;
    try {
      // comedia off: we know where the shim is, and nothing else may talk to this transport.
      transport = await router.createPlainTransport({
        listenInfo: { protocol: "udp", ip: "127.0.0.1", portRange: options.loopbackPorts },
        rtcpMux: true,
        comedia: false,
      });
      const inner = shim.innerAddress;
      await transport.connect({ ip: inner.address, port: inner.port });
      await shim.attach({ address: transport.tuple.localAddress, port: transport.tuple.localPort });
      return new PlainRtpWire(transport, shim);
    } catch (error) {
      transport?.close();
      shim.close();
      throw error;
    }
  }

  get port(): number {
    return this.shim.port;
  }

  producerSsrc(): number {
    return this.shim.ssrc;
  }

  async configure(media: WireMedia): Promise<void> {
    const { remote } = media;
    this.shim.configure({
      remote: remote.address ? { address: remote.address, port: remote.port } : null,
      payloadType: media.remotePt,
      receivePayloadTypes: [...new Set([media.localPt, media.remotePt])],
      clockRate: media.clockRate,
      telephoneEventPt: remote.telephoneEventPt,
      receiveTelephoneEventPts: [
        ...new Set([remote.telephoneEventPt ?? media.defaultTelephoneEventPt, media.defaultTelephoneEventPt]),
      ],
      sending: media.sending,
      receiving: media.receiving,
    });
  }

  localWebRtc(): WebRtcLocal | null {
    return null;
  }

  injectTelephoneEvent(packet: TelephoneEventPacket): void {
    this.shim.injectTelephoneEvent(packet);
  }

  packets(): WirePackets {
    const { phoneToMediasoup, mediasoupToPhone } = this.shim.stats();
    return { fromFarEnd: phoneToMediasoup.received, toFarEnd: mediasoupToPhone.sent };
  }

  shimStats(): RtpShimStats {
    return this.shim.stats();
  }

  close(): void {
    this.transport.close();
    this.shim.close();
    this.removeAllListeners();
  }
}
