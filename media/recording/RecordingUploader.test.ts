import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../../scripts/lib/edge.ts";
import { freePort } from "../../scripts/lib/net.ts";
import type { RecordingUpload } from "../../shared/index.ts";
import { PortalClient } from "../../test/support/portal-client.ts";
import { RecordingLibrary } from "./RecordingLibrary.ts";
import { RecordingUploadError, RecordingUploader } from "./RecordingUploader.ts";

let dir: string;
let edge: RunningEdge;
let pbxId: string;

const meta = (final: boolean): RecordingUpload => ({
  callId: "upload-test@test",
  from: "0299990000",
  to: "100",
  direction: "inbound",
  startedAt: new Date().toISOString(),
  durationMs: 5000,
  encrypted: false,
  contentType: "audio/mpeg",
  final,
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgepbx-uploader-"));
  edge = await startEdge({ port: await freePort(), persistDir: join(dir, "edge") });
  const admin = await PortalClient.register(edge.url, "uploader");
  pbxId = (await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name: "Uploads" })).pbx.id;
});

after(async () => {
  await edge?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("RecordingUploader (the real edge's PUT /api/nodes/recordings)", () => {
  it("stores a recording, replaces it with a later upload, and the edge serves the last one", async () => {
    const uploader = new RecordingUploader(edge.url, devMediaNodeToken());
    const library = new RecordingLibrary(edge.url, devMediaNodeToken());
    const id = "upload-test-0001";
    await uploader.put(pbxId, id, Buffer.alloc(1000, 1), meta(false));
    await uploader.put(pbxId, id, Buffer.alloc(3000, 2), meta(true));
    const listed = (await library.list(pbxId)).find((r) => r.id === id);
    assert.equal(listed?.size, 3000);
    assert.equal(listed?.final, true);
    const bytes = Buffer.concat(await (await library.open(pbxId, id)).toArray());
    assert.ok(bytes.equals(Buffer.alloc(3000, 2)));
    // Once final, an in-progress upload is refused for good (not worth retrying).
    const late = await uploader.put(pbxId, id, Buffer.alloc(10), meta(false)).catch((e: unknown) => e);
    assert.ok(late instanceof RecordingUploadError);
    assert.equal(late.status, 409);
    assert.equal(late.retryable, false);
  });

  it("says why the edge refused, never with the token; tells what is worth retrying", async () => {
    const token = devMediaNodeToken();
    const wrongToken = await new RecordingUploader(edge.url, "not-the-node-token")
      .put(pbxId, "upload-test-0002", Buffer.alloc(10), meta(true))
      .then(
        () => assert.fail("expected an error"),
        (e: unknown) => e as RecordingUploadError,
      );
    assert.equal(wrongToken.status, 401);
    assert.equal(wrongToken.retryable, false);
    const badId = await new RecordingUploader(edge.url, token).put(pbxId, "bad id!", Buffer.alloc(10), meta(true)).then(
      () => assert.fail("expected an error"),
      (e: unknown) => e as RecordingUploadError,
    );
    assert.equal(badId.status, 400);
    assert.match(badId.message, /recordingId/);
    const unknownPbx = await new RecordingUploader(edge.url, token)
      .put("pbx-nobody", "upload-test-0003", Buffer.alloc(10), meta(true))
      .then(
        () => assert.fail("expected an error"),
        (e: unknown) => e as RecordingUploadError,
      );
    assert.equal(unknownPbx.status, 404);
    const unreachable = await new RecordingUploader(`http://127.0.0.1:${await freePort()}`, token)
      .put(pbxId, "upload-test-0004", Buffer.alloc(10), meta(true))
      .then(
        () => assert.fail("expected an error"),
        (e: unknown) => e as RecordingUploadError,
      );
    assert.equal(unreachable.status, 0);
    assert.equal(unreachable.retryable, true);
    assert.match(unreachable.message, /cannot be reached \(ECONNREFUSED\)/);
    for (const error of [wrongToken, badId, unknownPbx, unreachable]) assert.ok(!error.message.includes(token));
  });
});
