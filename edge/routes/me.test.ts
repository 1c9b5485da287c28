import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { SoftphoneSettings } from "../../shared/accounts/schema.ts";
import { ApiClient, PASSWORD, uniqueEmail } from "../test-support/api-client.ts";

interface User {
  id: string;
  softphone: { pbxId: string; extension: string } | null;
}

/** An account with a PBX whose extension 100 is applied (live) and 101 only in the draft. */
async function officeWithExtensions() {
  const admin = await ApiClient.registered("softphone");
  const pbx = await admin.createPbx("Softphone Office");
  const ext = await admin.post<{ generatedSecrets: { sipPassword: string } }>(`/api/pbxs/${pbx}/extensions`, {
    number: "100",
    name: "Alice",
  });
  expect(ext.status).toBe(201);
  const speedDial = await admin.post(`/api/pbxs/${pbx}/virtual-extensions`, {
    name: "Front desk",
    number: "800",
    activity: { type: "external", number: "+61299990000" },
  });
  expect(speedDial.status).toBe(201);
  expect((await admin.post(`/api/pbxs/${pbx}/apply`)).status).toBe(201);
  expect((await admin.post(`/api/pbxs/${pbx}/extensions`, { number: "101", name: "Bob" })).status).toBe(201);
  return { admin, pbx, sipPassword: ext.body.generatedSecrets.sipPassword };
}

async function clientUser(admin: ApiClient, body: Record<string, unknown> = {}) {
  const email = uniqueEmail("phone");
  const res = await admin.post<{ user: User }>("/api/users", {
    email,
    name: "Phone User",
    password: PASSWORD,
    role: "clientUser",
    ...body,
  });
  return { res, email };
}

describe("softphone link and GET /api/me/softphone", () => {
  it("an Administrator links a portal user to an extension; the user gets what SIP.js needs, never the password", async () => {
    const { admin, pbx, sipPassword } = await officeWithExtensions();
    const { res, email } = await clientUser(admin, { softphone: { pbxId: pbx, extension: "100" } });
    expect(res.status).toBe(201);
    expect(res.body.user.softphone).toEqual({ pbxId: pbx, extension: "100" });

    const user = await ApiClient.loggedIn(email);
    expect((await user.get<{ user: User }>("/api/me")).body.user.softphone).toEqual({ pbxId: pbx, extension: "100" });
    const got = await user.get<SoftphoneSettings>("/api/me/softphone");
    expect(got.status).toBe(200);
    expect(got.headers.get("cache-control")).toBe("no-store");
    const domain = `${pbx}.pbx.edgepbx.local`;
    expect(got.body).toEqual({
      wsUrl: "ws://127.0.0.1:5066",
      domain,
      pbxId: pbx,
      extension: "100",
      displayName: "Alice",
      username: "100",
      ha1: createHash("md5").update(`100:${domain}:${sipPassword}`).digest("hex"),
      // Who else can be dialled, from the applied version (101 is only in the draft so far).
      directory: [{ number: "800", name: "Front desk", kind: "speedDial" }],
    });
    expect(JSON.stringify(got.body)).not.toContain(sipPassword);
  });

  it("answers 404 problem details without a link, for a draft-only extension, and after the link is removed", async () => {
    const { admin, pbx } = await officeWithExtensions();
    const mine = await admin.get<{ type: string; status: number }>("/api/me/softphone");
    expect(mine.status).toBe(404);
    expect(mine.headers.get("content-type")).toContain("application/problem+json");

    const { res, email } = await clientUser(admin, { softphone: { pbxId: pbx, extension: "101" } });
    expect(res.status).toBe(201);
    const user = await ApiClient.loggedIn(email);
    const notLive = await user.get<{ type: string; detail: string }>("/api/me/softphone");
    expect(notLive.status).toBe(404);
    expect(notLive.body.detail).toMatch(/apply/);
    await admin.post(`/api/pbxs/${pbx}/apply`);
    const bob = (await user.get<SoftphoneSettings>("/api/me/softphone")).body;
    expect(bob.extension).toBe("101");
    expect(bob.directory.map((e) => `${e.number} ${e.name} ${e.kind}`)).toEqual([
      "100 Alice extension",
      "800 Front desk speedDial",
    ]);

    const unlinked = await admin.patch<{ user: User }>(`/api/users/${res.body.user.id}`, { softphone: null });
    expect(unlinked.status).toBe(200);
    expect(unlinked.body.user.softphone).toBeNull();
    expect((await user.get("/api/me/softphone")).status).toBe(404);
  });

  it("refuses links to another account's PBX or a missing extension, naming the field; only Administrators set them", async () => {
    const { admin, pbx } = await officeWithExtensions();
    const other = await ApiClient.registered("other");
    const theirs = await other.createPbx("Not yours");
    const foreign = await clientUser(admin, { softphone: { pbxId: theirs, extension: "100" } });
    expect(foreign.res.status).toBe(422);
    expect(JSON.stringify(foreign.res.body)).toContain("softphone.pbxId");
    const missing = await clientUser(admin, { softphone: { pbxId: pbx, extension: "555" } });
    expect(missing.res.status).toBe(422);
    expect(JSON.stringify(missing.res.body)).toContain("softphone.extension");
    const badNumber = await clientUser(admin, { softphone: { pbxId: pbx, extension: "x1" } });
    expect(badNumber.res.status).toBe(422);

    const { res, email } = await clientUser(admin);
    expect(res.body.user.softphone).toBeNull();
    const user = await ApiClient.loggedIn(email);
    expect(
      (await user.patch(`/api/users/${res.body.user.id}`, { softphone: { pbxId: pbx, extension: "100" } })).status,
    ).toBe(403);
    // The other account's admin cannot see or link this account's users.
    expect((await other.patch(`/api/users/${res.body.user.id}`, { softphone: null })).status).toBe(404);
    expect((await new ApiClient().get("/api/me/softphone")).status).toBe(401);
  });

  it("deleting the PBX removes the link", async () => {
    const { admin, pbx } = await officeWithExtensions();
    const { res, email } = await clientUser(admin, { softphone: { pbxId: pbx, extension: "100" } });
    expect((await admin.delete(`/api/pbxs/${pbx}`)).status).toBe(204);
    expect((await admin.get<{ user: User }>(`/api/users/${res.body.user.id}`)).body.user.softphone).toBeNull();
    expect((await (await ApiClient.loggedIn(email)).get("/api/me/softphone")).status).toBe(404);
  });
});
