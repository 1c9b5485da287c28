/**
 * The media of one call: its mediasoup Router and its legs. A MediaLeg is one SIP far end: its
 * wire (an RTP shim and a PlainTransport for phones, a WebRtcTransport for browsers), the Producer
 * of what the far end sends and the Consumer of what it hears, and its SDP offer/answer state.
 * bridge() makes RTP and DTMF flow between two legs, whatever their wires.
 *
 * Codec policy: mediasoup does not transcode, so both legs of a bridge use the same codec: G.711,
 * or Opus when both far ends are browsers. A leg we offer to gets the codecs the caller offered
 * (G.711 only for plain RTP); the callee's answer picks one; the caller's answer then uses that
 * same one. Until bridged, a caller's leg prefers G.711, which the node's own audio (tones,
 * prompts) is made in.
 */
import { randomUUID } from "node:crypto";
import type { types } from "mediasoup";
import { EnhancedEventEmitter } from "../common/EnhancedEventEmitter.ts";
import { dtmfEventCode, keyPressPayloads } from "./DtmfReceiver.ts";
import { LegListener } from "./LegListener.ts";
import { LegSpeaker } from "./LegSpeaker.ts";
import type { LegWire, WirePackets } from "./LegWire.ts";
import type { MediaContext } from "./MediaEngine.ts";
import { PlainRtpWire } from "./PlainRtpWire.ts";
import type { DtmfEvent, RtpShimStats } from "./RtpShim.ts";
import {
  type AudioCodec,
  answerDirection,
  CODEC_FORMATS,
  DEFAULT_TELEPHONE_EVENT_PT,
  type Direction,
  type G711,
  G711_CODECS,
  isG711,
  type MediaProfile,
  OPUS_PAYLOAD_TYPE,
  parseRemoteSdp,
  type RemoteDescription,
  type SdpCodec,
  SdpError,
  STATIC_PAYLOAD_TYPES,
  WEBRTC_CODECS,
  WEBRTC_PROFILE,
  writeLocalSdp,
} from "./sdp.ts";
import { WebRtcWire } from "./WebRtcWire.ts";

const _CLOCK_RATE = 8000;
const PTIME = 20;

export type CallMediaEvents = {
  /** The call's media ended: close() was called, or the mediasoup worker died. */
  close: [reason: string];
};

export type MediaLegEvents = {
  /** RFC 4733 from this leg's phone: once at key-down (end false), once at the end (end true). */
  dtmf: [DtmfEvent];
  close: [];
};

export interface MediaLegStats {
  id: string;
  profile: MediaProfile;
  codec: AudioCodec | null;
  /** Our direction towards the phone (from its SDP): RTP to it flows when sending, from it when receiving. */
  sending: boolean;
  receiving: boolean;
  bridged: boolean;
  packets: WirePackets;
  /** The RTP shim's counters (plain RTP legs); null for WebRTC. */
  shim: RtpShimStats | null;
}

export interface CreateLegOptions {
  /** The far end's offer, or null when we make the offer (the INVITE we send). */
  remoteSdp?: string | null;
  /** The codecs to offer (default: the caller's, else PCMU and PCMA). */
  codecs?: readonly AudioCodec[];
  /**
   * A WebRTC far end (ICE, DTLS-SRTP) rather than plain RTP. Default: what remoteSdp offers; when
   * we offer, plain RTP unless set (call control sets it for devices registered over WebSocket).
   */
  webrtc?: boolean;
}

