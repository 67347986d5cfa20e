/**
 * `npm test`: the typecheck and lint steps, then the vitest projects unit, edge and integration.
 * `npm run faults` (`--faults`): only the fault-injection project (test/faults/), no steps.
 * `npm test -- <file>…`: only those files (whatever project holds them), no steps.
 * Other arguments go to vitest as they are.
 *
 * The last line is always `N passed, N failed` (`, N skipped` when some were); .ci/run greps it.
 * Steps are not tests: a passed step adds nothing, a failed one counts as 1 failed and is named.
 * Unhandled errors, files that fail to load and a vitest that fails for any other reason count as
 * failed too (test/support/runner/), and the exit status is non-zero whenever something failed or
 * vitest's was.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { runVitest } from "./support/runner/run-vitest.ts";
import { summarize, summaryLine, type StepResult } from "./support/runner/summary.ts";

const root = path.resolve(import.meta.dirname, "..");
const bin = (name: string) => path.join(root, "node_modules", ".bin", name);
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

const step = (label: string, cmd: string, args: string[]): StepResult => {
  console.log(`\n=== step ${label}: ${[path.basename(cmd), ...args].join(" ")}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env });
  const result = { label, ok: r.status === 0, seconds: (Date.now() - t0) / 1000 };
  console.log(`=== step ${label}: ${result.ok ? "passed" : `FAILED (exit status ${r.status ?? r.signal})`} in ${result.seconds.toFixed(0)} s`);
  return result;
};

const faults = process.argv.includes("--faults");
const extra = process.argv.slice(2).filter((a) => a !== "--faults");
// A bare argument is a file filter unless it is the value of a flag that takes one.
const valueFlags = new Set(["-t", "--testNamePattern", "--project", "--config", "-c", "--root", "-r"]);
const files = extra.filter((a, i) => !a.startsWith("-") && !valueFlags.has(extra[i - 1] ?? ""));
// Named files run in whichever project holds them; otherwise the suite's projects.
const projects = files.length ? [] : faults ? ["faults"] : ["unit", "edge", "integration"];

const steps: StepResult[] = [];
if (faults || files.length) console.log(`\n=== steps typecheck and lint: not run (${faults ? "--faults" : "file arguments given"}; a plain \`npm test\` runs them)`);
else {
  steps.push(step("typecheck", bin("tsc"), ["--noEmit"]));
  steps.push(step("typecheck edge (workerd)", bin("tsc"), ["--noEmit", "-p", "edge"]));
  steps.push(step("typecheck client (browser)", bin("tsc"), ["--noEmit", "-p", "edge/pages/client"]));
  steps.push(step("lint", bin("eslint"), ["."]));
}

console.log(`\n=== vitest${projects.length ? ` (projects ${projects.join(", ")})` : ""}${extra.length ? `: ${extra.join(" ")}` : ""}`);
const run = runVitest({ root, args: [...projects.flatMap((p) => ["--project", p]), ...extra], env });
const summary = summarize(steps, run.status, run.tally);

console.log("");
for (const s of steps) console.log(`step ${s.label}: ${s.ok ? "passed" : "FAILED"}`);
console.log(`vitest: exit status ${run.status ?? "none (killed)"}`);
for (const note of summary.notes) console.log(note);
console.log(summaryLine(summary));
process.exit(summary.exitCode);
