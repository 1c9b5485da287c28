import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import type { PbxConfig } from "../../../shared/config/schema.ts";
import { ApiError, api, onReachability } from "./api.ts";
import { Alert } from "./forms.tsx";
import { href } from "./router.ts";
import { type CachedPbx, type PbxSummary, store } from "./store.ts";

/** One PBX's summary and draft configuration, fresh from the edge or, offline, as last seen. */

const memory = new Map<string, CachedPbx>();

export interface PbxState {
  data: CachedPbx | null;
  error: ApiError | null;
  /** Shown from the local store because the edge could not be reached. */
  offline: boolean;
  reload: () => Promise<void>;
}

export function usePbx(id: string): PbxState {
  const [data, setData] = useState<CachedPbx | null>(() => memory.get(id) ?? null);
  const [error, setError] = useState<ApiError | null>(null);
  const [offline, setOffline] = useState(false);
  const reload = useCallback(async () => {
    try {
      const [summary, config] = await Promise.all([
        api<PbxSummary>("GET", `/pbxs/${encodeURIComponent(id)}`),
        api<{ config: PbxConfig; pendingChanges: boolean }>("GET", `/pbxs/${encodeURIComponent(id)}/config`),
      ]);
      const entry: CachedPbx = {
        id,
        summary: { ...summary.data, pendingChanges: config.data.pendingChanges },
        config: config.data.config,
        etag: config.etag,
        seenAt: new Date().toISOString(),
      };
      memory.set(id, entry);
      void store.savePbx(entry);
      setData(entry);
      setError(null);
      setOffline(false);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(0, { detail: String(e) });
      if (err.offline) {
        const cached = memory.get(id) ?? (await store.loadPbx(id));
        if (cached) {
          setData(cached);
          setOffline(true);
          return;
        }
      }
      setError(err);
    }
  }, [id]);
  useEffect(() => {
    void reload();
    const again = () => void reload();
    addEventListener("edgepbx:replayed", again);
    addEventListener("online", again);
    const stop = onReachability((reachable) => reachable && again());
    return () => {
      removeEventListener("edgepbx:replayed", again);
      removeEventListener("online", again);
      stop();
    };
  }, [reload]);
  return { data, error, offline, reload };
}

/** After a save the homepage must show "View PBX Changes" at once. */
export function markPending(id: string): void {
  const entry = memory.get(id);
  if (entry) memory.set(id, { ...entry, summary: { ...entry.summary, pendingChanges: true } });
}

/** The PBX as last seen: in memory, else from IndexedDB. */
export async function cachedPbx(id: string): Promise<CachedPbx | undefined> {
  return memory.get(id) ?? (await store.loadPbx(id));
}

export function forgetPbx(id: string): void {
  memory.delete(id);
}

interface FrameProps {
  state: PbxState;
  title: string;
  /** Where "back" goes above the title; the PBX homepage when absent. */
  parent?: { label: string; to: string };
  children: (data: CachedPbx) => ComponentChildren;
  actions?: ComponentChildren;
  /** The changes screens themselves do not repeat the "View PBX Changes" bar. */
  hidePending?: boolean;
}

/** A PBX screen: where you are, the pending-changes bar, and the screen's content. */
export function PbxFrame({ state, title, parent, children, actions, hidePending }: FrameProps) {
  const { data, error, offline } = state;
  if (error && !data)
    return (
      <>
        <h1>{title}</h1>
        <Alert>{error.status === 404 ? "This PBX does not exist or is not yours to see." : error.message}</Alert>
        <a href={href("/services")}>Back to My Services</a>
      </>
    );
  if (!data) return <p class="loading">Loading…</p>;
  const pbxId = data.id;
  return (
    <>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href("/services")}>My Services</a>
        <span aria-hidden="true"> › </span>
        <a href={href(`/pbx/${pbxId}`)}>{data.summary.pbx.name}</a>
        {parent ? (
          <>
            <span aria-hidden="true"> › </span>
            <a href={href(parent.to)}>{parent.label}</a>
          </>
        ) : null}
      </nav>
      {offline ? (
        <p class="offline" role="status">
          Offline: showing this PBX as last seen on {new Date(data.seenAt).toLocaleString()}.
        </p>
      ) : null}
      {data.summary.pendingChanges && !hidePending ? (
        <div class="pending" role="status">
          <span>Your changes are ready to apply to your PBX.</span>
          <a class="button primary" href={href(`/pbx/${pbxId}/changes`)}>
            View PBX Changes
          </a>
        </div>
      ) : null}
      <div class="title-row">
        <h1>{title}</h1>
        {actions}
      </div>
      {children(data)}
    </>
  );
}
