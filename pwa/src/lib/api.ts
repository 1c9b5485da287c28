/**
 * The edge's REST API: JSON in and out, the session cookie sent by the browser, the CSRF token
 * (from login, register or GET /api/me) on every write, problem+json errors as ApiError.
 */

export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: ProblemDetails,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
  get errors(): FieldError[] {
    return this.problem.errors ?? [];
  }
  /** No answer at all: the network is down or the edge unreachable. */
  get offline(): boolean {
    return this.status === 0;
  }
}

export interface ApiResult<T> {
  data: T;
  etag: string | null;
  /** After an edit: the draft configuration's new ETag. */
  draftEtag: string | null;
  status: number;
}

let csrfToken: string | null = null;
let reachable = true;
const reachability = new Set<(reachable: boolean) => void>();

/** Whether the last request reached the edge (navigator.onLine alone misses a dead link). */
export function edgeReachable(): boolean {
  return reachable;
}

export function onReachability(listener: (reachable: boolean) => void): () => void {
  reachability.add(listener);
  return () => {
    reachability.delete(listener);
  };
}

function setReachable(value: boolean): void {
  if (value === reachable) return;
  reachable = value;
  for (const listener of reachability) listener(value);
}
let onUnauthenticated: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the edge answers 401 to a request made with a session (it ended). */
export function setUnauthenticatedHandler(handler: () => void): void {
  onUnauthenticated = handler;
}

export async function api<T = unknown>(
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  path: string,
  body?: unknown,
  options: { ifMatch?: string | null; quiet401?: boolean } = {},
): Promise<ApiResult<T>> {
  // A portal opened offline never got its CSRF token: ask for it before the first write.
  if (method !== "GET" && !csrfToken && !path.startsWith("/auth/"))
    await api("GET", "/me", undefined, { quiet401: true }).catch(() => {});
  const headers: Record<string, string> = { accept: "application/json" };
  // A file (an announcement recording) goes as it is; anything else as JSON.
  const file = body instanceof Blob ? body : null;
  if (body !== undefined) headers["content-type"] = file ? file.type || "application/octet-stream" : "application/json";
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  if (options.ifMatch) headers["if-match"] = options.ifMatch;
  let res: Response;
  try {
    res = await fetch(`/api${path}`, {
      method,
      headers,
      credentials: "same-origin",
      ...(body !== undefined ? { body: file ?? JSON.stringify(body) } : {}),
    });
  } catch {
    setReachable(false);
    throw new ApiError(0, {
      title: "No connection",
      detail: "The portal cannot reach the server. Check your connection; nothing you typed is lost.",
    });
  }
  setReachable(true);
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { title: `HTTP ${res.status}`, detail: text.slice(0, 200) };
  }
  if (!res.ok) {
    if (res.status === 401 && !options.quiet401) onUnauthenticated?.();
    throw new ApiError(res.status, (parsed ?? { title: `HTTP ${res.status}` }) as ProblemDetails);
  }
  const token = (parsed as { csrfToken?: unknown } | null)?.csrfToken;
  if (typeof token === "string") csrfToken = token;
  return {
    data: parsed as T,
    etag: res.headers.get("etag"),
    draftEtag: res.headers.get("x-draft-etag"),
    status: res.status,
  };
}
