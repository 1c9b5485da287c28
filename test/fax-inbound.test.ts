/**
 * Virtual FAX inbound end to end: the edge (startEdge: workerd, Durable Objects) and a real media
 * node (MediaNode: SIP, mediasoup, SpanDSP), mail to an SMTP server on loopback, and a calling
 * test fax machine on the trunk's address (127.0.0.2). An Administrator enables the Virtual FAX
 * add-on (disclaimer agreed), gives a call route a fax address and applies. The machine faxes 2
 * pages to that DID: the PDF arrives by mail, the PBX's fax log at the edge lists the fax
 * (inbound, 2 pages, success) and its call record says answeredBy "fax".
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { faxAvailability } from "../media/fax/addon.ts";
import { MediaNode } from "../media/MediaNode.ts";
import { CallingFaxMachine } from "../media/test-support/calling-fax.ts";
import { makeFaxDocument } from "../media/test-support/fax-documents.ts";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../scripts/lib/edge.ts";
import { freePort } from "../scripts/lib/net.ts";
import type { CallRecord, FaxRecord } from "../shared/index.ts";
import { MailSink } from "./support/mail-sink.ts";
import { eventually, PortalClient } from "./support/portal-client.ts";

const fax = faxAvailability();
const TRUNK_HOST = "127.0.0.2";
const FAX_DID = "+61290091000";
const FAX_EMAIL = "office-fax@example.test";

describe("Virtual FAX inbound through the edge and a media node", {
  skip: fax.available ? false : fax.reason,
  timeout: 180_000,
}, () => {
  let dir: string;
  let edge: RunningEdge;
  let node: MediaNode;
  let mail: MailSink;
  let admin: PortalClient;
  let base: string;
  let pbxId: string;
  let machine: CallingFaxMachine;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgepbx-fax-inbound-"));
    mail = await new MailSink().start();
    edge = await startEdge({ port: await freePort(), persistDir: join(dir, "edge") });
    node = await MediaNode.start({
      edgeUrl: edge.url,
      nodeId: "media-fax-inbound-test",
      token: devMediaNodeToken(),
      stateDir: join(dir, "media"),
      sip: { host: "127.0.0.1", udpPort: 0, tcpPort: 0, wsPort: 0 },
      media: { ip: "127.0.0.1", rtpPorts: { min: 49500, max: 49999 }, workers: 1 },
      trunk: { host: TRUNK_HOST, port: await freePort(), transport: "udp", credentials: null, defaultCallerId: null },
      mail: { host: "127.0.0.1", port: mail.smtpPort, from: "EdgePBX <pbx@edgepbx.test>" },
      ftp: null,
    });
    admin = await PortalClient.register(edge.url, "faxinbound");
    ({
      pbx: { id: pbxId },
    } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Fax Office" }));
    base = `/api/pbxs/${pbxId}`;
    await admin.expect(200, "PATCH", `${base}/addons`, { virtualFax: { enabled: true, disclaimerAccepted: true } });
    await admin.expect(201, "POST", `${base}/extensions`, { number: "100", name: "Alice" });
    await admin.expect(201, "POST", `${base}/call-routes`, {
      did: FAX_DID,
      timezone: "Europe/London",
      alertName: "Fax line",
      activity: { type: "extension", extension: "100" },
      virtualFaxEmail: FAX_EMAIL,
    });
    const { version } = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
    await eventually("the version live on the node", async () => node.directory.get(pbxId)?.version === version);
    machine = await CallingFaxMachine.open(TRUNK_HOST, {
      host: "127.0.0.1",
      port: node.gateway.transports.udp.local.port,
    });
  });

  after(async () => {
    machine?.close();
    await node?.stop();
    await edge?.stop();
    await mail?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a 2-page fax to the route's DID is mailed, and the edge's fax log and call records show it", async () => {
    const document = join(dir, "sent.tif");
    await makeFaxDocument(document, ["Purchase order 77", "Delivery address"]);
    const sent = await machine.send({ did: FAX_DID, callerId: "+442079460000", document });
    assert.equal(sent.status, 200);
    assert.equal(sent.result?.success, true, sent.result?.text);

    await eventually("the fax mailed", async () => mail.messages.length > 0 || undefined, 20_000);
    const mailed = mail.messages[0];
    assert.deepEqual(mailed?.to, [FAX_EMAIL]);
    assert.equal(mailed?.subject, `Fax from +442079460000 to ${FAX_DID}: 2 pages`);
    assert.equal(mailed?.attachments.filter((a) => a.contentType === "application/pdf").length, 1);

    const logged = await eventually("the fax in the edge's fax log", async () => {
      const { faxes } = await admin.expect<{ faxes: FaxRecord[] }>(200, "GET", `${base}/faxes`);
      return faxes[0];
    });
    assert.deepEqual(
      { direction: logged.direction, from: logged.from, to: logged.to, pages: logged.pages, result: logged.result },
      { direction: "inbound", from: "+442079460000", to: FAX_DID, pages: 2, result: "success" },
    );
    assert.equal(logged.email, FAX_EMAIL);
    assert.equal(logged.remoteIdent, "+442079460000");
    assert.ok(logged.durationMs > 10_000 && logged.durationMs < 120_000, `${logged.durationMs} ms`);
    const call = await eventually("the call record", async () => {
      const { calls } = await admin.expect<{ calls: CallRecord[] }>(200, "GET", `${base}/calls`);
      return calls.find((c) => c.callId === logged.id);
    });
    assert.equal(call.answeredBy, "fax");
    assert.equal(call.direction, "inbound");
  });
});
