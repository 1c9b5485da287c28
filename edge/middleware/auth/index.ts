import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { type AccountPower, rolePowers, type ServiceAction } from "../../../shared/accounts/schema.ts";
import { timingSafeEqualText } from "../../../shared/crypto/password.ts";
import type { AppEnv } from "../../app-env.ts";
import type { ServiceRecord } from "../../directory/DirectoryObject.ts";
import { directory } from "../../env.ts";
import { Problem, problems } from "../../http/problem.ts";

export const SESSION_COOKIE = "edgepbx_session";
export const CSRF_HEADER = "x-csrf-token";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Who is calling: a portal session (HttpOnly cookie, plus the CSRF header on writes) or an
 * API token (Authorization: Bearer). Inactive users are refused on every request.
 */
export function requireAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const authorization = c.req.header("authorization");
    const bearer = authorization?.match(/^Bearer\s+(\S{10,200})$/i)?.[1];
    const session = bearer ? undefined : getCookie(c, SESSION_COOKIE);
    if (!bearer && !session) throw problems.unauthenticated();
    const principal = await directory(c.env).authenticate(bearer ? { bearer } : { session });
    if (!principal) throw problems.unauthenticated("Your session has ended or your access was revoked. Log in again.");
    if (principal.via === "session" && UNSAFE.has(c.req.method)) {
      const sent = c.req.header(CSRF_HEADER) ?? "";
      if (!principal.csrf || !timingSafeEqualText(sent, principal.csrf))
        throw new Problem(403, "csrf", "Missing CSRF token", `Send the ${CSRF_HEADER} header you received at login.`);
    }
    c.set("principal", principal);
    await next();
  };
}

export function requirePower(c: Context<AppEnv>, power: AccountPower): void {
  if (!rolePowers(c.var.principal.user.role).account.includes(power)) throw problems.forbidden();
}

/** What the caller may do to one service; empty when it is not theirs to see. */
export function serviceActions(c: Context<AppEnv>, service: ServiceRecord | null): ServiceAction[] {
  const { user } = c.var.principal;
  if (!service || service.accountId !== user.accountId) return [];
  const powers = rolePowers(user.role);
  if (!powers.allServices && !user.services.includes(service.id)) return [];
  return user.role === "serviceUser" ? user.actions : powers.actions;
}

/** Loads a service the caller may act on, or answers 404 (not theirs) / 403 (not this action). */
export async function requireService(c: Context<AppEnv>, pbxId: string, action: ServiceAction): Promise<ServiceRecord> {
  const service = await directory(c.env).getService(pbxId);
  const actions = serviceActions(c, service);
  if (!service || actions.length === 0) throw problems.notFound(`PBX ${pbxId}`);
  if (!actions.includes(action)) throw problems.forbidden(`Your access to this PBX does not include "${action}".`);
  return service;
}
