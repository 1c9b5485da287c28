import { execFile } from "node:child_process";

/** What ffmpeg decodes from an MP3 (read from stdin): the samples, interleaved when stereo. */
export function decodeMp3(mp3: Uint8Array): Promise<{ rate: number; channels: number; samples: Int16Array }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "ffmpeg",
      ["-hide_banner", "-nostdin", "-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"],
      { encoding: "buffer", maxBuffer: 512 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`ffmpeg cannot decode it: ${stderr.toString().slice(-500)}`));
        const info = /Audio: mp3, (\d+) Hz, (mono|stereo)/.exec(stderr.toString());
        if (!info) return reject(new Error(`no MP3 audio stream: ${stderr.toString().slice(-500)}`));
        const samples = new Int16Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + stdout.length));
        resolve({ rate: Number(info[1]), channels: info[2] === "stereo" ? 2 : 1, samples });
      },
    );
    child.stdin?.end(Buffer.from(mp3));
  });
}

/** The decoded duration (counted from the samples, not estimated from the bitrate) and channel count. */
export async function mp3Duration(mp3: Uint8Array): Promise<{ seconds: number; channels: number }> {
  const { rate, channels, samples } = await decodeMp3(mp3);
  return { seconds: samples.length / channels / rate, channels };
}

/** One channel of interleaved samples. */
export function channel(samples: Int16Array, channels: number, which: number): Int16Array {
  const out = new Int16Array(Math.floor(samples.length / channels));
  for (let i = 0; i < out.length; i++) out[i] = samples[i * channels + which] as number;
  return out;
}

/** Relative power of `frequency` in `samples` (Goertzel), per sample: ~amplitude²/4 for a pure tone. */
export function tonePower(samples: Int16Array, frequency: number, rate = 8000): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / rate);
  let s1 = 0;
  let s2 = 0;
  for (const sample of samples) {
    const s0 = sample + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (samples.length * samples.length);
}
