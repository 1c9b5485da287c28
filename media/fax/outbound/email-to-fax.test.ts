import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import nodemailer from "nodemailer";
import { freePort } from "../../../scripts/lib/net.ts";
import { emptyConfig, type FaxRecord, PbxConfig } from "../../../shared/index.ts";
import { MailSink } from "../../../test/support/mail-sink.ts";
import type { Logger } from "../../common/Logger.ts";
import { Mailer } from "../../mail/Mailer.ts";
import type { CallControl } from "../../pbx/calls/CallControl.ts";
import { PbxDirectory } from "../../pbx/PbxDirectory.ts";
import { testExtensions } from "../../test-support/extensions.ts";
import {
  blackPixels,
  differingPixels,
  type FaxBitmap,
  makePdfDocument,
  renderPdfPages,
  renderTiffPages,
} from "../../test-support/fax-documents.ts";
import { TestFaxMachine } from "../../test-support/fax-machine.ts";
import { type CallGateway, startCallGateway } from "../../test-support/gateway.ts";
import { until } from "../../test-support/wait.ts";
import { faxAvailability } from "../addon.ts";
import { pdfToFaxTiff } from "../documents.ts";
import { FaxMailServer } from "./FaxMailServer.ts";
import { FaxOutbox } from "./FaxOutbox.ts";
import { trunkFaxDialer } from "./trunkFaxDialer.ts";

const fax = faxAvailability();
const DOMAIN = "faxout.pbx.edgepbx.local";
const FAX_DOMAIN = `fax.${DOMAIN}`;
const CLOSED_DOMAIN = "nofax.pbx.edgepbx.local";
const SENDER = "alice@example.com";
const SENDER_CALLER_ID = "0291112222";
const NUMBER = "0298765432";
const TRUNK = { host: "127.0.0.2", username: "edgepbx-trunk", password: "carrier-secret-9" };

/** A logger that keeps what it is told (printed when DEBUG asks for it). */
function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string) => {
    lines.push(message);
    if (process.env.DEBUG) console.log(message);
  };
  return { lines, debug: keep, info: keep, warn: keep, error: keep };
}

