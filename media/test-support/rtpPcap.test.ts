import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { decodeG711, toneSamples } from "../rtc/tones.ts";
import { goertzel } from "./goertzel.ts";
import { readRtp } from "./rtp-capture.ts";
import { rtpPcap } from "./rtpPcap.ts";

const G711A = "/usr/share/sip-tester/g711a.pcap";

describe("RTP pcaps for sipp's play_pcap_audio", () => {
  it("a tone becomes 20 ms PCMA packets, 20 ms apart, that read back as the tone", () => {
    const samples = toneSamples([{ frequencies: [1000], ms: 1010 }]);
    const pcap = rtpPcap(samples, "PCMA", { ssrc: 0x1234, startSeq: 65530 });
    // libpcap, microseconds, Ethernet: the layout of sip-tester's own pcaps.
    assert.equal(pcap.readUInt32LE(0), 0xa1b2c3d4);
    assert.equal(pcap.readUInt32LE(20), 1);
    const { packets, other } = readRtp(pcap);
    assert.equal(other, 0);
    assert.equal(packets.length, 51, "1010 ms: 51 packets, the last padded");
    assert.deepEqual(
      packets.slice(0, 8).map((p) => p.seq),
      [65530, 65531, 65532, 65533, 65534, 65535, 0, 1],
    );
    assert.ok(packets.every((p) => p.payloadType === 8 && p.ssrc === 0x1234 && p.payload.length === 160));
    assert.deepEqual(
      packets.slice(0, 2).map((p) => p.marker),
      [true, false],
    );
    assert.equal(packets[1]?.timestamp, 160);
    assert.ok(Math.abs((packets[50]?.time ?? 0) - (packets[0]?.time ?? 0) - 1) < 1e-6, "20 ms apart");
    const decoded = Int16Array.from(packets.slice(0, 50).flatMap((p) => [...decodeG711(p.payload, "PCMA")]));
    const power = goertzel(decoded, 1000);
    assert.ok(Math.abs(10 * Math.log10(power / ((32767 * 0.316) ** 2 / 2))) < 0.5, `the tone's level: ${power}`);
    assert.ok(goertzel(decoded, 2000) < power / 1000, "and nothing else to speak of");
  });

  it("reads sip-tester's g711a.pcap: 236 PCMA packets of 30 ms", {
    skip: !existsSync(G711A) && "no sip-tester",
  }, () => {
    const { packets } = readRtp(readFileSync(G711A));
    assert.equal(packets.length, 236);
    assert.ok(packets.every((p) => p.payloadType === 8 && p.payload.length === 240));
  });
});
