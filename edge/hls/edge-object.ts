import { parseStreamPath, type StreamResource } from "../../shared/urls.ts";
import { isStreamId } from "../../shared/ids.ts";
import { directivesQuery, readDirectives, type Directives } from "../../shared/hls/delivery-directives.ts";

/** One cacheable object the edge serves: a stream resource plus its normalised directives. */
export interface EdgeObject {
  streamId: string;
  /** Path below the stream root, e.g. `720p/index.m3u8`. */
  path: string;
  resource: StreamResource;
  directives: Directives;
  /** Canonical `<path><query>`: the coalescing key and the cache key's path. */
  key: string;
}

export type EdgeObjectResult = { ok: true; object: EdgeObject } | { ok: false; status: 400 | 404; error: string };

/**
 * Maps `/hls/<streamId>/<path>?<query>` onto an object, or says why not. Only the stream layout
 * is accepted (the edge is not an open proxy), and directives only apply to media playlists.
 */
export const resolveEdgeObject = (streamId: string, path: string, params: URLSearchParams): EdgeObjectResult => {
  if (!isStreamId(streamId)) return { ok: false, status: 400, error: "invalid stream id" };
  const resource = parseStreamPath(path);
  if (!resource) return { ok: false, status: 404, error: "no such resource" };
  let directives: Directives = { msn: null, part: null, skip: null };
  if (resource.kind === "playlist") {
    const read = readDirectives(params);
    if (!read.ok) return { ok: false, status: 400, error: read.error };
    directives = read.directives;
  }
  return { ok: true, object: { streamId, path, resource, directives, key: `${streamId}/${path}${directivesQuery(directives)}` } };
};
