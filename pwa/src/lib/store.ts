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

/** An edit saved while offline, sent when the network returns (see outbox.ts). */
export interface QueuedEdit {
  seq?: number;
  pbx: string;
  collection: string;
  entityId: string | null;
  method: "POST" | "PATCH" | "DELETE";
  body?: unknown;
  /** The ETag the edit was based on: a conflicting change on the edge refuses it (409). */
  ifMatch: string | null;
  label: string;
  queuedAt: string;
  state: "queued" | "conflict" | "failed";
  problem?: string;
}

/** One call of the softphone, newest kept (Phone screen: recent calls, redial). */
export interface CallLogEntry {
  seq?: number;
  direction: "outgoing" | "incoming";
  number: string;
  name: string | null;
  startedAt: string;
  answered: boolean;
  seconds: number;
}

const CALL_LOG_KEEP = 100;

interface PortalDb extends DBSchema {
  pbxs: { key: string; value: CachedPbx };
  services: { key: string; value: { key: string; pbxs: PbxSummary["pbx"][]; seenAt: string } };
  outbox: { key: number; value: QueuedEdit };
  calls: { key: number; value: CallLogEntry };
}

let db: Promise<IDBPDatabase<PortalDb>> | null = null;

function open(): Promise<IDBPDatabase<PortalDb>> {
  db ??= openDB<PortalDb>("edgepbx", 3, {
    upgrade(database, oldVersion) {
      if (oldVersion < 1) {
        database.createObjectStore("pbxs", { keyPath: "id" });
        database.createObjectStore("services", { keyPath: "key" });
      }
      if (oldVersion < 2) database.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      if (oldVersion < 3) database.createObjectStore("calls", { keyPath: "seq", autoIncrement: true });
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
  queue: (edit: QueuedEdit) => safely((d) => d.add("outbox", edit).then(() => true), false),
  queued: () => safely((d) => d.getAll("outbox"), [] as QueuedEdit[]),
  updateQueued: (edit: QueuedEdit) => safely((d) => d.put("outbox", edit).then(() => undefined), undefined),
  unqueue: (seq: number) => safely((d) => d.delete("outbox", seq), undefined),
  logCall: (entry: CallLogEntry) =>
    safely(async (d) => {
      await d.add("calls", entry);
      const keys = await d.getAllKeys("calls");
      for (const key of keys.slice(0, Math.max(0, keys.length - CALL_LOG_KEEP))) await d.delete("calls", key);
    }, undefined),
  /** Newest first. */
  calls: () => safely(async (d) => (await d.getAll("calls")).reverse(), [] as CallLogEntry[]),
  clear: () =>
    safely(
      (d) =>
        Promise.all([d.clear("pbxs"), d.clear("services"), d.clear("outbox"), d.clear("calls")]).then(() => undefined),
      undefined,
    ),
};
