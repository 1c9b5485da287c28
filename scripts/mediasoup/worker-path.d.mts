// Types for worker-path.mjs (imported by media/rtc/worker-bin.ts).
export declare const projectRoot: string;
export declare function pointerFile(root?: string): string;
export declare function installedMediasoup(root?: string): { dir: string; version: string } | null;
export declare function workerCacheRoot(env?: NodeJS.ProcessEnv): string;
export declare function cachedWorkerBin(version: string, env?: NodeJS.ProcessEnv): string;
export type WorkerBinSource = "env" | "pointer" | "cache" | "node_modules";
export declare function resolveWorkerBin(options?: {
  env?: NodeJS.ProcessEnv;
  root?: string;
}): { bin: string; source: WorkerBinSource; version: string | null } | null;
