import { useEffect, useState } from "preact/hooks";
import { ApiError, api, onReachability } from "./api.ts";
import { markPending } from "./pbx.tsx";
import { type QueuedEdit, store } from "./store.ts";

/**
 * Edits saved while offline: kept in IndexedDB in order, sent when the network returns with the
 * If-Match they were based on, so an edit that conflicts with a change made meanwhile on the edge
 * is refused (409) and shown to the user instead of overwriting it.
 */

let items: QueuedEdit[] = [];
let lastReplay: { sent: number; pbxs: string[] } | null = null;
const listeners = new Set<() => void>();

function notify(): void {
  for (const listener of listeners) listener();
}

async function refresh(): Promise<void> {
  items = await store.queued();
  notify();
}

export function useOutbox(): { items: QueuedEdit[]; lastReplay: typeof lastReplay } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((t) => t + 1);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return { items, lastReplay };
}

export async function queueEdit(edit: Omit<QueuedEdit, "queuedAt" | "state">): Promise<boolean> {
  const ok = await store.queue({ ...edit, queuedAt: new Date().toISOString(), state: "queued" });
  await refresh();
  return ok;
}

export function dismissReplay(): void {
  lastReplay = null;
  notify();
}

export async function discardQueued(seq: number): Promise<void> {
  await store.unqueue(seq);
  await refresh();
}

let replaying: Promise<void> | null = null;

/** Sends the queued edits in order; stops at the first one the network does not carry. */
export function replay(): Promise<void> {
  replaying ??= replayNow().finally(() => {
    replaying = null;
  });
  return replaying;
}

async function replayNow(): Promise<void> {
  await refresh();
  if (!navigator.onLine || !items.some((i) => i.state === "queued")) return;
  // Our own earlier edit moves the draft on: the next edit based on the old draft is rebased.
  const draftNow = new Map<string, { from: string; to: string }>();
  let sent = 0;
  const pbxs = new Set<string>();
  for (const item of items) {
    if (item.state !== "queued" || item.seq === undefined) continue;
    const moved = draftNow.get(item.pbx);
    const ifMatch = moved && item.ifMatch === moved.from ? moved.to : item.ifMatch;
    const path = `/pbxs/${item.pbx}/${item.collection}${item.entityId ? `/${item.entityId}` : ""}`;
    try {
      const result = await api(item.method, path, item.body, { ifMatch });
      if (result.draftEtag && item.ifMatch?.startsWith('"d'))
        draftNow.set(item.pbx, { from: moved?.from ?? item.ifMatch, to: result.draftEtag });
      else if (result.draftEtag && moved) draftNow.set(item.pbx, { ...moved, to: result.draftEtag });
      await store.unqueue(item.seq);
      markPending(item.pbx);
      pbxs.add(item.pbx);
      sent++;
    } catch (error) {
      const err = error instanceof ApiError ? error : new ApiError(0, {});
      if (err.offline) break;
      const stale = err.status === 409 && err.problem.type?.endsWith("/stale");
      const detail = [err.message, ...err.errors.map((e) => `${e.field}: ${e.message}`)].join(" ");
      await store.updateQueued({
        ...item,
        state: stale ? "conflict" : "failed",
        problem: stale
          ? "Someone changed this on the PBX while you were offline, so your edit was not applied. Open it to see their version and make your change again."
          : detail,
      });
    }
  }
  if (sent > 0) {
    lastReplay = { sent, pbxs: [...pbxs] };
    // Screens showing these PBXs load them again.
    dispatchEvent(new CustomEvent("edgepbx:replayed", { detail: [...pbxs] }));
  }
  await refresh();
}

/**
 * Replays at start, when the browser says it is back online, when a request reaches the edge
 * again, and every few seconds while edits wait (browsers do not always notice a link coming back).
 */
export function startOutbox(): void {
  addEventListener("online", () => void replay());
  onReachability((reachable) => {
    if (reachable && items.some((i) => i.state === "queued")) void replay();
  });
  setInterval(() => {
    if (items.some((i) => i.state === "queued")) void replay();
  }, 4000);
  void replay();
}
