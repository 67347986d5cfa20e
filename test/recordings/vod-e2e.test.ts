/**
 * Recording → VOD end to end, with the real stack: origin (archiving to the edge), transcoder, one
 * edge Worker in workerd (`wrangler dev`: D1, R2, the StreamControl saga). A stream created with
 * recording on is published for ~12 s (320x180), stopped through the API; archive_vod writes the
 * VOD; ffprobe reads `/vod/<recording>/master.m3u8` from the edge and its duration matches the
 * stream's within one segment; ffmpeg decodes it; Range requests work on its segments.
 */
import { describe, expect, it } from "vitest";
import { parseMediaPlaylist, parseMultivariantPlaylist } from "../../shared/hls/parse.ts";
import { sleep, waitFor } from "../live-path/harness.ts";
import { edgeApi, sagaStackForFile, signUp } from "../support/saga-stack.ts";
import { runProcess } from "../support/run-process.ts";

const JWT_SECRET = "jwt-secret-for-the-vod-e2e-0123456789";
const SEGMENT_S = 2;
const PUBLISH_S = 12;

const stack = sagaStackForFile({ name: "vod", jwtSecret: JWT_SECRET, archive: true, edgeVars: { RECORDING_ARCHIVE_WAIT_S: "60" }, segmentDuration: SEGMENT_S });

const api = edgeApi(() => stack.edge.url);


/** Seconds of a media playlist (sum of EXTINF). */
const playlistSeconds = (text: string): number => parseMediaPlaylist(text).segments.reduce((a, s) => a + (s.duration ?? 0), 0);

describe("recording → VOD end to end", () => {
  it("a recorded stream, stopped through the API, becomes a VOD at the edge whose duration matches the stream's within one segment", async () => {
    const username = `vod_${Date.now().toString(36)}`;
    const token = await signUp(api, username);
    const created = await api<{ stream_id: string; stream_key: string }>("POST", "/api/v1/streams", { title: "VOD end to end", enable_recording: true }, token);
    expect(created.status).toBe(201);
    const id = created.body.stream_id;
    stack.publish(created.body.stream_key);
    await waitFor("status live", async () => (await api<{ status: string }>("GET", `/api/v1/streams/${id}`)).body.status === "live", 90_000);
    // The owner sees the recording being made; the public does not yet.
    const during = await api<{ recordings: Array<{ recording_id: string; status: string }> }>("GET", `/api/v1/streams/${id}/recordings`, undefined, token);
    expect(during.body.recordings).toEqual([expect.objectContaining({ status: "recording" })]);
    const recordingId = during.body.recordings[0]!.recording_id;
    expect((await api<{ recordings: unknown[] }>("GET", `/api/v1/streams/${id}/recordings`)).body.recordings).toEqual([]);
    await sleep(PUBLISH_S * 1000);

    expect((await api("POST", `/api/v1/streams/${id}/stop`, undefined, token)).status).toBe(200);
    // The stream's duration: its live media playlist (the DVR window holds all of it) once ENDLIST is there.
    const master = await (await fetch(`${stack.originUrl}/live/${id}/master.m3u8`)).text();
    const variant = parseMultivariantPlaylist(master).variants[0]!.uri;
    const live = await waitFor(
      "ENDLIST at the origin",
      async () => {
        const text = await (await fetch(`${stack.originUrl}/live/${id}/${variant}`)).text();
        return text.includes("#EXT-X-ENDLIST") ? text : null;
      },
      30_000,
    );
    const streamSeconds = playlistSeconds(live);
    expect(streamSeconds).toBeGreaterThanOrEqual(PUBLISH_S - SEGMENT_S);

    const ready = await waitFor(
      "the recording ready",
      async () => {
        const r = await api<{ status: string; vod_url: string; duration_s: number; poster_url: string }>("GET", `/api/v1/streams/${id}/recordings/${recordingId}`);
        return r.status === 200 && r.body.status === "ready" ? r.body : null;
      },
      120_000,
    );
    expect(ready.vod_url).toBe(`/vod/${recordingId}/master.m3u8`);
    expect(Math.abs(ready.duration_s - streamSeconds)).toBeLessThanOrEqual(SEGMENT_S);

    // ffprobe reads the VOD from the edge: its duration is the stream's within one segment.
    const vodUrl = `${stack.edge.url}${ready.vod_url}`;
    const probe = await runProcess("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "json", vodUrl]);
    expect(probe.code, probe.err).toBe(0);
    const probed = Number((JSON.parse(probe.out) as { format: { duration: string } }).format.duration);
    expect(Math.abs(probed - streamSeconds), `ffprobe ${probed} s vs stream ${streamSeconds} s`).toBeLessThanOrEqual(SEGMENT_S);
    // It plays: ffmpeg decodes video and audio to the end without an error.
    const decode = await runProcess("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-i", vodUrl, "-map", "0:v:0", "-map", "0:a:0", "-f", "null", "-"]);
    expect(decode.code, decode.err).toBe(0);
    expect(decode.err.trim()).toBe("");

    // The VOD playlists and a Range request on a segment, straight from the edge.
    const vodMaster = await (await fetch(vodUrl)).text();
    const media = parseMultivariantPlaylist(vodMaster).variants[0]!.uri;
    const mediaText = await (await fetch(new URL(media, vodUrl))).text();
    expect(mediaText).toContain("#EXT-X-PLAYLIST-TYPE:VOD");
    expect(mediaText).toContain("#EXT-X-ENDLIST");
    const firstSegment = parseMediaPlaylist(mediaText).segments[0]!.uri!;
    const ranged = await fetch(new URL(firstSegment, new URL(media, vodUrl)), { headers: { range: "bytes=0-7" } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toMatch(/^bytes 0-7\/\d+$/);
    expect(new Uint8Array(await ranged.arrayBuffer()).byteLength).toBe(8);
    // The poster: the stream's last thumbnail.
    const poster = await fetch(`${stack.edge.url}${ready.poster_url}`);
    expect(poster.status).toBe(200);
    expect(poster.headers.get("content-type")).toBe("image/jpeg");
  }, 300_000);
});
