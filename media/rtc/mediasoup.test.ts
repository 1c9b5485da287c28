/**
 * Smoke test of the mediasoup worker binary the postinstall cached (scripts/mediasoup/install.mjs):
 * a real worker process, a Router with PCMU/PCMA/Opus, real RTP over UDP from a Node socket into
 * a PlainTransport Producer and out of a Consumer on a second PlainTransport, a WebRtcTransport's
 * ICE/DTLS parameters, and a real DTLS 1.2 + SRTP handshake with the openssl CLI (the locally
 * built worker carries a fix for a crash on the first ClientHello; this is its regression test).
 * Skips only when there is no worker binary at all.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHmac, randomBytes, X509Certificate } from "node:crypto";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { crc32 } from "node:zlib";
import type { types } from "mediasoup";
import { loadMediasoup, type Mediasoup, mediasoupWorkerBin, missingWorkerMessage } from "./worker-bin.ts";

const found = mediasoupWorkerBin();
const LOCALHOST = "127.0.0.1";

const mediaCodecs: types.RouterRtpCodecCapability[] = [
  { kind: "audio", mimeType: "audio/PCMU", clockRate: 8000 },
  { kind: "audio", mimeType: "audio/PCMA", clockRate: 8000 },
  { kind: "audio", mimeType: "audio/opus", clockRate: 48000, channels: 2 },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

async function udpSocket(): Promise<Socket> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, LOCALHOST, resolve));
  return socket;
}

/** An RTP packet: V=2, payload type, sequence number, timestamp, SSRC, then the payload. */
function rtpPacket(payloadType: number, seq: number, timestamp: number, ssrc: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = payloadType & 0x7f;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(timestamp >>> 0, 4);
  header.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([header, payload]);
}

/** The payload of an RTP packet: after the CSRCs and the header extension mediasoup adds. */
function rtpPayload(packet: Buffer): Buffer {
  const first = packet.readUInt8(0);
  let offset = 12 + 4 * (first & 0x0f);
  if (first & 0x10) offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  const padding = first & 0x20 ? packet.readUInt8(packet.length - 1) : 0;
  return packet.subarray(offset, packet.length - padding);
}

function stunAttribute(type: number, value: Buffer): Buffer {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

/** An ICE connectivity check (RFC 8445/5389) as a controlling agent nominating the pair. */
function stunBindingRequest(username: string, password: string): Buffer {
  const transactionId = randomBytes(12);
  const header = (length: number) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(0x0001, 0); // Binding request
    h.writeUInt16BE(length, 2);
    h.writeUInt32BE(0x2112a442, 4); // magic cookie
    transactionId.copy(h, 8);
    return h;
  };
  const priority = Buffer.alloc(4);
  priority.writeUInt32BE(0x6e0001ff);
  let body = Buffer.concat([
    stunAttribute(0x0006, Buffer.from(username)), // USERNAME
    stunAttribute(0x0024, priority), // PRIORITY
    stunAttribute(0x802a, randomBytes(8)), // ICE-CONTROLLING
    stunAttribute(0x0025, Buffer.alloc(0)), // USE-CANDIDATE
  ]);
  const integrity = createHmac("sha1", password)
    .update(Buffer.concat([header(body.length + 24), body]))
    .digest();
  body = Buffer.concat([body, stunAttribute(0x0008, integrity)]); // MESSAGE-INTEGRITY
  const fingerprint = Buffer.alloc(4);
  fingerprint.writeUInt32BE((crc32(Buffer.concat([header(body.length + 8), body])) ^ 0x5354554e) >>> 0);
  body = Buffer.concat([body, stunAttribute(0x8028, fingerprint)]); // FINGERPRINT
  return Buffer.concat([header(body.length), body]);
}

function hasOpensslCli(): boolean {
  return spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0;
}

