import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type CallDecision, decideCall, emptyConfig, PbxConfig } from "../../shared/index.ts";
import type { Logger } from "../common/Logger.ts";
import { MediaEngine } from "../rtc/MediaEngine.ts";
import { CallRecordings, wantsRecording } from "./CallRecordings.ts";
import type { RecordingUploader } from "./RecordingUploader.ts";

const DOMAIN = "rec-policy.pbx.edgepbx.local";

function config(addon: { enabled: boolean; disclaimerAccepted: boolean }, encryption?: { publicKeyPem: string }) {
  return PbxConfig.parse({
    ...emptyConfig(DOMAIN),
    extensions: [
      { id: "ext_rec0001", number: "100", name: "Recorded", sip: sip("100"), recordOutbound: true },
      { id: "ext_rec0002", number: "101", name: "Not recorded", sip: sip("101") },
    ],
    callRoutes: [
      {
        id: "rt_rec0001",
        did: "+61290001000",
        timezone: "UTC",
        alertName: "Recorded",
        activity: { type: "extension", extension: "101" },
        recordInbound: true,
      },
      {
        id: "rt_rec0002",
        did: "+61290002000",
        timezone: "UTC",
        alertName: "Plain",
        activity: { type: "extension", extension: "101" },
      },
    ],
    ringGroups: [
      {
        id: "rg_rec0001",
        name: "Sales",
        number: "300",
        members: ["101"],
        noAnswer: { type: "external", number: "0400111222" },
      },
    ],
    addons: {
      callRecording: { ...addon, ftp: null },
      recordingEncryption: encryption ? { enabled: true, ...encryption } : { enabled: false, publicKeyPem: null },
    },
  });
}

function sip(username: string) {
  return { username, ha1Md5: "0".repeat(32), ha1Sha256: "0".repeat(64), passwordSetAt: new Date().toISOString() };
}

const state = { forwardAll: {}, activeExternalCalls: 0 };
const inbound = (pbx: PbxConfig, did: string): CallDecision =>
  decideCall(pbx, { kind: "inbound", did, callerId: "0299990000" }, state, new Date());
const internal = (pbx: PbxConfig, from: string, dialled: string): CallDecision =>
  decideCall(pbx, { kind: "internal", from, dialled }, state, new Date());

class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  debug() {}
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

describe("wantsRecording (the dial plan's record flags, the add-on and its disclaimer)", () => {
  const on = config({ enabled: true, disclaimerAccepted: true });
  it("records inbound calls on a route with recording, whoever answers", () => {
    assert.equal(wantsRecording(on, inbound(on, "+61290001000"), false), true);
    assert.equal(wantsRecording(on, inbound(on, "+61290002000"), false), false);
  });
  it("records an extension's calls out through the carrier when it has outbound recording", () => {
    assert.equal(wantsRecording(on, internal(on, "100", "0299990000"), true), true);
    assert.equal(wantsRecording(on, internal(on, "101", "0299990000"), true), false);
    // The same extension calling another extension is not an outbound call.
    assert.equal(wantsRecording(on, internal(on, "100", "101"), false), false);
    // A ring group whose no-answer step goes out: only when the carrier is who answered.
    assert.equal(wantsRecording(on, internal(on, "100", "300"), false), false);
    assert.equal(wantsRecording(on, internal(on, "100", "300"), true), true);
  });
  it("records nothing without the add-on enabled and its disclaimer accepted", () => {
    for (const addon of [
      { enabled: false, disclaimerAccepted: true },
      { enabled: true, disclaimerAccepted: false },
    ]) {
      const off = config(addon);
      assert.equal(wantsRecording(off, inbound(off, "+61290001000"), false), false);
      assert.equal(wantsRecording(off, internal(off, "100", "0299990000"), true), false);
    }
  });
});

describe("CallRecordings", () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await MediaEngine.create({ mediaIp: "127.0.0.1", rtpPorts: { min: 46500, max: 46599 } });
  });
  after(() => engine?.close());

  /** Nothing may reach the edge in these cases: an uploader that fails the test if called. */
  const noUploads: Pick<RecordingUploader, "put"> = {
    put: () => Promise.reject(new Error("nothing should be uploaded")),
  };

  it("encryption on with an unusable certificate: the call is not recorded (never in plaintext), and the log says why", async () => {
    const logger = new MemoryLogger();
    const recordings = new CallRecordings(noUploads, logger);
    const session = await engine.session("pbx-policy");
    try {
      const caller = await session.createLeg({ remoteSdp: null });
      const callee = await session.createLeg({ remoteSdp: null });
      const pbx = config({ enabled: true, disclaimerAccepted: true }, { publicKeyPem: "not a certificate" });
      const recorder = await recordings.start(
        {
          pbxId: "pbx-policy",
          config: pbx,
          media: session,
          caller,
          callee,
          call: { callId: "c1@test", from: "0299990000", to: "+61290001000", direction: "inbound" },
        },
        "20260101-000000Z-abcdefgh",
      );
      assert.equal(recorder, null);
      assert.match(
        logger.lines.join("\n"),
        /not recorded: recording encryption is on but its certificate is not a PEM/,
      );
      assert.equal(recordings.size, 0);
    } finally {
      session.close();
    }
  });

  it("a leg the node cannot hear: not recorded, with the reason", async () => {
    const logger = new MemoryLogger();
    const recordings = new CallRecordings(noUploads, logger);
    const session = await engine.session("pbx-policy");
    try {
      const caller = await session.createLeg({ remoteSdp: null, webrtc: true });
      const callee = await session.createLeg({ remoteSdp: null, webrtc: true });
      const recorder = await recordings.start(
        {
          pbxId: "pbx-policy",
          config: config({ enabled: true, disclaimerAccepted: true }),
          media: session,
          caller,
          callee,
          call: { callId: "c2@test", from: "100 x", to: "101", direction: "internal" },
        },
        "20260101-000000Z-abcdefgi",
      );
      assert.equal(recorder, null);
      assert.match(logger.lines.join("\n"), /call c2@test of pbx-policy not recorded: the node hears G\.711/);
    } finally {
      session.close();
    }
  });
});
