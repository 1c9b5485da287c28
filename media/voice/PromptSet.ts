import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** What the node says, by id. Spoken by espeak-ng at set-up and kept as 8 kHz audio. */
export const PROMPT_TEXTS = {
  "enter-passcode": "Please enter the passcode, followed by the hash key.",
  "passcode-wrong": "That passcode is not correct.",
  "enter-pin": "Please enter your PIN, followed by the hash key.",
  "pin-wrong": "That PIN is not correct.",
  goodbye: "Goodbye.",
  "holiday-closed": "We are closed today. Please call again on our next business day.",
  "leave-message": "Please leave a message after the tone.",
  "conference-full": "This conference is full. Please try again later.",
  "message-saved": "Your message has been saved. Goodbye.",
  "voicemail-menu": "Press 1 to hear your messages, 3 to record your greeting, 5 to change your PIN, or star to end.",
  "message-options": "Press 7 to delete this message, 9 to keep it, or 5 to hear it again.",
  "message-deleted": "Message deleted.",
  "no-more-messages": "You have no more messages.",
  "record-greeting": "Record your greeting after the tone, then press the hash key.",
  "greeting-saved": "Your greeting has been saved.",
  "new-pin": "Please enter your new PIN of 4 to 12 digits, followed by the hash key.",
  "new-pin-again": "Please enter the new PIN again, followed by the hash key.",
  "pin-changed": "Your PIN has been changed.",
  "pin-unchanged": "The PINs did not match or were too short. Your PIN is unchanged.",
} as const;

export type PromptId = keyof typeof PROMPT_TEXTS;

/** Speech is rendered at this rate: what G.711 carries. */
export const PROMPT_RATE = 8000;

/** The voice, and a version that changes the cache key whenever rendering changes. */
const VOICE = "en-us";
const RENDERING = "espeak-ng 150 wpm → ffmpeg s16le 8 kHz mono v1";

/**
 * The node's spoken prompts, rendered once by espeak-ng (and ffmpeg, down to 8 kHz) into a cache
 * folder keyed by text and voice, so a restart or another node on the same disk reuses them.
 */
export class PromptSet {
  private constructor(
    private readonly dir: string,
    private readonly audio: ReadonlyMap<PromptId, Int16Array>,
  ) {}

  /** Renders (or loads from `dir`) every prompt. Rejects with the reason when espeak-ng or ffmpeg is missing. */
  static async create(dir: string): Promise<PromptSet> {
    await mkdir(dir, { recursive: true });
    const entries = await Promise.all(
      (Object.keys(PROMPT_TEXTS) as PromptId[]).map(
        async (id) => [id, await cachedSpeech(dir, PROMPT_TEXTS[id])] as const,
      ),
    );
    return new PromptSet(dir, new Map(entries));
  }

  /** Any text (an announcement an admin typed) as 8 kHz speech, rendered once into the same cache. */
  speech(text: string): Promise<Int16Array> {
    return cachedSpeech(this.dir, text);
  }

  /** Where uploaded announcement files come from (the edge, by PBX and SHA-256). */
  uploadSource: ((pbxId: string, sha256: string) => Promise<Buffer>) | null = null;

  /**
   * An announcement file an admin uploaded (WAV, MP3), as 8 kHz audio: downloaded once, checked
   * against its SHA-256, converted by ffmpeg and kept in the cache under that name.
   */
  async uploaded(pbxId: string, sha256: string): Promise<Int16Array> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("not a SHA-256");
    const file = join(this.dir, `${sha256}.upload.s16le`);
    const cached = await readFile(file).catch(() => null);
    if (cached && cached.length > 0) return samplesOf(cached);
    if (!this.uploadSource) throw new Error("uploaded announcements are not available (no edge)");
    const original = await this.uploadSource(pbxId, sha256);
    if (createHash("sha256").update(original).digest("hex") !== sha256)
      throw new Error(`announcement file ${sha256.slice(0, 12)}… does not match its SHA-256`);
    const audio = await transcode(original);
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, audio);
    await rename(temporary, file);
    return samplesOf(audio);
  }

  get(id: PromptId): Int16Array {
    const audio = this.audio.get(id);
    if (!audio) throw new Error(`no prompt ${id}`);
    return audio;
  }
}

