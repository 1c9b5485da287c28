import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FaxRecord } from "../../../shared/index.ts";
import type { Logger } from "../../common/Logger.ts";
import { type AttemptOutcome, type FaxAttempt, type FaxDialer, FaxOutbox, type NewFax } from "./FaxOutbox.ts";
import { composeResultMail } from "./resultMail.ts";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const FAX: NewFax = {
  pbxId: "pbx-1",
  sender: "alice@example.com",
  callerId: "0291112222",
  number: "0298765432",
  pages: 2,
  subject: "Invoice",
  fileNames: ["invoice.pdf"],
};

/** A dialer that plays the given outcomes in turn, noting each fax and TIFF it was asked for. */
function scripted(outcomes: (AttemptOutcome | [AttemptOutcome, number])[]) {
  const calls: { id: string; tiff: string; at: number }[] = [];
  const dial: FaxDialer = async (fax, tiff) => {
    calls.push({ id: fax.id, tiff, at: Date.now() });
    const next = outcomes.shift() ?? "sent";
    const [outcome, pages] = Array.isArray(next) ? next : [next, next === "sent" ? fax.pages : 0];
    const detail = { sent: "OK", busy: "486 Busy Here", "no answer": "480 no answer" }[outcome as string] ?? outcome;
    return {
      outcome,
      detail,
      pages,
      remoteIdent: outcome === "sent" ? "+61 2 9876 5432" : null,
      startedAt: new Date().toISOString(),
      durationMs: 5,
    } satisfies FaxAttempt;
  };
  return { dial, calls };
}

