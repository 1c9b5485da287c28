import * as z from "zod";
import { problems, zodFieldErrors } from "../http/problem.ts";
import type { RecordingFilter } from "../pbx/recordings.ts";

/**
 * `?from=&to=&q=&limit=` of the recording lists. from/to are a day (2026-04-27, UTC: `to` takes
 * in the whole day) or an ISO date and time (`to` exclusive); q is part of a number at either end.
 */
const DateOrTime = z
  .string()
  .refine(
    (v) => z.iso.date().safeParse(v).success || z.iso.datetime({ offset: true }).safeParse(v).success,
    "must be a date (2026-04-27) or an ISO date and time (2026-04-27T09:00:00Z)",
  );

const RecordingQuery = z.object({
  from: DateOrTime.optional(),
  to: DateOrTime.optional(),
  q: z
    .string()
    .regex(/^\+?[0-9*#]{1,20}$/, "must be digits")
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

const DAY_MS = 24 * 3600 * 1000;
const isDay = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v);

/** The query as a filter of RecordingsTable, or a 422 naming the wrong parameters. */
export function recordingFilter(query: Record<string, string>): RecordingFilter {
  const parsed = RecordingQuery.safeParse(query);
  if (!parsed.success) throw problems.invalid(zodFieldErrors(parsed.error));
  const { from, to, q, limit } = parsed.data;
  return {
    ...(from ? { from: new Date(isDay(from) ? `${from}T00:00:00Z` : from).toISOString() } : {}),
    ...(to
      ? { to: isDay(to) ? new Date(Date.parse(`${to}T00:00:00Z`) + DAY_MS).toISOString() : new Date(to).toISOString() }
      : {}),
    ...(q ? { number: q } : {}),
    limit,
  };
}
