import type { CallRoute, PbxConfig } from "../../shared/index.ts";

/** Where a PBX's received faxes go: a call route with Virtual FAX, its address and its time zone. */
export interface FaxDestination {
  routeId: string;
  /** The route's number (the fax's own DID). */
  did: string;
  email: string;
  /** The route's time zone: the guide's "used to ensure correct timestamps" of its faxes. */
  timezone: string;
}

/**
 * Where a fax heard on an inbound call to `routeId` goes, or null when the PBX has none: with the
 * Virtual FAX add-on enabled, the route's own fax address when it has one, else the PBX's first
 * call route (in the order the portal lists them) that has one. A route with an address of its
 * own is a fax route, answered as fax from the start, so on voice routes this is the PBX's first
 * Virtual FAX route. Without the add-on nothing is a fax destination.
 */
export function faxDestination(config: PbxConfig, routeId: string | null): FaxDestination | null {
  if (!config.addons.virtualFax.enabled) return null;
  const own = config.callRoutes.find((r) => r.id === routeId && r.virtualFaxEmail !== null);
  const route = own ?? config.callRoutes.find((r) => r.virtualFaxEmail !== null);
  return route ? destinationOf(route) : null;
}

function destinationOf(route: CallRoute): FaxDestination {
  return { routeId: route.id, did: route.did, email: route.virtualFaxEmail ?? "", timezone: route.timezone };
}
