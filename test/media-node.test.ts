import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { MediaNode } from "../media/MediaNode.ts";
import { runSipp } from "../media/test-support/sipp.ts";
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

test("a PBX deleted in the portal stops being served", async () => {
  const admin = await PortalClient.register(edge.url, "deleter");
  const { pbx } = await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Short lived" });
  await eventually("PBX on the node", async () => node.directory.get(pbx.id) !== undefined);
  await admin.expect(204, "DELETE", `/api/pbxs/${pbx.id}`);
  await eventually("PBX gone from the node", async () => node.directory.get(pbx.id) === undefined);
});
