// Where the fax addon and its build status live, shared by the postinstall (build-addon.mjs) and
// the media node at run time (media/fax/addon.ts). Plain JS so that it runs without tsx.
//
// The addon is built in place (media/fax/native/build, git-ignored); the status of the last build
// (ok, or why fax is unavailable) is kept beside mediasoup's record in node_modules/.cache/edgepbx/,
// so `npm ci`, which empties node_modules, also makes the next install check the build again.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const projectRoot = resolve(import.meta.dirname, "..", "..");
export const nativeDir = join(projectRoot, "media", "fax", "native");
export const addonFile = join(nativeDir, "build", "Release", "edgepbx_fax.node");

/** node_modules/.cache/edgepbx/fax-addon.json, written by the postinstall. */
export function statusFile(root = projectRoot) {
  return join(root, "node_modules", ".cache", "edgepbx", "fax-addon.json");
}

/** The last build's status ({ ok, reason?, stamp?, spandsp?, at }), or null when none was recorded. */
export function readStatus(root = projectRoot) {
  try {
    return JSON.parse(readFileSync(statusFile(root), "utf8"));
  } catch {
    return null;
  }
}
