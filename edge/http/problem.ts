import type { z } from "zod";

/** One wrong field: `field` is a dot path into the request body ("voicemail.pin"). */
export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** An RFC 9457 problem, thrown anywhere and rendered by the app's error handler. */
export class Problem extends Error {
  readonly status: number;
  readonly body: ProblemBody;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    type: string,
    title: string,
    detail?: string,
    extra: Partial<ProblemBody> = {},
    headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.status = status;
    this.headers = headers;
    this.body = {
      type: `https://edgepbx.dev/problems/${type}`,
      title,
      status,
      ...(detail ? { detail } : {}),
      ...extra,
    };
  }

  toResponse(): Response {
    return new Response(JSON.stringify(this.body), {
      status: this.status,
      headers: { "content-type": "application/problem+json", ...this.headers },
    });
  }
}

export const problems = {
  badRequest: (detail: string) => new Problem(400, "bad-request", "Bad request", detail),
  invalid: (errors: FieldError[], detail = "Some fields are not valid.") =>
    new Problem(422, "validation", "Validation failed", detail, { errors }),
  unauthenticated: (detail = "Log in first.") => new Problem(401, "unauthenticated", "Not logged in", detail),
  forbidden: (detail = "Your role does not allow this.") => new Problem(403, "forbidden", "Forbidden", detail),
  notFound: (what: string) => new Problem(404, "not-found", "Not found", `${what} does not exist.`),
  conflict: (type: string, detail: string, extra: Partial<ProblemBody> = {}) =>
    new Problem(409, type, "Conflict", detail, extra),
  tooManyRequests: (retryAfterSeconds: number) =>
    new Problem(
      429,
      "throttled",
      "Too many attempts",
      `Too many failed attempts. Try again in ${Math.ceil(retryAfterSeconds / 60)} minutes.`,
      { retryAfter: retryAfterSeconds },
      { "retry-after": String(retryAfterSeconds) },
    ),
};

/** zod issues → field errors with dot paths. */
export function zodFieldErrors(error: z.ZodError, prefix: (string | number)[] = []): FieldError[] {
  return error.issues.map((issue) => ({
    field: toFieldPath([...prefix, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))]),
    message: issue.message,
  }));
}

export function toFieldPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("") || "(body)";
}

/** Parse a body with a zod schema or throw a 422 naming the fields. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (!result.success) throw problems.invalid(zodFieldErrors(result.error));
  return result.data;
}
