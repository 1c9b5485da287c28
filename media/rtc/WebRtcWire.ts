import type { types } from "mediasoup";
import { LegWire, type WireMedia, type WirePackets } from "./LegWire.ts";
import type { PortRange } from "./MediaEngine.ts";
import type { RtpShimStats } from "./RtpShim.ts";
import { type DtlsSetup, SdpError, type WebRtcLocal, type WebRtcRemote } from "./sdp.ts";

/** How often mediasoup's counters are read for the call record (they are only counters). */
const STATS_INTERVAL_MS = 1000;

/**
 * A WebRTC far end (the PWA softphone, any browser): a mediasoup WebRtcTransport on the media IP.
 * mediasoup is ICE-lite and speaks DTLS-SRTP itself, so nothing stands in between; the browser
 * announces its SSRC in SDP (a=ssrc), which the Producer routes by.
 */
export class WebRtcWire extends LegWire {
  readonly profile = "UDP/TLS/RTP/SAVPF" as const;
  private remote: WebRtcRemote | null = null;
  private connected = false;
  private streams: { producer: types.Producer | null; consumer: types.Consumer | null } = {
    producer: null,
    consumer: null,
  };
  /** Packets counted on Producers/Consumers already replaced, and the latest reading of the current ones. */
  private base: WirePackets = { fromFarEnd: 0, toFarEnd: 0 };
  private current: WirePackets = { fromFarEnd: 0, toFarEnd: 0 };
  private readonly timer: NodeJS.Timeout;
  /** Used until the far end's SDP names its SSRC (it sends nothing before that anyway). */
  private readonly placeholderSsrc = (Math.random() * 2 ** 32) >>> 0;

  private constructor(readonly transport: types.WebRtcTransport) {
    super();
    this.timer = setInterval(() => void this.readCounters(), STATS_INTERVAL_MS);
    this.timer.unref();
  }

  static async open(
    router: types.Router,
    options: { listenIp: string; mediaIp: string; ports: PortRange },
  ): Promise<WebRtcWire> {
    const transport = await router.createWebRtcTransport({
      listenInfos: [
        {
          protocol: "udp",
          ip: options.listenIp,
          ...(options.mediaIp !== options.listenIp ? { announcedAddress: options.mediaIp } : {}),
          portRange: options.ports,
        },
      ],
      enableUdp: true,
      enableTcp: false,
      initialAvailableOutgoingBitrate: 100_000,
    });
    return new WebRtcWire(transport);
  }

  get port(): number {
    return this.transport.iceCandidates[0]?.port ?? 9;
  }

  producerSsrc(): number {
    return this.remote?.ssrc ?? this.placeholderSsrc;
  }

  async configure(media: WireMedia): Promise<void> {
    const remote = media.remote.webrtc;
    if (!remote) throw new SdpError("unsupported", "a WebRTC leg got a plain RTP description");
    const previous = this.remote;
    if (previous && previous.fingerprint.value !== remote.fingerprint.value)
      throw new SdpError("unsupported", "a new DTLS certificate mid-call (renegotiating DTLS is not supported)");
    this.remote = remote;
    if (this.connected) return;
    // Our role is the opposite of the far end's; to its actpass offer we answer active (RFC 5763 §5).
    const role = remote.setup === "passive" || remote.setup === "actpass" ? "server" : "client";
    await this.transport.connect({
      dtlsParameters: {
        role,
        fingerprints: [{ algorithm: remote.fingerprint.algorithm, value: remote.fingerprint.value }],
      },
    });
    this.connected = true;
  }

  localWebRtc(options: { mid: string; answering: boolean; consumer: types.Consumer | null }): WebRtcLocal {
    const fingerprint =
      this.transport.dtlsParameters.fingerprints.find((f) => f.algorithm === "sha-256") ??
      this.transport.dtlsParameters.fingerprints[0];
    if (!fingerprint) throw new Error("the WebRtcTransport has no DTLS fingerprint");
    const setup = ourSetup(
      options.answering || this.connected ? (this.remote?.setup ?? null) : null,
      this.connected ? this.transport.dtlsParameters.role : undefined,
    );
    const ssrc = options.consumer?.rtpParameters.encodings?.[0]?.ssrc;
    const cname = options.consumer?.rtpParameters.rtcp?.cname;
    return {
      iceUfrag: this.transport.iceParameters.usernameFragment,
      icePwd: this.transport.iceParameters.password,
      candidates: this.transport.iceCandidates.map((c) => ({
        foundation: c.foundation,
        priority: c.priority,
        ip: c.address,
        port: c.port,
        protocol: c.protocol,
      })),
      fingerprint: { algorithm: fingerprint.algorithm, value: fingerprint.value },
      setup,
      mid: options.mid,
      ssrc: ssrc ? { id: ssrc, cname: cname ?? "edgepbx" } : null,
    };
  }

  /** RFC 4733 from and to browsers is not relayed yet (the PWA softphone's DTMF, #5). */
  injectTelephoneEvent(): void {}

  override watch(streams: { producer: types.Producer | null; consumer: types.Consumer | null }): void {
    if (streams.producer !== this.streams.producer) {
      this.base.fromFarEnd += this.current.fromFarEnd;
      this.current.fromFarEnd = 0;
    }
    if (streams.consumer !== this.streams.consumer) {
      this.base.toFarEnd += this.current.toFarEnd;
      this.current.toFarEnd = 0;
    }
    this.streams = { ...streams };
  }

  packets(): WirePackets {
    return {
      fromFarEnd: this.base.fromFarEnd + this.current.fromFarEnd,
      toFarEnd: this.base.toFarEnd + this.current.toFarEnd,
    };
  }

  shimStats(): RtpShimStats | null {
    return null;
  }

  /** ICE and DTLS state, for diagnostics and tests. */
  get state(): { ice: types.IceState; dtls: types.DtlsState } {
    return { ice: this.transport.iceState, dtls: this.transport.dtlsState };
  }

  close(): void {
    clearInterval(this.timer);
    this.transport.close();
    this.removeAllListeners();
  }

  override refreshPackets(): Promise<void> {
    return this.readCounters();
  }

  private async readCounters(): Promise<void> {
    const { producer, consumer } = this.streams;
    try {
      if (producer && !producer.closed) {
        const count = (await producer.getStats()).reduce((sum, s) => sum + (s.packetCount ?? 0), 0);
        if (producer === this.streams.producer) this.current.fromFarEnd = count;
      }
      if (consumer && !consumer.closed) {
        const stats = await consumer.getStats();
        const count = stats.filter((s) => s.type === "outbound-rtp").reduce((sum, s) => sum + (s.packetCount ?? 0), 0);
        if (consumer === this.streams.consumer) this.current.toFarEnd = count;
      }
    } catch {
      // Closed between the check and the read: the last reading stands.
    }
  }
}

/**
 * Our a=setup: actpass in a first offer (null: nothing agreed yet); else the opposite of the far
 * end's role, and active towards its actpass (RFC 5763 §5). Once DTLS is set up (`local`: the
 * role mediasoup took), answers keep it: browsers re-offer actpass (hold, resume) and refuse an
 * answer that would swap roles on the live transport (RFC 8842 §5.5, JSEP §5.3.2).
 */
function ourSetup(remote: DtlsSetup | null, local?: types.DtlsRole): DtlsSetup {
  if (remote === null) return "actpass";
  if (local === "client") return "active";
  if (local === "server") return "passive";
  return remote === "active" ? "passive" : "active";
}
