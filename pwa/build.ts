/**
 * Builds the portal PWA into pwa/dist, which the edge serves as Workers static assets:
 * esbuild bundles pwa/src (Preact, code-split per screen) and the workbox service worker,
 * this script writes index.html, the web app manifest, the icons and build-report.json (the
 * first screen's JS, gzipped). `npm run build:pwa`, or `ensurePwa()` from code: it builds only
 * when pwa/dist is missing or older than its sources.
 *
 * The build goes to a temporary folder that then replaces pwa/dist, so a running edge never
 * serves half a build.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type Metafile } from "esbuild";
import { iconPng } from "./icons.ts";

const ROOT = resolve(import.meta.dirname, "..");
export const PWA_DIST = resolve(ROOT, "pwa/dist");
const REPORT = "build-report.json";

export interface PwaBuildReport {
  builtAt: string;
  /** JS the first screen loads (entry + its static imports), gzipped bytes. */
  firstScreenJsGzip: number;
  firstScreenJs: string[];
  /** All JS, gzipped bytes. */
  totalJsGzip: number;
  files: number;
  ms: number;
}

const SOURCES = ["pwa/src", "pwa/sw", "pwa/build.ts", "pwa/icons.ts", "shared", "package-lock.json"];

/** Newest modification time of the PWA's sources (shared/ included: the PWA bundles its schema). */
function newestSource(): number {
  let newest = 0;
  const visit = (path: string) => {
    const info = statSync(path, { throwIfNoEntry: false });
    if (!info) return;
    if (info.isDirectory()) {
      for (const name of readdirSync(path)) if (!name.startsWith(".")) visit(join(path, name));
    } else if (!path.endsWith(".test.ts")) newest = Math.max(newest, info.mtimeMs);
  };
  for (const source of SOURCES) visit(resolve(ROOT, source));
  return newest;
}

/** True when pwa/dist is missing or older than any of its sources. */
export function pwaIsStale(): boolean {
  const stamp = statSync(join(PWA_DIST, REPORT), { throwIfNoEntry: false });
  return !stamp || stamp.mtimeMs < newestSource();
}

/** Builds pwa/dist when it is stale; null when it was already up to date. */
export async function ensurePwa(log: (line: string) => void = () => {}): Promise<PwaBuildReport | null> {
  if (!pwaIsStale()) return null;
  log("Building the portal PWA (pwa/dist is missing or older than its sources)…");
  const report = await buildPwa();
  log(`PWA built in ${report.ms} ms; first screen ${(report.firstScreenJsGzip / 1024).toFixed(1)} KB JS gzipped.`);
  return report;
}

