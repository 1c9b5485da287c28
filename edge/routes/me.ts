import { Hono } from "hono";
import { MeUpdate } from "../../shared/accounts/schema.ts";
import type { AppEnv } from "../app-env.ts";
import { hashPassword, verifyPassword } from "../crypto/password.ts";
import { directory } from "../env.ts";
import { Problem, parseBody, problems } from "../http/problem.ts";
import { requireAuth } from "../middleware/auth/index.ts";

/** My Account: contact details, notification preferences and the user's own password. */
export const meRoutes = new Hono<AppEnv>();
meRoutes.use("*", requireAuth());

meRoutes.get("/", (c) => {
  const { user, via, csrf } = c.var.principal;
  return c.json({ user, via, ...(csrf ? { csrfToken: csrf } : {}) });
});

meRoutes.patch("/", async (c) => {
  const input = parseBody(MeUpdate, await c.req.json().catch(() => null));
  const { user } = c.var.principal;
  const dir = directory(c.env);
  const { password, currentPassword, ...details } = input;
  let passwordHash: string | undefined;
  if (password !== undefined) {
    const found = await dir.loginLookup(user.email);
    if (!currentPassword || !found?.passwordHash || !(await verifyPassword(currentPassword, found.passwordHash)))
      throw new Problem(
        403,
        "current-password",
        "Current password needed",
        "Enter your current password to set a new one.",
        {
          errors: [{ field: "currentPassword", message: "is wrong" }],
        },
      );
    passwordHash = await hashPassword(password);
  }
  const updated = await dir.updateUser(user.id, { ...details, ...(passwordHash ? { passwordHash } : {}) });
  if ("error" in updated) throw problems.notFound("Your user");
  return c.json({ user: updated });
});
