import { type Context, Hono } from "hono";
import { z } from "zod";
import { PbxCreate, PbxUpdate } from "../../shared/accounts/schema.ts";
import { ForwardAllUpdate, isCollectionName } from "../../shared/index.ts";
import { serveAnnouncementAudio, storeAnnouncementAudio } from "../announcements/audio.ts";
import type { AppEnv } from "../app-env.ts";
import { directory, nodeHub, pbxObject } from "../env.ts";
import { Problem, parseBody, problems, zodFieldErrors } from "../http/problem.ts";
import { requireAuth, requirePower, requireService, serviceActions } from "../middleware/auth/index.ts";
import type { Section } from "../pbx/entities.ts";
import type { ApplyResult, EditRequest, EditResult } from "../pbx/PbxObject.ts";

/** My Services (PBXs), each PBX's configuration, and View PBX Changes. */
export const pbxRoutes = new Hono<AppEnv>();
pbxRoutes.use("*", requireAuth());

const actorOf = (c: Context<AppEnv>) => ({ id: c.var.principal.user.id, email: c.var.principal.user.email });

// ---- services ----

pbxRoutes.get("/", async (c) => {
  const services = await directory(c.env).listServices(c.var.principal.user.accountId);
  const visible = services.map((s) => ({ ...s, actions: serviceActions(c, s) })).filter((s) => s.actions.length > 0);
  return c.json({ pbxs: visible });
});

pbxRoutes.post("/", async (c) => {
  requirePower(c, "manageServices");
  const { name } = parseBody(PbxCreate, await c.req.json().catch(() => null));
  const service = await directory(c.env).createService(c.var.principal.user.accountId, name);
  const { version } = await pbxObject(c.env, service.id).init(
    service.id,
    `${service.id}.${c.env.SIP_DOMAIN_SUFFIX}`,
    actorOf(c),
  );
  return c.json({ pbx: { ...service, actions: serviceActions(c, service), appliedVersion: version } }, 201);
});

pbxRoutes.get("/:pbx", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  const draft = await pbxObject(c.env, service.id).getDraft();
  const applied = await pbxObject(c.env, service.id).getApplied();
  c.header("etag", draft.etag);
  return c.json({
    pbx: { ...service, actions: serviceActions(c, service) },
    appliedVersion: applied?.version ?? null,
    appliedAt: applied?.appliedAt ?? null,
    pendingChanges: draft.pending,
    sipDomain: draft.config.settings.sipDomain,
    channels: draft.config.settings.channels,
  });
});

pbxRoutes.patch("/:pbx", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  requirePower(c, "manageServices");
  const { name } = parseBody(PbxUpdate, await c.req.json().catch(() => null));
  const renamed = await directory(c.env).renameService(service.id, name);
  return c.json({ pbx: renamed });
});

pbxRoutes.delete("/:pbx", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  requirePower(c, "manageServices");
  await directory(c.env).deleteService(service.id);
  await pbxObject(c.env, service.id).destroy();
  await nodeHub(c.env).remove(service.id);
  return c.body(null, 204);
});

// ---- whole configuration ----

pbxRoutes.get("/:pbx/config", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  const which = c.req.query("version") ?? "draft";
  const pbx = pbxObject(c.env, service.id);
  if (which === "draft") {
    const draft = await pbx.getDraft();
    c.header("etag", draft.etag);
    return c.json({ version: "draft", pendingChanges: draft.pending, config: draft.config });
  }
  const number = which === "applied" ? undefined : Number(which);
  if (number !== undefined && !(Number.isInteger(number) && number > 0))
    throw problems.badRequest('version must be "draft", "applied" or a version number');
  const applied = await pbx.getApplied(number);
  if (!applied) throw problems.notFound(`Version ${which}`);
  return c.json(applied);
});

pbxRoutes.put("/:pbx/config", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "edit");
  const body = await jsonBody(c);
  const result = await pbxObject(c.env, service.id).replaceDraft(
    (body as { config?: unknown })?.config ?? body,
    c.req.header("if-match") ?? null,
    actorOf(c),
  );
  return editResponse(c, result, 200);
});