/** One call: a Router of its own (see MediaEngine.createCall) and the legs on it. */
export class CallMedia extends EnhancedEventEmitter<CallMediaEvents> {
  readonly id = randomUUID();
  private readonly legs = new Set<MediaLeg>();
  /** Producers of other calls' Routers piped into this one (see pipeIn). */
  private readonly pipedIn = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly router: types.Router,
    private readonly context: MediaContext,
    readonly pbxId: string | null,
  ) {
    super();
    router.on("workerclose", () => this.close("mediasoup worker died"));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A leg for a far end that sent `remoteSdp` as its offer, or that we will offer to (null). */
  createLeg(options: CreateLegOptions = {}): Promise<MediaLeg> {
    return this.serial(async () => {
      this.assertOpen();
      const webrtc = options.webrtc ?? (options.remoteSdp != null && offersWebRtc(options.remoteSdp));
      const usable = webrtc ? WEBRTC_CODECS : G711_CODECS;
      const offer = [...new Set(options.codecs ?? this.offerCodecs())].filter((c) => usable.includes(c));
      if (offer.length === 0)
        throw new SdpError("no-common-codec", `no codec to offer (this leg takes ${usable.join(", ")})`);
      const { router, context } = this;
      const wire: LegWire = webrtc
        ? await WebRtcWire.open(router, {
            listenIp: context.listenIp,
            mediaIp: context.mediaIp,
            ports: context.rtpPorts,
          })
        : await PlainRtpWire.open(router, context);
      try {
        const leg = new MediaLeg(this, wire, offer, context.mediaIp);
        if (options.remoteSdp != null) await leg.applyRemoteSdp(options.remoteSdp);
        this.legs.add(leg);
        leg.on("close", () => this.legs.delete(leg));
        return leg;
      } catch (error) {
        wire.close();
        throw error;
      }
    });
  }

  /**
   * RTP flows both ways between the two legs, and each leg's DTMF is relayed to the other. Both
   * legs must have their remote SDP. A leg whose answer is not yet written (the caller's) takes
   * the other leg's codec; two legs fixed on different codecs are refused (no transcoding).
   * The legs may belong to different calls' media (an attended transfer joins two calls): each
   * then hears the other's Producer piped into its own Router.
   */
  bridge(a: MediaLeg, b: MediaLeg): Promise<void> {
    return this.serial(async () => {
      this.assertOpen();
      if (a === b) throw new Error("cannot bridge a leg to itself");
      for (const leg of [a, b]) if (leg.isClosed || leg.call.isClosed) throw new Error(`leg ${leg.id} is not open`);
      const codec = agreeCodec(a, b);
      await a.useCodec(codec);
      await b.useCodec(codec);
      await a.connectTo(b);
      await b.connectTo(a);
    });
  }

  /**
   * Plays audio made by the node to one unbridged leg: a DirectTransport Producer sends the
   * frames (20 ms of G.711 each, in the leg's codec) paced in real time. Resolves when played,
   * when `signal` aborts (the caller pressed a key, someone answered) or when the call's media closes.
   */
  async play(leg: MediaLeg, frames: (codec: G711) => Buffer[], signal?: AbortSignal): Promise<void> {
    const speaker = await this.speak(leg);
    const payloads = frames(speaker.codec);
    const started = performance.now();
    for (let i = 0; i < payloads.length && !speaker.isClosed && !this.closed && !signal?.aborted; i++) {
      speaker.send(payloads[i] as Buffer);
      // Paced against the start, so timer drift does not add up.
      const due = started + (i + 1) * PTIME - performance.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    }
    speaker.close();
  }

  /**
   * The node's voice on one unbridged leg, for audio made as it goes (a conference's mix): 20 ms
   * G.711 payloads in the leg's codec, paced by the caller. Closed with the call.
   */
  speak(leg: MediaLeg): Promise<LegSpeaker> {
    return this.serial(async () => {
      this.assertOpen();
      const codec = leg.codec;
      if (!codec) throw new Error("the leg has no codec yet");
      if (!isG711(codec)) throw new Error(`the node's audio is G.711; this leg speaks ${codec}`);
      return LegSpeaker.open(this.router, codec, (producer) => leg.hear(producer));
    });
  }

  /**
   * The node hears one leg: what its far end sends, as 20 ms frames of 8 kHz audio in order.
   * G.711 legs only (what the node decodes). Closed with the leg's Producer or the call.
   */
  listen(leg: MediaLeg): Promise<LegListener> {
    return this.serial(async () => {
      this.assertOpen();
      const codec = leg.codec;
      if (!isG711(codec)) throw new Error(`the node hears G.711; this leg speaks ${codec ?? "nothing yet"}`);
      await leg.useCodec(codec); // its Producer exists from here on
      const producer = leg.farEndProducer;
      if (!producer) throw new Error("the leg has no Producer");
      return LegListener.open(this.router, producer, codec);
    });
  }

  /**
   * Makes another call's Producer consumable in this call's Router (mediasoup pipeToRouter, with
   * a new id: both Routers may share a worker). Returns the id to consume here; once per Producer.
   */
  async pipeIn(producer: types.Producer, from: CallMedia): Promise<string> {
    if (from === this) return producer.id;
    const piped = this.pipedIn.get(producer.id);
    if (piped) return piped;
    const { pipeProducer } = await from.router.pipeToRouter({
      producerId: producer.id,
      router: this.router,
      keepId: false,
    });
    if (!pipeProducer) throw new Error("pipeToRouter gave no Producer");
    this.pipedIn.set(producer.id, pipeProducer.id);
    pipeProducer.observer.once("close", () => this.pipedIn.delete(producer.id));
    return pipeProducer.id;
  }

  /** Closes every leg and the Router; frees the shim ports. */
  close(reason = "closed"): void {
    if (this.closed) return;
    this.closed = true;
    for (const leg of [...this.legs]) leg.close();
    this.router.close();
    this.safeEmit("close", reason);
    this.removeAllListeners();
  }

  /** Runs `task` after the previous ones: SDP, bridging and leg creation never interleave. */
  serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the call's media is closed");
  }

  /** What a new leg we offer to gets: the codec already agreed in this call, else the caller's. */
  private offerCodecs(): AudioCodec[] {
    const legs = [...this.legs];
    // Bridged, or at least settled by an offer/answer (a caller whose INVITE had no SDP).
    const agreed = (legs.find((leg) => leg.isBridged && leg.codec) ?? legs.find((leg) => leg.isNegotiated))?.codec;
    if (agreed) return [agreed];
    const caller = legs.reverse().find((leg) => leg.remoteOfferedCodecs);
    return caller?.remoteOfferedCodecs ?? [...WEBRTC_CODECS];
  }
}

