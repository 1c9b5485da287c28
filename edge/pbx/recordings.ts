import type { RecordingSummary } from "../../shared/index.ts";
import { logFilterClause } from "./log-filter.ts";

/**
 * The metadata of a PBX's call recordings, a table in its Durable Object (the files are in R2
 * under `key`). PbxObject owns one and answers for it over RPC.
 */

/** A stored recording: what is listed, and where its file is. */
export interface RecordingRow extends RecordingSummary {
  /** The R2 object key. */
  key: string;
}

export interface RecordingFilter {
  /** ISO start times, `from` inclusive, `to` exclusive. */
  from?: string;
  to?: string;
  /** Part of the number at either end. */
  number?: string;
  limit: number;
}

export class RecordingsTable {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS recordings (
        id TEXT PRIMARY KEY, call_id TEXT NOT NULL, from_number TEXT NOT NULL, to_number TEXT NOT NULL,
        direction TEXT NOT NULL, started_at TEXT NOT NULL, duration_ms INTEGER NOT NULL, encrypted INTEGER NOT NULL,
        content_type TEXT NOT NULL, file_name TEXT NOT NULL, object_key TEXT NOT NULL, size INTEGER NOT NULL,
        final INTEGER NOT NULL, updated_at TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS recordings_started ON recordings(started_at);
      CREATE INDEX IF NOT EXISTS recordings_from ON recordings(from_number);
      CREATE INDEX IF NOT EXISTS recordings_to ON recordings(to_number);
    `);
  }

  get(id: string): RecordingRow | null {
    const row = this.sql.exec("SELECT * FROM recordings WHERE id = ?", id).toArray()[0];
    return row ? toRow(row) : null;
  }

  /** Adds the recording, or replaces what an earlier upload of it stored. */
  put(row: RecordingRow): void {
    this.sql.exec(
      `INSERT INTO recordings (id, call_id, from_number, to_number, direction, started_at, duration_ms, encrypted,
         content_type, file_name, object_key, size, final, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET call_id = excluded.call_id, from_number = excluded.from_number,
         to_number = excluded.to_number, direction = excluded.direction, started_at = excluded.started_at,
         duration_ms = excluded.duration_ms, encrypted = excluded.encrypted, content_type = excluded.content_type,
         file_name = excluded.file_name, object_key = excluded.object_key, size = excluded.size,
         final = excluded.final, updated_at = excluded.updated_at`,
      row.id,
      row.callId,
      row.from,
      row.to,
      row.direction,
      row.startedAt,
      row.durationMs,
      row.encrypted ? 1 : 0,
      row.contentType,
      row.fileName,
      row.key,
      row.size,
      row.final ? 1 : 0,
      row.updatedAt,
    );
  }

  /** Newest first, by start time range and a number on either end. */
  list(filter: RecordingFilter): RecordingRow[] {
    const { clause, args } = logFilterClause(filter);
    return this.sql
      .exec(`SELECT * FROM recordings ${clause} ORDER BY started_at DESC, id DESC LIMIT ?`, ...args, filter.limit)
      .toArray()
      .map(toRow);
  }

  /** Removes the row and answers what it was (its key names the file to delete). */
  delete(id: string): RecordingRow | null {
    const row = this.get(id);
    if (row) this.sql.exec("DELETE FROM recordings WHERE id = ?", id);
    return row;
  }
}

/** What the API shows of a row: everything but the storage key. */
export function recordingSummary(row: RecordingRow): RecordingSummary {
  const { key: _key, ...summary } = row;
  return summary;
}

function toRow(r: Record<string, SqlStorageValue>): RecordingRow {
  return {
    id: r.id as string,
    callId: r.call_id as string,
    from: r.from_number as string,
    to: r.to_number as string,
    direction: r.direction as RecordingRow["direction"],
    startedAt: r.started_at as string,
    durationMs: r.duration_ms as number,
    encrypted: r.encrypted === 1,
    contentType: r.content_type as RecordingRow["contentType"],
    fileName: r.file_name as string,
    key: r.object_key as string,
    size: r.size as number,
    final: r.final === 1,
    updatedAt: r.updated_at as string,
  };
}
