import type { Principal } from "./directory/DirectoryObject.ts";
import type { Env } from "./env.ts";

/** Hono's typing for this app: the Worker bindings and what middleware puts on the context. */
export interface AppEnv {
  Bindings: Env;
  Variables: { principal: Principal };
}
