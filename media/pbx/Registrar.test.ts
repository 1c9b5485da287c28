import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { emptyConfig, PbxConfig } from "../../shared/index.ts";
import { sipCredentials } from "../test-support/extensions.ts";
import { runSipp } from "../test-support/sipp.ts";
import { UdpPhone } from "../test-support/UdpPhone.ts";
import { PbxDirectory } from "./PbxDirectory.ts";
import { SipGateway } from "./SipGateway.ts";

const DOMAIN_A = "pbx-a.pbx.edgepbx.local";
const DOMAIN_B = "pbx-b.pbx.edgepbx.local";
const PASSWORD = "alice-secret-pw";

function extension(id: string, number: string, domain: string, password = PASSWORD) {
  return {
    id,
    number,
    name: `Ext ${number}`,
    sip: sipCredentials(number, domain, password),
  };
}

let gateway: SipGateway;
let directory: PbxDirectory;
let server: { host: string; port: number };

before(async () => {
  directory = new PbxDirectory();
  directory.upsert(
    "pbx-a",
    2,
    PbxConfig.parse({
      ...emptyConfig(DOMAIN_A),
      extensions: [extension("ext_aaaaa1", "100", DOMAIN_A), extension("ext_aaaaa2", "101", DOMAIN_A)],
    }),
  );
  // The same extension number in another customer's PBX, with another password.
  directory.upsert(
    "pbx-b",
    1,
    PbxConfig.parse({
      ...emptyConfig(DOMAIN_B),
      extensions: [extension("ext_bbbbb1", "100", DOMAIN_B, "bob-other-pw")],
    }),
  );
  gateway = await SipGateway.start({ host: "127.0.0.1", udpPort: 0, tcpPort: 0, wsPort: 0, directory });
  server = { host: "127.0.0.1", port: gateway.transports.udp.local.port };
});

after(async () => {
  await gateway.close();
});

describe("registrar with real phones (sipp)", () => {
  it("sipp registers with digest auth over UDP and over TCP", async () => {
    for (const transport of ["u1", "t1"]) {
      const port = transport === "u1" ? gateway.transports.udp.local.port : gateway.transports.tcp.local.port;
      const run = await runSipp([
        `127.0.0.1:${port}`,
        "-t",
        transport,
        "-sf",
        "register.xml",
        "-key",
        "domain",
        DOMAIN_A,
        "-key",
        "expires",
        "300",
        "-s",
        "101",
        "-au",
        "101",
        "-ap",
        PASSWORD,
        "-m",
        "1",
      ]);
      assert.equal(run.code, 0, run.output.slice(-2000));
    }
    const bindings = gateway.registrar.lookup("pbx-a", "101");
    assert.ok(bindings.some((b) => b.peer.transport === "udp"));
  });

  it("sipp with a wrong password is challenged again and never bound", async () => {
    const before = gateway.registrar.lookup("pbx-b", "100").length;
    const run = await runSipp(
      [
        `127.0.0.1:${server.port}`,
        "-sf",
        "register.xml",
        "-key",
        "domain",
        DOMAIN_B,
        "-key",
        "expires",
        "300",
        "-s",
        "100",
        "-au",
        "100",
        "-ap",
        PASSWORD, // pbx-a's password: realms keep tenants apart
        "-m",
        "1",
      ],
      5000,
    );
    assert.notEqual(run.code, 0);
    assert.equal(gateway.registrar.lookup("pbx-b", "100").length, before);
  });
});

