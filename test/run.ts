/**
 * `npm test`: typecheck, lint, then the vitest projects unit, edge and integration; ends with one
 * plain line `N passed, N failed, N skipped` (the typecheck and the lint count as one check each).
 * `npm run faults` (`--faults`): only the fault-injection project (test/faults/), same last line.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const bin = (name: string) => path.join(root, "node_modules", ".bin", name);
let passed = 0;
let failed = 0;
let skipped = 0;

const step = (label: string, cmd: string, args: string[]): boolean => {
  console.log(`\n=== ${label}: ${[path.basename(cmd), ...args].join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  return r.status === 0;
};

const faults = process.argv.includes("--faults");
const extra = process.argv.slice(2).filter((a) => a !== "--faults");
const projects = faults ? ["faults"] : ["unit", "edge", "integration"];

for (const [label, cmd, args] of faults ? [] : [
  ["typecheck", bin("tsc"), ["--noEmit"]],
  ["typecheck edge (workerd)", bin("tsc"), ["--noEmit", "-p", "edge"]],
  ["lint", bin("eslint"), ["."]],
] as const) {
  if (step(label, cmd, [...args])) passed++;
  else failed++;
}

const report = path.join(mkdtempSync(path.join(tmpdir(), "cascade-vitest-")), "report.json");
step("vitest", bin("vitest"), ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...projects.flatMap((p) => ["--project", p]), ...extra]);
try {
  const r = JSON.parse(readFileSync(report, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    numFailedTestSuites: number;
  };
  passed += r.numPassedTests;
  // A file that fails to load has no failed test but a failed suite: count it.
  failed += r.numFailedTests + (r.numFailedTests === 0 ? r.numFailedTestSuites : 0);
  skipped += r.numPendingTests + r.numTodoTests;
} catch {
  console.error("vitest wrote no report");
  failed++;
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
