import { randomInt } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The demo account that `npm start` creates on first run. The admin password is fixed and
 * documented (this is a local demo); the SIP passwords are generated and kept in
 * <dataDir>/demo-credentials.json (mode 0600), because the edge stores only their hashes.
 */
export const DEMO = {
  email: "admin@demo.edgepbx.local",
  password: "demo-admin-2026",
  name: "Demo Admin",
  company: "Demo Company",
  pbxName: "Demo Office",
  extensions: [
    { number: "100", name: "Alice" },
    { number: "101", name: "Bob" },
    { number: "102", name: "Carol" },
  ],
} as const;

export const CREDENTIALS_FILE = "demo-credentials.json";

export interface DemoExtension {
  number: string;
  name: string;
  sipUsername: string;
  sipPassword: string;
  /** The PBX's SIP domain, which is also the digest realm. */
  sipDomain: string;
}

export interface DemoCredentials {
  portal: { url: string; email: string; password: string };
  pbx: { id: string; name: string; sipDomain: string };
  extensions: DemoExtension[];
  appliedVersion: number | null;
  savedAt: string;
}

interface StoredExtension {
  id: string;
  number: string;
  name: string;
  sip: { username: string };
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

/** A portal session as the PWA keeps it: the HttpOnly cookie plus the CSRF header on writes. */
class Session {
  private cookie: string | null = null;
  private csrf: string | null = null;

  constructor(private readonly baseUrl: string) {}

