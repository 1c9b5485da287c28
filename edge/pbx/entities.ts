import type { z } from "zod";
import {
  Addons,
  type Announcement,
  type AnnouncementAudio,
  type CallRoute,
  type Extension,
  Settings,
} from "../../shared/config/schema.ts";
import { hashPassword } from "../../shared/crypto/password.ts";
import {
  AddonsInput,
  allocateDialCode,
  COLLECTIONS,
  type CollectionName,
  type ExtensionInput,
  type PbxConfig,
  SettingsInput,
} from "../../shared/index.ts";
import { generateSipPassword, sipHa1 } from "../crypto/digest.ts";
import { type FieldError, zodFieldErrors } from "../http/problem.ts";

/**
 * Turning what a person typed into what the PBX stores: secrets become hashes, codes are
 * allocated, defaults filled. A PATCH is the entity's editable view with the body merged on top,
 * so it goes through exactly the same rules as a full write.
 */

export type Section = CollectionName | "addons" | "settings";

export type Converted<T> =
  | { ok: true; value: T; secrets: Record<string, string> }
  | { ok: false; errors: FieldError[] };

/** What a client may edit of a stored entity: no id, no hashes, no allocated codes. */
export function editableView(section: Section, stored: unknown): Record<string, unknown> {
  const s = stored as Record<string, unknown>;
  if (section === "settings") {
    const { sipDomain: _ignored, ...rest } = s;
    return rest;
  }
  if (section === "addons") {
    const addons = stored as z.infer<typeof Addons>;
    const ftp = addons.callRecording.ftp;
    return {
      ...addons,
      callRecording: { ...addons.callRecording, ftp: ftp === null ? null : { username: ftp.username } },
    };
  }
  const { id: _id, ...rest } = s;
  if (section === "extensions") {
    const ext = stored as Extension;
    const { sip: _sip, voicemail, ...others } = rest as Extension;
    const { pinHash: _pin, ...mailbox } = voicemail;
    return { ...others, sipUsername: ext.sip.username, voicemail: mailbox };
  }
  if (section === "call-routes") {
    const route = stored as CallRoute;
    return { ...rest, forwardAll: { enabled: route.forwardAll.enabled } };
  }
  return rest;
}

/** Plain-object merge for PATCH: objects merge key by key, everything else is replaced. */
export function mergePatch(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    // RFC 7396: null removes a key, unless the field itself is nullable; our schemas decide that.
    out[key] = key in base ? mergePatch(base[key], value) : value;
  }
  return out;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Converts a client's body into a stored entity of a collection. */
export async function convertEntity(
  section: CollectionName,
  body: unknown,
  existing: { id: string } | null,
  id: string,
  config: PbxConfig,
  uploadedAudio?: AnnouncementAudio,
): Promise<Converted<{ id: string }>> {
  const collection = COLLECTIONS[section];
  const parsed = collection.input.safeParse(body);
  if (!parsed.success) return { ok: false, errors: zodFieldErrors(parsed.error) };
  const secrets: Record<string, string> = {};
  let candidate: Record<string, unknown> = { ...(parsed.data as Record<string, unknown>), id };

  if (section === "extensions") {
    const input = parsed.data as ExtensionInput;
    const previous = existing as Extension | null;
    const username = input.sipUsername ?? previous?.sip.username ?? input.number;
    let sip = previous?.sip;
    if (input.sipPassword === undefined && previous && username !== previous.sip.username) {
      return {
        ok: false,
        errors: [{ field: "sipPassword", message: "set a new password when changing the SIP username" }],
      };
    }
    if (input.sipPassword !== undefined || !sip) {
      const password = input.sipPassword ?? generateSipPassword();
      if (input.sipPassword === undefined) secrets.sipPassword = password;
      sip = {
        username,
        ...(await sipHa1(username, config.settings.sipDomain, password)),
        passwordSetAt: new Date().toISOString(),
      };
    }
    const { pin, ...mailbox } = input.voicemail ?? {};
    const pinHash = pin !== undefined ? await hashPassword(pin) : (previous?.voicemail.pinHash ?? null);
    const { sipUsername: _u, sipPassword: _p, voicemail: _v, ...rest } = input;
    candidate = { ...rest, id, sip, voicemail: { ...mailbox, pinHash } };
  }

  if (section === "call-routes") {
    const previous = existing as CallRoute | null;
    const enabled = (parsed.data as { forwardAll?: { enabled: boolean } }).forwardAll?.enabled ?? false;
    // Once allocated, a route keeps its dial code so the number people noted down stays valid.
    const dialCode = previous?.forwardAll.dialCode ?? (enabled ? allocateDialCode(config) : null);
    candidate = { ...candidate, forwardAll: { enabled, dialCode } };
  }

  if (section === "announcements") {
    // A client keeps or removes (null) the file it has; a new one comes only from an upload.
    const kept = (existing as Announcement | null)?.audio ?? null;
    const sent = (parsed.data as { audio?: AnnouncementAudio | null }).audio;
    if (sent && sent.sha256 !== kept?.sha256 && !uploadedAudio)
      return {
        ok: false,
        errors: [{ field: "audio", message: "upload the file with PUT …/announcements/{id}/audio" }],
      };
    candidate = { ...candidate, audio: uploadedAudio ?? (sent === null ? null : kept) };
  }

  const stored = collection.item.safeParse(candidate);
  if (!stored.success) return { ok: false, errors: zodFieldErrors(stored.error) };
  return { ok: true, value: stored.data as { id: string }, secrets };
}

export async function convertAddons(
  body: unknown,
  existing: z.infer<typeof Addons>,
): Promise<Converted<z.infer<typeof Addons>>> {
  const parsed = AddonsInput.safeParse(body);
  if (!parsed.success) return { ok: false, errors: zodFieldErrors(parsed.error) };
  const input = parsed.data;
  const ftpInput = input.callRecording?.ftp;
  let ftp = existing.callRecording.ftp;
  if (ftpInput === null) ftp = null;
  else if (ftpInput !== undefined) {
    if (ftpInput.password === undefined && !ftp) {
      return { ok: false, errors: [{ field: "callRecording.ftp.password", message: "set a password for FTP access" }] };
    }
    ftp = {
      username: ftpInput.username,
      passwordHash: ftpInput.password !== undefined ? await hashPassword(ftpInput.password) : (ftp?.passwordHash ?? ""),
    };
  }
  const { ftp: _f, ...recording } = input.callRecording ?? {};
  const candidate = {
    callRecording: { ...existing.callRecording, ...recording, ftp },
    recordingEncryption: { ...existing.recordingEncryption, ...input.recordingEncryption },
    virtualFax: { ...existing.virtualFax, ...input.virtualFax },
  };
  const stored = Addons.safeParse(candidate);
  if (!stored.success) return { ok: false, errors: zodFieldErrors(stored.error) };
  return { ok: true, value: stored.data, secrets: {} };
}

export function convertSettings(body: unknown, existing: Settings): Converted<Settings> {
  const parsed = SettingsInput.safeParse(body);
  if (!parsed.success) return { ok: false, errors: zodFieldErrors(parsed.error) };
  const stored = Settings.safeParse({ ...existing, ...parsed.data, sipDomain: existing.sipDomain });
  if (!stored.success) return { ok: false, errors: zodFieldErrors(stored.error) };
  return { ok: true, value: stored.data, secrets: {} };
}
