/**
 * Personal voicemail for real: a SipGateway with media in mediasoup, espeak-ng prompts, messages
 * on disk and mail to an SMTP server on loopback. A sipp desk phone calls 101, who is not
 * registered, hears the greeting and the beep and leaves 7 s of speech (g711a.pcap): the message
 * is kept and mailed with a WAV that ffmpeg decodes to the message's length. A phone registered as
 * 101 gets message-waiting (NOTIFY message-summary). Then 101 dials 777, keys the PIN and # as
 * RFC 4733, presses 1 and hears the very message (its G.711 frames arrive byte for byte), presses
 * 7 to delete it, and the lamp goes off. Also: a busy phone sends its caller to voicemail, a phone
 * that does not answer too (after the ring time), and a wrong PIN three times ends the call.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort } from "../../../scripts/lib/net.ts";
import { hashPassword } from "../../../shared/crypto/password.ts";
import { MailSink } from "../../../test/support/mail-sink.ts";
import type { Logger } from "../../common/Logger.ts";
import { parseRemoteSdp } from "../../rtc/sdp.ts";
import { encodeG711 } from "../../rtc/tones.ts";
import type { SipRequest, SipResponse } from "../../sip/core/message.ts";
import { createResponse } from "../../sip/core/responses.ts";
import { testDirectory, testExtensions } from "../../test-support/extensions.ts";
import { type CallGateway, startCallGateway } from "../../test-support/gateway.ts";
import { runSipp } from "../../test-support/sipp.ts";
import { UdpPhone } from "../../test-support/UdpPhone.ts";
import { sleep, until } from "../../test-support/wait.ts";
import { PromptSet } from "../../voice/PromptSet.ts";
import { Voicemail } from "../../voicemail/Voicemail.ts";
import { VoicemailMailer } from "../../voicemail/VoicemailMailer.ts";
import { VoicemailStore } from "../../voicemail/VoicemailStore.ts";
import { decodeWav } from "../../voicemail/wav.ts";

const PBX_ID = "pbx-vm";
const DOMAIN = "pbx-vm.pbx.edgepbx.local";
const PASSWORDS: Record<string, string> = { "100": "vm-pass-100", "101": "vm-pass-101", "102": "vm-pass-102" };
const PIN = "4321";
const RING_MS = 1500;

const scratch = mkdtempSync(join(tmpdir(), "edgepbx-vm-"));
const quiet: Logger = { info() {}, error: (m: string) => console.error(m) } as unknown as Logger;
let gateway: CallGateway;
let mail: MailSink;
let voicemail: Voicemail;
const sockets: Socket[] = [];
const phones: UdpPhone[] = [];

before(async () => {
  mail = await new MailSink().start();
  const prompts = await PromptSet.create(join(scratch, "prompts"));
  voicemail = new Voicemail(
    new VoicemailStore(join(scratch, "voicemail")),
    new VoicemailMailer({ host: "127.0.0.1", port: mail.smtpPort, from: "EdgePBX Voicemail <voicemail@edgepbx.test>" }),
    quiet,
  );
  const pinHash = await hashPassword(PIN);
  const box = (email: string, deleteAfterEmail: boolean) => ({
    email,
    voicemail: { enabled: true, pinHash, email: null, sendToEmail: true, deleteAfterEmail },
  });
  const extensions = testExtensions(DOMAIN, PASSWORDS, "ext_voice0").map((e) =>
    e.number === "101"
      ? { ...e, ...box("bob@example.test", false) }
      : e.number === "102"
        ? { ...e, ...box("carol@example.test", true) }
        : e,
  );
  const directory = testDirectory(
    { id: PBX_ID, domain: DOMAIN, passwords: PASSWORDS, idPrefix: "ext_voice0" },
    { extensions },
  );
  gateway = await startCallGateway({
    directory,
    rtpPorts: { min: 46000, max: 46999 },
    prompts,
    voicemail,
    ringTimeoutMs: RING_MS,
  });
});

after(async () => {
  for (const socket of sockets) socket.close();
  for (const phone of phones) {
    try {
      phone.close();
    } catch {
      // Already closed by its test.
    }
  }
  await gateway?.close();
  await mail?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** A phone's RTP side: keeps every PCMU payload it gets and sends RFC 4733 keys. */
