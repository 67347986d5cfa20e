import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ArchiveJournal, type JournalItem } from "./journal.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "cascade-journal-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const item = (file: string, o: Partial<JournalItem> = {}): JournalItem => ({
  kind: "segment",
  recordingId: "rec000000001",
  streamId: "demo",
  rendition: "720p",
  file,
  contentType: "video/iso.segment",
  headers: { "cascade-duration": "2.000000" },
  dueAtMs: 1_700_000_000_000,
  ...o,
});

describe("archive journal", () => {
  it("gives entries back in order after a restart, with their headers and bytes", async () => {
    const a = new ArchiveJournal(dir);
    expect(await a.open()).toEqual([]);
    const e1 = await a.append(item("init-0.mp4", { kind: "init", contentType: "video/mp4", headers: {} }), new Uint8Array([1, 2, 3]));
    const e2 = await a.append(item("seg-0.m4s"), new Uint8Array(1000).fill(7));
    const e3 = await a.append(item("manifest.json", { kind: "manifest", rendition: null, contentType: "application/json", headers: {} }), new TextEncoder().encode("{}"));
    expect([e1.seq, e2.seq, e3.seq]).toEqual([1, 2, 3]);
    await a.remove(e2);

    const b = new ArchiveJournal(dir);
    const entries = await b.open();
    expect(entries.map((e) => [e.seq, e.file, e.size])).toEqual([
      [1, "init-0.mp4", 3],
      [3, "manifest.json", 2],
    ]);
    expect(entries[0]).toMatchObject({ kind: "init", recordingId: "rec000000001", streamId: "demo", rendition: "720p", dueAtMs: 1_700_000_000_000 });
    expect([...(await b.body(entries[0]!))]).toEqual([1, 2, 3]);
    // New entries continue after the highest sequence number seen, so order holds across restarts.
    expect((await b.append(item("seg-1.m4s"), new Uint8Array(1))).seq).toBe(4);
  });

  it("drops half-written temporary files and sets corrupt entries aside", async () => {
    const a = new ArchiveJournal(dir);
    await a.open();
    await a.append(item("seg-0.m4s"), new Uint8Array(10));
    await writeFile(path.join(dir, "000000000002.job.tmp"), "partial");
    await writeFile(path.join(dir, "000000000003.job"), "garbage that is not an entry");
    const problems: string[] = [];
    const entries = await new ArchiveJournal(dir).open((file) => problems.push(file));
    expect(entries.map((e) => e.file)).toEqual(["seg-0.m4s"]);
    expect(problems).toEqual(["000000000003.job"]);
    expect((await readdir(dir)).sort()).toEqual(["000000000001.job", "000000000003.job.corrupt"]);
  });

  it("refuses to write before it is opened", async () => {
    await expect(new ArchiveJournal(dir).append(item("seg-0.m4s"), new Uint8Array(1))).rejects.toThrow(/not open/);
  });
});
