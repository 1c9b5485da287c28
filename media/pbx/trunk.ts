import type { Peer } from "../sip/platform/transport.ts";

/**
 * The carrier trunk: the provider's setting of the media node, not a customer's. Calls from its
 * host are the carrier's (inbound to DIDs); calls to external numbers go to it.
 */
export interface TrunkSettings {
  host: string;
  port: number;
  transport: "udp" | "tcp";
  /** Digest credentials the carrier may challenge our INVITEs for; null with IP authentication. */
  credentials: { username: string; password: string } | null;
  /** The caller ID presented when an extension has none of its own; null: withheld. */
  defaultCallerId: string | null;
}

export function trunkPeer(trunk: TrunkSettings): Peer {
  return { transport: trunk.transport, address: trunk.host, port: trunk.port };
}

/** The carrier's address for a number: sip:<number>@host:port (;transport=tcp). */
export function trunkUri(trunk: TrunkSettings, number: string): string {
  const host = trunk.host.includes(":") ? `[${trunk.host}]` : trunk.host;
  return `sip:${number}@${host}:${trunk.port}${trunk.transport === "tcp" ? ";transport=tcp" : ""}`;
}
