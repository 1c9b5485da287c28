// Points mediasoup at the worker binary the postinstall (scripts/mediasoup/install.mjs) cached.
//
// mediasoup 3.19.3 decides which binary to spawn ONCE, when its Worker module is first loaded:
// `exports.workerBin = getWorkerBin()` reads process.env.MEDIASOUP_WORKER_BIN, else falls back to
// node_modules/mediasoup/worker/out/Release/mediasoup-worker (absent here: its own postinstall
// does not run). So MEDIASOUP_WORKER_BIN must be set before the first `import "mediasoup"`:
// load mediasoup through loadMediasoup(), or call useMediasoupWorkerBin() in a module that is
// imported before any module importing "mediasoup".
import { resolveWorkerBin, type WorkerBinSource } from "../../scripts/mediasoup/worker-path.mjs";

export type Mediasoup = typeof import("mediasoup");

export interface WorkerBin {
  /** Absolute path of the mediasoup-worker executable. */
  bin: string;
  /** How it was found: MEDIASOUP_WORKER_BIN, the postinstall's record, the cache, node_modules. */
  source: WorkerBinSource;
  /** The installed mediasoup version (null if mediasoup is not installed). */
  version: string | null;
}

/** The worker binary mediasoup should run, or null when there is none (postinstall skipped or failed). */
export function mediasoupWorkerBin(env: NodeJS.ProcessEnv = process.env): WorkerBin | null {
  return resolveWorkerBin({ env });
}

export const missingWorkerMessage =
  "no mediasoup-worker binary: run `npm run media:worker` (the postinstall builds or fetches it into " +
  "~/.cache/edgepbx/mediasoup-worker/<version>/), or set MEDIASOUP_WORKER_BIN";

/** Sets process.env.MEDIASOUP_WORKER_BIN to the cached binary and returns its path. Throws if there is none. */
export function useMediasoupWorkerBin(): string {
  const found = mediasoupWorkerBin();
  if (!found) throw new Error(missingWorkerMessage);
  process.env.MEDIASOUP_WORKER_BIN = found.bin;
  return found.bin;
}

/** Imports mediasoup with MEDIASOUP_WORKER_BIN set; fails if mediasoup was already loaded with another binary. */
export async function loadMediasoup(): Promise<Mediasoup> {
  const bin = useMediasoupWorkerBin();
  const mediasoup = await import("mediasoup");
  if (mediasoup.workerBin !== bin) {
    throw new Error(
      `mediasoup was imported before MEDIASOUP_WORKER_BIN was set and would run ${mediasoup.workerBin}; ` +
        "import it only through loadMediasoup() (media/rtc/worker-bin.ts)",
    );
  }
  return mediasoup;
}
