import { useEffect, useState } from "preact/hooks";
import type { ConfigDiff, DiffLine, EntityChange, PendingChange, VersionSummary } from "../../../shared/config/diff.ts";
import { type ApiError, api } from "../lib/api.ts";
import { Alert, Notice } from "../lib/forms.tsx";
import { forgetPbx, PbxFrame, usePbx } from "../lib/pbx.tsx";
import { href, navigate } from "../lib/router.ts";
import { useApi } from "../lib/screens.tsx";

/** View PBX Changes: pending changes, View Details (the diff), Apply PBX Changes, Change History. */

interface Changes {
  pending: boolean;
  appliedVersion: number;
  etag: string;
  changes: PendingChange[];
  diff: ConfigDiff;
}

const SECTION_NAMES: Record<string, string> = {
  extensions: "Extension",
  "call-routes": "Call route",
  callRoutes: "Call route",
  holidays: "Holiday",
  blacklist: "Blacklist",
  "virtual-extensions": "Virtual extension",
  virtualExtensions: "Virtual extension",
  "ring-groups": "Ring group",
  ringGroups: "Ring group",
  "conference-rooms": "Conference room",
  conferenceRooms: "Conference room",
  announcements: "Announcement",
  "fax-senders": "Virtual FAX sender",
  faxSenders: "Virtual FAX sender",
  addons: "Addons",
  settings: "Settings",
  config: "Configuration",
};
const ACTIONS = { create: "Added", update: "Changed", delete: "Removed" } as const;
const CHANGE = { added: "Added", changed: "Changed", removed: "Removed" } as const;

const when = (iso: string) => new Date(iso).toLocaleString();

function useChanges(pbx: string) {
  const { data, error } = useApi<Changes>(`/pbxs/${pbx}/changes`);
  return { changes: data, error };
}

