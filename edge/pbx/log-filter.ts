/** The filters every log of a PBX takes (calls, recordings, faxes): a start-time range and a number. */
export interface LogFilter {
  /** ISO time, inclusive. */
  from?: string;
  /** ISO time, exclusive. */
  to?: string;
  /** Digits found anywhere in the calling or the called number. */
  number?: string;
}

/**
 * The WHERE clause of a log filter over columns started_at, from_number and to_number, with its
 * arguments; `more` adds conditions of the log's own (a fax's direction).
 */
export function logFilterClause(
  filter: LogFilter,
  more: { condition: string; value: SqlStorageValue }[] = [],
): { clause: string; args: SqlStorageValue[] } {
  const where: string[] = [];
  const args: SqlStorageValue[] = [];
  if (filter.from) {
    where.push("started_at >= ?");
    args.push(filter.from);
  }
  if (filter.to) {
    where.push("started_at < ?");
    args.push(filter.to);
  }
  if (filter.number) {
    // LIKE's own wildcards in the search are dropped, not matched.
    where.push("(from_number LIKE ? OR to_number LIKE ?)");
    const pattern = `%${filter.number.replace(/[%_]/g, "")}%`;
    args.push(pattern, pattern);
  }
  for (const { condition, value } of more) {
    where.push(condition);
    args.push(value);
  }
  return { clause: where.length > 0 ? `WHERE ${where.join(" AND ")}` : "", args };
}
