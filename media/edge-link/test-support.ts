import { PbxConfig } from "../../shared/config/schema.ts";
import type { Logger } from "../common/Logger.ts";

/** A logger that keeps its lines, so tests can look for warnings (and for secrets that must not be there). */
export class MemoryLogger implements Logger {
  readonly lines: { level: "debug" | "info" | "warn" | "error"; message: string }[] = [];
  debug(message: string): void {
    this.lines.push({ level: "debug", message });
  }
  info(message: string): void {
    this.lines.push({ level: "info", message });
  }
  warn(message: string): void {
    this.lines.push({ level: "warn", message });
  }
  error(message: string): void {
    this.lines.push({ level: "error", message });
  }
  text(): string {
    return this.lines.map((l) => `${l.level} ${l.message}`).join("\n");
  }
  at(level: "warn" | "error"): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}

export const HA1_MD5 = "0123456789abcdef0123456789abcdef";
export const HA1_SHA256 = "fedcba9876543210".repeat(4);

/** A valid applied config with one extension per number given. */
export function sampleConfig(pbx: string, numbers: string[] = ["100"]): PbxConfig {
  return PbxConfig.parse({
    schemaVersion: 1,
    settings: { sipDomain: `${pbx}.pbx.edgepbx.local` },
    extensions: numbers.map((number, i) => ({
      id: `ext_test${String(i).padStart(4, "0")}`,
      number,
      name: `Person ${number}`,
      sip: { username: number, ha1Md5: HA1_MD5, ha1Sha256: HA1_SHA256, passwordSetAt: "2026-01-01T00:00:00.000Z" },
    })),
  });
}

/** Polls until `probe` returns something, or fails after `ms`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 3_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
