/**
 * The dial plan's inputs and its answer. `decideCall` (decide.ts) maps
 * (config, call, runtime state, now) → CallDecision without I/O, so the media node runs the
 * call, the PWA explains it ("where would this call go?") and tests check it with one code path.
 */

/** A call to decide: from one of this PBX's extensions, or from the carrier to one of its DIDs. */
export type CallRequest =
  | {
      kind: "internal";
      /** The authenticated extension's number. */
      from: string;
      /** What the phone dialled (digits, * and an optional leading +). */
      dialled: string;
    }
  | {
      kind: "inbound";
      /** The DID the carrier delivered the call to. */
      did: string;
      /** The caller's number as the carrier presents it; null when withheld. */
      callerId: string | null;
    };

/** What the media node knows that the config does not. */
export interface RuntimeState {
  /**
   * Call Forward All destinations by call route id, set by dialling the route's allocated
   * dial code followed by a number; null or absent when not forwarding.
   */
  forwardAll: Record<string, string | null>;
  /**
   * Trunk legs in progress now, not counting the call being decided. An inbound call uses one
   * leg; an inbound call forwarded back out through the trunk uses two.
   */
  activeExternalCalls: number;
}

/** SIP final responses the dial plan refuses calls with. */
export type RejectStatus = 403 | 404 | 484 | 503 | 603;

/** Inbound calls only: the call route that matched the DID and what it asks of the media node. */
export interface InboundContext {
  routeId: string;
  /** The route's DID as configured. */
  did: string;
  alertName: string;
  timezone: string;
  /** The route's local calendar date at `now`, against which the holiday condition was checked. */
  localDate: string;
  /** The caller passcode to collect before the call proceeds; null when none is asked. */
  passcode: string | null;
  /** Record this inbound call (the route's recordInbound and the Call Recording Plugin enabled). */
  record: boolean;
  /** Virtual FAX: email the fax received on this DID to this address (plugin enabled); else null. */
  faxEmail: string | null;
}

interface Explained {
  /** Why the call goes there, for the portal's "explain this call". */
  reason: string;
  /** Set on the top-level decision of an inbound call once its DID matched a call route. */
  inbound?: InboundContext;
}

export type CallDecision = Explained &
  (
    | {
        type: "ringExtensions";
        /** Extension numbers to ring. */
        extensions: string[];
        /**
         * The voicemail box to send the caller to on no answer: only for an extension reached
         * directly (dialled, or a route/announcement/holiday pointing at it), never for ring
         * group members. Null when the extension has no voicemail enabled.
         */
        voicemailBox: string | null;
      }
    | {
        type: "ringGroup";
        groupId: string;
        name: string;
        number: string;
        strategy: "ringAll" | "hunt";
        /** Member extension numbers that exist, in the configured order (the hunt order). */
        members: string[];
        ringSeconds: number;
        /** Where the call goes when nobody answers within ringSeconds (members' voicemail is not used). */
        noAnswer: CallDecision;
      }
    | {
        type: "conference";
        roomId: string;
        number: string;
        name: string;
        /** The room PIN the caller must enter; null when the room has none. */
        pin: string | null;
        maxParticipants: number;
      }
    | {
        type: "voicemail";
        /** The extension number whose box the caller leaves a message in. */
        box: string;
        mode: "deposit";
      }
    | {
        type: "voicemailAccess";
        /** The calling extension's own box; the caller enters its PIN followed by #. */
        box: string;
        pinTerminator: "#";
      }
    | {
        type: "announcement";
        announcementId: string;
        name: string;
        /** Text for text-to-speech until an audio file is uploaded. */
        message: string;
        /** The uploaded recording's SHA-256, played instead of the message; null: spoken. */
        audio: string | null;
        /** What happens after the announcement (never another announcement). */
        next: CallDecision;
      }
    | {
        type: "external";
        /** The number to dial through the carrier trunk. */
        number: string;
        /**
         * Caller ID to present: the calling extension's callerId (null: the trunk's default);
         * for an inbound call sent back out, the original caller's number (null when withheld).
         */
        callerId: string | null;
        /** Outbound: the extension's recordOutbound; inbound: the route's recordInbound; needs the plugin. */
        record: boolean;
        /** For an inbound call sent back out: the DID it was diverted from (for a Diversion header); else null. */
        divertedFrom: string | null;
      }
    | {
        type: "setForwardAll";
        routeId: string;
        did: string;
        dialCode: string;
        destination: string;
      }
    | {
        type: "clearForwardAll";
        routeId: string;
        did: string;
        dialCode: string;
        /** The destination being cleared, if one was set. */
        previous: string | null;
      }
    | {
        type: "reject";
        status: RejectStatus;
        /** The SIP reason phrase to send. */
        phrase: string;
      }
    | { type: "hangup" }
  );

export type CallDecisionType = CallDecision["type"];
