import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FrameQueue, TICK_SAMPLES } from "../../media/recording/FrameQueue.ts";
import { Mp3Encoder } from "../../media/recording/Mp3Encoder.ts";
import { RecordingEncryptor } from "../../media/recording/RecordingEncryptor.ts";
import { decodeG711, encodeG711, toneSamples } from "../../media/rtc/tones.ts";
import { makeCustomerKey } from "../../media/test-support/customer-key.ts";
import { summarize } from "../lib/stats.ts";
import type { Measured } from "./edge-config.ts";

/** One call-minute per round: 3,000 ticks of 20 ms. */
const TICKS = 3000;
const ROUNDS = 5;
/** An upload (a whole-file encryption) every 5 s, as CallRecorder does for calls under ~4 minutes. */
const UPLOAD_EVERY_TICKS = 250;

/**
 * What recording costs per call-minute, everything the recorder does but the network: for each 20
 * ms tick, both legs' G.711 frames decoded (as LegListener does), queued and taken (FrameQueue),
 * interleaved to stereo and written to ffmpeg (libmp3lame, 32 kbit/s); every 5 s the whole MP3 so
 * far encrypted to a 2048-bit RSA certificate (CMS, AES-256-CBC), and once more at the end. Fed as
 * fast as it goes (not paced), so the CPU is the cost, not the wall time: the Node process's
 * (process.cpuUsage) plus ffmpeg's own (its -benchmark utime+stime).
 */
export async function recordingRows(): Promise<Measured[]> {
  const dir = await mkdtemp(join(tmpdir(), "edgepbx-bench-recording-"));
  const { certPem } = await makeCustomerKey(dir).finally(() => rm(dir, { recursive: true, force: true }));
  const encryptor = new RecordingEncryptor(certPem);
  const caller = encodeG711(toneSamples([{ frequencies: [300, 700, 1100], ms: 20 }]), "PCMU");
  const callee = encodeG711(toneSamples([{ frequencies: [440, 880], ms: 20 }]), "PCMU");
  const total: number[] = [];
  const ffmpegShare: number[] = [];
  let bytesPerMinute = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const queues = [new FrameQueue(), new FrameQueue()] as const;
    const encoder = new Mp3Encoder({ measureCpu: true });
    const start = process.cpuUsage();
    for (let t = 0; t < TICKS; t++) {
      queues[0].push(decodeG711(caller, "PCMU"));
      queues[1].push(decodeG711(callee, "PCMU"));
      const left = queues[0].take();
      const right = queues[1].take();
      const stereo = new Int16Array(TICK_SAMPLES * 2);
      for (let i = 0; i < TICK_SAMPLES; i++) {
        stereo[i * 2] = left[i] as number;
        stereo[i * 2 + 1] = right[i] as number;
      }
      encoder.write(stereo);
      if ((t + 1) % UPLOAD_EVERY_TICKS === 0) {
        // Let ffmpeg's output arrive, as it does during a real call.
        await new Promise((resolve) => setImmediate(resolve));
        await encryptor.encrypt(encoder.snapshot());
      }
    }
    const { mp3, cpuMs } = await encoder.finish();
    await encryptor.encrypt(mp3);
    const used = process.cpuUsage(start);
    if (cpuMs === null) throw new Error("recording bench: ffmpeg did not report its CPU time");
    total.push(Math.round((used.user + used.system) / 1000 + cpuMs));
    ffmpegShare.push(Math.round(cpuMs));
    bytesPerMinute = mp3.length;
  }
  const s = summarize(total);
  return [
    {
      row: {
        name: "recording encode cost",
        unit: "CPU ms/call-minute",
        p50: s.p50,
        p99: Math.max(...total),
        n: s.n,
        peer: null,
        peerP50: null,
        peerP99: null,
        ratio: null,
        target: { stat: "p50", max: 600 },
        note:
          `One call-minute per round (${TICKS} ticks), ${ROUNDS} rounds, fed unpaced: G.711 decode of both legs, ` +
          `FrameQueue, stereo interleave, ffmpeg libmp3lame 32 kbit/s (its own CPU: p50 ` +
          `${summarize(ffmpegShare).p50} ms), and the CMS encryption of the whole file every 5 s and at the end. ` +
          `${Math.round(bytesPerMinute / 1024)} KB of MP3 per minute. p99 column = worst round. ` +
          "600 ms per call-minute is 1% of a core per recorded call. Not included: mediasoup's " +
          "DirectTransport, the uploads' HTTP.",
      },
      ours: total,
    },
  ];
}
