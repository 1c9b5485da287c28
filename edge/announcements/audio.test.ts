import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../env.ts";
import { ApiClient, BASE, worker } from "../test-support/api-client.ts";

const token = (env as unknown as Env).MEDIA_NODE_TOKEN ?? "";

/** A WAV of `ms` of a 1 kHz tone, 8 kHz 16-bit mono. */
function toneWav(ms: number): Uint8Array {
  const samples = (8000 * ms) / 1000;
  const wav = new DataView(new ArrayBuffer(44 + samples * 2));
  const text = (offset: number, value: string) => {
    for (let i = 0; i < value.length; i++) wav.setUint8(offset + i, value.charCodeAt(i));
  };
  text(0, "RIFF");
  wav.setUint32(4, 36 + samples * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  wav.setUint32(16, 16, true);
  wav.setUint16(20, 1, true);
  wav.setUint16(22, 1, true);
  wav.setUint32(24, 8000, true);
  wav.setUint32(28, 16000, true);
  wav.setUint16(32, 2, true);
  wav.setUint16(34, 16, true);
  text(36, "data");
  wav.setUint32(40, samples * 2, true);
  for (let i = 0; i < samples; i++)
    wav.setInt16(44 + i * 2, Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)), true);
  return new Uint8Array(wav.buffer);
}

/** An upload as the portal sends it: the file as the body, the session's cookie and CSRF token. */
function upload(client: ApiClient, path: string, body: Uint8Array, contentType: string): Promise<Response> {
  return worker.fetch(`${BASE}${path}`, {
    method: "PUT",
    headers: {
      "content-type": contentType,
      cookie: client.cookie ?? "",
      "x-csrf-token": client.csrf ?? "",
      "cf-connecting-ip": client.address,
    },
    body,
  });
}

describe("announcement recordings", () => {
  it("an uploaded WAV plays instead of the spoken message once applied; only uploads set it; nodes fetch it", async () => {
    const admin = await ApiClient.registered("announce");
    const pbx = await admin.createPbx("Announcements");
    const created = await admin.post<{ id: string }>(`/api/pbxs/${pbx}/announcements`, {
      name: "Welcome",
      message: "Welcome to Bay Office.",
    });
    expect(created.status).toBe(201);
    const path = `/api/pbxs/${pbx}/announcements/${created.body.id}/audio`;
    const wav = toneWav(500);

    // Refused: not audio, a "WAV" that is not one, nothing at all; nothing stored changes.
    expect((await upload(admin, path, new TextEncoder().encode("hello"), "text/plain")).status).toBe(415);
    const fake = await upload(admin, path, new TextEncoder().encode("not a riff file"), "audio/wav");
    expect(fake.status).toBe(422);
    expect(((await fake.json()) as { errors: { message: string }[] }).errors[0]?.message).toMatch(/not a WAV/);
    expect((await upload(admin, path, new Uint8Array(0), "audio/wav")).status).toBe(422);
    expect((await admin.get<{ audio: unknown }>(`/api/pbxs/${pbx}/announcements/${created.body.id}`)).body.audio).toBe(
      null,
    );

    const uploaded = await upload(admin, `${path}?name=welcome%20tone.wav`, wav, "audio/wav");
    expect(uploaded.status).toBe(200);
    const entity = (await uploaded.json()) as { audio: { sha256: string; fileName: string; bytes: number } };
    expect(entity.audio).toMatchObject({ fileName: "welcome tone.wav", bytes: wav.length, contentType: "audio/wav" });
    expect(entity.audio.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The portal's preview gives the same bytes back.
    const preview = await worker.fetch(`${BASE}${path}`, { headers: { cookie: admin.cookie ?? "" } });
    expect(new Uint8Array(await preview.arrayBuffer())).toEqual(wav);

    // Editing other fields keeps the file; a client cannot point at another file by hand.
    const renamed = await admin.patch<{ audio: { sha256: string } }>(
      `/api/pbxs/${pbx}/announcements/${created.body.id}`,
      { name: "Welcome (recorded)" },
    );
    expect(renamed.body.audio.sha256).toBe(entity.audio.sha256);
    const forged = await admin.patch<{ errors: { field: string }[] }>(
      `/api/pbxs/${pbx}/announcements/${created.body.id}`,
      { audio: { ...entity.audio, sha256: "0".repeat(64) } },
    );
    expect(forged.status).toBe(422);
    expect(forged.body.errors[0]?.field).toBe("audio");

    // A pending change like any other, applied to the node's config.
    const pending = await admin.get<{ changes: { summary: string }[] }>(`/api/pbxs/${pbx}/changes`);
    expect(JSON.stringify(pending.body)).toContain("announcement");
    expect((await admin.post(`/api/pbxs/${pbx}/apply`)).status).toBe(201);
    const applied = await admin.get<{ config: { announcements: { audio: { sha256: string } | null }[] } }>(
      `/api/pbxs/${pbx}/config?version=applied`,
    );
    expect(applied.body.config.announcements[0]?.audio?.sha256).toBe(entity.audio.sha256);

    // A media node fetches it by its name; nobody else does.
    const nodePath = `${BASE}/api/nodes/audio/${pbx}/${entity.audio.sha256}`;
    const fetched = await worker.fetch(nodePath, { headers: { authorization: `Bearer ${token}` } });
    expect(fetched.status).toBe(200);
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(wav);
    expect((await worker.fetch(nodePath, { headers: { cookie: admin.cookie ?? "" } })).status).toBe(401);
    const other = await ApiClient.registered("nosy-announce");
    expect((await upload(other, path, wav, "audio/wav")).status).toBe(404);

    // Removing the file: the message is spoken again.
    const removed = await admin.delete<{ audio: unknown }>(path);
    expect(removed.status).toBe(200);
    expect(removed.body.audio).toBe(null);
  });
});