  async send(method: string, path: string, body?: unknown): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.cookie) headers.cookie = this.cookie;
    if (this.csrf && method !== "GET") headers["x-csrf-token"] = this.csrf;
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      if (pair?.startsWith("edgepbx_session=")) this.cookie = pair;
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (typeof parsed.csrfToken === "string") this.csrf = parsed.csrfToken;
    return { status: res.status, body: parsed };
  }

  /** Like send, but anything but the expected status is an error that names the request. */
  async expect(status: number, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const reply = await this.send(method, path, body);
    if (reply.status !== status)
      throw new Error(`demo seed: ${method} ${path} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    return reply.body;
  }
}

/** Same alphabet as the edge's generated SIP passwords: letters and digits without look-alikes. */
function newSipPassword(): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  return Array.from({ length: 16 }, () => alphabet[randomInt(alphabet.length)]).join("");
}

async function readSaved(file: string): Promise<DemoCredentials | null> {
  try {
    const saved = JSON.parse(await readFile(file, "utf8")) as DemoCredentials;
    return Array.isArray(saved.extensions) && typeof saved.pbx?.id === "string" ? saved : null;
  } catch {
    return null;
  }
}

/**
 * Creates (or finds) the demo account, its "Demo Office" PBX with extensions 100 Alice, 101 Bob
 * and 102 Carol, applies, saves the credentials and prints them. Safe to run on every start:
 * when the account exists the saved credentials are reused; when the file is gone, the
 * extensions get new SIP passwords (applied as a new version) and a new file is written.
 */
export async function seedDemo(
  baseUrl: string,
  dataDir: string,
  log: (line: string) => void = console.log,
): Promise<DemoCredentials> {
  const api = new Session(baseUrl);
  const file = join(dataDir, CREDENTIALS_FILE);

  const login = await api.send("POST", "/api/auth/login", { email: DEMO.email, password: DEMO.password });
  if (login.status === 401) {
    const reg = await api.send("POST", "/api/auth/register", {
      email: DEMO.email,
      password: DEMO.password,
      name: DEMO.name,
      company: DEMO.company,
    });
    if (reg.status === 409)
      throw new Error(
        `demo seed: ${DEMO.email} exists but its password is no longer ${DEMO.password}; ` +
          `remove ${dataDir} to start from scratch`,
      );
    if (reg.status !== 201) throw new Error(`demo seed: register answered ${reg.status}: ${JSON.stringify(reg.body)}`);
  } else if (login.status !== 200) {
    throw new Error(`demo seed: login answered ${login.status}: ${JSON.stringify(login.body)}`);
  }
  const saved = login.status === 200 ? await readSaved(file) : null;

  const { pbxs } = (await api.expect(200, "GET", "/api/pbxs")) as { pbxs: { id: string; name: string }[] };
  let pbx = pbxs.find((p) => p.id === saved?.pbx.id) ?? pbxs.find((p) => p.name === DEMO.pbxName);
  if (!pbx) {
    const created = (await api.expect(201, "POST", "/api/pbxs", { name: DEMO.pbxName })) as {
      pbx: { id: string; name: string };
    };
    pbx = created.pbx;
  }
  const base = `/api/pbxs/${encodeURIComponent(pbx.id)}`;
  const { config } = (await api.expect(200, "GET", `${base}/config`)) as {
    config: { settings: { sipDomain: string }; extensions: StoredExtension[] };
  };
  const sipDomain = config.settings.sipDomain;
  const reusable = saved?.pbx.id === pbx.id ? saved : null;

  let changed = false;
  const extensions: DemoExtension[] = [];
  for (const wanted of DEMO.extensions) {
    const existing = config.extensions.find((e) => e.number === wanted.number);
    const known = reusable?.extensions.find((e) => e.number === wanted.number);
    let stored: StoredExtension;
    let sipPassword: string;
    if (!existing) {
      const created = (await api.expect(201, "POST", `${base}/extensions`, wanted)) as unknown as StoredExtension & {
        generatedSecrets: { sipPassword: string };
      };
      stored = created;
      sipPassword = created.generatedSecrets.sipPassword;
      changed = true;
    } else if (known && known.sipUsername === existing.sip.username && known.sipDomain === sipDomain) {
      stored = existing;
      sipPassword = known.sipPassword;
    } else {
      // The edge keeps only HA1 hashes, so a lost password can only be replaced.
      sipPassword = newSipPassword();
      stored = (await api.expect(200, "PATCH", `${base}/extensions/${encodeURIComponent(existing.id)}`, {
        sipPassword,
      })) as unknown as StoredExtension;
      changed = true;
    }
    extensions.push({
      number: stored.number,
      name: stored.name,
      sipUsername: stored.sip.username,
      sipPassword,
      sipDomain,
    });
  }

  let appliedVersion = reusable?.appliedVersion ?? null;
  if (changed) {
    const applied = await api.send("POST", `${base}/apply`, { note: "Demo seed" });
    if (applied.status !== 201)
      throw new Error(`demo seed: apply answered ${applied.status}: ${JSON.stringify(applied.body)}`);
    appliedVersion = applied.body.version as number;
  }

  const credentials: DemoCredentials =
    !changed && reusable
      ? { ...reusable, portal: { ...reusable.portal, url: baseUrl } }
      : {
          portal: { url: baseUrl, email: DEMO.email, password: DEMO.password },
          pbx: { id: pbx.id, name: pbx.name, sipDomain },
          extensions,
          appliedVersion,
          savedAt: new Date().toISOString(),
        };
  if (changed || !reusable) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  }

  const how = reusable && !changed ? "reused" : login.status === 200 ? "refreshed" : "created";
  for (const line of formatCredentials(credentials, file, how)) log(line);
  return credentials;
}

/** The lines `npm start` prints: the portal login and every extension's SIP account. */
export function formatCredentials(creds: DemoCredentials, file: string, how: string): string[] {
  const rows = creds.extensions.map(
    (e) =>
      `    ${e.number.padEnd(4)} ${e.name.padEnd(6)} username ${e.sipUsername.padEnd(4)} password ${e.sipPassword}  domain ${e.sipDomain}`,
  );
  return [
    `Demo account (${how}; saved in ${file}):`,
    `  Portal login  ${creds.portal.email}  password ${creds.portal.password}`,
    `  PBX           ${creds.pbx.name} (${creds.pbx.id}), SIP domain / digest realm ${creds.pbx.sipDomain}`,
    "  SIP extensions:",
    ...rows,
  ];
}
