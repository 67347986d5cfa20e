import { describe, expect, it } from "vitest";
import type { JournalEntry } from "./journal.ts";
import { ArchiveUploader, isPermanent, type SendResult, type UploadOutcome } from "./uploader.ts";

let seq = 0;
const entry = (kind: JournalEntry["kind"], file: string, rendition: string | null = "720p", recordingId = "rec000000001"): JournalEntry => ({
  seq: ++seq,
  kind,
  recordingId,
  streamId: "demo",
  rendition,
  file,
  contentType: "application/octet-stream",
  headers: {},
  dueAtMs: Date.now(),
  size: 1,
});

/** An edge stand-in whose answers the test releases one by one. */
const controlledEdge = () => {
  const calls: Array<{ entry: JournalEntry; answer: (r: SendResult | Error) => void }> = [];
  const send = (e: JournalEntry) =>
    new Promise<SendResult>((resolve, reject) => calls.push({ entry: e, answer: (r) => (r instanceof Error ? reject(r) : resolve(r)) }));
  return { calls, send };
};
const tick = () => new Promise((r) => setTimeout(r, 5));

describe("archive uploader", () => {
  it("keeps at most `concurrency` uploads in flight", async () => {
    const edge = controlledEdge();
    const settled: string[] = [];
    const u = new ArchiveUploader({ concurrency: 2, send: edge.send, settled: async (e) => void settled.push(e.file), failed: () => {} });
    for (let i = 0; i < 5; i++) u.add(entry("segment", `seg-${i}.m4s`));
    await tick();
    expect(edge.calls.map((c) => c.entry.file)).toEqual(["seg-0.m4s", "seg-1.m4s"]);
    edge.calls[1]!.answer({ status: 201, detail: "" });
    await tick();
    expect(edge.calls.map((c) => c.entry.file)).toEqual(["seg-0.m4s", "seg-1.m4s", "seg-2.m4s"]);
    for (const c of edge.calls) c.answer({ status: 200, detail: "" });
    await tick();
    for (const c of edge.calls.slice(3)) c.answer({ status: 200, detail: "" });
    await u.idle();
    expect(settled.sort()).toEqual(["seg-0.m4s", "seg-1.m4s", "seg-2.m4s", "seg-3.m4s", "seg-4.m4s"]);
    expect(u.pending()).toBe(0);
  });

  it("an init holds back its rendition's later uploads, a manifest everything of its recording; others overtake", async () => {
    const edge = controlledEdge();
    const u = new ArchiveUploader({ concurrency: 4, send: edge.send, settled: async () => {}, failed: () => {} });
    u.add(entry("manifest", "manifest.json", null));
    u.add(entry("init", "init-0.mp4", "720p"));
    u.add(entry("segment", "seg-0.m4s", "720p"));
    u.add(entry("init", "init-0.mp4", "audio"));
    u.add(entry("segment", "seg-0.m4s", "audio"));
    u.add(entry("segment", "seg-9.m4s", "720p", "rec000000002"));
    await tick();
    // The manifest first, and the other recording's upload beside it.
    expect(edge.calls.map((c) => `${c.entry.recordingId}/${c.entry.rendition}/${c.entry.file}`)).toEqual(["rec000000001/null/manifest.json", "rec000000002/720p/seg-9.m4s"]);
    edge.calls[0]!.answer({ status: 201, detail: "" });
    await tick();
    // Both inits, no segment of theirs yet.
    expect(edge.calls.slice(2).map((c) => `${c.entry.rendition}/${c.entry.file}`)).toEqual(["720p/init-0.mp4", "audio/init-0.mp4"]);
    edge.calls[3]!.answer({ status: 201, detail: "" }); // audio init
    await tick();
    expect(edge.calls.slice(4).map((c) => `${c.entry.rendition}/${c.entry.file}`)).toEqual(["audio/seg-0.m4s"]);
    edge.calls[2]!.answer({ status: 201, detail: "" }); // 720p init
    await tick();
    expect(edge.calls.slice(5).map((c) => `${c.entry.rendition}/${c.entry.file}`)).toEqual(["720p/seg-0.m4s"]);
    for (const c of edge.calls) c.answer({ status: 201, detail: "" });
    await u.idle();
  });

  it("retries failures (network errors, 5xx, 401, 429) with growing backoff, and drops permanent refusals", async () => {
    const answers: Array<SendResult | Error> = [new Error("ECONNREFUSED"), { status: 503, detail: "down" }, { status: 401, detail: "bad token" }, { status: 429, detail: "slow down" }, { status: 201, detail: "" }];
    const attempts: number[] = [];
    const failures: Array<{ attempt: number; problem: string; retryInMs: number }> = [];
    const outcomes: UploadOutcome[] = [];
    const u = new ArchiveUploader({
      send: async (e) => {
        attempts.push(Date.now());
        const a = e.file === "seg-0.m4s" ? answers.shift()! : { status: 409, detail: "different bytes" };
        if (a instanceof Error) throw a;
        return a;
      },
      settled: async (_e, o) => void outcomes.push(o),
      failed: (_e, attempt, problem, retryInMs) => failures.push({ attempt, problem, retryInMs }),
      backoff: { baseMs: 10, maxMs: 40 },
    });
    u.add(entry("segment", "seg-0.m4s"));
    u.add(entry("segment", "seg-1.m4s"));
    await u.idle();
    expect(failures.map((f) => [f.attempt, f.problem])).toEqual([
      [1, "Error: ECONNREFUSED"],
      [2, "HTTP 503: down"],
      [3, "HTTP 401: bad token"],
      [4, "HTTP 429: slow down"],
    ]);
    // 10, 20, 40, 40 ms ± 20 %.
    for (const [i, want] of [10, 20, 40, 40].entries()) {
      expect(failures[i]!.retryInMs).toBeGreaterThanOrEqual(Math.floor(want * 0.8));
      expect(failures[i]!.retryInMs).toBeLessThanOrEqual(Math.ceil(want * 1.2));
    }
    // The attempts were actually spaced by those delays.
    expect(attempts.at(-1)! - attempts[0]!).toBeGreaterThanOrEqual(Math.floor(0.8 * (10 + 20 + 40 + 40)) - 5);
    expect(outcomes).toEqual(expect.arrayContaining([{ kind: "rejected", status: 409, detail: "different bytes" }, expect.objectContaining({ kind: "uploaded", status: 201 })]));
    expect(u.pending()).toBe(0);
  });

  it("classifies statuses", () => {
    for (const s of [400, 403, 404, 409, 410, 413, 422]) expect(isPermanent(s), String(s)).toBe(true);
    for (const s of [401, 408, 429, 500, 502, 503, 504]) expect(isPermanent(s), String(s)).toBe(false);
  });
});
