/**
 * Two "phones" on dgram sockets, with random SSRCs mediasoup has never heard of, bridged through
 * CallMedia (RTP shims + a real mediasoup worker): audio both ways, SSRC changes, RFC 4733 DTMF
 * end to end, PCMA, hold/resume, SDP errors, and no leaked ports or transports.
 */

import assert from "node:assert/strict";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { types } from "mediasoup";
import { sleep, until } from "../test-support/wait.ts";
import { dtmfFrequencies, InbandDtmfDetector } from "../voice/InbandDtmfDetector.ts";
import type { CallMedia, MediaLeg } from "./CallMedia.ts";
import { MediaEngine } from "./MediaEngine.ts";
import type { DtmfEvent } from "./RtpShim.ts";
import { parseRemoteSdp, SdpError } from "./sdp.ts";
import { decodeG711, encodeG711, g711Frames, toneSamples } from "./tones.ts";
import { mediasoupWorkerBin, missingWorkerMessage } from "./worker-bin.ts";

const LOCALHOST = "127.0.0.1";

interface Rtp {
  pt: number;
  marker: boolean;
  seq: number;
  ts: number;
  ssrc: number;
  extension: boolean;
  payload: Buffer;
  from: string;
}

function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: Buffer, marker = false): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt8(0x80, 0);
  header.writeUInt8((marker ? 0x80 : 0) | pt, 1);
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(ts >>> 0, 4);
  header.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([header, payload]);
}

function parseRtp(packet: Buffer, from: RemoteInfo): Rtp | null {
  if (packet.length < 12 || packet.readUInt8(0) >> 6 !== 2) return null;
  const first = packet.readUInt8(0);
  let offset = 12 + 4 * (first & 0x0f);
  if (first & 0x10) offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  return {
    pt: packet.readUInt8(1) & 0x7f,
    marker: (packet.readUInt8(1) & 0x80) !== 0,
    seq: packet.readUInt16BE(2),
    ts: packet.readUInt32BE(4),
    ssrc: packet.readUInt32BE(8),
    extension: (first & 0x10) !== 0,
    payload: packet.subarray(offset),
    from: `${from.address}:${from.port}`,
  };
}

const randomSsrc = () => (Math.random() * 0xffffffff) >>> 0;

/** A SIP phone's media side: a UDP socket that sends RTP like a phone and records what it gets. */
class Phone {
  readonly received: Rtp[] = [];
  target = { address: LOCALHOST, port: 0 };
  ssrc = randomSsrc();
  seq = Math.floor(Math.random() * 65536);
  ts = randomSsrc();

  private constructor(readonly socket: Socket) {
    socket.on("message", (packet, from) => {
      const parsed = parseRtp(packet, from);
      if (parsed) this.received.push(parsed);
    });
  }

  static async open(): Promise<Phone> {
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, LOCALHOST, resolve));
    return new Phone(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  sdp(options: { pts?: number[]; te?: number | null; direction?: string; ip?: string; extra?: string } = {}): string {
    const pts = options.pts ?? [0, 8];
    const te = options.te === undefined ? 101 : options.te;
    const names: Record<number, string> = { 0: "PCMU/8000", 8: "PCMA/8000", 9: "G722/8000", 18: "G729/8000" };
    const formats = [...pts, ...(te === null ? [] : [te])].join(" ");
    return [
      "v=0",
      `o=phone ${this.port} 1 IN IP4 ${LOCALHOST}`,
      "s=-",
      `c=IN IP4 ${options.ip ?? LOCALHOST}`,
      "t=0 0",
      `m=audio ${this.port} RTP/AVP ${formats}`,
      ...pts.map((pt) => `a=rtpmap:${pt} ${names[pt] ?? "X/8000"}`),
      ...(te === null ? [] : [`a=rtpmap:${te} telephone-event/8000`, `a=fmtp:${te} 0-16`]),
      `a=${options.direction ?? "sendrecv"}`,
      ...(options.extra ? [options.extra] : []),
      "",
    ].join("\r\n");
  }

  /** Where our SDP (offer or answer) tells this phone to send. */
  sendTo(sdp: string): void {
    const remote = parseRemoteSdp(sdp);
    assert.ok(remote.address);
    this.target = { address: remote.address, port: remote.port };
  }

  send(pt: number, payload: Buffer, options: { marker?: boolean; ts?: number; advance?: boolean } = {}): void {
    this.socket.send(
      rtp(pt, this.seq, options.ts ?? this.ts, this.ssrc, payload, options.marker),
      this.target.port,
      this.target.address,
    );
    this.seq = (this.seq + 1) & 0xffff;
    if (options.advance !== false) this.ts = (this.ts + 160) >>> 0;
  }

  /** A new stream, as after a transfer or a hold: new SSRC, sequence and timestamp. */
  restart(): void {
    this.ssrc = randomSsrc();
    this.seq = Math.floor(Math.random() * 65536);
    this.ts = randomSsrc();
  }

  audio(pt: number, tag: number, index: number): Buffer {
    const payload = Buffer.alloc(160, pt === 8 ? 0xd5 : 0xff);
    payload.writeUInt8(tag, 0);
    payload.writeUInt16BE(index, 1);
    return payload;
  }

  audioFrom(tag: number): Rtp[] {
    return this.received.filter((p) => p.payload.length === 160 && p.payload.readUInt8(0) === tag);
  }

  close(): void {
    this.socket.close();
  }
}

