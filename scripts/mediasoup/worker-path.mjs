// Where the mediasoup-worker binary lives, shared by the postinstall (install.mjs) and the
// media node at run time (media/rtc/worker-bin.ts). Plain JS so that it runs without tsx.
//
// The binary is cached OUTSIDE the checkout and node_modules, keyed by mediasoup version, so
// `npm ci`, fresh clones and other worktrees reuse one build:
//   $EDGEPBX_MEDIASOUP_WORKER_CACHE/<version>/mediasoup-worker, or else
//   ${XDG_CACHE_HOME:-~/.cache}/edgepbx/mediasoup-worker/<version>/mediasoup-worker
// The postinstall also records the path it settled on in node_modules/.cache/edgepbx/.
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const projectRoot = resolve(import.meta.dirname, "..", "..");

/** node_modules/.cache/edgepbx/mediasoup-worker.json, written by the postinstall. */
export function pointerFile(root = projectRoot) {
  return join(root, "node_modules", ".cache", "edgepbx", "mediasoup-worker.json");
}

/** The installed mediasoup package ({ dir, version }), or null when it is not installed. */
export function installedMediasoup(root = projectRoot) {
  let entry;
  try {
    // mediasoup's "exports" hides package.json, so resolve the main entry and walk up.
    entry = createRequire(join(root, "package.json")).resolve("mediasoup");
  } catch {
    return null;
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, "utf8"));
    if (pkg.name === "mediasoup") return { dir, version: pkg.version };
  }
  return null;
}

/** The cache folder holding one folder per mediasoup version. */
export function workerCacheRoot(env = process.env) {
  if (env.EDGEPBX_MEDIASOUP_WORKER_CACHE) return resolve(env.EDGEPBX_MEDIASOUP_WORKER_CACHE);
  let home = env.XDG_CACHE_HOME;
  if (!home) {
    try {
      home = join(homedir(), ".cache");
    } catch {
      home = join(tmpdir(), "cache");
    }
  }
  return join(resolve(home), "edgepbx", "mediasoup-worker");
}

/** The cached binary's path for a mediasoup version (it may not exist). */
export function cachedWorkerBin(version, env = process.env) {
  return join(workerCacheRoot(env), version, "mediasoup-worker");
}

function isFile(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The worker binary to run, first match wins:
 *   1. MEDIASOUP_WORKER_BIN, if it names an existing file ("env");
 *   2. the path recorded by the postinstall, if it is for the installed version ("pointer");
 *   3. the version's binary in the cache ("cache");
 *   4. node_modules/mediasoup/worker/out/Release/mediasoup-worker, where mediasoup's own
 *      postinstall puts a downloaded prebuilt binary ("node_modules").
 * Returns { bin, source, version } or null when there is none.
 */
export function resolveWorkerBin({ env = process.env, root = projectRoot } = {}) {
  const mediasoup = installedMediasoup(root);
  const version = mediasoup?.version ?? null;
  if (env.MEDIASOUP_WORKER_BIN && isFile(env.MEDIASOUP_WORKER_BIN)) {
    return { bin: resolve(env.MEDIASOUP_WORKER_BIN), source: "env", version };
  }
  if (!mediasoup) return null;
  try {
    const recorded = JSON.parse(readFileSync(pointerFile(root), "utf8"));
    if (recorded.version === version && typeof recorded.bin === "string" && isFile(recorded.bin)) {
      return { bin: recorded.bin, source: "pointer", version };
    }
  } catch {
    // no pointer file (postinstall not run or skipped): fall through
  }
  const cached = cachedWorkerBin(mediasoup.version, env);
  if (isFile(cached)) return { bin: cached, source: "cache", version };
  const local = join(mediasoup.dir, "worker", "out", "Release", "mediasoup-worker");
  if (isFile(local)) return { bin: local, source: "node_modules", version };
  return null;
}
