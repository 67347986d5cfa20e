/**
 * One vitest run with the tally reporter next to the default one: its output goes to this
 * terminal, its count comes back with vitest's exit status.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { TALLY_FILE_ENV, type Tally } from "./tally-reporter.ts";

export interface VitestRun {
  /** vitest's exit status (null: killed by a signal). */
  status: number | null;
  tally: Tally | null;
}

export const runVitest = (opts: { root: string; args: string[]; stdio?: "inherit" | "pipe"; env?: NodeJS.ProcessEnv }): VitestRun & { output: string } => {
  const dir = mkdtempSync(path.join(tmpdir(), "cascade-vitest-"));
  const tallyFile = path.join(dir, "tally.json");
  const reporter = path.join(import.meta.dirname, "tally-reporter.ts");
  try {
    const r = spawnSync(path.join(opts.root, "node_modules", ".bin", "vitest"), ["run", "--reporter=default", `--reporter=${reporter}`, ...opts.args], {
      cwd: opts.root,
      stdio: opts.stdio ?? "inherit",
      env: { ...(opts.env ?? process.env), [TALLY_FILE_ENV]: tallyFile },
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    let tally: Tally | null = null;
    try {
      tally = JSON.parse(readFileSync(tallyFile, "utf8")) as Tally;
    } catch {
      tally = null;
    }
    return { status: r.status, tally, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
