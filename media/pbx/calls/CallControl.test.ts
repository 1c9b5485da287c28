import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { freePort } from "../../../scripts/lib/net.ts";
import type { CallRecord } from "../../../shared/index.ts";
import { emptyConfig, PbxConfig } from "../../../shared/index.ts";
import { MediaEngine } from "../../rtc/MediaEngine.ts";
import { ha1 } from "../../sip/core/digest.ts";
import { runSipp, SIPP_SCENARIOS } from "../../test-support/sipp.ts";
import { UdpPhone } from "../../test-support/UdpPhone.ts";
import { PbxDirectory } from "../PbxDirectory.ts";
import { SipGateway } from "../SipGateway.ts";
import type { CallMediaCounts } from "./Call.ts";

const DOMAIN = "pbx-calls.pbx.edgepbx.local";
const PASSWORDS: Record<string, string> = {
  "100": "alice-password-1",
  "101": "bob-password-22",
  "102": "carol-password-3",
};

let gateway: SipGateway;
let engine: MediaEngine;
const ended: { record: CallRecord; media: CallMediaCounts }[] = [];

before(async () => {
  const directory = new PbxDirectory();
  const extensions = Object.entries(PASSWORDS).map(([number, password], i) => ({
    id: `ext_call0${i}`,
    number,
    name: `Ext ${number}`,
    sip: {
      username: number,
      ha1Md5: ha1("MD5", number, DOMAIN, password),
      ha1Sha256: ha1("SHA-256", number, DOMAIN, password),
      passwordSetAt: new Date().toISOString(),
    },
  }));
  directory.upsert("pbx-calls", 2, PbxConfig.parse({ ...emptyConfig(DOMAIN), extensions }));
  engine = await MediaEngine.create({ mediaIp: "127.0.0.1", rtpPorts: { min: 42000, max: 42999 } });
  gateway = await SipGateway.start({
    host: "127.0.0.1",
    udpPort: 0,
    tcpPort: 0,
    wsPort: 0,
    directory,
    media: engine,
    onCallRecord: (_pbx, record, media) => ended.push({ record, media }),
  });
});

after(async () => {
  await gateway.close();
  engine.close();
});

/**
 * A sipp desk phone that answers one call, echoing the RTP it gets; its REGISTER (with digest)
 * is sent from a scripted phone that names sipp's port as Contact.
 */
async function startCallee(extension: string): Promise<{ exited: Promise<number | null>; process: ChildProcess }> {
  const port = await freePort();
  const process = spawn(
    "sipp",
    ["-sf", "callee.xml", "-m", "1", "-i", "127.0.0.1", "-p", String(port), "-mp", String(await freePort())].concat([
      "-rtp_echo",
      "-nostdin",
      "-timeout",
      "30",
    ]),
    { cwd: SIPP_SCENARIOS, stdio: "ignore" },
  );
  const exited = new Promise<number | null>((resolve) => process.on("exit", resolve));
  const registrar = await UdpPhone.open({ host: "127.0.0.1", port: gateway.transports.udp.local.port });
  const request = registrar.register(extension, DOMAIN, { Contact: `<sip:${extension}@127.0.0.1:${port}>` });
  const ok = await registrar.registerWithAuth(request, extension, PASSWORDS[extension] ?? "");
  registrar.close();
  assert.equal(ok.status, 200);
  return { exited, process };
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
