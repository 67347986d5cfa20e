/**
 * Who may play what, as the delivery routes see it: a stream's visibility and a recording's stream,
 * remembered per isolate so that a player's playlist, part and segment requests cost no D1 query
 * each (one lookup per stream and isolate every FRESH_MS or so, done in the background).
 *
 * Staleness: a stream made private stays playable by its direct URL in other isolates for up to
 * FRESH_MS (the isolate that served the PATCH forgets at once); one made public stays refused as
 * long. Media already fetched is public anyway, so a few seconds is the price of keeping D1 off the
 * hot path. While D1 is unreachable an answer up to STALE_MS old keeps being used rather than
 * failing every viewer; with none, the routes answer 503 rather than guess.
 */
import { FORWARDED_HEADER } from "../middleware/control-plane-forward.ts";
import { VISIBILITIES, type Visibility } from "./model.ts";
import { edgeConfig } from "../config.ts";

export const FRESH_MS = 15_000;
const STALE_MS = 5 * 60_000;
/** A background refresh that has not finished after this long is presumed lost (its request ended). */
const REFRESH_MS = 5_000;
const MAX_ENTRIES = 10_000;

/**
 * A bounded map of answers with their age. No request ever awaits a lookup another request started:
 * in workerd a promise settled from a request context that has already ended (a viewer that hung
 * up) never resumes its waiters, which then fail as "hung" (500). So a stale answer is served while
 * one request refreshes it in the background (stale-while-revalidate), and only a stream with no
 * answer at all makes each of its concurrent requests look it up itself.
 */
export class AccessCache<V> {
  private readonly entries = new Map<string, { value: V; at: number }>();
  /** When a background refresh of the key started; another may start once it is REFRESH_MS old. */
  private readonly refreshing = new Map<string, number>();
  /** Bumped by forget(): a lookup that started before must not store its (possibly outdated) answer. */
  private generation = 0;
  /** Lookups that went to the source (tests read it: the hot path must not query per request). */
  loads = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const entry = this.entries.get(key);
    const age = entry ? this.now() - entry.at : Infinity;
    if (entry && age < FRESH_MS) return entry.value;
    if (entry && age < STALE_MS) {
      const since = this.refreshing.get(key);
      if (since === undefined || this.now() - since > REFRESH_MS) {
        this.refreshing.set(key, this.now());
        // Not awaited: this request answers from the stale value now.
        this.lookup(key, load).then(
          () => this.refreshing.delete(key),
          () => this.refreshing.delete(key),
        );
      }
      return entry.value;
    }
    return this.lookup(key, load);
  }

  private async lookup(key: string, load: () => Promise<V>): Promise<V> {
    const generation = this.generation;
    this.loads++;
    const value = await load();
    if (generation === this.generation) this.set(key, value);
    return value;
  }

  forget(key: string): void {
    this.entries.delete(key);
    this.refreshing.delete(key);
    this.generation++;
  }

  forgetWhere(match: (value: V) => boolean): void {
    for (const [key, entry] of this.entries) if (match(entry.value)) this.entries.delete(key);
  }

  private set(key: string, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) {
      // Oldest first (Map order is insertion order): the streams nobody asked about lately.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, at: this.now() });
  }
}

const isVisibility = (v: unknown): v is Visibility => typeof v === "string" && (VISIBILITIES as readonly string[]).includes(v);

/** null: a stream the control plane does not know (the origin's local `demo`/`live` keys): public. */
export const streamVisibilities = new AccessCache<Visibility | null>();
/** A recording's stream and that stream's visibility; null for an unknown recording. */
export const recordingAccess = new AccessCache<{ streamId: string; visibility: Visibility | null } | null>();

export type Forward = (request: Request) => Promise<Response>;

const loadVisibility = async (env: Env, streamId: string, forward: Forward): Promise<Visibility | null> => {
  // Edges that forward the control plane (local multi-edge) have an empty D1: ask the one that has it.
  const { controlPlaneUrl, edgeId } = edgeConfig(env);
  if (controlPlaneUrl) {
    const url = new URL(`/api/v1/streams/${streamId}/visibility`, controlPlaneUrl);
    const res = await forward(new Request(url, { headers: { accept: "application/json", [FORWARDED_HEADER]: edgeId } }));
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`control plane answered ${res.status}`);
    }
    const body = (await res.json()) as { visibility?: unknown };
    if (body.visibility === null) return null;
    if (!isVisibility(body.visibility)) throw new Error("control plane sent an unexpected visibility");
    return body.visibility;
  }
  if (!env.DB) return null;
  const row = await env.DB.prepare("SELECT visibility FROM streams WHERE id = ?1").bind(streamId).first<{ visibility: string }>();
  if (!row) return null;
  // Fail closed on a value the code does not know.
  return isVisibility(row.visibility) ? row.visibility : "private";
};

/** The stream's visibility (cached per isolate); throws when it cannot be learnt and nothing recent is known. */
export const streamVisibility = (env: Env, streamId: string, forward: Forward = (req) => fetch(req)): Promise<Visibility | null> =>
  streamVisibilities.get(streamId, () => loadVisibility(env, streamId, forward));

/** The recording's stream and its visibility (cached per isolate; the stream of a recording never changes). */
export const recordingVisibility = (db: D1Database, recordingId: string) =>
  recordingAccess.get(recordingId, async () => {
    const row = await db
      .prepare("SELECT r.stream_id, s.visibility FROM recordings r LEFT JOIN streams s ON s.id = r.stream_id WHERE r.id = ?1")
      .bind(recordingId)
      .first<{ stream_id: string; visibility: string | null }>();
    if (!row) return null;
    return { streamId: row.stream_id, visibility: row.visibility === null ? null : isVisibility(row.visibility) ? row.visibility : ("private" as const) };
  });

/**
 * After this isolate changed a stream's visibility: it takes effect here at once. Recordings of the
 * stream are found by stream id, so their entries go too.
 */
export const forgetStreamVisibility = (streamId: string): void => {
  streamVisibilities.forget(streamId);
  recordingAccess.forgetWhere((v) => v?.streamId === streamId);
};
