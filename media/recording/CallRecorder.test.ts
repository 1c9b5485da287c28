/**
 * CallRecorder with real parts: a mediasoup call (two legs bridged, RTP from two UDP "phones": the
 * caller a 440 Hz tone in 30 ms packets, the callee 880 Hz in 20 ms ones) and the real edge
 * (startEdge: workerd, R2) taking the uploads. The stored MP3 is read back through the edge's node
 * API (RecordingLibrary) and decoded by ffmpeg.
 */
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../../scripts/lib/edge.ts";
import { freePort } from "../../scripts/lib/net.ts";
import type { RecordingSummary } from "../../shared/index.ts";
import { PortalClient } from "../../test/support/portal-client.ts";
import type { Logger } from "../common/Logger.ts";
import type { CallMedia, MediaLeg } from "../rtc/CallMedia.ts";
import { MediaEngine } from "../rtc/MediaEngine.ts";
import { parseRemoteSdp } from "../rtc/sdp.ts";
import { encodeG711 } from "../rtc/tones.ts";
import { guideDecrypt, makeCustomerKey } from "../test-support/customer-key.ts";
import { channel, decodeMp3, tonePower } from "../test-support/mp3.ts";
import { sleep, until } from "../test-support/wait.ts";
import { CallRecorder } from "./CallRecorder.ts";
import { RecordingEncryptor } from "./RecordingEncryptor.ts";
import { RecordingLibrary } from "./RecordingLibrary.ts";
import { RecordingUploader } from "./RecordingUploader.ts";

let dir: string;
let edge: RunningEdge;
let engine: MediaEngine;
let pbxId: string;
let library: RecordingLibrary;

/** Log lines, kept to check what the recorder says (and that the token is never in it). */
class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  debug(message: string) {
    this.lines.push(message);
  }
  info(message: string) {
    this.lines.push(message);
  }
  warn(message: string) {
    this.lines.push(message);
  }
  error(message: string) {
    this.lines.push(message);
  }
}

/** A phone's media: sends a PCMU tone in packets of `packetMs`, paced by the clock. */
class TonePhone {
  private timer: NodeJS.Timeout | undefined;
  private constructor(readonly socket: Socket) {}

  static async open(): Promise<TonePhone> {
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    return new TonePhone(socket);
  }

  sdp(): string {
    const port = this.socket.address().port;
    return [
      "v=0",
      `o=phone ${port} 1 IN IP4 127.0.0.1`,
      "s=-",
      "c=IN IP4 127.0.0.1",
      "t=0 0",
      `m=audio ${port} RTP/AVP 0`,
      "a=rtpmap:0 PCMU/8000",
      "a=sendrecv",
      "",
    ].join("\r\n");
  }

  play(towards: string, frequency: number, packetMs: number): void {
    const { address, port } = parseRemoteSdp(towards);
    const samplesPerPacket = packetMs * 8;
    const ssrc = (Math.random() * 0xffffffff) >>> 0;
    const started = performance.now();
    let sent = 0;
    this.timer = setInterval(() => {
      const due = Math.floor((performance.now() - started) / packetMs);
      for (; sent < due; sent++) {
        const samples = Int16Array.from({ length: samplesPerPacket }, (_, i) =>
          Math.round(8000 * Math.sin((2 * Math.PI * frequency * (sent * samplesPerPacket + i)) / 8000)),
        );
        const header = Buffer.alloc(12);
        header[0] = 0x80;
        header[1] = 0;
        header.writeUInt16BE(sent & 0xffff, 2);
        header.writeUInt32BE((sent * samplesPerPacket) >>> 0, 4);
        header.writeUInt32BE(ssrc, 8);
        this.socket.send(Buffer.concat([header, encodeG711(samples, "PCMU")]), port, address ?? "127.0.0.1");
      }
    }, 5);
  }

  close(): void {
    clearInterval(this.timer);
    this.socket.close();
  }
}

