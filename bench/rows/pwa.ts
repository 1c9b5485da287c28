import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildPwa } from "../../pwa/build.ts";
import type { Measured } from "./edge-config.ts";

/**
 * The portal's first screen: the JS it loads before login renders (the entry chunk and its
 * static imports), gzipped, from a fresh production build of pwa/ in a temporary folder.
 */
export async function pwaRows(): Promise<Measured[]> {
  const dir = await mkdtemp(join(tmpdir(), "edgepbx-bench-pwa-"));
  try {
    const report = await buildPwa(join(dir, "dist"));
    const kb = Math.round((report.firstScreenJsGzip / 1024) * 10) / 10;
    const total = Math.round((report.totalJsGzip / 1024) * 10) / 10;
    return [
      {
        row: {
          name: "PWA first screen JS",
          unit: "KB gz",
          p50: kb,
          p99: kb,
          n: 1,
          peer: null,
          peerP50: null,
          peerP99: null,
          ratio: null,
          target: { stat: "p50", max: 80 },
          note: `gzip -9 of the login screen's JS (${report.firstScreenJs.length} files: entry + static imports); every screen together ${total} KB gz; build ${report.ms} ms`,
        },
        ours: [kb],
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
