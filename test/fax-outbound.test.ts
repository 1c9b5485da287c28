/**
 * Virtual FAX outbound (email-to-fax) end to end: the edge (startEdge: workerd, Durable Objects)
 * and a real media node (MediaNode with its email-to-fax SMTP server), the sender's mail relay
 * (an SMTP server on loopback) and an answering test fax machine behind a carrier that challenges
 * for the trunk's credentials, on the trunk's address (127.0.0.2). An Administrator enables the
 * Virtual FAX add-on (disclaimer agreed), adds a fax sender with its caller ID and applies. The
 * sender mails a 2-page PDF to <number>@fax.<the PBX's SIP domain>: the machine receives 2 pages
 * with the sender's caller ID, the sender gets the confirmation, and the PBX's fax log and call
 * records at the edge show the fax (outbound, 2 pages, success).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import nodemailer from "nodemailer";
import { faxAvailability } from "../media/fax/addon.ts";
import { MediaNode } from "../media/MediaNode.ts";
import { makePdfDocument } from "../media/test-support/fax-documents.ts";
import { TestFaxMachine } from "../media/test-support/fax-machine.ts";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../scripts/lib/edge.ts";
import { freePort } from "../scripts/lib/net.ts";
import type { CallRecord, FaxRecord } from "../shared/index.ts";
import { MailSink } from "./support/mail-sink.ts";
import { eventually, PortalClient } from "./support/portal-client.ts";

const fax = faxAvailability();
const TRUNK = { host: "127.0.0.2", username: "edgepbx-trunk", password: "carrier-secret-7" };
const SENDER = "accounts@example.test";
const CALLER_ID = "+61290092000";
const NUMBER = "0298761234";

describe("Virtual FAX outbound (email-to-fax) through the edge and a media node", {
  skip: fax.available ? false : fax.reason,
  timeout: 180_000,
}, () => {
  let dir: string;
  let edge: RunningEdge;
  let node: MediaNode;
  let mail: MailSink;
  let machine: TestFaxMachine;
  let admin: PortalClient;
  let base: string;
  let pbxId: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgepbx-fax-outbound-"));
    mail = await new MailSink().start();
    edge = await startEdge({ port: await freePort(), persistDir: join(dir, "edge") });
    const trunkPort = await freePort();
    machine = await TestFaxMachine.start({
      host: TRUNK.host,
      port: trunkPort,
      credentials: { username: TRUNK.username, password: TRUNK.password },
    });
    node = await MediaNode.start({
      edgeUrl: edge.url,
      nodeId: "media-fax-outbound-test",
      token: devMediaNodeToken(),
      stateDir: join(dir, "media"),
      sip: { host: "127.0.0.1", udpPort: 0, tcpPort: 0, wsPort: 0 },
      media: { ip: "127.0.0.1", rtpPorts: { min: 48000, max: 48499 }, workers: 1 },
      trunk: {
        host: TRUNK.host,
        port: trunkPort,
        transport: "udp",
        credentials: { username: TRUNK.username, password: TRUNK.password },
        defaultCallerId: null,
      },
      mail: { host: "127.0.0.1", port: mail.smtpPort, from: "EdgePBX <pbx@edgepbx.test>" },
      ftp: null,
      emailToFax: {
        host: "127.0.0.1",
        port: 0,
        domainPrefix: "fax.",
        maxBytes: 5 * 1024 * 1024,
        maxPages: 20,
        attempts: 2,
        retryDelayMs: 500,
        ringTimeoutMs: 5000,
      },
    });
    admin = await PortalClient.register(edge.url, "faxoutbound");
    ({
      pbx: { id: pbxId },
    } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Fax Sender Office" }));
    base = `/api/pbxs/${pbxId}`;
    await admin.expect(200, "PATCH", `${base}/addons`, { virtualFax: { enabled: true, disclaimerAccepted: true } });
    await admin.expect(201, "POST", `${base}/fax-senders`, { email: SENDER, callerId: CALLER_ID });
    const { version } = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
    await eventually("the version live on the node", async () => node.directory.get(pbxId)?.version === version);
  });

  after(async () => {
    await node?.stop();
    await edge?.stop();
    await mail?.stop();
    await machine?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("an allowed sender's PDF is faxed with its caller ID; confirmation mail, fax log and call record", async () => {
    const smtp = node.emailToFax;
    assert.ok(smtp, "email-to-fax runs on the node");
    const sipDomain = node.directory.get(pbxId)?.config.settings.sipDomain;
    const pdf = join(dir, "order.pdf");
    await makePdfDocument(pdf, ["Purchase order 78", "Delivery terms"]);
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: smtp.server.port, ignoreTLS: true });
    const to = `${NUMBER}@fax.${sipDomain}`;
    const stranger = await transport
      .sendMail({ from: "someone@example.test", to, subject: "x", text: "x", attachments: [{ path: pdf }] })
      .then(
        () => "accepted",
        (error: { response?: string }) => error.response ?? "",
      );
    assert.match(stranger, /^550 <someone@example\.test> is not an allowed Virtual FAX sender of this PBX/);
    const sent = await transport.sendMail({
      from: SENDER,
      to,
      subject: "Order 78",
      text: "Please fax.",
      attachments: [{ filename: "order.pdf", path: pdf }],
    });
    transport.close();
    assert.match(sent.response, /^250 queued: 2 pages to 0298761234/);

    const received = await machine.call(0, 90_000);
    assert.equal(machine.calls.length, 1, "only the allowed sender's fax was dialled");
    assert.match(received.invite.get("From") ?? "", /^<sip:\+61290092000@127\.0\.0\.2>/);
    assert.deepEqual([received.result?.success, received.result?.pagesReceived], [true, 2]);

    const confirmation = await eventually("the confirmation mail", async () => mail.messages[0], 10_000);
    assert.deepEqual(confirmation.to, [SENDER]);
    assert.equal(confirmation.subject, `Fax sent to ${NUMBER}: 2 pages`);

    const logged = await eventually("the fax in the edge's fax log", async () => {
      const { faxes } = await admin.expect<{ faxes: FaxRecord[] }>(200, "GET", `${base}/faxes?direction=outbound`);
      return faxes[0];
    });
    assert.deepEqual(
      [logged.direction, logged.from, logged.to, logged.pages, logged.result, logged.email],
      ["outbound", CALLER_ID, NUMBER, 2, "success", SENDER],
    );
    const call = await eventually("the call record", async () => {
      const { calls } = await admin.expect<{ calls: CallRecord[] }>(200, "GET", `${base}/calls`);
      return calls.find((c) => c.callId === logged.id);
    });
    assert.deepEqual([call.from, call.to, call.disposition], [CALLER_ID, NUMBER, "answered"]);
  });
});