describe("email-to-fax: SMTP in, a fax out through the trunk", {
  skip: fax.available ? false : fax.reason,
  timeout: 240_000,
}, () => {
  let dir: string;
  let pdf: string;
  let expected: FaxBitmap[];
  let original: FaxBitmap[];
  let machine: TestFaxMachine;
  let call: CallGateway;
  let sink: MailSink;
  let mailer: Mailer;
  let outbox: FaxOutbox;
  let server: FaxMailServer;
  const records: FaxRecord[] = [];
  const logger = memoryLogger();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgepbx-email-to-fax-"));
    pdf = join(dir, "invoice.pdf");
    await makePdfDocument(pdf, ["Invoice 2026-117", "Terms and conditions"]);
    // What the node will fax: the same PDF through the same ghostscript, rendered as fax-to-email would.
    const reference = join(dir, "reference.tif");
    await pdfToFaxTiff(pdf, reference);
    [expected, original] = await Promise.all([renderTiffPages(reference), renderPdfPages(pdf)]);

    const directory = new PbxDirectory();
    const faxAddon = { virtualFax: { enabled: true, disclaimerAccepted: true } };
    directory.upsert(
      "pbx-fax-out",
      1,
      PbxConfig.parse({
        ...emptyConfig(DOMAIN),
        settings: { ...emptyConfig(DOMAIN).settings, channels: 1, timezone: "Australia/Sydney" },
        extensions: testExtensions(DOMAIN, { "100": "alice-password-1" }, "ext_fxo00"),
        faxSenders: [{ id: "fxs_alice1", email: "Alice@Example.com", callerId: SENDER_CALLER_ID }],
        addons: { ...emptyConfig(DOMAIN).addons, ...faxAddon },
      }),
    );
    // Another PBX lists Alice too, but has not enabled Virtual FAX.
    directory.upsert(
      "pbx-no-fax",
      1,
      PbxConfig.parse({
        ...emptyConfig(CLOSED_DOMAIN),
        faxSenders: [{ id: "fxs_alice2", email: SENDER, callerId: "0299990000" }],
      }),
    );

    const trunkPort = await freePort();
    machine = await TestFaxMachine.start({
      host: TRUNK.host,
      port: trunkPort,
      credentials: { username: TRUNK.username, password: TRUNK.password },
      ident: "+61 2 9876 5432",
    });
    call = await startCallGateway({
      directory,
      rtpPorts: { min: 49000, max: 49499 },
      trunk: {
        host: TRUNK.host,
        port: trunkPort,
        transport: "udp",
        credentials: { username: TRUNK.username, password: TRUNK.password },
        defaultCallerId: "0290000000",
      },
    });
    const control = call.gateway.calls as CallControl;
    sink = await new MailSink().start();
    mailer = new Mailer({ host: "127.0.0.1", port: sink.smtpPort, from: "EdgePBX <pbx@edgepbx.local>" });
    outbox = new FaxOutbox({
      spoolDir: join(dir, "spool"),
      dial: trunkFaxDialer((...args) => control.dialOut(...args), { ringTimeoutMs: 2000 }),
      mailer,
      timezoneOf: (pbxId) => directory.get(pbxId)?.config.settings.timezone ?? "UTC",
      onRecord: (_pbx, record) => records.push(record),
      retry: { attempts: 3, delayMs: 300, channelWaitMs: 200, maxChannelWaitMs: 20_000 },
      logger,
    });
    await outbox.start();
    server = await FaxMailServer.start({
      host: "127.0.0.1",
      port: 0,
      directory,
      outbox,
      limits: { maxBytes: 1024 * 1024 },
      logger,
    });
  });

  after(async () => {
    await server?.close();
    await outbox?.close();
    mailer?.close();
    await sink?.stop();
    await call?.close();
    await machine?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Mails the fax server as a mail client would; resolves with its last reply, or the refusal's. */
  async function send(mail: {
    from?: string;
    to: string | string[];
    envelopeFrom?: string;
    attachments?: { filename: string; path?: string; content?: string | Buffer; contentType?: string }[];
  }): Promise<{ accepted: boolean; response: string; code: number }> {
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port: server.port,
      secure: false,
      ignoreTLS: true,
    });
    try {
      const from = mail.from ?? SENDER;
      const info = await transport.sendMail({
        from,
        to: mail.to,
        subject: "Invoice 2026-117",
        text: "Please fax the attached invoice.",
        attachments: mail.attachments ?? [{ filename: "invoice.pdf", path: pdf }],
        envelope: { from: mail.envelopeFrom ?? from, to: [mail.to].flat() },
      });
      return { accepted: true, response: info.response, code: Number(info.response.slice(0, 3)) };
    } catch (error) {
      const e = error as { response?: string; responseCode?: number; message: string };
      return { accepted: false, response: e.response ?? e.message, code: e.responseCode ?? 0 };
    } finally {
      transport.close();
    }
  }

  it("refuses mail from strangers, to unknown domains and numbers, without a PDF or too large; nothing is dialled", async () => {
    const refusals: [string, Awaited<ReturnType<typeof send>>, number, RegExp][] = [
      [
        "a stranger",
        await send({ from: "mallory@elsewhere.example", to: `${NUMBER}@${FAX_DOMAIN}` }),
        550,
        /<mallory@elsewhere\.example> is not an allowed Virtual FAX sender of this PBX: nothing was sent/,
      ],
      [
        "the null sender (a bounce)",
        await send({ to: `${NUMBER}@${FAX_DOMAIN}`, envelopeFrom: "" }),
        550,
        /not an allowed Virtual FAX sender/,
      ],
      [
        "a PBX without Virtual FAX",
        await send({ to: `${NUMBER}@fax.${CLOSED_DOMAIN}` }),
        550,
        /Virtual FAX is not enabled for this PBX/,
      ],
      ["an unknown domain", await send({ to: `${NUMBER}@fax.unknown.example` }), 550, /no such fax domain here/],
      ["the SIP domain itself", await send({ to: `${NUMBER}@${DOMAIN}` }), 550, /no such fax domain here/],
      ["not a number", await send({ to: `sales@${FAX_DOMAIN}` }), 553, /"sales" is not a fax number/],
      ["an emergency number", await send({ to: `000@${FAX_DOMAIN}` }), 553, /"000" is not a fax number/],
      [
        "no PDF",
        await send({
          to: `${NUMBER}@${FAX_DOMAIN}`,
          attachments: [{ filename: "notes.txt", content: "no pdf here", contentType: "text/plain" }],
        }),
        554,
        /no PDF attached/,
      ],
      [
        "a file named .pdf that is not one",
        await send({
          to: `${NUMBER}@${FAX_DOMAIN}`,
          attachments: [{ filename: "fake.pdf", content: "just text", contentType: "application/pdf" }],
        }),
        554,
        /no PDF attached/,
      ],
      [
        "a From header that is not the envelope sender",
        await send({ from: "ceo@example.com", envelopeFrom: SENDER, to: `${NUMBER}@${FAX_DOMAIN}` }),
        550,
        /the From: header <ceo@example\.com> is not the envelope sender <alice@example\.com>/,
      ],
      [
        "too large",
        await send({
          to: `${NUMBER}@${FAX_DOMAIN}`,
          attachments: [
            { filename: "invoice.pdf", path: pdf },
            { filename: "big.bin", content: Buffer.alloc(1_200_000, 7), contentType: "application/octet-stream" },
          ],
        }),
        552,
        /larger than 1 MB/,
      ],
    ];
    for (const [what, result, code, reason] of refusals) {
      assert.equal(result.accepted, false, `${what}: refused`);
      assert.equal(result.code, code, `${what}: ${result.response}`);
      assert.match(result.response, reason, what);
    }
    assert.equal(outbox.pending, 0, "nothing queued");
    assert.equal(machine.calls.length + machine.unauthenticated, 0, "nothing dialled");
    assert.equal(call.ended.length, 0, "no call at all");
    assert.equal(sink.messages.length, 0, "no result mail for refused mail");
  });

  it("an allowed sender's 2-page PDF: busy, then the fax machine answers and gets both pages with the sender's caller ID; the sender is mailed", async () => {
    machine.turns.push("busy");
    const queued = await send({ from: "Alice <alice@example.com>", to: `${NUMBER}@${FAX_DOMAIN}` });
    assert.equal(queued.code, 250, queued.response);
    assert.match(queued.response, new RegExp(`queued: 2 pages to ${NUMBER}; the result will be mailed to you`));

    const busy = await machine.call(0, 10_000);
    assert.equal(busy.turn, "busy");
    const answered = await machine.call(1, 120_000);
    assert.equal(answered.turn, "answer");
    for (const invite of [busy.invite, answered.invite]) {
      // The trunk presents the sender's caller ID in From (and P-Asserted-Identity when it sends one).
      assert.match(
        invite.get("From") ?? "",
        new RegExp(`^<sip:${SENDER_CALLER_ID}@${TRUNK.host.replace(/\./g, "\\.")}>`),
      );
      const pai = invite.get("P-Asserted-Identity");
      if (pai) assert.match(pai, new RegExp(SENDER_CALLER_ID));
      assert.match(invite.uri, new RegExp(`^sip:${NUMBER}@`));
    }
    assert.equal(machine.unauthenticated, 2, "each call was challenged once and answered with the trunk's credentials");

    const result = answered.result;
    assert.ok(result && answered.tiff);
    assert.deepEqual([result.success, result.text, result.pagesReceived], [true, "OK", 2]);
    assert.equal(result.remoteIdent, SENDER_CALLER_ID, "the node's fax identity (TSI) is the sender's caller ID");
    const received = await renderTiffPages(answered.tiff);
    assert.equal(received.length, 2);
    for (const [i, page] of received.entries()) {
      assert.equal(differingPixels(page, expected[i] as FaxBitmap), 0, `page ${i + 1} arrived as faxed`);
      const ink = blackPixels(original[i] as FaxBitmap);
      assert.ok(Math.abs(blackPixels(page) - ink) < ink * 0.1, `page ${i + 1} carries the PDF's ink`);
    }
    assert.ok(differingPixels(received[0] as FaxBitmap, received[1] as FaxBitmap) > 5000, "two different pages");

    await outbox.idle();
    const mail = sink.messages.at(-1);
    assert.ok(mail, "the sender got a mail");
    assert.deepEqual(mail.to, [SENDER]);
    assert.equal(mail.subject, `Fax sent to ${NUMBER}: 2 pages`);
    assert.match(mail.text, /Pages sent: 2 of 2/);
    assert.match(mail.text, /Sent: .*20\d\d/);
    assert.match(mail.text, /Tries: 2/);
    assert.match(mail.text, /Receiving fax: \+61 2 9876 5432/);
    assert.match(mail.text, /Document: invoice\.pdf, 2 pages/);

    const record = records.at(-1);
    assert.ok(record);
    assert.deepEqual(
      [record.direction, record.from, record.to, record.pages, record.result, record.email, record.remoteIdent],
      ["outbound", SENDER_CALLER_ID, NUMBER, 2, "success", SENDER, "+61 2 9876 5432"],
    );
    assert.match(record.detail, /^sent: OK \(2 tries\)$/);
    assert.equal(record.id, answered.invite.callId, "logged under its call's Call-ID, as its call record is");
    // Both calls are in the PBX's call records as outbound calls from the sender's caller ID.
    assert.ok(await until(() => call.ended.length >= 2, 3000));
    const [first, second] = call.ended.map((e) => e.record);
    assert.deepEqual(
      [first?.direction, first?.from, first?.to, first?.disposition],
      ["outbound", SENDER_CALLER_ID, NUMBER, "busy"],
    );
    assert.deepEqual([second?.direction, second?.disposition], ["outbound", "answered"]);
    console.log(
      `fax sent in ${Math.round(record.durationMs / 100) / 10} s from the first try; the answered call's RTP: ${JSON.stringify(call.ended.at(-1)?.media.callee)}`,
    );
  });

  it("busy on every try: the sender is mailed the failure after the last; a number that does not exist is not tried again", async () => {
    const before = machine.calls.length;
    const mails = sink.messages.length;
    machine.turns.push("busy", "busy", "busy");
    assert.equal((await send({ to: `${NUMBER}@${FAX_DOMAIN}` })).code, 250);
    await outbox.idle();
    assert.equal(machine.calls.length - before, 3, "three tries");
    const failed = sink.messages.at(-1);
    assert.equal(sink.messages.length, mails + 1);
    assert.equal(failed?.subject, `Fax to ${NUMBER} failed: busy`);
    assert.match(failed?.text ?? "", /could not be sent after 3 tries/);
    assert.match(failed?.text ?? "", /1\. .*busy \(486 Busy Here\)\n {2}2\. .*busy.*\n {2}3\. .*busy/);
    assert.deepEqual([records.at(-1)?.result, records.at(-1)?.pages], ["failed", 0]);

    machine.turns.push("not found");
    assert.equal((await send({ to: `${NUMBER}1@${FAX_DOMAIN}` })).code, 250);
    await outbox.idle();
    assert.equal(machine.calls.length - before, 4, "one try only");
    assert.equal(sink.messages.at(-1)?.subject, `Fax to ${NUMBER}1 failed: refused`);
    assert.match(records.at(-1)?.detail ?? "", /^refused: 404 Not Found$/);
  });

  it("honours the PBX's channel count: a fax waits while its one channel is in use, without counting a try", async () => {
    const control = call.gateway.calls as CallControl;
    const before = machine.calls.length;
    machine.turns.push("ring", "not found");
    // The node's own call holds the PBX's only channel while it rings (2 s, then no answer).
    const holding = control.dialOut("pbx-fax-out", "0255550000", SENDER_CALLER_ID, 2000);
    assert.ok(await until(() => machine.calls.length > before, 3000), "the first call rings");
    const blocked = await control.dialOut("pbx-fax-out", NUMBER, SENDER_CALLER_ID, 2000);
    assert.deepEqual(blocked, {
      answered: false,
      status: 503,
      reason: "503 channel limit reached",
      local: "no channel",
    });
    assert.equal((await send({ to: `${NUMBER}@${FAX_DOMAIN}` })).code, 250);
    const rang = await holding;
    assert.equal(rang.answered, false);
    assert.equal(rang.answered ? 0 : rang.status, 480);
    const freedAt = Date.now();
    await outbox.idle();
    assert.equal(machine.calls.length - before, 2, "the fax was dialled once the channel was free");
    assert.ok(Date.now() >= freedAt);
    assert.ok(logger.lines.some((line) => /every channel of pbx-fax-out is in use; waiting/.test(line)));
    assert.doesNotMatch(records.at(-1)?.detail ?? "", /tries/, "the wait was not a try");
  });
});
