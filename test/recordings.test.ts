/**
 * Call recordings end to end: the edge (startEdge: workerd, Durable Objects, R2 on disk) and a real
 * media node (MediaNode: SIP, mediasoup, the recorder, the FTP server), with sipp phones and a
 * sipp carrier on the trunk's address (127.0.0.2). An Administrator enables the Call Recording
 * add-on (disclaimer, FTP login), records one call route's inbound calls and extension 100's
 * outbound calls, and applies. Then:
 * - the carrier calls the recorded DID (g711a.pcap, echoed by the sipp desk phone 101): the call
 *   record names a recording, the portal lists it, and its MP3 decodes (ffmpeg) to the call's
 *   answered duration ±1 s, in stereo with audio on both sides;
 * - a call to the DID without recording is not recorded;
 * - 100 calls out through the carrier (caller.xml): recorded, outbound;
 * - with recording encryption on (a certificate made by the guide's openssl command), the stored
 *   file is `<id>.mp3.enc`, and `openssl smime -decrypt -binary -in X.mp3.enc -inform DER -out
 *   X.mp3 -inkey key.pem` gives an MP3 that decodes to the call's duration;
 * - `curl ftp://user:pass@127.0.0.1:PORT/` lists them and fetches each (the same bytes as the
 *   edge stores); a wrong password is refused.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MediaNode } from "../media/MediaNode.ts";
import { RecordingLibrary } from "../media/recording/RecordingLibrary.ts";
import { guideDecrypt, makeCustomerKey } from "../media/test-support/customer-key.ts";
import { channel, decodeMp3 } from "../media/test-support/mp3.ts";
import { runSipp, startSippCallee } from "../media/test-support/sipp.ts";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../scripts/lib/edge.ts";
import { freePort } from "../scripts/lib/net.ts";
import type { CallRecord, RecordingSummary } from "../shared/index.ts";
import { eventually, PortalClient } from "./support/portal-client.ts";

const TRUNK_HOST = "127.0.0.2";
const TRUNK_USER = "recordings-trunk";
const TRUNK_PASSWORD = "carrier-secret-rec";
const RECORDED_DID = "+61290081000";
const PLAIN_DID = "+61290082000";
const FTP_USER = "callrecords";
const FTP_PASSWORD = "ftp-secret-2026";
const PASSWORDS: Record<string, string> = { "100": "rec-alice-100", "101": "rec-bob-10101" };

let dir: string;
let edge: RunningEdge;
let node: MediaNode;
let admin: PortalClient;
let base: string;
let pbxId: string;
let domain: string;
let trunkPort: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgepbx-recordings-"));
  edge = await startEdge({ port: await freePort(), persistDir: join(dir, "edge") });
  trunkPort = await freePort();
  const passive = 48000 + Math.floor(Math.random() * 40) * 20;
  node = await MediaNode.start({
    edgeUrl: edge.url,
    nodeId: "media-recordings-test",
    token: devMediaNodeToken(),
    stateDir: join(dir, "media"),
    sip: { host: "127.0.0.1", udpPort: 0, tcpPort: 0, wsPort: 0 },
    media: { ip: "127.0.0.1", rtpPorts: { min: 43000, max: 43999 }, workers: 1 },
    trunk: {
      host: TRUNK_HOST,
      port: trunkPort,
      transport: "udp",
      credentials: { username: TRUNK_USER, password: TRUNK_PASSWORD },
      defaultCallerId: "0290000000",
    },
    ftp: { host: "127.0.0.1", port: 0, passivePorts: { min: passive, max: passive + 19 }, passiveHost: "127.0.0.1" },
  });

  admin = await PortalClient.register(edge.url, "recordings");
  ({
    pbx: { id: pbxId },
  } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Recorded Office" }));
  base = `/api/pbxs/${pbxId}`;
  await admin.expect(200, "PATCH", `${base}/addons`, {
    callRecording: {
      enabled: true,
      disclaimerAccepted: true,
      ftp: { username: FTP_USER, password: FTP_PASSWORD },
    },
  });
  await admin.expect(201, "POST", `${base}/extensions`, {
    number: "100",
    name: "Alice",
    sipPassword: PASSWORDS["100"],
    recordOutbound: true,
  });
  await admin.expect(201, "POST", `${base}/extensions`, { number: "101", name: "Bob", sipPassword: PASSWORDS["101"] });
  for (const [did, recordInbound] of [
    [RECORDED_DID, true],
    [PLAIN_DID, false],
  ] as const)
    await admin.expect(201, "POST", `${base}/call-routes`, {
      did,
      timezone: "UTC",
      alertName: recordInbound ? "Recorded" : "Plain",
      activity: { type: "extension", extension: "101" },
      recordInbound,
    });
  await apply();
  domain = node.directory.get(pbxId)?.config.settings.sipDomain ?? "";
});

after(async () => {
  await node?.stop();
  await edge?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Applies the draft and waits until the node serves that version. */
