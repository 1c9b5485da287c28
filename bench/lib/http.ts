/**
 * A JSON client for the edge API that times each request: sequential requests over Node's
 * fetch (undici), which keeps the connection alive between them.
 */

export interface Timed {
  status: number;
  /** From just before fetch() to the last byte of the body, in milliseconds. */
  ms: number;
  body: string;
  headers: Headers;
}

export class ApiClient {
  private cookie: string | null = null;
  private csrf: string | null = null;

  constructor(
    readonly baseUrl: string,
    /** Aborts every request, e.g. when the whole run is over its time budget. */
    private readonly signal: AbortSignal,
    private readonly requestTimeoutMs = 15_000,
  ) {}

  /** Registers a new account and keeps its session as a browser would: cookie, plus the CSRF header on writes. */
  async register(details: { email: string; password: string; name: string; company: string }): Promise<void> {
    const answer = await this.expect(201, "POST", "/api/auth/register", details);
    const cookie = answer.headers
      .getSetCookie()
      .map((c) => c.split(";")[0] ?? "")
      .find((c) => c.startsWith("edgepbx_session="));
    const { csrfToken } = JSON.parse(answer.body) as { csrfToken?: string };
    if (!cookie || !csrfToken) throw new Error("register: no edgepbx_session cookie or csrfToken in the answer");
    this.cookie = cookie;
    this.csrf = csrfToken;
  }

  async request(method: string, path: string, body?: unknown): Promise<Timed> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.cookie) headers.cookie = this.cookie;
    if (this.csrf && method !== "GET" && method !== "HEAD") headers["x-csrf-token"] = this.csrf;
    const init: RequestInit = {
      method,
      headers,
      signal: AbortSignal.any([this.signal, AbortSignal.timeout(this.requestTimeoutMs)]),
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    const url = `${this.baseUrl}${path}`;
    const started = performance.now();
    const response = await fetch(url, init);
    const text = await response.text();
    const ms = performance.now() - started;
    return { status: response.status, ms, body: text, headers: response.headers };
  }

  /** Like request(), but throws unless the status is the expected one. */
  async expect(status: number, method: string, path: string, body?: unknown): Promise<Timed> {
    const result = await this.request(method, path, body);
    if (result.status !== status)
      throw new Error(`${method} ${path}: expected ${status}, got ${result.status}: ${result.body.slice(0, 500)}`);
    return result;
  }

  async json<T>(status: number, method: string, path: string, body?: unknown): Promise<T> {
    return JSON.parse((await this.expect(status, method, path, body)).body) as T;
  }
}