// ---- View PBX Changes ----

pbxRoutes.get("/:pbx/changes", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  const changes = await pbxObject(c.env, service.id).changes();
  c.header("etag", changes.etag);
  return c.json(changes);
});

pbxRoutes.delete("/:pbx/changes", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "edit");
  const { etag } = await pbxObject(c.env, service.id).discard();
  c.header("etag", etag);
  return c.body(null, 204);
});

const ApplyInput = z.object({ note: z.string().trim().max(500).optional() }).default({});

pbxRoutes.post("/:pbx/apply", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "apply");
  const { note } = parseBody(ApplyInput, await optionalJsonBody(c));
  const result = await pbxObject(c.env, service.id).apply(actorOf(c), note ?? null, c.req.header("if-match") ?? null);
  return applyResponse(c, result);
});

pbxRoutes.get("/:pbx/history", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  return c.json({ versions: await pbxObject(c.env, service.id).history() });
});

pbxRoutes.get("/:pbx/history/:version", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  const version = Number(c.req.param("version"));
  const details = Number.isInteger(version) ? await pbxObject(c.env, service.id).versionDetails(version) : null;
  if (!details) throw problems.notFound(`Version ${c.req.param("version")}`);
  return c.json(details);
});

const RevertInput = z.object({ version: z.number().int().positive(), discardPending: z.boolean().default(false) });

pbxRoutes.post("/:pbx/revert", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "apply");
  const { version, discardPending } = parseBody(RevertInput, await jsonBody(c));
  const result = await pbxObject(c.env, service.id).revert(version, actorOf(c), discardPending);
  return applyResponse(c, result);
});

// ---- call records (reported by media nodes) ----

const CallsQuery = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  number: z
    .string()
    .regex(/^\+?[0-9*#]{1,20}$/, "must be digits")
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

pbxRoutes.get("/:pbx/calls", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  const query = CallsQuery.safeParse(c.req.query());
  if (!query.success) throw problems.invalid(zodFieldErrors(query.error));
  const { from, to, number, limit } = query.data;
  const calls = await pbxObject(c.env, service.id).listCalls({
    ...(from ? { from: new Date(from).toISOString() } : {}),
    ...(to ? { to: new Date(to).toISOString() } : {}),
    ...(number ? { number } : {}),
    limit,
  });
  return c.json({ calls });
});

// ---- the fax log (reported by media nodes: faxes received and sent) ----

const FaxesQuery = CallsQuery.extend({ direction: z.enum(["inbound", "outbound"]).optional() });

pbxRoutes.get("/:pbx/faxes", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  const query = FaxesQuery.safeParse(c.req.query());
  if (!query.success) throw problems.invalid(zodFieldErrors(query.error));
  const { from, to, number, direction, limit } = query.data;
  const faxes = await pbxObject(c.env, service.id).listFaxes({
    ...(from ? { from: new Date(from).toISOString() } : {}),
    ...(to ? { to: new Date(to).toISOString() } : {}),
    ...(number ? { number } : {}),
    ...(direction ? { direction } : {}),
    limit,
  });
  return c.json({ faxes });
});

// ---- Conference rooms in progress: who is in each room now, as the media nodes report it ----

pbxRoutes.get("/:pbx/conference-rooms/live", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  return c.json({ rooms: await nodeHub(c.env).conferenceParticipants(service.id) });
});

// ---- Announcement recordings: an uploaded WAV or MP3 plays instead of the spoken message ----

/** PUT bodies here are audio files, not JSON (app.ts lets them past the JSON size limit). */
export function isAnnouncementUpload(method: string, path: string): boolean {
  return method === "PUT" && /^\/api\/pbxs\/[^/]+\/announcements\/[^/]+\/audio$/.test(path);
}

pbxRoutes.put("/:pbx/announcements/:id/audio", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "edit");
  const audio = await storeAnnouncementAudio(c.env.AUDIO, service.id, {
    contentType: c.req.header("content-type"),
    fileName: c.req.query("name"),
    body: await c.req.arrayBuffer(),
  });
  // A draft change like any other: it plays once applied, and View PBX Changes shows it.
  const result = await pbxObject(c.env, service.id).edit({
    section: "announcements",
    action: "patch",
    id: c.req.param("id"),
    body: {},
    ifMatch: c.req.header("if-match") ?? null,
    actor: actorOf(c),
    uploadedAudio: audio,
  });
  return editResponse(c, result, 200);
});

