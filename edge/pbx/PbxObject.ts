import { DurableObject } from "cloudflare:workers";
import type { DirectoryEntry } from "../../shared/accounts/schema.ts";
import {
  type AnnouncementAudio,
  type CallRecord,
  COLLECTIONS,
  type CollectionName,
  type ConfigDiff,
  canonicalJson,
  contentTag,
  describeEntity,
  diffConfigs,
  type EntityChange,
  emptyConfig,
  type FaxRecord,
  type ForwardAllEntry,
  type ForwardAllTable,
  PbxConfig,
  type PendingChange,
  redactConfig,
  restoreSecrets,
  type VersionSummary,
  validatePbxConfig,
} from "../../shared/index.ts";

export type { PendingChange, VersionSummary };

import { randomId } from "../../shared/crypto/password.ts";
import { deleteAnnouncementAudio } from "../announcements/audio.ts";
import { directory, type Env, nodeHub } from "../env.ts";
import { type FieldError, toFieldPath, zodFieldErrors } from "../http/problem.ts";
import { deleteRecordingFiles } from "../recordings/store.ts";
import {
  convertAddons,
  convertEntity,
  convertSettings,
  editableView,
  isPlainObject,
  mergePatch,
  type Section,
} from "./entities.ts";
import { logFilterClause } from "./log-filter.ts";
import { type RecordingFilter, type RecordingRow, RecordingsTable } from "./recordings.ts";

/**
 * One PBX: its draft configuration, the numbered applied versions and the changeset engine
 * between them ("View PBX Changes"). Every edit lands in the draft; Apply turns the draft into
 * the next version in one transaction and pushes it to the media nodes.
 */

export interface Actor {
  id: string;
  email: string;
}

export interface EditRequest {
  section: Section;
  action: "create" | "replace" | "patch" | "delete";
  id?: string;
  body?: unknown;
  ifMatch?: string | null;
  actor: Actor;
  /** An announcement file the edge just stored (PUT …/audio): the only way `audio` is set. */
  uploadedAudio?: AnnouncementAudio;
}

export type EditResult =
  | { ok: true; entity: unknown; etag: string; draftEtag: string; secrets: Record<string, string> }
  | { ok: false; error: "notFound" }
  | { ok: false; error: "stale"; etag: string; current: unknown }
  | { ok: false; error: "invalid" | "inUse"; errors: FieldError[] };

export type ApplyResult =
  | { ok: true; version: number; appliedAt: string; summary: EntityChange[] }
  | { ok: false; error: "nothingToApply" | "pendingChanges" | "notFound" }
  | { ok: false; error: "stale"; etag: string }
  | { ok: false; error: "invalid"; errors: FieldError[] };

const DRAFT_PREFIX = "d";
const DID_TAKEN = "is already routed by another PBX on this platform";