/** An RFC 4733 payload: event, E bit, volume 10, duration. */
function telephoneEvent(event: number, end: boolean, duration: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt8(event, 0);
  payload.writeUInt8((end ? 0x80 : 0) | 10, 1);
  payload.writeUInt16BE(duration, 2);
  return payload;
}

/** The phone sends one key press: 5 packets of 20 ms (first with marker), then 3 end packets. */
async function pressKey(phone: Phone, pt: number, event: number): Promise<void> {
  const ts = phone.ts;
  for (let i = 1; i <= 5; i++) {
    phone.send(pt, telephoneEvent(event, false, 160 * i), { ts, advance: false, marker: i === 1 });
    await sleep(20);
  }
  for (let i = 0; i < 3; i++) phone.send(pt, telephoneEvent(event, true, 960), { ts, advance: false });
  phone.ts = (phone.ts + 960) >>> 0;
}

/** Both phones send `count` packets of 20 ms at once; A tags its payloads 0xA, B 0xB. */
async function talk(
  a: Phone,
  b: Phone,
  count: number,
  options: { aPt?: number; bPt?: number; restartAt?: number } = {},
) {
  for (let i = 0; i < count; i++) {
    if (i === options.restartAt) a.restart();
    a.send(options.aPt ?? 0, a.audio(options.aPt ?? 0, 0xa, i));
    b.send(options.bPt ?? 0, b.audio(options.bPt ?? 0, 0xb, i));
    await sleep(20);
  }
  await sleep(150);
}

interface Bridged {
  call: CallMedia;
  a: Phone;
  b: Phone;
  legA: MediaLeg;
  legB: MediaLeg;
  offerToB: string;
  answerToA: string;
}

/** The B2BUA flow: A's INVITE (offer) → our INVITE to B (offer) → B's 200 (answer) → bridge → our 200 to A. */
async function bridgedCall(
  engine: MediaEngine,
  options: { aPts?: number[]; bPts?: number[]; aTe?: number | null; bTe?: number | null } = {},
): Promise<Bridged> {
  const a = await Phone.open();
  const b = await Phone.open();
  const call = await engine.createCall();
  const legA = await call.createLeg({ remoteSdp: a.sdp({ pts: options.aPts, te: options.aTe }) });
  const legB = await call.createLeg({ remoteSdp: null });
  const offerToB = legB.localSdp();
  await legB.setRemoteSdp(b.sdp({ pts: options.bPts ?? [0], te: options.bTe }));
  await call.bridge(legA, legB);
  const answerToA = legA.localSdp();
  a.sendTo(answerToA);
  b.sendTo(offerToB);
  return { call, a, b, legA, legB, offerToB, answerToA };
}

function closeAll(c: Bridged): void {
  c.call.close();
  c.a.close();
  c.b.close();
}

/** Sequence numbers go up by one from packet to packet (losses would show as bigger steps). */
function seqSteps(packets: Rtp[]): number[] {
  const steps: number[] = [];
  for (let i = 1; i < packets.length; i++) steps.push(((packets[i]?.seq ?? 0) - (packets[i - 1]?.seq ?? 0)) & 0xffff);
  return steps;
}

const found = mediasoupWorkerBin();

/** An engine on this file's ports. */
function startEngine(): Promise<MediaEngine> {
  return MediaEngine.create({ rtpPorts: { min: 41000, max: 41999 }, loopbackPorts: { min: 42000, max: 42999 } });
}

/** Closes the engine once every call is closed: no Router, no transport, no shim port left behind. */
async function closeEngine(engine: MediaEngine): Promise<void> {
  const dump = await engine.dump();
  engine.close();
  assert.deepEqual(
    dump.workers.map((w) => w.routers),
    [[]],
  );
  assert.equal(dump.rtpPortsInUse, 0);
}