describe("mediasoup worker", { skip: found ? false : missingWorkerMessage, timeout: 20_000 }, () => {
  let mediasoup: Mediasoup;
  let worker: types.Worker;
  let router: types.Router;
  let died: Error | undefined;
  const cleanups: (() => void)[] = [];

  before(async () => {
    mediasoup = await loadMediasoup();
    worker = await mediasoup.createWorker({ logLevel: "warn" });
    worker.on("died", (error) => {
      died = error;
    });
    router = await worker.createRouter({ mediaCodecs });
  });

  after(() => {
    for (const cleanup of cleanups.reverse()) cleanup();
    worker?.close();
    assert.equal(died, undefined, `the worker died: ${died}`);
  });

  test("runs the cached binary", async () => {
    assert.equal(mediasoup.workerBin, found?.bin);
    assert.equal(mediasoup.version, found?.version);
    assert.ok(worker.pid > 0);
    const usage = await worker.getResourceUsage();
    assert.ok(usage.ru_maxrss > 0);
  });

  test("the router offers PCMU, PCMA and Opus", () => {
    const offered = router.rtpCapabilities.codecs?.map((c) => `${c.mimeType}/${c.clockRate}`) ?? [];
    for (const codec of ["audio/PCMU/8000", "audio/PCMA/8000", "audio/opus/48000"]) {
      assert.ok(offered.includes(codec), `${codec} in ${offered.join(", ")}`);
    }
  });

  test("forwards RTP from a PlainTransport producer to a PlainTransport consumer", async () => {
    const sender = await udpSocket();
    const receiver = await udpSocket();
    cleanups.push(
      () => sender.close(),
      () => receiver.close(),
    );
    const listenInfo: types.TransportListenInfo = { protocol: "udp", ip: LOCALHOST };
    const inbound = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false });
    await inbound.connect({ ip: LOCALHOST, port: sender.address().port });
    const outbound = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false });
    await outbound.connect({ ip: LOCALHOST, port: receiver.address().port });

    const producerSsrc = 0x1eda_bb01;
    const producer = await inbound.produce({
      kind: "audio",
      rtpParameters: {
        codecs: [{ mimeType: "audio/PCMU", payloadType: 0, clockRate: 8000 }],
        encodings: [{ ssrc: producerSsrc }],
      },
    });
    const consumer = await outbound.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    const payloadType = consumer.rtpParameters.codecs[0]?.payloadType;
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    assert.equal(consumer.rtpParameters.codecs[0]?.mimeType, "audio/PCMU");
    assert.equal(consumer.kind, "audio");
    assert.equal(consumer.paused, false);

    const received = new Set<number>();
    const oddities: string[] = [];
    receiver.on("message", (packet: Buffer, from: RemoteInfo) => {
      if (packet.length < 12 || packet.readUInt8(0) >> 6 !== 2) return;
      const pt = packet.readUInt8(1) & 0x7f;
      if (pt !== payloadType || packet.readUInt32BE(8) !== ssrc) return; // RTCP or anything else
      if (from.port !== outbound.tuple.localPort) oddities.push(`from port ${from.port}`);
      const payload = rtpPayload(packet);
      if (payload.length !== 160) oddities.push(`${payload.length} payload bytes`);
      received.add(payload.readUInt16BE(0)); // our packet number
    });

    const sent = 50;
    for (let i = 0; i < sent; i++) {
      const payload = Buffer.alloc(160, 0xff); // 20 ms of PCMU silence
      payload.writeUInt16BE(i, 0);
      sender.send(rtpPacket(0, 1000 + i, 160 * i, producerSsrc, payload), inbound.tuple.localPort, LOCALHOST);
      await sleep(4);
    }
    await until(() => received.size >= sent, 3000);
    assert.ok(received.size >= sent - 2, `received ${received.size} of ${sent} RTP packets`);
    assert.deepEqual(oddities, []);

    const [producerStats] = await producer.getStats();
    assert.ok((producerStats?.packetCount ?? 0) >= sent - 2, `producer counted ${producerStats?.packetCount}`);
    inbound.close();
    outbound.close();
    assert.ok(consumer.closed && producer.closed);
  });

  test("creates a WebRtcTransport with ICE and DTLS parameters", async () => {
    const transport = await router.createWebRtcTransport({ listenInfos: [{ protocol: "udp", ip: LOCALHOST }] });
    cleanups.push(() => transport.close());
    assert.equal(transport.dtlsParameters.role, "auto");
    const sha256 = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === "sha-256");
    assert.match(sha256?.value ?? "", /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.ok(transport.iceParameters.usernameFragment.length > 0);
    assert.ok(transport.iceParameters.password.length > 0);
    assert.equal(transport.iceParameters.iceLite, true);
    const [candidate] = transport.iceCandidates;
    assert.equal(candidate?.ip, LOCALHOST);
    assert.equal(candidate?.protocol, "udp");
    assert.ok((candidate?.port ?? 0) > 0);
    assert.equal(transport.iceState, "new");
    assert.equal(transport.dtlsState, "new");
  });

  test("completes ICE and a DTLS 1.2 + SRTP handshake with the openssl CLI", {
    skip: hasOpensslCli() ? false : "no openssl CLI",
  }, async () => {
    // A client certificate, so that mediasoup can verify the fingerprint we announce.
    const dir = mkdtempSync(join(tmpdir(), "edgepbx-dtls-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    const req = spawnSync("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", key, "-out", cert, "-subj", "/CN=edgepbx-test", "-days", "1"],
    ]);
    assert.equal(req.status, 0, req.stderr?.toString());
    const fingerprint = new X509Certificate(readFileSync(cert)).fingerprint256;

    const transport = await router.createWebRtcTransport({ listenInfos: [{ protocol: "udp", ip: LOCALHOST }] });
    cleanups.push(() => transport.close());
    const dtlsStates: string[] = [];
    transport.on("dtlsstatechange", (state) => dtlsStates.push(state));
    await transport.connect({
      dtlsParameters: { role: "client", fingerprints: [{ algorithm: "sha-256", value: fingerprint }] },
    });
    const candidate = transport.iceCandidates[0];
    assert.ok(candidate);

    // openssl s_client cannot do ICE, so it talks DTLS to a relay whose socket did the ICE check.
    const toWorker = await udpSocket();
    const toClient = await udpSocket();
    cleanups.push(
      () => toWorker.close(),
      () => toClient.close(),
    );
    let client: RemoteInfo | undefined;
    let stunOk = false;
    toClient.on("message", (packet: Buffer, from: RemoteInfo) => {
      client = from;
      toWorker.send(packet, candidate.port, candidate.ip);
    });
    toWorker.on("message", (packet: Buffer) => {
      if ((packet[0] ?? 0) < 2)
        stunOk ||= packet.readUInt16BE(0) === 0x0101; // Binding success
      else if (client) toClient.send(packet, client.port, client.address);
    });
    const { usernameFragment, password } = transport.iceParameters;
    toWorker.send(stunBindingRequest(`${usernameFragment}:edgepbxtest`, password), candidate.port, candidate.ip);
    assert.ok(await until(() => stunOk, 3000), "no STUN Binding success response");
    assert.ok(await until(() => transport.iceState === "completed", 3000), `ICE state ${transport.iceState}`);

    let output = "";
    const sClient: ChildProcess = spawn(
      "openssl",
      [
        ...["s_client", "-dtls1_2", "-connect", `${LOCALHOST}:${toClient.address().port}`],
        ...["-cert", cert, "-key", key, "-use_srtp", "SRTP_AES128_CM_SHA1_80"],
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    cleanups.push(() => sClient.kill());
    sClient.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    sClient.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    const settled = await until(() => dtlsStates.includes("connected") || dtlsStates.includes("failed"), 8000);
    assert.ok(settled, `DTLS states ${dtlsStates.join(" → ")}; openssl said:\n${output}`);
    assert.deepEqual(dtlsStates, ["connecting", "connected"], output);
    assert.ok(
      await until(() => output.includes("SRTP Extension negotiated"), 3000),
      `no SRTP profile in openssl output:\n${output}`,
    );
    assert.match(output, /SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80/);
    assert.equal(died, undefined);
  });
});