export class PbxObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly recordings: RecordingsTable;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS draft (
        id INTEGER PRIMARY KEY CHECK (id = 1), config TEXT NOT NULL, revision INTEGER NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS pending (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, section TEXT NOT NULL,
        entity_id TEXT, action TEXT NOT NULL, label TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS versions (
        version INTEGER PRIMARY KEY, config TEXT NOT NULL, applied_at TEXT NOT NULL, applied_by TEXT NOT NULL,
        note TEXT, revert_of INTEGER, summary TEXT NOT NULL, changes TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS acks (
        node_id TEXT NOT NULL, version INTEGER NOT NULL, acked_at TEXT NOT NULL, PRIMARY KEY (node_id, version));
      CREATE TABLE IF NOT EXISTS calls (
        call_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, started_at TEXT NOT NULL, from_number TEXT NOT NULL,
        to_number TEXT NOT NULL, record TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS calls_started ON calls(started_at);
      CREATE TABLE IF NOT EXISTS faxes (
        id TEXT PRIMARY KEY, node_id TEXT NOT NULL, direction TEXT NOT NULL, started_at TEXT NOT NULL,
        from_number TEXT NOT NULL, to_number TEXT NOT NULL, record TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS faxes_started ON faxes(started_at);
      CREATE TABLE IF NOT EXISTS forward_all (
        route_id TEXT PRIMARY KEY, destination TEXT NOT NULL, set_at TEXT NOT NULL, set_by TEXT NOT NULL);
    `);
    this.recordings = new RecordingsTable(this.sql);
  }

  /** Creates the PBX with an empty configuration applied as version 1. Idempotent. */
  async init(pbxId: string, sipDomain: string, actor: Actor): Promise<{ version: number }> {
    if (this.meta("pbx_id")) return { version: this.latestVersion() };
    const config = emptyConfig(sipDomain);
    const now = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("INSERT INTO meta (key, value) VALUES ('pbx_id', ?)", pbxId);
      this.sql.exec(
        "INSERT INTO draft (id, config, revision, updated_at) VALUES (1, ?, 1, ?)",
        JSON.stringify(config),
        now,
      );
      this.sql.exec(
        "INSERT INTO versions (version, config, applied_at, applied_by, note, summary, changes) VALUES (1, ?, ?, ?, ?, '[]', '[]')",
        JSON.stringify(config),
        now,
        actor.email,
        "PBX created",
      );
    });
    // Media nodes serve the new PBX (its SIP domain answers) from version 1 on.
    await this.publish();
    return { version: 1 };
  }

  // ---- reading ----

  /** The draft as people may see it, with its entity tag. */
  getDraft(): { config: PbxConfig; etag: string; revision: number; pending: boolean } {
    const { config, revision } = this.draft();
    return {
      config: redactConfig(config),
      etag: draftEtag(revision),
      revision,
      pending: this.hasPendingChanges(config),
    };
  }

  /** An applied version as people may see it (redacted); the latest when no number is given. */
  getApplied(version?: number): { config: PbxConfig; version: number; appliedAt: string } | null {
    const row = this.versionRow(version);
    if (!row) return null;
    return {
      config: redactConfig(storedConfig(row.config)),
      version: row.version as number,
      appliedAt: row.applied_at as string,
    };
  }

  /**
   * One extension as the latest applied version has it, secrets included (its HA1), and the SIP
   * domain: what a softphone registers with. null when the number is not live.
   */
  liveExtension(
    number: string,
  ): { sipDomain: string; extension: PbxConfig["extensions"][number]; directory: DirectoryEntry[] } | null {
    const row = this.versionRow();
    if (!row) return null;
    const config = storedConfig(row.config);
    const extension = config.extensions.find((e) => e.number === number);
    if (!extension) return null;
    const entries = (kind: DirectoryEntry["kind"], list: { number: string; name: string }[]) =>
      list.map((e) => ({ number: e.number, name: e.name, kind }));
    const directory = [
      ...entries(
        "extension",
        config.extensions.filter((e) => e.number !== number),
      ),
      ...entries("ringGroup", config.ringGroups),
      ...entries("conference", config.conferenceRooms),
      ...entries("speedDial", config.virtualExtensions),
    ].sort((a, b) => a.number.localeCompare(b.number));
    return { sipDomain: config.settings.sipDomain, extension, directory };
  }

  /** The latest applied version with its secrets, and the forward-all table, for media nodes only. */
  getAppliedForNode(): { pbxId: string; version: number; config: PbxConfig; forwardAll: ForwardAllTable } | null {
    const row = this.versionRow();
    const pbxId = this.meta("pbx_id");
    if (!row || !pbxId) return null;
    return {
      pbxId,
      version: row.version as number,
      config: storedConfig(row.config),
      forwardAll: this.forwardAllTable(),
    };
  }

  listEntities(section: CollectionName): { items: unknown[]; etag: string } {
    const { config, revision } = this.draft();
    const items = redactConfig(config)[COLLECTIONS[section].key] as { id: string }[];
    return { items: items.map((item) => ({ ...item, etag: entityEtag(item) })), etag: draftEtag(revision) };
  }

  getEntity(section: Section, id?: string): { entity: JsonObject; etag: string } | null {
    const { config } = this.draft();
    const redacted = redactConfig(config);
    if (section === "addons" || section === "settings") {
      return { entity: redacted[section] as unknown as JsonObject, etag: entityEtag(config[section]) };
    }
    const stored = (config[COLLECTIONS[section].key] as { id: string }[]).find((item) => item.id === id);
    const shown = (redacted[COLLECTIONS[section].key] as { id: string }[]).find((item) => item.id === id);
    return stored && shown ? { entity: shown, etag: entityEtag(stored) } : null;
  }

  /** Pending changes: the log of edits since the last apply, and old vs new. */
  changes(): {
    pending: boolean;
    appliedVersion: number;
    etag: string;
    changes: PendingChange[];
    diff: ConfigDiff;
  } {
    const { config, revision } = this.draft();
    const applied = this.appliedConfig();
    return {
      pending: this.hasPendingChanges(config),
      appliedVersion: this.latestVersion(),
      etag: draftEtag(revision),
      changes: this.pendingChanges(),
      diff: diffConfigs(applied, config, { old: `version ${this.latestVersion()}`, new: "pending changes" }),
    };
  }

  history(): VersionSummary[] {
    const acks = this.sql.exec("SELECT * FROM acks ORDER BY acked_at").toArray();
    return this.sql
      .exec(
        "SELECT version, applied_at, applied_by, note, revert_of, summary, changes FROM versions ORDER BY version DESC",
      )
      .toArray()
      .map((row) => ({
        version: row.version as number,
        appliedAt: row.applied_at as string,
        appliedBy: row.applied_by as string,
        note: row.note as string | null,
        revertOf: row.revert_of as number | null,
        summary: JSON.parse(row.summary as string),
        changes: JSON.parse(row.changes as string),
        acks: acks
          .filter((a) => a.version === row.version)
          .map((a) => ({ nodeId: a.node_id as string, ackedAt: a.acked_at as string })),
      }));
  }

  /** One version with what it changed against the version before it. */
  versionDetails(version: number): { version: VersionSummary; config: PbxConfig; diff: ConfigDiff } | null {
    const summary = this.history().find((v) => v.version === version);
    const row = this.versionRow(version);
    if (!summary || !row) return null;
    const config = storedConfig(row.config);
    const previousRow = this.versionRow(version - 1);
    const previous = previousRow ? storedConfig(previousRow.config) : config;
    return {
      version: summary,
      config: redactConfig(config),
      diff: diffConfigs(previous, config, { old: `version ${version - 1}`, new: `version ${version}` }),
    };
  }

  // ---- editing the draft ----

  /** Creates, replaces, patches or deletes one entity of the draft, atomically. */
  async edit(request: EditRequest): Promise<EditResult> {
    // Hashing secrets awaits WebCrypto; block other events so the read-modify-write stays atomic.
    return this.ctx.blockConcurrencyWhile(() => this.editNow(request));
  }

  private async editNow(request: EditRequest): Promise<EditResult> {
    const { config, revision } = this.draft();
    const { section, action } = request;
    const singleton = section === "addons" || section === "settings";
    const key = singleton ? section : COLLECTIONS[section].key;
    const list = singleton ? [] : (config[key as (typeof COLLECTIONS)[CollectionName]["key"]] as { id: string }[]);
    const index = singleton ? -1 : list.findIndex((item) => item.id === request.id);
    const existing: unknown = singleton ? config[section] : index >= 0 ? list[index] : null;

    if (action !== "create" && existing === null) return { ok: false, error: "notFound" };
    if (request.ifMatch && request.ifMatch !== "*") {
      const current = action === "create" ? draftEtag(revision) : entityEtag(existing);
      const acceptable = [current, draftEtag(revision)];
      if (!acceptable.includes(request.ifMatch)) {
        return {
          ok: false,
          error: "stale",
          etag: current,
          current: action === "create" ? null : this.getEntity(section, request.id)?.entity,
        };
      }
    }

    const next: PbxConfig = structuredClone(config);
    let stored: ({ id?: string } & object) | null = null;
    let secrets: Record<string, string> = {};
    if (action === "delete") {
      if (singleton)
        return { ok: false, error: "invalid", errors: [{ field: "(body)", message: `${section} cannot be deleted` }] };
      (next[key as (typeof COLLECTIONS)[CollectionName]["key"]] as { id: string }[]).splice(index, 1);
    } else {
      const body = action === "patch" ? mergePatch(editableView(section, existing), request.body) : request.body;
      const converted =
        section === "addons"
          ? await convertAddons(body, config.addons)
          : section === "settings"
            ? convertSettings(body, config.settings)
            : await convertEntity(
                section,
                body,
                existing as { id: string } | null,
                request.id ?? randomId(COLLECTIONS[section].prefix),
                config,
                request.uploadedAudio,
              );
      if (!converted.ok) return { ok: false, error: "invalid", errors: converted.errors };
      stored = converted.value as { id?: string };
      secrets = converted.secrets;
      if (singleton) (next as Record<string, unknown>)[section] = stored;
      else {
        const target = next[key as (typeof COLLECTIONS)[CollectionName]["key"]] as unknown[];
        if (index >= 0) target[index] = stored;
        else target.push(stored);
      }
    }

    if (section === "call-routes" && stored !== null) {
      const did = (stored as { did: string }).did;
      const owner = await directory(this.env).didOwner(did);
      if (owner !== null && owner !== this.meta("pbx_id"))
        return { ok: false, error: "invalid", errors: [{ field: "did", message: DID_TAKEN }] };
    }

    const issues = validatePbxConfig(next);
    if (issues.length > 0) {
      const ownIndex = singleton ? -1 : index >= 0 ? index : list.length;
      const errors = issues.map((issue) => ({
        field:
          issue.path[0] === key && (singleton || issue.path[1] === ownIndex)
            ? toFieldPath(issue.path.slice(singleton ? 1 : 2))
            : toFieldPath(issue.path),
        message: issue.message,
      }));
      return { ok: false, error: action === "delete" ? "inUse" : "invalid", errors };
    }

    const label = labelFor(section, (stored ?? existing) as object);
    const now = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      this.writeDraft(next, now);
      this.logPending(now, request.actor, {
        section,
        entityId: singleton ? null : (stored?.id ?? request.id ?? null),
        action: action === "create" ? "create" : action === "delete" ? "delete" : "update",
        label,
      });
    });
    const shown = stored === null ? null : this.getEntity(section, stored.id);
    return {
      ok: true,
      entity: shown?.entity ?? null,
      etag: shown?.etag ?? "",
      draftEtag: draftEtag(revision + 1),
      secrets,
    };
  }

  /** Replaces the whole draft (a bulk import); the same rules as single edits apply. */
  replaceDraft(config: unknown, ifMatch: string | null, actor: Actor): EditResult {
    const { revision, config: current } = this.draft();
    if (ifMatch && ifMatch !== "*" && ifMatch !== draftEtag(revision))
      return { ok: false, error: "stale", etag: draftEtag(revision), current: null };
    // The SIP domain is the digest realm of every stored HA1: it never changes.
    const withDomain = isPlainObject(config)
      ? { ...config, settings: { ...(config.settings as object), sipDomain: current.settings.sipDomain } }
      : config;
    const parsed = PbxConfig.safeParse(withDomain);
    if (!parsed.success) return { ok: false, error: "invalid", errors: zodFieldErrors(parsed.error) };
    // A client sends back what it read: redacted secrets mean "keep the stored one".
    const restored = restoreSecrets(parsed.data, current);
    if (restored.missing.length > 0)
      return {
        ok: false,
        error: "invalid",
        errors: restored.missing.map((path) => ({ field: toFieldPath(path), message: "set a new secret here" })),
      };
    const checked = checkConfig(restored.config);
    if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
    const now = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      this.writeDraft(checked.config, now);
      this.logPending(now, actor, {
        section: "config",
        entityId: null,
        action: "update",
        label: "whole configuration",
      });
    });
    return { ok: true, entity: null, etag: draftEtag(revision + 1), draftEtag: draftEtag(revision + 1), secrets: {} };
  }

  /** Discards the draft's pending changes: the draft becomes the applied configuration again. */
  discard(): { etag: string } {
    const { revision } = this.draft();
    this.ctx.storage.transactionSync(() => {
      this.writeDraft(this.appliedConfig(), new Date().toISOString());
      this.sql.exec("DELETE FROM pending");
    });
    return { etag: draftEtag(revision + 1) };
  }

  // ---- apply, revert ----

  /** Apply PBX Changes: the draft becomes the next version, all at once or not at all. */
  async apply(actor: Actor, note: string | null, ifMatch: string | null): Promise<ApplyResult> {
    // One apply at a time: the DID claim awaits the directory, and nothing may interleave.
    const result = await this.ctx.blockConcurrencyWhile(() => this.applyNow(actor, note, ifMatch));
    if (result.ok) await this.publish();
    return result;
  }

  private async applyNow(actor: Actor, note: string | null, ifMatch: string | null): Promise<ApplyResult> {
    const { config, revision } = this.draft();
    if (ifMatch && ifMatch !== "*" && ifMatch !== draftEtag(revision))
      return { ok: false, error: "stale", etag: draftEtag(revision) };
    if (!this.hasPendingChanges(config)) return { ok: false, error: "nothingToApply" };
    const checked = checkConfig(config);
    if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
    const claimed = await this.claimDids(checked.config);
    if (claimed) return claimed;
    return this.commitVersion(checked.config, actor, note, null);
  }

  /** Makes an earlier version current again, as a new version. */
  async revert(version: number, actor: Actor, discardPending: boolean): Promise<ApplyResult> {
    const result = await this.ctx.blockConcurrencyWhile(() => this.revertNow(version, actor, discardPending));
    if (result.ok) await this.publish();
    return result;
  }

  private async revertNow(version: number, actor: Actor, discardPending: boolean): Promise<ApplyResult> {
    const row = this.versionRow(version);
    if (!row) return { ok: false, error: "notFound" };
    const { config } = this.draft();
    if (this.hasPendingChanges(config) && !discardPending) return { ok: false, error: "pendingChanges" };
    const target = PbxConfig.parse(JSON.parse(row.config as string));
    if (canonicalJson(target) === canonicalJson(this.appliedConfig())) return { ok: false, error: "nothingToApply" };
    const claimed = await this.claimDids(target);
    if (claimed) return claimed;
    return this.commitVersion(target, actor, `Reverted to version ${version}`, version);
  }

  /** Registers the config's DIDs as this PBX's on the platform; a refusal names the taken routes. */
  private async claimDids(config: PbxConfig): Promise<(ApplyResult & { ok: false }) | null> {
    const pbxId = this.meta("pbx_id") ?? "";
    const { taken } = await directory(this.env).claimDids(
      pbxId,
      config.callRoutes.map((r) => r.did),
    );
    if (taken.length === 0) return null;
    const errors = config.callRoutes.flatMap((r, i) =>
      taken.includes(r.did) ? [{ field: `callRoutes[${i}].did`, message: DID_TAKEN }] : [],
    );
    return { ok: false, error: "invalid", errors };
  }

  private commitVersion(
    config: PbxConfig,
    actor: Actor,
    note: string | null,
    revertOf: number | null,
  ): ApplyResult & { ok: true } {
    const previous = this.appliedConfig();
    const summary = diffConfigs(previous, config).summary;
    const changes = this.pendingChanges();
    const version = this.latestVersion() + 1;
    const appliedAt = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO versions (version, config, applied_at, applied_by, note, revert_of, summary, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        version,
        JSON.stringify(config),
        appliedAt,
        actor.email,
        note,
        revertOf,
        JSON.stringify(summary),
        JSON.stringify(revertOf === null ? changes : []),
      );
      this.writeDraft(config, appliedAt);
      this.sql.exec("DELETE FROM pending");
    });
    return { ok: true, version, appliedAt, summary };
  }

  /** Sends the latest applied version to the media nodes; they also catch up when they connect. */
  private async publish(): Promise<void> {
    const latest = this.getAppliedForNode();
    if (!latest) return;
    try {
      await nodeHub(this.env).publish(latest.pbxId, latest.version, latest.config);
    } catch (error) {
      console.error(`publish of ${latest.pbxId} v${latest.version} failed: ${(error as Error).message}`);
    }
  }

  /** A media node has the version live. */
  recordAck(nodeId: string, version: number): boolean {
    if (!this.meta("pbx_id") || !this.versionRow(version)) return false;
    this.sql.exec(
      "INSERT OR IGNORE INTO acks (node_id, version, acked_at) VALUES (?, ?, ?)",
      nodeId,
      version,
      new Date().toISOString(),
    );
    return true;
  }

  // ---- Call Forward All (runtime state, not configuration: it changes without Apply) ----

  /** Route id → destination, for the media nodes. */
  forwardAllTable(): ForwardAllTable {
    const table: ForwardAllTable = {};
    for (const row of this.sql.exec("SELECT route_id, destination FROM forward_all").toArray())
      table[row.route_id as string] = row.destination as string;
    return table;
  }

  /** Every call route with its forward-all code and state, as the portal shows it. */
  listForwardAll(): ForwardAllEntry[] {
    const applied = this.getAppliedForNode();
    if (!applied) return [];
    const rows = new Map(
      this.sql
        .exec("SELECT * FROM forward_all")
        .toArray()
        .map((r) => [r.route_id as string, r]),
    );
    return applied.config.callRoutes.map((route) => {
      const row = rows.get(route.id);
      return {
        routeId: route.id,
        did: route.did,
        alertName: route.alertName,
        enabled: route.forwardAll.enabled,
        dialCode: route.forwardAll.dialCode,
        destination: (row?.destination as string | undefined) ?? null,
        setAt: (row?.set_at as string | undefined) ?? null,
        setBy: (row?.set_by as string | undefined) ?? null,
      };
    });
  }

  /**
   * Sets (destination) or clears (null) Call Forward All on a route of the applied config, from a
   * phone's dial code (by "extension via node …") or the portal, and tells every media node.
   */
  async setForwardAll(
    routeId: string,
    destination: string | null,
    by: string,
  ): Promise<{ ok: true; entry: ForwardAllEntry } | { ok: false; reason: "no-route" | "disabled" }> {
    const route = this.getAppliedForNode()?.config.callRoutes.find((r) => r.id === routeId);
    if (!route) return { ok: false, reason: "no-route" };
    if (destination !== null && !route.forwardAll.enabled) return { ok: false, reason: "disabled" };
    if (destination === null) this.sql.exec("DELETE FROM forward_all WHERE route_id = ?", routeId);
    else
      this.sql.exec(
        "INSERT OR REPLACE INTO forward_all (route_id, destination, set_at, set_by) VALUES (?, ?, ?, ?)",
        routeId,
        destination,
        new Date().toISOString(),
        by,
      );
    const pbxId = this.meta("pbx_id");
    if (pbxId) {
      try {
        await nodeHub(this.env).publishForwardAll(pbxId, this.forwardAllTable());
      } catch (error) {
        console.error(`forward-all of ${pbxId} not published: ${(error as Error).message}`);
      }
    }
    const entry = this.listForwardAll().find((e) => e.routeId === routeId) as ForwardAllEntry;
    return { ok: true, entry };
  }

  /** A finished call reported by a media node; a repeated report of the same call is ignored. */
  recordCall(nodeId: string, record: CallRecord): boolean {
    if (!this.meta("pbx_id")) return false;
    this.sql.exec(
      "INSERT OR IGNORE INTO calls (call_id, node_id, started_at, from_number, to_number, record) VALUES (?, ?, ?, ?, ?, ?)",
      record.callId,
      nodeId,
      record.startedAt,
      record.from,
      record.to,
      JSON.stringify(record),
    );
    return true;
  }

  /** Call records, newest first, filtered by start time range and a number on either end. */
  listCalls(filter: { from?: string; to?: string; number?: string; limit: number }): CallRecord[] {
    const { clause, args } = logFilterClause(filter);
    return this.sql
      .exec(`SELECT record FROM calls ${clause} ORDER BY started_at DESC LIMIT ?`, ...args, filter.limit)
      .toArray()
      .map((r) => JSON.parse(r.record as string) as CallRecord);
  }

  /** A fax reported by a media node (the fax log); a repeated report of the same fax is ignored. */
  recordFax(nodeId: string, fax: FaxRecord): boolean {
    if (!this.meta("pbx_id")) return false;
    this.sql.exec(
      "INSERT OR IGNORE INTO faxes (id, node_id, direction, started_at, from_number, to_number, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
      fax.id,
      nodeId,
      fax.direction,
      fax.startedAt,
      fax.from,
      fax.to,
      JSON.stringify(fax),
    );
    return true;
  }

  /** The fax log, newest first, filtered like the calls (start time range, a number) and by direction. */
  listFaxes(filter: {
    from?: string;
    to?: string;
    number?: string;
    direction?: FaxRecord["direction"];
    limit: number;
  }): FaxRecord[] {
    const { clause, args } = logFilterClause(
      filter,
      filter.direction ? [{ condition: "direction = ?", value: filter.direction }] : [],
    );
    return this.sql
      .exec(`SELECT record FROM faxes ${clause} ORDER BY started_at DESC LIMIT ?`, ...args, filter.limit)
      .toArray()
      .map((r) => JSON.parse(r.record as string) as FaxRecord);
  }

  // ---- call recordings (the files are in R2; see edge/routes/recordings.ts) ----

  recording(id: string): RecordingRow | null {
    return this.recordings.get(id);
  }

  /** Stores an upload's metadata (replacing an earlier upload's); false when the PBX does not exist. */
  putRecording(row: RecordingRow): boolean {
    if (!this.meta("pbx_id")) return false;
    this.recordings.put(row);
    return true;
  }

  listRecordings(filter: RecordingFilter): RecordingRow[] {
    return this.recordings.list(filter);
  }

  /** Forgets a recording; answers its row so the caller deletes the file. */
  deleteRecording(id: string): RecordingRow | null {
    return this.recordings.delete(id);
  }

  /** Deletes everything this PBX stored, its call recordings' files included. */
  async destroy(): Promise<void> {
    const pbxId = this.meta("pbx_id");
    if (pbxId) await deleteRecordingFiles(this.env.RECORDINGS, pbxId);
    if (pbxId) await deleteAnnouncementAudio(this.env.AUDIO, pbxId);
    await this.ctx.storage.deleteAll();
  }

  // ---- internals ----

  /** Stores a new draft and bumps its revision (call inside a transaction). */
  private writeDraft(config: PbxConfig, at: string): void {
    this.sql.exec(
      "UPDATE draft SET config = ?, revision = revision + 1, updated_at = ? WHERE id = 1",
      JSON.stringify(config),
      at,
    );
  }

  /** Adds an entry to the pending-changes log (call inside a transaction). */
  private logPending(at: string, actor: Actor, change: Omit<PendingChange, "seq" | "at" | "actor">): void {
    this.sql.exec(
      "INSERT INTO pending (at, actor, section, entity_id, action, label) VALUES (?, ?, ?, ?, ?, ?)",
      at,
      actor.email,
      change.section,
      change.entityId,
      change.action,
      change.label,
    );
  }

  private draft(): { config: PbxConfig; revision: number } {
    const row = this.sql.exec("SELECT config, revision FROM draft WHERE id = 1").toArray()[0];
    if (!row) throw new Error("PBX is not initialised");
    return { config: storedConfig(row.config), revision: row.revision as number };
  }

  private appliedConfig(): PbxConfig {
    const row = this.versionRow();
    if (!row) throw new Error("PBX is not initialised");
    return storedConfig(row.config);
  }

  private hasPendingChanges(draft: PbxConfig): boolean {
    return canonicalJson(draft) !== canonicalJson(this.appliedConfig());
  }

  private latestVersion(): number {
    return (this.sql.exec("SELECT COALESCE(MAX(version), 0) AS v FROM versions").one().v as number) ?? 0;
  }

  private versionRow(version?: number) {
    return version === undefined
      ? this.sql.exec("SELECT * FROM versions ORDER BY version DESC LIMIT 1").toArray()[0]
      : this.sql.exec("SELECT * FROM versions WHERE version = ?", version).toArray()[0];
  }

  private pendingChanges(): PendingChange[] {
    return this.sql
      .exec("SELECT * FROM pending ORDER BY seq")
      .toArray()
      .map((r) => ({
        seq: r.seq as number,
        at: r.at as string,
        actor: r.actor as string,
        section: r.section as string,
        entityId: r.entity_id as string | null,
        action: r.action as PendingChange["action"],
        label: r.label as string,
      }));
  }

  private meta(key: string): string | null {
    const row = this.sql.exec("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row ? (row.value as string) : null;
  }
}

/** A whole configuration checked against the schema and the cross-entity rules. */
function checkConfig(candidate: unknown): { ok: true; config: PbxConfig } | { ok: false; errors: FieldError[] } {
  const parsed = PbxConfig.safeParse(candidate);
  if (!parsed.success) return { ok: false, errors: zodFieldErrors(parsed.error) };
  const issues = validatePbxConfig(parsed.data);
  if (issues.length > 0)
    return { ok: false, errors: issues.map((i) => ({ field: toFieldPath(i.path), message: i.message })) };
  return { ok: true, config: parsed.data };
}

/** A configuration read back from storage: it was fully validated when it was written. */
function storedConfig(text: SqlStorageValue | undefined): PbxConfig {
  return JSON.parse(text as string) as PbxConfig;
}

export function draftEtag(revision: number): string {
  return `"${DRAFT_PREFIX}${revision}"`;
}

export function entityEtag(entity: unknown): string {
  return `"e${contentTag(entity)}"`;
}

function labelFor(section: Section, entity: object): string {
  return section === "addons" || section === "settings" ? section : `${section}: ${describeEntity(entity)}`;
}

/** An entity as it crosses the Durable Object RPC boundary (a plain JSON object). */
export type JsonObject = object;
