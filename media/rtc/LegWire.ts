import type { types } from "mediasoup";
import { EnhancedEventEmitter } from "../common/EnhancedEventEmitter.ts";
import type { DtmfEvent, RtpShimStats, TelephoneEventPacket } from "./RtpShim.ts";
import type { MediaProfile, RemoteDescription, WebRtcLocal } from "./sdp.ts";

export type LegWireEvents = {
  /** RFC 4733 key presses from the far end (plain RTP legs). */
  dtmf: [DtmfEvent];
  /** Each telephone-event packet from the far end, to relay to the other leg. */
  telephoneevent: [TelephoneEventPacket];
};

/** What a negotiation settled, for the wire to carry out. */
export interface WireMedia {
  remote: RemoteDescription;
  /** The agreed codec's payload type in the far end's SDP, and the one its RTP reaches mediasoup with. */
  remotePt: number;
  localPt: number;
  clockRate: number;
  /** telephone-event PT we accept besides the far end's own. */
  defaultTelephoneEventPt: number;
  sending: boolean;
  receiving: boolean;
}

/** RTP packets through this leg: from the far end into mediasoup, and from mediasoup to the far end. */
export interface WirePackets {
  fromFarEnd: number;
  toFarEnd: number;
}

/**
 * How one leg's RTP reaches its far end: a mediasoup transport and whatever stands between it and
 * the far end. MediaLeg does the offer/answer and the Producer/Consumer; the wire does the rest.
 */
export abstract class LegWire extends EnhancedEventEmitter<LegWireEvents> {
  abstract readonly profile: MediaProfile;
  abstract readonly transport: types.Transport;
  /** The port our SDP's m= line names. */
  abstract readonly port: number;
  /** The SSRC of the far end's RTP as it reaches mediasoup (the Producer's encoding). */
  abstract producerSsrc(): number;
  /** Carries out a negotiation (first offer/answer, hold, resume, a far end that moved). */
  abstract configure(media: WireMedia): Promise<void>;
  /** Our WebRTC transport for the SDP (null for plain RTP). */
  abstract localWebRtc(options: {
    mid: string;
    answering: boolean;
    consumer: types.Consumer | null;
  }): WebRtcLocal | null;
  /** Sends the other leg's telephone-event packet to this far end, when it can. */
  abstract injectTelephoneEvent(packet: TelephoneEventPacket): void;
  abstract packets(): WirePackets;
  /** Reads counters that packets() only samples (a WebRTC wire reads mediasoup's). */
  async refreshPackets(): Promise<void> {}
  /** The leg's Producer and Consumer changed (a wire that counts through mediasoup follows them). */
  watch(_streams: { producer: types.Producer | null; consumer: types.Consumer | null }): void {}
  /** The RTP shim's counters (plain RTP legs). */
  abstract shimStats(): RtpShimStats | null;
  abstract close(): void;
}
