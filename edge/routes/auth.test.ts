import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../env.ts";
import { ApiClient, PASSWORD, receivedMail, uniqueEmail } from "../test-support/api-client.ts";

const typedEnv = env as unknown as Env;

describe("register, login, logout", () => {
  it("registers an administrator, logs in with an HttpOnly SameSite cookie and logs out", async () => {
    const admin = await ApiClient.registered();
    const me = await admin.get<{ user: { role: string; email: string } }>("/api/me");
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ role: "administrator", email: admin.email });

    const fresh = new ApiClient();
    const login = await fresh.post("/api/auth/login", { email: admin.email.toUpperCase(), password: PASSWORD });
    expect(login.status).toBe(200);
    const cookie = login.headers.getAll("set-cookie").find((c) => c.startsWith("edgepbx_session="));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(login.body.csrfToken).toEqual(expect.any(String));

    expect((await fresh.post("/api/auth/logout")).status).toBe(204);
    expect((await fresh.get("/api/me")).status).toBe(401);
  });

  it("refuses a duplicate email and bad input with problem details naming the field", async () => {
    const admin = await ApiClient.registered();
    const again = await new ApiClient().post("/api/auth/register", {
      email: admin.email,
      password: PASSWORD,
      name: "X",
    });
    expect(again.status).toBe(409);
    expect(again.headers.get("content-type")).toContain("application/problem+json");
    const bad = await new ApiClient().post<{ errors: { field: string }[] }>("/api/auth/register", {
      email: "not-an-email",
      password: "short",
      name: "",
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e) => e.field).sort()).toEqual(["email", "name", "password"]);
    const notJson = await new ApiClient().post("/api/auth/login", "{oops");
    expect(notJson.status).toBe(422);
  });

  it("stores passwords as salted PBKDF2 hashes, never in plain text", async () => {
    const admin = await ApiClient.registered();
    const stored = await runInDurableObject(
      typedEnv.DIRECTORY.get(typedEnv.DIRECTORY.idFromName("directory")),
      (_o, state) => state.storage.sql.exec("SELECT password_hash FROM users WHERE email = ?", admin.email).one(),
    );
    expect(stored.password_hash).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(String(stored.password_hash)).not.toContain(PASSWORD);
  });

  it("requires the CSRF token for writes made with a session cookie", async () => {
    const admin = await ApiClient.registered();
    const csrf = admin.csrf;
    admin.csrf = null;
    const refused = await admin.post("/api/pbxs", { name: "No CSRF" });
    expect(refused.status).toBe(403);
    expect(refused.body.type).toMatch(/csrf/);
    admin.csrf = "wrong-token";
    expect((await admin.post("/api/pbxs", { name: "Wrong CSRF" })).status).toBe(403);
    admin.csrf = csrf;
    expect((await admin.post("/api/pbxs", { name: "With CSRF" })).status).toBe(201);
  });

  it("refuses writes from another origin", async () => {
    const admin = await ApiClient.registered();
    const res = await admin.post("/api/pbxs", { name: "Evil" }, { origin: "https://evil.example" });
    expect(res.status).toBe(403);
  });

  it("throttles logins: the fifth wrong password locks the login for 15 minutes, even with the right one", async () => {
    const admin = await ApiClient.registered();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(
        (await new ApiClient().post("/api/auth/login", { email: admin.email, password: "wrong password!" })).status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    const locked = await new ApiClient().post("/api/auth/login", { email: admin.email, password: PASSWORD });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(800);
  });

  it("throttles one address trying many logins, without locking out other addresses", async () => {
    const admin = await ApiClient.registered();
    const attacker = new ApiClient();
    attacker.address = "203.0.113.77";
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      statuses.push(
        (await attacker.post("/api/auth/login", { email: uniqueEmail("spray"), password: "guess guess guess" })).status,
      );
    }
    expect(statuses.slice(0, 29).every((s) => s === 401)).toBe(true);
    expect(statuses[29]).toBe(429);
    expect((await attacker.post("/api/auth/login", { email: admin.email, password: PASSWORD })).status).toBe(429);
    expect((await new ApiClient().post("/api/auth/login", { email: admin.email, password: PASSWORD })).status).toBe(
      200,
    );
  });

  it("answers an unknown email exactly like a wrong password", async () => {
    const res = await new ApiClient().post("/api/auth/login", { email: uniqueEmail("ghost"), password: PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.detail).toBe("The email or password is wrong.");
  });
});

describe("password recovery over SMTP", () => {
  it("mails a single-use reset token that sets a new password and ends old sessions", async () => {
    const admin = await ApiClient.registered();
    const res = await new ApiClient().post("/api/auth/recover", { email: admin.email });
    expect(res.status).toBe(202);

    const mail = (await receivedMail()).find((m) => m.to.includes(admin.email));
    expect(mail?.subject).toBe("Reset your EdgePBX password");
    const token = mail?.text.match(/reset\?token=([A-Za-z0-9_-]+)/)?.[1];
    expect(token).toBeTruthy();

    const newPassword = "a brand new passphrase";
    const reset = await new ApiClient().post("/api/auth/reset", { token, password: newPassword });
    expect(reset.status).toBe(200);
    expect((await admin.get("/api/me")).status).toBe(401); // the old session ended
    expect((await new ApiClient().post("/api/auth/login", { email: admin.email, password: PASSWORD })).status).toBe(
      401,
    );
    expect((await new ApiClient().post("/api/auth/login", { email: admin.email, password: newPassword })).status).toBe(
      200,
    );

    const reuse = await new ApiClient().post("/api/auth/reset", { token, password: "yet another passphrase" });
    expect(reuse.status).toBe(400);
  });

  it("refuses an expired token", async () => {
    const admin = await ApiClient.registered();
    await new ApiClient().post("/api/auth/recover", { email: admin.email });
    const mail = (await receivedMail()).find((m) => m.to.includes(admin.email));
    const token = mail?.text.match(/reset\?token=([A-Za-z0-9_-]+)/)?.[1];
    await runInDurableObject(typedEnv.DIRECTORY.get(typedEnv.DIRECTORY.idFromName("directory")), (_o, state) => {
      state.storage.sql.exec("UPDATE recovery_tokens SET expires_at = ?", Date.now() - 1000);
    });
    const res = await new ApiClient().post<{ detail: string }>("/api/auth/reset", {
      token,
      password: "too late passphrase",
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/expired/);
  });

  it("sends at most three recovery mails per mailbox in 15 minutes, answering the same way", async () => {
    const admin = await ApiClient.registered();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await new ApiClient().post("/api/auth/recover", { email: admin.email })).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202]);
    expect((await receivedMail()).filter((m) => m.to.includes(admin.email))).toHaveLength(3);
  });

  it("gives the same answer for an address without a login and sends nothing", async () => {
    const ghost = uniqueEmail("ghost");
    const res = await new ApiClient().post("/api/auth/recover", { email: ghost });
    expect(res.status).toBe(202);
    expect((await receivedMail()).some((m) => m.to.includes(ghost))).toBe(false);
  });
});
