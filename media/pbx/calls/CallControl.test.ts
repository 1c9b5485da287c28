import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { freePort } from "../../../scripts/lib/net.ts";
import { emptyConfig, PbxConfig } from "../../../shared/index.ts";
import type { MediaEngine } from "../../rtc/MediaEngine.ts";
import type { SipResponse } from "../../sip/core/message.ts";
import { testExtensions } from "../../test-support/extensions.ts";
import { type CallGateway, startCallGateway } from "../../test-support/gateway.ts";
import { runSipp, startSippCallee } from "../../test-support/sipp.ts";
import { ackOf, UdpPhone } from "../../test-support/UdpPhone.ts";
import { until } from "../../test-support/wait.ts";
import { PromptSet } from "../../voice/PromptSet.ts";
import { ForwardAllState } from "../ForwardAllState.ts";
import { PbxDirectory } from "../PbxDirectory.ts";
import type { SipGateway } from "../SipGateway.ts";

const DOMAIN = "pbx-calls.pbx.edgepbx.local";
const MAIN_DID = "+61290001000";
const CLOSED_DID = "+61290002000";
const PASSCODE_DID = "+61290005000";
const ANNOUNCE_DID = "+61290006000";
const CLOSED_MESSAGE_DID = "+61290007000";
const SPAMMER = "0299998888";
const TRUNK_HOST = "127.0.0.2";
const TRUNK_USER = "edgepbx-trunk";
const TRUNK_PASSWORD = "carrier-secret-9";
let trunkPort = 0;
/** The second PBX: room for forwarded calls (4 channels), ring groups, a speed dial, forward-all. */
const OUT_DOMAIN = "pbx-out.pbx.edgepbx.local";
const OUT_DID = "+61290003000";
const OUT_PASSWORDS: Record<string, string> = {
  "200": "dave-password-44",
  "201": "erin-password-55",
  "202": "fred-password-66",
};
const PASSWORDS: Record<string, string> = {
  "100": "alice-password-1",
  "101": "bob-password-22",
  "102": "carol-password-3",
};

let gateway: SipGateway;
let prompts: PromptSet;
let engine: MediaEngine;
const forwardAll = new ForwardAllState();
const forwardChanges: [string, string, string | null][] = [];
forwardAll.on("changed", (...change) => forwardChanges.push(change));
let ended: CallGateway["ended"] = [];