describe("registrar rules", () => {
  it("binds the contact at the address the REGISTER came from, with SHA-256 digest too", async () => {
    const phone = await UdpPhone.open(server);
    const ok = await phone.registerWithAuth(phone.register("100", DOMAIN_A), "100", PASSWORD, "SHA-256");
    assert.equal(ok.status, 200);
    assert.match(ok.get("Contact") ?? "", new RegExp(`127.0.0.1:${phone.port}>;expires=(300|299)`));
    assert.match(ok.getAll("Via")[0] ?? "", new RegExp(`rport=${phone.port}`));
    const binding = gateway.registrar.lookup("pbx-a", "100").find((b) => b.peer.port === phone.port);
    assert.equal(binding?.peer.address, "127.0.0.1");
    phone.close();
  });

  it("challenges with MD5 first then SHA-256, in the PBX's own realm", async () => {
    const phone = await UdpPhone.open(server);
    phone.send(phone.register("100", DOMAIN_B));
    const challenge = await phone.next();
    assert.equal(challenge.status, 401);
    const values = challenge.getAll("WWW-Authenticate");
    assert.match(values[0] ?? "", /realm="pbx-b\.pbx\.edgepbx\.local".*algorithm=MD5/);
    assert.match(values[1] ?? "", /algorithm=SHA-256/);
    // Browser stacks keep only the last challenge and know only MD5: they get MD5 alone.
    for (const userAgent of ["SIP.js/0.21.2", "JsSIP 3.13.8"]) {
      phone.send(phone.register("100", DOMAIN_B, { "User-Agent": userAgent }));
      const md5Only = (await phone.next()).getAll("WWW-Authenticate");
      assert.equal(md5Only.length, 1, userAgent);
      assert.match(md5Only[0] ?? "", /algorithm=MD5/);
    }
    phone.close();
  });

  it("refuses an unknown domain, another extension's address of record, and too short an expiry", async () => {
    const phone = await UdpPhone.open(server);
    phone.send(phone.register("100", "nobody.example.com"));
    assert.equal((await phone.next()).status, 404);
    const stolen = await phone.registerWithAuth(phone.register("101", DOMAIN_A), "100", PASSWORD);
    assert.equal(stolen.status, 403);
    const brief = await phone.registerWithAuth(phone.register("100", DOMAIN_A, { Expires: "30" }), "100", PASSWORD);
    assert.equal(brief.status, 423);
    assert.equal(brief.get("Min-Expires"), "60");
    phone.close();
  });

  it("keeps several devices per extension and removes them with * and Expires: 0", async () => {
    const desk = await UdpPhone.open(server);
    const mobile = await UdpPhone.open(server);
    for (const phone of [desk, mobile]) {
      assert.equal((await phone.registerWithAuth(phone.register("101", DOMAIN_A), "101", PASSWORD)).status, 200);
    }
    const ports = gateway.registrar.lookup("pbx-a", "101").map((b) => b.peer.port);
    assert.ok(ports.includes(desk.port) && ports.includes(mobile.port));
    const removeAll = desk.register("101", DOMAIN_A, { Contact: "*", Expires: "0" });
    assert.equal((await desk.registerWithAuth(removeAll, "101", PASSWORD)).status, 200);
    assert.deepEqual(gateway.registrar.lookup("pbx-a", "101"), []);
    desk.close();
    mobile.close();
  });

  it("answers a retransmitted REGISTER from the transaction, without processing it twice", async () => {
    const phone = await UdpPhone.open(server);
    const request = phone.register("100", DOMAIN_A);
    phone.send(request);
    const first = await phone.next();
    phone.send(request);
    const second = await phone.next();
    assert.equal(second.status, first.status);
    assert.equal(second.get("To"), first.get("To")); // same To tag: the same response, repeated
    phone.close();
  });

  it("answers malformed requests with 400 and ignores garbage", async () => {
    const phone = await UdpPhone.open(server);
    phone.sendRaw(
      `OPTIONS sip:${DOMAIN_A} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bKbad\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: bad1\r\nCSeq: 99999999999 OPTIONS\r\n\r\n`,
    );
    const bad = await phone.next();
    assert.equal(bad.status, 400);
    assert.match(bad.reason, /CSeq/);
    phone.sendRaw("\u0000\u0001 not sip at all");
    await assert.rejects(phone.next(500), /no response/);
    phone.sendRaw(
      `OPTIONS sip:${DOMAIN_A} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bKopt\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: ok1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n`,
    );
    const options = await phone.next();
    assert.equal(options.status, 200);
    assert.match(options.get("Allow") ?? "", /REGISTER/);
    phone.close();
  });

  it("drops an extension's bindings when it leaves the applied config", async () => {
    const phone = await UdpPhone.open(server);
    assert.equal((await phone.registerWithAuth(phone.register("101", DOMAIN_A), "101", PASSWORD)).status, 200);
    const current = directory.get("pbx-a");
    assert.ok(current);
    directory.upsert("pbx-a", 3, {
      ...current.config,
      extensions: current.config.extensions.filter((e) => e.number !== "101"),
    });
    assert.deepEqual(gateway.registrar.lookup("pbx-a", "101"), []);
    phone.send(phone.register("101", DOMAIN_A));
    assert.equal((await phone.next()).status, 401);
    directory.upsert("pbx-a", 4, current.config);
    phone.close();
  });
});
