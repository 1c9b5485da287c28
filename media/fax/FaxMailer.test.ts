import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { composeFaxMail, type ReceivedFaxMail } from "./FaxMailer.ts";

const fax: ReceivedFaxMail = {
  to: "faxes@example.test",
  caller: "0412345678",
  did: "+61290004000",
  receivedAt: "2026-12-01T23:30:05.000Z",
  timezone: "Australia/Sydney",
  outcome: "success",
  pages: 2,
  detail: "OK",
  remoteIdent: "+61 2 9999 0000",
  bitRate: 14400,
  durationMs: 41_400,
  pdf: Buffer.from("%PDF-1.4"),
};

describe("fax to email: what the mail says", () => {
  it("a fax received in full: caller, number, pages, local time of the route, result, the PDF named for it", () => {
    const mail = composeFaxMail(fax);
    assert.equal(mail.subject, "Fax from 0412345678 to +61290004000: 2 pages");
    assert.match(mail.text, /^From: 0412345678 \(fax ID \+61 2 9999 0000\)$/m);
    assert.match(mail.text, /^To: \+61290004000$/m);
    // 23:30 UTC is 10:30 the next morning in Sydney (daylight saving).
    assert.match(mail.text, /^Received: Wednesday,? 2 December 2026 at 10:30:05 GMT\+11$/m);
    assert.match(mail.text, /^Pages: 2$/m);
    assert.match(mail.text, /^Result: Received in full$/m);
    assert.match(mail.text, /^Duration: 0:41, at 14400 bit\/s$/m);
    assert.match(mail.text, /attached as a PDF/);
    assert.equal(mail.filename, "fax-0412345678-20261202-103005.pdf");
  });

  it("a partial fax says where it failed and why; a failed one that nothing is attached; a withheld caller", () => {
    const partial = composeFaxMail({ ...fax, outcome: "partial", pages: 1, detail: "The call dropped prematurely" });
    assert.equal(partial.subject, "Partial fax from 0412345678 to +61290004000: 1 page received, then it failed");
    assert.match(partial.text, /failed after page 1/);
    assert.match(partial.text, /^Result: Partial: The call dropped prematurely$/m);
    assert.match(partial.text, /pages that arrived are attached/);
    const failed = composeFaxMail({
      ...fax,
      caller: "anonymous",
      outcome: "failed",
      pages: 0,
      pdf: null,
      remoteIdent: "",
      bitRate: 0,
      detail: "Timed out waiting for the first message",
    });
    assert.equal(failed.subject, "Failed fax from a withheld number to +61290004000: no pages received");
    assert.match(failed.text, /^From: a withheld number$/m);
    assert.match(failed.text, /^Result: Failed: Timed out waiting for the first message$/m);
    assert.match(failed.text, /nothing is attached/);
    assert.equal(failed.filename, "fax-withheld-20261202-103005.pdf");
  });
});