before(async () => {
  const directory = new PbxDirectory();
  const extensions = testExtensions(DOMAIN, PASSWORDS, "ext_call0");
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Australia/Sydney" }).format(new Date());
  directory.upsert(
    "pbx-calls",
    2,
    PbxConfig.parse({
      ...emptyConfig(DOMAIN),
      settings: { ...emptyConfig(DOMAIN).settings, channels: 1 },
      extensions,
      holidays: [{ id: "hol_today1", name: "Today", dates: [today], action: { type: "extension", extension: "102" } }],
      callRoutes: [
        {
          id: "rt_main001",
          did: MAIN_DID,
          timezone: "UTC",
          alertName: "Main",
          activity: { type: "extension", extension: "101" },
        },
        {
          id: "rt_closed01",
          did: CLOSED_DID,
          timezone: "Australia/Sydney",
          alertName: "Closed line",
          activity: { type: "extension", extension: "101" },
          holidayId: "hol_today1",
        },
        {
          id: "rt_pass001",
          did: PASSCODE_DID,
          timezone: "UTC",
          alertName: "Members",
          passcode: { enabled: true, passcode: "4321" },
          activity: { type: "extension", extension: "101" },
        },
        {
          id: "rt_ann0001",
          did: ANNOUNCE_DID,
          timezone: "UTC",
          alertName: "Reception",
          activity: { type: "announcement", announcementId: "ann_hours1" },
        },
        {
          id: "rt_ann0002",
          did: CLOSED_MESSAGE_DID,
          timezone: "UTC",
          alertName: "Old number",
          activity: { type: "announcement", announcementId: "ann_moved1" },
        },
      ],
      announcements: [
        {
          id: "ann_hours1",
          name: "Welcome",
          message: "Welcome to the office. Please hold while we connect you.",
          next: { type: "extension", extension: "101" },
        },
        { id: "ann_moved1", name: "Moved", message: "This number has moved. Goodbye.", next: { type: "hangup" } },
      ],
      blacklist: [{ id: "bl_spam0001", number: SPAMMER }],
    }),
  );
  directory.upsert(
    "pbx-out",
    3,
    PbxConfig.parse({
      ...emptyConfig(OUT_DOMAIN),
      settings: { ...emptyConfig(OUT_DOMAIN).settings, channels: 4 },
      extensions: testExtensions(OUT_DOMAIN, OUT_PASSWORDS, "ext_out00", (n) => `Out ${n}`).map((extension) => ({
        ...extension,
        callerId: extension.number === "200" ? "0291112222" : null,
      })),
      callRoutes: [
        {
          id: "rt_out0001",
          did: OUT_DID,
          timezone: "UTC",
          alertName: "Sales",
          activity: { type: "extension", extension: "201" },
          forwardAll: { enabled: true, dialCode: "*41" },
        },
      ],
      ringGroups: [
        { id: "rg_hunt001", name: "Hunt", number: "300", strategy: "hunt", members: ["201", "202"], ringSeconds: 5 },
        { id: "rg_all0001", name: "All", number: "301", strategy: "ringAll", members: ["201", "202"], ringSeconds: 5 },
      ],
      virtualExtensions: [
        { id: "vext_mob001", name: "Boss mobile", number: "400", activity: { type: "external", number: "0400555666" } },
      ],
    }),
  );
  prompts = await PromptSet.create(join(mkdtempSync(join(tmpdir(), "edgepbx-calls-")), "prompts"));
  trunkPort = await freePort();
  ({ gateway, engine, ended } = await startCallGateway({
    directory,
    rtpPorts: { min: 42000, max: 42999 },
    forwardAll,
    prompts,
    trunk: {
      host: TRUNK_HOST,
      port: trunkPort,
      transport: "udp",
      credentials: { username: TRUNK_USER, password: TRUNK_PASSWORD },
      defaultCallerId: "0290000000",
    },
  }));
});

after(async () => {
  await gateway.close();
  engine.close();
});

/** A sipp desk phone of the first PBX that answers one call, echoing RTP. */
function startCallee(extension: string) {
  return startSippCallee({
    server: { host: "127.0.0.1", port: gateway.transports.udp.local.port },
    domain: DOMAIN,
    extension,
    password: PASSWORDS[extension] ?? "",
  });
}

