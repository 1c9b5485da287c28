// `npm start`: installs dependencies when needed, runs every built component of EdgePBX locally
// with its state on disk, seeds the demo account and prints how to log in. Ctrl+C stops it.
//
// Environment: EDGE_PORT (default 8787), DATA_DIR (default ./data; the edge keeps its state in
// DATA_DIR/edge), EDGEPBX_SKIP_INSTALL=1 to skip the dependency check.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "..");
const host = "127.0.0.1";
const edgePort = Number(process.env.EDGE_PORT || 8787);
const dataDir = resolve(process.env.DATA_DIR || resolve(root, "data"));
/** A path as short as it reads well: relative when inside the working folder. */
const show = (path) => {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") ? path : rel;
};

if (!Number.isInteger(edgePort) || edgePort < 1 || edgePort > 65535) {
  console.error(`EDGE_PORT must be a TCP port, not ${process.env.EDGE_PORT}`);
  process.exit(2);
}

// ---- dependencies (before anything is imported from node_modules) ----

const installStamp = resolve(root, "node_modules/.edgepbx-installed");

/** When node_modules was last installed, or null when there is none. */
function installedAt() {
  if (!existsSync(resolve(root, "node_modules"))) return null;
  const marks = [installStamp, resolve(root, "node_modules/.package-lock.json")].filter((f) => existsSync(f));
  if (marks.length === 0) return statSync(resolve(root, "node_modules")).mtimeMs;
  return Math.max(...marks.map((f) => statSync(f).mtimeMs));
}

