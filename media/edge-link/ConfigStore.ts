import { mkdirSync, readFileSync, renameSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { PbxConfig } from "../../shared/config/schema.ts";
import type { Logger } from "../common/Logger.ts";
import { isVersion, PBX_ID } from "./messages.ts";

/** One PBX's applied configuration as this node holds it. */
export interface StoredConfig {
  pbx: string;
  version: number;
  config: PbxConfig;
  receivedAt: string;
  /** The edge has been told this version is live here (an ack frame left the socket). */
  acked: boolean;
}

export interface ConfigStoreOptions {
  /** The node's state folder; the store is `<dir>/edge-configs.json`. */
  dir: string;
  logger: Logger;
  fileName?: string;
}

const FORMAT = 1;

/**
 * The applied configuration and version of each PBX, kept in memory and persisted to one JSON
 * file so that after a restart the node serves the last configs at once and tells the edge
 * which versions it has. Writes are atomic (temp file, fsync, rename) and coalesced: a burst of
 * changes (a resync after hello) costs one or two writes, not one per PBX.
 */
export class ConfigStore {
  readonly file: string;
  private readonly logger: Logger;
  private readonly configs = new Map<string, StoredConfig>();
  private dirty = false;
  private writing: Promise<void> | undefined;
  private tempCounter = 0;

  constructor({ dir, logger, fileName = "edge-configs.json" }: ConfigStoreOptions) {
    this.logger = logger;
    // It holds digest HA1s: only this user may read it.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, fileName);
    this.load();
  }

  get size(): number {
    return this.configs.size;
  }

  get(pbx: string): StoredConfig | undefined {
    return this.configs.get(pbx);
  }

  entries(): StoredConfig[] {
    return [...this.configs.values()];
  }

  /** What the node tells the edge in hello: PBX → version. */
  have(): Record<string, number> {
    return Object.fromEntries([...this.configs].map(([pbx, stored]) => [pbx, stored.version]));
  }

  set(pbx: string, version: number, config: PbxConfig): StoredConfig {
    const stored: StoredConfig = { pbx, version, config, receivedAt: new Date().toISOString(), acked: false };
    this.configs.set(pbx, stored);
    this.scheduleWrite();
    return stored;
  }

  /** Records that the edge was told; ignored when the PBX has moved on to another version meanwhile. */
  markAcked(pbx: string, version: number): void {
    const stored = this.configs.get(pbx);
    if (!stored || stored.version !== version || stored.acked) return;
    stored.acked = true;
    this.scheduleWrite();
  }

  delete(pbx: string): boolean {
    const deleted = this.configs.delete(pbx);
    if (deleted) this.scheduleWrite();
    return deleted;
  }

  /** Resolves once everything changed so far is on disk (write errors are logged, not thrown). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private scheduleWrite(): void {
    this.dirty = true;
    this.writing ??= this.writeLoop();
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        await this.writeNow();
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async writeNow(): Promise<void> {
    const pbxs: Record<string, Omit<StoredConfig, "pbx">> = {};
    for (const { pbx, ...rest } of this.configs.values()) pbxs[pbx] = rest;
    const json = JSON.stringify({ format: FORMAT, savedAt: new Date().toISOString(), pbxs });
    const temp = `${this.file}.${process.pid}.${++this.tempCounter}.tmp`;
    try {
      const handle = await open(temp, "w", 0o600);
      try {
        await handle.writeFile(json);
        // On disk before the rename, so a crash leaves the old file or the new one, never half of one.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.file);
    } catch (error) {
      this.logger.error(`could not save ${this.file}: ${(error as Error).message}`);
      await rm(temp, { force: true }).catch(() => {});
    }
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") this.logger.debug(`no ${this.file} yet; starting empty`);
      else this.logger.warn(`cannot read ${this.file} (${(error as Error).message}); starting empty`);
      return;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      this.setAside("it is not JSON");
      return;
    }
    const pbxs = (data as { pbxs?: unknown } | null)?.pbxs;
    if ((data as { format?: unknown } | null)?.format !== FORMAT || !pbxs || typeof pbxs !== "object") {
      this.setAside(`it is not format ${FORMAT}`);
      return;
    }
    for (const [pbx, entry] of Object.entries(pbxs as Record<string, unknown>)) {
      const e = (entry ?? {}) as Partial<Record<keyof StoredConfig, unknown>>;
      const parsed = PbxConfig.safeParse(e.config);
      if (!PBX_ID.test(pbx) || !isVersion(e.version) || !parsed.success) {
        // One bad entry costs that PBX a resync from the edge, not the others.
        this.logger.warn(
          `ignoring the stored config of ${PBX_ID.test(pbx) ? pbx : "an invalid PBX id"}: it is invalid`,
        );
        continue;
      }
      this.configs.set(pbx, {
        pbx,
        version: e.version,
        config: parsed.data,
        receivedAt: typeof e.receivedAt === "string" ? e.receivedAt : new Date(0).toISOString(),
        acked: e.acked === true,
      });
    }
    this.logger.debug(`loaded ${this.configs.size} PBX configs from ${this.file}`);
  }

  /** A corrupt file is kept for inspection, and the node starts empty: the edge resends everything. */
  private setAside(why: string): void {
    const aside = `${this.file}.corrupt-${Date.now()}`;
    try {
      renameSync(this.file, aside);
      this.logger.warn(`${this.file} is corrupt (${why}); moved it to ${aside} and starting empty`);
    } catch (error) {
      this.logger.warn(
        `${this.file} is corrupt (${why}) and could not be moved (${(error as Error).message}); starting empty`,
      );
    }
  }
}
