// Debian packages the tests and the media node use, installed when missing (npm test, CI).
// `--runtime`: only those the running media node needs (npm start).
// Each entry: the command that proves the package is there (or a shell probe that must succeed),
// the package that brings it, and optionally a script to run once it has been installed.
import { spawnSync } from "node:child_process";

const PACKAGES = [
  { command: "sipp", pkg: "sip-tester", why: "SIP phones and carriers in tests and benchmarks" },
  { command: "curl", pkg: "curl", why: "the acceptance walk" },
  { command: "openssl", pkg: "openssl", why: "certificates and decrypting recordings" },
  { command: "baresip", pkg: "baresip", why: "a real softphone in the call interop tests" },
  { command: "tcpdump", pkg: "tcpdump", why: "counting the RTP a sipp desk phone receives (softphone test)" },
  { command: "chromium", pkg: "chromium", why: "a real browser (SIP.js, WebRTC) in the browser call tests" },
  { command: "espeak-ng", pkg: "espeak-ng", why: "the media node's spoken prompts", runtime: true },
  { command: "ffmpeg", pkg: "ffmpeg", why: "prompts and announcements converted to 8 kHz", runtime: true },
  { command: "gs", pkg: "ghostscript", why: "fax documents: PDF to TIFF-F, rendering fax pages in tests" },
  {
    command: "tiff2pdf",
    pkg: "libtiff-tools",
    why: "received faxes to PDF (fax to email), TIFF pages read in tests",
    runtime: true,
  },
  { command: "pkg-config", pkg: "pkg-config", why: "finding SpanDSP for the fax addon build" },
  {
    probe: "pkg-config --exists spandsp",
    pkg: "libspandsp-dev",
    why: "SpanDSP, the fax modems and T.30 of the fax addon",
    afterInstall: "scripts/fax/build-addon.mjs",
  },
  {
    probe: "ls /usr/lib/*/libspandsp.so.2 /usr/lib/libspandsp.so.2 2>/dev/null | grep -q .",
    pkg: "libspandsp2",
    why: "SpanDSP's library, which the fax addon loads when the media node receives a fax",
    runtime: true,
  },
];

const has = (command) => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
const wanted = process.argv.includes("--runtime") ? PACKAGES.filter((p) => p.runtime) : PACKAGES;
const present = (p) => (p.probe ? spawnSync("sh", ["-c", p.probe], { stdio: "ignore" }).status === 0 : has(p.command));
const missing = wanted.filter((p) => !present(p));
if (missing.length === 0) process.exit(0);

const names = missing.map((p) => p.pkg);
console.log(`Installing Debian packages: ${missing.map((p) => `${p.pkg} (${p.why})`).join(", ")}`);
const root = process.getuid?.() === 0;
if (!root || !has("apt-get")) {
  console.error(`Missing: ${names.join(" ")}. Install them with: sudo apt-get install -y ${names.join(" ")}`);
  process.exit(1);
}
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
const install = () =>
  spawnSync("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...names], { stdio: "inherit", env })
    .status === 0;
if (!install()) {
  // The package lists may be missing or old on a fresh machine.
  spawnSync("apt-get", ["update", "-q"], { stdio: "inherit", env });
  if (!install()) {
    console.error(`Could not install ${names.join(" ")}.`);
    process.exit(1);
  }
}
// Some packages are build inputs (the fax addon was skipped at npm install without SpanDSP).
for (const p of missing.filter((p) => p.afterInstall)) {
  spawnSync(process.execPath, [p.afterInstall], { stdio: "inherit" });
}
