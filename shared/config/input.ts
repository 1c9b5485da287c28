import * as z from "zod";
import { Digits } from "./primitives.ts";
import {
  Addons,
  Announcement,
  BlacklistEntry,
  CallRoute,
  ConferenceRoom,
  Extension,
  FaxSender,
  Holiday,
  RecordingFtp,
  RingGroup,
  Settings,
  VirtualExtension,
  VoicemailSettings,
} from "./schema.ts";

/**
 * What the API and the portal accept when an entity is written. Derived from the stored
 * schema: secrets come in as plaintext (write-only) and leave as hashes; ids and allocated
 * codes are the PBX's to assign.
 */

export const SipPassword = z
  .string()
  .min(10, "must be at least 10 characters")
  .max(128, "must be at most 128 characters");

export const ExtensionInput = Extension.omit({ id: true, sip: true, voicemail: true }).extend({
  sipUsername: Extension.shape.sip.shape.username.optional(),
  /** Omitted on create: the PBX generates one and returns it once. */
  sipPassword: SipPassword.optional(),
  voicemail: VoicemailSettings.omit({ pinHash: true })
    .extend({ pin: Digits(4, 10).optional() })
    .partial()
    .optional(),
});

export const CallRouteInput = CallRoute.omit({ id: true, forwardAll: true }).extend({
  forwardAll: z.object({ enabled: z.boolean() }).optional(),
});

export const AddonsInput = z.object({
  callRecording: Addons.shape.callRecording
    .unwrap()
    .omit({ ftp: true })
    .extend({
      ftp: z
        .object({
          username: RecordingFtp.shape.username,
          password: z.string().min(10, "must be at least 10 characters").max(128).optional(),
        })
        .nullable()
        .optional(),
    })
    .partial()
    .optional(),
  recordingEncryption: Addons.shape.recordingEncryption.unwrap().partial().optional(),
  virtualFax: Addons.shape.virtualFax.unwrap().partial().optional(),
});

export const SettingsInput = Settings.omit({ sipDomain: true }).partial();

/** The collections of a PBX, as they appear in URLs, with their storage key and input schema. */
export const COLLECTIONS = {
  extensions: { key: "extensions", prefix: "ext", input: ExtensionInput, item: Extension },
  "call-routes": { key: "callRoutes", prefix: "rt", input: CallRouteInput, item: CallRoute },
  "virtual-extensions": {
    key: "virtualExtensions",
    prefix: "vext",
    input: VirtualExtension.omit({ id: true }),
    item: VirtualExtension,
  },
  "ring-groups": { key: "ringGroups", prefix: "rg", input: RingGroup.omit({ id: true }), item: RingGroup },
  "conference-rooms": {
    key: "conferenceRooms",
    prefix: "conf",
    input: ConferenceRoom.omit({ id: true }),
    item: ConferenceRoom,
  },
  announcements: {
    key: "announcements",
    prefix: "ann",
    input: Announcement.omit({ id: true }),
    item: Announcement,
  },
  holidays: { key: "holidays", prefix: "hol", input: Holiday.omit({ id: true }), item: Holiday },
  blacklist: { key: "blacklist", prefix: "bl", input: BlacklistEntry.omit({ id: true }), item: BlacklistEntry },
  "fax-senders": { key: "faxSenders", prefix: "fax", input: FaxSender.omit({ id: true }), item: FaxSender },
} as const;

export type CollectionName = keyof typeof COLLECTIONS;
export type CollectionKey = (typeof COLLECTIONS)[CollectionName]["key"];

export function isCollectionName(name: string): name is CollectionName {
  return Object.hasOwn(COLLECTIONS, name);
}

export type ExtensionInput = z.infer<typeof ExtensionInput>;
export type CallRouteInput = z.infer<typeof CallRouteInput>;
export type AddonsInput = z.infer<typeof AddonsInput>;
export type SettingsInput = z.infer<typeof SettingsInput>;
