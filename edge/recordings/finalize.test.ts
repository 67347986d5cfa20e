import { describe, expect, it } from "vitest";
import { apiClient } from "../../test/support/edge/api-client.ts";
import { AUDIO, bucket, insertRecording, JPEG, objectKeys, putInit, putManifest, putSegments, recordingRow, testEnv, VIDEO_360, VIDEO_720, type SegmentSpec } from "../../test/support/edge/recordings.ts";
import { finalizeRecording } from "./finalize.ts";
import { getRecording } from "./recording-store.ts";

const api = apiClient();
const T0 = Date.UTC(2099, 0, 2, 3, 4, 5, 678);

const owner = async () => {
  const u = await api.signUp("fin");
  const s = await api.createStream(u.token, { title: "Finalise me" });
  return { userId: u.user.id, streamId: s.stream_id };
};

/** Four segments: the publisher reconnected before msn 2 (DISCONTINUITY, a new init, a new wall clock). */
const timeline = (durations: number[]): SegmentSpec[] => [
  { msn: 0, duration: durations[0]!, pdtMs: T0, init: 0 },
  { msn: 1, duration: durations[1]!, pdtMs: T0 + 2_000, init: 0 },
  { msn: 2, duration: durations[2]!, pdtMs: T0 + 60_000, init: 1, discontinuity: true },
  { msn: 3, duration: durations[3]!, pdtMs: T0 + 61_500, init: 1 },
];
const VIDEO_DURATIONS = [2, 2, 1.5, 2];
const AUDIO_DURATIONS = [2.005333, 1.984, 2.026667, 1.98];

const seed = async () => {
  const o = await owner();
  const id = await insertRecording({ ...o, status: "finalizing", endedAt: "2099-01-02T03:06:00.000Z", retentionDays: 7 });
  await putManifest(id, o.streamId, [VIDEO_720, VIDEO_360, AUDIO]);
  for (const r of ["720p", "360p", "audio"]) for (const v of [0, 1]) await putInit(id, r, v);
  await putSegments(id, "720p", timeline(VIDEO_DURATIONS).map((s) => ({ ...s, size: 50_000 })));
  await putSegments(id, "360p", timeline(VIDEO_DURATIONS).map((s) => ({ ...s, size: 20_000 })));
  await putSegments(id, "audio", timeline(AUDIO_DURATIONS).map((s) => ({ ...s, size: 4_000 })));
  return { ...o, id };
};

const text = async (key: string) => (await bucket().get(key))!.text();

const VIDEO_PLAYLIST = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2099-01-02T03:04:05.678Z
#EXTINF:2.00000,
seg-0.m4s
#EXTINF:2.00000,
seg-1.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2099-01-02T03:05:05.678Z
#EXTINF:1.50000,
seg-2.m4s
#EXTINF:2.00000,
seg-3.m4s
#EXT-X-ENDLIST
`;

const AUDIO_PLAYLIST = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:3
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2099-01-02T03:04:05.678Z
#EXTINF:2.00533,
seg-0.m4s
#EXTINF:1.98400,
seg-1.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2099-01-02T03:05:05.678Z
#EXTINF:2.02667,
seg-2.m4s
#EXTINF:1.98000,
seg-3.m4s
#EXT-X-ENDLIST
`;

