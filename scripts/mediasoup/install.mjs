// Postinstall: makes a mediasoup-worker binary for the installed mediasoup version available,
// without internet if need be. Idempotent; a few tens of milliseconds when the binary is cached.
//
// mediasoup's own postinstall is not used: it downloads a prebuilt worker from GitHub or builds
// with pip-installed meson and subprojects downloaded from the internet, and fails without
// network. package.json denies it (allowScripts) and the npm install that adds mediasoup runs
// with MEDIASOUP_WORKER_BIN set, which makes it a no-op on npm versions that run it anyway.
//
// Order, first success wins (the result is cached, see worker-path.mjs):
//   1. MEDIASOUP_WORKER_BIN names a working binary: use it as is;
//   2. the cache holds a working binary for this mediasoup version;
//   3. node_modules/mediasoup/worker/out/Release/mediasoup-worker works (put there by
//      mediasoup's own postinstall where it ran): copy it into the cache;
//   4. download mediasoup's prebuilt worker from its GitHub release (short timeout; skipped with
//      MEDIASOUP_SKIP_WORKER_PREBUILT_DOWNLOAD=1);
//   5. build it from the worker sources in the npm tarball against Debian's libraries
//      (build-worker.sh; apt-installs the packages it needs; 225 ninja steps, 7-15 minutes on
//      2 cores depending on load).
// A lock file keeps two installs from building at once; the second waits for the first.
//
// Flags: --rebuild ignores the cache and the download and builds locally.
// Env: EDGEPBX_SKIP_MEDIASOUP_WORKER=1 skips all of this (edge-only work);
//      EDGEPBX_MEDIASOUP_WORKER_CACHE overrides the cache folder.
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { hostname, release } from "node:os";
import { dirname, join, resolve } from "node:path";
import { cachedWorkerBin, installedMediasoup, pointerFile } from "./worker-path.mjs";

/** Bump when build-worker.sh changes in a way that must invalidate locally built binaries. */
const RECIPE = 1;
const DEBIAN_PACKAGES = [
  "meson",
  "ninja-build",
  "pkg-config",
  "g++",
  "libssl-dev",
  "libuv1-dev",
  "libsrtp2-dev",
  "libusrsctp-dev",
  "libabsl-dev",
  "flatbuffers-compiler",
  "libflatbuffers-dev",
];
const DOWNLOAD_TIMEOUT_MS = 15_000;
const LOCK_WAIT_MS = 30 * 60_000;
const STALE_LOCK_MS = 2 * 60 * 60_000;

const started = Date.now();
const rebuild = process.argv.includes("--rebuild");

function log(message) {
  console.log(`[mediasoup-worker] ${message}`);
}

