/**
 * Our SIP gateway in a process of its own for the SIP bench rows, so that sipp, Kamailio and the
 * gateway each get CPU as in production. Started by bench/rows/sip-register.ts with
 * child_process.fork (`node --import tsx --expose-gc`) and driven over the IPC channel:
 *
 *   → { cmd: "start" }                       ← { ok: true, port }            (UDP on 127.0.0.1)
 *   → { cmd: "load", pbxs: BenchPbx[] }     ← { ok: true, extensions }      (directory.upsert per PBX)
 *   → { cmd: "memory" }                      ← { ok: true, memory: MemorySample } (after full GCs)
 *
 * Errors answer { ok: false, error }. The process exits when the parent goes away.
 */

import { PbxDirectory } from "../../media/pbx/PbxDirectory.ts";
import { SipGateway } from "../../media/pbx/SipGateway.ts";
import { ha1 } from "../../media/sip/core/digest.ts";
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

export type RunnerRequest = { cmd: "start" } | { cmd: "load"; pbxs: BenchPbx[] } | { cmd: "memory" };
export type RunnerReply =
  | { ok: true; port?: number; extensions?: number; memory?: MemorySample }
  | { ok: false; error: string };

const directory = new PbxDirectory();
let gateway: SipGateway | undefined;

/** The config the edge would push: one extension per user, HA1s only (as stored), validated. */
function configOf(pbx: BenchPbx): PbxConfig {
  const passwordSetAt = new Date().toISOString();
  return PbxConfig.parse({
    ...emptyConfig(pbx.domain),
    extensions: pbx.users.map(({ user, password }, i) => ({
      id: `ext_${pbx.pbxId.replace(/[^A-Za-z0-9]/g, "")}x${String(i).padStart(6, "0")}`,
      number: user,
      name: `Bench ${user}`,
      sip: {
        username: user,
        ha1Md5: ha1("MD5", user, pbx.domain, password),
        ha1Sha256: ha1("SHA-256", user, pbx.domain, password),
        passwordSetAt,
      },
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
      gateway ??= await SipGateway.start({ host: "127.0.0.1", udpPort: 0, tcpPort: 0, wsPort: 0, directory });
      return { ok: true, port: gateway.transports.udp.local.port };
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
  void (gateway?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});