describe("calls through the B2BUA with media anchored in mediasoup", () => {
  it("sipp calls a registered sipp phone: RTP flows both ways through the node, then hang-up", async () => {
    const callee = await startCallee("101");
    const caller = await runSipp(
      [`127.0.0.1:${gateway.transports.udp.local.port}`, "-sf", "caller.xml", "-key", "domain", DOMAIN]
        .concat(["-key", "caller", "100", "-d", "2000", "-s", "101", "-au", "100", "-ap", PASSWORDS["100"] ?? ""])
        .concat(["-m", "1", "-i", "127.0.0.1", "-mp", String(await freePort())]),
      20_000,
    );
    assert.equal(caller.code, 0, caller.output.slice(-2500));
    assert.equal(await callee.exited, 0);
    const call = ended.at(-1);
    assert.equal(call?.record.disposition, "answered");
    assert.equal(call?.record.from, "100");
    assert.equal(call?.record.to, "101");
    // The pcap is 50 packets a second; 2 s of call, echoed back by the callee.
    const media = call?.media;
    assert.ok(media?.callee, "callee leg");
    console.log(
      `RTP: caller sent ${media.caller.sent}, callee got ${media.callee.received}, callee sent ${media.callee.sent}, caller got ${media.caller.received}`,
    );
    assert.ok(media.caller.sent >= 60, `caller sent ${media.caller.sent}`);
    assert.ok(media.callee.received >= media.caller.sent * 0.95, "callee got the caller's RTP");
    assert.ok(media.callee.sent >= 60, "callee echoed");
    assert.ok(media.caller.received >= media.callee.sent * 0.95, "caller got the callee's RTP");
    const dump = await engine.dump();
    assert.equal(JSON.stringify(dump).includes('transportIds":["'), false, "no transports left behind");
  });

  it("hold and resume by re-INVITE: the held phone stops hearing, the call goes on; unusable SDP gets 488 and changes nothing; keys by INFO", async () => {
    const callee = await startCallee("101");
    const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.transports.udp.local.port });
    const rtp = createSocket("udp4");
    let heard = 0;
    rtp.on("message", (packet) => {
      if (packet.length > 12) heard++;
    });
    await new Promise<void>((resolve) => rtp.bind(0, "127.0.0.1", resolve));
    const rtpPort = rtp.address().port;
    const offer = (direction: string, formats = "0 8 101") =>
      [
        "v=0",
        "o=phone 1 2 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        `m=audio ${rtpPort} RTP/AVP ${formats}`,
        `a=${direction}`,
        "",
      ].join("\r\n");
    /** Sends an in-dialog INVITE and returns its final response (ACKed: 2xx end to end, others hop by hop). */
    const reinvite = async (ok: SipResponse, cseq: number, sdp: string) => {
      const request = phone.inDialog(ok, "INVITE", cseq, sdp);
      phone.send(request);
      let final = await phone.next(3000);
      while (final.status < 200) final = await phone.next(3000);
      phone.send(final.status < 300 ? phone.inDialog(ok, "ACK", cseq) : ackOf(request, final));
      return final;
    };
    let sender: NodeJS.Timeout | undefined;
    try {
      const ok = await phone.call("100", DOMAIN, PASSWORDS["100"] ?? "", "101", rtpPort);
      assert.equal(ok.status, 200);
      const answer = ok.body.toString();
      const farPort = Number(/^m=audio (\d+) RTP\/AVP (\d+)/m.exec(answer)?.[1]);
      const payloadType = Number(/^m=audio \d+ RTP\/AVP (\d+)/m.exec(answer)?.[1]);
      let seq = 0;
      sender = setInterval(() => {
        const packet = Buffer.alloc(172, payloadType === 0 ? 0xff : 0xd5);
        packet[0] = 0x80;
        packet[1] = payloadType;
        packet.writeUInt16BE(seq & 0xffff, 2);
        packet.writeUInt32BE((seq * 160) >>> 0, 4);
        packet.writeUInt32BE(0x1234abcd, 8);
        seq++;
        rtp.send(packet, farPort, "127.0.0.1");
      }, 20);
      assert.ok(await until(() => heard > 20, 3000), `the phone hears the callee's echo before hold: ${heard}`);

      const hold = await reinvite(ok, 3, offer("sendonly"));
      assert.equal(hold.status, 200);
      assert.match(hold.body.toString(), /^a=recvonly\r$/m, "we answer hold with recvonly");
      await delay(300); // packets already on their way
      const atHold = heard;
      await delay(800);
      assert.ok(heard - atHold <= 2, `nothing reaches the held phone: ${heard - atHold} packets`);

      const unusable = await reinvite(ok, 4, offer("sendrecv", "18"));
      assert.equal(unusable.status, 488);
      assert.match(unusable.get("Warning") ?? "", /no common codec/);
      const stale = await reinvite(ok, 2, offer("sendrecv"));
      assert.equal(stale.status, 500, "a CSeq below the dialog's is refused");

      const resume = await reinvite(ok, 5, offer("sendrecv"));
      assert.equal(resume.status, 200);
      assert.match(resume.body.toString(), /^a=sendrecv\r$/m);
      const atResume = heard;
      assert.ok(
        await until(() => heard - atResume > 20, 3000),
        `the phone hears again after resume: ${heard - atResume}`,
      );

      // A key by SIP INFO is taken (200); an INFO body of another kind is refused (415), the call goes on.
      const infoStatus = async (cseq: number, type: string, text: string) => {
        const info = phone.inDialog(ok, "INFO", cseq, text);
        info.set("Content-Type", type);
        phone.send(info);
        let final = await phone.next(3000);
        while (final.status < 200) final = await phone.next(3000);
        return final;
      };
      assert.equal((await infoStatus(6, "application/dtmf-relay", "Signal=1\r\nDuration=100\r\n")).status, 200);
      const other = await infoStatus(7, "application/media_control+xml", "<media_control/>");
      assert.equal(other.status, 415);
      assert.match(other.get("Accept") ?? "", /application\/dtmf-relay/);
      assert.equal((await infoStatus(8, "application/dtmf-relay", "Signal=X")).status, 400);

      phone.send(phone.inDialog(ok, "BYE", 9));
      let bye = await phone.next(3000);
      while (bye.status < 200) bye = await phone.next(3000);
      assert.equal(bye.status, 200);
      assert.equal(await callee.exited, 0);
      const call = ended.at(-1);
      assert.equal(call?.record.disposition, "answered");
      assert.equal(call?.record.from, "100");
    } finally {
      clearInterval(sender);
      rtp.close();
      phone.close();
    }
  });

  it("refuses an INVITE without credentials (407), with wrong ones, and to an extension not registered", async () => {
    const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.transports.udp.local.port });
    const invite = phone.register("100", DOMAIN);
    invite.method = "INVITE";
    invite.uri = `sip:102@${DOMAIN}`;
    invite.set("To", `<sip:102@${DOMAIN}>`);
    invite.set("CSeq", "1 INVITE");
    phone.send(invite);
    const statuses = [];
    for (;;) {
      const r = await phone.next();
      statuses.push(r.status);
      if (r.status >= 200) break;
    }
    assert.deepEqual(statuses, [100, 407]);
    // An unauthenticated INVITE to an external number gets the same challenge: never the trunk.
    const outside = phone.register("100", DOMAIN);
    outside.method = "INVITE";
    outside.uri = `sip:0299990000@${DOMAIN}`;
    outside.set("To", `<sip:0299990000@${DOMAIN}>`);
    outside.set("CSeq", "5 INVITE");
    phone.send(outside);
    let final = await phone.next();
    while (final.status < 200) final = await phone.next();
    assert.equal(final.status, 407);
    phone.close();
    // 102 has no phone registered: the caller hears 480 once authenticated.
    const nobody = await runSipp(
      [`127.0.0.1:${gateway.transports.udp.local.port}`, "-sf", "caller.xml", "-key", "domain", DOMAIN]
        .concat(["-key", "caller", "100", "-d", "100", "-s", "102", "-au", "100", "-ap", PASSWORDS["100"] ?? ""])
        .concat(["-m", "1", "-i", "127.0.0.1", "-mp", String(await freePort())]),
      8000,
    );
    assert.notEqual(nobody.code, 0);
    assert.match(nobody.output, /480/);
  });
});

