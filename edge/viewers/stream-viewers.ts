/** A stream's viewer figures for the API (playback info, `GET /api/v1/streams/:id/viewers`). */
import type { StreamRow } from "../streams/model.ts";
import type { HeartbeatAggregator } from "./aggregator.ts";
import { viewerCounter } from "../do/viewer-counter/client.ts";

export interface StreamViewers {
  current: number;
  peak: number;
}

/**
 * On air: the counter's live figures (what this isolate learnt in the last few seconds, else one
 * read). Otherwise, without a counter, when it cannot be reached or has never been flushed to: the
 * D1 columns the counter writes (zeroed when the stream ends; the peak stays).
 */
export const streamViewers = async (env: Env, stream: StreamRow, aggregator?: HeartbeatAggregator): Promise<StreamViewers> => {
  const stored = { current: stream.viewer_count, peak: stream.peak_viewers };
  if (stream.status !== "live" && stream.status !== "reconnecting") return stored;
  let counts = aggregator?.cached(stream.id) ?? null;
  if (!counts) {
    const counter = viewerCounter(env, stream.id);
    if (!counter) return stored;
    try {
      counts = await counter.counts();
    } catch (err) {
      console.warn(`viewer counts for ${stream.id}: counter unreachable, using D1: ${err instanceof Error ? err.message : String(err)}`);
      return stored;
    }
    aggregator?.remember(stream.id, counts);
  }
  // A counter no edge has flushed to knows nothing yet; D1 may.
  if (counts.updated_at === null) return stored;
  return { current: counts.viewers, peak: Math.max(counts.peak, stream.peak_viewers) };
};