function npm(args) {
  console.log(`> npm ${args.join(" ")}`);
  const started = Date.now();
  const result = spawnSync("npm", [...args, "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  const ok = result.status === 0;
  console.log(`npm ${args[0]} ${ok ? "finished" : "failed"} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return ok;
}

function ensureDependencies() {
  if (process.env.EDGEPBX_SKIP_INSTALL === "1") return;
  const lock = resolve(root, "package-lock.json");
  const installed = installedAt();
  const hasLock = existsSync(lock);
  if (installed !== null && (!hasLock || installed >= statSync(lock).mtimeMs)) return;
  console.log(
    installed === null
      ? "Installing dependencies (node_modules is missing)…"
      : "Updating dependencies (package-lock.json is newer than node_modules)…",
  );
  const ok = (hasLock && npm(["ci"])) || npm(["install"]);
  if (!ok) {
    console.error("Could not install dependencies; see the npm output above.");
    process.exit(1);
  }
  writeFileSync(installStamp, `${new Date().toISOString()}\n`);
}

ensureDependencies();
// The media node speaks with espeak-ng and ffmpeg; without them it runs, but routes that ask
// callers something refuse their calls. A failed install is said and is not fatal.
spawnSync(process.execPath, [resolve(root, "scripts/system-deps.mjs"), "--runtime"], { stdio: "inherit" });

// ---- components ----

const { register } = await import("tsx/esm/api");
register();
const { startEdge } = await import("./lib/edge.ts");
const { seedDemo } = await import("./seed.ts");

/** Handed to every component's start(); the edge fills in its URL. */
const context = { root, dataDir, edgeUrl: null };

/**
 * What `npm start` runs, in order; each start() resolves to { name, url?, stop() } or null when
 * the component is not built yet. A later component is one line: its folder exports
 * `start({ root, dataDir, edgeUrl })` from start.ts.
 */
const components = [
  { name: "Edge API", start: startEdgeAndSeed },
  optional("Media node", "media/start.ts", "#3"),
  { name: "Portal", start: startPortal },
];

async function startEdgeAndSeed() {
  const portalUrl = `http://${host}:${edgePort}`;
  const persistDir = resolve(dataDir, "edge");
  console.log(`Starting the edge Worker on ${portalUrl} (state in ${show(persistDir)})…`);
  // startEdge rebuilds the portal PWA (pwa/dist) first when it is missing or older than its sources.
  const edge = await startEdge({
    port: edgePort,
    persistDir,
    // The portal's softphone registers with the media node's SIP over WebSocket.
    vars: {
      PORTAL_URL: portalUrl,
      SIP_WS_URL: `ws://${process.env.SIP_HOST || host}:${process.env.SIP_WS_PORT || 5066}`,
    },
    log: (line) => console.log(line),
  });
  context.edgeUrl = edge.url;
  try {
    await seedDemo(edge.url, dataDir);
  } catch (error) {
    await edge.stop();
    throw error;
  }
  return { name: "Edge API", url: `${edge.url}/api  (health /api/health, OpenAPI /api/openapi.json)`, stop: edge.stop };
}

/** The portal PWA is served by the edge itself (Workers static assets): this only reports it. */
async function startPortal(ctx) {
  const report = JSON.parse(readFileSync(resolve(root, "pwa/dist/build-report.json"), "utf8"));
  const size = (report.firstScreenJsGzip / 1024).toFixed(1);
  return {
    name: "Portal",
    url: `${ctx.edgeUrl}/  (the PWA: open it in a browser; first screen ${size} KB JS gzipped)`,
    stop: async () => {},
  };
}

function optional(name, entry, issue) {
  return {
    name,
    async start(ctx) {
      const file = resolve(root, entry);
      if (!existsSync(file)) return null;
      const mod = await import(pathToFileURL(file).href);
      return { name, ...(await mod.start(ctx)) };
    },
    missing: `not built yet (arrives with issue ${issue})`,
  };
}

// ---- run and stop ----

const running = [];
let starting = true;
let stopRequested = null;

async function stopAll(code) {
  const timer = setTimeout(() => {
    console.error("Stopping took longer than 10 s; exiting anyway.");
    process.exit(1);
  }, 10_000);
  timer.unref();
  for (const component of running.reverse()) {
    try {
      await component.stop();
    } catch (error) {
      console.error(`${component.name}: ${error instanceof Error ? error.message : error}`);
    }
  }
  console.log("EdgePBX stopped.");
  process.exit(code);
}

let stopRequestedAt = 0;
function requestStop(signal) {
  // Ctrl+C reaches start.mjs both from the terminal and forwarded by npm: one stop, not a forced exit.
  if (stopRequested && Date.now() - stopRequestedAt < 1_000) return;
  if (stopRequested) {
    console.error(`${signal} again: exiting without waiting.`);
    process.exit(130);
  }
  stopRequested = signal;
  stopRequestedAt = Date.now();
  console.log(`\n${signal}: stopping…`);
  if (!starting) void stopAll(0);
}
const signalHandlers = { SIGINT: () => requestStop("SIGINT"), SIGTERM: () => requestStop("SIGTERM") };
for (const [signal, handler] of Object.entries(signalHandlers)) process.on(signal, handler);

/**
 * wrangler and miniflare add SIGINT/SIGTERM listeners that exit the process at once; drop them so
 * the components are disposed in order. (miniflare's "exit" hook stays as a last resort.)
 */
function ownSignals() {
  for (const [signal, handler] of Object.entries(signalHandlers))
    for (const listener of process.listeners(signal))
      if (listener !== handler) process.removeListener(signal, listener);
}

const summary = [];
try {
  for (const component of components) {
    if (stopRequested) break;
    const started = await component.start(context);
    ownSignals();
    if (started) {
      running.push(started);
      summary.push(`  ${started.name.padEnd(11)} ${started.url ?? "running"}`);
    } else {
      summary.push(`  ${component.name.padEnd(11)} ${component.missing}`);
    }
  }
} catch (error) {
  console.error(`Start failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
  await stopAll(1);
}
starting = false;
if (stopRequested) await stopAll(0);

console.log(
  ["", "EdgePBX is running:", ...summary, `  Data        ${show(dataDir)}/`, "Press Ctrl+C to stop."].join("\n"),
);
