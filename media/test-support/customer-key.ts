import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A customer's key pair made as the guide says: `openssl req -newkey rsa:2048 -nodes … -x509`. */
export async function makeCustomerKey(folder: string): Promise<{ certPem: string; keyPath: string }> {
  const keyPath = join(folder, "myprivatekey.pem");
  const certPath = join(folder, "mypublickey.pem");
  await run("openssl", [
    ...["req", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-x509", "-days", "1825"],
    ...["-out", certPath, "-subj", "/CN=EdgePBX recordings test"],
  ]);
  return { certPem: await readFile(certPath, "utf8"), keyPath };
}

/**
 * The guide's exact command line, `openssl smime -decrypt -binary -in X.mp3.enc -inform DER
 * -out X.mp3 -inkey key.pem`, run on `encrypted` saved as `<name>.mp3.enc`; the decrypted bytes.
 */
export async function guideDecrypt(
  folder: string,
  name: string,
  encrypted: Uint8Array,
  keyPath: string,
): Promise<Buffer> {
  const base = join(folder, name.replace(/\.mp3\.enc$/, ""));
  await writeFile(`${base}.mp3.enc`, encrypted);
  await run("openssl", [
    ...["smime", "-decrypt", "-binary", "-in", `${base}.mp3.enc`, "-inform", "DER"],
    ...["-out", `${base}.mp3`, "-inkey", keyPath],
  ]);
  return readFile(`${base}.mp3`);
}
