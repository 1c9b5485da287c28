import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../../scripts/lib/edge.ts";
import { freePort } from "../../scripts/lib/net.ts";
import { PortalClient } from "../../test/support/portal-client.ts";
import { RecordingLibrary, type RecordingLibraryError } from "./RecordingLibrary.ts";
import { RecordingUploader } from "./RecordingUploader.ts";

let dir: string;
let edge: RunningEdge;
let pbxId: string;
const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgepbx-library-"));
  edge = await startEdge({ port: await freePort(), persistDir: join(dir, "edge") });
  const admin = await PortalClient.register(edge.url, "library");
  pbxId = (await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Library" })).pbx.id;
  await new RecordingUploader(edge.url, devMediaNodeToken()).put(pbxId, "library-test-01", bytes, {
    callId: "library@test",
    from: "100",
    to: "0299990000",
    direction: "outbound",
    startedAt: new Date().toISOString(),
    durationMs: 1000,
    encrypted: true,
    contentType: "application/pkcs7-mime",
    final: true,
  });
});

after(async () => {
  await edge?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("RecordingLibrary (the real edge's node reads)", () => {
  it("lists a PBX's recordings and streams a file, whole or from an offset", async () => {
    const library = new RecordingLibrary(edge.url, devMediaNodeToken());
    const [listed] = await library.list(pbxId);
    assert.equal(listed?.fileName, "library-test-01.mp3.enc");
    assert.equal(listed?.size, bytes.length);
    assert.ok(Buffer.concat(await (await library.open(pbxId, "library-test-01")).toArray()).equals(bytes));
    const tail = Buffer.concat(await (await library.open(pbxId, "library-test-01", 4000)).toArray());
    assert.ok(tail.equals(bytes.subarray(4000)));
  });

  it("an unknown recording, a wrong token or an edge that is down is an error with its status", async () => {
    const library = new RecordingLibrary(edge.url, devMediaNodeToken());
    const missing = await library.open(pbxId, "library-none-01").then(
      () => assert.fail("expected an error"),
      (e: unknown) => e as RecordingLibraryError,
    );
    assert.equal(missing.status, 404);
    const refused = await new RecordingLibrary(edge.url, "wrong-token").list(pbxId).then(
      () => assert.fail("expected an error"),
      (e: unknown) => e as RecordingLibraryError,
    );
    assert.equal(refused.status, 401);
    const down = await new RecordingLibrary(`http://127.0.0.1:${await freePort()}`, devMediaNodeToken())
      .list(pbxId)
      .then(
        () => assert.fail("expected an error"),
        (e: unknown) => e as RecordingLibraryError,
      );
    assert.equal(down.status, 0);
  });
});
