import { beforeAll, describe, expect, it } from "vitest";
import { ApiClient, PASSWORD, uniqueEmail } from "../../test-support/api-client.ts";

/**
 * Every role × route × tenant: Administrator, API User (token), Client User and Service User
 * of customer A, against A's granted PBX, A's other PBX and customer B's PBX.
 */

type RoleName = "administrator" | "apiUser" | "clientUser" | "serviceUser" | "otherTenantAdmin" | "anonymous";

interface World {
  clients: Record<RoleName, ApiClient>;
  granted: string;
  ungranted: string;
  foreign: string;
  foreignUserId: string;
}

let world: World;

async function createUser(admin: ApiClient, body: Record<string, unknown>): Promise<{ id: string; email: string }> {
  const email = uniqueEmail(String(body.role));
  const res = await admin.post<{ user: { id: string } }>("/api/users", { email, name: `User ${body.role}`, ...body });
  expect(res.status).toBe(201);
  return { id: res.body.user.id, email };
}

beforeAll(async () => {
  const admin = await ApiClient.registered("tenant-a");
  const granted = await admin.createPbx("A granted");
  const ungranted = await admin.createPbx("A not granted");
  const other = await ApiClient.registered("tenant-b");
  const foreign = await other.createPbx("B office");
  const foreignUserId = (await other.get<{ user: { id: string } }>("/api/me")).body.user.id;

  const client = await createUser(admin, { role: "clientUser", password: PASSWORD, services: [granted] });
  const service = await createUser(admin, {
    role: "serviceUser",
    password: PASSWORD,
    services: [granted],
    actions: ["view"],
  });
  const api = await createUser(admin, { role: "apiUser" });
  const token = await admin.post<{ token: string }>(`/api/users/${api.id}/tokens`, { name: "provisioning" });
  expect(token.status).toBe(201);
  const apiClient = new ApiClient();
  apiClient.bearer = token.body.token;

  world = {
    clients: {
      administrator: admin,
      apiUser: apiClient,
      clientUser: await ApiClient.loggedIn(client.email),
      serviceUser: await ApiClient.loggedIn(service.email),
      otherTenantAdmin: other,
      anonymous: new ApiClient(),
    },
    granted,
    ungranted,
    foreign,
    foreignUserId,
  };
});

const roles: RoleName[] = ["administrator", "apiUser", "clientUser", "serviceUser", "otherTenantAdmin", "anonymous"];

/** Expected status per role for one request. */
interface Case {
  name: string;
  request: (w: World, role: RoleName) => [method: string, path: string, body?: unknown];
  expect: Record<RoleName, number>;
}

const ext = (role: RoleName) => ({ number: String(200 + roles.indexOf(role)), name: `By ${role}` });

