import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { MediaNode } from "../media/MediaNode.ts";
import { encodeG711 } from "../media/rtc/tones.ts";
import { createResponse } from "../media/sip/core/responses.ts";
import { runSipp, startSippCallee } from "../media/test-support/sipp.ts";
import { UdpPhone } from "../media/test-support/UdpPhone.ts";
import { encodeWav } from "../media/voicemail/wav.ts";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../scripts/lib/edge.ts";
import { freePort } from "../scripts/lib/net.ts";
import { eventually, PortalClient } from "./support/portal-client.ts";

/**
 * The edge and a media node together: what an admin applies in the portal goes live on the node
 * (the portal sees the node's acknowledgement) and phones register with the new credentials,
 * without restarting anything.
 */

let edge: RunningEdge;
let node: MediaNode;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgepbx-media-"));
  edge = await startEdge({ port: await freePort(), persistDir: join(dir, "edge") });
  node = await MediaNode.start({
    edgeUrl: edge.url,
    nodeId: "media-test",
    token: devMediaNodeToken(),
    stateDir: join(dir, "media"),
    sip: { host: "127.0.0.1", udpPort: 0, tcpPort: 0, wsPort: 0 },
    media: { ip: "127.0.0.1", rtpPorts: { min: 41000, max: 41999 }, workers: 1 },
  });
});

after(async () => {
  await node?.stop();
  await edge?.stop();
  await rm(dir, { recursive: true, force: true });
});

function sippRegister(domain: string, user: string, password: string) {
  const port = node.gateway.transports.udp.local.port;
  return runSipp(
    [`127.0.0.1:${port}`, "-sf", "register.xml", "-key", "domain", domain, "-key", "expires", "300"].concat([
      "-s",
      user,
      "-au",
      user,
      "-ap",
      password,
      "-m",
      "1",
    ]),
    5000,
  );
}

test("an extension applied in the portal registers on the node; a new password applies live", async () => {
  const admin = await PortalClient.register(edge.url);
  const { pbx } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Live Office" });
  const base = `/api/pbxs/${pbx.id}`;
  const ext = await admin.expect<{ id: string }>(201, "POST", `${base}/extensions`, {
    number: "100",
    name: "Alice",
    sipPassword: "first-password-1",
  });
  const { version } = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
  const { config } = await admin.expect<{ config: { settings: { sipDomain: string } } }>(
    200,
    "GET",
    `${base}/config?version=applied`,
  );
  const domain = config.settings.sipDomain;

  // The portal shows when the node took the version.
  const acks = await eventually("the node's ack in the change history", async () => {
    const history = await admin.expect<{ versions: { version: number; acks: { nodeId: string }[] }[] }>(
      200,
      "GET",
      `${base}/history`,
    );
    const acked = history.versions.find((v) => v.version === version)?.acks ?? [];
    return acked.length > 0 ? acked : undefined;
  });
  assert.equal(acks[0]?.nodeId, "media-test");

  const first = await sippRegister(domain, "100", "first-password-1");
  assert.equal(first.code, 0, first.output.slice(-1500));

  await admin.expect(200, "PATCH", `${base}/extensions/${ext.id}`, { sipPassword: "second-password-2" });
  const applied = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
  await eventually("version live on the node", async () => node.directory.get(pbx.id)?.version === applied.version);

  assert.notEqual((await sippRegister(domain, "100", "first-password-1")).code, 0);
  const second = await sippRegister(domain, "100", "second-password-2");
  assert.equal(second.code, 0, second.output.slice(-1500));
});

test("a routing change applied in the portal routes the next call anew; the call in progress goes on", async () => {
  const admin = await PortalClient.register(edge.url, "router");
  const { pbx } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Routing Office" });
  const base = `/api/pbxs/${pbx.id}`;
  const passwords: Record<string, string> = {
    "100": "caller-pass-100",
    "101": "first-pass-101",
    "102": "second-pass-102",
  };
  for (const [number, sipPassword] of Object.entries(passwords))
    await admin.expect(201, "POST", `${base}/extensions`, { number, name: `Ext ${number}`, sipPassword });
  const group = await admin.expect<{ id: string }>(201, "POST", `${base}/ring-groups`, {
    name: "Sales",
    number: "300",
    members: ["101"],
    ringSeconds: 10,
  });
  const first = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
  await eventually("version live on the node", async () => node.directory.get(pbx.id)?.version === first.version);
  const domain = node.directory.get(pbx.id)?.config.settings.sipDomain ?? "";
  const server = { host: "127.0.0.1", port: node.gateway.transports.udp.local.port };

  // A long call to the group, answered by 101, is up while the change is applied.
  const callee = await startSippCallee({ server, domain, extension: "101", password: passwords["101"] ?? "" });
  const callArgs = (ms: number) =>
    [`127.0.0.1:${server.port}`, "-sf", "caller.xml", "-key", "domain", domain, "-key", "caller", "100"].concat([
      "-d",
      String(ms),
      "-s",
      "300",
      "-au",
      "100",
      "-ap",
      passwords["100"] ?? "",
      "-m",
      "1",
      "-i",
      "127.0.0.1",
    ]);
  const inProgress = runSipp(callArgs(4000), 20_000);
  await eventually("the call to the group answered", async () => (node.gateway.calls?.activeCalls ?? 0) === 1);

  await admin.expect(200, "PATCH", `${base}/ring-groups/${group.id}`, { members: ["102"] });
  const second = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
  await eventually("the new version live", async () => node.directory.get(pbx.id)?.version === second.version);

  // 102's desk phone now rings for the group, and says busy.
  const desk = await UdpPhone.open(server);
  const registered = await desk.registerWithAuth(desk.register("102", domain), "102", passwords["102"] ?? "");
  assert.equal(registered.status, 200);
  const next = runSipp(callArgs(100), 10_000);
  const invite = await desk.nextRequest(5000);
  assert.equal(invite.method, "INVITE");
  assert.match(invite.uri, /^sip:102@/);
  desk.answer(invite, 486);
  const busy = await next;
  assert.match(busy.output, /486/);

  const kept = await inProgress;
  assert.equal(kept.code, 0, `the call in progress ended normally: ${kept.output.slice(-1500)}`);
  assert.equal(await callee.exited, 0);
  await desk.unregisterAndClose("102", domain, passwords["102"] ?? "");
});