export function ViewChanges({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const state = usePbx(pbx);
  const { changes, error } = useChanges(pbx);
  const [applied, setApplied] = useState<{ version: number; appliedAt: string } | null>(null);
  return (
    <PbxFrame state={state} title="View PBX Changes" hidePending>
      {() => (
        <>
          {error ? <Alert>{error.message}</Alert> : null}
          {applied ? (
            <Applied pbx={pbx} {...applied} />
          ) : !changes ? (
            <p class="loading">Loading…</p>
          ) : !changes.pending ? (
            <p>There are no changes to apply. Version {changes.appliedVersion} is the current configuration.</p>
          ) : (
            <>
              <p>
                These changes will be applied to your PBX (now at version {changes.appliedVersion}).{" "}
                {changes.diff.added} lines added, {changes.diff.removed} removed.
              </p>
              <ol class="list changes" aria-label="Pending changes">
                {changes.changes.map((c) => (
                  <li key={c.seq} class="change-row">
                    <span class="row-title">
                      {ACTIONS[c.action]} {SECTION_NAMES[c.section]?.toLowerCase() ?? c.section}{" "}
                      {c.label.replace(`${c.section}: `, "").replace(/^(addons|settings)$/, "")}
                    </span>
                    <span class="row-meta">
                      {c.actor} · {when(c.at)}
                    </span>
                  </li>
                ))}
              </ol>
              <div class="actions">
                <a class="button secondary" href={href(`/pbx/${pbx}/changes/details`)}>
                  View Details
                </a>
                <ApplyButton pbx={pbx} etag={changes.etag} onApplied={setApplied} />
              </div>
            </>
          )}
          <div class="actions">
            <a class="button secondary" href={href(`/pbx/${pbx}/history`)}>
              Change History
            </a>
            <a class="button secondary" href={href(`/pbx/${pbx}`)}>
              Return to Service
            </a>
          </div>
        </>
      )}
    </PbxFrame>
  );
}

function ApplyButton({
  pbx,
  etag,
  onApplied,
}: {
  pbx: string;
  etag: string;
  onApplied: (r: { version: number; appliedAt: string }) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiError | null>(null);
  return (
    <>
      <button
        type="button"
        class="primary"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setProblem(null);
          try {
            const { data } = await api<{ version: number; appliedAt: string }>(
              "POST",
              `/pbxs/${pbx}/apply`,
              {},
              { ifMatch: etag },
            );
            forgetPbx(pbx);
            onApplied(data);
          } catch (e) {
            setProblem(e as ApiError);
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? "Applying…" : "Apply PBX Changes"}
      </button>
      {problem ? (
        <div class="error-summary" role="alert">
          <p class="error-title">{problem.message}</p>
          {problem.errors.length > 0 ? (
            <ul>
              {problem.errors.map((e) => (
                <li key={e.field}>
                  {e.field}: {e.message}
                </li>
              ))}
            </ul>
          ) : null}
          {problem.status === 409 ? (
            <button type="button" class="link" onClick={() => location.reload()}>
              Review the changes again
            </button>
          ) : null}
        </div>
      ) : null}
    </>
  );
}

/** After Apply: the new version, then when a media node has it live. */
function Applied({ pbx, version, appliedAt }: { pbx: string; version: number; appliedAt: string }) {
  const [acks, setAcks] = useState<VersionSummary["acks"]>([]);
  const [waited, setWaited] = useState(0);
  useEffect(() => {
    let stopped = false;
    let tries = 0;
    const poll = async () => {
      if (stopped) return;
      tries++;
      try {
        const { data } = await api<{ versions: VersionSummary[] }>("GET", `/pbxs/${pbx}/history`);
        const found = data.versions.find((v) => v.version === version);
        if (found && found.acks.length > 0) return setAcks(found.acks);
      } catch {
        // keep waiting
      }
      setWaited(tries);
      setTimeout(poll, tries < 20 ? 1000 : 5000);
    };
    void poll();
    return () => {
      stopped = true;
    };
  }, [pbx, version]);
  return (
    <section class="card applied" aria-live="polite">
      <h2>Version {version} applied</h2>
      <p>Applied at {when(appliedAt)}.</p>
      {acks.length > 0 ? (
        <ul class="acks">
          {acks.map((a) => (
            <li key={a.nodeId} class="ack">
              <span aria-hidden="true">✓ </span>Live on media node <strong>{a.nodeId}</strong> since {when(a.ackedAt)}
            </li>
          ))}
        </ul>
      ) : (
        <p class="waiting">
          Waiting for a media node to acknowledge version {version}…
          {waited > 15 ? " No media node has confirmed it yet; it goes live when one connects." : ""}
        </p>
      )}
      <a class="button primary" href={href(`/pbx/${pbx}`)}>
        Return to Service
      </a>
    </section>
  );
}

/** Old vs new, line by line: added lines green (+), removed red (−), long unchanged runs folded. */
export function DiffView({ diff }: { diff: ConfigDiff }) {
  const [expanded, setExpanded] = useState<Set<number>>(new Set());
  const CONTEXT = 3;
  const changedAt = diff.lines.map((l) => l.kind !== "unchanged");
  const near = (i: number) => {
    for (let j = Math.max(0, i - CONTEXT); j <= Math.min(diff.lines.length - 1, i + CONTEXT); j++)
      if (changedAt[j]) return true;
    return false;
  };
  const rows: ({ line: DiffLine; i: number } | { fold: number; from: number; count: number })[] = [];
  for (let i = 0; i < diff.lines.length; i++) {
    const line = diff.lines[i] as DiffLine;
    if (line.kind !== "unchanged" || near(i) || expanded.has(i)) {
      rows.push({ line, i });
      continue;
    }
    let j = i;
    while (j < diff.lines.length && diff.lines[j]?.kind === "unchanged" && !near(j) && !expanded.has(j)) j++;
    rows.push({ fold: rows.length, from: i, count: j - i });
    i = j - 1;
  }
  return (
    <div class="diff">
      <table>
        <caption class="sr-only">Old and new configuration, line by line</caption>
        <thead class="sr-only">
          <tr>
            <th scope="col">Old line</th>
            <th scope="col">New line</th>
            <th scope="col">Change</th>
            <th scope="col">Text</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) =>
            "line" in row ? (
              <tr class={`diff-line ${row.line.kind}`} key={row.i}>
                <td class="ln">{row.line.oldLine ?? ""}</td>
                <td class="ln">{row.line.newLine ?? ""}</td>
                <td class="mark">
                  {row.line.kind === "added" ? (
                    <>
                      <span aria-hidden="true">+</span>
                      <span class="sr-only">added</span>
                    </>
                  ) : row.line.kind === "removed" ? (
                    <>
                      <span aria-hidden="true">−</span>
                      <span class="sr-only">removed</span>
                    </>
                  ) : null}
                </td>
                <td>
                  <code>{row.line.text}</code>
                </td>
              </tr>
            ) : (
              <tr class="diff-fold" key={`f${row.from}`}>
                <td colSpan={4}>
                  <button
                    type="button"
                    class="link"
                    onClick={() => {
                      const next = new Set(expanded);
                      for (let k = row.from; k < row.from + row.count; k++) next.add(k);
                      setExpanded(next);
                    }}
                  >
                    Show {row.count} unchanged lines
                  </button>
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}

function Summary({ summary }: { summary: EntityChange[] }) {
  return (
    <ul class="summary">
      {summary.map((s) => (
        <li key={`${s.section}.${s.id ?? ""}`}>
          <span class={`badge ${s.change}`}>{CHANGE[s.change]}</span> {SECTION_NAMES[s.section] ?? s.section} {s.label}
          {s.fields ? <span class="row-meta"> ({s.fields.join(", ")})</span> : null}
        </li>
      ))}
    </ul>
  );
}

export function ChangeDetails({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const state = usePbx(pbx);
  const { changes, error } = useChanges(pbx);
  const [applied, setApplied] = useState<{ version: number; appliedAt: string } | null>(null);
  return (
    <PbxFrame
      state={state}
      title="View Details"
      hidePending
      parent={{ label: "View PBX Changes", to: `/pbx/${pbx}/changes` }}
    >
      {() =>
        error ? (
          <Alert>{error.message}</Alert>
        ) : applied ? (
          <Applied pbx={pbx} {...applied} />
        ) : !changes ? (
          <p class="loading">Loading…</p>
        ) : (
          <>
            <p>
              Version {changes.appliedVersion} (old) against your pending changes (new):{" "}
              <span class="legend added">+{changes.diff.added} added</span>{" "}
              <span class="legend removed">−{changes.diff.removed} removed</span>
            </p>
            <Summary summary={changes.diff.summary} />
            <DiffView diff={changes.diff} />
            <div class="actions sticky">
              {changes.pending ? <ApplyButton pbx={pbx} etag={changes.etag} onApplied={setApplied} /> : null}
              <a class="button secondary" href={href(`/pbx/${pbx}/changes`)}>
                Back
              </a>
            </div>
          </>
        )
      }
    </PbxFrame>
  );
}

export function ChangeHistory({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const state = usePbx(pbx);
  const history = useApi<{ versions: VersionSummary[] }>(`/pbxs/${pbx}/history`);
  const versions = history.data?.versions ?? null;
  const [revertProblem, setProblem] = useState<string | null>(null);
  const problem = revertProblem ?? history.error?.message ?? null;
  const [notice, setNotice] = useState<string | null>(null);
  const revert = async (version: number, discardPending = false) => {
    setProblem(null);
    try {
      const { data } = await api<{ version: number }>("POST", `/pbxs/${pbx}/revert`, { version, discardPending });
      forgetPbx(pbx);
      setNotice(`Reverted to version ${version}: it is now version ${data.version}.`);
      await history.reload();
      await state.reload();
    } catch (e) {
      const err = e as ApiError;
      if (err.problem.type?.endsWith("/pending-changes")) {
        if (confirm("There are pending changes. Discard them and revert?")) return revert(version, true);
        return;
      }
      setProblem(err.message);
    }
  };
  const current = versions?.[0]?.version;
  return (
    <PbxFrame
      state={state}
      title="Change History"
      hidePending
      parent={{ label: "View PBX Changes", to: `/pbx/${pbx}/changes` }}
    >
      {() => (
        <>
          {notice ? <Notice>{notice}</Notice> : null}
          {problem ? <Alert>{problem}</Alert> : null}
          {!versions ? <p class="loading">Loading…</p> : null}
          <ol class="list history" aria-label="Applied versions">
            {versions?.map((v) => (
              <li key={v.version} class="version-row">
                <div>
                  <span class="row-title">
                    Version {v.version}
                    {v.version === current ? " (current)" : ""}
                  </span>
                  <span class="row-meta">
                    {when(v.appliedAt)} by {v.appliedBy}
                    {v.note ? ` · ${v.note}` : ""} ·{" "}
                    {v.summary.length === 0
                      ? "no changes"
                      : `${v.summary.length} ${v.summary.length === 1 ? "change" : "changes"}`}{" "}
                    ·{" "}
                    {v.acks.length > 0
                      ? `live on ${v.acks.map((a) => a.nodeId).join(", ")} since ${when(v.acks[0]?.ackedAt ?? v.appliedAt)}`
                      : "not acknowledged by a media node"}
                  </span>
                </div>
                <div class="row-actions">
                  <a class="button secondary" href={href(`/pbx/${pbx}/history/${v.version}`)}>
                    View Details
                  </a>
                  {v.version !== current ? (
                    <button
                      type="button"
                      class="secondary"
                      onClick={() =>
                        confirm(`Make version ${v.version} the live configuration again?`) && revert(v.version)
                      }
                    >
                      Revert to version {v.version}
                    </button>
                  ) : null}
                </div>
              </li>
            ))}
          </ol>
          <div class="actions">
            <a class="button secondary" href={href(`/pbx/${pbx}`)}>
              Return to Service
            </a>
          </div>
        </>
      )}
    </PbxFrame>
  );
}

export function VersionDetails({ params }: { params: Record<string, string> }) {
  const pbx = params.pbx ?? "";
  const state = usePbx(pbx);
  const fetched = useApi<{ version: VersionSummary; diff: ConfigDiff }>(`/pbxs/${pbx}/history/${params.version}`);
  const details = fetched.data;
  const problem = fetched.error?.message ?? null;
  return (
    <PbxFrame
      state={state}
      title={`Version ${params.version}`}
      parent={{ label: "Change History", to: `/pbx/${pbx}/history` }}
    >
      {() =>
        problem ? (
          <Alert>{problem}</Alert>
        ) : !details ? (
          <p class="loading">Loading…</p>
        ) : (
          <>
            <p>
              Applied {when(details.version.appliedAt)} by {details.version.appliedBy}
              {details.version.note ? ` (${details.version.note})` : ""}. Against version {Number(params.version) - 1}:{" "}
              <span class="legend added">+{details.diff.added}</span>{" "}
              <span class="legend removed">−{details.diff.removed}</span>
            </p>
            <Summary summary={details.diff.summary} />
            <DiffView diff={details.diff} />
            <div class="actions">
              <button type="button" class="secondary" onClick={() => navigate(`/pbx/${pbx}/history`)}>
                Back to Change History
              </button>
            </div>
          </>
        )
      }
    </PbxFrame>
  );
}