const cases: Case[] = [
  {
    name: "read the granted PBX",
    request: (w) => ["GET", `/api/pbxs/${w.granted}`],
    expect: {
      administrator: 200,
      apiUser: 200,
      clientUser: 200,
      serviceUser: 200,
      otherTenantAdmin: 404,
      anonymous: 401,
    },
  },
  {
    name: "read its config",
    request: (w) => ["GET", `/api/pbxs/${w.granted}/config`],
    expect: {
      administrator: 200,
      apiUser: 200,
      clientUser: 200,
      serviceUser: 200,
      otherTenantAdmin: 404,
      anonymous: 401,
    },
  },
  {
    name: "read its pending changes",
    request: (w) => ["GET", `/api/pbxs/${w.granted}/changes`],
    expect: {
      administrator: 200,
      apiUser: 200,
      clientUser: 200,
      serviceUser: 200,
      otherTenantAdmin: 404,
      anonymous: 401,
    },
  },
  {
    name: "read its history",
    request: (w) => ["GET", `/api/pbxs/${w.granted}/history`],
    expect: {
      administrator: 200,
      apiUser: 200,
      clientUser: 200,
      serviceUser: 200,
      otherTenantAdmin: 404,
      anonymous: 401,
    },
  },
  {
    name: "add an extension to it",
    request: (w, role) => ["POST", `/api/pbxs/${w.granted}/extensions`, ext(role)],
    expect: {
      administrator: 201,
      apiUser: 201,
      clientUser: 201,
      serviceUser: 403,
      otherTenantAdmin: 404,
      anonymous: 401,
    },
  },
  {
    name: "add to its blacklist",
    request: (w, role) => ["POST", `/api/pbxs/${w.granted}/blacklist`, { number: `029999000${roles.indexOf(role)}` }],
    expect: {
      administrator: 201,
      apiUser: 201,
      clientUser: 201,
      serviceUser: 403,
      otherTenantAdmin: 404,
      anonymous: 401,
    },
  },
  {
    name: "apply its changes",
    request: (w) => ["POST", `/api/pbxs/${w.granted}/apply`],
    // Who applies first gets 201; the rest find nothing left (409) — but only if allowed at all.
    expect: {
      administrator: 201,
      apiUser: 409,
      clientUser: 409,
      serviceUser: 403,
      otherTenantAdmin: 404,
      anonymous: 401,
    },
  },
  {
    name: "rename it",
    request: (w) => ["PATCH", `/api/pbxs/${w.granted}`, { name: "A granted" }],
    expect: {
      administrator: 200,
      apiUser: 200,
      clientUser: 403,
      serviceUser: 403,
      otherTenantAdmin: 404,
      anonymous: 401,
    },
  },
  {
    name: "read the PBX not granted to this user",
    request: (w) => ["GET", `/api/pbxs/${w.ungranted}/config`],
    expect: {
      administrator: 200,
      apiUser: 200,
      clientUser: 404,
      serviceUser: 404,
      otherTenantAdmin: 404,
      anonymous: 401,
    },
  },
  {
    name: "edit the PBX not granted to this user",
    request: (w) => [
      "POST",
      `/api/pbxs/${w.ungranted}/holidays`,
      { name: "X", dates: ["2027-01-01"], action: { type: "hangup" } },
    ],
    expect: {
      administrator: 201,
      apiUser: 201,
      clientUser: 404,
      serviceUser: 404,
      otherTenantAdmin: 404,
      anonymous: 401,
    },
  },
  {
    name: "read another customer's PBX",
    request: (w) => ["GET", `/api/pbxs/${w.foreign}/config`],
    expect: {
      administrator: 404,
      apiUser: 404,
      clientUser: 404,
      serviceUser: 404,
      otherTenantAdmin: 200,
      anonymous: 401,
    },
  },
  {
    name: "edit another customer's PBX",
    request: (w, role) => ["POST", `/api/pbxs/${w.foreign}/extensions`, ext(role)],
    expect: {
      administrator: 404,
      apiUser: 404,
      clientUser: 404,
      serviceUser: 404,
      otherTenantAdmin: 201,
      anonymous: 401,
    },
  },
  {
    name: "apply another customer's PBX",
    request: (w) => ["POST", `/api/pbxs/${w.foreign}/apply`],
    expect: {
      administrator: 404,
      apiUser: 404,
      clientUser: 404,
      serviceUser: 404,
      otherTenantAdmin: 201,
      anonymous: 401,
    },
  },
  {
    name: "delete another customer's PBX",
    request: (w) => ["DELETE", `/api/pbxs/${w.foreign}`],
    expect: {
      administrator: 404,
      apiUser: 404,
      clientUser: 404,
      serviceUser: 404,
      otherTenantAdmin: 0,
      anonymous: 401,
    },
  },
  {
    name: "create a PBX",
    request: (_w, role) => ["POST", "/api/pbxs", { name: `By ${role}` }],
    expect: {
      administrator: 201,
      apiUser: 201,
      clientUser: 403,
      serviceUser: 403,
      otherTenantAdmin: 201,
      anonymous: 401,
    },
  },
  {
    name: "list portal users",
    request: () => ["GET", "/api/users"],
    expect: {
      administrator: 200,
      apiUser: 403,
      clientUser: 403,
      serviceUser: 403,
      otherTenantAdmin: 200,
      anonymous: 401,
    },
  },
  {
    name: "create a portal user",
    request: (_w, role) => [
      "POST",
      "/api/users",
      { email: uniqueEmail(role), name: "New", role: "clientUser", password: PASSWORD, services: [] },
    ],
    expect: {
      administrator: 201,
      apiUser: 403,
      clientUser: 403,
      serviceUser: 403,
      otherTenantAdmin: 201,
      anonymous: 401,
    },
  },
  {
    name: "read a user of another customer",
    request: (w) => ["GET", `/api/users/${w.foreignUserId}`],
    expect: {
      administrator: 404,
      apiUser: 403,
      clientUser: 403,
      serviceUser: 403,
      otherTenantAdmin: 200,
      anonymous: 401,
    },
  },
  {
    name: "read My Account",
    request: () => ["GET", "/api/me"],
    expect: {
      administrator: 200,
      apiUser: 200,
      clientUser: 200,
      serviceUser: 200,
      otherTenantAdmin: 200,
      anonymous: 401,
    },
  },
];

