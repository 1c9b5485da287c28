import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emptyConfig, PbxConfig } from "../../../shared/index.ts";
import { PbxDirectory } from "../../pbx/PbxDirectory.ts";
import { allowedSender, faxDomain, isRefusal, parseFaxRecipient } from "./addresses.ts";

const domain = "acme.pbx.edgepbx.local";
const config = (virtualFax: { enabled: boolean; disclaimerAccepted: boolean }) =>
  PbxConfig.parse({
    ...emptyConfig(domain),
    faxSenders: [{ id: "fxs_one0001", email: "Fax.Sender@Example.com", callerId: "+61290001111" }],
    addons: { ...emptyConfig(domain).addons, virtualFax },
  });
const directory = new PbxDirectory();
directory.upsert("pbx-acme", 1, config({ enabled: true, disclaimerAccepted: true }));

describe("email-to-fax addresses", () => {
  it("a PBX's fax domain is fax.<SIP domain>, or another prefix the node sets", () => {
    assert.equal(faxDomain(config({ enabled: true, disclaimerAccepted: true })), `fax.${domain}`);
    assert.equal(faxDomain(config({ enabled: true, disclaimerAccepted: true }), ""), domain);
  });

  it("<number>@fax.<SIP domain> names the PBX and the number, separators dropped, case ignored", () => {
    for (const [address, number] of [
      [`0298765432@fax.${domain}`, "0298765432"],
      [`+61298765432@FAX.ACME.pbx.edgepbx.local`, "+61298765432"],
      [`+61-2-9876.5432@fax.${domain}`, "+61298765432"],
      [`"(02) 9876 5432"@fax.${domain}`, "0298765432"],
    ]) {
      const recipient = parseFaxRecipient(address as string, directory);
      assert.ok(!isRefusal(recipient), address);
      assert.equal(recipient.pbx.pbxId, "pbx-acme");
      assert.equal(recipient.number, number);
    }
    const bare = parseFaxRecipient(`0298765432@${domain}`, directory, "");
    assert.ok(!isRefusal(bare) && bare.number === "0298765432", "an empty prefix: the SIP domain itself");
  });

  it("refuses other domains (550) and what is not a fax number (553), saying which", () => {
    for (const [address, code, reason] of [
      [
        `0298765432@${domain}`,
        550,
        /no such fax domain here \(fax mail goes to <number>@fax\.<your PBX's SIP domain>\)/,
      ],
      ["0298765432@fax.other.example", 550, /no such fax domain/],
      ["0298765432", 550, /no such fax domain/],
      [`info@fax.${domain}`, 553, /"info" is not a fax number \(6 to 16 digits, an optional leading \+\)/],
      [`112@fax.${domain}`, 553, /not a fax number/],
      [`12345678901234567@fax.${domain}`, 553, /not a fax number/],
      [`02+98765432@fax.${domain}`, 553, /not a fax number/],
    ] as const) {
      const refusal = parseFaxRecipient(address, directory);
      assert.ok(isRefusal(refusal), address);
      assert.equal(refusal.code, code, address);
      assert.match(refusal.message, reason, address);
    }
  });

  it("only the PBX's allowed senders, with Virtual FAX enabled and its disclaimer accepted", () => {
    const on = config({ enabled: true, disclaimerAccepted: true });
    const sender = allowedSender(on, "fax.sender@example.COM");
    assert.ok(!isRefusal(sender));
    assert.equal(sender.callerId, "+61290001111");
    const stranger = allowedSender(on, "someone@example.com");
    assert.ok(isRefusal(stranger));
    assert.equal(stranger.code, 550);
    assert.match(stranger.message, /<someone@example\.com> is not an allowed Virtual FAX sender of this PBX/);
    assert.match((allowedSender(on, "") as { message: string }).message, /<null sender> is not an allowed/);
    for (const addon of [
      { enabled: false, disclaimerAccepted: true },
      { enabled: true, disclaimerAccepted: false },
    ]) {
      const refused = allowedSender(config(addon), "fax.sender@example.com");
      assert.ok(isRefusal(refused));
      assert.match(refused.message, /Virtual FAX is not enabled for this PBX/);
    }
  });
});
