// Debian packages the tests and the media node use, installed when missing (npm test, CI).
// `--runtime`: only those the running media node needs (npm start).
// Each entry: the command that proves the package is there, and the package that brings it.
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
];

const has = (command) => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
const wanted = process.argv.includes("--runtime") ? PACKAGES.filter((p) => p.runtime) : PACKAGES;
const missing = wanted.filter((p) => !has(p.command));
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
