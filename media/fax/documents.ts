import { execFile } from "node:child_process";
import { open } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);
/** A PDF with hundreds of pages or a hostile one must not hold the node's tools for long. */
const TOOL_TIMEOUT_MS = 60_000;

/**
 * Fax page geometry (ITU-T T.4): 1728 pels across 215 mm; fine resolution 7.7 lines/mm
 * (204 × 196 dpi), standard 3.85 lines/mm (204 × 98 dpi); pages as long as A4.
 */
export const FAX_RESOLUTIONS = {
  fine: { dpi: "204x196", size: "1728x2292" },
  standard: { dpi: "204x98", size: "1728x1146" },
} as const;
export type FaxResolution = keyof typeof FAX_RESOLUTIONS;

async function tool(command: string, args: string[]): Promise<void> {
  try {
    await run(command, args, { timeout: TOOL_TIMEOUT_MS, maxBuffer: 1024 * 1024 });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
    if (e.code === "ENOENT") throw new Error(`${command} is not installed (Debian: ${DEBIAN_PACKAGE[command]})`);
    const why = e.killed ? `timed out after ${TOOL_TIMEOUT_MS / 1000} s` : e.stderr?.trim() || e.message;
    throw new Error(`${command} failed: ${why}`);
  }
}

const DEBIAN_PACKAGE: Record<string, string> = { gs: "ghostscript", tiff2pdf: "libtiff-tools" };

/**
 * A PDF (what email-to-fax receives) as TIFF-F for SpanDSP to send: ghostscript's CCITT G3
 * device, every page scaled to fit the fax page. Several PDFs make one fax, their pages in turn.
 * -dSAFER: the PDF comes from outside.
 */
export async function pdfToFaxTiff(
  pdf: string | string[],
  tiff: string,
  resolution: FaxResolution = "fine",
): Promise<number> {
  const { dpi, size } = FAX_RESOLUTIONS[resolution];
  await tool("gs", [
    "-q",
    "-dNOPAUSE",
    "-dBATCH",
    "-dSAFER",
    "-sDEVICE=tiffg3",
    `-r${dpi}`,
    `-g${size}`,
    "-dPDFFitPage",
    "-dFIXEDMEDIA",
    `-sOutputFile=${tiff}`,
    ...(Array.isArray(pdf) ? pdf : [pdf]),
  ]);
  const pages = await tiffPageCount(tiff);
  if (pages === 0) throw new Error("the PDF has no pages to fax");
  return pages;
}

/** A received TIFF-F (SpanDSP's) as a PDF for fax-to-email: libtiff's tiff2pdf keeps the G3 data as it is. */
export async function faxTiffToPdf(tiff: string, pdf: string): Promise<void> {
  await tool("tiff2pdf", ["-o", pdf, tiff]);
}

/** Pages in a TIFF: the chain of its image directories (IFDs), read from the file itself. */
export async function tiffPageCount(path: string): Promise<number> {
  const file = await open(path, "r");
  try {
    const read = async (at: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, at);
      if (bytesRead !== length) throw new Error(`${path}: truncated TIFF`);
      return buffer;
    };
    const header = await read(0, 8);
    const order = header.toString("latin1", 0, 2);
    if (order !== "II" && order !== "MM") throw new Error(`${path}: not a TIFF`);
    const le = order === "II";
    const u16 = (b: Buffer, at: number) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
    const u32 = (b: Buffer, at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
    if (u16(header, 2) !== 42) throw new Error(`${path}: not a classic TIFF`);
    const { size } = await file.stat();
    const seen = new Set<number>();
    let pages = 0;
    for (let ifd = u32(header, 4); ifd !== 0; pages++) {
      // A loop or an offset past the end is a broken file, not an endless fax.
      if (seen.has(ifd) || ifd + 2 > size || pages > 10_000) throw new Error(`${path}: broken TIFF directory chain`);
      seen.add(ifd);
      const entries = u16(await read(ifd, 2), 0);
      ifd = u32(await read(ifd + 2 + entries * 12, 4), 0);
    }
    return pages;
  } finally {
    await file.close();
  }
}
