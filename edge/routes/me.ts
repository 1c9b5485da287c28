import { Hono } from "hono";
import { MeUpdate, type SoftphoneSettings } from "../../shared/accounts/schema.ts";
import { hashPassword, verifyPassword } from "../../shared/crypto/password.ts";
import type { AppEnv } from "../app-env.ts";
import { directory, pbxObject } from "../env.ts";
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

/**
 * The softphone of the logged-in user: where and as what SIP.js registers. The extension must
 * be live (in the applied configuration, which is what the media node serves); the password
 * never leaves the edge, only the digest HA1 SIP.js can answer challenges with.
 */
meRoutes.get("/softphone", async (c) => {
  const { user } = c.var.principal;
  const link = user.softphone;
  const none = () =>
    new Problem(
      404,
      "no-softphone",
      "No softphone",
      "You are not linked to an extension. Ask your Administrator to link you to one under Portal Users.",
    );
  if (!link) throw none();
  const service = await directory(c.env).getService(link.pbxId);
  if (!service || service.accountId !== user.accountId) throw none();
  const live = await pbxObject(c.env, service.id).liveExtension(link.extension);
  if (!live)
    throw new Problem(
      404,
      "softphone-not-live",
      "Extension not live yet",
      `Extension ${link.extension} is not in the applied configuration of ${service.name}: apply the PBX's changes first.`,
    );
  const settings: SoftphoneSettings = {
    wsUrl: c.env.SIP_WS_URL,
    domain: live.sipDomain,
    pbxId: service.id,
    extension: live.extension.number,
    displayName: live.extension.name,
    username: live.extension.sip.username,
    ha1: live.extension.sip.ha1Md5,
    directory: live.directory,
  };
  return c.json(settings);
});
