/**
 * test/run.ts's counting against real vitest runs of fixture files (test/runner/fixtures/): every
 * way a run can fail shows in `failed` and in the exit status, skipped tests are counted apart, and
 * steps add to `failed` only when they fail.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runVitest } from "../support/runner/run-vitest.ts";
import { summarize, summaryLine } from "../support/runner/summary.ts";

const root = path.resolve(import.meta.dirname, "../..");
const config = "test/runner/fixtures/vitest.config.ts";
// The fixture run is a vitest of its own, not a worker of this one.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST") && k !== "TEST" && k !== "NODE_ENV"));
const fixture = (name: string) => runVitest({ root, args: ["--config", config, `${name}.fixture.ts`], stdio: "pipe", env });
const LAST_LINE = /^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/;

describe("the runner's count of a vitest run", () => {
  it("a clean run: passed, skipped apart (skip and todo), 0 failed, exit 0", () => {
    const run = fixture("passing");
    const s = summarize([], run.status, run.tally);
    expect(run.status, run.output).toBe(0);
    expect(summaryLine(s)).toBe("2 passed, 0 failed, 2 skipped");
    expect(s.exitCode).toBe(0);
  });

  it("a failed test is failed", () => {
    const run = fixture("failing");
    const s = summarize([], run.status, run.tally);
    expect(summaryLine(s)).toBe("1 passed, 1 failed");
    expect(s.exitCode).toBe(1);
  });

  it("an unhandled rejection in a passing test is a failure (vitest's JSON report counts it nowhere)", () => {
    const run = fixture("unhandled-rejection");
    const s = summarize([], run.status, run.tally);
    expect(run.status, run.output).not.toBe(0);
    expect(run.tally?.unhandledErrors, run.output).toEqual(["Error: a rejection nobody handles"]);
    expect(summaryLine(s)).toBe("1 passed, 1 failed");
    expect(s.notes.join("\n")).toContain("unhandled error: Error: a rejection nobody handles");
    expect(s.exitCode).toBe(1);
  });

  it("a file that fails to load counts as one failure", () => {
    const run = fixture("fails-to-load");
    const s = summarize([], run.status, run.tally);
    expect(run.tally?.brokenFiles.map((f) => f.file), run.output).toEqual(["fails-to-load.fixture.ts"]);
    expect(summaryLine(s)).toBe("0 passed, 1 failed");
    expect(s.notes.join("\n")).toContain("this module cannot load");
    expect(s.exitCode).toBe(1);
  });

  it("a hook that throws outside any test fails its file", () => {
    const run = fixture("after-all-throws");
    const s = summarize([], run.status, run.tally);
    expect(summaryLine(s)).toBe("1 passed, 1 failed");
    expect(s.exitCode).toBe(1);
  });

  it("vitest failing with nothing counted (no file matched) is still a failure", () => {
    const run = fixture("no-such-file");
    const s = summarize([], run.status, run.tally);
    expect(run.status).not.toBe(0);
    expect(summaryLine(s)).toMatch(/^0 passed, 1 failed$/);
    expect(s.exitCode).toBe(1);
  });
});

describe("steps and the summary", () => {
  const clean = { passed: 5, failedTests: 0, skipped: 0, brokenFiles: [], unhandledErrors: [], reason: "passed" as const };

  it("passed steps add nothing to passed", () => {
    const s = summarize([{ label: "typecheck", ok: true, seconds: 1 }, { label: "lint", ok: true, seconds: 1 }], 0, clean);
    expect(summaryLine(s)).toBe("5 passed, 0 failed");
    expect(s.exitCode).toBe(0);
  });

  it("a failed step is counted, named and fails the run even when every test passed", () => {
    const s = summarize([{ label: "typecheck", ok: true, seconds: 1 }, { label: "lint", ok: false, seconds: 1 }], 0, clean);
    expect(summaryLine(s)).toBe("5 passed, 1 failed");
    expect(s.notes).toEqual(["step lint failed (counted as 1 failed)"]);
    expect(s.exitCode).toBe(1);
  });

  it("a failed step does not hide a vitest that failed uncounted", () => {
    const s = summarize([{ label: "lint", ok: false, seconds: 1 }], 1, clean);
    expect(summaryLine(s)).toBe("5 passed, 2 failed");
  });

  it("no tally from vitest (killed, crashed) is a failure", () => {
    const s = summarize([], null, null);
    expect(summaryLine(s)).toBe("0 passed, 1 failed");
    expect(s.exitCode).toBe(1);
  });

  it("an interrupted run is a failure", () => {
    const s = summarize([], 1, { ...clean, reason: "interrupted" });
    expect(summaryLine(s)).toBe("5 passed, 1 failed");
  });
});

describe("npm test -- <file>", () => {
  it("runs that one file, no steps, and ends with the same summary line and a failing exit status", () => {
    const r = spawnSync(path.join(root, "node_modules", ".bin", "tsx"), ["test/run.ts", "--config", config, "unhandled-rejection.fixture.ts"], { cwd: root, env, encoding: "utf8" });
    const lines = `${r.stdout}`.trimEnd().split("\n");
    expect(lines.at(-1), `${r.stdout}${r.stderr}`).toBe("1 passed, 1 failed");
    expect(lines.at(-1)).toMatch(LAST_LINE);
    expect(r.stdout).toContain("steps typecheck and lint: not run");
    expect(r.stdout).not.toContain("=== step typecheck:");
    expect(r.status).toBe(1);
  });
});
