/**
 * The acceptance walk of the one-command start, as a person would do it: `node scripts/start.mjs`
 * in its own process group, then the real curl CLI with a cookie jar and the CSRF header:
 * register → log in → PBX → extension → View Changes → apply → history → applied config,
 * then SIGTERM, start again on the same data folder, and everything is still there.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { freePort } from "../scripts/lib/net.ts";

const root = resolve(import.meta.dirname, "..");
const run = promisify(execFile);

interface Stack {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const stacks: Stack[] = [];
let dataDir = "";
let port = 0;
let base = "";

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** `npm start`, in its own process group so that it and workerd can be killed together. */
function startStack(): Stack {
  const child = spawn(process.execPath, ["scripts/start.mjs"], {
    cwd: root,
    // SIP ports 0: the media node takes free ones, so a running PBX on 5060 does not get in the way.
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      EDGE_PORT: String(port),
      SIP_PORT: "0",
      SIP_WS_PORT: "0",
      EDGEPBX_SKIP_INSTALL: "1",
    },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((ok) => child.once("exit", (code) => ok(code)));
  const stack = { child, output: () => output, exited };
  stacks.push(stack);
  return stack;
}

/** Health answers, then start.mjs has seeded the demo and printed its summary. */
async function ready(stack: Stack): Promise<void> {
  let early: number | null | undefined;
  void stack.exited.then((code) => {
    early = code;
  });
  await waitFor("/api/health", 30_000, async () => {
    if (early !== undefined) throw new Error(`start.mjs exited (${early}):\n${stack.output()}`);
    const res = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(1_000) }).catch(() => null);
    return res?.ok && ((await res.json()) as { ok?: boolean }).ok === true ? true : undefined;
  });
  await waitFor("the start summary", 15_000, () => (stack.output().includes("EdgePBX is running") ? true : undefined));
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to start.mjs alone: it must dispose the edge (workerd too) and exit 0. */
async function stopStack(stack: Stack): Promise<void> {
  const pid = stack.child.pid as number;
  process.kill(pid, "SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((r) => {
    timer = setTimeout(r, 15_000, "timeout");
  });
  const code = await Promise.race([stack.exited, timeout]).finally(() => clearTimeout(timer));
  assert.equal(code, 0, `start.mjs exit code after SIGTERM:\n${stack.output()}`);
  assert.match(stack.output(), /EdgePBX stopped\./);
  await waitFor("the process group to end", 5_000, () => (groupAlive(pid) ? undefined : true));
}

interface CurlReply {
  status: number;
  headers: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field below.
  body: any;
}

/** One request with the curl CLI: a cookie jar file, JSON in and out, the CSRF header on writes. */
async function curl(jar: string, method: string, path: string, body?: unknown, csrf?: string): Promise<CurlReply> {
  const headerFile = `${jar}.headers`;
  const args = ["-sS", "--max-time", "10", "-b", jar, "-c", jar, "-D", headerFile, "-X", method];
  args.push("-w", "\n%{http_code}");
  if (body !== undefined) args.push("-H", "content-type: application/json", "--data-binary", JSON.stringify(body));
  if (csrf) args.push("-H", `x-csrf-token: ${csrf}`);
  args.push(`${base}${path}`);
  const { stdout } = await run("curl", args, { timeout: 15_000 });
  const cut = stdout.lastIndexOf("\n");
  const text = stdout.slice(0, cut);
  return {
    status: Number(stdout.slice(cut + 1)),
    headers: await readFile(headerFile, "utf8"),
    body: text ? JSON.parse(text) : null,
  };
}

/** What the seed printed for each demo extension: number → SIP password. */
function seededPasswords(output: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of output.matchAll(/^\s+(\d{3})\s+\w+\s+username (\S+)\s+password (\S+)\s+domain (\S+)$/gm))
    found.set(m[1] as string, m[3] as string);
  return found;
}

const walk = {
  email: "walker@example.test",
  password: "walk-the-walk-2026",
  pbxId: "",
  firstSeed: new Map<string, string>(),
};

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "edgepbx-walk-"));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  for (const { child } of stacks) {
    if (child.pid && groupAlive(child.pid)) process.kill(-child.pid, "SIGKILL");
  }
  await rm(dataDir, { recursive: true, force: true });
});