function elapsed(since = started) {
  const s = Math.round((Date.now() - since) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

class InstallError extends Error {}

/** A worker binary run without MEDIASOUP_VERSION exits with 41 (main.cpp): that proves it loads. */
function checkBinary(bin) {
  if (!existsSync(bin)) return { ok: false, reason: "missing" };
  const run = spawnSync(bin, [], { env: {}, stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
  if (run.status === 41) return { ok: true };
  const stderr = run.stderr?.toString().trim().split("\n")[0] ?? "";
  const how = run.error ? run.error.message : run.signal ? `signal ${run.signal}` : `exit code ${run.status}`;
  return { ok: false, reason: `${how}${stderr ? `: ${stderr}` : ""}`, missingLibs: run.status === 127 };
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
}

/** Places a file at `target` atomically (readers never see a half-written binary). */
function installFile(source, target, move) {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  if (move) renameSync(source, tmp);
  else copyFileSync(source, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
}

function writePointer(bin, version, source) {
  const path = pointerFile();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ version, bin, source }, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Lock: a file created with O_EXCL holding { pid, host, since }; a lock whose process is gone
// (same host) or that is older than STALE_LOCK_MS is taken over.

function lockIsStale(path) {
  const held = readJson(path);
  if (!held) {
    // being written right now, or garbage: stale only if old
    try {
      return Date.now() - statSync(path).mtimeMs > 60_000;
    } catch {
      return true;
    }
  }
  if (Date.now() - held.since > STALE_LOCK_MS) return true;
  if (held.host !== hostname()) return false;
  try {
    process.kill(held.pid, 0);
    return false;
  } catch (error) {
    return error.code === "ESRCH";
  }
}

async function acquireLock(path) {
  mkdirSync(dirname(path), { recursive: true });
  const waitStart = Date.now();
  let lastNotice = 0;
  for (;;) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: Date.now() }));
      closeSync(fd);
      const releaseLock = () => {
        try {
          if (readJson(path)?.pid === process.pid) unlinkSync(path);
        } catch {}
      };
      process.once("exit", releaseLock);
      return releaseLock;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
    }
    if (lockIsStale(path)) {
      log(`removing stale lock ${path}`);
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() - waitStart > LOCK_WAIT_MS) {
      throw new InstallError(`gave up waiting for ${path} (held for ${elapsed(waitStart)}); remove it if stale`);
    }
    if (Date.now() - lastNotice > 30_000) {
      const held = readJson(path);
      log(`another install is getting the worker (pid ${held?.pid ?? "?"}), waiting… ${elapsed(waitStart)}`);
      lastNotice = Date.now();
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---------------------------------------------------------------------------------------------
// Prebuilt download (what mediasoup's postinstall tries first), with a short timeout.

function prebuiltUrl(version) {
  const base =
    process.env.MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL ??
    "https://github.com/versatica/mediasoup/releases/download";
  let name = `mediasoup-worker-${version}-${process.platform}-${process.arch}`;
  if (process.platform === "linux") name += `-kernel${Number(release().split(".")[0])}`;
  return `${base}/${version}/${name}.tgz`;
}

async function downloadPrebuilt(version, target) {
  const url = prebuiltUrl(version);
  log(`trying the prebuilt worker ${url} (timeout ${DOWNLOAD_TIMEOUT_MS / 1000}s)`);
  const work = join(dirname(target), `download-${process.pid}`);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (!res.ok) {
      log(`no prebuilt worker: HTTP ${res.status}`);
      return false;
    }
    const tgz = Buffer.from(await res.arrayBuffer());
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, "worker.tgz"), tgz);
    const tar = spawnSync("tar", ["-xzf", "worker.tgz"], { cwd: work, stdio: "inherit" });
    const bin = join(work, "mediasoup-worker");
    if (tar.status !== 0 || !existsSync(bin)) {
      log("the prebuilt archive holds no mediasoup-worker");
      return false;
    }
    chmodSync(bin, 0o755);
    const check = checkBinary(bin);
    if (!check.ok) {
      log(`the prebuilt worker does not run here (${check.reason})`);
      return false;
    }
    installFile(bin, target, true);
    return true;
  } catch (error) {
    const cause = error.cause?.code ?? error.cause?.message ?? error.name;
    log(`no prebuilt worker: ${error.message}${cause && cause !== error.message ? ` (${cause})` : ""}`);
    return false;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Local build against Debian's libraries.

function missingDebianPackages() {
  return DEBIAN_PACKAGES.filter((name) => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
    const q = spawnSync("dpkg-query", ["-W", "-f=${Status}", name], { encoding: "utf8" });
    return q.status !== 0 || !q.stdout.includes("install ok installed");
  });
}

function hasCommand(name) {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

function ensureDebianPackages(logFile) {
  if (!hasCommand("dpkg-query") || !hasCommand("apt-get")) {
    throw new InstallError(
      `no apt-get here: building the worker needs these Debian/Ubuntu packages (or their equivalents): ${DEBIAN_PACKAGES.join(" ")}`,
    );
  }
  const missing = missingDebianPackages();
  if (missing.length === 0) return;
  const sudo = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  if (sudo.length > 0 && !hasCommand("sudo")) {
    throw new InstallError(`missing packages, install them as root: apt-get install -y ${missing.join(" ")}`);
  }
  const apt = (args) => {
    const t = Date.now();
    log(`${sudo.join(" ")}${sudo.length ? " " : ""}apt-get ${args.join(" ")}`);
    const [command, ...argv] = [...sudo, "apt-get", ...args];
    const r = spawnSync(command, argv, {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      stdio: ["ignore", "pipe", "pipe"],
      encoding: "utf8",
    });
    writeFileSync(logFile, `$ apt-get ${args.join(" ")}\n${r.stdout ?? ""}${r.stderr ?? ""}\n`, { flag: "a" });
    log(`  ${r.status === 0 ? "done" : `failed (exit ${r.status}), see ${logFile}`} in ${elapsed(t)}`);
    return r.status === 0;
  };
  // wait for another apt/dpkg run (another engineer, unattended upgrades) instead of failing at once
  const install = ["-o", "DPkg::Lock::Timeout=600", "install", "-y", "--no-install-recommends", ...missing];
  if (!apt(install) && !(apt(["update"]) && apt(install))) {
    throw new InstallError(`could not install ${missing.join(" ")} (see ${logFile})`);
  }
}

function buildLocally(pkgDir, target, cacheDir) {
  const logFile = join(cacheDir, "build.log");
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(logFile, `mediasoup-worker local build, ${new Date().toISOString()}\n`);
  log(`building from the worker sources in ${pkgDir} against Debian's libraries (log: ${logFile})`);
  ensureDebianPackages(logFile);

  const buildDir = join(cacheDir, "build");
  const out = `${target}.built-${process.pid}`;
  const t = Date.now();
  const child = spawn("sh", [join(import.meta.dirname, "build-worker.sh"), pkgDir, buildDir, out], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logStream = createWriteStream(logFile, { flags: "a" });
  let phase = "";
  let lastShown = { at: 0, percent: -1 };
  const tail = [];
  const onLine = (line) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    const phaseMatch = /^== (.*)$/.exec(line);
    if (phaseMatch) {
      phase = phaseMatch[1];
      log(`  ${phase} (${elapsed(t)})`);
      lastShown = { at: Date.now(), percent: -1 };
      return;
    }
    const step = /^\[(\d+)\/(\d+)\]/.exec(line);
    if (!step) return;
    const [done, total] = [Number(step[1]), Number(step[2])];
    const percent = Math.floor((100 * done) / total);
    // every 10 %, every 30 s, and the last step
    if (done === total || percent >= lastShown.percent + 10 || Date.now() - lastShown.at > 30_000) {
      log(`  [${done}/${total}] ${percent}% · ${elapsed(t)}`);
      lastShown = { at: Date.now(), percent: percent - (percent % 10) };
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = "";
    stream.on("data", (chunk) => {
      logStream.write(chunk);
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    });
  }
  const stop = (signal) => {
    child.kill(signal);
    process.exit(130);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return new Promise((resolveBuild, rejectBuild) => {
    child.on("close", (code, signal) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      logStream.end();
      if (code !== 0) {
        console.error(tail.map((l) => `  | ${l}`).join("\n"));
        rejectBuild(
          new InstallError(`build failed (${signal ?? `exit ${code}`}) after ${elapsed(t)}; full log: ${logFile}`),
        );
        return;
      }
      const check = checkBinary(out);
      if (!check.ok) {
        rejectBuild(new InstallError(`the built worker does not run (${check.reason}); log: ${logFile}`));
        return;
      }
      installFile(out, target, true);
      rmSync(buildDir, { recursive: true, force: true });
      log(`built in ${elapsed(t)}`);
      resolveBuild(Date.now() - t);
    });
  });
}

// ---------------------------------------------------------------------------------------------

async function obtain(mediasoup, target) {
  const cacheDir = dirname(target);
  const infoFile = join(cacheDir, "build-info.json");
  const record = (source, extra = {}) =>
    writeFileSync(
      infoFile,
      `${JSON.stringify({ mediasoup: mediasoup.version, source, recipe: RECIPE, at: new Date().toISOString(), ...extra }, null, 2)}\n`,
    );

  if (!rebuild) {
    const fromNodeModules = join(mediasoup.dir, "worker", "out", "Release", "mediasoup-worker");
    if (checkBinary(fromNodeModules).ok) {
      log(`copying ${fromNodeModules} into the cache`);
      installFile(fromNodeModules, target, false);
      record("node_modules");
      return "node_modules";
    }
    if (process.env.MEDIASOUP_SKIP_WORKER_PREBUILT_DOWNLOAD) {
      log("MEDIASOUP_SKIP_WORKER_PREBUILT_DOWNLOAD set: not trying the prebuilt download");
    } else if (await downloadPrebuilt(mediasoup.version, target)) {
      record("prebuilt", { url: prebuiltUrl(mediasoup.version) });
      return "prebuilt";
    }
  }
  if (process.platform !== "linux") {
    throw new InstallError(
      `no prebuilt worker and the local build recipe is for Debian/Ubuntu only; build it with mediasoup's own tooling and set MEDIASOUP_WORKER_BIN`,
    );
  }
  const ms = await buildLocally(mediasoup.dir, target, cacheDir);
  record("local-build", { buildSeconds: Math.round(ms / 1000) });
  return "local-build";
}

function cachedIsUsable(target, version) {
  const check = checkBinary(target);
  if (!check.ok) {
    if (check.reason !== "missing") log(`cached ${target} does not run: ${check.reason}`);
    return check;
  }
  const info = readJson(join(dirname(target), "build-info.json"));
  if (info?.source === "local-build" && (info.recipe ?? 0) < RECIPE) {
    log(`cached worker for ${version} was built with an older recipe (${info.recipe ?? 0} < ${RECIPE})`);
    return { ok: false, reason: "old recipe" };
  }
  return check;
}

async function main() {
  if (process.env.EDGEPBX_SKIP_MEDIASOUP_WORKER) {
    log("EDGEPBX_SKIP_MEDIASOUP_WORKER set: skipping (the media node will not start)");
    return;
  }
  const mediasoup = installedMediasoup();
  if (!mediasoup) {
    log("mediasoup is not installed (omitted?): nothing to do");
    return;
  }
  const { version } = mediasoup;

  const given = process.env.MEDIASOUP_WORKER_BIN ? resolve(process.env.MEDIASOUP_WORKER_BIN) : null;
  if (given && !rebuild) {
    if (checkBinary(given).ok) {
      writePointer(given, version, "env");
      log(`using MEDIASOUP_WORKER_BIN=${given}`);
      return;
    }
    log(`MEDIASOUP_WORKER_BIN=${given} is not a working binary: ignoring it`);
  }

  const target = cachedWorkerBin(version);
  if (!rebuild) {
    let check = cachedIsUsable(target, version);
    if (!check.ok && check.missingLibs) {
      // e.g. a fresh container sharing the cache: the binary needs Debian's shared libraries
      ensureDebianPackages(join(dirname(target), "apt.log"));
      check = cachedIsUsable(target, version);
    }
    if (check.ok) {
      writePointer(target, version, "cache");
      log(`mediasoup ${version}: cached worker ${target} (${elapsed()})`);
      return;
    }
  }

  const releaseLock = await acquireLock(join(dirname(target), ".lock"));
  try {
    // another install may have produced it while we waited for the lock
    if (!rebuild && cachedIsUsable(target, version).ok) {
      log(`mediasoup ${version}: worker provided by another install meanwhile`);
    } else {
      log(`mediasoup ${version}: no cached worker, getting one into ${dirname(target)}`);
      const source = await obtain(mediasoup, target);
      log(`mediasoup ${version}: worker ready (${source}) in ${elapsed()}`);
    }
    writePointer(target, version, "cache");
  } finally {
    releaseLock();
  }
}

main().catch((error) => {
  if (error instanceof InstallError) {
    console.error(`[mediasoup-worker] ERROR: ${error.message}`);
    console.error(
      "[mediasoup-worker] the media node needs this binary; set EDGEPBX_SKIP_MEDIASOUP_WORKER=1 to install without it",
    );
  } else {
    console.error(error);
  }
  process.exit(1);
});
