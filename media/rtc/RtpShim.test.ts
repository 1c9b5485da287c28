/**
 * RtpShim on real UDP sockets: a dgram "phone" on one side and, on the other, a dgram socket
 * standing in for mediasoup's PlainTransport (exact control of every packet), then a real
 * mediasoup Producer fed through the shim.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { after, before, describe, test } from "node:test";
import type { types } from "mediasoup";
import { sleep, until } from "../test-support/wait.ts";
import { type DtmfEvent, RtpPortPool, RtpShim, type ShimMedia, type TelephoneEventPacket } from "./RtpShim.ts";
import { loadMediasoup, mediasoupWorkerBin, missingWorkerMessage } from "./worker-bin.ts";

const LOCALHOST = "127.0.0.1";

interface Received {
  packet: Buffer;
  from: RemoteInfo;
}

async function endpoint(): Promise<{ socket: Socket; port: number; got: Received[] }> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, LOCALHOST, resolve));
  const got: Received[] = [];
  socket.on("message", (packet, from) => got.push({ packet, from }));
  return { socket, port: socket.address().port, got };
}

function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: Buffer, options: { marker?: boolean } = {}) {
  const header = Buffer.alloc(12);
  header.writeUInt8(0x80, 0);
  header.writeUInt8((options.marker ? 0x80 : 0) | pt, 1);
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(ts >>> 0, 4);
  header.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([header, payload]);
}

const fields = (p: Buffer) => ({
  x: (p.readUInt8(0) & 0x10) !== 0,
  marker: (p.readUInt8(1) & 0x80) !== 0,
  pt: p.readUInt8(1) & 0x7f,
  seq: p.readUInt16BE(2),
  ts: p.readUInt32BE(4),
  ssrc: p.readUInt32BE(8),
});

function telephoneEvent(event: number, end: boolean, duration: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt8(event, 0);
  payload.writeUInt8((end ? 0x80 : 0) | 10, 1);
  payload.writeUInt16BE(duration, 2);
  return payload;
}

const media = (phonePort: number, more: Partial<ShimMedia> = {}): ShimMedia => ({
  remote: { address: LOCALHOST, port: phonePort },
  payloadType: 0,
  receivePayloadTypes: [0],
  clockRate: 8000,
  telephoneEventPt: 101,
  receiveTelephoneEventPts: [101],
  sending: true,
  receiving: true,
  ...more,
});

describe("RtpPortPool", () => {
  test("even RTP ports with RTCP on the next, round robin, skipping ports that are taken", async () => {
    const pool = new RtpPortPool(43001, 43010); // even ports 43002..43008 (43010 has no RTCP port in range)
    const blocker = createSocket("udp4");
    await new Promise<void>((resolve) => blocker.bind(43005, LOCALHOST, resolve)); // RTCP of 43004
    const pairs = [];
    try {
      for (let i = 0; i < 3; i++) pairs.push(await pool.bindPair(LOCALHOST));
      assert.deepEqual(
        pairs.map((p) => [p.port, p.rtp.address().port, p.rtcp.address().port]),
        [
          [43002, 43002, 43003],
          [43006, 43006, 43007],
          [43008, 43008, 43009],
        ],
      );
      assert.equal(pool.inUse, 3);
      await assert.rejects(pool.bindPair(LOCALHOST), /no free RTP port in 43001-43010/);
      // A released port comes back, after the others: round robin.
      pairs[0]?.rtp.close();
      pairs[0]?.rtcp.close();
      pool.release(43002);
      const again = await pool.bindPair(LOCALHOST);
      assert.equal(again.port, 43002);
      pairs.push(again);
    } finally {
      for (const p of pairs.slice(1)) {
        p.rtp.close();
        p.rtcp.close();
      }
      blocker.close();
    }
    assert.throws(() => new RtpPortPool(100, 50), /invalid RTP port range/);
  });
});

describe("RtpShim", () => {
  let pool: RtpPortPool;
  const opened: (RtpShim | Socket)[] = [];

  before(() => {
    pool = new RtpPortPool(43100, 43199);
  });

  after(() => {
    for (const thing of opened) thing.close();
    assert.equal(pool.inUse, 0);
  });

  /** A shim between a phone socket and a socket playing mediasoup. */
  async function setup(
    more: Partial<ShimMedia> = {},
    options: { relatchAfterMs?: number; dtmfEndTimeoutMs?: number } = {},
  ) {
    const shim = await RtpShim.open({ pool, listenIp: LOCALHOST, ...options });
    const phone = await endpoint();
    const mediasoup = await endpoint();
    opened.push(shim, phone.socket, mediasoup.socket);
    await new Promise<void>((resolve) => mediasoup.socket.connect(shim.innerAddress.port, LOCALHOST, resolve));
    await shim.attach({ address: LOCALHOST, port: mediasoup.port });
    shim.configure(media(phone.port, more));
    const toShim = (packet: Buffer) => phone.socket.send(packet, shim.port, LOCALHOST);
    return { shim, phone, mediasoup, toShim };
  }

  test("towards mediasoup: one fixed SSRC, a restarted stream continues seamlessly, CN leaves no gap", async () => {
    const { shim, mediasoup, toShim } = await setup();
    let seq = 65530; // wraps
    let ts = 0xfffff000;
    for (let i = 0; i < 10; i++) {
      ts += 160;
      toShim(rtp(0, seq++, ts, 0x1111, Buffer.alloc(160, i)));
      if (i === 4) toShim(rtp(13, seq++, ts, 0x1111, Buffer.alloc(1, 0x40))); // comfort noise
      await sleep(20);
    }
    seq = 12345;
    ts = 777;
    for (let i = 10; i < 20; i++) {
      ts += 160;
      toShim(rtp(0, seq++, ts, 0x2222, Buffer.alloc(160, i)));
      await sleep(20);
    }
    assert.ok(await until(() => mediasoup.got.length === 20));
    const out = mediasoup.got.map((g) => fields(g.packet));
    assert.ok(out.every((p) => p.ssrc === shim.ssrc && p.pt === 0));
    for (let i = 1; i < out.length; i++) {
      assert.equal(((out[i]?.seq ?? 0) - (out[i - 1]?.seq ?? 0)) & 0xffff, 1, `seq step at ${i}`);
      const step = ((out[i]?.ts ?? 0) - (out[i - 1]?.ts ?? 0)) >>> 0;
      assert.ok(step === 160 || (i === 10 && step % 160 === 0 && step <= 480), `ts step ${step} at ${i}`);
    }
    assert.deepEqual(
      mediasoup.got.map((g) => g.packet.readUInt8(12)),
      [...Array(20).keys()],
    );
    const stats = shim.stats();
    assert.equal(stats.streamRestarts, 1);
    assert.equal(stats.dropped.payloadType, 1);
    assert.equal(stats.phoneToMediasoup.forwarded, 20);
  });

  test("towards the phone: MID extension stripped (CSRCs kept), PT/SSRC/seq ours, SDP address then the latched source", async () => {
    const { shim, phone, mediasoup } = await setup({ payloadType: 0 });
    const fromMediasoup = (seq: number, payload: Buffer) => {
      const packet = Buffer.concat([
        Buffer.from([0x91, 0x00, seq >> 8, seq & 0xff, 0, 0, 1, 0, 0xaa, 0xbb, 0xcc, 0xdd]), // X=1, CC=1
        Buffer.from([0x01, 0x02, 0x03, 0x04]), // CSRC
        Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0x30, 0x00, 0x00]), // one-byte ext: MID "0"
        payload,
      ]);
      mediasoup.socket.send(packet);
    };
    fromMediasoup(500, Buffer.from("first"));
    assert.ok(await until(() => phone.got.length === 1), "sent to the SDP address before any RTP from the phone");
    const first = phone.got[0]?.packet as Buffer;
    assert.equal(first.readUInt8(0), 0x81, "V=2, X cleared, CC kept");
    assert.equal(first.readUInt32BE(12), 0x01020304);
    assert.equal(first.subarray(16).toString(), "first");
    assert.equal(fields(first).ssrc, shim.egressSsrc);
    assert.equal(phone.got[0]?.from.port, shim.port, "from the advertised port");

    // The phone's RTP really comes from elsewhere (NAT): we follow it.
    const natted = await endpoint();
    opened.push(natted.socket);
    natted.socket.send(rtp(0, 1, 160, 0x3333, Buffer.alloc(160)), shim.port, LOCALHOST);
    assert.ok(await until(() => shim.stats().latched?.port === natted.port));
    fromMediasoup(501, Buffer.from("second"));
    assert.ok(await until(() => natted.got.length === 1));
    assert.equal(natted.got[0]?.packet.subarray(16).toString(), "second");
    assert.equal(((fields(natted.got[0]?.packet as Buffer).seq - fields(first).seq) & 0xffff) >>> 0, 1);
    assert.equal(phone.got.length, 1);
  });

  test("symmetric RTP latching: another source cannot take an active stream, but can once it went silent", async () => {
    const { shim, toShim, mediasoup } = await setup({}, { relatchAfterMs: 150 });
    const intruder = await endpoint();
    opened.push(intruder.socket);
    const latches: number[] = [];
    shim.on("latch", (a) => latches.push(a.port));
    toShim(rtp(0, 1, 160, 1, Buffer.alloc(160)));
    await sleep(20);
    intruder.socket.send(rtp(0, 1, 160, 2, Buffer.alloc(160)), shim.port, LOCALHOST);
    await sleep(50);
    assert.equal(shim.stats().dropped.foreignSource, 1);
    assert.equal(mediasoup.got.length, 1);
    await sleep(200);
    intruder.socket.send(rtp(0, 2, 320, 2, Buffer.alloc(160)), shim.port, LOCALHOST);
    assert.ok(await until(() => mediasoup.got.length === 2));
    assert.equal(latches.length, 2);
    assert.equal(latches[1], intruder.port);
    // A new SDP address forgets the latch (the far end moved).
    shim.configure(media(intruder.port + 1));
    assert.equal(shim.stats().latched, null);
  });

  test("RTCP on the odd port and multiplexed RTCP are dropped and counted", async () => {
    const { shim, phone, mediasoup, toShim } = await setup();
    const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 1]);
    phone.socket.send(rr, shim.port + 1, LOCALHOST);
    toShim(rr);
    mediasoup.socket.send(Buffer.from([0x80, 200, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]));
    assert.ok(await until(() => shim.stats().rtcpDropped === 2));
    await sleep(30);
    assert.equal(mediasoup.got.length, 0);
    assert.equal(phone.got.length, 0);
  });

  test("DTMF: one event per key press however many end packets, an inferred end when they are all lost", async () => {
    const { shim, toShim, mediasoup } = await setup(
      { telephoneEventPt: 101, receiveTelephoneEventPts: [101, 96] },
      {
        dtmfEndTimeoutMs: 100,
      },
    );
    const events: DtmfEvent[] = [];
    const relayed: TelephoneEventPacket[] = [];
    shim.on("dtmf", (e) => events.push(e));
    shim.on("telephoneevent", (p) => relayed.push(p));
    for (let i = 1; i <= 3; i++) toShim(rtp(101, i, 8000, 7, telephoneEvent(11, false, 160 * i), { marker: i === 1 }));
    for (let i = 0; i < 3; i++) toShim(rtp(101, 4 + i, 8000, 7, telephoneEvent(11, true, 640)));
    // "*" on PT 96 (ours, some phones use it), all end packets lost.
    toShim(rtp(96, 7, 9000, 7, telephoneEvent(10, false, 160), { marker: true }));
    toShim(rtp(101, 8, 9500, 7, telephoneEvent(20, false, 160))); // event 20: not DTMF
    assert.ok(await until(() => events.length === 4));
    assert.deepEqual(
      events.map((e) => [e.digit, e.end, e.duration, e.inferred ?? false]),
      [
        ["#", false, 160, false],
        ["#", true, 640, false],
        ["*", false, 160, false],
        ["*", true, 160, true],
      ],
    );
    assert.equal(events[1]?.durationMs, 80);
    assert.equal(relayed.length, 7, "every packet relayed (the far end wants the redundancy)");
    assert.equal(new Set(relayed.slice(0, 6).map((p) => p.key)).size, 1);
    assert.equal(mediasoup.got.length, 0, "telephone-event never enters mediasoup");
    assert.equal(shim.stats().dropped.payloadType, 1);
  });

  test("injected DTMF: the phone's telephone-event PT, our SSRC, the next sequence numbers, one timestamp per event", async () => {
    const { shim, phone, mediasoup } = await setup({ telephoneEventPt: 98 });
    for (let i = 0; i < 3; i++) {
      mediasoup.socket.send(rtp(0, 100 + i, 16000 + 160 * i, 0xabc, Buffer.alloc(160)));
      await sleep(20);
    }
    for (let i = 1; i <= 4; i++)
      shim.injectTelephoneEvent({ key: "k1", payload: telephoneEvent(1, i === 4, 160 * i), end: i === 4 });
    mediasoup.socket.send(rtp(0, 103, 16000 + 160 * 3, 0xabc, Buffer.alloc(160)));
    assert.ok(await until(() => phone.got.length === 8));
    const out = phone.got.map((g) => fields(g.packet));
    assert.deepEqual(
      out.map((p) => p.pt),
      [0, 0, 0, 98, 98, 98, 98, 0],
    );
    assert.ok(out.every((p) => p.ssrc === shim.egressSsrc));
    for (let i = 1; i < out.length; i++) assert.equal(((out[i]?.seq ?? 0) - (out[i - 1]?.seq ?? 0)) & 0xffff, 1);
    assert.deepEqual(
      out.slice(3, 7).map((p) => p.marker),
      [true, false, false, false],
    );
    assert.equal(new Set(out.slice(3, 7).map((p) => p.ts)).size, 1);
    const eventTs = out[3]?.ts ?? 0;
    assert.ok((eventTs - (out[2]?.ts ?? 0)) >>> 0 < 800, "the event starts about now in the audio's timeline");

    // A phone without telephone-event, or on hold: nothing is sent.
    shim.configure(media(phone.port, { telephoneEventPt: null }));
    shim.injectTelephoneEvent({ key: "k2", payload: telephoneEvent(2, false, 160), end: false });
    await sleep(30);
    assert.equal(phone.got.length, 8);
  });

  test("garbage from either side is counted and dropped, never thrown", async () => {
    const { shim, phone, mediasoup, toShim } = await setup();
    for (let i = 0; i < 300; i++) {
      if (i % 50 === 0) await sleep(5); // no burst beyond the socket buffers
      const junk = randomBytes(Math.floor(Math.random() * 40));
      if (i % 3 === 0 && junk.length > 0) junk.writeUInt8(0x80 | (junk.readUInt8(0) & 0x3f), 0); // looks like RTP
      toShim(junk);
      mediasoup.socket.send(junk);
    }
    toShim(Buffer.from([0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff])); // extension past the end
    toShim(rtp(101, 9, 9, 9, Buffer.from([1]))); // telephone-event too short
    await sleep(100);
    const stats = shim.stats();
    assert.ok(stats.dropped.malformed > 0);
    assert.equal(stats.phoneToMediasoup.received, 302);
    void phone;
  });

  test("close frees the ports and stops relaying", async () => {
    const { shim, toShim, mediasoup } = await setup();
    const port = shim.port;
    shim.close();
    shim.close();
    assert.ok(shim.isClosed);
    toShim(rtp(0, 1, 1, 1, Buffer.alloc(160)));
    await sleep(30);
    assert.equal(mediasoup.got.length, 0);
    const again = createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      again.once("error", reject);
      again.bind(port, LOCALHOST, resolve);
    });
    again.close();
  });
});

