/**
 * The control plane's calls to core-origin about recordings, signed with a node token like every
 * `/ingest/v1/` call: queue a stream's DVR window for archiving under a recording id (convert),
 * how many objects are still waiting to reach R2, and the stream's latest thumbnail (a poster when
 * none was archived).
 */
import { originArchivePath, type ArchiveStatus } from "../../shared/archive-protocol.ts";
import { PUSH_LIMITS } from "../../shared/push-protocol.ts";
import { signNodeToken } from "../../shared/tokens.ts";
import { THUMBNAIL_FILE } from "../../shared/thumbnail.ts";

/** How the edge reaches the origin (`fetch`, or a stand-in in tests). */
export type OriginFetch = (request: Request) => Promise<Response>;

export type QueueOutcome = { ok: true; queued: number } | { ok: false; status: number; error: string };

export interface OriginArchive {
  /** `POST /ingest/v1/streams/:id/archive {recording_id}`: the origin uploads the DVR window it holds. */
  queue(streamId: string, recordingId: string): Promise<QueueOutcome>;
  /**
   * `GET /ingest/v1/streams/:id/archive?recording_id=` → uploads still to do for the recording: 0 once
   * the stream has ended and nothing is pending (or the origin knows nothing of it); null when it cannot tell.
   */
  pending(streamId: string, recordingId: string): Promise<number | null>;
  /** `GET /live/:id/thumbnail.jpg`, or null. */
  thumbnail(streamId: string): Promise<Uint8Array | null>;
}

/** The node id inside the control plane's tokens (the origin accepts any valid node token). */
export const CONTROL_PLANE_NODE_ID = "control-plane";
const TIMEOUT_MS = 5_000;

export const originArchive = (o: { originUrl: string; nodeSecret: string | undefined; fetch: OriginFetch }): OriginArchive => {
  const base = o.originUrl.replace(/\/+$/, "");
  const signed = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const secret = o.nodeSecret ?? "";
    if (secret.length < 16) throw new Error("NODE_SECRET is not configured");
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${await signNodeToken(secret, CONTROL_PLANE_NODE_ID)}`);
    return o.fetch(new Request(`${base}${path}`, { ...init, headers, signal: AbortSignal.timeout(TIMEOUT_MS) }));
  };
  return {
    async queue(streamId, recordingId) {
      const res = await signed(originArchivePath(streamId), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ recording_id: recordingId }) });
      const text = await res.text();
      if (!res.ok) return { ok: false, status: res.status, error: text.slice(0, 300) };
      const body = JSON.parse(text) as { queued?: unknown };
      return { ok: true, queued: typeof body.queued === "number" ? body.queued : 0 };
    },
    async pending(streamId, recordingId) {
      try {
        const res = await signed(`${originArchivePath(streamId)}?recording_id=${encodeURIComponent(recordingId)}`);
        if (res.status === 404) {
          await res.body?.cancel();
          return 0;
        }
        if (!res.ok) {
          await res.body?.cancel();
          return null;
        }
        const status = (await res.json()) as Partial<ArchiveStatus>;
        if (status.recording_id === null) return 0;
        if (typeof status.pending !== "number" || status.pending < 0) return null;
        // Until the stream has ended at the origin, its last segments may still be on their way.
        return status.pending === 0 && status.ended === false ? 1 : status.pending;
      } catch {
        return null;
      }
    },
    async thumbnail(streamId) {
      const res = await o.fetch(new Request(`${base}/live/${streamId}/${THUMBNAIL_FILE}`, { signal: AbortSignal.timeout(TIMEOUT_MS) }));
      if (res.status !== 200) {
        await res.body?.cancel();
        return null;
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      return bytes.byteLength <= PUSH_LIMITS.thumbnailBytes ? bytes : null;
    },
  };
};
