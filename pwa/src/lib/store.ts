import { type DBSchema, type IDBPDatabase, openDB } from "idb";
import type { PbxConfig } from "../../../shared/config/schema.ts";

/**
 * The portal's local store (IndexedDB through idb): the last-seen configuration of each PBX, so
 * its screens open offline.
 */

export interface PbxSummary {
  pbx: { id: string; name: string; type: "voice"; actions: string[]; createdAt?: string };
  appliedVersion: number | null;
  appliedAt: string | null;
  pendingChanges: boolean;
  sipDomain: string;
  channels: number;
}

export interface CachedPbx {
  id: string;
  summary: PbxSummary;
  config: PbxConfig;
  etag: string | null;
  seenAt: string;
}

interface PortalDb extends DBSchema {
  pbxs: { key: string; value: CachedPbx };
  services: { key: string; value: { key: string; pbxs: PbxSummary["pbx"][]; seenAt: string } };
}

let db: Promise<IDBPDatabase<PortalDb>> | null = null;

function open(): Promise<IDBPDatabase<PortalDb>> {
  db ??= openDB<PortalDb>("edgepbx", 1, {
    upgrade(database) {
      database.createObjectStore("pbxs", { keyPath: "id" });
      database.createObjectStore("services", { keyPath: "key" });
    },
  });
  return db;
}

/** IndexedDB may be unavailable (private mode): the portal then works online only. */
async function safely<T>(action: (d: IDBPDatabase<PortalDb>) => Promise<T>, fallback: T): Promise<T> {
  try {
    return await action(await open());
  } catch {
    return fallback;
  }
}

export const store = {
  savePbx: (entry: CachedPbx) => safely((d) => d.put("pbxs", entry).then(() => undefined), undefined),
  loadPbx: (id: string) => safely((d) => d.get("pbxs", id), undefined),
  saveServices: (pbxs: PbxSummary["pbx"][]) =>
    safely(
      (d) => d.put("services", { key: "mine", pbxs, seenAt: new Date().toISOString() }).then(() => undefined),
      undefined,
    ),
  loadServices: () => safely((d) => d.get("services", "mine"), undefined),
  clear: () => safely((d) => Promise.all([d.clear("pbxs"), d.clear("services")]).then(() => undefined), undefined),
};