pbxRoutes.delete("/:pbx/announcements/:id/audio", (c) =>
  edit(c, "announcements", "patch", c.req.param("id"), { audio: null }),
);

pbxRoutes.get("/:pbx/announcements/:id/audio", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  const shown = await pbxObject(c.env, service.id).getEntity("announcements", c.req.param("id"));
  const audio = (shown?.entity as { audio?: { sha256: string } | null } | undefined)?.audio;
  if (!audio) throw problems.notFound("An uploaded recording of that announcement");
  return serveAnnouncementAudio(c.env.AUDIO, service.id, audio.sha256);
});

// ---- Call Forward All: runtime state a phone sets by dial code; the portal shows and sets it too ----

pbxRoutes.get("/:pbx/forward-all", async (c) => {
  const service = await requireService(c, c.req.param("pbx"), "view");
  return c.json({ items: await pbxObject(c.env, service.id).listForwardAll() });
});

pbxRoutes.put("/:pbx/forward-all/:route", async (c) => {
  // Takes effect at once, like Apply.
  const service = await requireService(c, c.req.param("pbx"), "apply");
  const { destination } = parseBody(ForwardAllUpdate, await jsonBody(c));
  const route = c.req.param("route");
  const result = await pbxObject(c.env, service.id).setForwardAll(route, destination, `portal (${actorOf(c).email})`);
  if (!result.ok && result.reason === "no-route")
    throw problems.notFound(`call route ${route} (in the applied configuration)`);
  if (!result.ok)
    throw problems.conflict(
      "forward-all-disabled",
      "Enable Forward All is not ticked on this route in the applied configuration: tick it and Apply first.",
    );
  return c.json(result.entry);
});

// ---- singletons: add-ons and settings ----

for (const section of ["addons", "settings"] as const) {
  pbxRoutes.get(`/:pbx/${section}`, async (c) => {
    const service = await requireService(c, c.req.param("pbx"), "view");
    const found = await pbxObject(c.env, service.id).getEntity(section);
    if (!found) throw problems.notFound(section);
    c.header("etag", found.etag);
    return c.json({ ...(found.entity as object), etag: found.etag });
  });
  for (const method of ["put", "patch"] as const) {
    pbxRoutes[method](`/:pbx/${section}`, async (c) => {
      const body = await jsonBody(c);
      if (section === "settings") await keepProviderSettings(c, body);
      return edit(c, section, method === "put" ? "replace" : "patch", undefined, body);
    });
  }
}

/**
 * The channel count is what the provider sells ("contact your administrator", says the guide):
 * a customer's edit may repeat it but not change it.
 */
async function keepProviderSettings(c: Context<AppEnv>, body: unknown): Promise<void> {
  if (typeof body !== "object" || body === null || !("channels" in body)) return;
  const service = await requireService(c, c.req.param("pbx") ?? "", "edit");
  const current = await pbxObject(c.env, service.id).getEntity("settings");
  const channels = (current?.entity as { channels?: unknown } | undefined)?.channels;
  if ((body as { channels: unknown }).channels === channels) return;
  throw new Problem(403, "forbidden", "Forbidden", "The channel count is set by your provider.", {
    errors: [{ field: "channels", message: "is set by your provider; contact your administrator to change it" }],
  });
}

// ---- entity collections: /extensions, /call-routes, /blacklist, … ----

pbxRoutes.get("/:pbx/:collection", async (c) => {
  const section = collectionOf(c);
  const service = await requireService(c, c.req.param("pbx"), "view");
  const { items, etag } = await pbxObject(c.env, service.id).listEntities(section);
  c.header("etag", etag);
  return c.json({ items });
});

pbxRoutes.post("/:pbx/:collection", async (c) => edit(c, collectionOf(c), "create", undefined, await jsonBody(c)));

