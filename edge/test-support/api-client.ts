import { env, exports } from "cloudflare:workers";

/** The Worker under test, called in-process through its default export. */
export const worker = (exports as unknown as { default: Fetcher }).default;

export const BASE = "http://127.0.0.1:8787";

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

let counter = 0;
/** An email no other test uses. */
export function uniqueEmail(label = "user"): string {
  counter++;
  return `${label}.${Date.now().toString(36)}.${counter}.${Math.random().toString(36).slice(2, 6)}@example.test`;
}

export const PASSWORD = "correct horse battery";

/** A portal or API client: keeps the session cookie and CSRF token like the PWA does. */
export class ApiClient {
  cookie: string | null = null;
  csrf: string | null = null;
  bearer: string | null = null;
  email = "";
  /** Each client looks like its own address to the login throttle (a documentation range, no traffic). */
  address = `198.51.100.${Math.floor(Math.random() * 254) + 1}`;

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const h = new Headers(headers);
    if (!h.has("cf-connecting-ip")) h.set("cf-connecting-ip", this.address);
    if (body !== undefined) h.set("content-type", "application/json");
    if (this.cookie) h.set("cookie", this.cookie);
    if (this.csrf && method !== "GET") h.set("x-csrf-token", this.csrf);
    if (this.bearer) h.set("authorization", `Bearer ${this.bearer}`);
    const res = await worker.fetch(`${BASE}${path}`, {
      method,
      headers: h,
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    for (const cookie of res.headers.getAll("set-cookie")) {
      const [pair] = cookie.split(";");
      if (pair?.startsWith("edgepbx_session=")) this.cookie = pair.endsWith("=") ? null : pair;
    }
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : {};
    if (parsed && typeof parsed === "object" && typeof parsed.csrfToken === "string") this.csrf = parsed.csrfToken;
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  get = <T = Record<string, unknown>>(path: string, headers?: Record<string, string>) =>
    this.request<T>("GET", path, undefined, headers);
  post = <T = Record<string, unknown>>(path: string, body?: unknown, headers?: Record<string, string>) =>
    this.request<T>("POST", path, body, headers);
  patch = <T = Record<string, unknown>>(path: string, body?: unknown, headers?: Record<string, string>) =>
    this.request<T>("PATCH", path, body, headers);
  put = <T = Record<string, unknown>>(path: string, body?: unknown, headers?: Record<string, string>) =>
    this.request<T>("PUT", path, body, headers);
  delete = <T = Record<string, unknown>>(path: string, headers?: Record<string, string>) =>
    this.request<T>("DELETE", path, undefined, headers);

  /** Registers a new customer account; this client becomes its logged-in Administrator. */
  static async registered(label = "admin"): Promise<ApiClient & { userId: string }> {
    const client = new ApiClient();
    client.email = uniqueEmail(label);
    const res = await client.post<{ user: { id: string } }>("/api/auth/register", {
      email: client.email,
      password: PASSWORD,
      name: `Test ${label}`,
      company: `${label} Pty Ltd`,
    });
    if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
    return Object.assign(client, { userId: res.body.user.id });
  }

  static async loggedIn(email: string, password = PASSWORD): Promise<ApiClient> {
    const client = new ApiClient();
    client.email = email;
    const res = await client.post("/api/auth/login", { email, password });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    return client;
  }

  async createPbx(name = "Head Office"): Promise<string> {
    const res = await this.post<{ pbx: { id: string } }>("/api/pbxs", { name });
    if (res.status !== 201) throw new Error(`create PBX failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.pbx.id;
  }
}

/** Mail that reached the loopback SMTP relay (smtp-server in the test runner's Node process). */
export async function receivedMail(): Promise<{ to: string[]; subject: string; text: string }[]> {
  const url = (env as unknown as { INBOX_URL: string }).INBOX_URL;
  const res = await fetch(url);
  return res.json();
}