/** The offer's first usable audio stream is WebRTC's profile (a browser). Malformed SDP: let the parser say why. */
function offersWebRtc(sdp: string): boolean {
  try {
    return parseRemoteSdp(sdp).profile === WEBRTC_PROFILE;
  } catch {
    return false;
  }
}

function agreeCodec(a: MediaLeg, b: MediaLeg): AudioCodec {
  if (!a.codec || !b.codec) throw new Error("bridge: both legs need their remote SDP first");
  if (a.codec === b.codec) return a.codec;
  // One of them has not answered yet and can still take the other's codec.
  if (b.canUseCodec(a.codec)) return a.codec;
  if (a.canUseCodec(b.codec)) return b.codec;
  throw new SdpError(
    "no-common-codec",
    `no common codec: one leg uses ${a.codec}, the other ${b.codec} (mediasoup does not transcode)`,
  );
}

type Negotiation = "idle" | "local-offer" | "remote-offer";

/** One SIP far end of a call. Created by CallMedia.createLeg(). */
export class MediaLeg extends EnhancedEventEmitter<MediaLegEvents> {
  readonly id = randomUUID();
  private negotiation: Negotiation = "idle";
  private remote: RemoteDescription | null = null;
  /** The codec agreed with this far end, with the payload types each side uses for it. */
  private agreed: { name: AudioCodec; remotePt: number; localPt: number } | null = null;
  private localDescription: string | null = null;
  private sessionVersion = 0;
  private producer: types.Producer | null = null;
  /** Sends the peer's Producer to this leg's phone. */
  private consumer: types.Consumer | null = null;
  private peer: MediaLeg | null = null;
  private closed = false;
  private readonly sessionId = String(Math.floor(Math.random() * 2 ** 31));
  /** We sent the first offer on this leg (we are its caller). */
  private localOffered = false;
  private callerCodecs: AudioCodec[] | null = null;

