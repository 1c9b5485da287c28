import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { ensurePwa } from "../../pwa/build.ts";

const ROOT = resolve(import.meta.dirname, "../..");

/** Keeps wrangler off the network: no metrics, no `cf` object lookup, no update check. */
export function offlineWranglerEnv(): void {
  process.env.WRANGLER_SEND_METRICS = "false";
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  process.env.WRANGLER_HIDE_BANNER = "true";
}

export interface EdgeOptions {
  port?: number;
  /**
   * Folder for local state, laid out as with `wrangler dev --persist-to`: Durable Object SQLite
   * files under v3/do/, the R2 bucket of call recordings under v3/r2/.
   */
  persistDir?: string;
  /** Overrides of wrangler.toml [vars], e.g. SMTP_PORT. */
  vars?: Record<string, string>;
  /** Progress lines (e.g. "Building the portal PWA…"); silent when absent. */
  log?: (line: string) => void;
}

export interface RunningEdge {
  url: string;
  stop(): Promise<void>;
}

/**
 * Runs the edge Worker under workerd, in this Node process: wrangler bundles it exactly as
 * `wrangler deploy` would, and Miniflare serves that bundle with the Durable Objects and on-disk
 * SQLite of wrangler.toml, and the portal PWA (pwa/dist, rebuilt first when it is missing or older
 * than its sources) as static assets. Unlike `wrangler dev` there is no dev proxy in front, so
 * latency measured here is the Worker's own.
 */
export async function startEdge(options: EdgeOptions = {}): Promise<RunningEdge> {
  offlineWranglerEnv();
  const [{ Miniflare }, { unstable_getMiniflareWorkerOptions }] = await Promise.all([
    import("miniflare"),
    import("wrangler"),
  ]);
  // wrangler.toml serves pwa/dist as the Worker's static assets: it must exist and be current.
  await ensurePwa(options.log);
  const outdir = await mkdtemp(join(tmpdir(), "edgepbx-edge-"));
  await bundle(outdir);
  const { workerOptions } = unstable_getMiniflareWorkerOptions(resolve(ROOT, "wrangler.toml"));
  const persistRoot = options.persistDir ?? resolve(ROOT, "data/edge");
  const persist = resolve(persistRoot, "v3/do");
  const r2Persist = resolve(persistRoot, "v3/r2");
  await Promise.all([mkdir(persist, { recursive: true }), mkdir(r2Persist, { recursive: true })]);
  const mf = new Miniflare({
    ...(workerOptions as object),
    name: "edgepbx",
    modules: true,
    scriptPath: join(outdir, "index.js"),
    modulesRoot: outdir,
    bindings: { ...workerOptions.bindings, MEDIA_NODE_TOKEN: devMediaNodeToken(), ...options.vars },
    durableObjectsPersist: persist,
    r2Persist,
    host: "127.0.0.1",
    port: options.port ?? 8787,
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    async stop() {
      await mf.dispose();
      await rm(outdir, { recursive: true, force: true });
    },
  };
}

/** `wrangler deploy --dry-run`: the production bundle, without uploading anything. */
async function bundle(outdir: string): Promise<void> {
  const wrangler = resolve(ROOT, "node_modules/wrangler/bin/wrangler.js");
  await promisify(execFile)(
    process.execPath,
    [wrangler, "deploy", "--dry-run", "--outdir", outdir, "--config", resolve(ROOT, "wrangler.toml")],
    { cwd: ROOT, env: process.env, maxBuffer: 16 * 1024 * 1024 },
  ).catch((error: Error & { stderr?: string; stdout?: string }) => {
    throw new Error(`bundling the edge failed: ${error.stderr || error.stdout || error.message}`);
  });
}

/** The node token for local runs: $MEDIA_NODE_TOKEN, or a fixed dev value (never used in production). */
export function devMediaNodeToken(): string {
  return process.env.MEDIA_NODE_TOKEN ?? "dev-media-node-token";
}
