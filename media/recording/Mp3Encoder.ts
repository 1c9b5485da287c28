import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";

/** What the recorder feeds: 8 kHz, 16-bit little-endian, two channels interleaved (caller left, callee right). */
export const RECORDING_RATE = 8000;
export const RECORDING_CHANNELS = 2;

/**
 * 32 kbit/s for the two 8 kHz channels (joint stereo): telephone audio loses nothing audible at
 * this rate, and an hour is about 14 MB, so a call stays far below MAX_RECORDING_BYTES.
 */
const BITRATE = "32k";

export interface Mp3EncoderOptions {
  /** ffmpeg's own CPU time is printed at exit (`-benchmark`): the bench reads it. */
  measureCpu?: boolean;
}

/**
 * MP3 made as the call goes: an ffmpeg child reads raw PCM on stdin and writes MP3 on stdout,
 * which is kept here in memory. Nothing touches the disk: with recording encryption on, no
 * plaintext copy may exist anywhere, not even a temporary file.
 */
export class Mp3Encoder {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** The MP3 so far: `length` bytes of `buffer` (grown by doubling, so appending stays cheap). */
  private buffer = Buffer.alloc(64 * 1024);
  private length = 0;
  private stderr = "";
  private failure: Error | null = null;
  private readonly exited: Promise<number | null>;
  private ended = false;

  constructor(options: Mp3EncoderOptions = {}) {
    const args = [
      "-hide_banner",
      "-nostdin",
      ...(options.measureCpu ? ["-benchmark", "-loglevel", "info", "-nostats"] : ["-loglevel", "error"]),
      // The input's format is given: no probing, which would hold the first ~2.5 s of audio back.
      ...["-probesize", "32", "-analyzeduration", "0"],
      ...["-f", "s16le", "-ar", String(RECORDING_RATE), "-ac", String(RECORDING_CHANNELS), "-i", "pipe:0"],
      ...["-codec:a", "libmp3lame", "-b:a", BITRATE],
      // Each MP3 frame is written out as soon as it is made: else ffmpeg holds 32 KB (8 s) back,
      // and the in-progress uploads (and a dead node's recording) would lag that much behind.
      // A pipe cannot be rewound for a Xing header; each partial upload is then a plain MP3 stream.
      ...["-flush_packets", "1", "-write_xing", "0", "-id3v2_version", "0", "-f", "mp3", "pipe:1"],
    ];
    this.child = spawn("ffmpeg", args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.on("data", (chunk: Buffer) => this.append(chunk));
    this.child.stderr.on("data", (chunk: Buffer) => {
      // Only the tail is kept: enough to say why ffmpeg failed.
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-4000);
    });
    // ffmpeg gone (killed, or failed on bad input): writes must not throw EPIPE at the recorder.
    this.child.stdin.on("error", (error) => {
      this.failure ??= error;
    });
    this.exited = new Promise((resolve) => {
      this.child.on("error", (error) => {
        this.failure ??= new Error(`ffmpeg cannot run: ${error.message}`);
        resolve(null);
      });
      this.child.on("close", (code) => resolve(code));
    });
  }

  /** Bytes of MP3 produced so far. */
  get size(): number {
    return this.length;
  }

  /** Why encoding stopped, when it did. */
  get error(): Error | null {
    return this.failure;
  }

  /** Interleaved stereo samples (or mono, when made with channels 1) in. */
  write(samples: Int16Array): void {
    if (this.ended || this.failure) return;
    this.child.stdin.write(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  }

  /** A copy of the MP3 so far (the encoder goes on appending to its own buffer). */
  snapshot(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }

  /**
   * Ends the input; resolves with the whole MP3 once ffmpeg has flushed and exited, and ffmpeg's
   * CPU time when measured. Rejects when ffmpeg failed.
   */
  async finish(): Promise<{ mp3: Buffer; cpuMs: number | null }> {
    if (!this.ended) {
      this.ended = true;
      this.child.stdin.end();
    }
    const code = await this.exited;
    if (this.failure && code !== 0) throw this.failure;
    if (code !== 0) throw new Error(`ffmpeg exited with ${code}: ${this.stderr.trim().split("\n").at(-1) ?? ""}`);
    const bench = /bench: utime=([0-9.]+)s stime=([0-9.]+)s/.exec(this.stderr);
    const cpuMs = bench ? (Number(bench[1]) + Number(bench[2])) * 1000 : null;
    return { mp3: this.snapshot(), cpuMs };
  }

  /** Stops at once (the call's recording is abandoned); what was encoded stays readable. */
  kill(): void {
    this.ended = true;
    this.child.kill("SIGKILL");
  }

  private append(chunk: Buffer): void {
    if (this.length + chunk.length > this.buffer.length) {
      const grown = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + chunk.length));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    chunk.copy(this.buffer, this.length);
    this.length += chunk.length;
  }
}