describe("CallMedia: two SIP phones bridged through mediasoup", {
  skip: found ? false : missingWorkerMessage,
  timeout: 20_000,
}, () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => closeEngine(engine));

  test("PCMU both ways: payloads arrive intact, without mediasoup's MID extension, from the advertised port", async () => {
    const c = await bridgedCall(engine);
    try {
      const toB = parseRemoteSdp(c.offerToB);
      assert.deepEqual(
        toB.codecs.map((x) => x.name),
        ["PCMU", "PCMA"],
        "B is offered what A offered",
      );
      assert.equal(toB.telephoneEventPt, 101);
      assert.match(c.offerToB, /a=fmtp:101 0-16/);
      assert.match(c.offerToB, /a=ptime:20/);
      assert.match(c.offerToB, /a=sendrecv/);
      const toA = parseRemoteSdp(c.answerToA);
      assert.deepEqual(
        toA.codecs.map((x) => x.name),
        ["PCMU"],
        "A's answer has B's codec",
      );

      await talk(c.a, c.b, 100);
      for (const [phone, tag, leg] of [
        [c.b, 0xa, c.legB],
        [c.a, 0xb, c.legA],
      ] as const) {
        const got = phone.audioFrom(tag);
        assert.ok(got.length >= 95, `${got.length} of 100 packets arrived`);
        assert.ok(
          got.every((p) => p.pt === 0 && !p.extension),
          "PT 0, no header extension",
        );
        assert.equal(new Set(got.map((p) => p.ssrc)).size, 1);
        assert.equal(new Set(got.map((p) => p.from)).size, 1);
        assert.equal(got[0]?.from, `${LOCALHOST}:${leg.port}`, "symmetric: sent from the port in our SDP");
        const indexes = got.map((p) => p.payload.readUInt16BE(1));
        assert.deepEqual(
          indexes,
          [...indexes].sort((x, y) => x - y),
        );
        assert.ok(got.every((p) => p.payload.subarray(3).every((byte) => byte === 0xff)));
      }
      const stats = c.legA.stats();
      assert.equal(stats.codec, "PCMU");
      assert.ok((stats.shim?.phoneToMediasoup.forwarded ?? 0) >= 95);
      assert.ok((stats.shim?.mediasoupToPhone.sent ?? 0) >= 95);
      assert.deepEqual(stats.shim?.latched, { address: LOCALHOST, port: c.a.port });
    } finally {
      closeAll(c);
    }
  });

  test("an SSRC change mid-stream is seamless: one SSRC and consecutive sequence numbers at B", async () => {
    const c = await bridgedCall(engine);
    try {
      await talk(c.a, c.b, 100, { restartAt: 50 });
      const got = c.b.audioFrom(0xa);
      assert.ok(got.length >= 95, `${got.length} of 100 packets arrived`);
      assert.equal(new Set(got.map((p) => p.ssrc)).size, 1);
      const steps = seqSteps(got);
      assert.ok(
        steps.every((s) => s >= 1 && s <= 3),
        `sequence steps ${[...new Set(steps)]}`,
      );
      const at = got.findIndex((p) => p.payload.readUInt16BE(1) >= 50);
      const tsStep = ((got[at]?.ts ?? 0) - (got[at - 1]?.ts ?? 0)) >>> 0;
      assert.ok(tsStep >= 160 && tsStep <= 480, `timestamp step across the change: ${tsStep}`);
      assert.equal(c.legA.stats().shim?.streamRestarts, 1);
      const { producer } = await c.legA.mediasoupStats();
      assert.equal(producer[0]?.packetsDiscarded, 0, "mediasoup discarded nothing");
      assert.ok((producer[0]?.packetCount ?? 0) >= 95);
    } finally {
      closeAll(c);
    }
  });

  test("two calls joined (attended transfer): A of one call and B of the other hear each other across Routers", async () => {
    const x = await bridgedCall(engine);
    const y = await bridgedCall(engine);
    try {
      // The transferor was X's B and Y's A: its legs go, X's A and Y's B stay and are joined.
      x.legB.close();
      y.legA.close();
      await x.call.bridge(x.legA, y.legB);
      await talk(x.a, y.b, 60);
      for (const [phone, tag] of [
        [y.b, 0xa],
        [x.a, 0xb],
      ] as const) {
        const got = phone.audioFrom(tag);
        assert.ok(got.length >= 55, `${got.length} of 60 packets crossed the Routers`);
        assert.ok(got.every((p) => p.pt === 0));
      }
      // DTMF crosses too (relayed wire to wire, not through mediasoup).
      await pressKey(x.a, 101, 7);
      await sleep(100);
      assert.ok(
        y.b.received.some((p) => p.pt === 101),
        "Y's B got the key as RFC 4733",
      );
      // Joining again (a codec-preserving re-bridge) pipes nothing twice.
      await x.call.bridge(x.legA, y.legB);
      y.call.close();
      assert.equal(x.legA.isBridged, false, "the joined leg's call closing unbridges the one that stays");
    } finally {
      closeAll(x);
      closeAll(y);
    }
  });

  test("DTMF from A: one event on leg A, and at B in B's telephone-event PT within B's stream", async () => {
    const c = await bridgedCall(engine, { bTe: 96 });
    try {
      const events: DtmfEvent[] = [];
      c.legA.on("dtmf", (e) => events.push(e));
      for (let i = 0; i < 10; i++) {
        c.a.send(0, c.a.audio(0, 0xa, i));
        await sleep(20);
      }
      await pressKey(c.a, 101, 5);
      for (let i = 10; i < 20; i++) {
        c.a.send(0, c.a.audio(0, 0xa, i));
        await sleep(20);
      }
      await sleep(150);
      assert.deepEqual(
        events.map((e) => [e.digit, e.end]),
        [
          ["5", false],
          ["5", true],
        ],
      );
      assert.equal(events[1]?.duration, 960);
      assert.equal(events[1]?.durationMs, 120);

      const atB = c.b.received.filter((p) => p.from === `${LOCALHOST}:${c.legB.port}`);
      const dtmf = atB.filter((p) => p.pt === 96);
      assert.equal(dtmf.length, 8, "5 packets and 3 end packets");
      assert.ok(dtmf[0]?.marker, "marker on the first packet of the event");
      assert.equal(new Set(dtmf.map((p) => p.ts)).size, 1, "one event timestamp");
      assert.deepEqual(
        dtmf.map((p) => p.payload.readUInt8(0)),
        Array(8).fill(5),
      );
      assert.deepEqual(
        dtmf.map((p) => (p.payload.readUInt8(1) & 0x80) !== 0),
        [false, false, false, false, false, true, true, true],
      );
      assert.equal(new Set(atB.map((p) => p.ssrc)).size, 1, "audio and DTMF in one stream");
      assert.ok(!atB.some((p) => p.pt === 101));
      const steps = seqSteps(atB);
      assert.ok(
        steps.every((s) => s === 1),
        `sequence steps ${steps.join(",")}`,
      );
      assert.equal(c.legA.stats().shim?.dtmf.received, 8);
      assert.equal(c.legB.stats().shim?.dtmf.sent, 8);
    } finally {
      closeAll(c);
    }
  });

  test("PCMA: A prefers PCMU but B answers PCMA, so A's answer is PCMA and PCMA flows", async () => {
    const c = await bridgedCall(engine, { aPts: [0, 8], bPts: [8] });
    try {
      assert.deepEqual(parseRemoteSdp(c.answerToA).codecs, [{ name: "PCMA", payloadType: 8 }]);
      assert.equal(c.legA.stats().codec, "PCMA");
      await talk(c.a, c.b, 50, { aPt: 8, bPt: 8 });
      for (const [phone, tag] of [
        [c.b, 0xa],
        [c.a, 0xb],
      ] as const) {
        const got = phone.audioFrom(tag);
        assert.ok(got.length >= 47, `${got.length} of 50`);
        assert.ok(got.every((p) => p.pt === 8 && p.payload.subarray(3).every((x) => x === 0xd5)));
      }
      // PCMU from A is not what was agreed: dropped by the shim, never forwarded.
      c.a.send(0, c.a.audio(0, 0xa, 999));
      await sleep(100);
      assert.equal(c.legA.stats().shim?.dropped.payloadType, 1);
    } finally {
      closeAll(c);
    }
  });

  test("forking: every branch is offered A's codecs; the one that answers is bridged, the others closed", async () => {
    const a = await Phone.open();
    const b2 = await Phone.open();
    const call = await engine.createCall();
    try {
      const legA = await call.createLeg({ remoteSdp: a.sdp({ pts: [8, 0] }) });
      const branches = [await call.createLeg({ remoteSdp: null }), await call.createLeg({ remoteSdp: null })];
      for (const branch of branches)
        assert.deepEqual(
          parseRemoteSdp(branch.localSdp()).codecs.map((x) => x.name),
          ["PCMA", "PCMU"],
        );
      const [b1, winner] = branches as [MediaLeg, MediaLeg];
      await winner.setRemoteSdp(b2.sdp({ pts: [0] }));
      await call.bridge(legA, winner);
      b1.close();
      a.sendTo(legA.localSdp());
      b2.sendTo(winner.localSdp());
      assert.equal(legA.stats().codec, "PCMU");
      await talk(a, b2, 20);
      assert.ok(b2.audioFrom(0xa).length >= 19 && a.audioFrom(0xb).length >= 19);
      assert.equal((await call.router.dump()).transportIds.length, 2);
    } finally {
      call.close();
      a.close();
      b2.close();
    }
  });

  test("a caller without SDP (late offer): our offer to it carries the codec the callee chose", async () => {
    const a = await Phone.open();
    const b = await Phone.open();
    const call = await engine.createCall();
    try {
      const legB = await call.createLeg({ remoteSdp: null });
      b.sendTo(legB.localSdp());
      await legB.setRemoteSdp(b.sdp({ pts: [8] }));
      const legA = await call.createLeg({ remoteSdp: null });
      const offerToA = legA.localSdp(); // in our 200 OK
      assert.deepEqual(
        parseRemoteSdp(offerToA).codecs.map((x) => x.name),
        ["PCMA"],
      );
      a.sendTo(offerToA);
      await legA.setRemoteSdp(a.sdp({ pts: [8] })); // in A's ACK
      await call.bridge(legA, legB);
      await talk(a, b, 20, { aPt: 8, bPt: 8 });
      assert.ok(b.audioFrom(0xa).length >= 19 && a.audioFrom(0xb).length >= 19);
    } finally {
      call.close();
      a.close();
      b.close();
    }
  });

  test("hold: A's re-INVITE with sendonly stops B→A, A→B continues; sendrecv resumes; c=0.0.0.0 and inactive too", async () => {
    const c = await bridgedCall(engine);
    const fromB = () => c.a.audioFrom(0xb).length;
    const fromA = () => c.b.audioFrom(0xa).length;
    try {
      await talk(c.a, c.b, 10);
      assert.ok(fromB() >= 9 && fromA() >= 9);

      await c.legA.setRemoteSdp(c.a.sdp({ direction: "sendonly" }));
      const answer = c.legA.localSdp();
      assert.match(answer, /a=recvonly/);
      assert.equal(parseRemoteSdp(answer).sessionVersion, "1", "o= version moves on with the change");
      let [b0, a0] = [fromB(), fromA()];
      await talk(c.a, c.b, 20);
      assert.ok(fromB() - b0 <= 1, `${fromB() - b0} packets reached A on hold`);
      assert.ok(fromA() - a0 >= 19, "A's music on hold still reaches B");
      assert.deepEqual([c.legA.stats().sending, c.legA.stats().receiving], [false, true]);

      await c.legA.setRemoteSdp(c.a.sdp({ direction: "sendrecv" }));
      assert.match(c.legA.localSdp(), /a=sendrecv/);
      [b0, a0] = [fromB(), fromA()];
      await talk(c.a, c.b, 20);
      assert.ok(fromB() - b0 >= 19, `${fromB() - b0} packets reached A after resume`);

      // RFC 2543 hold: c=0.0.0.0 — nothing may be sent to A.
      await c.legA.setRemoteSdp(c.a.sdp({ ip: "0.0.0.0" }));
      assert.match(c.legA.localSdp(), /a=recvonly/);
      b0 = fromB();
      await talk(c.a, c.b, 10);
      assert.ok(fromB() - b0 <= 1);

      await c.legA.setRemoteSdp(c.a.sdp({ direction: "inactive" }));
      assert.match(c.legA.localSdp(), /a=inactive/);
      [b0, a0] = [fromB(), fromA()];
      await talk(c.a, c.b, 10);
      assert.ok(fromB() - b0 <= 1 && fromA() - a0 <= 1, "inactive: neither way");

      await c.legA.setRemoteSdp(c.a.sdp());
      c.legA.localSdp();
      [b0, a0] = [fromB(), fromA()];
      await talk(c.a, c.b, 20);
      assert.ok(fromB() - b0 >= 19 && fromA() - a0 >= 19, "both ways again");
    } finally {
      closeAll(c);
    }
  });

  test("WebRTC legs: answers to a browser's re-offer (actpass, for hold) keep the DTLS role in force", async () => {
    const fingerprint = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, "0")).join(":");
    // A browser's SDP, trimmed to what a leg reads; browsers re-offer actpass on every re-INVITE.
    const browser = (setup: string, direction = "sendrecv") =>
      [
        "v=0",
        "o=- 1 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 0 8",
        "c=IN IP4 0.0.0.0",
        "a=ice-ufrag:bRws",
        "a=ice-pwd:browserIcePasswordOf24ch",
        `a=fingerprint:sha-256 ${fingerprint}`,
        `a=setup:${setup}`,
        "a=mid:0",
        `a=${direction}`,
        "a=rtcp-mux",
        "a=ssrc:1111 cname:browser",
        "",
      ].join("\r\n");
    const setupOf = (sdp: string) => /a=setup:(\w+)/.exec(sdp)?.[1];
    const call = await engine.createCall();
    try {
      // The browser calls: it offered actpass, we answered active (DTLS client) and stay so.
      const caller = await call.createLeg({ remoteSdp: browser("actpass") });
      assert.equal(setupOf(caller.localSdp()), "active");
      await caller.setRemoteSdp(browser("actpass", "sendonly"));
      assert.equal(setupOf(caller.localSdp()), "active");
      // The browser is called: we offered actpass, it answered active, so we are the DTLS server:
      // an answer saying active would swap roles, and Chromium refuses it ("Failed to set SSL role").
      const callee = await call.createLeg({ webrtc: true });
      assert.equal(setupOf(callee.localSdp()), "actpass");
      await callee.setRemoteSdp(browser("active"));
      assert.equal((callee.transport as types.WebRtcTransport).dtlsParameters.role, "server");
      await callee.setRemoteSdp(browser("actpass", "sendonly"));
      const held = callee.localSdp();
      assert.equal(setupOf(held), "passive");
      assert.match(held, /a=recvonly/);
      await callee.setRemoteSdp(browser("actpass"));
      assert.equal(setupOf(callee.localSdp()), "passive");
    } finally {
      call.close();
    }
  });

  test("no common codec: a clear SdpError, and nothing is left open", async () => {
    const phone = await Phone.open();
    const call = await engine.createCall();
    try {
      await assert.rejects(call.createLeg({ remoteSdp: phone.sdp({ pts: [9, 18] }) }), (error: unknown) => {
        assert.ok(error instanceof SdpError);
        assert.equal(error.code, "no-common-codec");
        assert.equal(error.sipStatus, 488);
        assert.match(error.message, /G722\/8000, G729\/8000/);
        assert.match(error.message, /PCMU, PCMA/);
        return true;
      });
      // B offered only PCMU (A offered only PCMU), answers PCMA.
      const legA = await call.createLeg({ remoteSdp: phone.sdp({ pts: [0] }) });
      const legB = await call.createLeg({ remoteSdp: null });
      assert.deepEqual(
        parseRemoteSdp(legB.localSdp()).codecs.map((x) => x.name),
        ["PCMU"],
      );
      await assert.rejects(legB.setRemoteSdp(phone.sdp({ pts: [8] })), /no common codec.*PCMA\/8000.*takes PCMU/);
      // A re-INVITE that drops the codec in use is refused too (no transcoding); the call goes on.
      await legB.setRemoteSdp(phone.sdp({ pts: [0] }));
      await call.bridge(legA, legB);
      legA.localSdp();
      await assert.rejects(legA.setRemoteSdp(phone.sdp({ pts: [8] })), { code: "no-common-codec" });
      assert.equal(legA.stats().codec, "PCMU");
      assert.equal((await call.router.dump()).transportIds.length, 2);
    } finally {
      call.close();
      phone.close();
    }
    assert.equal(engine.rtpPortsInUse, 0);
  });

  test("malformed SDP: a clear SdpError for each, the leg is not created", async () => {
    const phone = await Phone.open();
    const call = await engine.createCall();
    const good = phone.sdp();
    const cases: [string, unknown, RegExp][] = [
      ["garbage", "hello world", /does not start with v=0/],
      ["empty", "", /empty/],
      ["not a string", 42, /empty/],
      ["huge", `${good}${"a=x\r\n".repeat(5000)}`, /bytes/],
      ["no m=", good.split("m=audio")[0], /no m= line/],
      ["bad port", good.replace(/m=audio \d+/, "m=audio 99999"), /port "99999"/],
      ["port text", good.replace(/m=audio \d+/, "m=audio x"), /m= line|port/],
      ["host name", good.replace("c=IN IP4 127.0.0.1", "c=IN IP4 evil.example"), /not an IPv4 address/],
      ["no c=", good.replace(/c=IN IP4 .*\r\n/, ""), /no c= line/],
      ["bad PT", good.replace("RTP/AVP 0 8 101", "RTP/AVP 0 8 300"), /payload type "300"/],
      ["SRTP", good.replace("RTP/AVP", "RTP/SAVP"), /no usable audio stream/],
      ["IPv6", good.replace("c=IN IP4 127.0.0.1", "c=IN IP6 ::1"), /IPv6/],
      ["no o=", good.replace(/o=.*\r\n/, ""), /o= line/],
    ];
    try {
      for (const [name, sdp, message] of cases) {
        await assert.rejects(
          call.createLeg({ remoteSdp: sdp as string }),
          (error: unknown) => {
            assert.ok(error instanceof SdpError, `${name}: ${error}`);
            assert.match(error.message, message, name);
            return true;
          },
          name,
        );
      }
      assert.equal((await call.router.dump()).transportIds.length, 0);
      assert.equal(engine.rtpPortsInUse, 0);
    } finally {
      call.close();
      phone.close();
    }
  });

  test("an offer with video: the answer rejects the video stream (port 0) and keeps the m= order", async () => {
    const phone = await Phone.open();
    const call = await engine.createCall();
    try {
      const offer = phone.sdp().replace("t=0 0\r\n", "t=0 0\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n");
      const leg = await call.createLeg({ remoteSdp: offer });
      const answer = leg.localSdp();
      assert.match(answer, /m=video 0 RTP\/AVP 96\r\nm=audio \d+ RTP\/AVP 0 101\r\n/);
    } finally {
      call.close();
      phone.close();
    }
  });

  test("closing frees everything: the Router's transports go with the legs, the Router with the call", async () => {
    const c = await bridgedCall(engine);
    const worker = engine.workers[0];
    assert.ok(worker);
    assert.ok((await worker.dump()).routerIds.includes(c.call.router.id));
    assert.equal((await c.call.router.dump()).transportIds.length, 2);
    const ports = [c.legA.port, c.legB.port];
    c.legB.close();
    assert.equal((await c.call.router.dump()).transportIds.length, 1);
    assert.equal(c.legA.isBridged, false);
    closeAll(c);
    assert.ok(!(await worker.dump()).routerIds.includes(c.call.router.id));
    assert.equal(engine.rtpPortsInUse, 0);
    // The ports really are free again.
    for (const port of ports) {
      const socket = createSocket("udp4");
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(port, LOCALHOST, resolve);
      });
      socket.close();
    }
  });

  test("real RTP: sipp's g711a.pcap (PCMA, 30 ms) and dtmf_2833_5.pcap replayed from A", {
    skip: readable("/usr/share/sip-tester/g711a.pcap") ? false : "no sip-tester pcaps",
  }, async () => {
    const c = await bridgedCall(engine, { aPts: [8], bPts: [8] });
    try {
      const events: DtmfEvent[] = [];
      c.legA.on("dtmf", (e) => events.push(e));
      const audio = pcapRtp("/usr/share/sip-tester/g711a.pcap").slice(0, 60);
      for (const packet of audio) {
        c.a.socket.send(packet, c.a.target.port, c.a.target.address);
        await sleep(5);
      }
      for (const packet of pcapRtp("/usr/share/sip-tester/dtmf_2833_5.pcap")) {
        c.a.socket.send(packet, c.a.target.port, c.a.target.address);
        await sleep(5);
      }
      assert.ok(await until(() => events.some((e) => e.end)));
      const got = c.b.received.filter((p) => p.pt === 8);
      assert.ok(got.length >= 57, `${got.length} of 60`);
      const sent = new Set(audio.map((p) => p.subarray(12).toString("hex")));
      assert.ok(
        got.every((p) => sent.has(p.payload.toString("hex"))),
        "payloads byte for byte",
      );
      assert.deepEqual(
        events.map((e) => [e.digit, e.end]),
        [
          ["5", false],
          ["5", true],
        ],
      );
      assert.ok(await until(() => c.b.received.filter((p) => p.pt === 101).length === 10));
    } finally {
      closeAll(c);
    }
  });
});