/** The carrier (sipp on 127.0.0.2, the trunk's address) calls a DID. */
function carrierCall(did: string, callerId: string, durationMs: number, timeoutMs = 15_000) {
  return runSipp(
    [
      `127.0.0.1:${gateway.transports.udp.local.port}`,
      "-sf",
      "carrier.xml",
      "-key",
      "caller",
      callerId,
      "-s",
      did,
    ].concat(["-d", String(durationMs), "-m", "1", "-i", TRUNK_HOST, "-mp", "0"]),
    timeoutMs,
  );
}

/** A scripted desk phone registered for `extension` (Contact: itself), to see which phone rings. */
async function deskPhone(extension: string): Promise<UdpPhone> {
  const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.transports.udp.local.port });
  const ok = await phone.registerWithAuth(phone.register(extension, DOMAIN), extension, PASSWORDS[extension] ?? "");
  assert.equal(ok.status, 200);
  return phone;
}

describe("carrier calls to DIDs", () => {
  it("the carrier reaches the DID's extension, with RTP both ways", async () => {
    const callee = await startCallee("101");
    const run = await carrierCall(MAIN_DID, "0412345678", 1500);
    assert.equal(run.code, 0, run.output.slice(-2000));
    assert.equal(await callee.exited, 0);
    const call = ended.at(-1);
    assert.equal(call?.record.direction, "inbound");
    assert.equal(call?.record.routeId, "rt_main001");
    assert.equal(call?.record.from, "0412345678");
    assert.ok(
      (call?.media.callee?.received ?? 0) > 40 && (call?.media.caller.received ?? 0) > 40,
      JSON.stringify(call?.media),
    );
  });

  it("a blacklisted caller is declined and no phone rings", async () => {
    const phone = await deskPhone("101");
    const run = await carrierCall(MAIN_DID, "+61 2 9999 8888", 100, 5000);
    assert.notEqual(run.code, 0);
    assert.match(run.output, /603/);
    await assert.rejects(phone.nextRequest(500), /no request/);
    await phone.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");
  });

  it("a caller keys a wrong passcode, then the right one (RFC 4733), and only then the extension rings", async () => {
    const callee = await startCallee("101");
    const run = await runSipp(
      [
        `127.0.0.1:${gateway.transports.udp.local.port}`,
        "-sf",
        "carrier-passcode.xml",
        "-key",
        "caller",
        "0412345678",
      ].concat(["-s", PASSCODE_DID, "-d", "1500", "-m", "1", "-i", TRUNK_HOST, "-mp", "0"]),
      30_000,
    );
    assert.equal(run.code, 0, run.output.slice(-2000));
    assert.equal(await callee.exited, 0, "101 was rung and answered");
    const call = ended.at(-1);
    assert.equal(call?.record.routeId, "rt_pass001");
    assert.equal(call?.record.disposition, "answered");
    assert.ok(
      (call?.media.callee?.received ?? 0) > 20,
      `the extension heard the caller: ${JSON.stringify(call?.media)}`,
    );
  });

  it("three wrong passcodes: the caller is told goodbye and hung up on, and no phone rings", async () => {
    const phone = await deskPhone("101");
    const records = ended.length;
    const run = await runSipp(
      [
        `127.0.0.1:${gateway.transports.udp.local.port}`,
        "-sf",
        "carrier-passcode-fail.xml",
        "-key",
        "caller",
        "0412345678",
      ].concat(["-s", PASSCODE_DID, "-m", "1", "-i", TRUNK_HOST, "-mp", "0"]),
      40_000,
    );
    assert.equal(run.code, 0, `the PBX hung up: ${run.output.slice(-2000)}`);
    await assert.rejects(phone.nextRequest(300), /no request/);
    await phone.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");
    assert.ok(await until(() => ended.length > records, 3000));
    assert.equal(ended.at(-1)?.record.disposition, "rejected");
    // The prompts (enter passcode, not correct, goodbye) reached the caller: seconds of audio.
    const heard = ended.at(-1)?.media.caller.received ?? 0;
    assert.ok(heard > 100, `the caller heard the prompts: ${heard} packets`);
  });

  it("an announcement is spoken to the caller, then its next step rings the extension", async () => {
    const callee = await startCallee("101");
    // The caller stays 6 s: about 3.5 s of announcement, then the extension.
    const run = await carrierCall(ANNOUNCE_DID, "0412345678", 6000, 20_000);
    assert.equal(run.code, 0, run.output.slice(-2000));
    assert.equal(await callee.exited, 0, "101 was rung after the announcement and answered");
    const call = ended.at(-1);
    assert.equal(call?.record.routeId, "rt_ann0001");
    assert.equal(call?.record.disposition, "answered");
    assert.match(call?.record.answeredBy ?? "", /^sip:101@/);
    // About 3 s of speech (150 packets) reached the caller before the extension's echo.
    const heard = call?.media.caller.received ?? 0;
    assert.ok(heard > 150, `the caller heard the announcement: ${heard} packets`);
  });

  it("an announcement followed by hang-up: spoken, then the PBX ends the call", async () => {
    const phone = await deskPhone("101");
    const records = ended.length;
    const run = await runSipp(
      [
        `127.0.0.1:${gateway.transports.udp.local.port}`,
        "-sf",
        "carrier-pbx-hangs-up.xml",
        "-key",
        "caller",
        "0412345678",
      ].concat(["-s", CLOSED_MESSAGE_DID, "-m", "1", "-i", TRUNK_HOST, "-mp", "0"]),
      20_000,
    );
    assert.equal(run.code, 0, `the PBX hung up: ${run.output.slice(-2000)}`);
    await assert.rejects(phone.nextRequest(200), /no request/);
    await phone.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");
    assert.ok(await until(() => ended.length > records, 3000));
    const call = ended.at(-1);
    assert.equal(call?.record.disposition, "answered");
    assert.equal(call?.record.answeredBy, "announcement:Moved");
    assert.ok((call?.media.caller.received ?? 0) > 50, `spoken: ${call?.media.caller.received} packets`);
  });

  it("on a holiday in the route's time zone the call goes to the holiday's action", async () => {
    const office = await deskPhone("101");
    const onCall = await deskPhone("102");
    const run = carrierCall(CLOSED_DID, "0411111111", 100, 5000);
    const invite = await onCall.nextRequest(3000);
    assert.equal(invite.method, "INVITE");
    assert.match(invite.get("From") ?? "", /Closed line: /);
    await assert.rejects(office.nextRequest(300), /no request/);
    onCall.answer(invite, 486); // busy: the call ends and frees its channel
    assert.match((await run).output, /486/);
    await office.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");
    await onCall.unregisterAndClose("102", DOMAIN, PASSWORDS["102"] ?? "");
  });

  it("enforces the PBX's channel count, refuses unknown DIDs, and never trusts another address", async () => {
    const phone = await deskPhone("101");
    const first = carrierCall(MAIN_DID, "0422222222", 100, 20_000);
    const ringing = await phone.nextRequest(3000); // the first call rings and holds the PBX's only channel
    phone.answer(ringing, 180); // provisional: our INVITE stops being retransmitted
    const second = await carrierCall(MAIN_DID, "0433333333", 100, 5000);
    assert.match(second.output, /503/);
    const unknown = await carrierCall("+61290009999", "0433333333", 100, 5000);
    assert.match(unknown.output, /404/);
    // The same INVITE from any other address is not the carrier: refused, nothing rings.
    const stranger = await runSipp(
      [
        `127.0.0.1:${gateway.transports.udp.local.port}`,
        "-sf",
        "carrier.xml",
        "-key",
        "caller",
        "0444444444",
        "-s",
        MAIN_DID,
      ].concat(["-d", "100", "-m", "1", "-i", "127.0.0.1", "-mp", "0"]),
      5000,
    );
    assert.match(stranger.output, /404/);
    await assert.rejects(phone.nextRequest(300), /no request/);
    phone.answer(ringing, 486);
    assert.match((await first).output, /486/);
    await phone.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");
  });
});

