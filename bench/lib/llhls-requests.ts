import { gunzipSync } from "node:zlib";
import type { HttpResponse, KeepAliveClient } from "./http-client.ts";

/** What the simulated players send: browsers ask for gzip, and the origin and the edge then gzip playlists. */
export const PLAYER_REQUEST_HEADERS = { "accept-encoding": "gzip" };

/** An answer, or why there was none (network error, or `timeout`). */
export type Attempt = HttpResponse | { status: -1; error: string };

const HINT = Buffer.from('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="');
const HINT_URI = /part(\d+)\.(\d+)\.m4s"/y;
const GZIP = /\r\ncontent-encoding:\s*gzip/i;

/** The part named by the playlist's PRELOAD-HINT, found without decoding the whole body. */
export const preloadHint = (body: Buffer): { msn: number; part: number } | null => {
  const at = body.lastIndexOf(HINT);
  if (at < 0) return null;
  const rest = body.toString("latin1", at + HINT.length, Math.min(body.length, at + HINT.length + 80));
  const slash = rest.lastIndexOf("/", rest.indexOf('"'));
  HINT_URI.lastIndex = slash + 1;
  const m = HINT_URI.exec(rest);
  return m ? { msn: Number(m[1]), part: Number(m[2]) } : null;
};

/** The playlist text of a 200 answer (gunzipped when it came gzip-encoded), else null. */
export const playlistBody = (res: Attempt): Buffer | null => {
  if (res.status !== 200 || !("body" in res)) return null;
  return GZIP.test(res.head) ? gunzipSync(res.body) : res.body;
};

/** One request with a deadline; on timeout the connection is closed (the client reconnects on its next request). */
export const attemptWithin = (c: KeepAliveClient, target: string, timeoutMs: number): Promise<Attempt> => {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    c.close();
  }, timeoutMs);
  return c.get(target).then(
    (res) => {
      clearTimeout(timer);
      return res as Attempt;
    },
    (err: Error) => {
      clearTimeout(timer);
      return { status: -1 as const, error: timedOut ? "timeout" : err.message };
    },
  );
};
