import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { Problem } from "../../http/problem.ts";

/**
 * Browsers send Origin on cross-site writes; refuse those that are not from this portal.
 * Programs (no Origin) pass and are held to bearer tokens or the CSRF header instead.
 */
export function sameOrigin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const origin = c.req.header("origin");
    if (origin && c.req.method !== "GET" && c.req.method !== "HEAD") {
      const allowed = new Set([new URL(c.req.url).origin, new URL(c.env.PORTAL_URL).origin]);
      if (!allowed.has(origin))
        throw new Problem(403, "cross-origin", "Cross-origin request refused", `Origin ${origin} is not allowed.`);
    }
    await next();
  };
}
