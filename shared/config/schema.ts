import * as z from "zod";
import { Activity, FinalActivity, SpeedDialActivity } from "./activity.ts";
import {
  CalendarDate,
  Digits,
  Email,
  EntityId,
  InternalNumber,
  PhoneNumber,
  SpeedDialNumber,
  Timezone,
} from "./primitives.ts";

/**
 * The whole configuration of one PBX. This file is the only definition of it:
 * the edge stores it, the media node runs it and the PWA edits it.
 * Secrets are stored only as hashes (digest HA1, PIN and FTP password hashes).
 */

export const SECRET_PLACEHOLDER = "[secret]";

const Name = z.string().trim().min(1, "is required").max(80, "must be at most 80 characters");

export const SipCredentials = z.object({
  username: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1 to 64 letters, digits, . _ or -"),
  /** RFC 7616 H(username:realm:password) for MD5 and SHA-256, lowercase hex. */
  ha1Md5: z.string().regex(/^([0-9a-f]{32}|\[secret\])$/),
  ha1Sha256: z.string().regex(/^([0-9a-f]{64}|\[secret\])$/),
  passwordSetAt: z.iso.datetime(),
});

export const VoicemailSettings = z.object({
  enabled: z.boolean().default(false),
  /** "pbkdf2$…" or "sha256$salt$hex" of the PIN; never the PIN itself. */
  pinHash: z.string().max(200).nullable().default(null),
  email: Email.nullable().default(null),
  sendToEmail: z.boolean().default(false),
  deleteAfterEmail: z.boolean().default(false),
});

export const Extension = z.object({
  id: EntityId,
  number: InternalNumber,
  name: Name,
  email: Email.nullable().default(null),
  office: z.string().trim().max(80).nullable().default(null),
  callerId: PhoneNumber.nullable().default(null),
  sip: SipCredentials,
  recordOutbound: z.boolean().default(false),
  voicemail: VoicemailSettings.default({
    enabled: false,
    pinHash: null,
    email: null,
    sendToEmail: false,
    deleteAfterEmail: false,
  }),
});

export const ForwardAll = z.object({
  enabled: z.boolean().default(false),
  /** Allocated by the PBX ("*401"), never chosen by the user. */
  dialCode: z
    .string()
    .regex(/^\*[0-9]{2,4}$/)
    .nullable()
    .default(null),
});

export const CallerPasscode = z.object({
  enabled: z.boolean().default(false),
  passcode: Digits(3, 10).nullable().default(null),
});

export const CallRoute = z.object({
  id: EntityId,
  did: PhoneNumber,
  timezone: Timezone,
  alertName: Name,
  passcode: CallerPasscode.default({ enabled: false, passcode: null }),
  activity: Activity,
  recordInbound: z.boolean().default(false),
  forwardAll: ForwardAll.default({ enabled: false, dialCode: null }),
  holidayId: EntityId.nullable().default(null),
  virtualFaxEmail: Email.nullable().default(null),
});

export const VirtualExtension = z.object({
  id: EntityId,
  name: Name,
  number: SpeedDialNumber,
  activity: SpeedDialActivity,
});

export const RingGroup = z.object({
  id: EntityId,
  name: Name,
  number: InternalNumber,
  strategy: z.enum(["ringAll", "hunt"]).default("ringAll"),
  members: z.array(InternalNumber).min(1, "needs at least one member").max(64),
  ringSeconds: z.number().int().min(5).max(300).default(30),
  noAnswer: FinalActivity.default({ type: "hangup" }),
});

export const ConferenceRoom = z.object({
  id: EntityId,
  name: Name,
  number: InternalNumber,
  pin: Digits(3, 10).nullable().default(null),
  maxParticipants: z.number().int().min(2).max(500).default(50),
});

/** The largest announcement file an admin may upload. */
export const MAX_ANNOUNCEMENT_BYTES = 10 * 1024 * 1024;

/** An uploaded announcement recording: stored by its SHA-256, which is also the node's cache key. */
export const AnnouncementAudio = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be a SHA-256 in hex"),
  fileName: z.string().trim().min(1).max(200),
  contentType: z.enum(["audio/wav", "audio/mpeg"]),
  bytes: z.number().int().min(1).max(MAX_ANNOUNCEMENT_BYTES),
  uploadedAt: z.iso.datetime(),
});

