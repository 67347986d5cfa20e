import { describe, expect, it } from "vitest";
import { MAX_QUICK_FAILURES, QUICK_FAILURE_MS, RESTART_BACKOFF_BASE_MS, RESTART_BACKOFF_MAX_MS, RESTART_STABLE_RUN_MS, RestartPolicy, stderrSummary } from "./restart-policy.ts";

describe("RestartPolicy", () => {
  it("the defaults: 0.5, 1, 2, 4 s between quick failures, and the fifth fails the stream", () => {
    expect([RESTART_BACKOFF_BASE_MS, RESTART_BACKOFF_MAX_MS, RESTART_STABLE_RUN_MS, QUICK_FAILURE_MS, MAX_QUICK_FAILURES]).toEqual([500, 30_000, 60_000, 10_000, 5]);
    const policy = new RestartPolicy();
    const decisions = Array.from({ length: 5 }, () => policy.onExit(100));
    expect(decisions.map((d) => (d.action === "restart" ? d.delayMs : d.action))).toEqual([500, 1000, 2000, 4000, "fail"]);
    expect(decisions.at(-1)).toEqual({ action: "fail", exitsInARow: 5, quickFailures: 5 });
  });

  it("exits after runs that did some work back off up to the cap, and never fail the stream", () => {
    const policy = new RestartPolicy();
    const delays = Array.from({ length: 9 }, () => policy.onExit(QUICK_FAILURE_MS + 1)).map((d) => (d.action === "restart" ? d.delayMs : d.action));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it("a run between two quick failures that was not quick starts the quick count over", () => {
    const policy = new RestartPolicy();
    for (let i = 0; i < MAX_QUICK_FAILURES - 1; i++) expect(policy.onExit(10).action).toBe("restart");
    expect(policy.onExit(QUICK_FAILURE_MS)).toMatchObject({ action: "restart", quickFailures: 0 });
    for (let i = 0; i < MAX_QUICK_FAILURES - 1; i++) expect(policy.onExit(10).action).toBe("restart");
    expect(policy.onExit(10).action).toBe("fail");
  });

  it("a stable run starts the backoff over", () => {
    const policy = new RestartPolicy();
    for (let i = 0; i < 4; i++) policy.onExit(20_000);
    expect(policy.onExit(RESTART_STABLE_RUN_MS)).toMatchObject({ action: "restart", delayMs: 500, exitsInARow: 1 });
  });

  it("takes other numbers (tests, operators)", () => {
    const policy = new RestartPolicy({ baseMs: 10, maxMs: 25, maxQuickFailures: 3 });
    expect([policy.onExit(1), policy.onExit(1), policy.onExit(1)].map((d) => (d.action === "restart" ? d.delayMs : d.action))).toEqual([10, 20, "fail"]);
  });
});

describe("stderrSummary", () => {
  it("keeps ffmpeg's last lines, without the per-run context addresses", () => {
    const tail = [
      "[Parsed_scale_2 @ 0x255c6840] Option 'force_divisible_by' not found",
      "[AVFilterGraph @ 0x255b19c0] Error initializing filter 'scale' with args '1280:720:force_divisible_by=2'",
      "Error initializing complex filters.",
      "Option not found",
      "",
    ].join("\n");
    expect(stderrSummary(tail)).toBe(
      "[Parsed_scale_2] Option 'force_divisible_by' not found / [AVFilterGraph] Error initializing filter 'scale' with args '1280:720:force_divisible_by=2' / Error initializing complex filters. / Option not found",
    );
    expect(stderrSummary("x".repeat(1000), 4, 50)).toHaveLength(50);
    expect(stderrSummary("")).toBe("");
  });
});
