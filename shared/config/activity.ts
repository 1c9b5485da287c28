import * as z from "zod";
import { EntityId, InternalNumber, PhoneNumber } from "./primitives.ts";

/**
 * Where a call goes: the guide's "Activity Type" + "Activity".
 * References use entity ids so renumbering a room does not silently re-point routes.
 */
export const ExtensionActivity = z.object({ type: z.literal("extension"), extension: InternalNumber });
export const RingGroupActivity = z.object({ type: z.literal("ringGroup"), ringGroupId: EntityId });
export const ConferenceActivity = z.object({ type: z.literal("conference"), conferenceRoomId: EntityId });
export const VoicemailActivity = z.object({ type: z.literal("voicemail"), extension: InternalNumber });
export const ExternalActivity = z.object({ type: z.literal("external"), number: PhoneNumber });
export const HangupActivity = z.object({ type: z.literal("hangup") });
export const AnnouncementActivity = z.object({ type: z.literal("announcement"), announcementId: EntityId });

/** An activity that is not an announcement: what an announcement may continue to (no loops). */
export const FinalActivity = z.discriminatedUnion("type", [
  ExtensionActivity,
  RingGroupActivity,
  ConferenceActivity,
  VoicemailActivity,
  ExternalActivity,
  HangupActivity,
]);

export const Activity = z.discriminatedUnion("type", [
  ExtensionActivity,
  RingGroupActivity,
  ConferenceActivity,
  VoicemailActivity,
  ExternalActivity,
  HangupActivity,
  AnnouncementActivity,
]);

/** What a virtual extension (speed dial) may point at, per the guide. */
export const SpeedDialActivity = z.discriminatedUnion("type", [
  ExternalActivity,
  ConferenceActivity,
  RingGroupActivity,
  VoicemailActivity,
]);

export type Activity = z.infer<typeof Activity>;
export type FinalActivity = z.infer<typeof FinalActivity>;
export type SpeedDialActivity = z.infer<typeof SpeedDialActivity>;