/** The carrier's side of outbound calls: sipp on the trunk's address, digest-challenging each INVITE. */
function startCarrier(): { done: Promise<{ code: number; output: string }>; trace: string } {
  const trace = join(mkdtempSync(join(tmpdir(), "carrier-")), "messages.log");
  const done = runSipp(
    ["-sf", "carrier-uas.xml", "-key", "trunkuser", TRUNK_USER, "-key", "trunkpass", TRUNK_PASSWORD]
      .concat(["-m", "1", "-i", TRUNK_HOST, "-p", String(trunkPort), "-mp", "0", "-rtp_echo"])
      .concat(["-trace_msg", "-message_file", trace]),
    20_000,
  );
  return { done, trace };
}

/** The INVITEs the carrier got (the second one carries the digest answer). */
function carrierInvites(trace: string): string[] {
  return readFileSync(trace, "utf8")
    .split(/-{5,}/)
    .filter((m) => /^\s*INVITE /m.test(m) && /received/i.test(m));
}

async function outPhone(extension: string): Promise<UdpPhone> {
  const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.transports.udp.local.port });
  const ok = await phone.registerWithAuth(
    phone.register(extension, OUT_DOMAIN),
    extension,
    OUT_PASSWORDS[extension] ?? "",
  );
  assert.equal(ok.status, 200);
  return phone;
}

