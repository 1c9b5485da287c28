// Runs the Node-side tests (node:test, TypeScript through tsx) found under the given folders.
// Node 20's --test takes no globs, so the files are listed here.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const folders = process.argv.slice(2);

function testsUnder(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...testsUnder(path));
    else if (name.endsWith(".test.ts")) found.push(path);
  }
  return found;
}

const files = folders.flatMap((folder) => testsUnder(resolve(root, folder))).map((f) => f.slice(root.length + 1));
if (files.length === 0) {
  console.error(`no *.test.ts under ${folders.join(", ")}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...files], {
  cwd: root,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
