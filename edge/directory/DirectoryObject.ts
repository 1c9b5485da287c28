import { DurableObject } from "cloudflare:workers";
import {
  type ContactDetails,
  Notifications,
  type Role,
  type ServiceAction,
  type SoftphoneLink,
  type UserStatus,
} from "../../shared/accounts/schema.ts";
import { randomId, randomToken, sha256Hex } from "../../shared/crypto/password.ts";
import type { Env } from "../env.ts";

/**
 * The directory of customers: accounts, portal users, sessions, API tokens, password
 * recovery, login throttling and the registry of services (PBXs). One instance, by name.
 */

export interface UserRecord extends ContactDetails {
  id: string;
  accountId: string;
  email: string;
  role: Role;
  status: UserStatus;
  notifications: Notifications;
  services: string[];
  actions: ServiceAction[];
  /** The extension the user's softphone registers as, if any. */
  softphone: SoftphoneLink | null;
  createdAt: string;
  updatedAt: string;
}

export interface Principal {
  user: UserRecord;
  via: "session" | "token";
  csrf: string | null;
}

export interface ServiceRecord {
  id: string;
  accountId: string;
  type: "voice";
  name: string;
  createdAt: string;
}

export interface TokenRecord {
  id: string;
  userId: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const SESSION_TTL_MS = 12 * 3600_000;
const RECOVERY_TTL_MS = 3600_000;
/**
 * Attempts allowed per window before a key is locked for LOGIN_LOCK_MS: failed logins per login
 * name, failed logins per client address (higher, so one office behind NAT is not locked out by one
 * person), and recovery mails per address (so nobody can flood a mailbox).
 */
export const ATTEMPT_LIMITS = { email: 5, address: 30, recover: 3 } as const;
export type AttemptKind = keyof typeof ATTEMPT_LIMITS;
export const LOGIN_LOCK_MS = 15 * 60_000;

type Row = Record<string, SqlStorageValue>;

export class DirectoryObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id),
        email TEXT NOT NULL UNIQUE, password_hash TEXT, role TEXT NOT NULL, status TEXT NOT NULL,
        contact TEXT NOT NULL, notifications TEXT NOT NULL, services TEXT NOT NULL, actions TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS users_account ON users(account_id);
      CREATE TABLE IF NOT EXISTS sessions (
        token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, csrf TEXT NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
      CREATE TABLE IF NOT EXISTS api_tokens (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
        created_at TEXT NOT NULL, last_used_at TEXT);
      CREATE TABLE IF NOT EXISTS recovery_tokens (
        token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);
      CREATE TABLE IF NOT EXISTS login_failures (
        key TEXT PRIMARY KEY, count INTEGER NOT NULL, first_at INTEGER NOT NULL, locked_until INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS services (
        id TEXT PRIMARY KEY, account_id TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS services_account ON services(account_id);
      CREATE TABLE IF NOT EXISTS dids (did TEXT PRIMARY KEY, pbx_id TEXT NOT NULL);
    `);
    // Added after the first release: directories created before have no such column yet.
    const columns = this.sql.exec("PRAGMA table_info(users)").toArray();
    if (!columns.some((c) => c.name === "softphone")) this.sql.exec("ALTER TABLE users ADD COLUMN softphone TEXT");
  }

  // ---- accounts and users ----

  register(input: ContactDetails & { email: string; passwordHash: string }): UserRecord | { error: "emailTaken" } {
    if (this.findUserRow(input.email)) return { error: "emailTaken" };
    const now = new Date().toISOString();
    const accountId = randomId("acc");
    const userId = randomId("usr");
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)",
        accountId,
        input.company || input.name,
        now,
      );
      this.insertUser(
        userId,
        accountId,
        input.email,
        input.passwordHash,
        "administrator",
        "active",
        input,
        {},
        [],
        ["view", "edit", "apply"],
      );
    });
    return this.getUser(userId) as UserRecord;
  }

  /** The stored hash for a login attempt, with the user; null when no such user. */
  loginLookup(email: string): { user: UserRecord; passwordHash: string | null } | null {
    const row = this.findUserRow(email);
    if (!row) return null;
    return { user: toUser(row), passwordHash: row.password_hash as string | null };
  }

  createUser(
    accountId: string,
    input: ContactDetails & {
      email: string;
      passwordHash: string | null;
      role: Role;
      status: UserStatus;
      notifications?: Partial<Notifications>;
      services: string[];
      actions: ServiceAction[];
      softphone?: SoftphoneLink | null;
    },
  ): UserRecord | { error: "emailTaken" | "unknownService" | "unknownSoftphonePbx"; detail?: string } {
    if (this.findUserRow(input.email)) return { error: "emailTaken" };
    const unknown = this.unknownServices(accountId, input.services);
    if (unknown) return { error: "unknownService", detail: unknown };
    if (input.softphone && this.unknownServices(accountId, [input.softphone.pbxId]))
      return { error: "unknownSoftphonePbx" };
    const id = randomId("usr");
    this.insertUser(
      id,
      accountId,
      input.email,
      input.passwordHash,
      input.role,
      input.status,
      input,
      input.notifications ?? {},
      input.services,
      input.actions,
    );
    if (input.softphone) this.setSoftphone(id, input.softphone);
    return this.getUser(id) as UserRecord;
  }

  getUser(id: string): UserRecord | null {
    const row = this.sql.exec("SELECT * FROM users WHERE id = ?", id).toArray()[0];
    return row ? toUser(row) : null;
  }

  listUsers(accountId: string): UserRecord[] {
    return this.sql.exec("SELECT * FROM users WHERE account_id = ? ORDER BY email", accountId).toArray().map(toUser);
  }

  updateUser(
    id: string,
    patch: Partial<ContactDetails> & {
      email?: string;
      passwordHash?: string;
      role?: Role;
      status?: UserStatus;
      notifications?: Partial<Notifications>;
      services?: string[];
      actions?: ServiceAction[];
      softphone?: SoftphoneLink | null;
    },
  ): UserRecord | { error: "notFound" | "emailTaken" | "unknownService" | "unknownSoftphonePbx"; detail?: string } {
    const current = this.getUser(id);
    if (!current) return { error: "notFound" };
    if (patch.email && patch.email !== current.email && this.findUserRow(patch.email)) return { error: "emailTaken" };
    if (patch.services) {
      const unknown = this.unknownServices(current.accountId, patch.services);
      if (unknown) return { error: "unknownService", detail: unknown };
    }
    if (patch.softphone && this.unknownServices(current.accountId, [patch.softphone.pbxId]))
      return { error: "unknownSoftphonePbx" };
    const contact: ContactDetails = {
      name: patch.name ?? current.name,
      company: patch.company ?? current.company,
      phone: patch.phone ?? current.phone,
      mobile: patch.mobile ?? current.mobile,
      position: patch.position ?? current.position,
    };
    const notifications = Notifications.parse({ ...current.notifications, ...patch.notifications });
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `UPDATE users SET email = ?, role = ?, status = ?, contact = ?, notifications = ?, services = ?, actions = ?,
           updated_at = ? WHERE id = ?`,
        patch.email ?? current.email,
        patch.role ?? current.role,
        patch.status ?? current.status,
        JSON.stringify(contact),
        JSON.stringify(notifications),
        JSON.stringify(patch.services ?? current.services),
        JSON.stringify(patch.actions ?? current.actions),
        new Date().toISOString(),
        id,
      );
      if (patch.passwordHash) this.sql.exec("UPDATE users SET password_hash = ? WHERE id = ?", patch.passwordHash, id);
      if (patch.softphone !== undefined) this.setSoftphone(id, patch.softphone);
      // Deactivation or a new password ends every session; deactivation also stops API tokens.
      if (patch.status === "inactive" || patch.passwordHash)
        this.sql.exec("DELETE FROM sessions WHERE user_id = ?", id);
    });
    return this.getUser(id) as UserRecord;
  }

  deleteUser(id: string): boolean {
    let deleted = false;
    this.ctx.storage.transactionSync(() => {
      deleted = this.sql.exec("DELETE FROM users WHERE id = ?", id).rowsWritten > 0;
      this.sql.exec("DELETE FROM sessions WHERE user_id = ?", id);
      this.sql.exec("DELETE FROM api_tokens WHERE user_id = ?", id);
      this.sql.exec("DELETE FROM recovery_tokens WHERE user_id = ?", id);
    });
    return deleted;
  }

  countAdministrators(accountId: string): number {
    return this.sql
      .exec(
        "SELECT COUNT(*) AS n FROM users WHERE account_id = ? AND role = 'administrator' AND status = 'active'",
        accountId,
      )
      .one().n as number;
  }

  // ---- sessions and tokens ----

  async createSession(userId: string): Promise<{ token: string; csrf: string; expiresAt: number }> {
    const token = randomToken();
    const csrf = randomToken();
    const expiresAt = Date.now() + SESSION_TTL_MS;
    this.sql.exec("DELETE FROM sessions WHERE expires_at < ?", Date.now());
    this.sql.exec(
      "INSERT INTO sessions (token_hash, user_id, csrf, expires_at) VALUES (?, ?, ?, ?)",
      await sha256Hex(token),
      userId,
      csrf,
      expiresAt,
    );
    return { token, csrf, expiresAt };
  }

  async endSession(token: string): Promise<void> {
    this.sql.exec("DELETE FROM sessions WHERE token_hash = ?", await sha256Hex(token));
  }

  /** Who a session cookie or bearer token belongs to, if still valid and active. */
  async authenticate(credentials: { session?: string; bearer?: string }): Promise<Principal | null> {
    if (credentials.session) {
      const row = this.sql
        .exec(
          "SELECT u.*, s.csrf AS session_csrf, s.expires_at AS session_expires FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
          await sha256Hex(credentials.session),
        )
        .toArray()[0];
      if (!row || (row.session_expires as number) < Date.now() || row.status !== "active") return null;
      return { user: toUser(row), via: "session", csrf: row.session_csrf as string };
    }
    if (credentials.bearer) {
      const tokenHash = await sha256Hex(credentials.bearer);
      const row = this.sql
        .exec("SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?", tokenHash)
        .toArray()[0];
      if (row?.status !== "active") return null;
      this.sql.exec("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?", new Date().toISOString(), tokenHash);
      return { user: toUser(row), via: "token", csrf: null };
    }
    return null;
  }

  async createToken(userId: string, name: string): Promise<{ token: string; record: TokenRecord }> {
    const token = `epbx_${randomToken()}`;
    const id = randomId("tok");
    const createdAt = new Date().toISOString();
    this.sql.exec(
      "INSERT INTO api_tokens (id, user_id, token_hash, name, created_at) VALUES (?, ?, ?, ?, ?)",
      id,
      userId,
      await sha256Hex(token),
      name,
      createdAt,
    );
    return { token, record: { id, userId, name, createdAt, lastUsedAt: null } };
  }

  listTokens(userId: string): TokenRecord[] {
    return this.sql
      .exec("SELECT * FROM api_tokens WHERE user_id = ? ORDER BY created_at", userId)
      .toArray()
      .map((r) => ({
        id: r.id as string,
        userId: r.user_id as string,
        name: r.name as string,
        createdAt: r.created_at as string,
        lastUsedAt: r.last_used_at as string | null,
      }));
  }

  revokeToken(userId: string, tokenId: string): boolean {
    return this.sql.exec("DELETE FROM api_tokens WHERE id = ? AND user_id = ?", tokenId, userId).rowsWritten > 0;
  }

  // ---- password recovery ----

  async createRecovery(email: string): Promise<{ token: string; user: UserRecord } | null> {
    const row = this.findUserRow(email);
    if (row?.status !== "active") return null;
    const token = randomToken();
    this.sql.exec("DELETE FROM recovery_tokens WHERE expires_at < ? OR user_id = ?", Date.now(), row.id);
    this.sql.exec(
      "INSERT INTO recovery_tokens (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
      await sha256Hex(token),
      row.id,
      Date.now() + RECOVERY_TTL_MS,
    );
    return { token, user: toUser(row) };
  }

  /** Spends a recovery token: single use, expiring. Sets the new password and ends sessions. */
  async consumeRecovery(token: string, passwordHash: string): Promise<UserRecord | { error: "invalid" | "expired" }> {
    const tokenHash = await sha256Hex(token);
    const row = this.sql.exec("SELECT * FROM recovery_tokens WHERE token_hash = ?", tokenHash).toArray()[0];
    if (!row || row.used_at !== null) return { error: "invalid" };
    if ((row.expires_at as number) < Date.now()) return { error: "expired" };
    const userId = row.user_id as string;
    const email = this.getUser(userId)?.email ?? "";
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("UPDATE recovery_tokens SET used_at = ? WHERE token_hash = ?", Date.now(), tokenHash);
      this.sql.exec(
        "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
        passwordHash,
        new Date().toISOString(),
        userId,
      );
      this.sql.exec("DELETE FROM sessions WHERE user_id = ?", userId);
      this.sql.exec("DELETE FROM login_failures WHERE key = ?", attemptKey("email", email));
    });
    return this.getUser(userId) ?? { error: "invalid" };
  }

  // ---- throttling: failed logins, recovery mails ----

  /** Milliseconds until `key` may try again; 0 when it may. */
  lockedFor(key: string): number {
    const row = this.sql.exec("SELECT locked_until FROM login_failures WHERE key = ?", key).toArray()[0];
    return row ? Math.max(0, (row.locked_until as number) - Date.now()) : 0;
  }

  /** Counts an attempt; the last one allowed within the window locks the key for LOGIN_LOCK_MS. Returns the lock left. */
  recordAttempt(key: string): number {
    const limit = ATTEMPT_LIMITS[key.slice(0, key.indexOf(":")) as AttemptKind] ?? 1;
    const now = Date.now();
    const row = this.sql.exec("SELECT * FROM login_failures WHERE key = ?", key).toArray()[0];
    const fresh = !row || now - (row.first_at as number) > LOGIN_LOCK_MS;
    const count = fresh ? 1 : (row.count as number) + 1;
    const lockedUntil = count >= limit ? now + LOGIN_LOCK_MS : 0;
    this.sql.exec(
      "INSERT OR REPLACE INTO login_failures (key, count, first_at, locked_until) VALUES (?, ?, ?, ?)",
      key,
      count,
      fresh ? now : (row.first_at as number),
      lockedUntil,
    );
    return Math.max(0, lockedUntil - now);
  }

  clearAttempts(key: string): void {
    this.sql.exec("DELETE FROM login_failures WHERE key = ?", key);
  }

  // ---- services ----

  createService(accountId: string, name: string): ServiceRecord {
    const record: ServiceRecord = {
      id: randomId("pbx", 10).toLowerCase().replace("_", "-"),
      accountId,
      type: "voice",
      name,
      createdAt: new Date().toISOString(),
    };
    this.sql.exec(
      "INSERT INTO services (id, account_id, type, name, created_at) VALUES (?, ?, ?, ?, ?)",
      record.id,
      record.accountId,
      record.type,
      record.name,
      record.createdAt,
    );
    return record;
  }

  getService(id: string): ServiceRecord | null {
    const row = this.sql.exec("SELECT * FROM services WHERE id = ?", id).toArray()[0];
    return row ? toService(row) : null;
  }

  listServices(accountId: string): ServiceRecord[] {
    return this.sql
      .exec("SELECT * FROM services WHERE account_id = ? ORDER BY name", accountId)
      .toArray()
      .map(toService);
  }

  listAllServiceIds(): string[] {
    return this.sql
      .exec("SELECT id FROM services ORDER BY id")
      .toArray()
      .map((r) => r.id as string);
  }

  renameService(id: string, name: string): ServiceRecord | null {
    this.sql.exec("UPDATE services SET name = ? WHERE id = ?", name, id);
    return this.getService(id);
  }

  /** Deletes a service, its DIDs and every user's grant to it. */
  deleteService(id: string): boolean {
    const service = this.getService(id);
    if (!service) return false;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM services WHERE id = ?", id);
      this.sql.exec("DELETE FROM dids WHERE pbx_id = ?", id);
      for (const user of this.listUsers(service.accountId)) {
        if (user.softphone?.pbxId === id) this.setSoftphone(user.id, null);
        if (user.services.includes(id))
          this.sql.exec(
            "UPDATE users SET services = ? WHERE id = ?",
            JSON.stringify(user.services.filter((s) => s !== id)),
            user.id,
          );
      }
    });
    return true;
  }

  // ---- DIDs: a number rings one PBX on the whole platform ----

  /** The PBX that routes a DID in its applied configuration, if any. */
  didOwner(did: string): string | null {
    const row = this.sql.exec("SELECT pbx_id FROM dids WHERE did = ?", did).toArray()[0];
    return row ? (row.pbx_id as string) : null;
  }

  /**
   * Makes `dids` exactly the numbers owned by `pbxId`, unless another PBX owns one of them:
   * then nothing changes and the taken numbers are returned.
   */
  claimDids(pbxId: string, dids: string[]): { taken: string[] } {
    const placeholders = dids.map(() => "?").join(",");
    const taken =
      dids.length === 0
        ? []
        : this.sql
            .exec(`SELECT did FROM dids WHERE did IN (${placeholders}) AND pbx_id != ?`, ...dids, pbxId)
            .toArray()
            .map((r) => r.did as string);
    if (taken.length > 0) return { taken };
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM dids WHERE pbx_id = ?", pbxId);
      for (const did of dids) this.sql.exec("INSERT INTO dids (did, pbx_id) VALUES (?, ?)", did, pbxId);
    });
    return { taken: [] };
  }

  // ---- internals ----

  private findUserRow(email: string): Row | undefined {
    return this.sql.exec("SELECT * FROM users WHERE email = ?", email.toLowerCase()).toArray()[0];
  }

  private setSoftphone(userId: string, link: SoftphoneLink | null): void {
    this.sql.exec(
      "UPDATE users SET softphone = ? WHERE id = ?",
      link ? JSON.stringify({ pbxId: link.pbxId, extension: link.extension }) : null,
      userId,
    );
  }

  private unknownServices(accountId: string, services: string[]): string | null {
    const own = new Set(this.listServices(accountId).map((s) => s.id));
    const unknown = services.filter((s) => !own.has(s));
    return unknown.length > 0 ? `unknown services: ${unknown.join(", ")}` : null;
  }

  private insertUser(
    id: string,
    accountId: string,
    email: string,
    passwordHash: string | null,
    role: Role,
    status: UserStatus,
    contact: Partial<ContactDetails>,
    notifications: Partial<Notifications>,
    services: string[],
    actions: ServiceAction[],
  ): void {
    const now = new Date().toISOString();
    this.sql.exec(
      `INSERT INTO users (id, account_id, email, password_hash, role, status, contact, notifications, services, actions,
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      accountId,
      email.toLowerCase(),
      passwordHash,
      role,
      status,
      JSON.stringify({
        name: contact.name ?? "",
        company: contact.company ?? "",
        phone: contact.phone ?? "",
        mobile: contact.mobile ?? "",
        position: contact.position ?? "",
      }),
      JSON.stringify(Notifications.parse(notifications)),
      JSON.stringify(services),
      JSON.stringify(actions),
      now,
      now,
    );
  }
}

function toUser(row: Row): UserRecord {
  const contact = JSON.parse(row.contact as string) as ContactDetails;
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    email: row.email as string,
    role: row.role as Role,
    status: row.status as UserStatus,
    ...contact,
    notifications: JSON.parse(row.notifications as string),
    services: JSON.parse(row.services as string),
    actions: JSON.parse(row.actions as string),
    softphone: row.softphone ? (JSON.parse(row.softphone as string) as SoftphoneLink) : null,
    createdAt: row.created_at as string,
    updatedAt: row.updated_at as string,
  };
}

function toService(row: Row): ServiceRecord {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    type: "voice",
    name: row.name as string,
    createdAt: row.created_at as string,
  };
}

/** The throttle key of one login name, client address or recovery mailbox. */
export function attemptKey(kind: AttemptKind, value: string): string {
  return `${kind}:${value.toLowerCase()}`;
}
