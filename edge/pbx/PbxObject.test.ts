import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { PbxConfig } from "../../shared/index.ts";
import type { Env } from "../env.ts";
import { ApiClient } from "../test-support/api-client.ts";

const typedEnv = env as unknown as Env;
const md5 = (s: string) => createHash("md5").update(s).digest("hex");
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

async function storedDraft(pbx: string): Promise<PbxConfig> {
  return runInDurableObject(typedEnv.PBX.get(typedEnv.PBX.idFromName(pbx)), (_o, state) =>
    JSON.parse(state.storage.sql.exec("SELECT config FROM draft").one().config as string),
  );
}

async function setup() {
  const admin = await ApiClient.registered();
  const pbx = await admin.createPbx();
  return { admin, pbx, base: `/api/pbxs/${pbx}` };
}

type Entity = { id: string; etag: string; [key: string]: unknown };

describe("extensions in the draft", () => {
  it("generates a SIP password once and stores only the digest HA1 (MD5 and SHA-256)", async () => {
    const { admin, pbx, base } = await setup();
    const res = await admin.post<Entity & { generatedSecrets: { sipPassword: string }; sip: { ha1Md5: string } }>(
      `${base}/extensions`,
      { number: "100", name: "Alice" },
    );
    expect(res.status).toBe(201);
    const password = res.body.generatedSecrets.sipPassword;
    expect(password).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(res.body.sip.ha1Md5).toBe("[secret]");
    expect(res.headers.get("etag")).toBe(res.body.etag);

    const stored = await storedDraft(pbx);
    const realm = stored.settings.sipDomain;
    expect(realm).toBe(`${pbx}.pbx.edgepbx.local`);
    expect(stored.extensions[0]?.sip.ha1Md5).toBe(md5(`100:${realm}:${password}`));
    expect(stored.extensions[0]?.sip.ha1Sha256).toBe(sha256(`100:${realm}:${password}`));
    expect(JSON.stringify(stored)).not.toContain(password);

    const again = await admin.get<Entity>(`${base}/extensions/${res.body.id}`);
    expect(again.body.generatedSecrets).toBeUndefined();
  });

  it("hashes the voicemail PIN and FTP password, and names the wrong field on bad input", async () => {
    const { admin, pbx, base } = await setup();
    const res = await admin.post<Entity>(`${base}/extensions`, {
      number: "101",
      name: "Bob",
      sipPassword: "bob-secret-password",
      voicemail: { enabled: true, pin: "4321", email: "bob@example.com", sendToEmail: true, deleteAfterEmail: true },
    });
    expect(res.status).toBe(201);
    const stored = await storedDraft(pbx);
    expect(stored.extensions[0]?.voicemail.pinHash).toMatch(/^pbkdf2-sha256\$/);
    expect(JSON.stringify(stored)).not.toContain('"4321"');

    const bad = await admin.post<{ errors: { field: string; message: string }[] }>(`${base}/extensions`, {
      number: "1x",
      name: "",
      voicemail: { pin: "12" },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e) => e.field).sort()).toEqual(["name", "number", "voicemail.pin"]);

    const clash = await admin.post<{ errors: { field: string; message: string }[] }>(`${base}/extensions`, {
      number: "777",
      name: "Clash",
    });
    expect(clash.status).toBe(422);
    expect(clash.body.errors).toEqual([
      { field: "number", message: "777 is already used by the voicemail feature code" },
    ]);
    expect((await storedDraft(pbx)).extensions).toHaveLength(1); // nothing stored was lost or added
  });

  it("keeps the SIP password when other fields change, and requires a new one with a new username", async () => {
    const { admin, pbx, base } = await setup();
    const created = await admin.post<Entity>(`${base}/extensions`, { number: "102", name: "Carol" });
    const before = (await storedDraft(pbx)).extensions[0]?.sip;
    const renamed = await admin.patch<Entity>(`${base}/extensions/${created.body.id}`, { name: "Caroline" });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe("Caroline");
    expect((await storedDraft(pbx)).extensions[0]?.sip).toEqual(before);
    const username = await admin.patch<{ errors: { field: string }[] }>(`${base}/extensions/${created.body.id}`, {
      sipUsername: "carol",
    });
    expect(username.status).toBe(422);
    expect(username.body.errors[0]?.field).toBe("sipPassword");
  });
});

