/**
 * How an edge reaches a stream's ViewerCounter: straight through the VIEWER_COUNTER binding, or —
 * when CONTROL_PLANE_URL is set (local multi-edge: edges 2..N have their own workerd storage, so
 * their objects would be other objects) — through the control plane's authenticated flush
 * endpoint, which makes the same single call there.
 */
import type { FlushFn } from "../../viewers/aggregator.ts";
import { DurableObjectClient } from "../rpc-client.ts";
import { type HeartbeatBatch, type ViewerCounts } from "../../viewers/sessions.ts";
import type { CounterStats, ViewerCounter } from "./viewer-counter.ts";
import { edgeConfig } from "../../config.ts";

/** The control plane's endpoint for one stream's batches (POST, `Authorization: Bearer <EDGE_ADMIN_TOKEN>`). */
export const flushPath = (streamId: string): string => `/api/v1/edge/viewers/${encodeURIComponent(streamId)}/flush`;

/**
 * The typed client of one stream's ViewerCounter (one object per stream id, by name). Every method
 * may run twice (`record` keeps the newest sighting of each session), so each is retried once on a
 * transient object error (rpc-client.ts).
 */
export class ViewerCounterClient extends DurableObjectClient<ViewerCounter> {
  /** One batch of heartbeats into the counter; answers the stream's counts. */
  record(batch: HeartbeatBatch): Promise<ViewerCounts> {
    return this.call((s) => s.record(batch) as Promise<ViewerCounts>);
  }

  counts(): Promise<ViewerCounts> {
    return this.call((s) => s.counts() as Promise<ViewerCounts>);
  }

  stats(): Promise<CounterStats> {
    return this.call((s) => s.stats() as Promise<CounterStats>);
  }
}

/** The counter of `streamId` in this Worker's own VIEWER_COUNTER binding, or null without one. */
export const viewerCounter = (env: Env, streamId: string): ViewerCounterClient | null =>
  env.VIEWER_COUNTER ? new ViewerCounterClient(env.VIEWER_COUNTER, streamId) : null;

/**
 * Where this edge's batches go, or null when it has nowhere to send them (no binding, or a control
 * plane without the admin token to authenticate to it).
 */
export const flushTarget = (env: Env, send: (request: Request) => Promise<Response>): FlushFn | null => {
  const { controlPlaneUrl: controlPlane, adminToken: token } = edgeConfig(env);
  if (controlPlane) {
    if (!token) return null;
    return async (batch) => {
      const body = JSON.stringify({ edge: batch.edge, sessions: batch.sessions, ...(batch.player ? { player: batch.player } : {}) });
      const request = () =>
        new Request(new URL(flushPath(batch.streamId), controlPlane), { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body });
      let res: Response;
      try {
        res = await send(request());
      } catch {
        // A kept-alive connection the other side closed as we reused it (Node servers idle out after
        // 5 s, our flush interval): one fresh try. A batch recorded twice changes nothing but the tally.
        res = await send(request());
      }
      if (!res.ok) throw new Error(`control plane answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      return (await res.json()) as ViewerCounts;
    };
  }
  if (!env.VIEWER_COUNTER) return null;
  return (batch) => viewerCounter(env, batch.streamId)!.record(batch);
};
