import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";

/**
 * A JSON client for the edge API that times each request: sequential requests over node:http
 * with one kept-alive connection. (Node's fetch adds about 1 ms and a longer tail of its own,
 * which would be measured as the server's.)
 */

export interface Timed {
  status: number;
  /** From just before the request is written to the last byte of the body, in milliseconds. */
  ms: number;
  body: string;
  headers: IncomingHttpHeaders;
}

export class ApiClient {
  private cookie: string | null = null;
  private csrf: string | null = null;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    readonly baseUrl: string,
    /** Aborts every request, e.g. when the whole run is over its time budget. */
    private readonly signal: AbortSignal,
    private readonly requestTimeoutMs = 15_000,
  ) {}

  /** Registers a new account and keeps its session as a browser would: cookie, plus the CSRF header on writes. */
  async register(details: { email: string; password: string; name: string; company: string }): Promise<void> {
    const answer = await this.expect(201, "POST", "/api/auth/register", details);
    const cookie = (answer.headers["set-cookie"] ?? [])
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
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const signal = AbortSignal.any([this.signal, AbortSignal.timeout(this.requestTimeoutMs)]);
    return new Promise<Timed>((resolveTimed, reject) => {
      const started = performance.now();
      const req = httpRequest(`${this.baseUrl}${path}`, { method, headers, agent: this.agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolveTimed({
            status: res.statusCode ?? 0,
            ms: performance.now() - started,
            body: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
          }),
        );
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Closes the kept-alive connection. */
  close(): void {
    this.agent.destroy();
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
