import { app } from "./app.ts";
import type { Env } from "./env.ts";

export { DirectoryObject } from "./directory/DirectoryObject.ts";
export { NodeHubObject } from "./nodes/NodeHubObject.ts";
export { PbxObject } from "./pbx/PbxObject.ts";

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