pbxRoutes.get("/:pbx/:collection/:id", async (c) => {
  const section = collectionOf(c);
  const service = await requireService(c, c.req.param("pbx"), "view");
  const found = await pbxObject(c.env, service.id).getEntity(section, c.req.param("id"));
  if (!found) throw problems.notFound(`${section} ${c.req.param("id")}`);
  c.header("etag", found.etag);
  return c.json({ ...(found.entity as object), etag: found.etag });
});

pbxRoutes.put("/:pbx/:collection/:id", async (c) =>
  edit(c, collectionOf(c), "replace", c.req.param("id"), await jsonBody(c)),
);
pbxRoutes.patch("/:pbx/:collection/:id", async (c) =>
  edit(c, collectionOf(c), "patch", c.req.param("id"), await jsonBody(c)),
);
pbxRoutes.delete("/:pbx/:collection/:id", async (c) =>
  edit(c, collectionOf(c), "delete", c.req.param("id"), undefined),
);

// ---- helpers ----

function collectionOf(c: Context<AppEnv>) {
  const name = c.req.param("collection") ?? "";
  if (!isCollectionName(name)) throw problems.notFound(`The collection ${name}`);
  return name;
}

async function edit(
  c: Context<AppEnv>,
  section: Section,
  action: EditRequest["action"],
  id: string | undefined,
  body: unknown,
): Promise<Response> {
  const service = await requireService(c, c.req.param("pbx") ?? "", "edit");
  const result = await pbxObject(c.env, service.id).edit({
    section,
    action,
    ...(id !== undefined ? { id } : {}),
    body,
    ifMatch: c.req.header("if-match") ?? null,
    actor: actorOf(c),
  });
  return editResponse(c, result, action === "create" ? 201 : 200);
}

function editResponse(c: Context<AppEnv>, result: EditResult, status: 200 | 201): Response {
  if (!result.ok) {
    switch (result.error) {
      case "notFound":
        throw problems.notFound("That item");
      case "stale":
        throw problems.conflict(
          "stale",
          "Someone changed this since you loaded it. Nothing was saved; reload and make your change again.",
          { currentEtag: result.etag, current: result.current },
        );
      case "inUse":
        throw problems.conflict("in-use", "Other settings still use this item.", { errors: result.errors });
      case "invalid":
        throw problems.invalid(result.errors);
    }
  }
  c.header("x-draft-etag", result.draftEtag);
  if (result.entity === null) return c.body(null, 204);
  c.header("etag", result.etag);
  const generated = Object.keys(result.secrets).length > 0 ? { generatedSecrets: result.secrets } : {};
  return c.json({ ...(result.entity as object), etag: result.etag, ...generated }, status);
}

function applyResponse(c: Context<AppEnv>, result: ApplyResult): Response {
  if (result.ok) return c.json(result, 201);
  switch (result.error) {
    case "nothingToApply":
      throw problems.conflict("nothing-to-apply", "There are no pending changes to apply.");
    case "pendingChanges":
      throw problems.conflict(
        "pending-changes",
        "There are pending changes. Apply or discard them first, or send discardPending: true.",
      );
    case "notFound":
      throw problems.notFound("That version");
    case "stale":
      throw problems.conflict("stale", "The pending changes changed since you viewed them. Review them again.", {
        currentEtag: result.etag,
      });
    case "invalid":
      throw problems.invalid(result.errors, "The pending configuration is not valid; fix it before applying.");
  }
}

async function jsonBody(c: Context<AppEnv>): Promise<unknown> {
  const text = await c.req.text();
  if (text.length > 1_000_000) throw new Problem(413, "too-large", "Body too large", "Send at most 1 MB.");
  try {
    return JSON.parse(text);
  } catch {
    throw problems.badRequest("The body is not valid JSON.");
  }
}

async function optionalJsonBody(c: Context<AppEnv>): Promise<unknown> {
  const text = await c.req.text();
  return text.trim() === "" ? undefined : jsonBodyFromText(text);
}

function jsonBodyFromText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw problems.badRequest("The body is not valid JSON.");
  }
}
