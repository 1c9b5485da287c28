import type { EventEmitter } from "node:events";

/**
 * What call control needs from the media plane for one call leg. The mediasoup implementation
 * lives in media/rtc (CallMedia); call control never touches RTP itself.
 */
export interface MediaLeg extends EventEmitter {
  /** Our SDP for this leg: where the far end must send its RTP (an offer, or the answer to its offer). */
  localSdp(): string;
  /** The far end's SDP: its offer, or its answer to ours. Throws on SDP we cannot use. */
  setRemoteSdp(sdp: string): Promise<void>;
  /**
   * Our description in force as a new offer, for a re-INVITE without SDP (RFC 3261 §14.2): the
   * far end's answer comes in its ACK.
   */
  reoffer(): string;
  /** The ACK brought no answer to reoffer(): the description in force stays. */
  rollbackOffer(): void;
  /** A new offer when what we send the far end changed (a browser re-bridged); null when nothing did. */
  offerIfChanged(): string | null;
  /** RTP counters of this leg: packets from its far end and sent to it. */
  stats(): { packets: { fromFarEnd: number; toFarEnd: number } };
  /** Brings stats() up to date where counters are only sampled (WebRTC legs read mediasoup's). */
  settleStats(): Promise<void>;
  /** A key pressed at this far end, signalled by SIP INFO: the node sees it, the peer hears RFC 4733. */
  pressKey(digit: string, durationMs?: number): boolean;
  close(): void;
}

export interface CallMediaSession {
  /**
   * A leg for a far end that sent `remoteSdp` as its offer, or that we will offer to (null);
   * `webrtc` for a browser we offer to (an offer says for itself).
   */
  createLeg(options: { remoteSdp: string | null; webrtc?: boolean }): Promise<MediaLeg>;
  /**
   * RTP flows both ways between the two legs (both must have their remote SDP). A leg may be
   * another call's (an attended transfer joins two calls).
   */
  bridge(a: MediaLeg, b: MediaLeg): Promise<void>;
  /** Plays audio the node makes (20 ms G.711 frames in the leg's codec) to an unbridged leg, until done or aborted. */
  play(leg: MediaLeg, frames: (codec: "PCMU" | "PCMA") => Buffer[], signal?: AbortSignal): Promise<void>;
  /** The node's voice on an unbridged leg, fed 20 ms G.711 payloads as it goes (a conference's mix). */
  speak(leg: MediaLeg): Promise<{ codec: "PCMU" | "PCMA"; send(payload: Buffer): void; close(): void }>;
  /** The node hears a leg: `frame` events of 20 ms 8 kHz audio, until close(). */
  listen(leg: MediaLeg): Promise<EventEmitter & { close(): void }>;
  close(): void;
}

export interface MediaPlane {
  /** A media session for one call of one PBX. */
  session(pbxId: string): Promise<CallMediaSession>;
}