/** A text as 8 kHz speech, from the cache or rendered into it (written atomically). */
export async function cachedSpeech(dir: string, text: string): Promise<Int16Array> {
  const key = createHash("sha256").update(`${RENDERING}\n${VOICE}\n${text}`).digest("hex").slice(0, 32);
  const file = join(dir, `${key}.s16le`);
  const cached = await readFile(file).catch(() => null);
  if (cached && cached.length > 0) return samplesOf(cached);
  const rendered = await speak(text);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, rendered);
  await rename(temporary, file);
  return samplesOf(rendered);
}

/** espeak-ng's WAV piped through ffmpeg to 16-bit 8 kHz mono. */
export function speak(text: string): Promise<Buffer> {
  if (text.trim() === "" || text.length > 2000) return Promise.reject(new Error("a prompt is 1-2000 characters"));
  return new Promise((resolve, reject) => {
    const espeak = spawn("espeak-ng", ["-v", VOICE, "-s", "150", "--stdout", "--", text], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const ffmpeg = spawn("ffmpeg", TO_PROMPT_AUDIO, { stdio: ["pipe", "pipe", "pipe"] });
    const missing = (tool: string, pkg: string) => (error: NodeJS.ErrnoException) =>
      reject(error.code === "ENOENT" ? new Error(`${tool} is not installed (apt-get install ${pkg})`) : error);
    espeak.on("error", missing("espeak-ng", "espeak-ng"));
    ffmpeg.on("error", missing("ffmpeg", "ffmpeg"));
    espeak.stdout.pipe(ffmpeg.stdin);
    ffmpeg.stdin.on("error", () => {}); // ffmpeg gone: its own exit says why
    const chunks: Buffer[] = [];
    let errors = "";
    ffmpeg.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    ffmpeg.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString();
    });
    espeak.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString();
    });
    ffmpeg.on("close", (code) => {
      const audio = Buffer.concat(chunks);
      if (code === 0 && audio.length >= 2) resolve(audio);
      else reject(new Error(`rendering "${text.slice(0, 40)}" failed (ffmpeg ${code}): ${errors.slice(0, 300)}`));
    });
  });
}

/** ffmpeg reading any audio on stdin, writing 16-bit 8 kHz mono on stdout. */
const TO_PROMPT_AUDIO = [
  "-hide_banner",
  "-loglevel",
  "error",
  "-i",
  "pipe:0",
  "-ar",
  String(PROMPT_RATE),
  "-ac",
  "1",
  "-f",
  "s16le",
  "pipe:1",
];

/** An audio file (WAV, MP3, anything ffmpeg reads) as 16-bit 8 kHz mono. */
export function transcode(file: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const ffmpeg = spawn("ffmpeg", TO_PROMPT_AUDIO, { stdio: ["pipe", "pipe", "pipe"] });
    ffmpeg.on("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "ENOENT" ? new Error("ffmpeg is not installed (apt-get install ffmpeg)") : error),
    );
    const chunks: Buffer[] = [];
    let errors = "";
    ffmpeg.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    ffmpeg.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString();
    });
    ffmpeg.stdin.on("error", () => {}); // ffmpeg gone: its own exit says why
    ffmpeg.stdin.end(file);
    ffmpeg.on("close", (code) => {
      const audio = Buffer.concat(chunks);
      if (code === 0 && audio.length >= 2) resolve(audio);
      else reject(new Error(`the audio file cannot be decoded (ffmpeg ${code}): ${errors.slice(0, 300)}`));
    });
  });
}

function samplesOf(bytes: Buffer): Int16Array {
  const samples = new Int16Array(Math.floor(bytes.length / 2));
  for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
  return samples;
}
