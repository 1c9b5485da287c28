import type { G711 } from "../rtc/sdp.ts";
import { encodeG711 } from "../rtc/tones.ts";

/** 20 ms at 8 kHz. */
const FRAME = 160;
const ETHERNET = 14;
const IPV4 = 20;
const UDP = 8;
const RTP = 12;

/**
 * A pcap file of one RTP stream for sipp's play_pcap_audio, laid out like the ones Debian's
 * sip-tester ships (/usr/share/sip-tester/*.pcap): classic libpcap (microseconds, little-endian),
 * Ethernet link type, each packet whole (sipp refuses truncated ones) as IPv4/UDP/RTP. sipp keeps
 * the UDP payload (the RTP header as written here: payload type, sequence numbers, timestamps,
 * SSRC) and replays it at the captured times, to the far end's media port from its own; it
 * rewrites the ports and computes the checksum, so the addresses and ports here are placeholders.
 *
 * `samples` (8 kHz) become one G.711 packet per 20 ms, the last one padded with silence; the first
 * has the marker bit.
 */
export function rtpPcap(samples: Int16Array, codec: G711, options: { ssrc?: number; startSeq?: number } = {}): Buffer {
  const ssrc = options.ssrc ?? 0x5eed0001;
  const startSeq = options.startSeq ?? 1000;
  const frames = Math.ceil(samples.length / FRAME);
  const packetLength = ETHERNET + IPV4 + UDP + RTP + FRAME;
  const out = Buffer.alloc(24 + frames * (16 + packetLength));
  // Global header: magic, version 2.4, GMT, accuracy, snap length, link type 1 (Ethernet).
  out.writeUInt32LE(0xa1b2c3d4, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeInt32LE(0, 8);
  out.writeUInt32LE(0, 12);
  out.writeUInt32LE(65535, 16);
  out.writeUInt32LE(1, 20);
  const start = 1_700_000_000;
  for (let n = 0; n < frames; n++) {
    const frame = new Int16Array(FRAME);
    frame.set(samples.subarray(n * FRAME, (n + 1) * FRAME));
    const payload = encodeG711(frame, codec);
    let at = 24 + n * (16 + packetLength);
    const micros = n * 20_000;
    out.writeUInt32LE(start + Math.floor(micros / 1e6), at);
    out.writeUInt32LE(micros % 1e6, at + 4);
    out.writeUInt32LE(packetLength, at + 8);
    out.writeUInt32LE(packetLength, at + 12);
    at += 16;
    // Ethernet: destination and source MACs (locally administered), IPv4.
    Buffer.from([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]).copy(out, at);
    at += ETHERNET;
    const ip = out.subarray(at, at + IPV4);
    ip[0] = 0x45;
    ip.writeUInt16BE(IPV4 + UDP + RTP + FRAME, 2);
    ip.writeUInt16BE(n & 0xffff, 4);
    ip.writeUInt16BE(0x4000, 6); // don't fragment
    ip[8] = 64;
    ip[9] = 17; // UDP
    Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(ip, 12);
    ip.writeUInt16BE(ipChecksum(ip), 10);
    at += IPV4;
    out.writeUInt16BE(40000, at);
    out.writeUInt16BE(40002, at + 2);
    out.writeUInt16BE(UDP + RTP + FRAME, at + 4);
    out.writeUInt16BE(0, at + 6); // no checksum (sipp computes its own)
    at += UDP;
    out[at] = 0x80;
    out[at + 1] = (n === 0 ? 0x80 : 0) | (codec === "PCMA" ? 8 : 0);
    out.writeUInt16BE((startSeq + n) & 0xffff, at + 2);
    out.writeUInt32BE((n * FRAME) >>> 0, at + 4);
    out.writeUInt32BE(ssrc >>> 0, at + 8);
    payload.copy(out, at + RTP);
  }
  return out;
}

function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
