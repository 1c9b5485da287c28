import { type ChildProcess, execFile, spawn } from "node:child_process";
import { resolve } from "node:path";
import { freePort } from "../../scripts/lib/net.ts";
import { UdpPhone } from "./UdpPhone.ts";

export const SIPP_SCENARIOS = resolve(import.meta.dirname, "../../test/sipp");

/**
 * Runs Debian's sipp (sip-tester) to completion; resolves with its exit code (0: every call succeeded).
 * It runs in test/sipp unless `cwd` says otherwise (where a scenario finds the files it names
 * relatively, such as a pcap a test wrote; -sf then needs the scenario's full path). `signal`
 * kills it (SIGKILL: at once, mid-call, with no BYE), for a test's cleanup after a failure.
 */
export function runSipp(
  args: string[],
  timeoutMs = 15_000,
  options: { cwd?: string; signal?: AbortSignal } = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      "sipp",
      ["-nostdin", "-timeout", String(Math.ceil(timeoutMs / 1000)), ...args],
      { cwd: options.cwd ?? SIPP_SCENARIOS, timeout: timeoutMs + 5000 },
      (error, stdout, stderr) => {
        const code =
          error && typeof (error as { code?: unknown }).code === "number"
            ? Number((error as { code: number }).code)
            : error
              ? -1
              : 0;
        options.signal?.removeEventListener("abort", kill);
        resolvePromise({ code, output: `${stdout}${stderr}` });
      },
    );
    const kill = () => child.kill("SIGKILL");
    options.signal?.addEventListener("abort", kill, { once: true });
  });
}

/**
 * A sipp desk phone that answers one call, echoing the RTP it gets, registered for `extension`
 * (digest) by a scripted phone that names sipp's port as Contact. Once sipp exits, the binding is
 * removed, so later calls ring only the phones they register. `exited` resolves with sipp's code;
 * `mediaPort` is where its SDP asks for RTP (and whence it echoes it).
 */
export async function startSippCallee(options: {
  server: { host: string; port: number };
  domain: string;
  extension: string;
  password: string;
  timeoutSeconds?: number;
}): Promise<{ exited: Promise<number | null>; process: ChildProcess; mediaPort: number }> {
  const { server, domain, extension, password } = options;
  const port = await freePort();
  const mediaPort = await freePort();
  const args = ["-sf", "callee.xml", "-m", "1", "-i", "127.0.0.1", "-p", String(port)];
  const child = spawn(
    "sipp",
    [...args, "-mp", String(mediaPort), "-rtp_echo", "-nostdin", "-timeout", String(options.timeoutSeconds ?? 30)],
    { cwd: SIPP_SCENARIOS, stdio: "ignore" },
  );
  const exited = new Promise<number | null>((done) => child.on("exit", done));
  const registrar = await UdpPhone.open(server);
  const contact = `<sip:${extension}@127.0.0.1:${port}>`;
  const ok = await registrar.registerWithAuth(
    registrar.register(extension, domain, { Contact: contact }),
    extension,
    password,
  );
  if (ok.status !== 200) {
    child.kill();
    registrar.close();
    throw new Error(`registering the sipp callee ${extension} answered ${ok.status}`);
  }
  const done = exited.then(async (code) => {
    const request = registrar.register(extension, domain, { Contact: contact, Expires: "0" });
    await registrar.registerWithAuth(request, extension, password);
    registrar.close();
    return code;
  });
  return { exited: done, process: child, mediaPort };
}
