import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PROMPT_RATE, PROMPT_TEXTS, PromptSet, speak } from "./PromptSet.ts";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgepbx-prompts-"));
});
after(() => rm(dir, { recursive: true, force: true }));

/** Root mean square of the samples: speech is well above silence. */
const rms = (samples: Int16Array) =>
  Math.sqrt(samples.reduce((sum, v) => sum + v * v, 0) / Math.max(1, samples.length));

describe("PromptSet", () => {
  it("speaks every prompt with espeak-ng at 8 kHz, and keeps them on disk for the next start", async () => {
    const prompts = await PromptSet.create(dir);
    for (const id of Object.keys(PROMPT_TEXTS) as (keyof typeof PROMPT_TEXTS)[]) {
      const audio = prompts.get(id);
      const seconds = audio.length / PROMPT_RATE;
      // About 150 words a minute: half a second to a few seconds each.
      const words = PROMPT_TEXTS[id].split(" ").length;
      assert.ok(seconds > 0.3 && seconds < words * 0.8 + 1, `${id}: ${seconds.toFixed(2)} s for ${words} words`);
      assert.ok(rms(audio) > 500, `${id} is audible (rms ${rms(audio).toFixed(0)})`);
    }
    const files = await readdir(dir);
    assert.equal(files.length, Object.keys(PROMPT_TEXTS).length);
    const before = await Promise.all(files.map((f) => stat(join(dir, f))));
    const again = await PromptSet.create(dir);
    const after = await Promise.all(files.map((f) => stat(join(dir, f))));
    assert.deepEqual(
      after.map((s) => s.mtimeMs),
      before.map((s) => s.mtimeMs),
      "the second start read the cache",
    );
    assert.deepEqual(again.get("goodbye"), prompts.get("goodbye"));
  });

  it("refuses empty or overlong text", async () => {
    await assert.rejects(speak("   "), /1-2000 characters/);
    await assert.rejects(speak("a".repeat(2001)), /1-2000 characters/);
  });
});