// BANDWIDTH: the peak segment bitrate (50,000 B in 1.5 s) plus the audio group's; AVERAGE: bytes over duration.
const MASTER = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=282829,AVERAGE-BANDWIDTH=229342,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO="audio"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=122829,AVERAGE-BANDWIDTH=101342,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="audio"
360p/index.m3u8
`;

describe("finalising a recording from what the archive put into R2", () => {
  it("writes exact VOD playlists (two video renditions and audio, an init change, a discontinuity) and marks the row ready", async () => {
    const t = await seed();
    let thumbnailAsked = 0;
    const row = (await getRecording(testEnv().DB!, t.id))!;
    const result = await finalizeRecording(
      {
        bucket: bucket(),
        db: testEnv().DB!,
        fetchThumbnail: async () => {
          thumbnailAsked++;
          return JPEG;
        },
        now: () => Date.parse("2099-01-02T03:07:00.000Z"),
      },
      row,
    );
    expect(result.status).toBe("ready");
    expect(await text(`recordings/${t.id}/720p/index.m3u8`)).toBe(VIDEO_PLAYLIST);
    expect(await text(`recordings/${t.id}/360p/index.m3u8`)).toBe(VIDEO_PLAYLIST);
    expect(await text(`recordings/${t.id}/audio/index.m3u8`)).toBe(AUDIO_PLAYLIST);
    expect(await text(`recordings/${t.id}/master.m3u8`)).toBe(MASTER);
    expect((await bucket().head(`recordings/${t.id}/master.m3u8`))!.httpMetadata?.contentType).toBe("application/vnd.apple.mpegurl");
    // No poster was archived: the origin's latest thumbnail became it, asked once.
    expect(thumbnailAsked).toBe(1);
    expect(new Uint8Array(await (await bucket().get(`recordings/${t.id}/poster.jpg`))!.arrayBuffer())).toEqual(JPEG);
    // The row: ready, the top rendition's duration, every byte stored, expiry = end + 7 days.
    const listed = await bucket().list({ prefix: `recordings/${t.id}/` });
    const stored = listed.objects.reduce((a, o) => a + o.size, 0);
    expect(await recordingRow(t.id)).toMatchObject({ status: "ready", duration_s: 7.5, bytes: stored, ended_at: "2099-01-02T03:06:00.000Z", expires_at: "2099-01-09T03:06:00.000Z" });
  });

  it("is idempotent: a second run rewrites the same playlists and row, and keeps the poster it has", async () => {
    const t = await seed();
    await bucket().put(`recordings/${t.id}/poster.jpg`, JPEG);
    const deps = { bucket: bucket(), db: testEnv().DB!, fetchThumbnail: async () => Promise.reject(new Error("must not be asked")) };
    await finalizeRecording(deps, (await getRecording(testEnv().DB!, t.id))!);
    const first = { keys: await objectKeys(t.id), master: await text(`recordings/${t.id}/master.m3u8`), row: await recordingRow(t.id) };
    const again = await finalizeRecording(deps, (await getRecording(testEnv().DB!, t.id))!);
    expect(again).toMatchObject({ status: "ready", poster: "archived" });
    expect(await objectKeys(t.id)).toEqual(first.keys);
    expect(await text(`recordings/${t.id}/master.m3u8`)).toBe(first.master);
    expect(await text(`recordings/${t.id}/720p/index.m3u8`)).toBe(VIDEO_PLAYLIST);
    const row = await recordingRow(t.id);
    expect({ ...row, updated_at: null }).toEqual({ ...first.row, updated_at: null });
  });

  it("marks an MSN gap as a discontinuity and leaves a rung that ended early out of the master", async () => {
    const o = await owner();
    const id = await insertRecording({ ...o, status: "finalizing" });
    await putManifest(id, o.streamId, [VIDEO_720, VIDEO_360]);
    await putInit(id, "720p", 0);
    await putInit(id, "360p", 0);
    // 720p was dropped by the real-time guard after msn 1; 360p lost msn 3.
    await putSegments(id, "720p", [0, 1].map((msn) => ({ msn, duration: 2, pdtMs: T0 + msn * 2000 })));
    await putSegments(id, "360p", [0, 1, 2, 4, 5].map((msn) => ({ msn, duration: 2, pdtMs: T0 + msn * 2000 })));
    const result = await finalizeRecording({ bucket: bucket(), db: testEnv().DB! }, (await getRecording(testEnv().DB!, id))!);
    expect(result.status === "ready" && result.renditions.map((r) => [r.name, r.listed])).toEqual([
      ["720p", false],
      ["360p", true],
    ]);
    const master = await text(`recordings/${id}/master.m3u8`);
    expect(master).toContain("360p/index.m3u8");
    expect(master).not.toContain("720p/index.m3u8");
    expect(await text(`recordings/${id}/720p/index.m3u8`)).toContain("seg-1.m4s\n#EXT-X-ENDLIST");
    expect(await text(`recordings/${id}/360p/index.m3u8`)).toContain(
      "#EXTINF:2.00000,\nseg-2.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2099-01-02T03:04:13.678Z\n#EXTINF:2.00000,\nseg-4.m4s",
    );
    expect(await recordingRow(id)).toMatchObject({ status: "ready", duration_s: 10 });
  });

  it("skips segments without complete metadata, and fails a recording with nothing playable", async () => {
    const o = await owner();
    const id = await insertRecording({ ...o, status: "finalizing", retentionDays: 2, endedAt: "2099-03-01T00:00:00.000Z" });
    await putManifest(id, o.streamId, [VIDEO_720]);
    await putInit(id, "720p", 0);
    await bucket().put(`recordings/${id}/720p/seg-0.m4s`, new Uint8Array(10), { customMetadata: { duration: "2" } });
    const result = await finalizeRecording({ bucket: bucket(), db: testEnv().DB! }, (await getRecording(testEnv().DB!, id))!);
    expect(result).toEqual({ status: "failed", reason: "no video segment was archived" });
    expect(await recordingRow(id)).toMatchObject({ status: "failed", expires_at: "2099-03-03T00:00:00.000Z" });
    expect(await bucket().head(`recordings/${id}/master.m3u8`)).toBeNull();

    const bare = await insertRecording({ ...o, status: "finalizing" });
    expect(await finalizeRecording({ bucket: bucket(), db: testEnv().DB! }, (await getRecording(testEnv().DB!, bare))!)).toEqual({
      status: "failed",
      reason: "no valid manifest.json was archived",
    });
  });

  it("pages through more than 1,000 objects", async () => {
    const o = await owner();
    const id = await insertRecording({ ...o, status: "finalizing" });
    await putManifest(id, o.streamId, [VIDEO_360]);
    await putInit(id, "360p", 0);
    const specs = Array.from({ length: 1_100 }, (_, msn) => ({ msn, duration: 2, pdtMs: T0 + msn * 2000, size: 8 }));
    await Promise.all(Array.from({ length: 10 }, (_, i) => putSegments(id, "360p", specs.filter((s) => s.msn % 10 === i))));
    const result = await finalizeRecording({ bucket: bucket(), db: testEnv().DB! }, (await getRecording(testEnv().DB!, id))!);
    expect(result.status === "ready" && result.renditions[0]!.segments).toBe(1_100);
    const playlist = await text(`recordings/${id}/360p/index.m3u8`);
    expect(playlist.match(/#EXTINF/g)).toHaveLength(1_100);
    expect(playlist).not.toContain("DISCONTINUITY");
    expect(await recordingRow(id)).toMatchObject({ duration_s: 2_200 });
  });
});