async function rtpSink(): Promise<{ port: number; packets: () => number; close: () => void }> {
  const socket = createSocket("udp4");
  let count = 0;
  socket.on("message", (packet) => {
    if (packet.length > 12) count++;
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { port: socket.address().port, packets: () => count, close: () => socket.close() };
}

describe("outbound calls through the trunk, forward-all by dial code, ring groups", () => {
  it("an extension calls an external number: the trunk's digest challenge is answered, caller ID presented, RTP both ways", async () => {
    const carrier = startCarrier();
    await delay(300); // sipp listening
    const caller = await runSipp(
      [`127.0.0.1:${gateway.transports.udp.local.port}`, "-sf", "caller.xml", "-key", "domain", OUT_DOMAIN]
        .concat(["-key", "caller", "200", "-d", "1500", "-s", "0298765432", "-au", "200"])
        .concat(["-ap", OUT_PASSWORDS["200"] ?? "", "-m", "1", "-i", "127.0.0.1", "-mp", String(await freePort())]),
      20_000,
    );
    assert.equal(caller.code, 0, caller.output.slice(-2000));
    const far = await carrier.done;
    assert.equal(far.code, 0, far.output.slice(-2000));
    const invites = carrierInvites(carrier.trace);
    assert.equal(invites.length, 2, "challenged, then authorised");
    assert.match(invites[1] ?? "", /^INVITE sip:0298765432@127\.0\.0\.2:\d+ SIP\/2\.0/m);
    assert.match(invites[1] ?? "", /^From: <sip:0291112222@127\.0\.0\.2>/m, "the extension's caller ID");
    assert.match(invites[1] ?? "", /^Authorization: Digest username="edgepbx-trunk"/m);
    const call = ended.at(-1);
    assert.equal(call?.record.direction, "outbound");
    assert.equal(call?.record.to, "0298765432");
    assert.equal(call?.record.answeredBy, "carrier:0298765432");
    assert.ok(
      (call?.media.callee?.received ?? 0) > 40 && (call?.media.caller.received ?? 0) > 40,
      JSON.stringify(call?.media),
    );
  });

  it("a speed dial (virtual extension) to an external number goes out through the trunk", async () => {
    const carrier = startCarrier();
    await delay(300);
    const caller = await runSipp(
      [`127.0.0.1:${gateway.transports.udp.local.port}`, "-sf", "caller.xml", "-key", "domain", OUT_DOMAIN]
        .concat(["-key", "caller", "201", "-d", "300", "-s", "400", "-au", "201"])
        .concat(["-ap", OUT_PASSWORDS["201"] ?? "", "-m", "1", "-i", "127.0.0.1", "-mp", String(await freePort())]),
      20_000,
    );
    assert.equal(caller.code, 0, caller.output.slice(-2000));
    assert.equal((await carrier.done).code, 0);
    const invites = carrierInvites(carrier.trace);
    assert.match(invites[1] ?? "", /^INVITE sip:0400555666@/m);
    // 201 has no caller ID of its own: the trunk's default is presented.
    assert.match(invites[1] ?? "", /^From: <sip:0290000000@/m);
  });

  it("the dial code followed by a number turns forward-all on (tone, then hang-up); DID calls go out to it; the code alone turns it off", async () => {
    const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.transports.udp.local.port });
    const sink = await rtpSink();
    const on = await phone.call("200", OUT_DOMAIN, OUT_PASSWORDS["200"] ?? "", "*410411222333", sink.port);
    assert.equal(on.status, 200);
    const bye = await phone.nextRequest(3000);
    assert.equal(bye.method, "BYE", "the PBX hangs up after the tone");
    phone.answer(bye, 200);
    // 3 beeps and 2 gaps: 520 ms of tone, 26 packets of 20 ms, through mediasoup.
    assert.ok(sink.packets() >= 24, `confirmation tone: ${sink.packets()} RTP packets`);
    assert.deepEqual(forwardChanges.at(-1), ["pbx-out", "rt_out0001", "0411222333"]);
    assert.deepEqual(forwardAll.get("pbx-out"), { rt_out0001: "0411222333" });

    // The carrier's call to the DID goes straight back out to the destination, with Diversion.
    const office = await outPhone("201");
    const carrier = startCarrier();
    await delay(300);
    const inbound = await carrierCall(OUT_DID, "0455000111", 300, 15_000);
    assert.equal(inbound.code, 0, inbound.output.slice(-2000));
    assert.equal((await carrier.done).code, 0);
    const invites = carrierInvites(carrier.trace);
    assert.match(invites[1] ?? "", /^INVITE sip:0411222333@/m);
    assert.match(invites[1] ?? "", /^From: <sip:0455000111@/m, "the original caller's number");
    assert.match(invites[1] ?? "", /^Diversion: <sip:\+61290003000@127\.0\.0\.2>;reason=unconditional/m);
    await assert.rejects(office.nextRequest(200), /no request/, "the office phone did not ring");

    const off = await phone.call("200", OUT_DOMAIN, OUT_PASSWORDS["200"] ?? "", "*41", sink.port);
    assert.equal(off.status, 200);
    phone.answer(await phone.nextRequest(3000), 200);
    assert.deepEqual(forwardAll.get("pbx-out"), {});
    const rings = carrierCall(OUT_DID, "0455000111", 100, 8000);
    const invite = await office.nextRequest(3000);
    assert.equal(invite.method, "INVITE", "the office phone rings again");
    office.answer(invite, 486);
    assert.match((await rings).output, /486/);
    sink.close();
    phone.close();
    await office.unregisterAndClose("201", OUT_DOMAIN, OUT_PASSWORDS["201"] ?? "");
  });

  it("a hunt group rings its members in turn; a ring-all group rings them together", async () => {
    const erin = await outPhone("201");
    const fred = await outPhone("202");
    const hunt = runSipp(
      [`127.0.0.1:${gateway.transports.udp.local.port}`, "-sf", "caller.xml", "-key", "domain", OUT_DOMAIN]
        .concat(["-key", "caller", "200", "-d", "100", "-s", "300", "-au", "200"])
        .concat(["-ap", OUT_PASSWORDS["200"] ?? "", "-m", "1", "-i", "127.0.0.1", "-mp", String(await freePort())]),
      15_000,
    );
    const first = await erin.nextRequest(3000);
    await assert.rejects(fred.nextRequest(300), /no request/, "hunt: only the first member rings");
    erin.answer(first, 486);
    const second = await fred.nextRequest(3000);
    assert.equal(second.method, "INVITE");
    fred.answer(second, 486);
    assert.match((await hunt).output, /486/);
    // Drain the ACKs for the 486s.
    await erin.nextRequest(1000).catch(() => undefined);
    await fred.nextRequest(1000).catch(() => undefined);

    const all = runSipp(
      [`127.0.0.1:${gateway.transports.udp.local.port}`, "-sf", "caller.xml", "-key", "domain", OUT_DOMAIN]
        .concat(["-key", "caller", "200", "-d", "100", "-s", "301", "-au", "200"])
        .concat(["-ap", OUT_PASSWORDS["200"] ?? "", "-m", "1", "-i", "127.0.0.1", "-mp", String(await freePort())]),
      15_000,
    );
    const a = await erin.nextRequest(3000);
    const b = await fred.nextRequest(3000);
    assert.equal(a.method, "INVITE");
    assert.equal(b.method, "INVITE");
    erin.answer(a, 486);
    fred.answer(b, 486);
    assert.match((await all).output, /486/);
    await erin.unregisterAndClose("201", OUT_DOMAIN, OUT_PASSWORDS["201"] ?? "");
    await fred.unregisterAndClose("202", OUT_DOMAIN, OUT_PASSWORDS["202"] ?? "");
  });
});
