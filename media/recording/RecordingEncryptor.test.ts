import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { guideDecrypt, makeCustomerKey } from "../test-support/customer-key.ts";
import { RecordingEncryptor } from "./RecordingEncryptor.ts";

const run = promisify(execFile);
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgepbx-encryptor-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("RecordingEncryptor (CMS EnvelopedData, DER)", () => {
  it("the guide's openssl smime command decrypts it back to the same bytes, at any length", async () => {
    const { certPem, keyPath } = await makeCustomerKey(dir);
    const encryptor = new RecordingEncryptor(certPem);
    for (const size of [0, 15, 16, 1000, 300_000]) {
      const plain = randomBytes(size);
      const sealed = await encryptor.encrypt(plain);
      assert.ok(!sealed.includes(plain.subarray(0, 64)) || size === 0, "no plaintext inside");
      const opened = await guideDecrypt(dir, `size-${size}`, sealed, keyPath);
      assert.ok(opened.equals(plain), `${size} bytes come back unchanged`);
    }
  });

  it("is DER openssl can parse: EnvelopedData, rsaEncryption to the certificate's issuer and serial, AES-256-CBC", async () => {
    const { certPem } = await makeCustomerKey(dir);
    const sealed = await new RecordingEncryptor(certPem).encrypt(Buffer.from("hello"));
    const path = join(dir, "x.der");
    await writeFile(path, sealed);
    const { stdout } = await run("openssl", ["cms", "-cmsout", "-print", "-inform", "DER", "-in", path]);
    assert.match(stdout, /contentType: pkcs7-envelopedData/);
    assert.match(stdout, /algorithm: rsaEncryption/);
    assert.match(stdout, /CN=EdgePBX recordings test/);
    assert.match(stdout, /algorithm: aes-256-cbc/);
    // Two encryptions of the same bytes differ: a fresh key and IV each time.
    const again = await new RecordingEncryptor(certPem).encrypt(Buffer.from("hello"));
    assert.notDeepEqual(again, sealed);
  });

  it("refuses what is not an RSA certificate", () => {
    assert.throws(
      () => new RecordingEncryptor("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"),
      /PEM certificate/,
    );
  });
});