describe("View PBX Changes: pending diff, apply, history", () => {
  it("shows a pending change as a diff and applies it as version 2 with who and what", async () => {
    const { admin, base } = await setup();
    await admin.post(`${base}/extensions`, { number: "100", name: "Alice Example" });

    const changes = await admin.get<{
      pending: boolean;
      appliedVersion: number;
      changes: { action: string; label: string; actor: string }[];
      diff: {
        summary: { section: string; change: string; label: string }[];
        lines: { kind: string; text: string }[];
        unified: string;
      };
    }>(`${base}/changes`);
    expect(changes.body.pending).toBe(true);
    expect(changes.body.appliedVersion).toBe(1);
    expect(changes.body.changes).toMatchObject([
      { action: "create", label: "extensions: 100 Alice Example", actor: admin.email },
    ]);
    expect(changes.body.diff.summary).toEqual([
      expect.objectContaining({ section: "extensions", change: "added", label: "100 Alice Example" }),
    ]);
    const added = changes.body.diff.lines.filter((l) => l.kind === "added").map((l) => l.text);
    expect(added.some((t) => t.includes('"name": "Alice Example"'))).toBe(true);
    expect(changes.body.diff.lines.some((l) => l.kind === "removed")).toBe(true); // "extensions": [] goes
    expect(changes.body.diff.unified).toContain('+      "name": "Alice Example"');
    expect(changes.body.diff.unified).not.toMatch(/[0-9a-f]{32}/); // no HA1 in the diff

    const applied = await admin.post<{ version: number }>(`${base}/apply`, { note: "First user" });
    expect(applied.status).toBe(201);
    expect(applied.body.version).toBe(2);

    const history = await admin.get<{
      versions: { version: number; appliedBy: string; note: string; changes: unknown[] }[];
    }>(`${base}/history`);
    expect(history.body.versions.map((v) => v.version)).toEqual([2, 1]);
    expect(history.body.versions[0]).toMatchObject({ appliedBy: admin.email, note: "First user" });
    expect(history.body.versions[0]?.changes).toHaveLength(1);

    const live = await admin.get<{ version: number; config: PbxConfig }>(`${base}/config?version=applied`);
    expect(live.body.version).toBe(2);
    expect(live.body.config.extensions.map((e) => e.name)).toEqual(["Alice Example"]);
    expect((await admin.get<{ pending: boolean }>(`${base}/changes`)).body.pending).toBe(false);
    expect((await admin.post(`${base}/apply`)).status).toBe(409); // nothing left to apply

    const details = await admin.get<{ diff: { summary: unknown[] } }>(`${base}/history/2`);
    expect(details.body.diff.summary).toHaveLength(1);
  });

  it("gives a stale If-Match 409 and loses nothing", async () => {
    const { admin, pbx, base } = await setup();
    const created = await admin.post<Entity>(`${base}/extensions`, { number: "100", name: "Alice" });
    const staleEtag = created.body.etag;
    const first = await admin.patch<Entity>(
      `${base}/extensions/${created.body.id}`,
      { name: "Alice A" },
      {
        "if-match": staleEtag,
      },
    );
    expect(first.status).toBe(200);
    expect(first.body.etag).not.toBe(staleEtag);

    const second = await admin.patch<{ type: string; currentEtag: string; current: { name: string } }>(
      `${base}/extensions/${created.body.id}`,
      { name: "Alice B" },
      { "if-match": staleEtag },
    );
    expect(second.status).toBe(409);
    expect(second.body.type).toMatch(/stale/);
    expect(second.body.currentEtag).toBe(first.body.etag);
    expect(second.body.current.name).toBe("Alice A");
    expect((await storedDraft(pbx)).extensions[0]?.name).toBe("Alice A");

    const deleteStale = await admin.delete(`${base}/extensions/${created.body.id}`, { "if-match": staleEtag });
    expect(deleteStale.status).toBe(409);
    expect((await storedDraft(pbx)).extensions).toHaveLength(1);
  });

  it("refuses to apply changes made after the ones the user reviewed", async () => {
    const { admin, base } = await setup();
    await admin.post(`${base}/extensions`, { number: "100", name: "Alice" });
    const reviewed = await admin.get(`${base}/changes`);
    const etag = reviewed.headers.get("etag") ?? "";
    await admin.post(`${base}/extensions`, { number: "101", name: "Sneaky" });
    const res = await admin.post(`${base}/apply`, {}, { "if-match": etag });
    expect(res.status).toBe(409);
    const history = await admin.get<{ versions: unknown[] }>(`${base}/history`);
    expect(history.body.versions).toHaveLength(1);
  });

  it("applies atomically: an invalid draft creates no version and keeps the pending changes", async () => {
    const { admin, pbx, base } = await setup();
    await admin.post(`${base}/extensions`, { number: "100", name: "Alice" });
    // Corrupt the draft behind the API's back, as a bad migration might.
    await runInDurableObject(typedEnv.PBX.get(typedEnv.PBX.idFromName(pbx)), (_o, state) => {
      const row = state.storage.sql.exec("SELECT config FROM draft").one();
      const config = JSON.parse(row.config as string);
      config.callRoutes.push({
        id: "rt_broken1",
        did: "+61290000009",
        timezone: "UTC",
        alertName: "Broken",
        activity: { type: "conference", conferenceRoomId: "conf_nothere" },
      });
      state.storage.sql.exec("UPDATE draft SET config = ?", JSON.stringify(config));
    });
    const res = await admin.post<{ errors: { field: string }[] }>(`${base}/apply`);
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e) => e.field)).toContain("callRoutes[0].activity.conferenceRoomId");
    const history = await admin.get<{ versions: unknown[] }>(`${base}/history`);
    expect(history.body.versions).toHaveLength(1);
    expect((await admin.get<{ pending: boolean }>(`${base}/changes`)).body.pending).toBe(true);
  });

  it("applies concurrent requests one at a time: one version, never two of the same number", async () => {
    const { admin, base } = await setup();
    await admin.post(`${base}/extensions`, { number: "100", name: "Alice" });
    const results = await Promise.all([
      admin.post(`${base}/apply`),
      admin.post(`${base}/apply`),
      admin.post(`${base}/apply`),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const history = await admin.get<{ versions: { version: number }[] }>(`${base}/history`);
    expect(history.body.versions.map((v) => v.version)).toEqual([2, 1]);
  });

  it("reverts to an earlier version as a new version, and protects pending changes", async () => {
    const { admin, base } = await setup();
    const ext = await admin.post<Entity>(`${base}/extensions`, { number: "100", name: "Alice" });
    await admin.post(`${base}/apply`);
    await admin.patch(`${base}/extensions/${ext.body.id}`, { name: "Alice Renamed" });
    await admin.post(`${base}/apply`);

    await admin.post(`${base}/extensions`, { number: "101", name: "Pending Bob" });
    const refused = await admin.post(`${base}/revert`, { version: 2 });
    expect(refused.status).toBe(409);

    const reverted = await admin.post<{ version: number }>(`${base}/revert`, { version: 2, discardPending: true });
    expect(reverted.status).toBe(201);
    expect(reverted.body.version).toBe(4);
    const live = await admin.get<{ config: PbxConfig }>(`${base}/config?version=applied`);
    expect(live.body.config.extensions.map((e) => e.name)).toEqual(["Alice"]);
    const history = await admin.get<{ versions: { version: number; note: string; revertOf: number }[] }>(
      `${base}/history`,
    );
    expect(history.body.versions[0]).toMatchObject({ version: 4, note: "Reverted to version 2", revertOf: 2 });
    expect((await admin.get<{ pending: boolean }>(`${base}/changes`)).body.pending).toBe(false);
    expect((await admin.post(`${base}/revert`, { version: 99 })).status).toBe(404);
  });

  it("takes a whole configuration back as read (redacted secrets kept), and refuses placeholders with nothing behind", async () => {
    const { admin, pbx, base } = await setup();
    await admin.post(`${base}/extensions`, { number: "100", name: "Alice", voicemail: { enabled: true, pin: "2468" } });
    const before = (await storedDraft(pbx)).extensions[0];
    const read = await admin.get<{ config: PbxConfig }>(`${base}/config`);
    const edited = structuredClone(read.body.config);
    if (edited.extensions[0]) edited.extensions[0].name = "Alice Bulk";
    edited.settings.sipDomain = "hijack.example.com";
    const put = await admin.put(`${base}/config`, { config: edited }, { "if-match": read.headers.get("etag") ?? "" });
    expect(put.status).toBe(204);
    const after = (await storedDraft(pbx)).extensions[0];
    expect(after?.name).toBe("Alice Bulk");
    expect(after?.sip).toEqual(before?.sip);
    expect(after?.voicemail.pinHash).toBe(before?.voicemail.pinHash);
    expect((await storedDraft(pbx)).settings.sipDomain).toBe(`${pbx}.pbx.edgepbx.local`);

    const stale = await admin.put(`${base}/config`, { config: edited }, { "if-match": read.headers.get("etag") ?? "" });
    expect(stale.status).toBe(409);
    const copy = structuredClone(edited);
    const first = copy.extensions[0];
    if (first)
      copy.extensions.push({ ...first, id: "ext_newcopy1", number: "101", sip: { ...first.sip, username: "101" } });
    const refused = await admin.put<{ errors: { field: string }[] }>(`${base}/config`, { config: copy });
    expect(refused.status).toBe(422);
    expect(refused.body.errors.map((e) => e.field)).toEqual([
      "extensions[1].sipPassword",
      "extensions[1].voicemail.pin",
    ]);
  });

  it("discards pending changes on request", async () => {
    const { admin, base } = await setup();
    await admin.post(`${base}/extensions`, { number: "100", name: "Alice" });
    expect((await admin.delete(`${base}/changes`)).status).toBe(204);
    expect((await admin.get<{ items: unknown[] }>(`${base}/extensions`)).body.items).toEqual([]);
  });
});

