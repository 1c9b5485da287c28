import { createTwoFilesPatch, diffLines } from "diff";
import { canonicalJson } from "./hash.ts";
import { redactConfig } from "./redact.ts";
import { COLLECTION_KEYS, type PbxConfig } from "./schema.ts";

export type DiffLineKind = "added" | "removed" | "unchanged";

export interface DiffLine {
  kind: DiffLineKind;
  text: string;
  /** 1-based line in the old text (absent for added lines). */
  oldLine?: number;
  /** 1-based line in the new text (absent for removed lines). */
  newLine?: number;
}

export interface EntityChange {
  section: string;
  id?: string;
  label: string;
  change: "added" | "removed" | "changed";
  fields?: string[];
}

export interface ConfigDiff {
  summary: EntityChange[];
  lines: DiffLine[];
  unified: string;
  added: number;
  removed: number;
}

/** How a configuration reads in "View Details": redacted, one field per line. */
export function configText(config: PbxConfig): string {
  return `${JSON.stringify(redactConfig(config), null, 2)}\n`;
}

/** Old vs new configuration, line by line (jsdiff) and entity by entity. */
export function diffConfigs(
  before: PbxConfig,
  after: PbxConfig,
  labels: { old: string; new: string } = { old: "applied", new: "draft" },
): ConfigDiff {
  const oldText = configText(before);
  const newText = configText(after);
  const lines: DiffLine[] = [];
  let oldLine = 1;
  let newLine = 1;
  let added = 0;
  let removed = 0;
  for (const part of diffLines(oldText, newText)) {
    const texts = part.value.replace(/\n$/, "").split("\n");
    for (const text of texts) {
      if (part.added) {
        lines.push({ kind: "added", text, newLine: newLine++ });
        added++;
      } else if (part.removed) {
        lines.push({ kind: "removed", text, oldLine: oldLine++ });
        removed++;
      } else {
        lines.push({ kind: "unchanged", text, oldLine: oldLine++, newLine: newLine++ });
      }
    }
  }
  const unified = createTwoFilesPatch(labels.old, labels.new, oldText, newText, undefined, undefined, { context: 3 });
  return { summary: summarise(before, after), lines, unified, added, removed };
}

function summarise(before: PbxConfig, after: PbxConfig): EntityChange[] {
  const changes: EntityChange[] = [];
  for (const section of ["settings", "addons"] as const) {
    const fields = changedFields(redactConfig(before)[section], redactConfig(after)[section]);
    if (fields.length > 0) changes.push({ section, label: section, change: "changed", fields });
  }
  for (const section of COLLECTION_KEYS) {
    const oldItems = new Map<string, object>(before[section].map((item) => [item.id, item]));
    const newItems = new Map<string, object>(after[section].map((item) => [item.id, item]));
    for (const [id, item] of newItems) {
      const old = oldItems.get(id);
      if (old === undefined) changes.push({ section, id, label: describeEntity(item), change: "added" });
      else {
        const fields = changedFields(old, item);
        if (fields.length > 0) changes.push({ section, id, label: describeEntity(item), change: "changed", fields });
      }
    }
    for (const [id, item] of oldItems) {
      if (!newItems.has(id)) changes.push({ section, id, label: describeEntity(item), change: "removed" });
    }
  }
  return changes;
}

function changedFields(before: object, after: object): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k])).sort();
}

/** A short human label for an entity: "100 Alice", "+61299990000 Sales line". */
export function describeEntity(item: object): string {
  const e = item as Record<string, unknown>;
  const first = e.number ?? e.did ?? e.email ?? "";
  const second = e.name ?? e.alertName ?? e.callerId ?? e.note ?? "";
  return [first, second].filter((s) => typeof s === "string" && s.length > 0).join(" ") || String(e.id);
}

/** One edit waiting in a PBX's draft (View PBX Changes), as the API lists it. */
export interface PendingChange {
  seq: number;
  at: string;
  actor: string;
  section: string;
  entityId: string | null;
  action: "create" | "update" | "delete";
  label: string;
}

/** One applied version in a PBX's Change History, as the API lists it. */
export interface VersionSummary {
  version: number;
  appliedAt: string;
  appliedBy: string;
  note: string | null;
  revertOf: number | null;
  summary: EntityChange[];
  changes: PendingChange[];
  acks: { nodeId: string; ackedAt: string }[];
}
