/**
 * MediaEngine: Workers, a Router per call spread over them, and what happens when a Worker dies
 * (its calls close and free their ports, a replacement Worker takes new calls).
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { until } from "../test-support/wait.ts";
import type { CallMedia } from "./CallMedia.ts";
import { MediaEngine } from "./MediaEngine.ts";
import { mediasoupWorkerBin, missingWorkerMessage } from "./worker-bin.ts";

const offer = [
  "v=0",
  "o=- 1 1 IN IP4 127.0.0.1",
  "s=-",
  "c=IN IP4 127.0.0.1",
  "t=0 0",
  "m=audio 40000 RTP/AVP 0 101",
  "a=rtpmap:101 telephone-event/8000",
  "",
].join("\r\n");

const found = mediasoupWorkerBin();

describe("MediaEngine", { skip: found ? false : missingWorkerMessage, timeout: 20_000 }, () => {
  let engine: MediaEngine;
  const died: number[] = [];

  before(async () => {
    engine = await MediaEngine.create({
      workers: 2,
      rtpPorts: { min: 44000, max: 44099 },
      loopbackPorts: { min: 44100, max: 44199 },
      mediaIp: "192.0.2.7",
      listenIp: "127.0.0.1",
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    engine.on("workerdied", (_error, pid) => died.push(pid));
  });

  after(() => {
    const workers = [...engine.workers];
    engine.close();
    assert.ok(workers.every((w) => w.closed));
    assert.equal(engine.workers.length, 0);
  });

  test("settings are checked", async () => {
    await assert.rejects(MediaEngine.create({ workers: 0 }), /workers must be a positive integer/);
    await assert.rejects(
      MediaEngine.create({ rtpPorts: { min: 20000, max: 29999 }, loopbackPorts: { min: 29000, max: 30999 } }),
      /overlap/,
    );
  });

  test("a Router per call, on the Worker with the fewest calls; SDP announces the media IP", async () => {
    const calls: CallMedia[] = [];
    for (let i = 0; i < 4; i++) calls.push(await engine.session(`pbx-${i % 2}`));
    const dump = await engine.dump();
    assert.deepEqual(
      dump.workers.map((w) => w.routers.length),
      [2, 2],
    );
    assert.equal(dump.calls, 4);
    assert.equal(calls[1]?.pbxId, "pbx-1");
    const leg = await calls[0]?.createLeg({ remoteSdp: offer });
    assert.match(leg?.localSdp() ?? "", /c=IN IP4 192\.0\.2\.7\r\n/);
    assert.equal(engine.rtpPortsInUse, 1);
    for (const call of calls) call.close();
    assert.deepEqual(
      (await engine.dump()).workers.map((w) => w.routers.length),
      [0, 0],
    );
    assert.equal(engine.rtpPortsInUse, 0);
  });

  test("a Worker dies: its calls close and free their ports, the others go on, a new Worker replaces it", async () => {
    const first = await engine.createCall();
    const second = await engine.createCall();
    const legs = [await first.createLeg({ remoteSdp: offer }), await second.createLeg({ remoteSdp: offer })];
    const closes: string[] = [];
    first.on("close", (reason) => closes.push(reason));
    // Which Worker runs `first`? The one whose dump lists its Router.
    const dumps = await Promise.all(engine.workers.map((w) => w.dump()));
    const index = dumps.findIndex((d) => d.routerIds.includes(first.router.id));
    const worker = engine.workers[index];
    assert.ok(worker);
    const pid = worker.pid;
    process.kill(pid, "SIGKILL");
    assert.ok(await until(() => died.includes(pid), 5000), "workerdied emitted");
    assert.deepEqual(closes, ["mediasoup worker died"]);
    assert.ok(first.isClosed && legs[0]?.isClosed);
    assert.ok(!second.isClosed && !legs[1]?.isClosed, "calls on the other Worker are untouched");
    assert.equal(engine.rtpPortsInUse, 1);
    assert.equal(engine.workers.length, 1);
    // New calls go to the surviving Worker meanwhile, then to the replacement.
    const meanwhile = await engine.createCall();
    assert.ok(await until(() => engine.workers.length === 2, 5000), "a replacement Worker");
    assert.ok(!engine.workers.some((w) => w.pid === pid));
    const after = await engine.createCall();
    const leg = await after.createLeg({ remoteSdp: offer });
    assert.ok(leg.port > 0);
    for (const call of [second, meanwhile, after]) call.close();
    assert.equal(engine.rtpPortsInUse, 0);
  });
});