function readable(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The RTP payloads of the UDP packets in a classic pcap file (Ethernet, IPv4). */
function pcapRtp(path: string): Buffer[] {
  const file = readFileSync(path);
  const packets: Buffer[] = [];
  for (let offset = 24; offset + 16 <= file.length; ) {
    const length = file.readUInt32LE(offset + 8);
    const frame = file.subarray(offset + 16, offset + 16 + length);
    offset += 16 + length;
    const ip = frame.subarray(14);
    const udp = ip.subarray(4 * (ip.readUInt8(0) & 0x0f));
    packets.push(Buffer.from(udp.subarray(8)));
  }
  return packets;
}

describe("CallMedia.listen: the node hears a leg", {
  skip: found ? false : missingWorkerMessage,
  timeout: 30_000,
}, () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => closeEngine(engine));

  test("a phone's in-band keys (PCMA, some packets swapped in transit) come out in order and are read", async () => {
    const phone = await Phone.open();
    const call = await engine.createCall();
    try {
      const leg = await call.createLeg({ remoteSdp: phone.sdp({ pts: [8], te: null }) });
      phone.sendTo(leg.localSdp());
      const listener = await call.listen(leg);
      const detector = new InbandDtmfDetector();
      const keys: string[] = [];
      let frames = 0;
      const heard: Int16Array[] = [];
      detector.on("dtmf", (event) => {
        if (!event.end) keys.push(event.digit);
      });
      listener.on("frame", (frame: Int16Array) => {
        frames++;
        heard.push(frame);
        assert.equal(frame.length, 160);
        detector.push(frame);
      });
      const audio = toneSamples(
        [..."42#"].flatMap((key) => [
          { frequencies: dtmfFrequencies(key) ?? [], ms: 100 },
          { frequencies: [], ms: 80 },
        ]),
      );
      const payloads = g711Frames(audio, "PCMA");
      // Every tenth packet overtakes the one before it, as on a real network.
      const packets = payloads.map((payload) => {
        const packet = rtp(8, phone.seq, phone.ts, phone.ssrc, payload);
        phone.seq = (phone.seq + 1) & 0xffff;
        phone.ts = (phone.ts + 160) >>> 0;
        return packet;
      });
      for (let i = 5; i + 1 < packets.length; i += 10)
        [packets[i], packets[i + 1]] = [packets[i + 1] as Buffer, packets[i] as Buffer];
      for (const packet of packets) {
        phone.socket.send(packet, phone.target.port, phone.target.address);
        await sleep(20);
      }
      await sleep(200);
      assert.deepEqual(keys, ["4", "2", "#"]);
      // In the order spoken, not the order of arrival: each frame heard is the next one sent.
      const sent = payloads.map((payload) => decodeG711(payload, "PCMA").join(","));
      const offset = sent.indexOf(heard[0]?.join(",") ?? "");
      assert.ok(offset >= 0, "the first frame heard was sent");
      assert.deepEqual(
        heard.map((frame) => frame.join(",")),
        sent.slice(offset, offset + heard.length),
      );
      assert.ok(frames >= payloads.length - 4, `frames heard: ${frames} of ${payloads.length}`);
      assert.ok(listener.stats().late === 0, JSON.stringify(listener.stats()));
      listener.close();
    } finally {
      call.close();
      phone.close();
    }
  });

  test("a packet lost on the way comes out as a silent frame marked lost, in its place", async () => {
    const phone = await Phone.open();
    const call = await engine.createCall();
    try {
      const leg = await call.createLeg({ remoteSdp: phone.sdp({ pts: [0], te: null }) });
      phone.sendTo(leg.localSdp());
      const listener = await call.listen(leg);
      const heard: { first: number; lost: boolean }[] = [];
      listener.on("frame", (frame: Int16Array, lost: boolean) => heard.push({ first: frame[0] ?? 0, lost }));
      // Each frame a constant level, so its place is known; packets 20 and 21 never arrive.
      for (let i = 0; i < 40; i++) {
        const payload = encodeG711(new Int16Array(160).fill(1000 + i * 100), "PCMU");
        const packet = rtp(0, phone.seq, phone.ts, phone.ssrc, payload);
        phone.seq = (phone.seq + 1) & 0xffff;
        phone.ts = (phone.ts + 160) >>> 0;
        if (i !== 20 && i !== 21) phone.socket.send(packet, phone.target.port, phone.target.address);
        await sleep(20);
      }
      await sleep(200);
      const lostAt = heard.flatMap((h, i) => (h.lost ? [i] : []));
      assert.equal(lostAt.length, 2, JSON.stringify(heard));
      const [gap] = lostAt as [number];
      assert.deepEqual(lostAt, [gap, gap + 1]);
      for (const i of lostAt) assert.equal(heard[i]?.first, 0, "a lost frame is silence");
      // Around the gap, the frames sent 19 and 22.
      assert.ok(Math.abs((heard[gap - 1]?.first ?? 0) - 2900) < 100, JSON.stringify(heard[gap - 1]));
      assert.ok(Math.abs((heard[gap + 2]?.first ?? 0) - 3200) < 120, JSON.stringify(heard[gap + 2]));
      assert.equal(listener.stats().lost, 2);
      listener.close();
    } finally {
      call.close();
      phone.close();
    }
  });

  test("a phone sending 30 ms packets is heard in 20 ms frames, a lost packet as its 30 ms of silence", async () => {
    const phone = await Phone.open();
    const call = await engine.createCall();
    try {
      const leg = await call.createLeg({ remoteSdp: phone.sdp({ pts: [8], te: null }) });
      phone.sendTo(leg.localSdp());
      const listener = await call.listen(leg);
      const heard: { frame: Int16Array; lost: boolean }[] = [];
      listener.on("frame", (frame: Int16Array, lost: boolean) => heard.push({ frame, lost }));
      // 20 packets of 240 samples, each a level of its own; packet 10 never arrives.
      const payloads = Array.from({ length: 20 }, (_, i) =>
        encodeG711(new Int16Array(240).fill(1000 + i * 100), "PCMA"),
      );
      for (const [i, payload] of payloads.entries()) {
        const packet = rtp(8, phone.seq, phone.ts, phone.ssrc, payload);
        phone.seq = (phone.seq + 1) & 0xffff;
        phone.ts = (phone.ts + 240) >>> 0;
        if (i !== 10) phone.socket.send(packet, phone.target.port, phone.target.address);
        await sleep(30);
      }
      await sleep(200);
      assert.ok(heard.length >= 25, `frames heard: ${heard.length}`);
      assert.ok(heard.every((h) => h.frame.length === 160));
      const expected = payloads.flatMap((payload, i) => [
        ...(i === 10 ? new Int16Array(240) : decodeG711(payload, "PCMA")),
      ]);
      const samples = heard.flatMap((h) => [...h.frame]);
      assert.deepEqual(samples, expected.slice(0, samples.length), "the phone's samples, in order, none dropped");
      // Packet 10 is samples 2400-2639: frame 15 (2400-2559) wholly lost, frame 16 half.
      assert.deepEqual(
        heard.flatMap((h, i) => (h.lost ? [i] : [])),
        [15],
      );
      listener.close();
    } finally {
      call.close();
      phone.close();
    }
  });

  test("refuses to listen to a leg that has no G.711 codec yet", async () => {
    const call = await engine.createCall();
    try {
      const leg = await call.createLeg({ remoteSdp: null });
      await assert.rejects(call.listen(leg), /hears G\.711/);
    } finally {
      call.close();
    }
  });
});
