import { type Context, Hono } from "hono";
import { type SoftphoneLink, TokenCreate, UserCreate, UserUpdate } from "../../shared/accounts/schema.ts";
import { hashPassword } from "../../shared/crypto/password.ts";
import type { AppEnv } from "../app-env.ts";
import type { UserRecord } from "../directory/DirectoryObject.ts";
import { directory, pbxObject } from "../env.ts";
import { Problem, parseBody, problems } from "../http/problem.ts";
import { requireAuth, requirePower } from "../middleware/auth/index.ts";

/** My Admin → Portal Users, and the API tokens of API users. */
export const userRoutes = new Hono<AppEnv>();
userRoutes.use("*", requireAuth());

userRoutes.get("/", async (c) => {
  requirePower(c, "manageUsers");
  return c.json({ users: await directory(c.env).listUsers(c.var.principal.user.accountId) });
});

userRoutes.post("/", async (c) => {
  requirePower(c, "manageUsers");
  const input = parseBody(UserCreate, await c.req.json().catch(() => null));
  if (input.role !== "apiUser" && !input.password)
    throw problems.invalid([{ field: "password", message: "is required for users who log in to the portal" }]);
  await checkSoftphone(c, input.softphone);
  const { password, ...rest } = input;
  const created = await directory(c.env).createUser(c.var.principal.user.accountId, {
    ...rest,
    passwordHash: password ? await hashPassword(password) : null,
  });
  if ("error" in created) throw userProblem(created);
  return c.json({ user: created }, 201);
});

userRoutes.get("/:id", async (c) => c.json({ user: await ownUser(c, c.req.param("id"), "manageUsers") }));

userRoutes.patch("/:id", async (c) => {
  const target = await ownUser(c, c.req.param("id"), "manageUsers");
  const input = parseBody(UserUpdate, await c.req.json().catch(() => null));
  const demotesAdmin =
    target.role === "administrator" &&
    target.status === "active" &&
    ((input.role && input.role !== "administrator") || input.status === "inactive");
  if (demotesAdmin && (await directory(c.env).countAdministrators(target.accountId)) <= 1)
    throw problems.conflict("last-administrator", "An account needs at least one active Administrator.");
  await checkSoftphone(c, input.softphone);
  const { password, ...rest } = input;
  const updated = await directory(c.env).updateUser(target.id, {
    ...rest,
    ...(password ? { passwordHash: await hashPassword(password) } : {}),
  });
  if ("error" in updated) throw userProblem(updated);
  return c.json({ user: updated });
});

userRoutes.delete("/:id", async (c) => {
  const target = await ownUser(c, c.req.param("id"), "manageUsers");
  if (
    target.role === "administrator" &&
    target.status === "active" &&
    (await directory(c.env).countAdministrators(target.accountId)) <= 1
  )
    throw problems.conflict("last-administrator", "An account needs at least one active Administrator.");
  await directory(c.env).deleteUser(target.id);
  return c.body(null, 204);
});

// API tokens: an administrator issues them for API users; they are shown once.
userRoutes.get("/:id/tokens", async (c) => {
  const target = await ownUser(c, c.req.param("id"), "manageUsers", true);
  return c.json({ tokens: await directory(c.env).listTokens(target.id) });
});

userRoutes.post("/:id/tokens", async (c) => {
  const target = await ownUser(c, c.req.param("id"), "manageUsers");
  if (target.role !== "apiUser") throw problems.conflict("not-api-user", "API tokens are for API users.");
  const { name } = parseBody(TokenCreate, await c.req.json().catch(() => null));
  const { token, record } = await directory(c.env).createToken(target.id, name);
  return c.json({ token, ...record }, 201);
});

userRoutes.delete("/:id/tokens/:tokenId", async (c) => {
  const target = await ownUser(c, c.req.param("id"), "manageUsers", true);
  if (!(await directory(c.env).revokeToken(target.id, c.req.param("tokenId")))) throw problems.notFound("That token");
  return c.body(null, 204);
});

/** A user of the caller's own account; other tenants' users are simply not found. */
async function ownUser(c: Context<AppEnv>, id: string, power: "manageUsers", selfAllowed = false): Promise<UserRecord> {
  const me = c.var.principal.user;
  if (!(selfAllowed && id === me.id)) requirePower(c, power);
  const user = await directory(c.env).getUser(id);
  if (!user || user.accountId !== me.accountId) throw problems.notFound("That user");
  return user;
}

/** A softphone link names an extension of one of the account's PBXs (in its draft configuration). */
async function checkSoftphone(c: Context<AppEnv>, link: SoftphoneLink | null | undefined): Promise<void> {
  if (!link) return;
  const service = await directory(c.env).getService(link.pbxId);
  if (!service || service.accountId !== c.var.principal.user.accountId)
    throw problems.invalid([{ field: "softphone.pbxId", message: "is not a PBX of this account" }]);
  const { config } = await pbxObject(c.env, service.id).getDraft();
  if (!config.extensions.some((e) => e.number === link.extension))
    throw problems.invalid([{ field: "softphone.extension", message: "is not an extension of that PBX" }]);
}

function userProblem(result: { error: string; detail?: string }): Problem {
  if (result.error === "emailTaken")
    return new Problem(409, "email-taken", "Email already used", "Another portal user has this email.", {
      errors: [{ field: "email", message: "is already used" }],
    });
  if (result.error === "unknownSoftphonePbx")
    return problems.invalid([{ field: "softphone.pbxId", message: "is not a PBX of this account" }]);
  if (result.error === "unknownService")
    return problems.invalid([{ field: "services", message: result.detail ?? "unknown service" }]);
  return problems.notFound("That user");
}
