import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { ConfigStore } from "./ConfigStore.ts";
import { HA1_MD5, MemoryLogger, sampleConfig } from "./test-support.ts";

describe("ConfigStore", () => {
  let dir = "";
  let logger: MemoryLogger;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgepbx-store-"));
    logger = new MemoryLogger();
  });

  /** Every store a test opened: its coalesced write may still be running when the test ends. */
  let opened: ConfigStore[] = [];
  const open = () => {
    const store = new ConfigStore({ dir, logger });
    opened.push(store);
    return store;
  };

  afterEach(async () => {
    await Promise.all(opened.map((store) => store.flush()));
    opened = [];
    await rm(dir, { recursive: true, force: true });
  });

  test("starts empty without a file, and says so only at debug level", () => {
    const store = open();
    assert.equal(store.size, 0);
    assert.deepEqual(store.have(), {});
    assert.deepEqual(logger.at("warn"), []);
  });

  test("persists configs atomically and a new store reloads them", async () => {
    const store = open();
    store.set("pbx-a", 2, sampleConfig("pbx-a", ["100", "101"]));
    store.set("pbx-b", 7, sampleConfig("pbx-b"));
    store.markAcked("pbx-a", 2);
    await store.flush();

    const info = await stat(store.file);
    assert.equal(info.mode & 0o777, 0o600, "the file holds HA1s: owner only");
    assert.deepEqual(await readdir(dir), ["edge-configs.json"], "no temp file is left behind");

    const again = open();
    assert.deepEqual(again.have(), { "pbx-a": 2, "pbx-b": 7 });
    const a = again.get("pbx-a");
    assert.ok(a);
    assert.equal(a.acked, true);
    assert.equal(again.get("pbx-b")?.acked, false);
    assert.deepEqual(a.config, sampleConfig("pbx-a", ["100", "101"]));
    assert.equal(a.config.extensions[0]?.sip.ha1Md5, HA1_MD5);
    assert.deepEqual(logger.at("warn"), []);
  });

  test("a burst of changes is coalesced and the last state wins", async () => {
    const store = open();
    for (let v = 1; v <= 50; v++) store.set("pbx-a", v, sampleConfig("pbx-a"));
    await store.flush();
    assert.deepEqual(open().have(), { "pbx-a": 50 });
  });

  test("remove deletes the PBX from memory and from the file", async () => {
    const store = open();
    store.set("pbx-a", 1, sampleConfig("pbx-a"));
    store.set("pbx-b", 1, sampleConfig("pbx-b"));
    await store.flush();
    assert.equal(store.delete("pbx-a"), true);
    assert.equal(store.delete("pbx-a"), false);
    await store.flush();
    assert.deepEqual(open().have(), { "pbx-b": 1 });
  });

  test("markAcked ignores a version the PBX has moved on from", async () => {
    const store = open();
    store.set("pbx-a", 3, sampleConfig("pbx-a"));
    store.markAcked("pbx-a", 2);
    store.markAcked("pbx-zzz", 1);
    assert.equal(store.get("pbx-a")?.acked, false);
  });

  test("a corrupt file: starts empty with a warning, keeps the file aside, and saves again", async () => {
    const file = join(dir, "edge-configs.json");
    await writeFile(file, '{"format":1,"pbxs":{"pbx-a":{"version":2,"con');
    const store = open();
    assert.equal(store.size, 0);
    const [warning] = logger.at("warn");
    assert.match(warning ?? "", /corrupt \(it is not JSON\).*starting empty/);
    const files = await readdir(dir);
    assert.equal(files.length, 1);
    assert.match(files[0] ?? "", /^edge-configs\.json\.corrupt-\d+$/);

    store.set("pbx-a", 1, sampleConfig("pbx-a"));
    await store.flush();
    assert.deepEqual(open().have(), { "pbx-a": 1 });
  });

  test("a file of another shape is corrupt too", async () => {
    await writeFile(join(dir, "edge-configs.json"), "[1,2,3]");
    assert.equal(open().size, 0);
    assert.match(logger.at("warn")[0] ?? "", /not format 1/);
  });

  test("an invalid entry is dropped (that PBX resyncs), the others are kept", async () => {
    const good = { version: 4, config: sampleConfig("pbx-good"), receivedAt: "2026-01-01T00:00:00.000Z", acked: true };
    const badConfig = { ...sampleConfig("pbx-bad"), schemaVersion: 99 };
    await writeFile(
      join(dir, "edge-configs.json"),
      JSON.stringify({
        format: 1,
        pbxs: {
          "pbx-good": good,
          "pbx-bad": { version: 1, config: badConfig },
          "pbx-neg": { version: -1, config: sampleConfig("pbx-neg") },
          "../etc": { version: 1, config: sampleConfig("pbx-x") },
        },
      }),
    );
    const store = open();
    assert.deepEqual(store.have(), { "pbx-good": 4 });
    assert.equal(logger.at("warn").length, 3);
    assert.ok(!logger.text().includes("../etc"));
  });

  test("a failed write is logged, not thrown", async () => {
    const store = open();
    await rm(dir, { recursive: true });
    store.set("pbx-a", 1, sampleConfig("pbx-a"));
    await store.flush();
    assert.match(logger.at("error")[0] ?? "", /could not save/);
    assert.equal(store.get("pbx-a")?.version, 1, "memory still has it");
  });

  test("the file never contains anything but the configs (no token, nothing else)", async () => {
    const store = open();
    store.set("pbx-a", 1, sampleConfig("pbx-a"));
    await store.flush();
    const saved = JSON.parse(await readFile(store.file, "utf8"));
    assert.deepEqual(Object.keys(saved).sort(), ["format", "pbxs", "savedAt"]);
    assert.deepEqual(Object.keys(saved.pbxs["pbx-a"]).sort(), ["acked", "config", "receivedAt", "version"]);
  });
});
