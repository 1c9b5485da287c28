/**
 * The FTP server with real parts: the edge (startEdge) holding recordings uploaded with
 * RecordingUploader, a PbxDirectory of applied configs with the Call Recordings FTP credentials
 * (hashed as the edge hashes them), and Debian's curl as the FTP client (passive mode).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { devMediaNodeToken, type RunningEdge, startEdge } from "../../scripts/lib/edge.ts";
import { freePort } from "../../scripts/lib/net.ts";
import { hashPassword } from "../../shared/crypto/password.ts";
import { emptyConfig, PbxConfig, type RecordingUpload } from "../../shared/index.ts";
import { PortalClient } from "../../test/support/portal-client.ts";
import { ConsoleLogger } from "../common/Logger.ts";
import { PbxDirectory } from "../pbx/PbxDirectory.ts";
import { CallRecorder } from "./CallRecorder.ts";
import { RecordingFileSystem } from "./RecordingFileSystem.ts";
import { RecordingFtpServer } from "./RecordingFtpServer.ts";
import { RecordingLibrary } from "./RecordingLibrary.ts";
import { RecordingUploader } from "./RecordingUploader.ts";

const PASSWORD_A = "ftp-password-123";
const PASSWORD_B = "other-password-456";
let dir: string;
let edge: RunningEdge;
let ftp: RecordingFtpServer;
let pbxA: string;
let pbxB: string;
const files = new Map<string, Buffer>();
let inProgress: string;

/** curl's exit code, stdout (bytes) and stderr. */
function curl(args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "curl",
      ["-sS", "--max-time", "10", ...args],
      { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? -1) : 0;
        resolve({ code, stdout, stderr: stderr.toString() });
      },
    );
  });
}

const url = (user: string, password: string, path = "/") =>
  `ftp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${ftp.port}${path}`;