describe("FaxOutbox: tries, waits for a channel, mails the result, keeps a spool", () => {
  let dir: string;
  let tiff: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgepbx-outbox-"));
    tiff = join(dir, "document.tif");
    await writeFile(tiff, "II*\0 not really a TIFF, the dialer is fake");
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function outbox(name: string, dial: FaxDialer, more: { failMail?: boolean } = {}) {
    const mails: { to: string; subject: string; text: string }[] = [];
    const records: FaxRecord[] = [];
    const box = new FaxOutbox({
      spoolDir: join(dir, name),
      dial,
      mailer: {
        async send(mail) {
          if (more.failMail) throw new Error("relay down");
          mails.push(mail);
        },
      },
      timezoneOf: () => "Australia/Sydney",
      onRecord: (_pbx, record) => records.push(record),
      retry: { attempts: 3, delayMs: 50, channelWaitMs: 20, maxChannelWaitMs: 150 },
      logger: quiet,
    });
    return { box, mails, records };
  }

  it("busy, no answer, then sent: three tries apart by the delay, one mail, one record, the spool emptied", async () => {
    const { dial, calls } = scripted(["busy", "no answer", "sent"]);
    const { box, mails, records } = outbox("retries", dial);
    await box.start();
    const queued = await box.submit(FAX, tiff);
    await box.idle();
    assert.equal(calls.length, 3);
    assert.ok((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0) >= 45, "the delay between tries");
    assert.ok(
      calls.every((c) => c.id === queued.id && c.tiff.startsWith(join(dir, "retries"))),
      "the spooled copy is sent",
    );
    assert.equal(mails.length, 1);
    assert.equal(mails[0]?.to, "alice@example.com");
    assert.equal(mails[0]?.subject, "Fax sent to 0298765432: 2 pages");
    assert.match(mails[0]?.text ?? "", /Tries: 3/);
    assert.deepEqual([records[0]?.result, records[0]?.pages, records[0]?.detail], ["success", 2, "sent: OK (3 tries)"]);
    assert.deepEqual(await readdir(join(dir, "retries")), []);
  });

  it("a fax that got some pages through before failing is partial; a refused number is not tried again", async () => {
    const { dial, calls } = scripted([["partial", 1], "failed", "busy"]);
    const { box, mails, records } = outbox("partial", dial);
    await box.start();
    await box.submit(FAX, tiff);
    await box.idle();
    assert.equal(calls.length, 3);
    assert.equal(mails[0]?.subject, "Fax to 0298765432 failed: busy");
    assert.deepEqual([records[0]?.result, records[0]?.pages], ["partial", 1]);

    const refused = scripted(["refused"]);
    const second = outbox("refused", refused.dial);
    await second.box.start();
    await second.box.submit(FAX, tiff);
    await second.box.idle();
    assert.equal(refused.calls.length, 1);
    assert.equal(second.records[0]?.result, "failed");
  });

  it("no free channel is waited out without counting a try, up to a limit", async () => {
    const { dial, calls } = scripted(["no channel", "no channel", "sent"]);
    const { box, records } = outbox("channels", dial);
    await box.start();
    await box.submit(FAX, tiff);
    await box.idle();
    assert.equal(calls.length, 3);
    assert.equal(records[0]?.detail, "sent: OK", "one try");

    const never = scripted(Array(100).fill("no channel"));
    const blocked = outbox("blocked", never.dial);
    await blocked.box.start();
    await blocked.box.submit(FAX, tiff);
    await blocked.box.idle();
    assert.equal(blocked.records[0]?.result, "failed");
    assert.match(blocked.mails[0]?.text ?? "", /every channel stayed in use/);
  });

  it("a fax still spooled when the node stopped is resumed with its tries; a failed mail is logged, the fax still ends", async () => {
    let release: () => void = () => {};
    const stuck: FaxDialer = (fax) =>
      new Promise((resolve) => {
        release = () =>
          resolve({
            outcome: "busy",
            detail: "486 Busy Here",
            pages: 0,
            remoteIdent: null,
            startedAt: fax.submittedAt,
            durationMs: 1,
          });
      });
    const first = outbox("resume", stuck);
    await first.box.start();
    const queued = await first.box.submit(FAX, tiff);
    const closing = first.box.close();
    release();
    await closing;
    assert.deepEqual((await readdir(join(dir, "resume"))).sort(), [`${queued.id}.json`, `${queued.id}.tif`]);

    const { dial, calls } = scripted(["busy", "sent"]);
    const second = outbox("resume", dial, { failMail: true });
    await second.box.start();
    await second.box.idle();
    assert.deepEqual(
      calls.map((c) => c.id),
      [queued.id, queued.id],
    );
    assert.equal(second.records[0]?.detail, "sent: OK (2 tries)", "the try cut short by the stop is not counted");
    assert.deepEqual(await readdir(join(dir, "resume")), []);
  });

  it("the result mails say what happened, in the PBX's time zone", () => {
    const attempt = (outcome: AttemptOutcome, detail: string, pages = 0): FaxAttempt => ({
      outcome,
      detail,
      pages,
      remoteIdent: outcome === "sent" ? "+61 2 9876 5432" : null,
      startedAt: "2026-03-02T23:15:00.000Z",
      durationMs: 83_000,
    });
    const fax = { ...FAX, id: "fax-1", submittedAt: "2026-03-02T23:14:00.000Z" };
    const now = new Date("2026-03-02T23:16:00.000Z");
    const sent = composeResultMail(
      { ...fax, attempts: [attempt("busy", "486 Busy Here"), attempt("sent", "OK", 2)] },
      true,
      "Australia/Sydney",
      now,
    );
    assert.equal(sent.subject, "Fax sent to 0298765432: 2 pages");
    assert.match(sent.text, /^Your fax to 0298765432 was sent\.$/m);
    assert.match(sent.text, /^Pages sent: 2 of 2$/m);
    assert.match(sent.text, /^Sent: Tuesday,? 3 March 2026 at 10:16:00 GMT\+11$/m);
    assert.match(sent.text, /^Fax time: 1:23$/m);
    assert.match(sent.text, /^Caller ID: 0291112222$/m);
    assert.match(sent.text, /^Receiving fax: \+61 2 9876 5432$/m);
    assert.match(sent.text, /^Tries: 2$/m);
    assert.match(sent.text, /^Document: invoice\.pdf, 2 pages$/m);
    const failed = composeResultMail(
      {
        ...fax,
        attempts: [attempt("no answer", "480 no answer"), attempt("partial", "The call dropped prematurely", 1)],
      },
      false,
      "UTC",
      now,
    );
    assert.equal(failed.subject, "Fax to 0298765432 failed: partial");
    assert.match(failed.text, /could not be sent after 2 tries/);
    assert.match(failed.text, /^Result: partial \(The call dropped prematurely\)$/m);
    assert.match(failed.text, /^Pages that went through on the last try: 1 of 2$/m);
    assert.match(failed.text, /^ {2}1\. 2026-03-02T23:15:00\.000Z: no answer \(480 no answer\)$/m);
  });
});