export async function buildPwa(outDir = PWA_DIST): Promise<PwaBuildReport> {
  const started = Date.now();
  const tmp = `${outDir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const app = await build({
      absWorkingDir: ROOT,
      entryPoints: { app: "pwa/src/main.tsx", styles: "pwa/src/styles.css" },
      bundle: true,
      splitting: true,
      format: "esm",
      outdir: join(tmp, "assets"),
      entryNames: "[name]-[hash]",
      chunkNames: "[name]-[hash]",
      assetNames: "[name]-[hash]",
      minify: true,
      sourcemap: "linked",
      legalComments: "linked",
      target: ["chrome109", "firefox115", "safari15.6"],
      jsx: "automatic",
      jsxImportSource: "preact",
      define: { "process.env.NODE_ENV": '"production"' },
      metafile: true,
      logLevel: "warning",
      tsconfig: "pwa/tsconfig.json",
    });
    const outputs = app.metafile.outputs;
    const entryOf = (entry: string) => {
      const found = Object.entries(outputs).find(([, o]) => o.entryPoint === entry);
      if (!found) throw new Error(`esbuild produced no output for ${entry}`);
      return found[0];
    };
    const appJs = entryOf("pwa/src/main.tsx");
    const css = entryOf("pwa/src/styles.css");
    const firstScreen = staticClosure(outputs, appJs);
    const url = (out: string) => `/${relative(tmp, resolve(ROOT, out)).split("\\").join("/")}`;

    await mkdir(join(tmp, "icons"));
    const icons = [
      { file: "icons/icon-192.png", size: 192, maskable: false },
      { file: "icons/icon-512.png", size: 512, maskable: false },
      { file: "icons/icon-maskable-512.png", size: 512, maskable: true },
      { file: "icons/apple-touch-icon.png", size: 180, maskable: true },
    ];
    for (const icon of icons) await writeFile(join(tmp, icon.file), iconPng(icon.size, icon.maskable));
    await writeFile(
      join(tmp, "manifest.webmanifest"),
      `${JSON.stringify(
        {
          name: "EdgePBX Management Portal",
          short_name: "EdgePBX",
          description: "Manage your hosted PBX: users, call routing, holidays and changes.",
          id: "/",
          start_url: "/#/services",
          scope: "/",
          display: "standalone",
          background_color: "#ffffff",
          theme_color: "#0b5cad",
          icons: icons
            .filter((i) => i.size !== 180)
            .map((i) => ({
              src: `/${i.file}`,
              sizes: `${i.size}x${i.size}`,
              type: "image/png",
              purpose: i.maskable ? "maskable" : "any",
            })),
        },
        null,
        2,
      )}\n`,
    );
    await writeFile(join(tmp, "index.html"), indexHtml(url(appJs), url(css), firstScreen.slice(1).map(url)));
    // Cloudflare's asset headers: hashed files never change; the shell and the worker are revalidated.
    await writeFile(
      join(tmp, "_headers"),
      [
        "/assets/*",
        "  Cache-Control: public, max-age=31536000, immutable",
        "/sw.js",
        "  Cache-Control: no-cache",
        "/index.html",
        "  Cache-Control: no-cache",
        "",
      ].join("\n"),
    );

    // The service worker precaches every file of the build (the whole app works offline).
    const precache = [];
    for (const file of await listFiles(tmp)) {
      if (file.endsWith(".map") || file.endsWith(".LEGAL.txt") || file === "_headers") continue;
      const hashed = file.startsWith("assets/");
      const revision = hashed
        ? null
        : createHash("sha256")
            .update(await readFile(join(tmp, file)))
            .digest("hex");
      precache.push({ url: `/${file}`, revision: revision?.slice(0, 16) ?? null });
    }
    await build({
      absWorkingDir: ROOT,
      entryPoints: ["pwa/sw/sw.ts"],
      bundle: true,
      format: "iife",
      outfile: join(tmp, "sw.js"),
      minify: true,
      target: ["chrome109", "firefox115", "safari15.6"],
      define: { "process.env.NODE_ENV": '"production"', "self.__WB_MANIFEST": JSON.stringify(precache) },
      logLevel: "warning",
      tsconfig: "pwa/sw/tsconfig.json",
    });

    const gz = async (out: string) => gzipSync(await readFile(resolve(ROOT, out)), { level: 9 }).length;
    let firstScreenJsGzip = 0;
    for (const out of firstScreen) firstScreenJsGzip += await gz(out);
    let totalJsGzip = 0;
    for (const out of Object.keys(outputs)) if (out.endsWith(".js")) totalJsGzip += await gz(out);
    const report: PwaBuildReport = {
      builtAt: new Date().toISOString(),
      firstScreenJsGzip,
      firstScreenJs: firstScreen.map(url),
      totalJsGzip,
      files: precache.length + 1,
      ms: Date.now() - started,
    };
    await writeFile(join(tmp, REPORT), `${JSON.stringify(report, null, 2)}\n`);

    // Swap the new build in: rename is atomic, the old folder is removed afterwards.
    const old = `${outDir}.old-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    if (existsSync(outDir)) await rename(outDir, old);
    await rename(tmp, outDir);
    await rm(old, { recursive: true, force: true });
    return report;
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/** An output and every chunk it imports statically (what loads before the first screen renders). */
function staticClosure(outputs: Metafile["outputs"], start: string): string[] {
  const seen = new Set<string>();
  const visit = (out: string) => {
    if (seen.has(out)) return;
    seen.add(out);
    for (const imported of outputs[out]?.imports ?? []) if (imported.kind === "import-statement") visit(imported.path);
  };
  visit(start);
  return [...seen];
}

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...(await listFiles(join(dir, entry.name), path)));
    else found.push(path);
  }
  return found.sort();
}

function indexHtml(appJs: string, css: string, preloads: string[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>EdgePBX Management Portal</title>
<meta name="description" content="Manage your hosted PBX.">
<meta name="theme-color" content="#0b5cad">
<link rel="manifest" href="/manifest.webmanifest">
<link rel="icon" type="image/png" sizes="192x192" href="/icons/icon-192.png">
<link rel="apple-touch-icon" href="/icons/apple-touch-icon.png">
<link rel="stylesheet" href="${css}">
${preloads.map((p) => `<link rel="modulepreload" href="${p}">`).join("\n")}
<script type="module" src="${appJs}"></script>
</head>
<body>
<div id="app"><p class="boot">Loading the portal…</p></div>
<noscript><p class="boot">The EdgePBX portal needs JavaScript.</p></noscript>
</body>
</html>
`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const report = await buildPwa();
  console.log(
    `pwa/dist built in ${report.ms} ms: ${report.files} files; first screen ${(report.firstScreenJsGzip / 1024).toFixed(1)} KB JS gzipped (${report.firstScreenJs.join(", ")}); all JS ${(report.totalJsGzip / 1024).toFixed(1)} KB gzipped.`,
  );
}