async function upload(pbxId: string, id: string, bytes: Buffer, meta: Partial<RecordingUpload> = {}) {
  const encrypted = meta.encrypted ?? false;
  await new RecordingUploader(edge.url, devMediaNodeToken()).put(pbxId, id, bytes, {
    callId: `${id}@test`,
    from: "0299990000",
    to: "100",
    direction: "inbound",
    startedAt: new Date().toISOString(),
    durationMs: 1000,
    encrypted,
    contentType: encrypted ? "application/pkcs7-mime" : "audio/mpeg",
    final: true,
    ...meta,
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgepbx-ftp-"));
  edge = await startEdge({ port: await freePort(), persistDir: join(dir, "edge") });
  const admin = await PortalClient.register(edge.url, "ftp");
  const create = async (name: string) =>
    (await admin.expect<{ pbx: { id: string } }>(201, "POST", "/api/pbxs", { name })).pbx.id;
  pbxA = await create("FTP Office A");
  pbxB = await create("FTP Office B");
  for (const [pbxId, count, encryptedToo] of [
    [pbxA, 2, true],
    [pbxB, 1, false],
  ] as const) {
    for (let i = 0; i < count; i++) {
      const id = CallRecorder.newId();
      const bytes = randomBytes(20_000 + i * 1000);
      await upload(pbxId, id, bytes);
      files.set(`${pbxId}/${id}.mp3`, bytes);
    }
    if (encryptedToo) {
      const id = CallRecorder.newId();
      const bytes = randomBytes(5000);
      await upload(pbxId, id, bytes, { encrypted: true });
      files.set(`${pbxId}/${id}.mp3.enc`, bytes);
    }
  }
  inProgress = CallRecorder.newId();
  await upload(pbxA, inProgress, randomBytes(3000), { final: false });

  // Both PBXs use the same FTP username: the password tells them apart.
  const directory = new PbxDirectory();
  for (const [pbxId, password] of [
    [pbxA, PASSWORD_A],
    [pbxB, PASSWORD_B],
  ] as const) {
    const config = PbxConfig.parse({
      ...emptyConfig(`${pbxId}.pbx.edgepbx.local`),
      addons: {
        callRecording: {
          enabled: true,
          disclaimerAccepted: true,
          ftp: { username: "recordings", passwordHash: await hashPassword(password) },
        },
      },
    });
    directory.upsert(pbxId, 1, config);
  }
  const passiveMin = 47000 + Math.floor(Math.random() * 40) * 20;
  ftp = await RecordingFtpServer.start({
    host: "127.0.0.1",
    port: 0,
    passivePorts: { min: passiveMin, max: passiveMin + 19 },
    passiveHost: "127.0.0.1",
    directory,
    library: new RecordingLibrary(edge.url, devMediaNodeToken()),
    logger: new ConsoleLogger("ftp-test"),
    refusalDelayMs: 100,
  });
});

after(async () => {
  await ftp?.close();
  await edge?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("RecordingFtpServer (curl as the client)", () => {
  it("lists a PBX's finished recordings to its FTP login, and only its own", async () => {
    const listing = await curl([url("recordings", PASSWORD_A)]);
    assert.equal(listing.code, 0, listing.stderr);
    const lines = listing.stdout.toString().trim().split(/\r?\n/);
    const expected = [...files.keys()].filter((k) => k.startsWith(`${pbxA}/`)).map((k) => k.slice(pbxA.length + 1));
    assert.equal(lines.length, expected.length, listing.stdout.toString());
    for (const name of expected) {
      const line = lines.find((l) => l.endsWith(` ${name}`));
      assert.ok(line, `${name} listed`);
      assert.match(line, /^-r--r--r-- /, "read-only");
      assert.ok(line.includes(` ${files.get(`${pbxA}/${name}`)?.length} `), `${name} with its size: ${line}`);
    }
    assert.ok(!listing.stdout.toString().includes(inProgress), "a recording still in progress is not listed");
    const names = await curl(["--list-only", url("recordings", PASSWORD_B)]);
    assert.deepEqual(
      names.stdout.toString().trim().split(/\r?\n/),
      [...files.keys()].filter((k) => k.startsWith(`${pbxB}/`)).map((k) => k.slice(pbxB.length + 1)),
    );
  });

  it("downloads each file byte for byte (and from an offset, REST)", async () => {
    for (const [key, bytes] of files) {
      const [pbxId, name] = key.split("/") as [string, string];
      const password = pbxId === pbxA ? PASSWORD_A : PASSWORD_B;
      const got = await curl([url("recordings", password, `/${name}`)]);
      assert.equal(got.code, 0, got.stderr);
      assert.ok(got.stdout.equals(bytes), `${name}: ${got.stdout.length} of ${bytes.length} bytes, equal`);
    }
    const [key, bytes] = [...files].find(([k]) => k.startsWith(`${pbxA}/`)) as [string, Buffer];
    const tail = await curl(["-r", "1000-", url("recordings", PASSWORD_A, `/${key.split("/")[1]}`)]);
    assert.equal(tail.code, 0, tail.stderr);
    assert.ok(tail.stdout.equals(bytes.subarray(1000)));
  });

  it("refuses a wrong password, an unknown user, and another PBX's file", async () => {
    const wrong = await curl([url("recordings", "not-the-password")]);
    assert.equal(wrong.code, 67, `curl: login denied (${wrong.stderr})`);
    assert.equal((await curl([url("nobody", PASSWORD_A)])).code, 67);
    const other = [...files.keys()].find((k) => k.startsWith(`${pbxB}/`))?.split("/")[1];
    const crossed = await curl([url("recordings", PASSWORD_A, `/${other}`)]);
    assert.notEqual(crossed.code, 0, "B's file is not A's");
    assert.equal(crossed.stdout.length, 0);
  });

  it("username@<pbx id> names the PBX outright", async () => {
    const named = await curl(["--list-only", url(`recordings@${pbxB}`, PASSWORD_B)]);
    assert.equal(named.code, 0, named.stderr);
    assert.equal((await curl([url(`recordings@${pbxB}`, PASSWORD_A)])).code, 67);
  });

  it("refuses uploads, deletes, renames, folders and active mode", async () => {
    const local = join(dir, "upload.mp3");
    await writeFile(local, "not a recording");
    const put = await curl(["-T", local, url("recordings", PASSWORD_A, "/upload.mp3")]);
    assert.notEqual(put.code, 0, "STOR refused");
    const name = [...files.keys()].find((k) => k.startsWith(`${pbxA}/`))?.split("/")[1] ?? "";
    for (const command of [`DELE ${name}`, `RNFR ${name}`, "MKD x", "RMD x"]) {
      const quoted = await curl(["-Q", command, url("recordings", PASSWORD_A)]);
      assert.equal(quoted.code, 21, `${command} refused (curl: quote error), ${quoted.stderr}`);
    }
    const active = await curl(["-P", "127.0.0.1", url("recordings", PASSWORD_A)]);
    assert.notEqual(active.code, 0, "active mode (PORT/EPRT) refused");
    // Nothing changed.
    const listing = await curl(["--list-only", url("recordings", PASSWORD_A)]);
    assert.ok(listing.stdout.toString().includes(name));
    assert.ok(!listing.stdout.toString().includes("upload.mp3"));
  });
});

describe("RecordingFileSystem", () => {
  it("lists a recording left in progress once its node has stopped uploading it (a node that died mid-call)", async () => {
    const library = new RecordingLibrary(edge.url, devMediaNodeToken());
    const now = { at: Date.now() };
    const fs = new RecordingFileSystem({} as never, library, pbxA, () => now.at);
    const fresh = (await fs.list()).map((e) => e.name);
    assert.ok(!fresh.includes(`${inProgress}.mp3`));
    now.at += 3 * 60_000;
    const later = (await fs.list()).map((e) => e.name);
    assert.ok(later.includes(`${inProgress}.mp3`), "orphaned: listed with what was uploaded");
    await assert.rejects(fs.chdir("/sub"), /no folders/);
    assert.throws(() => fs.write(), /read-only/);
    await assert.rejects(fs.get("../etc/passwd"), /No such file/);
  });
});
