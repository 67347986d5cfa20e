/**
 * A vitest reporter that writes what the run really was to the file named by CASCADE_TALLY_FILE:
 * tests passed, failed and skipped, plus what vitest's JSON report leaves out (unhandled errors and
 * rejections, files that failed to load, hook failures outside any test, an interrupted run).
 * test/run.ts reads it; nothing else should.
 */
import { writeFileSync } from "node:fs";
import type { Reporter, TestModule, TestRunEndReason } from "vitest/node";

/** What one vitest run did, as test/run.ts counts it. */
export interface Tally {
  passed: number;
  /** Tests whose result is `failed`. */
  failedTests: number;
  skipped: number;
  /** Files that failed outside their tests (did not load, a beforeAll/afterAll threw) with no failed test of their own. */
  brokenFiles: Array<{ file: string; error: string }>;
  /** Errors and rejections vitest caught outside any test (vitest fails the run for each). */
  unhandledErrors: string[];
  reason: TestRunEndReason;
}

export const TALLY_FILE_ENV = "CASCADE_TALLY_FILE";

type SerializedError = { name?: string; message?: string; stack?: string };
const describeError = (e: SerializedError): string => `${e.name ?? "Error"}: ${e.message ?? String(e)}`.split("\n")[0]!;

/** Counts a finished run; exported so the counting rule lives in one place. */
export const tallyRun = (modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>, reason: TestRunEndReason): Tally => {
  const tally: Tally = { passed: 0, failedTests: 0, skipped: 0, brokenFiles: [], unhandledErrors: unhandled.map(describeError), reason };
  for (const m of modules) {
    let failedHere = 0;
    for (const t of m.children.allTests()) {
      const state = t.result().state;
      if (state === "passed") tally.passed++;
      else if (state === "failed") failedHere++;
      else if (state === "skipped") tally.skipped++;
    }
    tally.failedTests += failedHere;
    // A file can fail with no failed test: an import that throws, a syntax error, a hook outside any
    // test. Its errors sit on the module or a suite; it counts once.
    if (!m.ok() && failedHere === 0) {
      const errors = [...m.errors(), ...[...m.children.allSuites()].flatMap((s) => s.errors())];
      tally.brokenFiles.push({ file: m.relativeModuleId, error: errors[0] ? describeError(errors[0]) : `state ${m.state()}` });
    }
  }
  return tally;
};

export default class TallyReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    const file = process.env[TALLY_FILE_ENV];
    if (file) writeFileSync(file, JSON.stringify(tallyRun(modules, unhandled, reason)));
  }
}
