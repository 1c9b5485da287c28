import { resolve } from "node:path";

/** Keeps wrangler off the network: no metrics, no `cf` object lookup, no update check. */
export function offlineWranglerEnv(): void {
  process.env.WRANGLER_SEND_METRICS = "false";
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  process.env.WRANGLER_HIDE_BANNER = "true";
}

export interface EdgeOptions {
  port?: number;
  /** Folder for Durable Object state (SQLite files under v3/do/…). */
  persistDir?: string;
  /** Overrides of wrangler.toml [vars], e.g. SMTP_PORT. */
  vars?: Record<string, string>;
}

export interface RunningEdge {
  url: string;
  stop(): Promise<void>;
}

/**
 * Runs the edge Worker in this Node process under workerd (wrangler's startWorker): the same
 * bundle, Durable Objects and on-disk SQLite persistence as `wrangler dev`, ready in about a second.
 */
export async function startEdge(options: EdgeOptions = {}): Promise<RunningEdge> {
  offlineWranglerEnv();
  const { unstable_startWorker } = await import("wrangler");
  const root = resolve(import.meta.dirname, "../..");
  const port = options.port ?? 8787;
  const vars = { MEDIA_NODE_TOKEN: devMediaNodeToken(), ...options.vars };
  const bindings = Object.fromEntries(
    Object.entries(vars).map(([k, v]) => [k, { type: "plain_text" as const, value: v }]),
  );
  const worker = await unstable_startWorker({
    config: resolve(root, "wrangler.toml"),
    bindings,
    dev: {
      server: { hostname: "127.0.0.1", port },
      inspector: false,
      persist: resolve(options.persistDir ?? resolve(root, "data/edge")),
      watch: false,
      logLevel: "warn",
    },
  });
  await worker.ready;
  const url = (await worker.url).toString().replace(/\/$/, "");
  return { url, stop: () => worker.dispose() };
}

/** The node token for local runs: $MEDIA_NODE_TOKEN, or a fixed dev value (never used in production). */
export function devMediaNodeToken(): string {
  return process.env.MEDIA_NODE_TOKEN ?? "dev-media-node-token";
}
