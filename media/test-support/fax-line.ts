import type { FaxEngine } from "../fax/FaxEngine.ts";
import { decodeG711, encodeG711 } from "../rtc/tones.ts";

/** How two fax machines hear each other: G.711 as on a call, or the samples as they are. */
export type FaxLine = "PCMU" | "PCMA" | "linear";

/** One frame across the line: encoded and decoded as a G.711 call would. */
export function carry(frame: Int16Array, line: FaxLine): Int16Array {
  return line === "linear" ? frame : decodeG711(encodeG711(frame, line), line);
}

/**
 * Two engines back to back in memory, 20 ms at a time: each one's transmit() is the other's
 * receive(), through the line's codec. Runs until both are done or `maxSeconds` of audio.
 * Returns the audio time and the CPU time it took (both ends and the codec together).
 */
export function connectFaxes(
  a: FaxEngine,
  b: FaxEngine,
  line: FaxLine,
  maxSeconds = 300,
): { audioMs: number; cpuMs: number } {
  const cpu = process.cpuUsage();
  let frames = 0;
  while (!(a.done && b.done) && frames < (maxSeconds * 1000) / 20) {
    const fromA = a.transmit();
    const fromB = b.transmit();
    b.receive(carry(fromA, line));
    a.receive(carry(fromB, line));
    frames++;
  }
  const used = process.cpuUsage(cpu);
  return { audioMs: frames * 20, cpuMs: (used.user + used.system) / 1000 };
}
