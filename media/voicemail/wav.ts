/**
 * The node's audio files: RIFF WAVE, 16-bit linear PCM, mono, 8 kHz (what the node hears and
 * plays). A 44-byte header is all it takes; a library would bring more than it saves.
 */
const RATE = 8000;

export function encodeWav(samples: Int16Array, rate = RATE): Buffer {
  const data = samples.length * 2;
  const wav = Buffer.alloc(44 + data);
  wav.write("RIFF", 0, "ascii");
  wav.writeUInt32LE(36 + data, 4);
  wav.write("WAVE", 8, "ascii");
  wav.write("fmt ", 12, "ascii");
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 2, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write("data", 36, "ascii");
  wav.writeUInt32LE(data, 40);
  for (let i = 0; i < samples.length; i++) wav.writeInt16LE(samples[i] ?? 0, 44 + i * 2);
  return wav;
}

/** Reads back what encodeWav wrote (walking the chunks); throws on anything else. */
export function decodeWav(wav: Buffer): Int16Array {
  if (wav.length < 12 || wav.toString("ascii", 0, 4) !== "RIFF" || wav.toString("ascii", 8, 12) !== "WAVE")
    throw new Error("not a WAV file");
  let offset = 12;
  let format: { pcm: boolean; channels: number; rate: number; bits: number } | null = null;
  while (offset + 8 <= wav.length) {
    const id = wav.toString("ascii", offset, offset + 4);
    const size = wav.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "fmt " && size >= 16 && body + 16 <= wav.length)
      format = {
        pcm: wav.readUInt16LE(body) === 1,
        channels: wav.readUInt16LE(body + 2),
        rate: wav.readUInt32LE(body + 4),
        bits: wav.readUInt16LE(body + 14),
      };
    if (id === "data") {
      if (!format?.pcm || format.channels !== 1 || format.rate !== RATE || format.bits !== 16)
        throw new Error("WAV is not 8 kHz 16-bit mono PCM");
      const end = Math.min(wav.length, body + size);
      const samples = new Int16Array(Math.floor((end - body) / 2));
      for (let i = 0; i < samples.length; i++) samples[i] = wav.readInt16LE(body + i * 2);
      return samples;
    }
    offset = body + size + (size % 2);
  }
  throw new Error("WAV has no data chunk");
}