async function apply(): Promise<void> {
  const { version } = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
  await eventually("the version live on the node", async () => node.directory.get(pbxId)?.version === version);
}

/** The carrier calls `did`; sipp desk phone 101 answers and echoes; the carrier hangs up after `ms`. */
async function inboundCall(did: string, ms: number): Promise<CallRecord> {
  const earlier = new Set((await listedCalls()).map((c) => c.callId));
  const callee = await startSippCallee({
    server: { host: "127.0.0.1", port: node.gateway.transports.udp.local.port },
    domain,
    extension: "101",
    password: PASSWORDS["101"] ?? "",
  });
  const caller = await runSipp(
    [
      `127.0.0.1:${node.gateway.transports.udp.local.port}`,
      "-sf",
      "carrier.xml",
      "-key",
      "caller",
      "0412345678",
    ].concat(["-s", did, "-d", String(ms), "-m", "1", "-i", TRUNK_HOST, "-mp", String(await freePort())]),
    ms + 15_000,
  );
  assert.equal(caller.code, 0, caller.output.slice(-2000));
  assert.equal(await callee.exited, 0);
  // This call's record, not an earlier call's to the same number that is listed already.
  return lastCall((c) => !earlier.has(c.callId) && (c.to === did || c.to === did.replace(/^\+/, "")));
}

async function listedCalls(): Promise<CallRecord[]> {
  return (await admin.expect<{ calls: CallRecord[] }>(200, "GET", `${base}/calls`)).calls;
}

/** The call record the edge lists last that matches. */
async function lastCall(match: (record: CallRecord) => boolean): Promise<CallRecord> {
  return eventually("the call record at the edge", async () => (await listedCalls()).find(match));
}

/** The recording once its final upload is stored. */
function finalRecording(id: string): Promise<RecordingSummary> {
  return eventually(
    `recording ${id} stored (final)`,
    async () => {
      const { recording } = await admin.expect<{ recording: RecordingSummary }>(200, "GET", `${base}/recordings/${id}`);
      return recording.final ? recording : undefined;
    },
    20_000,
  );
}

/** The stored file, read through the edge's node API (what the FTP server serves from). */
async function download(id: string): Promise<Buffer> {
  const library = new RecordingLibrary(edge.url, devMediaNodeToken());
  return Buffer.concat(await (await library.open(pbxId, id)).toArray());
}

function answeredSeconds(record: CallRecord): number {
  return (Date.parse(record.endedAt) - Date.parse(record.answeredAt ?? record.endedAt)) / 1000;
}

/** Both channels carry sound: the caller's pcap on the left, its echo by the callee on the right. */
function assertBothSides(audio: { samples: Int16Array; channels: number }): void {
  assert.equal(audio.channels, 2, "stereo");
  for (const side of [0, 1]) {
    const samples = channel(audio.samples, 2, side);
    let energy = 0;
    for (const s of samples) energy += s * s;
    const rms = Math.sqrt(energy / samples.length);
    assert.ok(rms > 100, `${side === 0 ? "caller (left)" : "callee (right)"} is heard: RMS ${rms.toFixed(0)}`);
  }
}

/** curl's exit code and output. */
function curl(args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "curl",
      ["-sS", "--max-time", "15", ...args],
      { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({
          code: error ? Number((error as { code?: number }).code ?? -1) : 0,
          stdout,
          stderr: stderr.toString(),
        });
      },
    );
  });
}

const recorded: { id: string; fileName: string }[] = [];

