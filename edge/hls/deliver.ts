import { MIME } from "../../shared/urls.ts";
import type { Coalescer } from "./coalescer.ts";
import type { EdgeCache } from "./edge-cache.ts";
import type { EdgeObject } from "./edge-object.ts";
import { readFetched, type Fetched } from "./fetched.ts";
import { gzipBytes } from "./gzip-once.ts";
import { edgeTtl } from "./lifetimes.ts";
import { targetDurationOf, type TargetDurations } from "./target-durations.ts";

export type CacheOutcome = "HIT" | "MISS" | "COALESCED";

export type Delivery =
  | { kind: "object"; fetched: Fetched; outcome: CacheOutcome; ttl: number }
  | { kind: "timeout"; waitedMs: number; targetDuration: number }
  | { kind: "upstream-error"; error: string };

export interface DeliveryDeps {
  originUrl: string;
  upstream: (request: Request) => Promise<Response>;
  cache: EdgeCache;
  coalescer: Coalescer<Fetched>;
  targetDurations: TargetDurations;
  /** Keeps a fill running after the request that started it has been answered or cancelled. */
  waitUntil: (promise: Promise<unknown>) => void;
  now: () => number;
  /** Counts fills that went upstream, by object key (stats and tests). */
  onUpstream?: (key: string) => void;
}

/** The delivery dependencies of one request (the app builds them from its bindings and isolate state). */
export type DeliveryDepsOf = (c: { env: Env; executionCtx: ExecutionContext }) => DeliveryDeps;

const upstreamUrl = (originUrl: string, object: EdgeObject): string => `${originUrl.replace(/\/+$/, "")}/live/${object.key}`;

const sleep = (ms: number) => new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), ms));

/**
 * Serves one object: from the cache, else by joining or starting the single upstream fill for its
 * key. Nobody waits longer than 3 × TD (RFC 8216bis B.1); the fill itself carries on in the
 * background and still lands in the cache for the next request.
 *
 * @param force skip the cache lookup (prewarm refreshes what may be stale)
 */
export const deliver = async (object: EdgeObject, deps: DeliveryDeps, force = false): Promise<Delivery> => {
  const td = deps.targetDurations.get(object.streamId);
  if (!force) {
    const hit = await deps.cache.get(object.key);
    if (hit) return { kind: "object", fetched: hit, outcome: "HIT", ttl: edgeTtl(object, hit.status, td, hit.maxAge) };
  }
  const boundMs = 3 * td * 1000;
  const fill = async (): Promise<Fetched> => {
    deps.onUpstream?.(object.key);
    const res = await deps.upstream(
      new Request(upstreamUrl(deps.originUrl, object), {
        headers: { "accept-encoding": "gzip", "x-cascade-edge": "1" },
        // The origin itself answers 503 after 3 × TD; this only stops a hung connection leaking.
        signal: AbortSignal.timeout(boundMs + 5_000),
      }),
    );
    const fetched = await readFetched(res, deps.now);
    if (fetched.status === 200 && object.resource.kind === "playlist") {
      const learned = targetDurationOf(new TextDecoder().decode(fetched.body));
      if (learned) deps.targetDurations.learn(object.streamId, learned);
    }
    if (isPlaylist(object)) fetched.gzip = await gzipBytes(fetched.body);
    return fetched;
  };
  const settle = (value: Fetched) => deps.cache.put(object.key, value, edgeTtl(object, value.status, deps.targetDurations.get(object.streamId), value.maxAge));
  const started = deps.now();
  // The fill aborts itself at boundMs + 5 s; one still pending after that lost its request.
  const run = deps.coalescer.run(object.key, fill, settle, boundMs + 10_000);
  deps.waitUntil(run.then((r) => r.settled, () => {}));
  try {
    const outcome = await Promise.race([run, sleep(boundMs)]);
    if (outcome === "timeout") return { kind: "timeout", waitedMs: deps.now() - started, targetDuration: td };
    const { value, joined } = outcome;
    return { kind: "object", fetched: value, outcome: joined ? "COALESCED" : "MISS", ttl: edgeTtl(object, value.status, deps.targetDurations.get(object.streamId), value.maxAge) };
  } catch (err) {
    return { kind: "upstream-error", error: err instanceof Error ? err.message : String(err) };
  }
};

/** Client-facing Cache-Control: what the edge itself keeps, immutable media marked as such. */
export const clientCacheControl = (object: EdgeObject, status: number, ttl: number): string => {
  if (ttl <= 0) return "no-store";
  const immutable = status === 200 && object.resource.kind !== "master" && object.resource.kind !== "playlist" && object.resource.kind !== "thumbnail";
  return `public, max-age=${Math.round(ttl)}${immutable ? ", immutable" : ""}`;
};

export const isPlaylist = (object: EdgeObject): boolean => object.resource.kind === "master" || object.resource.kind === "playlist";

/** MIME type by resource kind (Apple AUTH 10.4), whatever the origin said. */
export const mimeOf = (object: EdgeObject, fetched: Fetched): string => {
  if (fetched.status !== 200) return fetched.contentType;
  if (isPlaylist(object)) return MIME.playlist;
  if (object.resource.kind === "thumbnail") return MIME.thumbnail;
  return object.resource.kind === "init" ? MIME.init : MIME.media;
};
