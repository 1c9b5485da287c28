import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Counts the RTP a phone gets, from outside the phone: Debian's tcpdump (root) captures on
 * loopback the UDP packets arriving at the phone's media port into a pcap file, which stop()
 * reads back, keeping only the packets that are RTP (version 2) with an audio payload type.
 * For sipp, whose own RTP echo counts nothing a test can read. Whole packets are kept, so a test
 * can also decode what the phone heard (packets()).
 */
export interface RtpCount {
  /** RTP packets that arrived at the port. */
  packets: number;
  /** How many of each payload type (8: PCMA, 0: PCMU, 101: telephone-event…). */
  payloadTypes: Record<number, number>;
  /** SSRCs seen. */
  ssrcs: number[];
  /** From the first packet to the last, seconds. */
  seconds: number;
  /** UDP packets that were not RTP. */
  other: number;
}

/** One RTP packet as captured. */
export interface RtpPacket {
  /** When it arrived, seconds since the epoch (tcpdump's clock: the system's). */
  time: number;
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  /** After the header, CSRCs and extension; padding removed. */
  payload: Buffer;
}

export interface RtpCapture {
  /** What arrived so far (tcpdump writes each packet at once). */
  count(): Promise<RtpCount>;
  /** The RTP packets that arrived so far, in arrival order. */
  packets(): Promise<RtpPacket[]>;
  /** Stops tcpdump and counts what it captured. */
  stop(): Promise<RtpCount>;
}

/** True when tcpdump is installed (npm test's pretest installs it). */
export async function hasTcpdump(): Promise<boolean> {
  return new Promise((done) => {
    const child = spawn("tcpdump", ["--version"], { stdio: "ignore" });
    child.on("error", () => done(false));
    child.on("exit", (code) => done(code === 0));
  });
}

/** Starts capturing the UDP packets sent to 127.0.0.1:`port`; resolves once tcpdump listens. */
export async function captureRtp(port: number): Promise<RtpCapture> {
  const dir = await mkdtemp(join(tmpdir(), "edgepbx-rtp-"));
  const file = join(dir, "rtp.pcap");
  // --immediate-mode: each packet handed over as it comes (not in blocks, up to a second late);
  // -U: and written at once; -s 0: whole packets, payloads too.
  const args = ["-i", "lo", "-n", "--immediate-mode", "-U", "-s", "0", "-w", file, `udp and dst port ${port}`];
  const child = spawn("tcpdump", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const exited = new Promise<number | null>((done) => child.on("exit", done));
  await new Promise<void>((ready, fail) => {
    child.on("error", fail);
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("listening on")) ready();
    });
    void exited.then((code) => fail(new Error(`tcpdump exited (${code}): ${stderr.trim()}`)));
  });
  return {
    count: async () => countRtp(await readFile(file)),
    packets: async () => readRtp(await readFile(file)).packets,
    async stop() {
      child.kill("SIGINT");
      await exited;
      try {
        return countRtp(await readFile(file));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Reads a classic pcap file (Ethernet or Linux cooked capture, IPv4/UDP) and counts its RTP packets. */
export function countRtp(pcap: Buffer): RtpCount {
  const { packets, other } = readRtp(pcap);
  const count: RtpCount = { packets: packets.length, payloadTypes: {}, ssrcs: [], seconds: 0, other };
  for (const packet of packets)
    count.payloadTypes[packet.payloadType] = (count.payloadTypes[packet.payloadType] ?? 0) + 1;
  count.ssrcs = [...new Set(packets.map((p) => p.ssrc))];
  count.seconds = packets.length ? (packets.at(-1)?.time ?? 0) - (packets[0]?.time ?? 0) : 0;
  return count;
}

/**
 * Reads a classic pcap file (Ethernet or Linux cooked capture, IPv4/UDP): its RTP packets
 * (version 2, not RTCP) and how many UDP packets were something else.
 */
export function readRtp(pcap: Buffer): { packets: RtpPacket[]; other: number } {
  const packets: RtpPacket[] = [];
  let other = 0;
  if (pcap.length < 24) return { packets, other };
  const magic = pcap.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const u32 = (at: number) => (little ? pcap.readUInt32LE(at) : pcap.readUInt32BE(at));
  const linkType = u32(20);
  const linkHeader = linkType === 1 ? 14 : linkType === 113 ? 16 : linkType === 0 ? 4 : -1;
  if (linkHeader < 0) throw new Error(`pcap link type ${linkType} not supported`);
  for (let at = 24; at + 16 <= pcap.length; ) {
    const time = u32(at) + u32(at + 4) / (nanos ? 1e9 : 1e6);
    const length = u32(at + 8);
    if (at + 16 + length > pcap.length) break; // a packet still being written
    const packet = pcap.subarray(at + 16, at + 16 + length);
    at += 16 + length;
    const ip = packet.subarray(linkHeader);
    if (ip.length < 20 || ip[0] === undefined || ip[0] >> 4 !== 4 || ip[9] !== 17) continue;
    const udp = ip.subarray((ip[0] & 0x0f) * 4);
    const rtp = udp.subarray(8, Math.max(8, udp.length >= 8 ? udp.readUInt16BE(4) : 0));
    const [b0, b1] = [rtp[0] ?? 0, rtp[1] ?? 0];
    const payloadType = b1 & 0x7f;
    // RTP version 2, and not RTCP (payload types 72–76 share the byte with RTCP's packet types 200–204).
    if (rtp.length < 12 || b0 >> 6 !== 2 || (payloadType >= 72 && payloadType <= 76)) {
      other++;
      continue;
    }
    let start = 12 + (b0 & 0x0f) * 4;
    if (b0 & 0x10 && rtp.length >= start + 4) start += 4 + rtp.readUInt16BE(start + 2) * 4;
    const padding = b0 & 0x20 ? (rtp[rtp.length - 1] ?? 0) : 0;
    packets.push({
      time,
      payloadType,
      marker: (b1 & 0x80) !== 0,
      seq: rtp.readUInt16BE(2),
      timestamp: rtp.readUInt32BE(4),
      ssrc: rtp.readUInt32BE(8),
      payload: rtp.subarray(Math.min(start, rtp.length), Math.max(start, rtp.length - padding)),
    });
  }
  return { packets, other };
}
