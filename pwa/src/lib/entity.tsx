import { useEffect, useState } from "preact/hooks";
import type { Activity } from "../../../shared/config/activity.ts";
import { contentTag } from "../../../shared/config/hash.ts";
import { AddonsInput, COLLECTIONS, type CollectionName, SettingsInput } from "../../../shared/config/input.ts";
import type { PbxConfig } from "../../../shared/config/schema.ts";
import { ApiError, api } from "./api.ts";
import { checkInput, type Form, type Option, SelectField, TextField } from "./forms.tsx";
import { queueEdit } from "./outbox.ts";
import { cachedPbx, markPending } from "./pbx.tsx";

/** Reading and saving one entity of a PBX collection, with the shared input schema checked first. */

let flashText: string | null = null;

/** A message for the next screen ("Saved…"), shown once. */
export function setFlash(text: string): void {
  flashText = text;
}

export function useFlash(): string | null {
  const [text] = useState(() => {
    const t = flashText;
    flashText = null;
    return t;
  });
  return text;
}

/** The parts of a PBX's configuration that are one object, not a collection. */
export type Singleton = "addons" | "settings";

export interface Loaded<T> {
  entity: T | null;
  etag: string | null;
  error: ApiError | null;
  loading: boolean;
}

/**
 * One entity with its ETag. Offline, it comes from the PBX's last-seen configuration. Entities
 * without secrets read the same redacted as stored, so their ETag is the edge's own (content tag
 * of the entity): an edit is refused later only if that entity changed meanwhile. Extensions and
 * add-ons hold secrets the portal never sees; they take the draft's ETag (refused if anything in
 * the PBX changed).
 */
export function useEntity<T>(pbx: string, collection: CollectionName | Singleton, id: string | null): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ entity: null, etag: null, error: null, loading: id !== null });
  useEffect(() => {
    if (id === null) return;
    const singleton = collection === "addons" || collection === "settings";
    const path = singleton ? `/pbxs/${pbx}/${collection}` : `/pbxs/${pbx}/${collection}/${id}`;
    api<T & { etag?: string }>("GET", path)
      .then(({ data, etag }) =>
        setState({ entity: data, etag: etag ?? data.etag ?? null, error: null, loading: false }),
      )
      .catch(async (error: ApiError) => {
        const cached = error.offline ? await cachedPbx(pbx) : undefined;
        const entity = !cached
          ? undefined
          : singleton
            ? cached.config[collection]
            : (cached.config[COLLECTIONS[collection].key] as { id: string }[]).find((e) => e.id === id);
        if (!cached || !entity) return setState({ entity: null, etag: null, error, loading: false });
        const etag = collection === "extensions" || singleton ? cached.etag : `"e${contentTag(entity)}"`;
        setState({ entity: entity as T, etag, error: null, loading: false });
      });
  }, [pbx, collection, id]);
  return state;
}

