import { execFile } from "node:child_process";
import { resolve } from "node:path";

export const SIPP_SCENARIOS = resolve(import.meta.dirname, "../../test/sipp");

/** Runs Debian's sipp (sip-tester) to completion; resolves with its exit code (0: every call succeeded). */
export function runSipp(args: string[], timeoutMs = 15_000): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      "sipp",
      ["-nostdin", "-timeout", String(Math.ceil(timeoutMs / 1000)), ...args],
      { cwd: SIPP_SCENARIOS, timeout: timeoutMs + 5000 },
      (error, stdout, stderr) => {
        const code =
          error && typeof (error as { code?: unknown }).code === "number"
            ? Number((error as { code: number }).code)
            : error
              ? -1
              : 0;
        resolvePromise({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}
