import type { MiddlewareHandler } from "hono";
import { timingSafeEqualText } from "../../../shared/crypto/password.ts";
import type { AppEnv } from "../../app-env.ts";
import { problems } from "../../http/problem.ts";

/**
 * Media nodes only: `Authorization: Bearer <MEDIA_NODE_TOKEN>`. Portal sessions and API tokens
 * do not pass; with no token configured, nothing does.
 */
export function requireNodeToken(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = c.req.header("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? "";
    if (!c.env.MEDIA_NODE_TOKEN || !timingSafeEqualText(token, c.env.MEDIA_NODE_TOKEN))
      throw problems.unauthenticated("A media node must present its node token.");
    await next();
  };
}
