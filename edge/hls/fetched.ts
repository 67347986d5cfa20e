/**
 * An upstream response read to the end. The edge buffers every object fully before answering, so a
 * part's bytes never reach a client before the whole part exists (RFC 8216bis B.1), and every
 * coalesced waiter can be answered from the same bytes without re-reading a body.
 */
export interface Fetched {
  status: number;
  contentType: string;
  body: Uint8Array;
  /** Wall-clock ms when the origin answered; `Age` counts from here. */
  fetchedAt: number;
  /** Origin's Last-Modified, passed through for playlists (Apple AUTH 8.24) and thumbnails. */
  lastModified: string | null;
  /** Origin's ETag (thumbnails: a content hash). Absent on entries stored before it existed. */
  etag?: string | null;
  /** Origin's `Cache-Control: max-age`, where the edge follows it (thumbnails); null when absent. */
  maxAge?: number | null;
  /** The body gzipped, made once by the fill for playlists (every coalesced viewer sends these bytes). */
  gzip?: Uint8Array;
}

/** `max-age` from a Cache-Control value; null when absent or malformed. */
export const maxAgeOf = (cacheControl: string | null): number | null => {
  const m = /(?:^|[,\s])max-age=(\d{1,9})(?:\s*(?:,|$))/i.exec(cacheControl ?? "");
  return m ? Number(m[1]) : null;
};

/** Header names the edge copies from the origin; everything else is the edge's own decision. */
export const readFetched = async (res: Response, now: () => number): Promise<Fetched> => ({
  status: res.status,
  contentType: res.headers.get("content-type") ?? "application/octet-stream",
  // fetch() inflates gzip transfer for us; the stored copy is identity-encoded and compressed per client.
  body: new Uint8Array(await res.arrayBuffer()),
  fetchedAt: now(),
  lastModified: res.headers.get("last-modified"),
  etag: res.headers.get("etag"),
  maxAge: maxAgeOf(res.headers.get("cache-control")),
});