/** A call in mediasoup: the caller offered, the callee answered our offer, both bridged and talking. */
async function talkingCall(): Promise<{ session: CallMedia; caller: MediaLeg; callee: MediaLeg; hangUp(): void }> {
  const session = await engine.session(pbxId);
  const callerPhone = await TonePhone.open();
  const calleePhone = await TonePhone.open();
  const caller = await session.createLeg({ remoteSdp: callerPhone.sdp() });
  const callee = await session.createLeg({ remoteSdp: null });
  await callee.setRemoteSdp(calleePhone.sdp());
  await session.bridge(caller, callee);
  callerPhone.play(caller.localSdp(), 440, 30);
  calleePhone.play(callee.localSdp(), 880, 20);
  let up = true;
  const hangUp = () => {
    if (!up) return;
    up = false;
    callerPhone.close();
    calleePhone.close();
    session.close();
  };
  leftovers.push(hangUp);
  return { session, caller, callee, hangUp };
}

/** Whatever a failed test left running: stopped in after(). */
const leftovers: (() => unknown)[] = [];

async function record(options: Parameters<typeof CallRecorder.start>[0]): Promise<CallRecorder> {
  const recorder = await CallRecorder.start(options);
  leftovers.push(() => recorder.stop());
  return recorder;
}

function call(id: string) {
  return { callId: `${id}@test`, from: "0299990000", to: "+61290001000", direction: "inbound" as const };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgepbx-recorder-"));
  edge = await startEdge({ port: await freePort(), persistDir: join(dir, "edge") });
  const admin = await PortalClient.register(edge.url, "recorder");
  ({
    pbx: { id: pbxId },
  } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Recorded Office" }));
  engine = await MediaEngine.create({ mediaIp: "127.0.0.1", rtpPorts: { min: 46000, max: 46499 } });
  library = new RecordingLibrary(edge.url, devMediaNodeToken());
});

