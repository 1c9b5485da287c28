import { EventEmitter } from "node:events";
import { type Extension, normaliseNumber, type PbxConfig, sameNumber } from "../../shared/index.ts";

export interface PbxEntry {
  pbxId: string;
  version: number;
  config: PbxConfig;
  /** Extensions by SIP username and by number: a phone may register as either. */
  extensions: Map<string, Extension>;
}

interface PbxDirectoryEvents {
  changed: [pbxId: string, version: number];
  removed: [pbxId: string];
}

/**
 * The applied configurations this node serves, indexed the way SIP asks: by SIP domain (each
 * PBX is its own domain and digest realm) and by extension. Swapping a PBX's entry is atomic,
 * so a new version never disturbs calls already set up from the old one.
 */
export class PbxDirectory extends EventEmitter<PbxDirectoryEvents> {
  private readonly byId = new Map<string, PbxEntry>();
  private readonly byDomainName = new Map<string, PbxEntry>();
  /** DIDs (digits only) → PBX: the edge keeps each DID on one PBX of the platform. */
  private readonly byDidDigits = new Map<string, PbxEntry>();

  upsert(pbxId: string, version: number, config: PbxConfig): void {
    const previous = this.byId.get(pbxId);
    if (previous) this.forget(previous);
    const extensions = new Map<string, Extension>();
    for (const extension of config.extensions) {
      extensions.set(extension.number, extension);
      extensions.set(extension.sip.username, extension);
    }
    const entry: PbxEntry = { pbxId, version, config, extensions };
    this.byId.set(pbxId, entry);
    this.byDomainName.set(config.settings.sipDomain.toLowerCase(), entry);
    for (const route of config.callRoutes) this.byDidDigits.set(normaliseNumber(route.did), entry);
    this.emit("changed", pbxId, version);
  }

  /** The PBX that owns a DID the carrier delivers a call to (same matching as the dial plan). */
  byDid(did: string): PbxEntry | undefined {
    const exact = this.byDidDigits.get(normaliseNumber(did));
    if (exact) return exact;
    for (const entry of this.byId.values())
      if (entry.config.callRoutes.some((route) => sameNumber(route.did, did))) return entry;
    return undefined;
  }

  private forget(entry: PbxEntry): void {
    this.byDomainName.delete(entry.config.settings.sipDomain.toLowerCase());
    for (const route of entry.config.callRoutes) {
      const digits = normaliseNumber(route.did);
      if (this.byDidDigits.get(digits) === entry) this.byDidDigits.delete(digits);
    }
  }

  remove(pbxId: string): void {
    const entry = this.byId.get(pbxId);
    if (!entry) return;
    this.byId.delete(pbxId);
    this.forget(entry);
    this.emit("removed", pbxId);
  }

  get(pbxId: string): PbxEntry | undefined {
    return this.byId.get(pbxId);
  }

  byDomain(domain: string): PbxEntry | undefined {
    return this.byDomainName.get(domain.toLowerCase());
  }

  /** Every PBX served (the FTP server looks a login up among them). */
  entries(): IterableIterator<PbxEntry> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }
}