  constructor(
    readonly call: CallMedia,
    private readonly wire: LegWire,
    private readonly offerCodecs: readonly AudioCodec[],
    private readonly mediaIp: string,
  ) {
    super();
    wire.on("dtmf", (event) => this.safeEmit("dtmf", event));
    // RFC 4733 never reaches mediasoup (its consumers drop it): relay it wire to wire.
    wire.on("telephoneevent", (packet) => this.peer?.wire.injectTelephoneEvent(packet));
    wire.transport.on("routerclose", () => this.close());
  }

  /** The mediasoup transport of this leg (PlainTransport or WebRtcTransport). */
  get transport(): types.Transport {
    return this.wire.transport;
  }

  /** The Producer of what the far end sends (null before its SDP is settled). */
  get farEndProducer(): types.Producer | null {
    return this.producer;
  }

  /** Plain RTP (a phone, the carrier) or WebRTC (a browser). */
  get profile(): MediaProfile {
    return this.wire.profile;
  }

  /** What this leg's far end can speak at all: Opus only over WebRTC. */
  private get usableCodecs(): readonly AudioCodec[] {
    return this.wire.profile === WEBRTC_PROFILE ? WEBRTC_CODECS : G711_CODECS;
  }

  get codec(): AudioCodec | null {
    return this.agreed?.name ?? null;
  }

