import { deflateSync } from "node:zlib";

/**
 * The portal's app icons, drawn at build time so no binary is checked in: a blue tile with three
 * white bars (lines on a switchboard). `maskable` fills the whole square (the launcher crops it);
 * otherwise the tile has rounded corners on a transparent background.
 */
export function iconPng(size: number, maskable: boolean): Buffer {
  const rgba = Buffer.alloc(size * size * 4);
  const radius = maskable ? 0 : size * 0.18;
  // Maskable icons keep their content inside the central 80 % safe zone.
  const scale = maskable ? 0.62 : 0.78;
  const inner = size * scale;
  const x0 = (size - inner) / 2;
  const bars = [0.45, 0.75, 0.6];
  const barWidth = inner / 5.5;
  const gap = (inner - 3 * barWidth) / 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      if (!insideRounded(x + 0.5, y + 0.5, size, radius)) continue;
      let [r, g, b] = [11, 92, 173];
      for (let k = 0; k < bars.length; k++) {
        const left = x0 + gap + k * (barWidth + gap);
        const height = inner * (bars[k] ?? 0.5);
        const top = (size - height) / 2;
        if (x >= left && x < left + barWidth && y >= top && y < top + height) [r, g, b] = [255, 255, 255];
      }
      rgba[i] = r;
      rgba[i + 1] = g;
      rgba[i + 2] = b;
      rgba[i + 3] = 255;
    }
  }
  return encodePng(size, size, rgba);
}

function insideRounded(x: number, y: number, size: number, r: number): boolean {
  if (r <= 0) return true;
  const cx = x < r ? r : Math.min(x, size - r);
  const cy = y < r ? r : Math.min(y, size - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

/** A minimal PNG encoder: 8-bit RGBA, no interlace, filter 0 on every row. */
export function encodePng(width: number, height: number, rgba: Buffer): Buffer {
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) rgba.copy(raw, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([length, body, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = (CRC_TABLE[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
