import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Fine fax resolution (T.4: 8 × 7.7 lines/mm, 204 × 196 dpi) on an A4-length page 1728 pels wide. */
export const FAX_DPI = { x: 204, y: 196 } as const;
const FAX_PAGE_PX = { width: 1728, height: 2292 } as const;

/** One page rendered to pixels: 1 bit per pixel, rows packed MSB first (PBM P4), 1 = black. */
export interface FaxBitmap {
  width: number;
  height: number;
  rowBytes: number;
  bits: Buffer;
}

/** PostScript for one page: its text, big, plus a drawing that differs from page to page. */
function pagePostScript(text: string, index: number): string {
  const escaped = text.replace(/[\\()]/g, (c) => `\\${c}`);
  const circles = Array.from(
    { length: index + 1 },
    (_, i) => `newpath ${150 + i * 90} 250 35 0 360 arc ${index % 2 === 0 ? "stroke" : "fill"}`,
  ).join("\n");
  return [
    "/Helvetica-Bold findfont 40 scalefont setfont",
    `72 720 moveto (${escaped}) show`,
    "/Times-Roman findfont 24 scalefont setfont",
    `72 660 moveto (Page ${index + 1} of an EdgePBX test fax) show`,
    "4 setlinewidth",
    `newpath 72 ${300 + index * 60} moveto 540 ${600 - index * 60} lineto stroke`,
    circles,
    `72 100 ${120 + index * 40} 40 rectfill`,
    "showpage",
  ].join("\n");
}

/**
 * A multi-page TIFF-F (CCITT G3, fine resolution) with one page per text, made by ghostscript
 * from generated PostScript: the kind of file email-to-fax will produce from a PDF.
 */
export async function makeFaxDocument(path: string, pages: string[]): Promise<void> {
  await ghostscriptPages(path, pages, [
    "-sDEVICE=tiffg3",
    `-r${FAX_DPI.x}x${FAX_DPI.y}`,
    `-g${FAX_PAGE_PX.width}x${FAX_PAGE_PX.height}`,
  ]);
}

/** A multi-page A4 PDF with one page per text (the same drawings): what a sender would email. */
export async function makePdfDocument(path: string, pages: string[]): Promise<void> {
  await ghostscriptPages(path, pages, ["-sDEVICE=pdfwrite", "-sPAPERSIZE=a4"]);
}

async function ghostscriptPages(path: string, pages: string[], device: string[]): Promise<void> {
  const ps = `${path}.ps`;
  await writeFile(ps, `%!PS\n${pages.map(pagePostScript).join("\n")}\n`);
  try {
    await run("gs", ["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", ...device, `-sOutputFile=${path}`, ps]);
  } finally {
    await rm(ps, { force: true });
  }
}

/** The pages of a TIFF as libtiff's tiffinfo describes them. */
export async function tiffPages(
  path: string,
): Promise<{ width: number; length: number; compression: string; resolution: string }[]> {
  const { stdout } = await run("tiffinfo", [path]);
  return stdout
    .split(/^TIFF Directory at offset/m)
    .slice(1)
    .map((dir) => ({
      width: Number(/Image Width: (\d+)/.exec(dir)?.[1] ?? Number.NaN),
      length: Number(/Image Length: (\d+)/.exec(dir)?.[1] ?? Number.NaN),
      compression: /Compression Scheme: (.*)/.exec(dir)?.[1]?.trim() ?? "",
      resolution: /Resolution: (.*)/.exec(dir)?.[1]?.trim() ?? "",
    }));
}

function parsePbm(data: Buffer): FaxBitmap {
  // P4 header: magic, optional # comments, width, height, one whitespace byte, then the rows.
  let at = 0;
  const token = (): string => {
    for (;;) {
      while (/\s/.test(String.fromCharCode(data[at] ?? 0x20)) && at < data.length) at++;
      if (data[at] !== 0x23) break;
      while (at < data.length && data[at] !== 0x0a) at++;
    }
    const start = at;
    while (at < data.length && !/\s/.test(String.fromCharCode(data[at] ?? 0x20))) at++;
    return data.subarray(start, at).toString("latin1");
  };
  if (token() !== "P4") throw new Error("not a raw PBM (P4)");
  const width = Number(token());
  const height = Number(token());
  at++;
  const rowBytes = Math.ceil(width / 8);
  const bits = data.subarray(at, at + rowBytes * height);
  if (bits.length !== rowBytes * height) throw new Error("PBM shorter than its header says");
  return { width, height, rowBytes, bits };
}

/** A PDF's pages rendered by ghostscript at fax resolution, black and white. */
export async function renderPdfPages(pdf: string): Promise<FaxBitmap[]> {
  const dir = await mkdtemp(join(tmpdir(), "edgepbx-fax-render-"));
  try {
    await run("gs", [
      "-q",
      "-dNOPAUSE",
      "-dBATCH",
      "-dSAFER",
      "-sDEVICE=pbmraw",
      `-r${FAX_DPI.x}x${FAX_DPI.y}`,
      `-sOutputFile=${join(dir, "page-%03d.pbm")}`,
      pdf,
    ]);
    const files = (await readdir(dir)).filter((f) => f.endsWith(".pbm")).sort();
    return Promise.all(files.map(async (f) => parsePbm(await readFile(join(dir, f)))));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A TIFF-F's pages as pixels, the way fax-to-email will see them: tiff2pdf (libtiff) makes the
 * PDF, ghostscript renders it.
 */
export async function renderTiffPages(tiff: string): Promise<FaxBitmap[]> {
  const dir = await mkdtemp(join(tmpdir(), "edgepbx-fax-pdf-"));
  try {
    const pdf = join(dir, "fax.pdf");
    await run("tiff2pdf", ["-o", pdf, tiff]);
    return await renderPdfPages(pdf);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function popcount(byte: number): number {
  let n = 0;
  for (let b = byte; b !== 0; b &= b - 1) n++;
  return n;
}

/** Pixels that differ between two pages of the same size (ignoring the padding bits of each row). */
export function differingPixels(a: FaxBitmap, b: FaxBitmap): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`pages differ in size: ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  }
  const padMask = a.width % 8 === 0 ? 0xff : (0xff << (8 - (a.width % 8))) & 0xff;
  let count = 0;
  for (let row = 0; row < a.height; row++) {
    for (let i = 0; i < a.rowBytes; i++) {
      const at = row * a.rowBytes + i;
      let x = ((a.bits[at] ?? 0) ^ (b.bits[at] ?? 0)) & 0xff;
      if (i === a.rowBytes - 1) x &= padMask;
      count += popcount(x);
    }
  }
  return count;
}

/** Black pixels on a page (a blank page has none). */
export function blackPixels(page: FaxBitmap): number {
  let count = 0;
  for (const byte of page.bits) count += popcount(byte);
  return count;
}
