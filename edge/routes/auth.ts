import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { LoginInput, RecoverInput, RegisterInput, ResetInput } from "../../shared/accounts/schema.ts";
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from "../../shared/crypto/password.ts";
import type { AppEnv } from "../app-env.ts";
import { attemptKey } from "../directory/DirectoryObject.ts";
import { directory } from "../env.ts";
import { Problem, parseBody, problems } from "../http/problem.ts";
import { recoveryMail, sendMail } from "../mail/mailer.ts";
import { SESSION_COOKIE } from "../middleware/auth/index.ts";

/** Register, log in and out, and recover a forgotten password ("Having trouble signing in"). */
export const authRoutes = new Hono<AppEnv>();

authRoutes.post("/register", async (c) => {
  const input = parseBody(RegisterInput, await c.req.json().catch(() => null));
  const { password, ...details } = input;
  const user = await directory(c.env).register({ ...details, passwordHash: await hashPassword(password) });
  if ("error" in user)
    throw new Problem(409, "email-taken", "Email already registered", "Log in, or use Having trouble signing in.", {
      errors: [{ field: "email", message: "is already registered" }],
    });
  const session = await directory(c.env).createSession(user.id);
  startSession(c, session.token, session.expiresAt);
  return c.json({ user, csrfToken: session.csrf, expiresAt: new Date(session.expiresAt).toISOString() }, 201);
});

authRoutes.post("/login", async (c) => {
  const { email, password } = parseBody(LoginInput, await c.req.json().catch(() => null));
  const dir = directory(c.env);
  const key = attemptKey("email", email);
  const address = attemptKey("address", c.req.header("cf-connecting-ip") ?? "local");
  const locked = Math.max(await dir.lockedFor(key), await dir.lockedFor(address));
  if (locked > 0) throw problems.tooManyRequests(Math.ceil(locked / 1000));
  const found = await dir.loginLookup(email);
  // Verify against a dummy hash for unknown users so the answer takes as long either way.
  const ok = await verifyPassword(password, found?.passwordHash ?? DUMMY_PASSWORD_HASH);
  if (!found || !ok) {
    const lock = Math.max(await dir.recordAttempt(key), await dir.recordAttempt(address));
    if (lock > 0) throw problems.tooManyRequests(Math.ceil(lock / 1000));
    throw new Problem(401, "bad-credentials", "Login failed", "The email or password is wrong.");
  }
  if (found.user.status !== "active")
    throw new Problem(403, "inactive", "User inactive", "This portal user is inactive. Ask your administrator.");
  if (found.user.role === "apiUser")
    throw new Problem(403, "api-user", "API users use tokens", "API users authenticate with an API token (Bearer).");
  await dir.clearAttempts(key);
  const session = await dir.createSession(found.user.id);
  startSession(c, session.token, session.expiresAt);
  return c.json({ user: found.user, csrfToken: session.csrf, expiresAt: new Date(session.expiresAt).toISOString() });
});

authRoutes.post("/logout", async (c) => {
  const token = getCookie(c, SESSION_COOKIE);
  if (token) await directory(c.env).endSession(token);
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
  return c.body(null, 204);
});

authRoutes.post("/recover", async (c) => {
  const { email } = parseBody(RecoverInput, await c.req.json().catch(() => null));
  const dir = directory(c.env);
  // A few mails per mailbox per window; beyond that the answer is the same but nothing is sent.
  const flooded = (await dir.lockedFor(attemptKey("recover", email))) > 0;
  const recovery = flooded ? null : await dir.createRecovery(email);
  if (!flooded) await dir.recordAttempt(attemptKey("recover", email));
  if (recovery) {
    try {
      await sendMail(c.env, recoveryMail(c.env.PORTAL_URL, recovery.user.email, recovery.token));
    } catch (error) {
      // The address and token stay out of the log.
      console.error(`recovery mail not sent: ${(error as Error).message}`);
    }
  }
  // The same answer whether or not the address has a login, so nobody can probe for users.
  return c.json({ detail: "If that email has a portal login, a reset link is on its way." }, 202);
});

authRoutes.post("/reset", async (c) => {
  const { token, password } = parseBody(ResetInput, await c.req.json().catch(() => null));
  const result = await directory(c.env).consumeRecovery(token, await hashPassword(password));
  if ("error" in result)
    throw new Problem(
      400,
      "recovery-token",
      "Reset link not valid",
      result.error === "expired"
        ? "This reset link has expired. Ask for a new one."
        : "This reset link was already used or is wrong.",
      { errors: [{ field: "token", message: result.error === "expired" ? "has expired" : "is not valid" }] },
    );
  return c.json({ detail: "Your password was changed. Log in with the new password." });
});

function startSession(c: Parameters<typeof setCookie>[0], token: string, expiresAt: number): void {
  setCookie(c, SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    sameSite: "Strict",
    secure: new URL(c.req.url).protocol === "https:",
    maxAge: Math.floor((expiresAt - Date.now()) / 1000),
  });
}