describe("call recordings on the media node", () => {
  it("an inbound call on a recording route is recorded: the call record names it, its MP3 lasts as long as the call", async () => {
    const record = await inboundCall(RECORDED_DID, 6000);
    assert.equal(record.disposition, "answered");
    assert.ok(record.recordingId, "the call record names its recording");
    const recording = await finalRecording(record.recordingId);
    assert.equal(recording.callId, record.callId);
    assert.equal(recording.direction, "inbound");
    assert.equal(recording.fileName, `${record.recordingId}.mp3`);
    assert.equal(recording.encrypted, false);
    const audio = await decodeMp3(await download(record.recordingId));
    const seconds = audio.samples.length / audio.channels / audio.rate;
    const call = answeredSeconds(record);
    console.log(`call answered ${call.toFixed(2)} s; recording ${seconds.toFixed(2)} s (${recording.size} bytes)`);
    assert.ok(Math.abs(seconds - call) <= 1, `the MP3 decodes to ${seconds} s, the call lasted ${call} s`);
    assertBothSides(audio);
    recorded.push({ id: recording.id, fileName: recording.fileName });
  });

  it("a call on a route without recording is not recorded", async () => {
    const before = (await admin.expect<{ recordings: RecordingSummary[] }>(200, "GET", `${base}/recordings`))
      .recordings;
    const record = await inboundCall(PLAIN_DID, 1500);
    assert.equal(record.disposition, "answered");
    assert.equal(record.recordingId, null);
    await new Promise((r) => setTimeout(r, 1000));
    const after = (await admin.expect<{ recordings: RecordingSummary[] }>(200, "GET", `${base}/recordings`)).recordings;
    assert.equal(after.length, before.length);
  });

  it("an extension with outbound recording calls out through the carrier (caller.xml plays g711a.pcap): recorded", async () => {
    const carrier = runSipp(
      ["-sf", "carrier-uas.xml", "-key", "trunkuser", TRUNK_USER, "-key", "trunkpass", TRUNK_PASSWORD].concat([
        "-m",
        "1",
        "-i",
        TRUNK_HOST,
        "-p",
        String(trunkPort),
        "-mp",
        String(await freePort()),
        "-rtp_echo",
      ]),
      25_000,
    );
    const caller = await runSipp(
      [`127.0.0.1:${node.gateway.transports.udp.local.port}`, "-sf", "caller.xml", "-key", "domain", domain]
        .concat([
          "-key",
          "caller",
          "100",
          "-d",
          "4000",
          "-s",
          "0299990000",
          "-au",
          "100",
          "-ap",
          PASSWORDS["100"] ?? "",
        ])
        .concat(["-m", "1", "-i", "127.0.0.1", "-mp", String(await freePort())]),
      25_000,
    );
    assert.equal(caller.code, 0, caller.output.slice(-2000));
    assert.equal((await carrier).code, 0);
    const record = await lastCall((c) => c.to === "0299990000");
    assert.equal(record.direction, "outbound");
    assert.ok(record.recordingId);
    const recording = await finalRecording(record.recordingId);
    assert.equal(recording.direction, "outbound");
    assert.equal(recording.from, "100");
    const audio = await decodeMp3(await download(record.recordingId));
    const seconds = audio.samples.length / audio.channels / audio.rate;
    assert.ok(Math.abs(seconds - answeredSeconds(record)) <= 1, `${seconds} s`);
    assertBothSides(audio);
    recorded.push({ id: recording.id, fileName: recording.fileName });
  });

  it("with recording encryption: the stored .mp3.enc opens with the guide's openssl command and the MP3 inside decodes", async () => {
    const { certPem, keyPath } = await makeCustomerKey(dir);
    await admin.expect(200, "PATCH", `${base}/addons`, {
      recordingEncryption: { enabled: true, publicKeyPem: certPem },
    });
    await apply();
    const record = await inboundCall(RECORDED_DID, 7000);
    assert.ok(record.recordingId);
    const recording = await finalRecording(record.recordingId);
    assert.equal(recording.encrypted, true);
    assert.equal(recording.fileName, `${record.recordingId}.mp3.enc`);
    assert.equal(recording.contentType, "application/pkcs7-mime");
    const sealed = await download(record.recordingId);
    await assert.rejects(decodeMp3(sealed), "the stored file is no MP3");
    const mp3 = await guideDecrypt(dir, recording.fileName, sealed, keyPath);
    const audio = await decodeMp3(mp3);
    const seconds = audio.samples.length / audio.channels / audio.rate;
    const call = answeredSeconds(record);
    console.log(`encrypted: call ${call.toFixed(2)} s; decrypted recording ${seconds.toFixed(2)} s`);
    assert.ok(Math.abs(seconds - call) <= 1, `${seconds} s against ${call} s`);
    assertBothSides(audio);
    recorded.push({ id: recording.id, fileName: recording.fileName });
  });

  it("FTP: curl lists the PBX's recordings and fetches each, byte for byte; a wrong password is refused", async () => {
    const port = node.ftp?.port;
    assert.ok(port);
    const root = (password: string) => `ftp://${FTP_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/`;
    const listing = await curl(["--list-only", root(FTP_PASSWORD)]);
    assert.equal(listing.code, 0, listing.stderr);
    const names = listing.stdout.toString().trim().split(/\r?\n/).sort();
    assert.deepEqual(names, recorded.map((r) => r.fileName).sort());
    for (const { id, fileName } of recorded) {
      const fetched = await curl([`${root(FTP_PASSWORD)}${fileName}`]);
      assert.equal(fetched.code, 0, fetched.stderr);
      assert.ok(fetched.stdout.equals(await download(id)), `${fileName}: the same bytes as the edge stores`);
    }
    const refused = await curl(["--list-only", root("not-the-password")]);
    assert.equal(refused.code, 67, `login denied: ${refused.stderr}`);
  });
});