describe("role × route × tenant", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const actual: Partial<Record<RoleName, number>> = {};
      const expected: Partial<Record<RoleName, number>> = {};
      for (const role of roles) {
        if (c.expect[role] === 0) continue; // not exercised for this role
        const [method, path, body] = c.request(world, role);
        actual[role] = (await world.clients[role].request(method, path, body)).status;
        expected[role] = c.expect[role];
      }
      expect(actual).toEqual(expected);
    });
  }

  it("lists only the services each user may see", async () => {
    const names = async (role: RoleName) =>
      (await world.clients[role].get<{ pbxs: { id: string }[] }>("/api/pbxs")).body.pbxs.map((p) => p.id);
    expect(await names("clientUser")).toEqual([world.granted]);
    expect(await names("serviceUser")).toEqual([world.granted]);
    expect(await names("administrator")).toEqual(expect.arrayContaining([world.granted, world.ungranted]));
    expect(await names("administrator")).not.toContain(world.foreign);
    expect(await names("otherTenantAdmin")).toEqual(expect.arrayContaining([world.foreign]));
  });
});

describe("user status, API users and tokens", () => {
  it("an inactive user cannot log in, and their sessions and tokens stop working", async () => {
    const admin = await ApiClient.registered("deactivator");
    const pbx = await admin.createPbx();
    const client = await createUser(admin, { role: "clientUser", password: PASSWORD, services: [pbx] });
    const session = await ApiClient.loggedIn(client.email);
    const api = await createUser(admin, { role: "apiUser" });
    const token = (await admin.post<{ token: string }>(`/api/users/${api.id}/tokens`, { name: "t" })).body.token;
    const program = new ApiClient();
    program.bearer = token;
    expect((await program.get(`/api/pbxs/${pbx}`)).status).toBe(200);

    for (const id of [client.id, api.id]) {
      expect((await admin.patch(`/api/users/${id}`, { status: "inactive" })).status).toBe(200);
    }
    expect((await session.get("/api/me")).status).toBe(401);
    expect((await program.get(`/api/pbxs/${pbx}`)).status).toBe(401);
    const login = await new ApiClient().post("/api/auth/login", { email: client.email, password: PASSWORD });
    expect(login.status).toBe(403);
  });

  it("API users log in with tokens only; tokens can be listed without the secret and revoked", async () => {
    const admin = await ApiClient.registered("tokens");
    const api = await createUser(admin, { role: "apiUser", password: PASSWORD });
    expect((await new ApiClient().post("/api/auth/login", { email: api.email, password: PASSWORD })).status).toBe(403);
    const issued = await admin.post<{ id: string; token: string }>(`/api/users/${api.id}/tokens`, { name: "crm" });
    const list = await admin.get<{ tokens: Record<string, unknown>[] }>(`/api/users/${api.id}/tokens`);
    expect(list.body.tokens).toHaveLength(1);
    expect(JSON.stringify(list.body)).not.toContain(issued.body.token);
    const program = new ApiClient();
    program.bearer = issued.body.token;
    expect((await program.get("/api/pbxs")).status).toBe(200);
    expect((await admin.delete(`/api/users/${api.id}/tokens/${issued.body.id}`)).status).toBe(204);
    expect((await program.get("/api/pbxs")).status).toBe(401);
    const notApi = await admin.post(`/api/users/${admin.userId}/tokens`, { name: "x" });
    expect(notApi.status).toBe(409);
  });

  it("keeps at least one active administrator", async () => {
    const admin = await ApiClient.registered("last");
    const res = await admin.patch(`/api/users/${admin.userId}`, { role: "clientUser" });
    expect(res.status).toBe(409);
    expect((await admin.get<{ user: { role: string } }>("/api/me")).body.user.role).toBe("administrator");
  });

  it("My Account saves contact details and notifications; a password change needs the current one", async () => {
    const admin = await ApiClient.registered("me");
    const saved = await admin.patch<{ user: { phone: string; notifications: { newsletters: boolean } } }>("/api/me", {
      phone: "+61 2 9999 0000",
      notifications: { newsletters: true },
    });
    expect(saved.status).toBe(200);
    expect(saved.body.user.phone).toBe("+61 2 9999 0000");
    expect(saved.body.user.notifications.newsletters).toBe(true);
    const me = await admin.get<{ user: { company: string; notifications: { billing: boolean } } }>("/api/me");
    expect(me.body.user.company).toBe("me Pty Ltd"); // fields not sent stay as they were
    expect(me.body.user.notifications.billing).toBe(true);
    await admin.patch("/api/me", { notifications: { billing: false } });
    const after = await admin.get<{ user: { notifications: { billing: boolean; newsletters: boolean } } }>("/api/me");
    expect(after.body.user.notifications).toMatchObject({ billing: false, newsletters: true });
    const wrong = await admin.patch("/api/me", { password: "new password 123", currentPassword: "nope" });
    expect(wrong.status).toBe(403);
    const ok = await admin.patch("/api/me", { password: "new password 123", currentPassword: PASSWORD });
    expect(ok.status).toBe(200);
    expect(
      (await new ApiClient().post("/api/auth/login", { email: admin.email, password: "new password 123" })).status,
    ).toBe(200);
  });

  it("a Service User's actions can be widened by an administrator", async () => {
    const admin = await ApiClient.registered("widen");
    const pbx = await admin.createPbx();
    const svc = await createUser(admin, {
      role: "serviceUser",
      password: PASSWORD,
      services: [pbx],
      actions: ["view"],
    });
    const session = await ApiClient.loggedIn(svc.email);
    expect((await session.post(`/api/pbxs/${pbx}/blacklist`, { number: "0299990001" })).status).toBe(403);
    await admin.patch(`/api/users/${svc.id}`, { actions: ["view", "edit"] });
    const updated = await admin.get<{ user: { services: string[] } }>(`/api/users/${svc.id}`);
    expect(updated.body.user.services).toEqual([pbx]); // not wiped by the partial update
    expect((await session.post(`/api/pbxs/${pbx}/blacklist`, { number: "0299990001" })).status).toBe(201);
    expect((await session.post(`/api/pbxs/${pbx}/apply`)).status).toBe(403);
    const unknown = await admin.patch<{ errors: { field: string }[] }>(`/api/users/${svc.id}`, {
      services: ["pbx-nope"],
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors[0]?.field).toBe("services");
  });
});