export const Announcement = z.object({
  id: EntityId,
  name: Name,
  /** Spoken by text-to-speech until an audio file is uploaded. */
  message: z.string().trim().min(1, "is required").max(2000),
  /** The uploaded recording played instead of the spoken message; null: the message is spoken. */
  audio: AnnouncementAudio.nullable().default(null),
  next: FinalActivity.default({ type: "hangup" }),
});

export const Holiday = z.object({
  id: EntityId,
  name: Name,
  dates: z.array(CalendarDate).min(1, "needs at least one date").max(366),
  action: Activity,
});

export const BlacklistEntry = z.object({
  id: EntityId,
  number: PhoneNumber,
  note: z.string().trim().max(200).nullable().default(null),
});

export const FaxSender = z.object({
  id: EntityId,
  email: Email,
  callerId: PhoneNumber,
});

export const RecordingFtp = z.object({
  username: z.string().regex(/^[A-Za-z0-9._-]{3,64}$/, "must be 3 to 64 letters, digits, . _ or -"),
  passwordHash: z.string().max(200),
});

export const Addons = z.object({
  callRecording: z
    .object({
      enabled: z.boolean().default(false),
      disclaimerAccepted: z.boolean().default(false),
      ftp: RecordingFtp.nullable().default(null),
    })
    .default({ enabled: false, disclaimerAccepted: false, ftp: null }),
  recordingEncryption: z
    .object({
      enabled: z.boolean().default(false),
      /** PEM X.509 certificate whose public key recordings are encrypted to (CMS/S-MIME). */
      publicKeyPem: z.string().max(20000).nullable().default(null),
    })
    .default({ enabled: false, publicKeyPem: null }),
  virtualFax: z
    .object({
      enabled: z.boolean().default(false),
      disclaimerAccepted: z.boolean().default(false),
    })
    .default({ enabled: false, disclaimerAccepted: false }),
});

export const Settings = z.object({
  /** How many simultaneous external calls the PBX may carry. */
  channels: z.number().int().min(1).max(1000).default(4),
  timezone: Timezone.default("UTC"),
  /** The PBX's SIP domain, also the digest realm. Fixed when the PBX is created. */
  sipDomain: z.string().regex(/^[a-z0-9.-]{3,253}$/),
});

export const PbxConfig = z.object({
  schemaVersion: z.literal(1),
  settings: Settings,
  extensions: z.array(Extension).default([]),
  callRoutes: z.array(CallRoute).default([]),
  virtualExtensions: z.array(VirtualExtension).default([]),
  ringGroups: z.array(RingGroup).default([]),
  conferenceRooms: z.array(ConferenceRoom).default([]),
  announcements: z.array(Announcement).default([]),
  holidays: z.array(Holiday).default([]),
  blacklist: z.array(BlacklistEntry).default([]),
  faxSenders: z.array(FaxSender).default([]),
  addons: Addons.default({
    callRecording: { enabled: false, disclaimerAccepted: false, ftp: null },
    recordingEncryption: { enabled: false, publicKeyPem: null },
    virtualFax: { enabled: false, disclaimerAccepted: false },
  }),
});

export type PbxConfig = z.infer<typeof PbxConfig>;
export type Extension = z.infer<typeof Extension>;
export type CallRoute = z.infer<typeof CallRoute>;
export type VirtualExtension = z.infer<typeof VirtualExtension>;
export type RingGroup = z.infer<typeof RingGroup>;
export type ConferenceRoom = z.infer<typeof ConferenceRoom>;
export type Announcement = z.infer<typeof Announcement>;
export type AnnouncementAudio = z.infer<typeof AnnouncementAudio>;
export type Holiday = z.infer<typeof Holiday>;
export type BlacklistEntry = z.infer<typeof BlacklistEntry>;
export type FaxSender = z.infer<typeof FaxSender>;
export type Addons = z.infer<typeof Addons>;
export type Settings = z.infer<typeof Settings>;

export function emptyConfig(sipDomain: string): PbxConfig {
  return PbxConfig.parse({ schemaVersion: 1, settings: { sipDomain } });
}

/** The keys of PbxConfig that hold collections of entities with ids. */
export const COLLECTION_KEYS = [
  "extensions",
  "callRoutes",
  "virtualExtensions",
  "ringGroups",
  "conferenceRooms",
  "announcements",
  "holidays",
  "blacklist",
  "faxSenders",
] as const satisfies readonly (keyof PbxConfig)[];

/** Numbers the PBX itself answers (voicemail access, as in the guide). */
export const FEATURE_CODES = { voicemail: "777" } as const;
