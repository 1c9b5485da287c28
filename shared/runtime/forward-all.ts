import * as z from "zod";

/**
 * Call Forward All is runtime state, not configuration: a phone turns it on or off by dial code
 * (no Apply), the edge keeps it, and media nodes route by it.
 */

/** A forward-all destination: a phone number, as the dial plan accepts after a dial code. */
export const ForwardDestination = z.string().regex(/^\+?[0-9]{3,16}$/, "must be a phone number (3 to 16 digits)");

/** One PBX's state: call route id → destination (routes not forwarding are absent). */
export const ForwardAllTable = z.record(z.string().min(1).max(64), ForwardDestination);
export type ForwardAllTable = z.infer<typeof ForwardAllTable>;

/** PUT /api/pbxs/:pbx/forward-all/:route — set (a number) or clear (null) from the portal. */
export const ForwardAllUpdate = z.strictObject({ destination: ForwardDestination.nullable() });

/** One call route's Call Forward All, as the portal shows it. */
export interface ForwardAllEntry {
  routeId: string;
  did: string;
  alertName: string;
  /** "Enable Forward All" ticked on the route (in the applied config). */
  enabled: boolean;
  dialCode: string | null;
  /** Where calls to the DID go now; null when not forwarding. */
  destination: string | null;
  setAt: string | null;
  /** Who set it: a phone by dial code, or a portal user. */
  setBy: string | null;
}
