/**
 * How an edge reaches a stream's ViewerCounter: straight through the VIEWER_COUNTER binding, or —
 * when CONTROL_PLANE_URL is set (local multi-edge: edges 2..N have their own workerd storage, so
 * their objects would be other objects) — through the control plane's authenticated flush
 * endpoint, which makes the same single call there.
 */
import type { FlushFn } from "../../viewers/aggregator.ts";
import { type HeartbeatBatch, type ViewerCounts } from "../../viewers/sessions.ts";
import type { CounterStats, ViewerCounter } from "./viewer-counter.ts";
import { edgeConfig } from "../../config.ts";

/** The control plane's endpoint for one stream's batches (POST, `Authorization: Bearer <EDGE_ADMIN_TOKEN>`). */
export const flushPath = (streamId: string): string => `/api/v1/edge/viewers/${encodeURIComponent(streamId)}/flush`;

/** Errors the runtime marks retryable (the object was reset or moved): `record` may be repeated, it keeps the newest sighting. */
const retryable = (err: unknown): boolean => typeof err === "object" && err !== null && (err as { retryable?: unknown }).retryable === true;

const withRetry = async <T>(call: () => Promise<T>): Promise<T> => {
  try {
    return await call();
  } catch (err) {
    if (!retryable(err)) throw err;
    return call();
  }
};

type CounterStub = DurableObjectStub<ViewerCounter>;

export const counterStub = (env: Env, streamId: string): CounterStub | null => {
  const ns = env.VIEWER_COUNTER;
  return ns ? ns.get(ns.idFromName(streamId)) : null;
};

/** One batch into this Worker's own counter object. */
export const recordBatch = (stub: CounterStub, batch: HeartbeatBatch): Promise<ViewerCounts> => withRetry(() => stub.record(batch) as Promise<ViewerCounts>);

export const readCounts = (stub: CounterStub): Promise<ViewerCounts> => withRetry(() => stub.counts() as Promise<ViewerCounts>);

export const readStats = (stub: CounterStub): Promise<CounterStats> => withRetry(() => stub.stats() as Promise<CounterStats>);

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
  return (batch) => recordBatch(counterStub(env, batch.streamId)!, batch);
};