test("npm start serves the edge API and prints the demo credentials", { timeout: 60_000 }, async () => {
  const stack = startStack();
  await ready(stack);
  const out = stack.output();
  assert.match(out, /admin@demo\.edgepbx\.local\s+password demo-admin-2026/);
  assert.match(out, /Demo account \(created/);
  const passwords = seededPasswords(out);
  assert.deepEqual([...passwords.keys()], ["100", "101", "102"], out);
  const saved = JSON.parse(await readFile(join(dataDir, "demo-credentials.json"), "utf8"));
  assert.equal((await stat(join(dataDir, "demo-credentials.json"))).mode & 0o777, 0o600);
  assert.deepEqual(
    saved.extensions.map((e: { number: string; sipPassword: string }) => [e.number, e.sipPassword]),
    [...passwords],
  );
  walk.firstSeed = passwords;
});

test("curl walk: register, log in, PBX, extension, changes, apply, history, applied config", async () => {
  const jar = join(dataDir, "register.jar");
  const reg = await curl(jar, "POST", "/api/auth/register", {
    email: walk.email,
    password: walk.password,
    name: "Walker",
    company: "Walk Ltd",
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  assert.match(reg.headers, /set-cookie: edgepbx_session=[^;]+;.*HttpOnly/i);
  assert.match(reg.headers, /SameSite=Strict/i);

  const cookies = join(dataDir, "walk.jar");
  const login = await curl(cookies, "POST", "/api/auth/login", { email: walk.email, password: walk.password });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const csrf: string = login.body.csrfToken;
  assert.ok(csrf);

  const refused = await curl(cookies, "POST", "/api/pbxs", { name: "No CSRF" });
  assert.equal(refused.status, 403, "a cookie write without x-csrf-token is refused");

  const created = await curl(cookies, "POST", "/api/pbxs", { name: "Walk Office" }, csrf);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  walk.pbxId = created.body.pbx.id;
  const pbx = `/api/pbxs/${walk.pbxId}`;

  const ext = await curl(cookies, "POST", `${pbx}/extensions`, { number: "200", name: "Wanda Walker" }, csrf);
  assert.equal(ext.status, 201, JSON.stringify(ext.body));
  assert.equal(ext.body.sip.ha1Md5, "[secret]");
  assert.ok(ext.body.generatedSecrets.sipPassword.length >= 10);

  const changes = await curl(cookies, "GET", `${pbx}/changes`);
  assert.equal(changes.status, 200);
  assert.equal(changes.body.pending, true);
  assert.ok(
    changes.body.diff.lines.some((l: { kind: string; text: string }) => l.kind === "added" && l.text.includes("Wanda")),
    "the diff has an added line with the extension's name",
  );

  const applied = await curl(cookies, "POST", `${pbx}/apply`, undefined, csrf);
  assert.equal(applied.status, 201, JSON.stringify(applied.body));
  assert.equal(applied.body.version, 2);

  const history = await curl(cookies, "GET", `${pbx}/history`);
  const v2 = history.body.versions.find((v: { version: number }) => v.version === 2);
  assert.ok(v2, JSON.stringify(history.body));
  assert.ok(JSON.stringify(v2.summary).includes("200 Wanda Walker"));

  const config = await curl(cookies, "GET", `${pbx}/config?version=applied`);
  assert.equal(config.body.version, 2);
  assert.ok(config.body.config.extensions.some((e: { number: string }) => e.number === "200"));
});

test("SIGTERM stops cleanly; a restart on the same data keeps login, PBX, extension and version 2", async () => {
  const first = stacks[0];
  assert.ok(first);
  await stopStack(first);

  const second = startStack();
  await ready(second);
  assert.match(second.output(), /Demo account \(reused/);
  assert.deepEqual(seededPasswords(second.output()), walk.firstSeed, "the saved demo credentials are reused");

  const cookies = join(dataDir, "again.jar");
  const login = await curl(cookies, "POST", "/api/auth/login", { email: walk.email, password: walk.password });
  assert.equal(login.status, 200, JSON.stringify(login.body));

  const list = await curl(cookies, "GET", "/api/pbxs");
  assert.ok(list.body.pbxs.some((p: { id: string; name: string }) => p.id === walk.pbxId && p.name === "Walk Office"));
  const pbx = `/api/pbxs/${walk.pbxId}`;
  const extensions = await curl(cookies, "GET", `${pbx}/extensions`);
  assert.ok(extensions.body.items.some((e: { name: string }) => e.name === "Wanda Walker"));
  const history = await curl(cookies, "GET", `${pbx}/history`);
  assert.equal(history.body.versions[0].version, 2);
  const config = await curl(cookies, "GET", `${pbx}/config?version=applied`);
  assert.equal(config.body.version, 2);
  assert.ok(config.body.config.extensions.some((e: { number: string }) => e.number === "200"));
  const pending = await curl(cookies, "GET", `${pbx}/changes`);
  assert.equal(pending.body.pending, false);

  await stopStack(second);
});