export interface Saved {
  id: string;
  /** Kept on this device (offline), to be sent when the network returns. */
  queued?: boolean;
  etag?: string;
  generatedSecrets?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * Creates (id null) or updates an entity. The body is checked with the collection's shared input
 * schema before it is sent; an update carries If-Match so a concurrent edit is refused, not lost.
 */
export async function saveEntity(
  form: Form<never> | Form<unknown>,
  pbx: string,
  collection: CollectionName,
  id: string | null,
  body: Record<string, unknown>,
  etag: string | null,
  label = "",
): Promise<Saved | null> {
  if (checkInput<unknown>(form, COLLECTIONS[collection].input, body) === null) return null;
  try {
    const { data } =
      id === null
        ? await api<Saved>("POST", `/pbxs/${pbx}/${collection}`, body)
        : await api<Saved>("PATCH", `/pbxs/${pbx}/${collection}/${id}`, body, { ifMatch: etag });
    markPending(pbx);
    (form as Form<unknown>).forget();
    return data;
  } catch (error) {
    if (error instanceof ApiError && error.offline) {
      const cached = await cachedPbx(pbx);
      const queued = await queueEdit({
        pbx,
        collection,
        entityId: id,
        method: id === null ? "POST" : "PATCH",
        body,
        // Creates cannot overwrite anything; an update is checked against what it was based on.
        ifMatch: id === null ? null : (etag ?? cached?.etag ?? null),
        label: `${id === null ? "Add" : "Change"} ${label}`.trim(),
      });
      if (!queued) throw error;
      (form as Form<unknown>).forget();
      return { id: id ?? "", queued: true };
    }
    if (error instanceof ApiError && error.status === 409 && error.problem.type?.endsWith("/stale"))
      throw new ApiError(409, {
        ...error.problem,
        detail:
          "Someone else changed this since you opened it, so nothing was saved. Your entries are still here: reload the page to see their version, then make your change again.",
      });
    throw error;
  }
}

const SECTION_INPUT = { addons: AddonsInput, settings: SettingsInput };
const SECTION_NAME = { addons: "Add-ons", settings: "Settings" };

/**
 * PATCH of the add-ons or the settings with If-Match, checked with the shared input schema first.
 * Online only (they are not queued): false when the check failed.
 */
export async function saveSection(
  form: Form<never> | Form<unknown>,
  pbx: string,
  section: Singleton,
  body: unknown,
  etag: string | null,
): Promise<boolean> {
  if (checkInput<unknown>(form, SECTION_INPUT[section], body) === null) return false;
  try {
    await api("PATCH", `/pbxs/${pbx}/${section}`, body, { ifMatch: etag });
  } catch (error) {
    if (error instanceof ApiError && error.offline)
      throw new ApiError(0, {
        detail: `${SECTION_NAME[section]} can only be changed online. Your entries are still here.`,
      });
    throw error;
  }
  markPending(pbx);
  (form as Form<unknown>).forget();
  return true;
}

/** Deletes an entity; offline, the delete is queued like an edit. True when it was queued. */
export async function deleteEntity(
  pbx: string,
  collection: CollectionName,
  id: string,
  etag: string | null = null,
  label = "",
): Promise<boolean> {
  try {
    await api("DELETE", `/pbxs/${pbx}/${collection}/${id}`, undefined, { ifMatch: etag });
    markPending(pbx);
    return false;
  } catch (error) {
    if (!(error instanceof ApiError && error.offline)) throw error;
    const queued = await queueEdit({
      pbx,
      collection,
      entityId: id,
      method: "DELETE",
      ifMatch: etag,
      label: `Delete ${label}`,
    });
    if (!queued) throw error;
    return true;
  }
}

export const QUEUED_NOTICE = "Saved on this device: it is sent to the PBX when you are back online.";

/** "" → null for optional fields the API stores as null. */
export const orNull = (value: unknown): string | null =>
  typeof value === "string" && value.trim() !== "" ? value.trim() : null;

// ---- Activity Type + Activity ----

/** An activity in a few words, for list rows. */
export function describeActivity(activity: Activity, config: PbxConfig): string {
  switch (activity.type) {
    case "extension":
      return `Extension ${activity.extension}`;
    case "voicemail":
      return `Voicemail ${activity.extension}`;
    case "external":
      return `External ${activity.number}`;
    case "ringGroup":
      return `Ring group ${config.ringGroups.find((g) => g.id === activity.ringGroupId)?.name ?? "?"}`;
    case "conference":
      return `Conference ${config.conferenceRooms.find((r) => r.id === activity.conferenceRoomId)?.number ?? "?"}`;
    case "announcement":
      return `Announcement ${config.announcements.find((a) => a.id === activity.announcementId)?.name ?? "?"}`;
    case "hangup":
      return "Hang up";
  }
}

export type ActivityKind = "route" | "final" | "speedDial";

const TYPE_LABELS: Record<Activity["type"], string> = {
  extension: "Extension",
  ringGroup: "Ring Group",
  conference: "Conference (Basic)",
  voicemail: "Voicemail",
  external: "External Phone Number",
  announcement: "Announcement",
  hangup: "Hang Up",
};

const TYPES: Record<ActivityKind, Activity["type"][]> = {
  route: ["extension", "ringGroup", "conference", "voicemail", "announcement", "external", "hangup"],
  final: ["extension", "ringGroup", "conference", "voicemail", "external", "hangup"],
  speedDial: ["external", "conference", "ringGroup", "voicemail"],
};

/** What each activity type points at: the option list for "Activity", from the draft config. */
function targets(type: Activity["type"], config: PbxConfig): { key: string; options: Option[] } | null {
  switch (type) {
    case "extension":
      return {
        key: "extension",
        options: config.extensions.map((e) => ({ value: e.number, label: `${e.number} ${e.name}` })),
      };
    case "voicemail":
      return {
        key: "extension",
        options: config.extensions
          .filter((e) => e.voicemail.enabled)
          .map((e) => ({ value: e.number, label: `${e.number} ${e.name}` })),
      };
    case "ringGroup":
      return {
        key: "ringGroupId",
        options: config.ringGroups.map((g) => ({ value: g.id, label: `${g.number} ${g.name}` })),
      };
    case "conference":
      return {
        key: "conferenceRoomId",
        options: config.conferenceRooms.map((r) => ({ value: r.id, label: `Room ${r.number} ${r.name}` })),
      };
    case "announcement":
      return { key: "announcementId", options: config.announcements.map((a) => ({ value: a.id, label: a.name })) };
    default:
      return null;
  }
}

export function defaultActivity(type: Activity["type"], config: PbxConfig): Activity {
  if (type === "hangup") return { type };
  if (type === "external") return { type, number: "" };
  const t = targets(type, config);
  return { type, [t?.key ?? "extension"]: t?.options[0]?.value ?? "" } as Activity;
}

export function ActivityFields({
  form,
  path,
  config,
  kind,
  legend,
}: {
  form: Form<never> | Form<unknown>;
  path: string;
  config: PbxConfig;
  kind: ActivityKind;
  legend: string;
}) {
  const f = form as Form<unknown>;
  const activity = (f.get(path) as Activity | undefined) ?? { type: "hangup" };
  const t = targets(activity.type, config);
  return (
    <fieldset>
      <legend>{legend}</legend>
      <SelectField
        form={f}
        path={`${path}.type`}
        also={[path]}
        label="Activity Type"
        options={TYPES[kind].map((type) => ({ value: type, label: TYPE_LABELS[type] }))}
        onChange={(type) => f.set(path, defaultActivity(type as Activity["type"], config))}
      />
      {activity.type === "external" ? (
        <TextField form={f} path={`${path}.number`} label="Activity: phone number" type="tel" inputMode="tel" />
      ) : t ? (
        t.options.length > 0 ? (
          <SelectField form={f} path={`${path}.${t.key}`} label="Activity" options={t.options} />
        ) : (
          <p class="hint" id={f.id(`${path}.${t.key}`)} tabIndex={-1}>
            There is nothing of this type yet
            {activity.type === "voicemail" ? " (no extension has voicemail enabled)" : ""}. Choose another Activity
            Type, or add one first.
          </p>
        )
      ) : null}
    </fieldset>
  );
}

let zones: string[] | null = null;

/** The IANA time zones this browser knows, for a Timezone select (the current one kept first if unknown). */
export function timezones(current: string): { value: string; label: string }[] {
  zones ??= (() => {
    try {
      return Intl.supportedValuesOf("timeZone");
    } catch {
      return ["UTC", "Australia/Sydney"];
    }
  })();
  const list = zones.includes(current) ? zones : [current, ...zones];
  return list.map((z) => ({ value: z, label: z.replace(/_/g, " ") }));
}

/** A number typed in a text box: the number, else what was typed, for the shared schema to refuse beside the field. */
export function numberOrText(value: string): number | string {
  const text = value.trim();
  return text !== "" && Number.isFinite(Number(text)) ? Number(text) : text;
}
