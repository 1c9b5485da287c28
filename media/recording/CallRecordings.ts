import type { CallDecision, PbxConfig } from "../../shared/index.ts";
import type { Logger } from "../common/Logger.ts";
import type { CallMediaSession, MediaLeg } from "../pbx/calls/media.ts";
import { CallRecorder, type RecordedCall } from "./CallRecorder.ts";
import { RecordingEncryptor } from "./RecordingEncryptor.ts";
import type { RecordingUploader } from "./RecordingUploader.ts";

/** An answered call, bridged, as call control hands it over for recording. */
export interface RecordingRequest {
  pbxId: string;
  /** The PBX's applied configuration the call was set up with (its recording key). */
  config: PbxConfig;
  media: CallMediaSession;
  caller: MediaLeg;
  callee: MediaLeg;
  call: RecordedCall;
}

/**
 * Whether the PBX records this call: the Call Recording add-on enabled with its disclaimer
 * accepted, and either an inbound call on a route with recording on, or an extension with
 * outbound recording calling out through the carrier (`calleeIsTrunk`: the carrier answered).
 */
export function wantsRecording(config: PbxConfig, decision: CallDecision, calleeIsTrunk: boolean): boolean {
  const addon = config.addons.callRecording;
  if (!addon.enabled || !addon.disclaimerAccepted) return false;
  if (decision.inbound) return decision.inbound.record;
  return calleeIsTrunk && recordsExternal(decision);
}

/** The dial plan's external step for this call (direct, after an announcement or a group's no-answer) says record. */
function recordsExternal(decision: CallDecision): boolean {
  switch (decision.type) {
    case "external":
      return decision.record;
    case "announcement":
      return recordsExternal(decision.next);
    case "ringGroup":
      return recordsExternal(decision.noAnswer);
    default:
      return false;
  }
}

/** "anonymous", digits, +: what the upload's from/to take (printable, no spaces, 64 at most). */
function party(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, "_").slice(0, 64);
}

/**
 * The node's call recordings: starts a CallRecorder for each answered call call control asks for
 * (encrypted to the PBX's certificate when recording encryption is on), and stops what is still
 * recording when the node shuts down.
 */
export class CallRecordings {
  private readonly active = new Set<CallRecorder>();

  constructor(
    private readonly uploader: Pick<RecordingUploader, "put">,
    private readonly logger: Logger,
    private readonly options: { uploadEveryMs?: number } = {},
  ) {}

  /** Recordings in progress. */
  get size(): number {
    return this.active.size;
  }

  /**
   * Starts recording `request` as `recordingId`; null, with the reason logged, when it cannot be
   * recorded (a leg the node cannot hear, or encryption on without a usable certificate: then
   * nothing is recorded rather than a plaintext copy).
   */
  async start(request: RecordingRequest, recordingId: string): Promise<CallRecorder | null> {
    const { pbxId, config, call } = request;
    const what = `call ${call.callId} of ${pbxId}`;
    let encryptor: RecordingEncryptor | null = null;
    const encryption = config.addons.recordingEncryption;
    if (encryption.enabled) {
      try {
        encryptor = new RecordingEncryptor(encryption.publicKeyPem ?? "");
      } catch (error) {
        this.logger.error(
          `${what} not recorded: recording encryption is on but its certificate ${(error as Error).message}`,
        );
        return null;
      }
    }
    let recorder: CallRecorder;
    try {
      recorder = await CallRecorder.start({
        media: request.media,
        caller: request.caller,
        callee: request.callee,
        pbxId,
        recordingId,
        call: { ...call, from: party(call.from), to: party(call.to) },
        uploader: this.uploader,
        encryptor,
        logger: this.logger,
        ...(this.options.uploadEveryMs ? { uploadEveryMs: this.options.uploadEveryMs } : {}),
        onFinished: (outcome) => {
          this.active.delete(recorder);
          this.logger.info(
            `recording ${recordingId} of ${pbxId}: ${outcome.durationMs} ms, ${outcome.final ? "stored" : "NOT stored in full"}`,
          );
        },
      });
    } catch (error) {
      this.logger.warn(`${what} not recorded: ${(error as Error).message}`);
      return null;
    }
    this.active.add(recorder);
    this.logger.info(`${what}: recording ${recordingId}${encryptor ? " (encrypted)" : ""}`);
    return recorder;
  }

  /** Ends every recording in progress with its final upload (the node is shutting down). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.active].map((recorder) => recorder.stop()));
  }
}
