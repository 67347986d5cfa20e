import { isRenditionName, isStreamId } from "../../shared/ids.ts";

/** One live stream as the directory and `/api/v1/live` show it. */
export interface LiveStreamEntry {
  id: string;
  /** ISO 8601, from the origin. */
  startedAt: string;
  renditions: string[];
}

export type LiveStreamsResult = { ok: true; streams: LiveStreamEntry[] } | { ok: false; error: string };

/** How long the directory waits for the origin's list before it answers 502. */
export const LIVE_LIST_TIMEOUT_MS = 5000;

/**
 * Keeps only well-formed entries of the origin's `/live/streams` answer (ids and rendition names
 * are re-validated: they end up in links and markup), newest first.
 */
export const parseLiveStreams = (body: unknown): LiveStreamEntry[] | null => {
  if (!Array.isArray(body)) return null;
  const out: LiveStreamEntry[] = [];
  for (const item of body as unknown[]) {
    if (typeof item !== "object" || item === null) continue;
    const { id, startedAt, renditions } = item as Record<string, unknown>;
    if (typeof id !== "string" || !isStreamId(id)) continue;
    if (typeof startedAt !== "string" || Number.isNaN(Date.parse(startedAt))) continue;
    const names = Array.isArray(renditions) ? renditions.filter((r): r is string => typeof r === "string" && isRenditionName(r)) : [];
    out.push({ id, startedAt: new Date(Date.parse(startedAt)).toISOString(), renditions: names });
  }
  return out.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || a.id.localeCompare(b.id));
};

/** `${originUrl}/live/streams` through the app's upstream, bounded by a timeout. */
export const fetchLiveStreams = async (
  upstream: (request: Request) => Promise<Response>,
  originUrl: string,
  timeoutMs = LIVE_LIST_TIMEOUT_MS,
): Promise<LiveStreamsResult> => {
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const url = `${originUrl.replace(/\/+$/, "")}/live/streams`;
    const request = new Request(url, { headers: { accept: "application/json" }, signal: abort.signal });
    const res = await Promise.race([upstream(request), timeout]);
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, error: `origin answered ${res.status}` };
    }
    const body: unknown = await Promise.race([res.json(), timeout]);
    const streams = parseLiveStreams(body);
    return streams ? { ok: true, streams } : { ok: false, error: "origin sent an unexpected stream list" };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
};
