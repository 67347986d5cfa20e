/**
 * The count test/run.ts prints last: `N passed, N failed` (`, N skipped` when some were). Every way
 * a run can go wrong adds to `failed`, so the line cannot say "0 failed" about a failed run; the
 * lines before it say what each extra failure was.
 */
import type { Tally } from "./tally-reporter.ts";

/** A whole-tree check run before the tests (typecheck, lint): not a test, so a pass adds nothing. */
export interface StepResult {
  label: string;
  ok: boolean;
  seconds: number;
}

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  /** Why `failed` is more than the failed tests, one line each. */
  notes: string[];
  exitCode: 0 | 1;
}

/** `tally` is null when vitest wrote none (it crashed, or never got to the end). */
export const summarize = (steps: StepResult[], vitestStatus: number | null, tally: Tally | null): Summary => {
  const notes: string[] = [];
  let failed = 0;
  for (const s of steps.filter((x) => !x.ok)) {
    failed++;
    notes.push(`step ${s.label} failed (counted as 1 failed)`);
  }
  if (!tally) {
    failed++;
    notes.push(`vitest wrote no tally (exit status ${vitestStatus ?? "none: killed"}; counted as 1 failed)`);
    return { passed: 0, failed, skipped: 0, notes, exitCode: 1 };
  }
  let fromVitest = tally.failedTests;
  for (const f of tally.brokenFiles) notes.push(`file failed outside its tests: ${f.file}: ${f.error} (counted as 1 failed)`);
  for (const e of tally.unhandledErrors) notes.push(`unhandled error: ${e} (counted as 1 failed)`);
  fromVitest += tally.brokenFiles.length + tally.unhandledErrors.length;
  if (tally.reason === "interrupted") {
    fromVitest++;
    notes.push("the run was interrupted (counted as 1 failed)");
  }
  // Whatever else made vitest fail (no test files matched, a config error, a reporter error).
  if (vitestStatus !== 0 && fromVitest === 0) {
    fromVitest++;
    notes.push(`vitest exited with status ${vitestStatus ?? "none: killed"} with no failure counted above (counted as 1 failed)`);
  }
  failed += fromVitest;
  return { passed: tally.passed, failed, skipped: tally.skipped, notes, exitCode: failed > 0 || vitestStatus !== 0 ? 1 : 0 };
};

/** The last line, which .ci/run greps as `^[0-9]+ passed, [0-9]+ failed`. */
export const summaryLine = (s: Summary): string => `${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ""}`;
