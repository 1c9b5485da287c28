/**
 * What relaying G.711 costs: N bridged calls, each phone sending 50 packets/s of PCMU, phones in a
 * child process (so their CPU is not counted). Prints the CPU of the Node side (RTP shims) and of
 * the mediasoup worker per packet and the calls one core could carry, for the bench row "relayed
 * G.711 calls per worker core". A measurement, not a timed assertion: only delivery is asserted.
 *
 * RELAY_CALLS=200 RELAY_SECONDS=10 node --import tsx --test media/rtc/relay-cost.test.ts
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import type { CallMedia } from "./CallMedia.ts";
import { MediaEngine } from "./MediaEngine.ts";
import { mediasoupWorkerBin, missingWorkerMessage } from "./worker-bin.ts";

const CALLS = Number(process.env.RELAY_CALLS ?? 50);
const SECONDS = Number(process.env.RELAY_SECONDS ?? 5);
const PPS = 50; // 20 ms G.711 packets

/**
 * The phones: binds 2 sockets per call, prints their ports, reads the ports to send to, sends
 * PCMU every 20 ms for the given time and reports what was sent and received.
 */
const phones = `
const { createSocket } = require("node:dgram");
const readline = require("node:readline");
const [count, seconds] = process.argv.slice(1).map(Number);
(async () => {
  const phones = [];
  for (let i = 0; i < count; i++) {
    const socket = createSocket("udp4");
    await new Promise((r) => socket.bind(0, "127.0.0.1", r));
    const phone = { socket, rx: 0, ssrc: (Math.random() * 2 ** 32) >>> 0, seq: 0, ts: 0, target: 0 };
    socket.on("message", () => phone.rx++);
    phones.push(phone);
  }
  process.stdout.write(JSON.stringify(phones.map((p) => p.socket.address().port)) + "\\n");
  const lines = readline.createInterface({ input: process.stdin });
  const targets = JSON.parse(await new Promise((r) => lines.once("line", r)));
  phones.forEach((p, i) => (p.target = targets[i]));
  const packet = Buffer.alloc(172, 0xff);
  packet[0] = 0x80;
  packet[1] = 0;
  let tx = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    for (const p of phones) {
      packet.writeUInt16BE(p.seq++ & 0xffff, 2);
      packet.writeUInt32BE((p.ts += 160) >>> 0, 4);
      packet.writeUInt32BE(p.ssrc, 8);
      p.socket.send(packet, p.target, "127.0.0.1");
      tx++;
    }
  }, 20);
  setTimeout(() => {
    clearInterval(timer);
    const elapsed = (Date.now() - started) / 1000;
    setTimeout(() => {
      process.stdout.write(JSON.stringify({ tx, rx: phones.reduce((n, p) => n + p.rx, 0), elapsed }) + "\\n");
      process.exit(0);
    }, 300);
  }, seconds * 1000);
})();
`;

function sdp(port: number): string {
  return `v=0\r\no=- ${port} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n`;
}

/** CPU seconds of a process from /proc (utime + stime, in clock ticks of 10 ms). */
function procCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const found = mediasoupWorkerBin();

describe("relay cost", { skip: found ? false : missingWorkerMessage, timeout: 20_000 + SECONDS * 1000 }, () => {
  let engine: MediaEngine;
  const calls: CallMedia[] = [];

  before(async () => {
    engine = await MediaEngine.create({
      rtpPorts: { min: 45000, max: 46999 },
      loopbackPorts: { min: 47000, max: 48999 },
    });
  });

  after(() => {
    for (const call of calls) call.close();
    engine.close();
  });

  test(`${CALLS} bridged G.711 calls, ${PPS} packets/s each way`, async () => {
    const child = spawn(process.execPath, ["-e", phones, String(2 * CALLS), String(SECONDS)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout });
    const next = () => new Promise<string>((resolve) => lines.once("line", resolve));
    const phonePorts: number[] = JSON.parse(await next());

    const targets: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const call = await engine.createCall();
      calls.push(call);
      const a = await call.createLeg({ remoteSdp: sdp(phonePorts[2 * i] ?? 0) });
      const b = await call.createLeg({ remoteSdp: null });
      b.localSdp();
      await b.setRemoteSdp(sdp(phonePorts[2 * i + 1] ?? 0));
      await call.bridge(a, b);
      a.localSdp();
      targets.push(a.port, b.port);
    }

    const worker = engine.workers[0];
    assert.ok(worker);
    const node0 = process.cpuUsage();
    const worker0 = procCpuSeconds(worker.pid);
    const t0 = performance.now();
    child.stdin.write(`${JSON.stringify(targets)}\n`);
    const result: { tx: number; rx: number; elapsed: number } = JSON.parse(await next());
    const wall = (performance.now() - t0) / 1000;
    const nodeUsage = process.cpuUsage(node0);
    const nodeCpu = (nodeUsage.user + nodeUsage.system) / 1e6;
    const workerCpu = procCpuSeconds(worker.pid) - worker0;

    // Every packet crosses Node twice (phone → shim → mediasoup, mediasoup → shim → phone): two
    // receives and two sends; the worker receives and sends it once.
    const pps = result.tx / result.elapsed;
    const callsPerCore = (cpu: number) => Math.round(CALLS / (cpu / wall));
    const report = {
      calls: CALLS,
      seconds: +result.elapsed.toFixed(2),
      packetsPerSecondIn: Math.round(pps),
      delivered: +(result.rx / result.tx).toFixed(4),
      nodeShimCpuPercent: +((100 * nodeCpu) / wall).toFixed(1),
      workerCpuPercent: +((100 * workerCpu) / wall).toFixed(1),
      nodeMicrosecondsPerPacket: +((1e6 * nodeCpu) / result.tx).toFixed(1),
      workerMicrosecondsPerPacket: +((1e6 * workerCpu) / result.tx).toFixed(1),
      // Calls one core carries if it did only this; the shim and the worker each need their own.
      callsPerNodeCore: callsPerCore(nodeCpu),
      callsPerWorkerCore: callsPerCore(workerCpu),
      callsPerCoreBoth: callsPerCore(nodeCpu + workerCpu),
    };
    console.log(`relay cost ${JSON.stringify(report)}`);
    assert.ok(result.rx / result.tx >= 0.95, `delivered ${result.rx} of ${result.tx}`);
  });
});
