/**
 * The media node's mediasoup: its Worker processes, one Router per call, and the UDP ports the RTP
 * shims give to phones. Call control gets a CallMedia per call from `createCall()` (or
 * `session(pbxId)`, the MediaPlane interface of media/pbx/calls).
 */
import type { types } from "mediasoup";
import { EnhancedEventEmitter } from "../common/EnhancedEventEmitter.ts";
import { ConsoleLogger, type Logger } from "../common/Logger.ts";
import { CallMedia } from "./CallMedia.ts";
import { RtpPortPool } from "./RtpShim.ts";
import { DEFAULT_TELEPHONE_EVENT_PT, OPUS_PAYLOAD_TYPE } from "./sdp.ts";
import { loadMediasoup } from "./worker-bin.ts";

export interface PortRange {
  min: number;
  max: number;
}

export interface MediaEngineOptions {
  /** mediasoup Worker processes (each is single-threaded: one per core is the norm). Default 1. */
  workers?: number;
  workerSettings?: Pick<types.WorkerSettings, "logLevel" | "logTags" | "disableLiburing">;
  /** The IP announced to phones in SDP (o=, c=). Default 127.0.0.1. */
  mediaIp?: string;
  /** Where the phone-facing RTP sockets listen. Default: mediaIp (use 0.0.0.0 behind a 1:1 NAT). */
  listenIp?: string;
  /** Ports of the phone-facing RTP shims (RTP even, RTCP odd). Default 20000-29999. */
  rtpPorts?: PortRange;
  /** Ports of mediasoup's PlainTransports on 127.0.0.1, kept out of rtpPorts. Default 10000-19999. */
  loopbackPorts?: PortRange;
  /** Replace a Worker that died (after a second). Default true. */
  respawn?: boolean;
  logger?: Logger;
}

export type MediaEngineEvents = {
  /** A Worker process died: its calls have lost their media and closed (CallMedia "close"). */
  workerdied: [error: Error, pid: number];
};

/** What the Routers support. Consumers towards SIP phones are narrowed to the leg's one codec. */
export const ROUTER_MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
  // The RFC 3551 static payload types, so that mediasoup's packets need no PT rewriting for phones.
  { kind: "audio", mimeType: "audio/PCMU", clockRate: 8000, preferredPayloadType: 0 },
  { kind: "audio", mimeType: "audio/PCMA", clockRate: 8000, preferredPayloadType: 8 },
  {
    kind: "audio",
    mimeType: "audio/telephone-event",
    clockRate: 8000,
    preferredPayloadType: DEFAULT_TELEPHONE_EVENT_PT,
  },
  // Between browsers only (no transcoding in mediasoup): at the payload type browsers use.
  { kind: "audio", mimeType: "audio/opus", clockRate: 48000, channels: 2, preferredPayloadType: OPUS_PAYLOAD_TYPE },
];

/** What a CallMedia needs from the engine. */
export interface MediaContext {
  pool: RtpPortPool;
  /** The far-end-facing port range, shared by the RTP shims (pool) and WebRTC transports. */
  rtpPorts: PortRange;
  mediaIp: string;
  listenIp: string;
  loopbackPorts: PortRange;
  logger: Logger;
}

export interface MediaEngineDump {
  workers: { pid: number; routers: { id: string; transports: number }[] }[];
  calls: number;
  rtpPortsInUse: number;
}

export class MediaEngine extends EnhancedEventEmitter<MediaEngineEvents> {
  private readonly live: types.Worker[] = [];
  private readonly callsOf = new Map<types.Worker, Set<CallMedia>>();
  private readonly context: MediaContext;
  private closed = false;

  private constructor(
    private readonly mediasoup: typeof import("mediasoup"),
    private readonly options: MediaEngineOptions,
  ) {
    super();
    const mediaIp = options.mediaIp ?? "127.0.0.1";
    const rtp = options.rtpPorts ?? { min: 20000, max: 29999 };
    const loopbackPorts = options.loopbackPorts ?? { min: 10000, max: 19999 };
    if (rtp.min <= loopbackPorts.max && loopbackPorts.min <= rtp.max)
      throw new Error(`rtpPorts ${rtp.min}-${rtp.max} overlap loopbackPorts ${loopbackPorts.min}-${loopbackPorts.max}`);
    this.context = {
      pool: new RtpPortPool(rtp.min, rtp.max),
      rtpPorts: rtp,
      mediaIp,
      listenIp: options.listenIp ?? mediaIp,
      loopbackPorts,
      logger: options.logger ?? new ConsoleLogger("rtc"),
    };
  }

