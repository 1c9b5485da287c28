/**
 * Our SIP gateway in a process of its own for the SIP bench rows, so that sipp, Kamailio and the
 * gateway each get CPU as in production. Started by bench/rows/sip-register.ts and
 * bench/rows/sip-calls.ts with child_process.fork (`node --import tsx --expose-gc`) and driven
 * over the IPC channel:
 *
 *   → { cmd: "start" }                       ← { ok: true, port }            (UDP on 127.0.0.1)
 *   → { cmd: "start", media: true }          ← { ok: true, port, mediaPids } (and a MediaEngine:
 *                                               calls get their RTP anchored in mediasoup)
 *   → { cmd: "load", pbxs: BenchPbx[] }     ← { ok: true, extensions }      (directory.upsert per PBX)
 *   → { cmd: "memory" }                      ← { ok: true, memory: MemorySample } (after full GCs)
 *   → { cmd: "calls" }                       ← { ok: true, calls: CallsSample } (call records so far)
 *
 * Errors answer { ok: false, error }. The process exits when the parent goes away.
 */

import type { Logger } from "../../media/common/Logger.ts";
import { PbxDirectory } from "../../media/pbx/PbxDirectory.ts";
import { SipGateway } from "../../media/pbx/SipGateway.ts";
import { MediaEngine } from "../../media/rtc/MediaEngine.ts";
import { sipCredentials } from "../../media/test-support/extensions.ts";
import { emptyConfig, PbxConfig } from "../../shared/index.ts";

/** One PBX of the bench: its SIP domain (and realm) and its extensions with their passwords. */
export interface BenchPbx {
  pbxId: string;
  domain: string;
  users: { user: string; password: string }[];
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  bindings: number;
  transactions: number;
}

/** The calls the gateway has carried, from its call records, and what is still open. */
export interface CallsSample {
  /** Call records by disposition ("answered", "no answer", "failed", …). */
  ended: Record<string, number>;
  /** Calls call control still holds (ringing or answered). */
  active: number;
  /** Media sessions (a mediasoup Router each) still open, and the RTP shim ports they hold. */
  mediaCalls: number;
  rtpPortsInUse: number;
}

export type RunnerRequest =
  | { cmd: "start"; media?: boolean }
  | { cmd: "load"; pbxs: BenchPbx[] }
  | { cmd: "memory" }
  | { cmd: "calls" };
export type RunnerReply =
  | {
      ok: true;
      port?: number;
      mediaPids?: number[];
      extensions?: number;
      memory?: MemorySample;
      calls?: CallsSample;
    }
  | { ok: false; error: string };

const directory = new PbxDirectory();
let gateway: SipGateway | undefined;
let engine: MediaEngine | undefined;
const ended: Record<string, number> = {};

/**
 * Call control logs two lines per call at info level; under load that is the console's cost, not
 * the gateway's (Kamailio in the same rows logs warnings and errors only: debug=1).
 */
const quiet: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message) => console.warn(`edgepbx:calls WARN ${message}`),
  error: (message) => console.error(`edgepbx:calls ERROR ${message}`),
};

/** The config the edge would push: one extension per user, HA1s only (as stored), validated. */
function configOf(pbx: BenchPbx): PbxConfig {
  const passwordSetAt = new Date().toISOString();
  return PbxConfig.parse({
    ...emptyConfig(pbx.domain),
    extensions: pbx.users.map(({ user, password }, i) => ({
      id: `ext_${pbx.pbxId.replace(/[^A-Za-z0-9]/g, "")}x${String(i).padStart(6, "0")}`,
      number: user,
      name: `Bench ${user}`,
      sip: sipCredentials(user, pbx.domain, password, passwordSetAt),
    })),
  });
}

function memory(): MemorySample {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Two passes: the first may only queue finalizers that free more on the second.
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    bindings: gateway?.registrar.bindingCount ?? 0,
    transactions: gateway?.endpoint.transactionCount ?? 0,
  };
}

async function handle(request: RunnerRequest): Promise<RunnerReply> {
  switch (request.cmd) {
    case "start":
      if (request.media && !engine) engine = await MediaEngine.create({ mediaIp: "127.0.0.1" });
      gateway ??= await SipGateway.start({
        host: "127.0.0.1",
        udpPort: 0,
        tcpPort: 0,
        wsPort: 0,
        directory,
        ...(engine
          ? {
              media: engine,
              logger: quiet,
              onCallRecord: (_pbx, record) => {
                ended[record.disposition] = (ended[record.disposition] ?? 0) + 1;
              },
            }
          : {}),
      });
      return {
        ok: true,
        port: gateway.transports.udp.local.port,
        mediaPids: engine?.workers.map((w) => w.pid) ?? [],
      };
    case "load": {
      let extensions = 0;
      for (const pbx of request.pbxs) {
        const config = configOf(pbx);
        directory.upsert(pbx.pbxId, 1, config);
        extensions += config.extensions.length;
      }
      return { ok: true, extensions };
    }
    case "memory":
      return { ok: true, memory: memory() };
    case "calls": {
      const dump = engine ? await engine.dump() : { calls: 0, rtpPortsInUse: 0 };
      return {
        ok: true,
        calls: {
          ended: { ...ended },
          active: gateway?.calls?.activeCalls ?? 0,
          mediaCalls: dump.calls,
          rtpPortsInUse: dump.rtpPortsInUse,
        },
      };
    }
  }
}

if (!process.send) {
  console.error("gateway-runner: start me with child_process.fork (bench/rows/sip-register.ts does)");
  process.exit(2);
}
process.on("message", (request: RunnerRequest) => {
  handle(request).then(
    (reply) => process.send?.(reply),
    (error: Error) => process.send?.({ ok: false, error: error.stack ?? String(error) }),
  );
});
process.on("disconnect", () => {
  void (gateway?.close() ?? Promise.resolve()).finally(() => {
    engine?.close();
    process.exit(0);
  });
});