after(async () => {
  for (const leftover of leftovers) await leftover();
  engine?.close();
  await edge?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("CallRecorder", () => {
  it("records the caller left and the callee right, uploads while the call goes on (final: false) and once more at stop (final: true)", async () => {
    const talking = await talkingCall();
    const logger = new MemoryLogger();
    const recordingId = CallRecorder.newId();
    const recorder = await record({
      media: talking.session,
      caller: talking.caller,
      callee: talking.callee,
      pbxId,
      recordingId,
      call: call("plain"),
      uploader: new RecordingUploader(edge.url, devMediaNodeToken()),
      encryptor: null,
      logger,
      uploadEveryMs: 1000,
    });
    // The edge holds the growing recording during the call.
    const partial = await storedWhen(recordingId, (r) => r.durationMs >= 1500);
    assert.equal(partial?.final, false);
    await sleep(4000 - recorder.durationMs);
    const outcome = await recorder.stop();
    talking.hangUp();
    assert.equal(outcome.final, true);
    assert.ok(Math.abs(outcome.durationMs - 4000) <= 200, `${outcome.durationMs} ms recorded`);

    const stored = (await library.list(pbxId)).find((r) => r.id === recordingId);
    assert.equal(stored?.final, true);
    assert.equal(stored?.fileName, `${recordingId}.mp3`);
    assert.equal(stored?.contentType, "audio/mpeg");
    assert.equal(stored?.size, outcome.uploadedBytes);
    const mp3 = Buffer.concat(await (await library.open(pbxId, recordingId)).toArray());
    assert.equal(mp3.length, stored?.size);
    const audio = await decodeMp3(mp3);
    assert.equal(audio.channels, 2);
    const seconds = audio.samples.length / 2 / audio.rate;
    assert.ok(Math.abs(seconds - 4) < 0.5, `the MP3 decodes to ${seconds} s`);
    const left = channel(audio.samples, 2, 0).subarray(8000, 24000);
    const right = channel(audio.samples, 2, 1).subarray(8000, 24000);
    const [l440, l880, r440, r880] = [
      tonePower(left, 440),
      tonePower(left, 880),
      tonePower(right, 440),
      tonePower(right, 880),
    ];
    console.log(`left 440/880 Hz ${l440.toFixed(0)}/${l880.toFixed(0)}; right ${r440.toFixed(0)}/${r880.toFixed(0)}`);
    assert.ok(l440 > 100 * l880 && l440 > 1e6, "the caller (440 Hz, 30 ms packets) is on the left, whole");
    assert.ok(r880 > 100 * r440 && r880 > 1e6, "the callee (880 Hz) is on the right");
    assert.ok(!logger.lines.some((l) => /fail/.test(l)), logger.lines.join("\n"));
  });

  it("with the PBX's key: each upload is CMS the guide's openssl command opens, named .mp3.enc", async () => {
    const { certPem, keyPath } = await makeCustomerKey(dir);
    const talking = await talkingCall();
    const recordingId = CallRecorder.newId();
    const recorder = await record({
      media: talking.session,
      caller: talking.caller,
      callee: talking.callee,
      pbxId,
      recordingId,
      call: call("sealed"),
      uploader: new RecordingUploader(edge.url, devMediaNodeToken()),
      encryptor: new RecordingEncryptor(certPem),
      logger: new MemoryLogger(),
      uploadEveryMs: 1000,
    });
    await sleep(2500);
    // The in-progress file is encrypted too.
    const partial = (await library.list(pbxId)).find((r) => r.id === recordingId);
    assert.equal(partial?.final, false);
    assert.equal(partial?.fileName, `${recordingId}.mp3.enc`);
    const partialBytes = Buffer.concat(await (await library.open(pbxId, recordingId)).toArray());
    const partialMp3 = await guideDecrypt(dir, `${recordingId}-partial.mp3.enc`, partialBytes, keyPath);
    const early = await decodeMp3(partialMp3);
    const earlySeconds = early.samples.length / 2 / early.rate;
    assert.ok(earlySeconds > 1.2, `the in-progress upload decrypts and decodes: ${earlySeconds} s`);

    const outcome = await recorder.stop();
    talking.hangUp();
    assert.equal(outcome.final, true);
    const stored = (await library.list(pbxId)).find((r) => r.id === recordingId);
    assert.equal(stored?.contentType, "application/pkcs7-mime");
    assert.equal(stored?.encrypted, true);
    const sealed = Buffer.concat(await (await library.open(pbxId, recordingId)).toArray());
    assert.equal(sealed.subarray(0, 3).toString("latin1") === "ID3" || sealed[0] === 0xff, false, "not an MP3");
    const mp3 = await guideDecrypt(dir, stored?.fileName ?? "", sealed, keyPath);
    const audio = await decodeMp3(mp3);
    const seconds = audio.samples.length / 2 / audio.rate;
    assert.ok(Math.abs(seconds - outcome.durationMs / 1000) < 0.5, `decrypted MP3 decodes to ${seconds} s`);
  });

  it("an edge that cannot be reached: the recording goes on, uploads are tried again and succeed once it answers; the token is never logged", async () => {
    const port = await freePort();
    const talking = await talkingCall();
    const logger = new MemoryLogger();
    const recordingId = CallRecorder.newId();
    const token = devMediaNodeToken();
    const recorder = await record({
      media: talking.session,
      caller: talking.caller,
      callee: talking.callee,
      pbxId,
      recordingId,
      call: call("unreachable"),
      uploader: new RecordingUploader(`http://127.0.0.1:${port}`, token),
      encryptor: null,
      logger,
      uploadEveryMs: 500,
      retryBaseMs: 200,
    });
    await sleep(1800);
    assert.ok(
      logger.lines.some((l) => /upload failed \(the edge cannot be reached \(ECONNREFUSED\)\); will retry/.test(l)),
      logger.lines.join("\n"),
    );
    assert.equal(
      (await library.list(pbxId)).find((r) => r.id === recordingId),
      undefined,
    );
    // The edge comes back (a plain proxy to it on the port the recorder uses).
    const proxy = await startProxy(port, edge.url);
    try {
      assert.ok(
        await until(() => logger.lines.some((l) => /takes uploads again/.test(l)), 3000),
        logger.lines.join("\n"),
      );
      const partial = (await library.list(pbxId)).find((r) => r.id === recordingId);
      assert.equal(partial?.final, false);
      const outcome = await recorder.stop();
      assert.equal(outcome.final, true);
      assert.equal((await library.list(pbxId)).find((r) => r.id === recordingId)?.final, true);
    } finally {
      talking.hangUp();
      proxy.close();
    }
    assert.ok(!logger.lines.some((l) => l.includes(token)), "no token in the log");
  });

  it("the final upload is tried a bounded number of times, then given up (what was uploaded stays)", async () => {
    const talking = await talkingCall();
    const logger = new MemoryLogger();
    const port = await freePort();
    const recorder = await record({
      media: talking.session,
      caller: talking.caller,
      callee: talking.callee,
      pbxId,
      recordingId: CallRecorder.newId(),
      call: call("gone"),
      uploader: new RecordingUploader(`http://127.0.0.1:${port}`, devMediaNodeToken()),
      encryptor: null,
      logger,
      retryBaseMs: 50,
    });
    await sleep(500);
    const started = Date.now();
    const outcome = await recorder.stop();
    talking.hangUp();
    assert.equal(outcome.final, false);
    assert.equal(outcome.uploadedBytes, 0);
    assert.ok(Date.now() - started < 5000);
    assert.equal(logger.lines.filter((l) => /upload failed \(/.test(l)).length, 5, logger.lines.join("\n"));
    assert.match(logger.lines.at(-1) ?? "", /the final upload failed; the edge keeps 0 bytes/);
  });

  it("a leg the node cannot hear (no G.711 agreed) is refused at start, and nothing stays open", async () => {
    const session = await engine.session(pbxId);
    const phone = await TonePhone.open();
    try {
      const caller = await session.createLeg({ remoteSdp: phone.sdp() });
      const unanswered = await session.createLeg({ remoteSdp: null, webrtc: true });
      await assert.rejects(
        CallRecorder.start({
          media: session,
          caller,
          callee: unanswered,
          pbxId,
          recordingId: CallRecorder.newId(),
          call: call("opus"),
          uploader: new RecordingUploader(edge.url, devMediaNodeToken()),
          encryptor: null,
          logger: new MemoryLogger(),
        }),
        /the node hears G\.711/,
      );
    } finally {
      phone.close();
      session.close();
    }
  });

  it("ids are RecordingIds that sort by time", () => {
    const a = CallRecorder.newId(new Date("2026-04-27T10:15:30.123Z"));
    const b = CallRecorder.newId(new Date("2026-04-27T10:15:31.000Z"));
    assert.match(a, /^20260427-101530Z-[A-Za-z0-9_-]{8}$/);
    assert.ok(a < b);
  });
});

/** The recording as the edge lists it, once `ready` holds (within 4 s). */
async function storedWhen(id: string, ready: (r: RecordingSummary) => boolean): Promise<RecordingSummary> {
  const deadline = Date.now() + 4000;
  for (;;) {
    const found = (await library.list(pbxId)).find((r) => r.id === id);
    if (found && ready(found)) return found;
    if (Date.now() > deadline) throw new Error(`recording ${id} not stored as expected: ${JSON.stringify(found)}`);
    await sleep(200);
  }
}

/** Forwards every request on `port` to `target` (the edge), as it came. */
async function startProxy(port: number, target: string): Promise<Server> {
  const upstream = new URL(target);
  const server = createServer((incoming, outgoing) => {
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: incoming.url,
        method: incoming.method,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forward.on("error", (error) => {
      outgoing.writeHead(502);
      outgoing.end(error.message);
    });
    incoming.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}