  static async create(options: MediaEngineOptions = {}): Promise<MediaEngine> {
    const count = options.workers ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new Error(`workers must be a positive integer, not ${count}`);
    const engine = new MediaEngine(await loadMediasoup(), options);
    try {
      for (let i = 0; i < count; i++) await engine.spawnWorker();
    } catch (error) {
      engine.close();
      throw error;
    }
    return engine;
  }

  /** The running Workers (for stats and tests). */
  get workers(): readonly types.Worker[] {
    return this.live;
  }

  get mediaIp(): string {
    return this.context.mediaIp;
  }

  get rtpPortsInUse(): number {
    return this.context.pool.inUse;
  }

  /**
   * A Router for one call, on the Worker with the fewest calls. A Router per call, not per PBX:
   * a call is the unit of media lifetime (closing its Router frees everything it had, even after
   * a bug), and calls of one busy PBX spread over all cores instead of pinning one. Routers are
   * cheap (an object inside the Worker: no thread, no port). Joining legs of two calls (attended
   * transfer, conference) will need Router.pipeToRouter() or a leg moved to the other call.
   */
  async createCall(options: { pbxId?: string } = {}): Promise<CallMedia> {
    if (this.closed) throw new Error("the media engine is closed");
    let worker: types.Worker | undefined;
    for (const candidate of this.live)
      if (!worker || (this.callsOf.get(candidate)?.size ?? 0) < (this.callsOf.get(worker)?.size ?? 0))
        worker = candidate;
    if (!worker) throw new Error("no mediasoup worker is running");
    const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS, appData: { pbxId: options.pbxId } });
    const call = new CallMedia(router, this.context, options.pbxId ?? null);
    const calls = this.callsOf.get(worker);
    calls?.add(call);
    call.on("close", () => calls?.delete(call));
    return call;
  }

  /** The MediaPlane of call control (media/pbx/calls/media.ts): a media session for one call of a PBX. */
  session(pbxId: string): Promise<CallMedia> {
    return this.createCall({ pbxId });
  }

  /** Workers, their Routers and transports, as mediasoup reports them (leak checks, diagnostics). */
  async dump(): Promise<MediaEngineDump> {
    const workers = await Promise.all(
      this.live.map(async (worker) => {
        const { routerIds } = await worker.dump();
        const routers = await Promise.all(
          routerIds.map(async (id) => {
            const call = [...(this.callsOf.get(worker) ?? [])].find((c) => c.router.id === id);
            const transports = call ? (await call.router.dump()).transportIds.length : -1;
            return { id, transports };
          }),
        );
        return { pid: worker.pid, routers };
      }),
    );
    let calls = 0;
    for (const set of this.callsOf.values()) calls += set.size;
    return { workers, calls, rtpPortsInUse: this.context.pool.inUse };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const calls of this.callsOf.values()) for (const call of [...calls]) call.close("media engine closed");
    for (const worker of this.live) worker.close();
    this.live.length = 0;
    this.callsOf.clear();
  }

  private async spawnWorker(): Promise<void> {
    const worker = await this.mediasoup.createWorker({ logLevel: "warn", ...this.options.workerSettings });
    if (this.closed) {
      worker.close();
      return;
    }
    this.live.push(worker);
    this.callsOf.set(worker, new Set());
    worker.on("died", (error) => this.onWorkerDied(worker, error));
  }

  private onWorkerDied(worker: types.Worker, error: Error): void {
    const { logger } = this.context;
    const calls = this.callsOf.get(worker) ?? new Set();
    logger.error(`mediasoup worker ${worker.pid} died (${error.message}); ${calls.size} call(s) lost their media`);
    this.live.splice(this.live.indexOf(worker), 1);
    this.callsOf.delete(worker);
    // Their Routers are gone with the process; close the Node side (shim ports) too.
    for (const call of [...calls]) call.close("mediasoup worker died");
    this.safeEmit("workerdied", error, worker.pid);
    if (this.closed || this.options.respawn === false) return;
    // A second's pause: a worker that dies at start would otherwise respawn in a tight loop.
    setTimeout(() => {
      if (this.closed) return;
      this.spawnWorker().then(
        () => logger.info("mediasoup worker replaced"),
        (spawnError: Error) => logger.error(`could not replace the mediasoup worker: ${spawnError.message}`),
      );
    }, 1000).unref();
  }
}
