/**
 * Virtual FAX inbound, for real: a SipGateway with media in mediasoup, a test fax machine (the
 * node's own SpanDSP binding behind a SIP user agent on the trunk's address, so the node takes it
 * for the carrier) and mail to an SMTP server on loopback. The machine faxes a 2-page TIFF-F to
 * the fax DID: the email arrives with a 2-page PDF whose pages, rendered by ghostscript, are the
 * sent ones pixel for pixel; the call record says answeredBy "fax" and the fax log has it. The
 * same fax sent to a voice route while its extension rings is heard (CNG) within 4 s of the
 * caller's first audio, the phone is cancelled and the fax is received all the same. A sender that
 * hangs up after page 1 gets its page mailed as a partial fax. A fax heard after the extension
 * answered is left with the extension. A PBX without Virtual FAX gives no early media. A carrier
 * that re-INVITEs to T.38 once answered gets our T.38 answer and the fax goes over UDPTL (same
 * mail, same pixels); a T.38 offer the node cannot take gets 488 and the fax goes on as audio.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort } from "../../../scripts/lib/net.ts";
import { emptyConfig, type FaxRecord, PbxConfig } from "../../../shared/index.ts";
import { MailSink, type ReceivedMail } from "../../../test/support/mail-sink.ts";
import type { Logger } from "../../common/Logger.ts";
import { faxAvailability } from "../../fax/addon.ts";
import { FaxMailer } from "../../fax/FaxMailer.ts";
import { FaxReceiver } from "../../fax/FaxReceiver.ts";
import { Mailer } from "../../mail/Mailer.ts";
import type { SipRequest } from "../../sip/core/message.ts";
import { CallingFaxMachine } from "../../test-support/calling-fax.ts";
import { testExtensions } from "../../test-support/extensions.ts";
import {
  differingPixels,
  type FaxBitmap,
  makeFaxDocument,
  renderPdfPages,
  renderTiffPages,
} from "../../test-support/fax-documents.ts";
import { type CallGateway, startCallGateway } from "../../test-support/gateway.ts";
import { UdpPhone } from "../../test-support/UdpPhone.ts";
import { until } from "../../test-support/wait.ts";
import { PbxDirectory } from "../PbxDirectory.ts";

const fax = faxAvailability();
const TRUNK_HOST = "127.0.0.2";
const DOMAIN = "pbx-fax.pbx.edgepbx.local";
const FAX_DID = "+61290004000";
const VOICE_DID = "+61290004001";
const FAX_EMAIL = "faxes@example.test";
const PLAIN_DOMAIN = "pbx-nofax.pbx.edgepbx.local";
const PLAIN_DID = "+61290004500";
const PASSWORDS: Record<string, string> = { "101": "fax-pass-101" };
const PLAIN_PASSWORDS: Record<string, string> = { "201": "fax-pass-201" };
const PAGES = ["Fax to email, page one", "Second page (EdgePBX)"];

const scratch = mkdtempSync(join(tmpdir(), "edgepbx-fax-calls-"));
const faxDir = join(scratch, "state", "fax");
const document = join(scratch, "sent.tif");
const logged: { pbx: string; fax: FaxRecord }[] = [];
const lines: string[] = [];
const logger: Logger = {
  debug() {},
  info: (m: string) => lines.push(m),
  warn: (m: string) => lines.push(m),
  error: (m: string) => {
    lines.push(m);
    console.error(m);
  },
};
let gateway: CallGateway;
let mail: MailSink;
let machine: CallingFaxMachine;
let sent: FaxBitmap[];
let mailer: Mailer;

describe("Virtual FAX inbound: fax to email through the node", {
  skip: fax.available ? false : fax.reason,
  timeout: 300_000,
}, () => {
  before(async () => {
    mail = await new MailSink().start();
    mailer = new Mailer({ host: "127.0.0.1", port: mail.smtpPort, from: "EdgePBX <pbx@edgepbx.test>" });
    const directory = new PbxDirectory();
    directory.upsert(
      "pbx-fax",
      1,
      PbxConfig.parse({
        ...emptyConfig(DOMAIN),
        extensions: testExtensions(DOMAIN, PASSWORDS, "ext_fax00"),
        callRoutes: [
          {
            id: "rt_voice001",
            did: VOICE_DID,
            timezone: "UTC",
            alertName: "Reception",
            activity: { type: "extension", extension: "101" },
          },
          {
            id: "rt_fax0001",
            did: FAX_DID,
            timezone: "Australia/Sydney",
            alertName: "Fax",
            activity: { type: "extension", extension: "101" },
            virtualFaxEmail: FAX_EMAIL,
          },
        ],
        addons: {
          ...emptyConfig(DOMAIN).addons,
          virtualFax: { enabled: true, disclaimerAccepted: true },
        },
      }),
    );
    directory.upsert(
      "pbx-nofax",
      1,
      PbxConfig.parse({
        ...emptyConfig(PLAIN_DOMAIN),
        extensions: testExtensions(PLAIN_DOMAIN, PLAIN_PASSWORDS, "ext_nofax"),
        callRoutes: [
          {
            id: "rt_plain001",
            did: PLAIN_DID,
            timezone: "UTC",
            alertName: "Plain",
            activity: { type: "extension", extension: "201" },
          },
        ],
      }),
    );
    gateway = await startCallGateway({
      directory,
      rtpPorts: { min: 49000, max: 49499 },
      trunk: { host: TRUNK_HOST, port: await freePort(), transport: "udp", credentials: null, defaultCallerId: null },
      fax: new FaxReceiver({
        dir: faxDir,
        mailer: new FaxMailer(mailer),
        onFax: (pbx, record) => logged.push({ pbx, fax: record }),
        logger,
      }),
      logger,
    });
    machine = await CallingFaxMachine.open(TRUNK_HOST, {
      host: "127.0.0.1",
      port: gateway.gateway.transports.udp.local.port,
    });
    await makeFaxDocument(document, PAGES);
    sent = await renderTiffPages(document);
    assert.equal(sent.length, 2);
  });

  after(async () => {
    machine?.close();
    await gateway?.close();
    mailer?.close();
    await mail?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** The next mail to arrive (after `count` mails), with its PDF's pages rendered. */
  async function nextFaxMail(count: number): Promise<{ mail: ReceivedMail; pages: FaxBitmap[] }> {
    assert.ok(await until(() => mail.messages.length > count, 30_000, 100), "the fax is mailed");
    const received = mail.messages[count] as ReceivedMail;
    const pdf = received.attachments.find((a) => a.contentType === "application/pdf");
    if (!pdf) return { mail: received, pages: [] };
    const file = join(scratch, `mailed-${count}.pdf`);
    writeFileSync(file, pdf.content);
    return { mail: received, pages: await renderPdfPages(file) };
  }

  function assertSamePages(pages: FaxBitmap[], count: number): void {
    assert.equal(pages.length, count);
    for (const [i, page] of pages.entries())
      assert.equal(differingPixels(page, sent[i] as FaxBitmap), 0, `page ${i + 1} arrives pixel for pixel`);
  }

  it("a fax machine faxes 2 pages to the fax DID: mailed as a 2-page PDF, the same pixels; answeredBy fax; in the fax log", async (t) => {
    const mails = mail.messages.length;
    const records = gateway.ended.length;
    const call = await machine.send({ did: FAX_DID, callerId: "0412345678", document });
    assert.equal(call.status, 200);
    assert.equal(call.earlyMediaMs, null, "a fax route answers at once");
    assert.equal(call.result?.success, true, call.result?.text);
    assert.equal(call.result?.pagesSent, 2);
    assert.equal(call.result?.remoteIdent, "+61290004000", "the node's CSI is the number called");
    t.diagnostic(lines.filter((l) => /^fax 0412345678 .*(success|partial|failed)/.test(l)).join("; "));
    t.diagnostic(
      `2 pages in ${((call.endedMs - (call.answeredMs ?? 0)) / 1000).toFixed(1)} s of fax at ${call.result?.bitRate} bit/s; ` +
        `RTP ${call.packets.sent} sent, ${call.packets.received} received`,
    );

    const { mail: mailed, pages } = await nextFaxMail(mails);
    assert.deepEqual(mailed.to, [FAX_EMAIL]);
    assert.equal(mailed.subject, `Fax from 0412345678 to ${FAX_DID}: 2 pages`);
    assert.match(mailed.text, /^From: 0412345678 \(fax ID 0412345678\)$/m);
    assert.match(mailed.text, /^Pages: 2$/m);
    assert.match(mailed.text, /^Result: Received in full$/m);
    assert.match(mailed.text, /^Received: .* GMT\+1[01]$/m, "in the fax route's time zone (Sydney)");
    assertSamePages(pages, 2);

    assert.ok(await until(() => gateway.ended.length > records, 5000));
    const record = gateway.ended.at(-1)?.record;
    assert.equal(record?.answeredBy, "fax");
    assert.equal(record?.direction, "inbound");
    assert.equal(record?.routeId, "rt_fax0001");
    assert.equal(record?.disposition, "answered");
    assert.ok(await until(() => logged.length > 0, 5000));
    const entry = logged.at(-1);
    assert.equal(entry?.pbx, "pbx-fax");
    assert.deepEqual(
      {
        direction: entry?.fax.direction,
        from: entry?.fax.from,
        to: entry?.fax.to,
        pages: entry?.fax.pages,
        result: entry?.fax.result,
        email: entry?.fax.email,
        routeId: entry?.fax.routeId,
      },
      {
        direction: "inbound",
        from: "0412345678",
        to: FAX_DID,
        pages: 2,
        result: "success",
        email: FAX_EMAIL,
        routeId: "rt_fax0001",
      },
    );
    assert.equal(entry?.fax.id, record?.callId);
    assert.ok((entry?.fax.durationMs ?? 0) >= call.endedMs - 1000, "the fax took as long as the call");
    assert.deepEqual(readdirSync(faxDir), [], "nothing is left on the node once mailed");
  });

  it("a carrier that re-INVITEs to T.38 once answered: 200 with our T.38, the fax goes over UDPTL, mailed as a 2-page PDF, the same pixels", async (t) => {
    const mails = mail.messages.length;
    const records = gateway.ended.length;
    const faxes = logged.length;
    const call = await machine.send({ did: FAX_DID, callerId: "0411222333", document, t38AfterMs: 800 });
    assert.equal(call.status, 200);
    assert.equal(call.t38?.status, 200, "the re-INVITE to T.38 is accepted");
    assert.ok(call.t38?.switchedMs !== null);
    assert.equal(call.result?.success, true, call.result?.text);
    assert.equal(call.result?.pagesSent, 2);
    assert.equal(call.result?.remoteIdent, "+61290004000");
    const udptl = call.t38?.udptl;
    assert.ok((udptl?.sent ?? 0) > 50 && (udptl?.received ?? 0) > 10, "IFPs went both ways over UDPTL");
    assert.equal(udptl?.garbage, 0);
    t.diagnostic(
      `T.38 from ${call.t38?.switchedMs} ms after the INVITE; 2 pages in ${((call.endedMs - (call.t38?.switchedMs ?? 0)) / 1000).toFixed(1)} s ` +
        `at ${call.result?.bitRate} bit/s; UDPTL ${udptl?.sent} sent, ${udptl?.received} received by the machine`,
    );
    t.diagnostic(lines.filter((l) => /^fax 0411222333 .*(T\.38|success|partial|failed)/.test(l)).join("; "));

    const { mail: mailed, pages } = await nextFaxMail(mails);
    assert.equal(mailed.subject, `Fax from 0411222333 to ${FAX_DID}: 2 pages`);
    assert.match(mailed.text, /^Result: Received in full$/m);
    assertSamePages(pages, 2);
    assert.ok(lines.some((l) => /^fax 0411222333 .*switched to T\.38/.test(l)));
    assert.ok(await until(() => gateway.ended.length > records && logged.length > faxes, 5000));
    assert.equal(gateway.ended.at(-1)?.record.answeredBy, "fax");
    assert.equal(logged.at(-1)?.fax.result, "success");
    assert.equal(logged.at(-1)?.fax.pages, 2);
    assert.equal(logged.length, faxes + 1, "one fax, one log entry (the audio part left none)");
    assert.deepEqual(readdirSync(faxDir), [], "nothing is left on the node once mailed");
  });

  it("a T.38 offer the node cannot take (local TCF) gets 488, and the fax goes on as audio", async () => {
    const mails = mail.messages.length;
    const call = await machine.send({
      did: FAX_DID,
      callerId: "0411444555",
      document,
      t38AfterMs: 800,
      t38LocalTcf: true,
    });
    assert.equal(call.t38?.status, 488);
    assert.equal(call.t38?.switchedMs, null);
    assert.equal(call.result?.success, true, call.result?.text);
    assert.equal(call.result?.pagesSent, 2);
    const { pages } = await nextFaxMail(mails);
    assertSamePages(pages, 2);
    assert.ok(lines.some((l) => /^fax 0411444555 .*T\.38 refused .*localtcf/i.test(l)));
  });

  it("a fax calling a voice route is heard while the extension rings (within 4 s), the phone is cancelled and the fax received", async (t) => {
    const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    try {
      assert.equal(
        (await phone.registerWithAuth(phone.register("101", DOMAIN), "101", PASSWORDS["101"] ?? "")).status,
        200,
      );
      const mails = mail.messages.length;
      const records = gateway.ended.length;
      const sending = machine.send({ did: VOICE_DID, callerId: "0298765432", document });
      // The extension rings, and is cancelled once the node hears the fax.
      const invite = await phone.nextRequestOf("INVITE", 5000);
      phone.answer(invite, 180);
      const cancel = await phone.nextRequestOf("CANCEL", 10_000);
      phone.answer(cancel, 200);
      phone.answer(invite as SipRequest, 487);
      const call = await sending;
      assert.equal(call.status, 200);
      assert.ok(call.earlyMediaMs !== null, "the node gave early media so it could hear the caller");
      const detectedIn = (call.answeredMs ?? Number.POSITIVE_INFINITY) - call.earlyMediaMs;
      t.diagnostic(
        `CNG heard and the call taken as fax ${detectedIn} ms after the caller's audio could start ` +
          `(${call.answeredMs} ms after the INVITE); fax done ${((call.endedMs - (call.answeredMs ?? 0)) / 1000).toFixed(1)} s later`,
      );
      assert.ok(detectedIn < 4000, `detected within 4 s (${detectedIn} ms)`);
      t.diagnostic(lines.filter((l) => /^fax 0298765432 .*(success|partial|failed)/.test(l)).join("; "));
      assert.equal(call.result?.success, true, call.result?.text);
      assert.equal(call.result?.pagesSent, 2);

      const { mail: mailed, pages } = await nextFaxMail(mails);
      assert.deepEqual(mailed.to, [FAX_EMAIL], "the PBX's Virtual FAX address");
      assert.equal(mailed.subject, `Fax from 0298765432 to ${VOICE_DID}: 2 pages`);
      assertSamePages(pages, 2);
      assert.ok(await until(() => gateway.ended.length > records, 5000));
      const record = gateway.ended.at(-1)?.record;
      assert.equal(record?.answeredBy, "fax");
      assert.equal(record?.routeId, "rt_voice001");
      assert.equal(logged.at(-1)?.fax.to, VOICE_DID);
      assert.equal(logged.at(-1)?.fax.routeId, "rt_fax0001", "mailed to the fax route's address");
      assert.ok(lines.some((l) => /fax tone \(CNG\) from 0298765432 .* switched to fax reception/.test(l)));
    } finally {
      await phone.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");
    }
  });

  it("a fax tone heard once the extension answered: the call is left with the extension, and the log says so", async () => {
    const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    const media = createSocket("udp4");
    await new Promise<void>((resolve) => media.bind(0, "127.0.0.1", resolve));
    try {
      assert.equal(
        (await phone.registerWithAuth(phone.register("101", DOMAIN), "101", PASSWORDS["101"] ?? "")).status,
        200,
      );
      const mails = mail.messages.length;
      const records = gateway.ended.length;
      const sending = machine.send({ did: VOICE_DID, callerId: "0255550000", document });
      const invite = await phone.nextRequestOf("INVITE", 5000);
      const tag = phone.answerInvite(invite, media.address().port);
      assert.ok(
        await until(
          () => lines.some((l) => /fax tone \(CNG\) from 0255550000 .*answered: left as it is/.test(l)),
          8000,
        ),
        "the CNG is heard, and the call left alone",
      );
      phone.send(phone.inDialogAsCallee(invite, tag, "BYE", 1));
      const call = await sending;
      assert.equal(call.status, 200);
      assert.equal(call.hungUpBy, "node", "the extension hung up; the node passed it on");
      assert.equal(call.result?.success, false);
      assert.ok(await until(() => gateway.ended.length > records, 5000));
      assert.match(gateway.ended.at(-1)?.record.answeredBy ?? "", /^sip:101@127\.0\.0\.1/);
      assert.equal(mail.messages.length, mails, "no fax, no mail");
    } finally {
      media.close();
      await phone.unregisterAndClose("101", DOMAIN, PASSWORDS["101"] ?? "");
    }
  });

  it("a sender that hangs up after page 1: the page is mailed as a partial fax, and logged so", async () => {
    const mails = mail.messages.length;
    const call = await machine.send({ did: FAX_DID, callerId: "0400111222", document, hangUpAfterPages: 1 });
    assert.equal(call.hungUpBy, "machine");
    const { mail: mailed, pages } = await nextFaxMail(mails);
    assert.equal(mailed.subject, `Partial fax from 0400111222 to ${FAX_DID}: 1 page received, then it failed`);
    assert.match(mailed.text, /^Result: Partial: /m);
    assertSamePages(pages, 1);
    assert.ok(await until(() => logged.at(-1)?.fax.from === "0400111222", 5000));
    assert.equal(logged.at(-1)?.fax.result, "partial");
    assert.equal(logged.at(-1)?.fax.pages, 1);
  });

  it("a PBX without Virtual FAX: no early media on its voice routes, nothing listens for a fax", async () => {
    const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    try {
      const password = PLAIN_PASSWORDS["201"] ?? "";
      assert.equal((await phone.registerWithAuth(phone.register("201", PLAIN_DOMAIN), "201", password)).status, 200);
      const sending = machine.send({ did: PLAIN_DID, callerId: "0298765432", document });
      const invite = await phone.nextRequestOf("INVITE", 5000);
      phone.answer(invite, 486);
      const call = await sending;
      assert.equal(call.status, 486);
      assert.equal(call.earlyMediaMs, null);
    } finally {
      await phone.unregisterAndClose("201", PLAIN_DOMAIN, PLAIN_PASSWORDS["201"] ?? "");
    }
  });
});
