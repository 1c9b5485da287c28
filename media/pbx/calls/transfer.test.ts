import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { after, before, describe, it } from "node:test";
import { parseRemoteSdp } from "../../rtc/sdp.ts";
import type { SipRequest, SipResponse } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import { testDirectory } from "../../test-support/extensions.ts";
import { type CallGateway, startCallGateway } from "../../test-support/gateway.ts";
import { UdpPhone } from "../../test-support/UdpPhone.ts";
import { until } from "../../test-support/wait.ts";

const PBX_ID = "pbx-xfer";
const DOMAIN = "pbx-xfer.pbx.edgepbx.local";
const PASSWORDS: Record<string, string> = { "100": "xfer-pass-100", "101": "xfer-pass-101", "102": "xfer-pass-102" };

let gateway: CallGateway;
const sockets: Socket[] = [];
const phones: UdpPhone[] = [];

/** An RTP socket that counts the packets it gets and can send PCMU to an address. */
async function rtpSocket(): Promise<{ port: number; got: () => number; send: (port: number) => void }> {
  const socket = createSocket("udp4");
  sockets.push(socket);
  let got = 0;
  socket.on("message", (packet) => {
    if (packet.length > 12) got++;
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  let seq = 0;
  return {
    port: socket.address().port,
    got: () => got,
    send: (port) => {
      const packet = Buffer.alloc(172, 0xff);
      packet[0] = 0x80;
      packet[1] = 0;
      packet.writeUInt16BE(seq, 2);
      packet.writeUInt32BE(seq * 160, 4);
      packet.writeUInt32BE(0x7e57, 8);
      seq++;
      socket.send(packet, port, "127.0.0.1");
    },
  };
}

async function registered(extension: string): Promise<UdpPhone> {
  const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
  phones.push(phone);
  const ok = await phone.registerWithAuth(phone.register(extension, DOMAIN), extension, PASSWORDS[extension] ?? "");
  assert.equal(ok.status, 200);
  return phone;
}

/** Sends `request` and returns its final response (provisional ones skipped). */
async function finalResponse(phone: UdpPhone, request: SipRequest): Promise<SipResponse> {
  phone.send(request);
  let response = await phone.next(5000);
  while (response.status < 200) response = await phone.next(5000);
  return response;
}

before(async () => {
  const directory = testDirectory({ id: PBX_ID, domain: DOMAIN, passwords: PASSWORDS, idPrefix: "ext_xfer0" });
  gateway = await startCallGateway({ directory, rtpPorts: { min: 45000, max: 45999 } });
});

after(async () => {
  for (const socket of sockets) socket.close();
  for (const phone of phones) {
    try {
      phone.close();
    } catch {
      // Closed by its test after unregistering.
    }
  }
  await gateway?.close();
});

describe("blind transfer (REFER)", () => {
  it("101 transfers the caller to 102: NOTIFYs tell 101 how it went, 101 is hung up, the caller talks to 102", async () => {
    const bob = await registered("101");
    const carol = await registered("102");
    const alice = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    phones.push(alice);
    const aliceRtp = await rtpSocket();
    const bobRtp = await rtpSocket();
    const carolRtp = await rtpSocket();

    const calling = alice.call("100", DOMAIN, PASSWORDS["100"] ?? "", "101", aliceRtp.port);
    const invite = await bob.nextRequestOf("INVITE");
    const bobTag = bob.answerInvite(invite, bobRtp.port);
    const ok = await calling;
    assert.equal(ok.status, 200);
    await bob.nextRequestOf("ACK");
    const toNode = parseRemoteSdp(ok.body.toString("utf8")).port;

    // 101 sends REFER to 102 (a blind transfer, as a desk phone's Transfer key does).
    const refer = bob.inDialogAsCallee(invite, bobTag, "REFER", 1);
    refer.append("Refer-To", `<sip:102@${DOMAIN}>`);
    refer.append("Referred-By", `<sip:101@${DOMAIN}>`);
    assert.equal((await finalResponse(bob, refer)).status, 202);
    const trying = await bob.nextRequestOf("NOTIFY");
    assert.equal(trying.get("Event"), "refer");
    assert.match(trying.body.toString(), /^SIP\/2\.0 100 Trying/);
    bob.sendRaw(createResponse(trying, 200).toBuffer());

    const toCarol = await carol.nextRequestOf("INVITE");
    carol.answerInvite(toCarol, carolRtp.port);
    await carol.nextRequestOf("ACK");
    const done = await bob.nextRequestOf("NOTIFY");
    assert.match(done.body.toString(), /^SIP\/2\.0 200 OK/);
    assert.match(done.get("Subscription-State") ?? "", /^terminated/);
    bob.sendRaw(createResponse(done, 200).toBuffer());
    const bye = await bob.nextRequestOf("BYE");
    bob.sendRaw(createResponse(bye, 200).toBuffer());

    // Alice's RTP now reaches Carol, and Carol's reaches Alice; Bob hears nothing more.
    const carolOffer = parseRemoteSdp(toCarol.body.toString("utf8")).port;
    const bobBefore = bobRtp.got();
    for (let i = 0; i < 30; i++) {
      aliceRtp.send(toNode);
      carolRtp.send(carolOffer);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(
      await until(() => carolRtp.got() >= 25 && aliceRtp.got() >= 25, 2000),
      `carol ${carolRtp.got()}, alice ${aliceRtp.got()}`,
    );
    assert.ok(bobRtp.got() - bobBefore <= 2, `bob got ${bobRtp.got() - bobBefore} after the transfer`);

    // Alice hangs up: Carol gets the BYE; the call record says 102 answered in the end.
    const records = gateway.ended.length;
    assert.equal((await finalResponse(alice, alice.inDialog(ok, "BYE", 5))).status, 200);
    const carolBye = await carol.nextRequestOf("BYE");
    carol.sendRaw(createResponse(carolBye, 200).toBuffer());
    assert.ok(await until(() => gateway.ended.length > records, 3000));
    const record = gateway.ended.at(-1)?.record;
    assert.equal(record?.disposition, "answered");
    assert.match(record?.answeredBy ?? "", new RegExp(`127\\.0\\.0\\.1:${carol.port}`));
    await bob.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");
    await carol.unregisterAndClose("102", DOMAIN, PASSWORDS["102"] ?? "");
  });

  it("a transfer to nobody registered is refused and the call goes on; so is a Replaces naming no call", async () => {
    const bob = await registered("101");
    const alice = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    phones.push(alice);
    const aliceRtp = await rtpSocket();
    const bobRtp = await rtpSocket();
    const calling = alice.call("100", DOMAIN, PASSWORDS["100"] ?? "", "101", aliceRtp.port);
    const invite = await bob.nextRequestOf("INVITE");
    const bobTag = bob.answerInvite(invite, bobRtp.port);
    const ok = await calling;
    await bob.nextRequestOf("ACK");

    // An attended transfer naming a dialog the node does not have: accepted, then 481 (RFC 3891).
    const attended = bob.inDialogAsCallee(invite, bobTag, "REFER", 1);
    attended.append("Refer-To", `<sip:102@${DOMAIN}?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>`);
    assert.equal((await finalResponse(bob, attended)).status, 202);
    const unknown = await bob.nextRequestOf("NOTIFY");
    assert.match(unknown.body.toString(), /^SIP\/2\.0 481 /);
    bob.sendRaw(createResponse(unknown, 200).toBuffer());
    const torn = bob.inDialogAsCallee(invite, bobTag, "REFER", 3);
    torn.append("Refer-To", `<sip:102@${DOMAIN}?Replaces=abc%3Bto-tag%3D1>`);
    assert.equal((await finalResponse(bob, torn)).status, 400);
    // 102 is not registered at all now: the dial plan has nobody to ring.
    const nobody = bob.inDialogAsCallee(invite, bobTag, "REFER", 4);
    nobody.append("Refer-To", `<sip:102@${DOMAIN}>`);
    assert.equal((await finalResponse(bob, nobody)).status, 480);

    // Still talking: Bob's RTP reaches Alice.
    const toNode = parseRemoteSdp(invite.body.toString("utf8")).port;
    for (let i = 0; i < 10; i++) {
      bobRtp.send(toNode);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(await until(() => aliceRtp.got() >= 8, 2000), `alice got ${aliceRtp.got()}`);
    assert.equal((await finalResponse(alice, alice.inDialog(ok, "BYE", 5))).status, 200);
    const bye = await bob.nextRequestOf("BYE");
    bob.sendRaw(createResponse(bye, 200).toBuffer());
  });
});

describe("attended transfer (REFER with Replaces)", () => {
  it("101 consults 102, then joins the caller to 102: both of 101's calls end, the caller talks to 102", async () => {
    const bob = await registered("101");
    const carol = await registered("102");
    const alice = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    phones.push(alice);
    const [aliceRtp, bobRtp, bobConsultRtp, carolRtp] = await Promise.all([
      rtpSocket(),
      rtpSocket(),
      rtpSocket(),
      rtpSocket(),
    ]);

    // Alice calls Bob.
    const calling = alice.call("100", DOMAIN, PASSWORDS["100"] ?? "", "101", aliceRtp.port);
    const invite = await bob.nextRequestOf("INVITE");
    const bobTag = bob.answerInvite(invite, bobRtp.port);
    const ok = await calling;
    assert.equal(ok.status, 200);
    await bob.nextRequestOf("ACK");
    const toNodeFromAlice = parseRemoteSdp(ok.body.toString("utf8")).port;

    // Bob calls Carol (the consultation) while Alice waits.
    const consulting = bob.call("101", DOMAIN, PASSWORDS["101"] ?? "", "102", bobConsultRtp.port);
    const toCarol = await carol.nextRequestOf("INVITE");
    const carolTag = carol.answerInvite(toCarol, carolRtp.port);
    const consultOk = await consulting;
    assert.equal(consultOk.status, 200);
    await carol.nextRequestOf("ACK");
    const records = gateway.ended.length;

    // Bob's phone: REFER on Alice's call, Refer-To Carol with Replaces naming Bob's consultation
    // dialog as the node sees it (to-tag: the node's, from-tag: Bob's).
    const replaces = `${consultOk.callId};to-tag=${tagOf(consultOk.get("To"))};from-tag=${tagOf(consultOk.get("From"))}`;
    const refer = bob.inDialogAsCallee(invite, bobTag, "REFER", 1);
    refer.append("Refer-To", `<sip:102@${DOMAIN}?Replaces=${encodeURIComponent(replaces)}>`);
    refer.append("Referred-By", `<sip:101@${DOMAIN}>`);
    assert.equal((await finalResponse(bob, refer)).status, 202);
    const trying = await bob.nextRequestOf("NOTIFY");
    assert.match(trying.body.toString(), /^SIP\/2\.0 100 Trying/);
    bob.sendRaw(createResponse(trying, 200).toBuffer());
    const done = await bob.nextRequestOf("NOTIFY");
    assert.match(done.body.toString(), /^SIP\/2\.0 200 OK/);
    assert.match(done.get("Subscription-State") ?? "", /^terminated/);
    bob.sendRaw(createResponse(done, 200).toBuffer());
    // Both of Bob's calls get a BYE.
    const byes = [await bob.nextRequestOf("BYE"), await bob.nextRequestOf("BYE")];
    for (const bye of byes) bob.sendRaw(createResponse(bye, 200).toBuffer());
    assert.deepEqual(new Set(byes.map((b) => b.callId)), new Set([invite.callId, consultOk.callId]));
    // The consultation is over (its record written); Alice's call goes on.
    assert.ok(await until(() => gateway.ended.length > records, 3000));
    const consultation = gateway.ended.at(-1)?.record;
    assert.equal(consultation?.from, "101");
    assert.equal(consultation?.to, "102");
    assert.equal(consultation?.disposition, "answered");
    assert.equal(gateway.gateway.calls?.activeCalls, 1);

    // Alice and Carol hear each other, Bob hears neither.
    const toNodeFromCarol = parseRemoteSdp(toCarol.body.toString("utf8")).port;
    const bobHeard = bobRtp.got() + bobConsultRtp.got();
    for (let i = 0; i < 30; i++) {
      aliceRtp.send(toNodeFromAlice);
      carolRtp.send(toNodeFromCarol);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(
      await until(() => carolRtp.got() >= 25 && aliceRtp.got() >= 25, 2000),
      `carol ${carolRtp.got()}, alice ${aliceRtp.got()}`,
    );
    assert.ok(bobRtp.got() + bobConsultRtp.got() - bobHeard <= 2, "Bob hears nothing after the transfer");

    // Carol hangs up (in her own dialog, now part of Alice's call): Alice gets the BYE.
    const before = gateway.ended.length;
    const carolBye = carol.inDialogAsCallee(toCarol, carolTag, "BYE", 1);
    assert.equal((await finalResponse(carol, carolBye)).status, 200);
    const aliceBye = await alice.nextRequestOf("BYE");
    alice.sendRaw(createResponse(aliceBye, 200).toBuffer());
    assert.ok(await until(() => gateway.ended.length > before, 3000));
    const record = gateway.ended.at(-1)?.record;
    assert.equal(record?.from, "100");
    assert.equal(record?.disposition, "answered");
    assert.match(record?.answeredBy ?? "", new RegExp(`127\\.0\\.0\\.1:${carol.port}`));
    assert.ok(await until(() => (gateway.gateway.calls?.activeCalls ?? 0) === 0, 2000));
    await bob.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");
    await carol.unregisterAndClose("102", DOMAIN, PASSWORDS["102"] ?? "");
  });
});

function tagOf(header: string | undefined): string | null {
  return /;\s*tag=([^;>\s]+)/i.exec(header ?? "")?.[1] ?? null;
}
