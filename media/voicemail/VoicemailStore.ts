import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeWav, encodeWav } from "./wav.ts";

/** One voicemail message, as kept beside its audio. */
export interface VoicemailMessage {
  id: string;
  pbxId: string;
  box: string;
  /** The caller's number ("anonymous" when withheld) and name as presented. */
  callerNumber: string;
  callerName: string | null;
  receivedAt: string;
  durationMs: number;
  /** new until the box owner has heard it; saved after. */
  folder: "new" | "saved";
}

/** What a box keeps besides messages: a PIN set from the phone (over the portal's, until that changes). */
interface BoxState {
  pin: { hash: string; overPortalHash: string | null } | null;
}

const BOX_NAME = /^[0-9]{2,6}$/;
const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Voicemail on the node's disk: `<root>/<pbx>/<box>/` holds each message as a WAV (8 kHz, 16-bit
 * mono, what any mail client plays) and a JSON beside it, the box's greeting, and its state.
 * Every write goes to a temporary name and is renamed, so a crash never leaves half a message.
 */
export class VoicemailStore {
  constructor(private readonly root: string) {}

  private dir(pbxId: string, box: string): string {
    if (!SAFE_ID.test(pbxId) || !BOX_NAME.test(box)) throw new Error(`no such voicemail box ${pbxId}/${box}`);
    return join(this.root, pbxId, box);
  }

  /** Keeps a new message; returns it. */
  async deposit(
    pbxId: string,
    box: string,
    message: { callerNumber: string; callerName: string | null; audio: Int16Array; receivedAt?: Date },
  ): Promise<VoicemailMessage> {
    const dir = this.dir(pbxId, box);
    await mkdir(dir, { recursive: true });
    const received = message.receivedAt ?? new Date();
    // Sortable by time, unique within the box.
    const id = `${received.toISOString().replace(/[-:.TZ]/g, "")}-${randomUUID().slice(0, 8)}`;
    const stored: VoicemailMessage = {
      id,
      pbxId,
      box,
      callerNumber: message.callerNumber,
      callerName: message.callerName,
      receivedAt: received.toISOString(),
      durationMs: Math.round((message.audio.length / 8000) * 1000),
      folder: "new",
    };
    await atomicWrite(join(dir, `${id}.wav`), encodeWav(message.audio));
    await atomicWrite(join(dir, `${id}.json`), JSON.stringify(stored));
    return stored;
  }

  /** The box's messages, oldest first, new and saved. */
  async list(pbxId: string, box: string): Promise<{ new: VoicemailMessage[]; saved: VoicemailMessage[] }> {
    const dir = this.dir(pbxId, box);
    const names = await readdir(dir).catch(() => [] as string[]);
    const messages: VoicemailMessage[] = [];
    for (const name of names.filter((n) => n.endsWith(".json") && n !== "box.json").sort()) {
      try {
        messages.push(JSON.parse(await readFile(join(dir, name), "utf8")) as VoicemailMessage);
      } catch {
        // A message whose metadata cannot be read is skipped, not fatal to the box.
      }
    }
    return { new: messages.filter((m) => m.folder === "new"), saved: messages.filter((m) => m.folder === "saved") };
  }

  /** A message's audio file (WAV bytes). */
  wav(message: VoicemailMessage): Promise<Buffer> {
    return readFile(join(this.dir(message.pbxId, message.box), `${this.checked(message.id)}.wav`));
  }

  /** A message's audio as 8 kHz samples. */
  async audio(message: VoicemailMessage): Promise<Int16Array> {
    return decodeWav(await this.wav(message));
  }

  async markSaved(message: VoicemailMessage): Promise<void> {
    if (message.folder === "saved") return;
    message.folder = "saved";
    await atomicWrite(
      join(this.dir(message.pbxId, message.box), `${this.checked(message.id)}.json`),
      JSON.stringify(message),
    );
  }

  async delete(message: VoicemailMessage): Promise<void> {
    const dir = this.dir(message.pbxId, message.box);
    const id = this.checked(message.id);
    await rm(join(dir, `${id}.json`), { force: true });
    await rm(join(dir, `${id}.wav`), { force: true });
  }

  /** The box owner's recorded greeting, or null (the standard one plays). */
  async greeting(pbxId: string, box: string): Promise<Int16Array | null> {
    try {
      return decodeWav(await readFile(join(this.dir(pbxId, box), "greeting.wav")));
    } catch {
      return null;
    }
  }

  async setGreeting(pbxId: string, box: string, audio: Int16Array): Promise<void> {
    const dir = this.dir(pbxId, box);
    await mkdir(dir, { recursive: true });
    await atomicWrite(join(dir, "greeting.wav"), encodeWav(audio));
  }

  /**
   * The PIN hash in force: one set from the phone (777) wins over the portal's until the portal's
   * changes (an admin who resets it there is obeyed).
   */
  async pinHash(pbxId: string, box: string, portalHash: string | null): Promise<string | null> {
    const state = await this.state(pbxId, box);
    if (state.pin && state.pin.overPortalHash === portalHash) return state.pin.hash;
    return portalHash;
  }

  async setPinHash(pbxId: string, box: string, hash: string, portalHash: string | null): Promise<void> {
    const dir = this.dir(pbxId, box);
    await mkdir(dir, { recursive: true });
    const state = await this.state(pbxId, box);
    state.pin = { hash, overPortalHash: portalHash };
    await atomicWrite(join(dir, "box.json"), JSON.stringify(state));
  }

  private async state(pbxId: string, box: string): Promise<BoxState> {
    try {
      return JSON.parse(await readFile(join(this.dir(pbxId, box), "box.json"), "utf8")) as BoxState;
    } catch {
      return { pin: null };
    }
  }

  private checked(id: string): string {
    if (!SAFE_ID.test(id)) throw new Error(`bad message id ${id}`);
    return id;
  }
}

async function atomicWrite(path: string, data: Buffer | string): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}