describe("the guide's other configuration", () => {
  it("conference line: room, call route with passcode, and a room in use cannot be deleted", async () => {
    const { admin, base } = await setup();
    const room = await admin.post<Entity>(`${base}/conference-rooms`, { name: "Board room", number: "800" });
    const route = await admin.post<Entity>(`${base}/call-routes`, {
      did: "+61290001000",
      timezone: "Australia/Sydney",
      alertName: "Conference line",
      passcode: { enabled: true, passcode: "2468" },
      activity: { type: "conference", conferenceRoomId: room.body.id },
    });
    expect(route.status).toBe(201);
    const vext = await admin.post(`${base}/virtual-extensions`, {
      name: "Board speed dial",
      number: "850",
      activity: { type: "conference", conferenceRoomId: room.body.id },
    });
    expect(vext.status).toBe(201);
    const del = await admin.delete<{ errors: { field: string }[] }>(`${base}/conference-rooms/${room.body.id}`);
    expect(del.status).toBe(409);
    expect(del.body.errors.map((e) => e.field)).toEqual([
      "callRoutes[0].activity.conferenceRoomId",
      "virtualExtensions[0].activity.conferenceRoomId",
    ]);
    expect((await admin.get<{ items: unknown[] }>(`${base}/conference-rooms`)).body.items).toHaveLength(1);
  });

  it("forward all gets an allocated dial code that stays with the route", async () => {
    const { admin, base } = await setup();
    const route = await admin.post<Entity & { forwardAll: { enabled: boolean; dialCode: string } }>(
      `${base}/call-routes`,
      {
        did: "+61290002000",
        timezone: "UTC",
        alertName: "Main",
        activity: { type: "hangup" },
        forwardAll: { enabled: true },
      },
    );
    expect(route.body.forwardAll).toEqual({ enabled: true, dialCode: "*401" });
    const off = await admin.patch<{ forwardAll: { enabled: boolean; dialCode: string } }>(
      `${base}/call-routes/${route.body.id}`,
      { forwardAll: { enabled: false } },
    );
    expect(off.body.forwardAll).toEqual({ enabled: false, dialCode: "*401" });
    const second = await admin.post<{ forwardAll: { dialCode: string } }>(`${base}/call-routes`, {
      did: "+61290002001",
      timezone: "UTC",
      alertName: "Second",
      activity: { type: "hangup" },
      forwardAll: { enabled: true },
    });
    expect(second.body.forwardAll.dialCode).toBe("*402");
  });

  it("holidays with dates and an announcement, assigned to a route", async () => {
    const { admin, base } = await setup();
    const ann = await admin.post<Entity>(`${base}/announcements`, {
      name: "Voicemail",
      message: "We are closed today.",
    });
    const holiday = await admin.post<Entity>(`${base}/holidays`, {
      name: "Christmas",
      dates: ["2026-12-25", "2026-12-26"],
      action: { type: "announcement", announcementId: ann.body.id },
    });
    expect(holiday.status).toBe(201);
    const bad = await admin.post<{ errors: { field: string }[] }>(`${base}/holidays`, {
      name: "Nope",
      dates: ["2026-13-01"],
      action: { type: "hangup" },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0]?.field).toBe("dates[0]");
    const route = await admin.post(`${base}/call-routes`, {
      did: "+61290003000",
      timezone: "Australia/Melbourne",
      alertName: "Main",
      activity: { type: "hangup" },
      holidayId: holiday.body.id,
    });
    expect(route.status).toBe(201);
  });

  it("add-ons: recording needs the disclaimer; the FTP password is hashed; encryption needs a certificate", async () => {
    const { admin, pbx, base } = await setup();
    const refused = await admin.patch<{ errors: { field: string }[] }>(`${base}/addons`, {
      callRecording: { enabled: true },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0]?.field).toBe("callRecording.disclaimerAccepted");
    const ok = await admin.patch<{
      callRecording: { enabled: boolean; ftp: { username: string; passwordHash: string } };
    }>(`${base}/addons`, {
      callRecording: {
        enabled: true,
        disclaimerAccepted: true,
        ftp: { username: "recordings", password: "ftp-password-123" },
      },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.callRecording.ftp).toEqual({ username: "recordings", passwordHash: "[secret]" });
    expect((await storedDraft(pbx)).addons.callRecording.ftp?.passwordHash).toMatch(/^pbkdf2-sha256\$/);
    const key = await admin.patch<{ errors: { field: string; message: string }[] }>(`${base}/addons`, {
      recordingEncryption: {
        enabled: true,
        publicKeyPem: "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
      },
    });
    expect(key.status).toBe(422);
    expect(key.body.errors[0]?.field).toBe("recordingEncryption.publicKeyPem");
    const blacklist = await admin.post(`${base}/blacklist`, { number: "0299998888", note: "Spam" });
    expect(blacklist.status).toBe(201);
    const sender = await admin.post(`${base}/fax-senders`, { email: "fax@example.com", callerId: "0299990000" });
    expect(sender.status).toBe(201);
    // The channel count is the provider's: a customer may send it back unchanged, not change it.
    const more = await admin.patch<{ errors: { field: string }[] }>(`${base}/settings`, { channels: 10 });
    expect(more.status).toBe(403);
    expect(more.body.errors[0]?.field).toBe("channels");
    const same = await admin.patch<{ channels: number; timezone: string }>(`${base}/settings`, {
      channels: 4,
      timezone: "Australia/Perth",
    });
    expect(same.status).toBe(200);
    expect(same.body.channels).toBe(4);
    expect(same.body.timezone).toBe("Australia/Perth");
  });

  it("a DID rings one PBX on the whole platform: another customer cannot route it", async () => {
    const did = `+6129${Date.now().toString().slice(-7)}`;
    const route = { did, timezone: "UTC", alertName: "Main", activity: { type: "hangup" } };
    const a = await setup();
    expect((await a.admin.post(`${a.base}/call-routes`, route)).status).toBe(201);
    const b = await setup();
    // Both drafts may hold it until one applies; the first apply wins.
    expect((await b.admin.post(`${b.base}/call-routes`, route)).status).toBe(201);
    expect((await a.admin.post(`${a.base}/apply`)).status).toBe(201);
    const refused = await b.admin.post<{ errors: { field: string; message: string }[] }>(`${b.base}/apply`);
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual([
      { field: "callRoutes[0].did", message: expect.stringMatching(/another PBX/) },
    ]);
    const early = await b.admin.post<{ errors: { field: string }[] }>(`${b.base}/call-routes`, {
      ...route,
      alertName: "Again",
    });
    expect(early.status).toBe(422);
    expect(early.body.errors.map((e) => e.field)).toContain("did");
    // Once A deletes its PBX the number is free again.
    expect((await a.admin.delete(`/api/pbxs/${a.pbx}`)).status).toBe(204);
    expect((await b.admin.post(`${b.base}/apply`)).status).toBe(201);
  });

  it("answers unknown collections and items with 404 problem details", async () => {
    const { admin, base } = await setup();
    expect((await admin.get(`${base}/not-a-thing`)).status).toBe(404);
    const missing = await admin.patch(`${base}/extensions/ext_doesnotexist`, { name: "x" });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toContain("application/problem+json");
  });
});
