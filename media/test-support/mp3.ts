import { execFile } from "node:child_process";

/**
 * What ffmpeg decodes from an MP3 (read from stdin): its duration, counted from the decoded
 * samples (not estimated from the bitrate), and its channel count.
 */
export function mp3Duration(mp3: Uint8Array): Promise<{ seconds: number; channels: number }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "ffmpeg",
      ["-hide_banner", "-nostdin", "-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"],
      { encoding: "buffer", maxBuffer: 512 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`ffmpeg cannot decode it: ${stderr.toString().slice(-500)}`));
        const info = /Audio: mp3, (\d+) Hz, (mono|stereo)/.exec(stderr.toString());
        if (!info) return reject(new Error(`no MP3 audio stream: ${stderr.toString().slice(-500)}`));
        const channels = info[2] === "stereo" ? 2 : 1;
        resolve({ seconds: stdout.length / 2 / channels / Number(info[1]), channels });
      },
    );
    child.stdin?.end(Buffer.from(mp3));
  });
}
