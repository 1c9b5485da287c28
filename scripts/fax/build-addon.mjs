// Postinstall: builds the fax addon (media/fax/native, SpanDSP through node-addon-api) with
// node-gyp. It NEVER fails the install: fax is optional, so whatever goes wrong is recorded in
// the status file (see addon-path.mjs) and the media node says "fax unavailable: <why>".
//
// Offline by design: node-gyp builds against the headers of the installed Node (npm passes
// npm_config_nodedir, set to /usr on these machines; without it we use the running Node's own
// prefix when it ships include/node), so it never downloads a headers tarball.
//
// Steps: skip when EDGEPBX_SKIP_FAX=1; reuse a build whose stamp (sources, Node ABI, SpanDSP and
// node-addon-api versions) matches; apt-install libspandsp-dev when it is missing and we are
// root (like scripts/mediasoup/install.mjs does for its build packages); `node-gyp rebuild`;
// load the result in a child process to prove it links; write the status.
//
// Flags: --rebuild ignores the stamp. `npm run fax:build` runs it by hand.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { addonFile, nativeDir, projectRoot, readStatus, statusFile } from "./addon-path.mjs";

const BUILD_TIMEOUT_MS = 5 * 60_000;
const APT_TIMEOUT_MS = 10 * 60_000;
const rebuild = process.argv.includes("--rebuild");
const started = Date.now();

function log(message) {
  console.log(`[fax-addon] ${message}`);
}

function writeStatus(status) {
  mkdirSync(dirname(statusFile()), { recursive: true });
  writeFileSync(statusFile(), `${JSON.stringify({ ...status, at: new Date().toISOString() }, null, 2)}\n`);
}

/** Records why fax is unavailable and ends the install step successfully. */
function unavailable(reason) {
  writeStatus({ ok: false, reason });
  log(`Virtual FAX unavailable: ${reason}`);
  log("the rest of EdgePBX installs and runs without it; `npm run fax:build` retries");
  process.exit(0);
}

const run = (command, args, options = {}) => spawnSync(command, args, { encoding: "utf8", ...options });
const hasCommand = (name) => run("sh", ["-c", `command -v ${name}`]).status === 0;
const spandspVersion = () => {
  const q = run("pkg-config", ["--modversion", "spandsp"]);
  return q.status === 0 ? q.stdout.trim() : null;
};

/** libspandsp-dev through apt-get when we are root; false when that is not possible or fails. */
function installSpandsp() {
  if (process.getuid?.() !== 0 || !hasCommand("apt-get")) return false;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const packages = ["libspandsp-dev", "pkg-config"];
  const apt = (args) => {
    log(`apt-get ${args.join(" ")}`);
    const r = run("apt-get", args, { env, timeout: APT_TIMEOUT_MS });
    if (r.status !== 0)
      log(`  failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr ?? "").trim().split("\n").pop()}`);
    return r.status === 0;
  };
  const install = ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "--no-install-recommends", ...packages];
  return apt(install) || (apt(["update", "-q"]) && apt(install));
}

/** What the build depends on; a matching stamp means the existing addon is current. */
function stamp(spandsp, addonApiVersion) {
  const hash = createHash("sha256");
  for (const name of ["binding.gyp", "fax_session.cc"]) hash.update(readFileSync(join(nativeDir, name)));
  hash.update(`${process.versions.modules}|${process.arch}|${spandsp}|${addonApiVersion}`);
  return hash.digest("hex").slice(0, 16);
}

/** Loads the addon in a fresh process: proves it links against libspandsp at run time. */
function loads(file) {
  const probe = run(
    process.execPath,
    ["-e", `process.exit(typeof require(${JSON.stringify(file)}).FaxSession === "function" ? 0 : 3)`],
    {
      timeout: 30_000,
    },
  );
  return probe.status === 0
    ? null
    : (probe.stderr
        .trim()
        .split("\n")
        .find((l) => /Error/.test(l)) ?? `exit ${probe.status}`);
}

/** The headers folder for node-gyp: npm's nodedir, else the running Node's prefix if it has headers. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? prefix : null;
}

/** One build at a time in the folder (two `npm install`s at once share the checkout). */
function lock() {
  const path = join(dirname(statusFile()), ".build.lock");
  mkdirSync(dirname(path), { recursive: true });
  for (let waited = 0; ; waited += 1) {
    try {
      closeSync(openSync(path, "wx"));
      process.once("exit", () => rmSync(path, { force: true }));
      return;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      const age = Date.now() - statSync(path, { throwIfNoEntry: false })?.mtimeMs;
      if (!(age < BUILD_TIMEOUT_MS)) rmSync(path, { force: true });
      else if (waited > BUILD_TIMEOUT_MS / 1000) unavailable(`another build holds ${path}`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
}

function main() {
  if (process.env.EDGEPBX_SKIP_FAX) unavailable("skipped (EDGEPBX_SKIP_FAX is set)");
  if (process.platform !== "linux")
    unavailable(`the fax addon is built for Linux with Debian's libspandsp-dev, not ${process.platform}`);

  const require = createRequire(join(projectRoot, "package.json"));
  let nodeGyp;
  let addonApiVersion;
  try {
    addonApiVersion = require("node-addon-api/package.json").version;
    nodeGyp = require.resolve("node-gyp/bin/node-gyp.js");
  } catch {
    nodeGyp = process.env.npm_config_node_gyp;
    if (!addonApiVersion || !nodeGyp) unavailable("node-addon-api or node-gyp is not installed (npm install)");
  }

  let spandsp = spandspVersion();
  if (!spandsp) {
    log("SpanDSP headers not found (pkg-config spandsp): trying to install libspandsp-dev");
    if (installSpandsp()) spandsp = spandspVersion();
    if (!spandsp) unavailable("libspandsp-dev is not installed (as root: apt-get install libspandsp-dev pkg-config)");
  }

  const current = stamp(spandsp, addonApiVersion);
  const previous = readStatus();
  if (!rebuild && previous?.ok && previous.stamp === current && existsSync(addonFile) && !loads(addonFile)) {
    log(`up to date (SpanDSP ${spandsp})`);
    return;
  }

  const headers = nodeDir();
  if (!headers) log("no local Node headers found: node-gyp will try to download them");
  lock();
  log(`building with node-gyp against SpanDSP ${spandsp}${headers ? ` and the Node headers in ${headers}` : ""}`);
  const args = [
    nodeGyp,
    "rebuild",
    `--directory=${nativeDir}`,
    "--jobs=2",
    ...(headers ? [`--nodedir=${headers}`] : []),
  ];
  // node-gyp reads npm_config_nodedir before its flags: an empty one would make it download headers.
  const env = { ...process.env, ...(headers ? { npm_config_nodedir: headers } : {}) };
  const build = run(process.execPath, args, { cwd: projectRoot, env, timeout: BUILD_TIMEOUT_MS });
  if (build.status !== 0) {
    const tail = `${build.stdout ?? ""}${build.stderr ?? ""}`.trim().split("\n").slice(-15);
    console.error(tail.map((l) => `  | ${l}`).join("\n"));
    unavailable(`node-gyp failed (${build.error?.message ?? `exit ${build.status}`}); output above`);
  }
  const problem = loads(addonFile);
  if (problem) unavailable(`the built addon does not load: ${problem}`);
  writeStatus({ ok: true, stamp: current, spandsp, node: process.version, file: addonFile });
  log(`built ${addonFile} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (error) {
  unavailable(`unexpected error: ${error.message}`);
}
