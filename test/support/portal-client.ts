/** A portal client for Node-side tests: keeps the session cookie and sends the CSRF header on writes. */
export class PortalClient {
  private cookie: string | null = null;
  private csrf: string | null = null;

  constructor(readonly baseUrl: string) {}

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
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
    const session = res.headers
      .getSetCookie()
      .map((c) => c.split(";")[0] ?? "")
      .find((c) => c.startsWith("edgepbx_session="));
    if (session) this.cookie = session;
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : {};
    if (typeof parsed?.csrfToken === "string") this.csrf = parsed.csrfToken;
    return { status: res.status, body: parsed as T };
  }

  /** PUTs a file as the body (an announcement recording), as the portal's upload does. */
  async upload<T = Record<string, unknown>>(
    path: string,
    file: Uint8Array,
    contentType: string,
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: "PUT",
      headers: { "content-type": contentType, cookie: this.cookie ?? "", "x-csrf-token": this.csrf ?? "" },
      body: new Blob([new Uint8Array(file)]),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  }

  /** Like request(), but throws unless the status is the expected one. */
  async expect<T = Record<string, unknown>>(status: number, method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request<T>(method, path, body);
    if (res.status !== status)
      throw new Error(`${method} ${path}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Registers a new customer account and stays logged in as its Administrator. */
  static async register(baseUrl: string, label = "admin"): Promise<PortalClient> {
    const client = new PortalClient(baseUrl);
    await client.expect(201, "POST", "/api/auth/register", {
      email: `${label}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 6)}@example.test`,
      password: "correct horse battery",
      name: `Test ${label}`,
      company: `${label} Pty Ltd`,
    });
    return client;
  }
}

/** Polls until `probe` returns a value (not undefined/false), or throws after `ms`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
