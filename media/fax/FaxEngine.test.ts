import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addonFile } from "../../scripts/fax/addon-path.mjs";
import {
  blackPixels,
  differingPixels,
  type FaxBitmap,
  makeFaxDocument,
  renderTiffPages,
  tiffPages,
} from "../test-support/fax-documents.ts";
import { carry, connectFaxes } from "../test-support/fax-line.ts";
import { faxAvailability, loadFaxAddon } from "./addon.ts";
import { FAX_FRAME_SAMPLES, FaxEngine, type FaxProgress } from "./FaxEngine.ts";

const PAGES = ["EdgePBX fax test", "Second page (other)"];
const fax = faxAvailability();

describe("FaxEngine (SpanDSP)", { skip: process.env.EDGEPBX_SKIP_FAX ? "EDGEPBX_SKIP_FAX is set" : false }, () => {
  let dir: string;
  let document: string;
  let sent: FaxBitmap[];

  before(async () => {
    assert.ok(fax.available, fax.available ? "" : fax.reason);
    dir = await mkdtemp(join(tmpdir(), "edgepbx-fax-"));
    document = join(dir, "sent.tif");
    await makeFaxDocument(document, PAGES);
    sent = await renderTiffPages(document);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("the test document has two distinct fine-resolution pages", async () => {
    const pages = await tiffPages(document);
    assert.equal(pages.length, 2);
    for (const page of pages) {
      assert.deepEqual([page.width, page.length], [1728, 2292]);
      assert.match(page.compression, /CCITT Group 3/);
    }
    assert.equal(sent.length, 2);
    for (const page of sent) assert.ok(blackPixels(page) > 5000, "each page has content");
    assert.ok(differingPixels(sent[0] as FaxBitmap, sent[1] as FaxBitmap) > 5000, "the pages differ");
  });

  for (const { line, ecm } of [
    { line: "PCMU", ecm: true },
    { line: "PCMA", ecm: false },
  ] as const) {
    test(`two engines fax 2 pages to each other through G.711 ${line}, ECM ${ecm ? "on" : "off"}`, async (t) => {
      const received = join(dir, `received-${line}.tif`);
      const sender = new FaxEngine({ calling: true, transmitFile: document, ident: "+15550100", ecm });
      const receiver = new FaxEngine({ calling: false, receiveFile: received, ident: "+15550199", ecm });
      const seen: { who: string; event: string; progress: FaxProgress }[] = [];
      for (const [who, engine] of [
        ["sender", sender],
        ["receiver", receiver],
      ] as const) {
        engine.on("negotiated", (progress) => seen.push({ who, event: "negotiated", progress }));
        engine.on("page", (progress) => seen.push({ who, event: "page", progress }));
      }

      const { audioMs, cpuMs } = connectFaxes(sender, receiver, line);

      const [out, got] = [sender.result, receiver.result];
      assert.ok(out && got, `both ends finished within ${audioMs / 1000} s of audio`);
      assert.deepEqual([out.success, out.code, out.text], [true, 0, "OK"]);
      assert.deepEqual([got.success, got.code, got.text], [true, 0, "OK"]);
      assert.equal(out.pagesTransferred, 2);
      assert.equal(got.pagesTransferred, 2);
      assert.equal(out.remoteIdent, "+15550199");
      assert.equal(got.remoteIdent, "+15550100");
      assert.equal(out.bitRate, 14400, "V.17 at its top rate on a clean line");
      assert.equal(got.ecm, ecm);
      assert.equal(out.endedByUs, false);
      const receiverPages = seen.filter((s) => s.who === "receiver" && s.event === "page").map((s) => s.progress.pages);
      assert.deepEqual(receiverPages, [1, 2]);
      assert.ok(seen.some((s) => s.who === "sender" && s.event === "negotiated"));

      // The received file: two fine pages whose pixels are those sent.
      const pages = await tiffPages(received);
      assert.equal(pages.length, 2);
      for (const page of pages) assert.deepEqual([page.width, page.length], [1728, 2292]);
      const rendered = await renderTiffPages(received);
      assert.equal(rendered.length, 2);
      for (const [i, page] of rendered.entries()) {
        assert.equal(differingPixels(page, sent[i] as FaxBitmap), 0, `page ${i + 1} arrives pixel for pixel`);
      }

      // Issue #9: fax CPU per page relative to real time (both ends and G.711 counted together).
      const share = cpuMs / audioMs;
      t.diagnostic(
        `${line} ECM ${ecm ? "on" : "off"}: ${(audioMs / 1000).toFixed(1)} s of fax audio for 2 pages, ` +
          `CPU ${cpuMs.toFixed(1)} ms for both ends with G.711 (${(cpuMs / 2).toFixed(1)} ms per page), ` +
          `${((100 * share) / 2).toFixed(3)}% of a core per fax end`,
      );
      assert.ok(share < 0.1, `both ends together take ${(100 * share).toFixed(2)}% of real time`);
    });
  }

  test("packets lost during a page (bridged by fax_rx_fillin) are resent by ECM: the pages arrive intact", async () => {
    const received = join(dir, "lossy.tif");
    const sender = new FaxEngine({ calling: true, transmitFile: document, ident: "+15550100" });
    const receiver = new FaxEngine({ calling: false, receiveFile: received, ident: "+15550199" });
    let negotiatedAt = -1;
    receiver.once("negotiated", () => {
      negotiatedAt = frames;
    });
    const retries: number[] = [];
    sender.on("page", (progress) => retries.push(progress.ecmRetries));
    let frames = 0;
    let dropped = 0;
    while (!(sender.done && receiver.done) && frames < 300 * 50) {
      const [fromSender, fromReceiver] = [sender.transmit(), receiver.transmit()];
      // One packet a second from 3 s after the DCS: inside page 1's image data.
      const since = frames - negotiatedAt;
      const lose = negotiatedAt >= 0 && since >= 150 && since < 400 && since % 50 === 0;
      if (lose) dropped++;
      receiver.receive(lose ? null : carry(fromSender, "PCMU"));
      sender.receive(carry(fromReceiver, "PCMU"));
      frames++;
    }
    assert.equal(dropped, 5);
    assert.equal(sender.result?.success, true, sender.result?.text);
    assert.equal(receiver.result?.pagesTransferred, 2);
    assert.ok((retries[0] ?? 0) > 0, `page 1 needed ECM resends (${retries.join(", ")})`);
    const rendered = await renderTiffPages(received);
    assert.equal(rendered.length, 2);
    for (const [i, page] of rendered.entries()) assert.equal(differingPixels(page, sent[i] as FaxBitmap), 0);
  });

  test("a receiver that hangs up after the first page: both ends fail with a reason, page 1 is kept", async () => {
    const received = join(dir, "partial.tif");
    const sender = new FaxEngine({ calling: true, transmitFile: document, ident: "+15550100" });
    const receiver = new FaxEngine({ calling: false, receiveFile: received, ident: "+15550199" });
    receiver.on("page", (progress) => {
      if (progress.pages === 1) receiver.hangup();
    });

    // After the hang-up the receiver sends silence: the sender must give up by T.30's own timers.
    connectFaxes(sender, receiver, "PCMU");

    const [out, got] = [sender.result, receiver.result];
    assert.ok(out && got);
    assert.equal(got.success, false);
    assert.equal(got.endedByUs, true);
    assert.equal(got.pagesReceived, 1);
    assert.equal(got.text, "The call dropped prematurely");
    assert.equal(out.success, false);
    assert.equal(out.endedByUs, false, "the sender's T.30 ended it");
    assert.notEqual(out.code, 0);
    assert.match(out.text, /response|DCN|dropped|timed out/i);
    assert.ok(out.durationMs < 120_000, `the sender gave up after ${out.durationMs / 1000} s`);

    const rendered = await renderTiffPages(received);
    assert.equal(rendered.length, 1);
    assert.equal(differingPixels(rendered[0] as FaxBitmap, sent[0] as FaxBitmap), 0);
  });

  test("a receiver hearing only noise fails with T.30's reason", () => {
    const receiver = new FaxEngine({
      calling: false,
      receiveFile: join(dir, "noise.tif"),
      ident: "+15550199",
      maxDurationMs: 60_000,
    });
    let seed = 7;
    const noise = (): Int16Array => {
      const frame = new Int16Array(FAX_FRAME_SAMPLES);
      for (let i = 0; i < frame.length; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        frame[i] = (seed % 24000) - 12000;
      }
      return frame;
    };
    while (!receiver.done) {
      receiver.transmit();
      receiver.receive(noise());
    }
    const result = receiver.result;
    assert.ok(result);
    assert.equal(result.success, false);
    assert.equal(result.pagesTransferred, 0);
    assert.notEqual(result.code, 0);
    assert.equal(result.text, "Timed out waiting for the first message");
  });

  test("a sender whose receiver never answers (silence) fails once T.30 gives up", () => {
    const sender = new FaxEngine({ calling: true, transmitFile: document });
    const silence = new Int16Array(FAX_FRAME_SAMPLES);
    while (!sender.done && sender.elapsedMs < 300_000) {
      sender.transmit();
      sender.receive(silence);
    }
    const result = sender.result;
    assert.ok(result, "T.30 ended it");
    assert.equal(result.success, false);
    assert.equal(result.endedByUs, false);
    assert.match(result.text, /timed out/i);
  });

  test("close() mid-fax ends it with a result and frees the session; later calls are harmless", () => {
    const engine = new FaxEngine({ calling: true, transmitFile: document });
    let done = 0;
    engine.on("done", () => done++);
    for (let i = 0; i < 50; i++) engine.receive(engine.transmit());
    engine.close();
    engine.close();
    assert.equal(done, 1);
    assert.equal(engine.result?.success, false);
    assert.equal(engine.result?.endedByUs, true);
    assert.deepEqual(engine.transmit(), new Int16Array(FAX_FRAME_SAMPLES), "silence once closed");
    engine.receive(new Int16Array(FAX_FRAME_SAMPLES));
  });

  test("bad paths fail at once", () => {
    assert.throws(() => new FaxEngine({ calling: true, transmitFile: join(dir, "missing.tif") }), /ENOENT/);
    assert.throws(() => new FaxEngine({ calling: false, receiveFile: join(dir, "no", "such", "x.tif") }), /ENOENT/);
  });

  test("the addon checks its arguments and refuses work once closed", () => {
    const { FaxSession } = loadFaxAddon();
    const bad = (options: unknown) => () => new FaxSession(options as never);
    assert.throws(bad(undefined), TypeError);
    assert.throws(bad({ transmitFile: document }), /calling must be a boolean/);
    assert.throws(bad({ calling: true }), /transmitFile or receiveFile/);
    assert.throws(bad({ calling: true, transmitFile: "" }), RangeError);
    assert.throws(bad({ calling: true, transmitFile: 42 }), TypeError);
    assert.throws(bad({ calling: true, transmitFile: document, ident: "x".repeat(21) }), RangeError);
    assert.throws(bad({ calling: true, transmitFile: document, ident: "caf\u00e9" }), RangeError);
    assert.throws(bad({ calling: true, transmitFile: document, ecm: "yes" }), TypeError);

    const session = new FaxSession({ calling: true, transmitFile: document });
    assert.throws(() => session.rx(new Float32Array(160) as never), TypeError);
    assert.throws(() => session.rx(new Int16Array(8001)), RangeError);
    for (const count of [-1, 1.5, 8001, Number.NaN]) {
      assert.throws(() => session.tx(count), RangeError);
      assert.throws(() => session.fillin(count), RangeError);
    }
    assert.equal(session.fillin(160), 0);
    assert.equal(session.tx(0).length, 0);
    const samples = new Int16Array(160).fill(1234);
    session.rx(samples);
    assert.ok(
      samples.every((s) => s === 1234),
      "rx leaves the caller's samples alone",
    );
    assert.equal(session.active, true);
    session.close();
    session.close();
    assert.equal(session.closed, true);
    assert.equal(session.active, false);
    assert.throws(() => session.rx(samples), /closed/);
    assert.throws(() => session.tx(160), /closed/);
    assert.throws(() => session.fillin(160), /closed/);
    const [complete] = session.poll();
    assert.equal(complete?.type, "complete", "closing a running fax still reports how it ended");
    assert.equal(session.stats().pagesSent, 0);
  });

  test("sessions dropped without close() are freed by the garbage collector", () => {
    // Each SpanDSP fax state is about 100 KB: 20,000 of them kept would be 2 GB.
    const script = `
      const { FaxSession } = require(${JSON.stringify(addonFile)});
      const { setImmediate: tick } = require("node:timers/promises");
      (async () => {
        const rss = () => process.memoryUsage().rss;
        let base = 0;
        for (let round = 0; round < 40; round++) {
          for (let i = 0; i < 500; i++) new FaxSession({ calling: true, transmitFile: ${JSON.stringify(document)} }).tx(160);
          global.gc(); await tick(); await tick();
          if (round === 4) base = rss();
        }
        console.log(JSON.stringify({ growthMb: (rss() - base) / 1e6 }));
      })();`;
    const child = spawnSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8", timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    const { growthMb } = JSON.parse(child.stdout) as { growthMb: number };
    assert.ok(growthMb < 100, `RSS grew ${growthMb.toFixed(0)} MB after 17,500 more sessions`);
  });
});