test("the portal sees who is in a conference room while a phone is in it", async () => {
  const admin = await PortalClient.register(edge.url, "rooms");
  const { pbx } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Meeting Office" });
  const base = `/api/pbxs/${pbx.id}`;
  await admin.expect(201, "POST", `${base}/extensions`, { number: "100", name: "Alice", sipPassword: "room-pass-100" });
  const room = await admin.expect<{ id: string }>(201, "POST", `${base}/conference-rooms`, {
    name: "Weekly",
    number: "800",
  });
  const { version } = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);
  await eventually("version live on the node", async () => node.directory.get(pbx.id)?.version === version);
  const domain = node.directory.get(pbx.id)?.config.settings.sipDomain ?? "";
  const phone = await UdpPhone.open({ host: "127.0.0.1", port: node.gateway.transports.udp.local.port });
  const live = async () =>
    (await admin.expect<{ rooms: Record<string, { caller: string }[]> }>(200, "GET", `${base}/conference-rooms/live`))
      .rooms;
  assert.deepEqual(await live(), {});
  const ok = await phone.call("100", domain, "room-pass-100", "800", await freePort());
  assert.equal(ok.status, 200, "the room answers");
  const seated = await eventually("100 listed in the room", async () => {
    const rooms = await live();
    return rooms[room.id]?.[0]?.caller === "100" ? rooms : undefined;
  });
  assert.equal(seated[room.id]?.length, 1);
  phone.send(phone.inDialog(ok, "BYE", 10));
  await eventually("the room empty again", async () => Object.keys(await live()).length === 0);
  phone.close();
});

test("an announcement recording uploaded in the portal is what callers hear once applied", async () => {
  const admin = await PortalClient.register(edge.url, "announcer");
  const { pbx } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Recorded Office" });
  const base = `/api/pbxs/${pbx.id}`;
  const announcement = await admin.expect<{ id: string }>(201, "POST", `${base}/announcements`, {
    name: "Welcome",
    message: "Welcome to the recorded office.",
  });
  // 1.5 s of a 1 kHz tone as the admin's WAV file (8 kHz, 16-bit: ffmpeg keeps the samples as they are).
  const tone = new Int16Array(12_000).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)));
  const wav = encodeWav(tone);
  const uploaded = await admin.upload<{ audio: { sha256: string } }>(
    `${base}/announcements/${announcement.id}/audio?name=welcome.wav`,
    wav,
    "audio/wav",
  );
  assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
  await admin.expect(201, "POST", `${base}/call-routes`, {
    did: "+61290008000",
    timezone: "UTC",
    alertName: "Main",
    activity: { type: "announcement", announcementId: announcement.id },
  });
  const { version } = await admin.expect<{ version: number }>(201, "POST", `${base}/apply`);

  // A node with the carrier on loopback, so the call below comes in to the DID.
  const carrierSide = await MediaNode.start({
    edgeUrl: edge.url,
    nodeId: "media-carrier-test",
    token: devMediaNodeToken(),
    stateDir: join(dir, "media-carrier"),
    sip: { host: "127.0.0.1", udpPort: 0, tcpPort: 0, wsPort: 0 },
    media: { ip: "127.0.0.1", rtpPorts: { min: 43000, max: 43999 }, workers: 1 },
    trunk: { host: "127.0.0.1", port: 5060, transport: "udp", credentials: null, defaultCallerId: null },
  });
  try {
    await eventually("version live", async () => carrierSide.directory.get(pbx.id)?.version === version);
    const rtp = createSocket("udp4");
    const heard: Buffer[] = [];
    rtp.on("message", (packet) => {
      if (packet.length === 172) heard.push(packet.subarray(12));
    });
    await new Promise<void>((resolve) => rtp.bind(0, "127.0.0.1", resolve));
    const carrier = await UdpPhone.open({ host: "127.0.0.1", port: carrierSide.gateway.transports.udp.local.port });
    const ok = await carrier.call("0412345678", "carrier.example", "", "+61290008000", rtp.address().port);
    assert.equal(ok.status, 200);
    // The node plays the file's own samples (as PCMU), then hangs up: the announcement's next step.
    const bye = await carrier.nextRequestOf("BYE", 10_000);
    carrier.sendRaw(createResponse(bye, 200).toBuffer());
    const expected = encodeG711(tone, "PCMU");
    const middle = expected.subarray(4000, 8000);
    assert.ok(
      Buffer.concat(heard).indexOf(middle) >= 0,
      `the uploaded tone was played (${heard.length} packets heard)`,
    );
    carrier.close();
    rtp.close();
  } finally {
    await carrierSide.stop();
  }
});

test("a PBX deleted in the portal stops being served", async () => {
  const admin = await PortalClient.register(edge.url, "deleter");
  const { pbx } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Short lived" });
  await eventually("PBX on the node", async () => node.directory.get(pbx.id) !== undefined);
  await admin.expect(204, "DELETE", `/api/pbxs/${pbx.id}`);
  await eventually("PBX gone from the node", async () => node.directory.get(pbx.id) === undefined);
});
