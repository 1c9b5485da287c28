import type { Readable } from "node:stream";
import { FileSystem, type FtpConnection } from "ftp-srv";
import { RecordingId, type RecordingSummary } from "../../shared/index.ts";
import type { RecordingLibrary } from "./RecordingLibrary.ts";

/**
 * A recording still being uploaded (final: false) is left out of the listing, so that a sync
 * tool never takes a half-made file for the whole one, unless its last upload is this old: then
 * its node died mid-call and what it uploaded is all there will ever be.
 */
export const ORPHANED_AFTER_MS = 2 * 60_000;

/** How long one listing is reused within a session (LIST, then SIZE/MDTM/RETR of each file). */
const LISTING_TTL_MS = 10_000;

/** What ftp-srv formats a LIST line from (a subset of fs.Stats). */
interface Entry {
  name: string;
  size: number;
  mtime: Date;
  mode: number;
  isDirectory(): boolean;
}

const READ_ONLY = "Recordings are read-only over FTP";

/**
 * What ftp-srv answers a failed command with (its message; `code` where the command uses it).
 * ftp-srv's own FileSystemError is not exported under the name its typings give it.
 */
class FileSystemError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/**
 * One FTP session's view of its PBX's recordings: a single folder ("/") of files named as the
 * edge names them (`<id>.mp3`, `<id>.mp3.enc`), listed and read through the edge's node API.
 * Nothing can be written, deleted or renamed.
 */
export class RecordingFileSystem extends FileSystem {
  private listing: { at: number; entries: Map<string, RecordingSummary> } | null = null;

  constructor(
    connection: FtpConnection,
    private readonly library: RecordingLibrary,
    private readonly pbxId: string,
    private readonly now: () => number = Date.now,
  ) {
    super(connection, { root: "/", cwd: "/" });
  }

  override currentDirectory(): string {
    return "/";
  }

  override async get(fileName: string): Promise<Entry> {
    const name = this.nameIn(fileName);
    if (name === "") return folder();
    const recording = (await this.recordings()).get(name) ?? (await this.recordings(true)).get(name);
    if (!recording) throw new FileSystemError("No such file", 550);
    return entry(recording);
  }

  override async list(path = "."): Promise<Entry[]> {
    if (this.nameIn(path) !== "") throw new FileSystemError("No such folder", 550);
    return [...(await this.recordings(true)).values()].map(entry);
  }

  override async chdir(path = "."): Promise<string> {
    if (this.nameIn(path) !== "") throw new FileSystemError("There are no folders: every recording is in /", 550);
    return "/";
  }

  override async read(
    fileName: string,
    { start }: { start?: number } = {},
  ): Promise<{ stream: Readable; clientPath: string }> {
    const name = this.nameIn(fileName);
    const recording = (await this.recordings()).get(name) ?? (await this.recordings(true)).get(name);
    // Past the newest listed ones (or still in progress): fetched by id if the name is one of ours.
    const id = recording?.id ?? /^(.+)\.mp3(\.enc)?$/.exec(name)?.[1];
    if (!id || !RecordingId.safeParse(id).success) throw new FileSystemError("No such file", 550);
    try {
      const stream = await this.library.open(this.pbxId, id, Number(start) || 0);
      return { stream, clientPath: `/${name}` };
    } catch (error) {
      const status = (error as { status?: number }).status;
      throw new FileSystemError(
        status === 404 || status === 416 ? "No such file" : "The recording cannot be read now",
        550,
      );
    }
  }

  override write(): never {
    throw new FileSystemError(READ_ONLY, 550);
  }

  override delete(): Promise<never> {
    return Promise.reject(new FileSystemError(READ_ONLY, 550));
  }

  override mkdir(): Promise<never> {
    return Promise.reject(new FileSystemError(READ_ONLY, 550));
  }

  override rename(): Promise<never> {
    return Promise.reject(new FileSystemError(READ_ONLY, 550));
  }

  override chmod(): Promise<never> {
    return Promise.reject(new FileSystemError(READ_ONLY, 550));
  }

  /** The name inside "/" that `path` names ("" for the folder itself); anything deeper is nothing. */
  private nameIn(path: string): string {
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.length === 0) return "";
    if (parts.length > 1 || parts[0] === "..") return "\u0000";
    return parts[0] as string;
  }

  /** The listed recordings by file name, from the edge (again when `fresh` or older than LISTING_TTL_MS). */
  private async recordings(fresh = false): Promise<Map<string, RecordingSummary>> {
    if (!fresh && this.listing && this.now() - this.listing.at < LISTING_TTL_MS) return this.listing.entries;
    let recordings: RecordingSummary[];
    try {
      recordings = await this.library.list(this.pbxId);
    } catch {
      throw new FileSystemError("The recordings cannot be listed now; try again later", 451);
    }
    const entries = new Map<string, RecordingSummary>();
    for (const recording of recordings)
      if (recording.final || this.now() - Date.parse(recording.updatedAt) > ORPHANED_AFTER_MS)
        entries.set(recording.fileName, recording);
    this.listing = { at: this.now(), entries };
    return entries;
  }
}

function entry(recording: RecordingSummary): Entry {
  return {
    name: recording.fileName,
    size: recording.size,
    // When the call was: what someone looking for a recording goes by.
    mtime: new Date(recording.startedAt),
    mode: 0o100444,
    isDirectory: () => false,
  };
}

function folder(): Entry {
  return { name: ".", size: 0, mtime: new Date(), mode: 0o40555, isDirectory: () => true };
}