const found = mediasoupWorkerBin();

describe("RtpShim in front of a mediasoup Producer", {
  skip: found ? false : missingWorkerMessage,
  timeout: 20_000,
}, () => {
  let worker: types.Worker;

  before(async () => {
    worker = await (await loadMediasoup()).createWorker({ logLevel: "warn" });
  });

  after(() => worker?.close());

  test("two phone SSRCs become one Producer stream: every packet counted, none discarded", async () => {
    const router = await worker.createRouter({
      mediaCodecs: [{ kind: "audio", mimeType: "audio/PCMU", clockRate: 8000, preferredPayloadType: 0 }],
    });
    const pool = new RtpPortPool(43200, 43299);
    const shim = await RtpShim.open({ pool, listenIp: LOCALHOST });
    const phone = await endpoint();
    const listener = await endpoint();
    try {
      const listenInfo: types.TransportListenInfo = { protocol: "udp", ip: LOCALHOST };
      const inbound = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false });
      await inbound.connect({ ip: LOCALHOST, port: shim.innerAddress.port });
      await shim.attach({ address: inbound.tuple.localAddress, port: inbound.tuple.localPort });
      shim.configure(media(phone.port));
      const producer = await inbound.produce({
        kind: "audio",
        rtpParameters: {
          codecs: [{ mimeType: "audio/PCMU", payloadType: 0, clockRate: 8000 }],
          encodings: [{ ssrc: shim.ssrc }],
        },
      });
      const outbound = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false });
      await outbound.connect({ ip: LOCALHOST, port: listener.port });
      await outbound.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });

      let seq = 100;
      let ts = 1000;
      for (let i = 0; i < 60; i++) {
        if (i === 30) [seq, ts] = [40000, 123456789];
        const ssrc = i < 30 ? 0xaaaa0001 : 0xbbbb0002;
        ts += 160;
        phone.socket.send(rtp(0, seq++, ts, ssrc, Buffer.alloc(160, 0xff)), shim.port, LOCALHOST);
        await sleep(5);
      }
      assert.ok(await until(() => listener.got.filter((g) => (g.packet.readUInt8(1) & 0x7f) === 0).length >= 60));
      const [stats] = await producer.getStats();
      assert.equal(stats?.packetCount, 60);
      assert.equal(stats?.packetsDiscarded, 0);
      assert.equal(stats?.packetsLost, 0);
    } finally {
      shim.close();
      phone.socket.close();
      listener.socket.close();
      router.close();
    }
    assert.equal(pool.inUse, 0);
  });
});