async function rtpPhone() {
  const socket = createSocket("udp4");
  sockets.push(socket);
  const payloads: Buffer[] = [];
  socket.on("message", (packet) => {
    if (packet.length === 172 && ((packet[1] ?? 0) & 0x7f) === 0) payloads.push(packet.subarray(12));
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  let seq = 1;
  let ts = 1000;
  const send = (pt: number, payload: Buffer, marker = false) => {
    const packet = Buffer.alloc(12 + payload.length);
    packet[0] = 0x80;
    packet[1] = (marker ? 0x80 : 0) | pt;
    packet.writeUInt16BE(seq++ & 0xffff, 2);
    packet.writeUInt32BE(ts >>> 0, 4);
    packet.writeUInt32BE(0x77700001, 8);
    payload.copy(packet, 12);
    socket.send(packet, target.port, "127.0.0.1");
  };
  const target = { port: 0 };
  return {
    port: socket.address().port,
    payloads,
    sendTo(port: number) {
      target.port = port;
    },
    /** 20 ms of PCMU. */
    audio(payload: Buffer) {
      send(0, payload);
      ts += 160;
    },
    /** One key as RFC 4733 (PT 101): 5 packets of 20 ms, then 3 end packets. */
    async key(digit: string) {
      const event = digit === "#" ? 11 : digit === "*" ? 10 : Number(digit);
      for (let i = 1; i <= 5; i++) {
        send(101, Buffer.from([event, 10, 0, 160 * i]), i === 1);
        await sleep(20);
      }
      for (let i = 0; i < 3; i++) send(101, Buffer.from([event, 0x80 | 10, 3, 0xc0]));
      ts += 960;
      await sleep(150);
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

/** The next NOTIFY message-summary a phone gets (answered 200), as new/saved counts. */
async function messageSummary(phone: UdpPhone): Promise<{ waiting: string; voice: string }> {
  const notify: SipRequest = await phone.nextRequestOf("NOTIFY", 8000);
  assert.equal(notify.get("Event"), "message-summary");
  assert.equal(notify.get("Content-Type"), "application/simple-message-summary");
  phone.sendRaw(createResponse(notify, 200).toBuffer());
  const body = notify.body.toString();
  return {
    waiting: /Messages-Waiting:\s*(\w+)/.exec(body)?.[1] ?? "",
    voice: /Voice-Message:\s*(\d+\/\d+)/.exec(body)?.[1] ?? "",
  };
}

/** Does `needle` (whole 160-byte frames) occur, in order, in what the phone received? */
function receivedFrames(payloads: Buffer[], needle: Buffer): boolean {
  const haystack = Buffer.concat(payloads);
  return haystack.indexOf(needle) >= 0;
}

describe("personal voicemail", { timeout: 120_000 }, () => {
  it("nobody registered: sipp leaves a message, it is mailed as a playable WAV, 777 + PIN# plays it back and 7 deletes it", async () => {
    // sipp calls 101 (no device registered): the greeting, the beep, then 7 s of g711a.pcap.
    const caller = await runSipp(
      [`127.0.0.1:${gateway.gateway.transports.udp.local.port}`, "-sf", "voicemail-caller.xml"]
        .concat(["-key", "domain", DOMAIN, "-key", "caller", "100", "-s", "101", "-d", "500"])
        .concat(["-au", "100", "-ap", PASSWORDS["100"] ?? "", "-m", "1", "-i", "127.0.0.1"])
        .concat(["-mp", String(await freePort())]),
      40_000,
    );
    assert.equal(caller.code, 0, caller.output.slice(-2000));
    const record = gateway.ended.at(-1)?.record;
    assert.equal(record?.answeredBy, "voicemail:101");
    assert.equal(record?.disposition, "answered");

    // Kept in the box, and mailed with the audio.
    assert.ok(await until(() => mail.messages.length > 0, 10_000), "a mail arrives");
    const mailed = mail.messages.at(-1);
    assert.deepEqual(mailed?.to, ["bob@example.test"]);
    assert.equal(mailed?.subject, "New voicemail from Ext 100 (100) for extension 101");
    assert.match(mailed?.text ?? "", /From: Ext 100 \(100\)/);
    assert.match(mailed?.text ?? "", /Duration: 0:\d\d/);
    const attachment = mailed?.attachments[0];
    assert.equal(attachment?.contentType, "audio/wav");
    const { new: fresh } = await voicemail.store.list(PBX_ID, "101");
    assert.equal(fresh.length, 1);
    const message = fresh[0];
    assert.ok(message && attachment);
    // The greeting and beep take 4 to 6 s of the 13.5 s call; the rest is the message.
    assert.ok(message.durationMs > 6000 && message.durationMs < 11_000, `message of ${message.durationMs} ms`);
    const wavPath = join(scratch, attachment.filename);
    writeFileSync(wavPath, attachment.content);
    const probed = Number(
      execFileSync("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", wavPath], {
        encoding: "utf8",
      }),
    );
    assert.ok(Math.abs(probed * 1000 - message.durationMs) < 50, `ffprobe says ${probed} s`);
    // It holds speech, not silence: g711a.pcap's energy.
    const audio = decodeWav(attachment.content);
    const rms = Math.sqrt(audio.reduce((sum, s) => sum + s * s, 0) / audio.length);
    assert.ok(rms > 300, `message RMS ${rms.toFixed(0)}`);

    // 101 registers: its lamp lights (1 new, 0 saved).
    const bob = await registered("101");
    assert.deepEqual(await messageSummary(bob), { waiting: "yes", voice: "1/0" });

    // 777, PIN and # as RFC 4733, 1 to listen: the message's own frames come back.
    const rtp = await rtpPhone();
    const ok: SipResponse = await bob.call("101", DOMAIN, PASSWORDS["101"] ?? "", "777", rtp.port);
    assert.equal(ok.status, 200);
    rtp.sendTo(parseRemoteSdp(ok.body.toString("utf8")).port);
    await sleep(500);
    for (const digit of `${PIN}#`) await rtp.key(digit);
    await sleep(1500);
    await rtp.key("1");
    const stored = encodeG711(await voicemail.store.audio(message), "PCMU");
    // Two seconds from the middle of the message, frame-aligned.
    const middle = Math.floor(stored.length / 2 / 160) * 160;
    const excerpt = stored.subarray(middle, middle + 16_000);
    const heard = await until(() => receivedFrames(rtp.payloads, excerpt), 25_000, 200);
    assert.ok(heard, "the message's audio is played back to 777");
    // Heard: it is saved now (lamp off: 0 new, 1 saved), then 7 deletes it.
    assert.deepEqual(await messageSummary(bob), { waiting: "no", voice: "0/1" });
    await sleep(4000);
    await rtp.key("7");
    assert.deepEqual(await messageSummary(bob), { waiting: "no", voice: "0/0" });
    assert.equal((await voicemail.store.list(PBX_ID, "101")).saved.length, 0);
    bob.send(bob.inDialog(ok, "BYE", 10));
    await bob.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");
  });

  it("a busy phone and one that does not answer send the caller to voicemail; mailed, then deleted as the box says", async () => {
    const carol = await registered("102");
    const alice = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    phones.push(alice);
    const rtp = await rtpPhone();
    const before = mail.messages.length;

    // Busy: 102 answers 486; the node answers the caller with 102's greeting.
    const busyCall = alice.call("100", DOMAIN, PASSWORDS["100"] ?? "", "102", rtp.port);
    const invite = await carol.nextRequestOf("INVITE");
    carol.sendRaw(createResponse(invite, 486).toBuffer());
    const ok = await busyCall;
    assert.equal(ok.status, 200, "the voicemail answers");
    rtp.sendTo(parseRemoteSdp(ok.body.toString("utf8")).port);
    // Talk past the greeting, then # ends the message.
    await sleep(7000);
    for (let i = 0; i < 100; i++) {
      // 2 s of a 440 Hz tone as PCMU.
      const tone = new Int16Array(160).map((_, n) =>
        Math.round(8000 * Math.sin((2 * Math.PI * 440 * (i * 160 + n)) / 8000)),
      );
      rtp.audio(encodeG711(tone, "PCMU"));
      await sleep(20);
    }
    await rtp.key("#");
    // The node thanks the caller and hangs up.
    const bye = await alice.nextRequestOf("BYE", 10_000);
    alice.sendRaw(createResponse(bye, 200).toBuffer());
    assert.ok(await until(() => mail.messages.length > before, 10_000), "the message is mailed");
    assert.deepEqual(mail.messages.at(-1)?.to, ["carol@example.test"]);
    // 102 deletes after mailing: the box is empty, the lamp was told so.
    assert.deepEqual(await voicemail.counts(PBX_ID, "102"), { new: 0, saved: 0 });

    // No answer: 102 rings (180) and never answers; after the ring time the voicemail answers.
    const unanswered = alice.call("100", DOMAIN, PASSWORDS["100"] ?? "", "102", rtp.port);
    const ringing = await carol.nextRequestOf("INVITE");
    carol.sendRaw(createResponse(ringing, 180).toBuffer());
    const started = Date.now();
    const answered = await unanswered;
    assert.equal(answered.status, 200);
    assert.ok(Date.now() - started >= RING_MS - 100, "answered after the ring time");
    const cancel = await carol.nextRequestOf("CANCEL");
    carol.sendRaw(createResponse(cancel, 200).toBuffer());
    carol.sendRaw(createResponse(ringing, 487).toBuffer());
    const records = gateway.ended.length;
    alice.send(alice.inDialog(answered, "BYE", 10));
    assert.ok(await until(() => gateway.ended.length > records, 5000));
    assert.equal(gateway.ended.at(-1)?.record.answeredBy, "voicemail:102");
    await carol.unregisterAndClose("102", DOMAIN, PASSWORDS["102"] ?? "");
  });

  it("777 with a wrong PIN three times ends the call; an extension without voicemail gets 404", async () => {
    const bob = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    phones.push(bob);
    const rtp = await rtpPhone();
    const ok = await bob.call("101", DOMAIN, PASSWORDS["101"] ?? "", "777", rtp.port);
    assert.equal(ok.status, 200);
    rtp.sendTo(parseRemoteSdp(ok.body.toString("utf8")).port);
    await sleep(300);
    const started = Date.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      for (const digit of "0000#") await rtp.key(digit);
      await sleep(3500);
    }
    const bye = await bob.nextRequestOf("BYE", 15_000);
    bob.sendRaw(createResponse(bye, 200).toBuffer());
    assert.ok(Date.now() - started < 30_000);
    const alice = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    phones.push(alice);
    const refused = await alice.call("100", DOMAIN, PASSWORDS["100"] ?? "", "777", rtp.port);
    assert.equal(refused.status, 404);
  });
});
