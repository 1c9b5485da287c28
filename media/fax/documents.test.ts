import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  blackPixels,
  differingPixels,
  type FaxBitmap,
  makePdfDocument,
  renderPdfPages,
  renderTiffPages,
  tiffPages,
} from "../test-support/fax-documents.ts";
import { connectFaxes } from "../test-support/fax-line.ts";
import { faxAvailability } from "./addon.ts";
import { faxTiffToPdf, pdfToFaxTiff, tiffPageCount } from "./documents.ts";
import { FaxEngine } from "./FaxEngine.ts";

const fax = faxAvailability();

describe("fax documents: PDF → TIFF-F → fax → PDF", () => {
  let dir: string;
  let pdf: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgepbx-fax-docs-"));
    pdf = join(dir, "emailed.pdf");
    await makePdfDocument(pdf, ["Invoice 2026-117", "Terms and conditions"]);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("a 2-page PDF becomes a 2-page TIFF-F at fine and standard resolution", async () => {
    for (const [resolution, length] of [
      ["fine", 2292],
      ["standard", 1146],
    ] as const) {
      const tiff = join(dir, `${resolution}.tif`);
      assert.equal(await pdfToFaxTiff(pdf, tiff, resolution), 2);
      const pages = await tiffPages(tiff);
      assert.equal(pages.length, 2, "tiffinfo agrees with tiffPageCount");
      for (const page of pages) {
        assert.deepEqual([page.width, page.length], [1728, length]);
        assert.match(page.compression, /CCITT Group 3/);
      }
    }
  });

  test("the PDF faxed through G.711 A-law comes out as a PDF whose pages match the faxed ones", {
    skip: fax.available ? false : fax.reason,
  }, async () => {
    const sent = join(dir, "sent.tif");
    const received = join(dir, "received.tif");
    const mailed = join(dir, "received.pdf");
    await pdfToFaxTiff(pdf, sent);
    const sender = new FaxEngine({ calling: true, transmitFile: sent, ident: "+15550100" });
    const receiver = new FaxEngine({ calling: false, receiveFile: received, ident: "+15550199" });
    connectFaxes(sender, receiver, "PCMA");
    assert.equal(receiver.result?.success, true, receiver.result?.text);
    assert.equal(await tiffPageCount(received), 2);

    await faxTiffToPdf(received, mailed);
    const [faxed, arrived, original] = await Promise.all([
      renderTiffPages(sent),
      renderPdfPages(mailed),
      renderPdfPages(pdf),
    ]);
    assert.equal(arrived.length, 2);
    for (const [i, page] of arrived.entries()) {
      assert.equal(differingPixels(page, faxed[i] as FaxBitmap), 0, `page ${i + 1}`);
      // The original at fax resolution is A4 (1687 pels), the fax page 1728: same ink, near enough.
      const ink = blackPixels(original[i] as FaxBitmap);
      assert.ok(Math.abs(blackPixels(page) - ink) < ink * 0.1, `page ${i + 1} carries the original's ink`);
    }
    assert.ok(differingPixels(arrived[0] as FaxBitmap, arrived[1] as FaxBitmap) > 5000, "the pages differ");
  });

  test("what is not a PDF or not a TIFF is refused with a reason", async () => {
    const junk = join(dir, "junk.pdf");
    await writeFile(junk, "this is not a PDF\n");
    await assert.rejects(pdfToFaxTiff(junk, join(dir, "junk.tif")), /gs failed|no pages/);
    await assert.rejects(tiffPageCount(junk), /not a TIFF/);
    const loop = Buffer.alloc(32);
    loop.write("II", 0, "latin1");
    loop.writeUInt16LE(42, 2);
    loop.writeUInt32LE(8, 4); // first IFD at 8 …
    loop.writeUInt16LE(0, 8); // … with no entries …
    loop.writeUInt32LE(8, 10); // … pointing at itself
    const looped = join(dir, "loop.tif");
    await writeFile(looped, loop);
    await assert.rejects(tiffPageCount(looped), /broken TIFF directory chain/);
  });
});
