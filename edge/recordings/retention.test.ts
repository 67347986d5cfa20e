import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import worker from "../index.ts";
import { isoNow } from "../db/database.ts";
import { apiClient } from "../../test/support/edge/api-client.ts";
import { bucket, insertRecording, JPEG, objectKeys, putInit, putManifest, putSegments, recordingRow, testEnv, VIDEO_360 } from "../../test/support/edge/recordings.ts";
import { deleteRecordingObjects, runRecordingsJob } from "./retention.ts";

const api = apiClient();
const HOUR = 3_600_000;

const withObjects = async (expiresAt: string | null, status: "ready" | "failed" | "finalizing" = "ready", updatedAt?: string) => {
  const u = await api.signUp("ret");
  const s = await api.createStream(u.token, { title: "Retention" });
  const id = await insertRecording({ streamId: s.stream_id, userId: u.user.id, status, expiresAt, updatedAt });
  await putManifest(id, s.stream_id, [VIDEO_360]);
  await putInit(id, "360p", 0);
  await putSegments(id, "360p", [0, 1, 2].map((msn) => ({ msn, duration: 2, pdtMs: Date.now() + msn * 2000, size: 64 })));
  await bucket().put(`recordings/${id}/poster.jpg`, JPEG);
  return id;
};

describe("recordings retention (scheduled)", () => {
  it("the Worker's scheduled handler deletes an expired recording's objects and row, logs one line, keeps a fresh one", async () => {
    const expired = await withObjects(isoNow(Date.now() - HOUR));
    const expiredFailed = await withObjects(isoNow(Date.now() - 2 * HOUR), "failed");
    const fresh = await withObjects(isoNow(Date.now() + 24 * HOUR));
    const freshKeys = await objectKeys(fresh);
    expect(await objectKeys(expired)).toHaveLength(6);
    const log = vi.spyOn(console, "log");
    try {
      const ctx = createExecutionContext();
      const controller = createScheduledController({ scheduledTime: Date.now(), cron: "*/15 * * * *" });
      await worker.scheduled(controller, testEnv(), ctx);
      await waitOnExecutionContext(ctx);
      for (const id of [expired, expiredFailed]) {
        expect(await recordingRow(id)).toBeNull();
        expect(await objectKeys(id)).toEqual([]);
        const lines = log.mock.calls.map((c) => String(c[0])).filter((l) => l.includes(id));
        expect(lines).toHaveLength(1);
        expect(JSON.parse(lines[0]!)).toMatchObject({ event: "recording_deleted", reason: "retention", recording_id: id, objects: 6 });
      }
    } finally {
      log.mockRestore();
    }
    expect(await recordingRow(fresh)).toMatchObject({ status: "ready" });
    expect(await objectKeys(fresh)).toEqual(freshKeys);
    expect(freshKeys).toHaveLength(6);
  });

  it("deletes prefixes larger than one R2 batch, and never another recording's objects", async () => {
    const id = await withObjects(null);
    const neighbour = `${id}x`;
    await bucket().put(`recordings/${neighbour}/poster.jpg`, JPEG);
    await Promise.all(Array.from({ length: 4 }, (_, i) => putSegments(id, "360p", Array.from({ length: 250 }, (_, k) => ({ msn: 100 + i * 250 + k, duration: 2, pdtMs: Date.now(), size: 4 })))));
    expect(await deleteRecordingObjects(bucket(), id)).toBe(6 + 1000);
    expect(await objectKeys(id)).toEqual([]);
    expect(await objectKeys(neighbour)).toEqual([`recordings/${neighbour}/poster.jpg`]);
  });

  it("finishes a conversion left finalizing by an earlier call once the origin has nothing pending", async () => {
    const stale = await withObjects(null, "finalizing", isoNow(Date.now() - HOUR));
    const recent = await withObjects(null, "finalizing");
    const asked: string[] = [];
    const fetch = async (req: Request) => {
      const url = new URL(req.url);
      asked.push(url.searchParams.get("recording_id") ?? url.pathname);
      return Response.json({ stream_id: "x", recording_id: url.searchParams.get("recording_id"), mode: "dvr", ended: true, pending: 0, uploaded: 0, rejected: 0, lag_ms: [] });
    };
    const result = await runRecordingsJob(testEnv(), { fetch, log: () => undefined });
    expect(result.finalized).toContain(stale);
    expect(result.finalized).not.toContain(recent);
    expect(asked).toContain(stale);
    expect(await recordingRow(stale)).toMatchObject({ status: "ready", duration_s: 6 });
    expect(await recordingRow(recent)).toMatchObject({ status: "finalizing" });
  });
});
