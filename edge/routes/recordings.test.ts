import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  MAX_RECORDING_BYTES,
  type RecordingSummary,
  type RecordingUpload,
  recordingUploadHeaders,
} from "../../shared/index.ts";
import type { Env } from "../env.ts";
import { ApiClient, BASE, PASSWORD, uniqueEmail, worker } from "../test-support/api-client.ts";

const bindings = env as unknown as Env;
const nodeToken = bindings.MEDIA_NODE_TOKEN ?? "";

/** Bytes that differ at every offset (mod 251), so a wrong range shows. */
function audio(size: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + seed) % 251);
}

function meta(overrides: Partial<RecordingUpload> = {}): RecordingUpload {
  return {
    callId: "call-1@edgepbx.test",
    from: "0299990000",
    to: "100",
    direction: "inbound",
    startedAt: "2026-05-04T09:30:00.000Z",
    durationMs: 1000,
    encrypted: false,
    contentType: "audio/mpeg",
    final: true,
    ...overrides,
  };
}

/** A media node's request: the node token, unless another Authorization is given. */
function nodeRequest(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}) {
  const headers = new Headers({ authorization: `Bearer ${nodeToken}`, ...init.headers });
  return worker.fetch(`${BASE}${path}`, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
}

function upload(pbx: string, id: string, bytes: Uint8Array, metadata: RecordingUpload, headers = {}) {
  return nodeRequest("PUT", `/api/nodes/recordings/${pbx}/${id}`, {
    body: bytes,
    headers: { ...recordingUploadHeaders(metadata), ...headers },
  });
}

async function uploaded(pbx: string, id: string, bytes: Uint8Array, metadata = meta()): Promise<RecordingSummary> {
  const res = await upload(pbx, id, bytes, metadata);
  const body = (await res.json()) as { recording: RecordingSummary };
  if (res.status !== 201 && res.status !== 200) throw new Error(`upload: ${res.status} ${JSON.stringify(body)}`);
  return body.recording;
}

/** A portal user's GET whose answer is not JSON (the audio). */
function portalGet(client: ApiClient, path: string, headers: Record<string, string> = {}) {
  const h = new Headers(headers);
  if (client.cookie) h.set("cookie", client.cookie);
  if (client.bearer) h.set("authorization", `Bearer ${client.bearer}`);
  return worker.fetch(`${BASE}${path}`, { headers: h });
}

async function list(client: ApiClient, pbx: string, query = ""): Promise<RecordingSummary[]> {
  const res = await client.get<{ recordings: RecordingSummary[] }>(`/api/pbxs/${pbx}/recordings${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.recordings;
}

async function bytesOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

async function customer(label: string) {
  const admin = await ApiClient.registered(label);
  return { admin, pbx: await admin.createPbx(`${label} office`) };
}

describe("call recordings", () => {
  it("has an R2 bucket in the test pool", () => {
    expect(typeof bindings.RECORDINGS.put).toBe("function");
  });

  it("takes a recording uploaded while the call goes on, then the final one, which wins", async () => {
    const { admin, pbx } = await customer("rec-upload");
    const first = audio(1000);
    const created = await upload(pbx, "rec-growing-1", first, meta({ final: false, durationMs: 1000 }));
    expect(created.status).toBe(201);
    const inProgress = await list(admin, pbx);
    expect(inProgress).toEqual([
      {
        id: "rec-growing-1",
        callId: "call-1@edgepbx.test",
        from: "0299990000",
        to: "100",
        direction: "inbound",
        startedAt: "2026-05-04T09:30:00.000Z",
        durationMs: 1000,
        encrypted: false,
        contentType: "audio/mpeg",
        fileName: "rec-growing-1.mp3",
        size: 1000,
        final: false,
        updatedAt: expect.any(String),
      },
    ]);

    const whole = audio(3000);
    const replaced = await upload(pbx, "rec-growing-1", whole, meta({ final: true, durationMs: 3000 }));
    expect(replaced.status).toBe(200);
    expect(await list(admin, pbx)).toEqual([
      expect.objectContaining({ id: "rec-growing-1", size: 3000, durationMs: 3000, final: true }),
    ]);
    const played = await portalGet(admin, `/api/pbxs/${pbx}/recordings/rec-growing-1/audio`);
    expect(played.status).toBe(200);
    expect(played.headers.get("content-type")).toBe("audio/mpeg");
    expect(played.headers.get("accept-ranges")).toBe("bytes");
    expect(played.headers.get("content-length")).toBe("3000");
    expect(await bytesOf(played)).toEqual(whole);

    // A late in-progress upload cannot undo the final one.
    const late = await upload(pbx, "rec-growing-1", audio(10), meta({ final: false }));
    expect(late.status).toBe(409);
    expect(late.headers.get("content-type")).toBe("application/problem+json");
    const again = await portalGet(admin, `/api/pbxs/${pbx}/recordings/rec-growing-1/audio`);
    expect(await bytesOf(again)).toEqual(whole);
    // Nor can another call reuse the id.
    expect((await upload(pbx, "rec-growing-1", audio(10), meta({ callId: "other@x" }))).status).toBe(409);

    const one = await admin.get<{ recording: RecordingSummary }>(`/api/pbxs/${pbx}/recordings/rec-growing-1`);
    expect(one.body.recording).toMatchObject({ id: "rec-growing-1", size: 3000 });
    expect(await bindings.RECORDINGS.head(`pbx/${pbx}/rec-growing-1.mp3`)).not.toBeNull();
  });

  it("lists newest first, filtered by date and searched by number", async () => {
    const { admin, pbx } = await customer("rec-list");
    await uploaded(
      pbx,
      "rec-list-a",
      audio(10),
      meta({ from: "100", to: "0299990000", direction: "outbound", startedAt: "2026-05-01T08:00:00Z" }),
    );
    await uploaded(
      pbx,
      "rec-list-b",
      audio(10),
      meta({ from: "0411222333", to: "101", startedAt: "2026-05-02T23:59:59+00:00" }),
    );
    await uploaded(
      pbx,
      "rec-list-c",
      audio(10),
      meta({ from: "101", to: "102", direction: "internal", startedAt: "2026-05-03T10:00:00+10:00" }),
    );
    const ids = (rows: RecordingSummary[]) => rows.map((r) => r.id);

    expect(ids(await list(admin, pbx))).toEqual(["rec-list-c", "rec-list-b", "rec-list-a"]);
    expect((await list(admin, pbx))[0]?.startedAt).toBe("2026-05-03T00:00:00.000Z");
    // A day takes in the whole day (UTC); times are exact, `to` exclusive.
    expect(ids(await list(admin, pbx, "?from=2026-05-02&to=2026-05-02"))).toEqual(["rec-list-b"]);
    expect(ids(await list(admin, pbx, "?from=2026-05-02"))).toEqual(["rec-list-c", "rec-list-b"]);
    expect(ids(await list(admin, pbx, "?to=2026-05-01T08:00:00Z"))).toEqual([]);
    expect(ids(await list(admin, pbx, "?to=2026-05-01T08:00:01Z"))).toEqual(["rec-list-a"]);
    // Part of the number at either end.
    expect(ids(await list(admin, pbx, "?q=9999"))).toEqual(["rec-list-a"]);
    expect(ids(await list(admin, pbx, "?q=101"))).toEqual(["rec-list-c", "rec-list-b"]);
    expect(ids(await list(admin, pbx, "?q=101&from=2026-05-03"))).toEqual(["rec-list-c"]);
    expect(ids(await list(admin, pbx, "?limit=1"))).toEqual(["rec-list-c"]);

    const bad = await admin.get<{ errors: { field: string }[] }>(`/api/pbxs/${pbx}/recordings?from=yesterday&q=abc`);
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e) => e.field).sort()).toEqual(["from", "q"]);
  });

  it("serves exactly the bytes of a range, 416 for none, and downloads as an attachment", async () => {
    const { admin, pbx } = await customer("rec-range");
    const bytes = audio(5000, 3);
    await uploaded(pbx, "rec-range-1", bytes);
    const path = `/api/pbxs/${pbx}/recordings/rec-range-1/audio`;
    const cases: [string, number, number][] = [
      ["bytes=0-0", 0, 0],
      ["bytes=100-1099", 100, 1099],
      ["bytes=4990-", 4990, 4999],
      ["bytes=4000-99999", 4000, 4999],
      ["bytes=-250", 4750, 4999],
      ["bytes=-9000", 0, 4999],
    ];
    for (const [range, first, last] of cases) {
      const res = await portalGet(admin, path, { range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get("content-range"), range).toBe(`bytes ${first}-${last}/5000`);
      expect(res.headers.get("content-length"), range).toBe(String(last - first + 1));
      expect(res.headers.get("content-type")).toBe("audio/mpeg");
      expect(await bytesOf(res), range).toEqual(bytes.slice(first, last + 1));
    }

    for (const range of ["bytes=5000-", "bytes=6000-7000", "bytes=-0"]) {
      const res = await portalGet(admin, path, { range });
      expect(res.status, range).toBe(416);
      expect(res.headers.get("content-range")).toBe("bytes */5000");
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    // Several ranges, or nonsense, may be ignored: the whole file.
    for (const range of ["bytes=0-1,5-6", "pages=1-2", "bytes=9-3"]) {
      const res = await portalGet(admin, path, { range });
      expect(res.status, range).toBe(200);
      expect(await bytesOf(res)).toEqual(bytes);
    }

    const plain = await portalGet(admin, path);
    expect(plain.headers.get("content-disposition")).toBeNull();
    await plain.arrayBuffer();
    const download = await portalGet(admin, `${path}?download=1`);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-disposition")).toBe('attachment; filename="rec-range-1.mp3"');
    expect(await bytesOf(download)).toEqual(bytes);
  });

  it("keeps an encrypted recording as .mp3.enc, served as application/pkcs7-mime", async () => {
    const { admin, pbx } = await customer("rec-enc");
    const der = audio(777, 9);
    const summary = await uploaded(
      pbx,
      "rec-secret-1",
      der,
      meta({ encrypted: true, contentType: "application/pkcs7-mime" }),
    );
    expect(summary).toMatchObject({ fileName: "rec-secret-1.mp3.enc", encrypted: true, size: 777 });
    expect(await bindings.RECORDINGS.head(`pbx/${pbx}/rec-secret-1.mp3.enc`)).not.toBeNull();
    const res = await portalGet(admin, `/api/pbxs/${pbx}/recordings/rec-secret-1/audio?download=1`, {
      range: "bytes=7-",
    });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-type")).toBe("application/pkcs7-mime");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="rec-secret-1.mp3.enc"');
    expect(await bytesOf(res)).toEqual(der.slice(7));
  });

  it("shows a PBX's recordings only to its own people, and lets only Administrators and Client Users delete", async () => {
    const { admin, pbx } = await customer("rec-access");
    await uploaded(pbx, "rec-access-1", audio(100));
    const serviceEmail = uniqueEmail("svc");
    const created = await admin.post("/api/users", {
      email: serviceEmail,
      name: "Service",
      role: "serviceUser",
      password: PASSWORD,
      services: [pbx],
      actions: ["view", "edit"],
    });
    expect(created.status).toBe(201);
    const service = await ApiClient.loggedIn(serviceEmail);
    expect((await list(service, pbx)).map((r) => r.id)).toEqual(["rec-access-1"]);
    expect((await portalGet(service, `/api/pbxs/${pbx}/recordings/rec-access-1/audio`)).status).toBe(200);
    expect((await service.delete(`/api/pbxs/${pbx}/recordings/rec-access-1`)).status).toBe(403);

    const other = await ApiClient.registered("rec-nosy");
    expect((await other.get(`/api/pbxs/${pbx}/recordings`)).status).toBe(404);
    expect((await other.get(`/api/pbxs/${pbx}/recordings/rec-access-1`)).status).toBe(404);
    const foreign = await portalGet(other, `/api/pbxs/${pbx}/recordings/rec-access-1/audio`);
    expect(foreign.status).toBe(404);
    expect(foreign.headers.get("content-type")).toBe("application/problem+json");
    expect((await other.delete(`/api/pbxs/${pbx}/recordings/rec-access-1`)).status).toBe(404);
    // Another tenant's PBX id does not reach this PBX's files either.
    const otherPbx = await other.createPbx("Nosy office");
    expect((await portalGet(other, `/api/pbxs/${otherPbx}/recordings/rec-access-1/audio`)).status).toBe(404);
    expect((await new ApiClient().get(`/api/pbxs/${pbx}/recordings`)).status).toBe(401);

    const clientEmail = uniqueEmail("client");
    await admin.post("/api/users", {
      email: clientEmail,
      name: "Client",
      role: "clientUser",
      password: PASSWORD,
      services: [pbx],
    });
    const client = await ApiClient.loggedIn(clientEmail);
    expect((await client.delete(`/api/pbxs/${pbx}/recordings/rec-access-1`)).status).toBe(204);
    expect(await list(admin, pbx)).toEqual([]);
  });

  it("takes uploads and serves reads with the node token only, never a portal session or API token", async () => {
    const { admin, pbx } = await customer("rec-node");
    const headers = recordingUploadHeaders(meta());
    const path = `/api/nodes/recordings/${pbx}/rec-node-0001`;
    const bySession = await admin.request("PUT", path, "not audio", headers);
    expect(bySession.status).toBe(401);
    expect(bySession.body).toMatchObject({ title: "Not logged in" });
    const apiUser = await admin.post<{ user: { id: string } }>("/api/users", {
      email: uniqueEmail("api"),
      name: "Program",
      role: "apiUser",
    });
    const token = await admin.post<{ token: string }>(`/api/users/${apiUser.body.user.id}/tokens`, { name: "t" });
    const byApiToken = await upload(pbx, "rec-node-0001", audio(10), meta(), {
      authorization: `Bearer ${token.body.token}`,
    });
    expect(byApiToken.status).toBe(401);
    expect(
      (await upload(pbx, "rec-node-0001", audio(10), meta(), { authorization: "Bearer wrong-token" })).status,
    ).toBe(401);
    expect((await nodeRequest("GET", `/api/nodes/recordings/${pbx}`, { headers: { authorization: "" } })).status).toBe(
      401,
    );
    expect(await list(admin, pbx)).toEqual([]);

    const bytes = audio(2048, 5);
    await uploaded(pbx, "rec-node-0001", bytes);
    const listed = await nodeRequest("GET", `/api/nodes/recordings/${pbx}?q=9999`);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { recordings: RecordingSummary[] }).recordings.map((r) => r.fileName)).toEqual([
      "rec-node-0001.mp3",
    ]);
    const ranged = await nodeRequest("GET", `/api/nodes/recordings/${pbx}/rec-node-0001`, {
      headers: { range: "bytes=1024-" },
    });
    expect(ranged.status).toBe(206);
    expect(await bytesOf(ranged)).toEqual(bytes.slice(1024));
    expect((await nodeRequest("GET", `/api/nodes/recordings/${pbx}/rec-node-none`)).status).toBe(404);
    expect((await nodeRequest("GET", "/api/nodes/recordings/pbx-nosuch")).status).toBe(404);
    // A portal session cannot read through the node routes either.
    expect((await portalGet(admin, `/api/nodes/recordings/${pbx}/rec-node-0001`)).status).toBe(401);
  });

  it("refuses a bad recording id or metadata with field errors and changes nothing", async () => {
    const { admin, pbx } = await customer("rec-bad");
    const kept = audio(500, 1);
    await uploaded(pbx, "rec-kept-01", kept);
    const before = await list(admin, pbx);

    const badId = await upload(pbx, "short", audio(10), meta());
    expect(badId.status).toBe(400);
    expect(badId.headers.get("content-type")).toBe("application/problem+json");
    expect(((await badId.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual([
      "recordingId",
    ]);
    expect((await upload(pbx, "bad.id.with.dots", audio(10), meta())).status).toBe(400);

    const badMeta = await upload(pbx, "rec-kept-01", audio(10), meta(), {
      "x-recording-started-at": "last tuesday",
      "x-recording-duration-ms": "-5",
      "x-recording-final": "maybe",
      "x-recording-direction": "sideways",
    });
    expect(badMeta.status).toBe(400);
    const problem = (await badMeta.json()) as { errors: { field: string; message: string }[] };
    expect(problem.errors.map((e) => e.field).sort()).toEqual(["direction", "durationMs", "final", "startedAt"]);
    expect(problem.errors.find((e) => e.field === "startedAt")?.message).toMatch(/x-recording-started-at/);

    const mismatch = await upload(pbx, "rec-kept-01", audio(10), meta({ encrypted: true }));
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual([
      "contentType",
    ]);

    const missing = await nodeRequest("PUT", `/api/nodes/recordings/${pbx}/rec-missing-1`, { body: audio(10) });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(
      expect.arrayContaining(["callId", "from", "to", "direction", "startedAt", "durationMs", "encrypted", "final"]),
    );

    expect(await list(admin, pbx)).toEqual(before);
    expect(await bytesOf(await portalGet(admin, `/api/pbxs/${pbx}/recordings/rec-kept-01/audio`))).toEqual(kept);
    const objects = await bindings.RECORDINGS.list({ prefix: `pbx/${pbx}/` });
    expect(objects.objects.map((o) => o.key)).toEqual([`pbx/${pbx}/rec-kept-01.mp3`]);
  });

  it("answers 404 for an unknown PBX, 411 without a length and 413 beyond the cap", async () => {
    expect((await upload("pbx-nosuch", "rec-orphan-1", audio(10), meta())).status).toBe(404);
    expect((await upload("../../etc", "rec-orphan-1", audio(10), meta())).status).toBe(404);
    expect((await bindings.RECORDINGS.list({ prefix: "pbx/pbx-nosuch/" })).objects).toEqual([]);

    const { admin, pbx } = await customer("rec-size");
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(audio(10));
        controller.close();
      },
    });
    const unsized = await nodeRequest("PUT", `/api/nodes/recordings/${pbx}/rec-unsized-1`, {
      body: streamed,
      headers: recordingUploadHeaders(meta()),
    });
    expect(unsized.status).toBe(411);

    const { readable } = new FixedLengthStream(MAX_RECORDING_BYTES + 1);
    const huge = nodeRequest("PUT", `/api/nodes/recordings/${pbx}/rec-huge-1`, {
      body: readable,
      headers: recordingUploadHeaders(meta()),
    });
    const res = await huge;
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await list(admin, pbx)).toEqual([]);
  });

  it("deletes a recording's file and row, and all of a PBX's files with the PBX", async () => {
    const { admin, pbx } = await customer("rec-delete");
    await uploaded(pbx, "rec-delete-1", audio(100));
    await uploaded(pbx, "rec-delete-2", audio(100), meta({ callId: "call-2@x" }));
    expect((await admin.delete(`/api/pbxs/${pbx}/recordings/rec-delete-1`)).status).toBe(204);
    expect((await list(admin, pbx)).map((r) => r.id)).toEqual(["rec-delete-2"]);
    expect(await bindings.RECORDINGS.head(`pbx/${pbx}/rec-delete-1.mp3`)).toBeNull();
    expect((await portalGet(admin, `/api/pbxs/${pbx}/recordings/rec-delete-1/audio`)).status).toBe(404);
    expect((await admin.delete(`/api/pbxs/${pbx}/recordings/rec-delete-1`)).status).toBe(404);

    expect((await admin.delete(`/api/pbxs/${pbx}`)).status).toBe(204);
    expect((await bindings.RECORDINGS.list({ prefix: `pbx/${pbx}/` })).objects).toEqual([]);
  });
});
