import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FaxEngine } from "../../media/fax/FaxEngine.ts";
import { makeFaxDocument } from "../../media/test-support/fax-documents.ts";
import { connectFaxes } from "../../media/test-support/fax-line.ts";
import { summarize } from "../lib/stats.ts";
import type { Measured } from "./edge-config.ts";

const ROUNDS = 5;
const PAGES = ["EdgePBX fax bench", "Second page of the bench fax"];

/** One 2-page fax between two engines in memory through G.711 μ-law: CPU of both ends, audio time. */
function faxOnce(
  document: string,
  received: string,
): { cpuMs: number; audioMs: number; pages: number; bitRate: number; ecm: boolean } {
  const sender = new FaxEngine({ calling: true, transmitFile: document, ident: "+15550100" });
  const receiver = new FaxEngine({ calling: false, receiveFile: received, ident: "+15550199" });
  const { cpuMs, audioMs } = connectFaxes(sender, receiver, "PCMU");
  const result = receiver.result;
  if (!sender.result?.success || !result?.success) {
    throw new Error(`fax bench: the fax failed (${sender.result?.text ?? "sender unfinished"} / ${result?.text})`);
  }
  return {
    cpuMs,
    audioMs,
    pages: result.pagesTransferred,
    bitRate: result.bitRate,
    ecm: result.ecm,
  };
}

/**
 * Fax cost in the media node's process (issue #9): a 2-page fine-resolution TIFF-F (ghostscript)
 * sent by one FaxEngine to another through G.711 μ-law, frame by frame, as fast as the CPU goes.
 * Both ends run in the one process, so one end's cost is half the measured CPU.
 */
export async function faxRows(): Promise<Measured[]> {
  const dir = await mkdtemp(join(tmpdir(), "edgepbx-bench-fax-"));
  try {
    const document = join(dir, "sent.tif");
    await makeFaxDocument(document, PAGES);
    const perPage: number[] = [];
    const share: number[] = [];
    let last: ReturnType<typeof faxOnce> | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const run = faxOnce(document, join(dir, `received-${round}.tif`));
      perPage.push(run.cpuMs / 2 / run.pages);
      share.push((100 * run.cpuMs) / 2 / run.audioMs);
      last = run;
    }
    const pp = summarize(perPage);
    const sh = summarize(share);
    const method =
      `2-page TIFF-F (204×196 dpi, ghostscript tiffg3) between two FaxEngines (SpanDSP, ${last?.bitRate} bit/s, ` +
      `ECM ${last?.ecm ? "on" : "off"}) through G.711 μ-law in memory, ${ROUNDS} rounds of ` +
      `${((last?.audioMs ?? 0) / 1000).toFixed(1)} s of fax audio; CPU from process.cpuUsage() around both ends and ` +
      "the G.711 coding, halved for one end; p99 column = worst round (JIT warm-up included).";
    return [
      {
        row: {
          name: "fax CPU per page",
          unit: "ms",
          p50: pp.p50,
          p99: pp.max,
          n: pp.n,
          peer: null,
          peerP50: null,
          peerP99: null,
          ratio: null,
          target: null,
          note: `CPU time one fax end spends per page. ${method}`,
        },
        ours: perPage,
      },
      {
        row: {
          name: "fax share of a core",
          unit: "% of a core",
          p50: sh.p50,
          p99: sh.max,
          n: sh.n,
          peer: null,
          peerP50: null,
          peerP99: null,
          ratio: null,
          target: { stat: "p99", max: 1 },
          note: `One fax end's CPU relative to the call time it takes (per concurrent fax). ${method}`,
        },
        ours: share,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
