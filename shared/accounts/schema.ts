import * as z from "zod";
import { Email, InternalNumber } from "../config/primitives.ts";

/** The guide's portal roles. */
export const Role = z.enum(["administrator", "apiUser", "clientUser", "serviceUser"]);
export type Role = z.infer<typeof Role>;

export const UserStatus = z.enum(["active", "inactive"]);
export type UserStatus = z.infer<typeof UserStatus>;

/** What a user may do to a service (a PBX). */
export const ServiceAction = z.enum(["view", "edit", "apply"]);
export type ServiceAction = z.infer<typeof ServiceAction>;

/** Account-wide powers, above single services. */
export type AccountPower = "manageUsers" | "manageServices";

const notificationFields = {
  serviceAlerts: z.boolean(),
  billing: z.boolean(),
  clientCorrespondence: z.boolean(),
  newsletters: z.boolean(),
  generalUpdates: z.boolean(),
};

export const Notifications = z.object({
  serviceAlerts: notificationFields.serviceAlerts.default(true),
  billing: notificationFields.billing.default(true),
  clientCorrespondence: notificationFields.clientCorrespondence.default(true),
  newsletters: notificationFields.newsletters.default(false),
  generalUpdates: notificationFields.generalUpdates.default(false),
});
/** A change to some preferences: no defaults, so unnamed ones stay as they are. */
export const NotificationsPatch = z.object(notificationFields).partial();
export type Notifications = z.infer<typeof Notifications>;

export const Password = z.string().min(10, "must be at least 10 characters").max(256, "must be at most 256 characters");

const Text = (max: number) => z.string().trim().max(max, `must be at most ${max} characters`);

const contactFields = {
  name: Text(100).min(1, "is required"),
  company: Text(100),
  phone: Text(32),
  mobile: Text(32),
  position: Text(100),
};

export const ContactDetails = z.object({
  name: contactFields.name,
  company: contactFields.company.default(""),
  phone: contactFields.phone.default(""),
  mobile: contactFields.mobile.default(""),
  position: contactFields.position.default(""),
});
export type ContactDetails = z.infer<typeof ContactDetails>;

/** Logins are case-insensitive: stored and compared in lower case. */
export const AccountEmail = Email.max(254).transform((e) => e.toLowerCase());

export const RegisterInput = ContactDetails.extend({ email: AccountEmail, password: Password });
export const LoginInput = z.object({ email: AccountEmail, password: z.string().min(1, "is required").max(256) });
export const RecoverInput = z.object({ email: AccountEmail });
export const ResetInput = z.object({ token: z.string().min(20).max(200), password: Password });

/** My Account: contact details, notifications and an optional password change. */
export const MeUpdate = z
  .object(contactFields)
  .partial()
  .extend({
    notifications: NotificationsPatch.optional(),
    password: Password.optional(),
    currentPassword: z.string().max(256).optional(),
  });

/**
 * The extension a portal user's softphone (the PWA's Phone screen) registers as: one extension
 * of one PBX of the user's account, set by an Administrator. null: no softphone.
 */
export const SoftphoneLink = z.object({
  pbxId: z.string().min(1, "is required").max(64),
  extension: InternalNumber,
});
export type SoftphoneLink = z.infer<typeof SoftphoneLink>;

/** Portal Users (administrators only). Services and actions matter for Client and Service Users. */
export const UserCreate = ContactDetails.extend({
  email: AccountEmail,
  password: Password.optional(),
  role: Role,
  status: UserStatus.default("active"),
  notifications: NotificationsPatch.optional(),
  services: z.array(z.string().max(64)).max(1000).default([]),
  actions: z.array(ServiceAction).default(["view"]),
  softphone: SoftphoneLink.nullable().default(null),
});
/** PATCH of a portal user: only the fields sent change (no defaults here on purpose). */
export const UserUpdate = z
  .object({
    ...contactFields,
    email: AccountEmail,
    password: Password,
    role: Role,
    status: UserStatus,
    notifications: NotificationsPatch,
    services: z.array(z.string().max(64)).max(1000),
    actions: z.array(ServiceAction),
    softphone: SoftphoneLink.nullable(),
  })
  .partial();

/**
 * GET /api/me/softphone: what SIP.js needs to register as the user's extension. The digest HA1
 * (MD5, the algorithm the media node challenges browsers with) stands in for the password.
 */
export interface SoftphoneSettings {
  /** The media node's SIP-over-WebSocket URL. */
  wsUrl: string;
  /** The PBX's SIP domain, also the digest realm. */
  domain: string;
  pbxId: string;
  extension: string;
  displayName: string;
  /** Digest username (the extension's SIP username). */
  username: string;
  /** H(username:realm:password), MD5, lowercase hex. */
  ha1: string;
  /** Who can be dialled on the PBX (its applied configuration), for the Phone screen's directory. */
  directory: DirectoryEntry[];
}

export interface DirectoryEntry {
  number: string;
  name: string;
  kind: "extension" | "speedDial" | "ringGroup" | "conference";
}

export const TokenCreate = z.object({ name: Text(80).min(1, "is required") });

export const PbxCreate = z.object({ name: Text(80).min(1, "is required") });
export const PbxUpdate = PbxCreate;

/** The one place that says what each role may do. */
export function rolePowers(role: Role): { account: AccountPower[]; allServices: boolean; actions: ServiceAction[] } {
  switch (role) {
    case "administrator":
      return { account: ["manageUsers", "manageServices"], allServices: true, actions: ["view", "edit", "apply"] };
    case "apiUser":
      return { account: ["manageServices"], allServices: true, actions: ["view", "edit", "apply"] };
    case "clientUser":
      return { account: [], allServices: false, actions: ["view", "edit", "apply"] };
    case "serviceUser":
      return { account: [], allServices: false, actions: [] };
  }
}