  get isBridged(): boolean {
    return this.peer !== null;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** An offer/answer exchange is complete (no offer pending either way). */
  get isNegotiated(): boolean {
    return this.negotiation === "idle" && this.agreed !== null;
  }

  /** The port phones send RTP to. */
  get port(): number {
    return this.wire.port;
  }

  /** The G.711 codecs of the far end's first offer, when it made the first offer (the caller). */
  get remoteOfferedCodecs(): AudioCodec[] | null {
    return this.callerCodecs;
  }

  /**
   * Our SDP for this leg: the answer to the far end's pending offer, else our offer (the first
   * time), else the description in force (unchanged: same o= version).
   */
  localSdp(): string {
    if (this.closed) throw new Error("the media leg is closed");
    if (this.negotiation === "remote-offer" && this.remote && this.agreed) {
      const remote = this.remote;
      this.negotiation = "idle";
      return this.describe({
        codecs: [{ name: this.agreed.name, payloadType: this.agreed.localPt }],
        // Answer with the far end's own telephone-event PT (RFC 3264 §6.1), or without if it has none.
        telephoneEventPt: remote.telephoneEventPt,
        direction: answerDirection(remote.direction),
        mediaLines: remote.mediaLines,
        audioIndex: remote.audioIndex,
      });
    }
    if (this.localDescription === null) {
      this.negotiation = "local-offer";
      this.localOffered = true;
      return this.describe({
        codecs: this.offerCodecs.map((name) => ({ name, payloadType: payloadTypeOf(name) })),
        telephoneEventPt: DEFAULT_TELEPHONE_EVENT_PT,
        direction: "sendrecv",
      });
    }
    return this.localDescription;
  }

  /**
   * Our description in force, offered again (RFC 3264 §8: an unchanged offer keeps its o=
   * version); the far end's next SDP is its answer.
   */
  reoffer(): string {
    if (this.localDescription === null || this.negotiation !== "idle") return this.localSdp();
    this.negotiation = "local-offer";
    return this.localDescription;
  }

  /**
   * A new offer when what we send this far end changed under an agreed session: a WebRTC leg
   * re-bridged (a transfer) hears a new Consumer with another SSRC, which a browser ignores
   * until our SDP names it. Same m= lines, codec, direction and DTLS role; null when our
   * description is unchanged (plain RTP legs: the shim keeps one outgoing SSRC).
   */
  offerIfChanged(): string | null {
    const remote = this.remote;
    if (this.closed || !remote || !this.agreed || this.negotiation !== "idle") return null;
    const before = this.localDescription;
    const sdp = this.describe({
      codecs: [{ name: this.agreed.name, payloadType: this.agreed.localPt }],
      telephoneEventPt: remote.telephoneEventPt,
      direction: answerDirection(remote.direction),
      mediaLines: remote.mediaLines,
      audioIndex: remote.audioIndex,
    });
    if (sdp === before) return null;
    this.negotiation = "local-offer";
    return sdp;
  }

  /** A reoffer() that got no answer: back to the description in force. */
  rollbackOffer(): void {
    if (this.negotiation === "local-offer" && this.agreed) this.negotiation = "idle";
  }

  /**
   * The far end's SDP: its answer to our offer, or an offer (first INVITE, re-INVITE for hold or
   * resume). Throws SdpError (and changes nothing) on SDP we cannot use.
   */
  setRemoteSdp(sdp: string): Promise<void> {
    return this.call.serial(() => this.applyRemoteSdp(sdp));
  }

  /** setRemoteSdp without the call's queue (for CallMedia, which already holds it). */
  async applyRemoteSdp(sdp: string): Promise<void> {
    if (this.closed) throw new Error("the media leg is closed");
    const remote = parseRemoteSdp(sdp);
    if (remote.profile !== this.wire.profile)
      throw new SdpError("unsupported", `this leg speaks ${this.wire.profile}, the far end ${remote.profile}`);
    const isAnswer = this.negotiation === "local-offer";
    // Once a codec is agreed it stays (no transcoding, and the other leg is using it).
    const allowed = this.agreed ? [this.agreed.name] : isAnswer ? this.offerCodecs : this.usableCodecs;
    const preferred = this.peer?.codec ?? this.agreed?.name;
    const usable = remote.codecs.filter((c) => allowed.includes(c.name));
    // An answer's first codec is the far end's choice; to an offer we take G.711 first (see above).
    const chosen =
      (!isAnswer && preferred && remote.codecs.find((c) => c.name === preferred)) ||
      (isAnswer ? usable[0] : (usable.find((c) => isG711(c.name)) ?? usable[0]));
    if (!chosen) {
      throw new SdpError(
        "no-common-codec",
        `no common codec: the far end ${isAnswer ? "answered" : "offers"} ${remote.offeredNames.join(", ") || "nothing"}; ` +
          `this leg takes ${allowed.join(", ")}`,
      );
    }
    // The PT the phone sends with: the one of our offer, or of our answer (which mirrors its offer).
    // Once agreed it is kept: the Producer was created with it.
    const localPt =
      this.agreed?.name === chosen.name
        ? this.agreed.localPt
        : isAnswer
          ? payloadTypeOf(chosen.name)
          : chosen.payloadType;
    const codecChanged = this.agreed !== null && this.agreed.name !== chosen.name;
    if (!this.localOffered && !this.callerCodecs) this.callerCodecs = remote.codecs.map((c) => c.name);
    this.remote = remote;
    this.agreed = { name: chosen.name, remotePt: chosen.payloadType, localPt };
    this.negotiation = isAnswer ? "idle" : "remote-offer";
    if (codecChanged) await this.replaceProducer();
    await this.applyMedia();
    // A browser that renegotiated with a new track sends another SSRC: the Producer must follow.
    if (this.producer && this.producer.rtpParameters.encodings?.[0]?.ssrc !== this.wire.producerSsrc()) {
      await this.replaceProducer();
      await this.applyMedia();
    }
  }

  stats(): MediaLegStats {
    const { sending, receiving } = this.directions();
    return {
      id: this.id,
      profile: this.profile,
      codec: this.codec,
      sending,
      receiving,
      bridged: this.isBridged,
      packets: this.wire.packets(),
      shim: this.wire.shimStats(),
    };
  }

  /** Reads the wire's sampled counters now, so stats() is exact (before a call record is written). */
  settleStats(): Promise<void> {
    return this.closed ? Promise.resolve() : this.wire.refreshPackets();
  }

  /** mediasoup's own counters: what the phone sent (Producer) and what it was sent (Consumer). */
  async mediasoupStats(): Promise<{ producer: types.ProducerStat[]; consumer: types.ConsumerStat[] }> {
    const producer = this.producer && !this.producer.closed ? await this.producer.getStats() : [];
    const consumer = this.consumer && !this.consumer.closed ? await this.consumer.getStats() : [];
    return { producer, consumer };
  }

  /**
   * A key pressed at this leg's far end that came by signalling (SIP INFO) rather than RFC 4733:
   * announced as a `dtmf` event like any other, and played to the bridged peer as RFC 4733
   * (50 ms packets, the end three times). False for something that is not a key.
   */
  pressKey(digit: string, durationMs = 160): boolean {
    const code = dtmfEventCode(digit);
    if (code === null || this.closed) return false;
    const payloads = keyPressPayloads(code, durationMs);
    const key = `info:${randomUUID()}`;
    const event = (end: boolean) => ({
      digit: code === 16 ? "flash" : digit.toUpperCase(),
      event: code,
      end,
      duration: Math.round(durationMs * 8),
      durationMs,
      volume: 10,
    });
    this.safeEmit("dtmf", event(false));
    payloads.forEach((payload, i) => {
      const end = i >= payloads.length - 3;
      // The end packets go out together, as senders do; the others 50 ms apart.
      const timer = setTimeout(
        () => {
          if (!this.closed) this.peer?.wire.injectTelephoneEvent({ key, payload, end });
          if (end && i === payloads.length - 1) this.safeEmit("dtmf", event(true));
        },
        Math.min(i, payloads.length - 3) * 50,
      );
      timer.unref();
    });
    return true;
  }

  /** Frees the leg: its transport (Producer, Consumer) and shim ports; a bridged peer stops hearing it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const peer = this.peer;
    this.peer = null;
    if (peer?.peer === this) {
      peer.peer = null;
      peer.consumer?.close();
      peer.consumer = null;
    }
    this.wire.close();
    this.safeEmit("close");
    this.removeAllListeners();
  }

  /** Whether bridging may switch this leg to `codec`: its answer is not out yet and the far end offered it. */
  canUseCodec(codec: AudioCodec): boolean {
    if (this.agreed?.name === codec) return true;
    return (
      this.negotiation === "remote-offer" && !this.isBridged && !!this.remote?.codecs.some((c) => c.name === codec)
    );
  }

  /** For CallMedia.bridge: settles the codec and makes sure the Producer exists for it. */
  async useCodec(codec: AudioCodec): Promise<void> {
    if (this.agreed?.name !== codec) {
      const offered = this.remote?.codecs.find((c) => c.name === codec);
      if (!offered || !this.canUseCodec(codec)) throw new SdpError("no-common-codec", `leg cannot use ${codec}`);
      this.agreed = { name: codec, remotePt: offered.payloadType, localPt: offered.payloadType };
      await this.replaceProducer();
    }
    if (!this.producer) await this.replaceProducer();
    await this.applyMedia();
  }

  /** For CallMedia.bridge: this leg's phone hears `peer` (replacing whatever it heard). */
  async connectTo(peer: MediaLeg): Promise<void> {
    if (!peer.producer || !this.agreed) throw new Error("bridge: a leg has no producer");
    const old = this.peer;
    if (old && old !== peer && old.peer === this) {
      // Re-bridged elsewhere: the old peer stops hearing this leg.
      old.peer = null;
      old.consumer?.close();
      old.consumer = null;
    }
    await this.consume(await this.call.pipeIn(peer.producer, peer.call));
    this.peer = peer;
    await this.applyMedia();
  }

  /** For CallMedia.play: this leg's phone hears a Producer of the node itself (a tone, a prompt). */
  async hear(producer: types.Producer): Promise<void> {
    if (this.peer) throw new Error("the leg is bridged; unbridged legs only hear the node");
    await this.consume(producer.id);
    await this.applyMedia();
  }

  private async consume(producerId: string): Promise<void> {
    if (!this.agreed) throw new Error("the leg has no codec yet");
    this.consumer?.close();
    this.consumer = null;
    const mimeType = `audio/${this.agreed.name}`.toLowerCase();
    const codecs = (this.call.router.rtpCapabilities.codecs ?? []).filter((c) => c.mimeType.toLowerCase() === mimeType);
    // Only the negotiated codec, no header extensions: what a plain SIP phone can take.
    this.consumer = await this.wire.transport.consume({
      producerId,
      rtpCapabilities: { codecs, headerExtensions: [] },
    });
    this.wire.watch({ producer: this.producer, consumer: this.consumer });
  }

  private async replaceProducer(): Promise<void> {
    const agreed = this.agreed;
    if (!agreed) return;
    this.producer?.close(); // closes the peer's Consumer of it too
    this.producer = null;
    // The codec list is the negotiated codec only: the encoding's codec is the first one, and
    // packets of any other codec would be dropped by mediasoup.
    const cname = this.remote?.webrtc?.cname;
    this.producer = await this.wire.transport.produce({
      kind: "audio",
      rtpParameters: {
        codecs: [{ mimeType: `audio/${agreed.name}`, payloadType: agreed.localPt, ...CODEC_FORMATS[agreed.name] }],
        encodings: [{ ssrc: this.wire.producerSsrc() }],
        ...(cname ? { rtcp: { cname } } : {}),
      },
    });
    this.wire.watch({ producer: this.producer, consumer: this.consumer });
    const peer = this.peer;
    if (peer && !peer.closed) {
      peer.consumer = null;
      await peer.connectTo(this);
    }
  }

  /** Our directions from the far end's SDP: it holds us with sendonly/inactive or c=0.0.0.0. */
  private directions(): { sending: boolean; receiving: boolean } {
    const direction: Direction = this.remote?.direction ?? "inactive";
    return {
      sending: direction === "sendrecv" || direction === "recvonly",
      receiving: direction === "sendrecv" || direction === "sendonly",
    };
  }

  /** Pushes the negotiated state to the shim and pauses/resumes the Producer and Consumer. */
  private async applyMedia(): Promise<void> {
    const remote = this.remote;
    const agreed = this.agreed;
    if (!remote || !agreed || this.closed) return;
    const { sending, receiving } = this.directions();
    await this.wire.configure({
      remote,
      remotePt: agreed.remotePt,
      localPt: agreed.localPt,
      clockRate: CODEC_FORMATS[agreed.name].clockRate,
      defaultTelephoneEventPt: DEFAULT_TELEPHONE_EVENT_PT,
      sending,
      receiving,
    });
    // Hold: the direction the far end refuses is paused in mediasoup, not just dropped here.
    const producer = this.producer;
    if (producer && !producer.closed && producer.paused === receiving)
      await (receiving ? producer.resume() : producer.pause());
    const consumer = this.consumer;
    if (consumer && !consumer.closed && consumer.paused === sending)
      await (sending ? consumer.resume() : consumer.pause());
  }

  private describe(options: {
    codecs: SdpCodec[];
    telephoneEventPt: number | null;
    direction: Direction;
    mediaLines?: RemoteDescription["mediaLines"];
    audioIndex?: number;
  }): string {
    const answering = options.mediaLines !== undefined;
    // An answer keeps the offer's mid; our own offer names its one stream "0".
    const mid = (answering ? this.remote?.webrtc?.mid : null) ?? "0";
    const webrtc = this.wire.localWebRtc({ mid, answering, consumer: this.consumer });
    const write = (version: number) =>
      writeLocalSdp({
        sessionId: this.sessionId,
        sessionVersion: version,
        address: this.mediaIp,
        port: this.wire.port,
        ptime: PTIME,
        ...options,
        ...(webrtc ? { webrtc } : {}),
      });
    // The o= version changes only when the description does (RFC 3264 §8).
    const unchanged = this.localDescription !== null && write(this.sessionVersion) === this.localDescription;
    if (!unchanged && this.localDescription !== null) this.sessionVersion++;
    this.localDescription = write(this.sessionVersion);
    return this.localDescription;
  }
}

/** The payload type we offer a codec with: RFC 3551's static ones, Opus at the Router's. */
function payloadTypeOf(codec: AudioCodec): number {
  return isG711(codec) ? STATIC_PAYLOAD_TYPES[codec] : OPUS_PAYLOAD_TYPE;
}
