import { decodeCursor, encodeCursor } from "../db/cursor.ts";
import { ftsQuery, searchStreams, type SearchKey } from "../streams/stream-query.ts";
import { resolveCategory } from "../streams/stream-store.ts";

/** One live stream as the D1 directory shows it. */
export interface DirectoryEntry {
  id: string;
  title: string;
  username: string;
  category: string | null;
  categoryName: string | null;
  viewers: number;
  /** ISO 8601; null only for rows the saga has not stamped yet. */
  startedAt: string | null;
}

/** A category as the filter shows it (the same figures as `GET /api/v1/categories`). */
export interface DirectoryCategory {
  slug: string;
  name: string;
  liveStreams: number;
  viewers: number;
}

export interface DirectoryQuery {
  /** The search box, trimmed ("" when empty). */
  q: string;
  /** The category filter as a slug (null: all). */
  category: string | null;
  cursor: string | null;
}

export interface DirectoryData {
  query: DirectoryQuery;
  streams: DirectoryEntry[];
  categories: DirectoryCategory[];
  total: number;
  /** The `cursor` of the next page, when there is one. */
  nextCursor: string | null;
  /** A problem with the query (shown above the results, which then ignore that part). */
  notice: string | null;
}

/** Streams per directory page. */
export const DIRECTORY_PAGE_SIZE = 48;
const Q_MAX = 200;

/**
 * The directory from D1: live streams by viewers (`searchStreams` without a match), or ranked by
 * relevance then viewers when the search box is used (FTS5), optionally within one category.
 * Bad input never fails the page: it is named in `notice` and left out of the query.
 */
export const loadDirectory = async (db: D1Database, params: { q?: string; category?: string; cursor?: string }): Promise<DirectoryData> => {
  const notices: string[] = [];
  let q = (params.q ?? "").trim();
  if (q.length > Q_MAX) {
    q = q.slice(0, Q_MAX);
    notices.push(`The search was cut to ${Q_MAX} characters.`);
  }
  let match: string | undefined;
  if (q !== "") {
    match = ftsQuery(q) ?? undefined;
    if (!match) notices.push("Search for at least one letter or digit.");
  }
  let category: string | null = null;
  const rawCategory = (params.category ?? "").trim();
  if (rawCategory !== "") {
    category = rawCategory.length <= 64 ? await resolveCategory(db, rawCategory) : null;
    if (!category) notices.push("Unknown category: showing all categories.");
  }
  const kind = match ? "search" : "browse";
  let after: SearchKey | null = null;
  let cursor: string | null = null;
  if (params.cursor) {
    const key = decodeCursor(params.cursor, kind, ["number", "number", "string"]);
    if (key) {
      after = { score: key[0] as number, viewers: key[1] as number, id: key[2] as string };
      cursor = params.cursor;
    } else notices.push("That page link is no longer valid: showing the first page.");
  }
  const [page, categories] = await Promise.all([
    searchStreams(db, { match, category: category ?? undefined, minViewers: 0, status: "live" }, DIRECTORY_PAGE_SIZE, after),
    loadCategories(db),
  ]);
  const last = page.rows.at(-1);
  return {
    query: { q, category, cursor },
    streams: page.rows.map((s) => ({
      id: s.id,
      title: s.title,
      username: s.username,
      category: s.category,
      categoryName: s.category_name,
      viewers: s.viewer_count,
      startedAt: s.started_at,
    })),
    categories,
    total: page.total,
    nextCursor: page.more && last ? encodeCursor(kind, [last.score, last.viewer_count, last.id]) : null,
    notice: notices.length ? notices.join(" ") : null,
  };
};

/** Every category with its live stream and viewer counts, in the seeded order. */
export const loadCategories = async (db: D1Database): Promise<DirectoryCategory[]> => {
  const { results } = await db
    .prepare(
      `SELECT c.slug, c.name,
         (SELECT count(*) FROM streams s WHERE s.category = c.slug AND s.status = 'live' AND s.visibility = 'public') AS live_streams,
         (SELECT coalesce(sum(s.viewer_count), 0) FROM streams s WHERE s.category = c.slug AND s.status = 'live' AND s.visibility = 'public') AS viewers
       FROM categories c ORDER BY c.position, c.slug`,
    )
    .all<{ slug: string; name: string; live_streams: number; viewers: number }>();
  return results.map((r) => ({ slug: r.slug, name: r.name, liveStreams: r.live_streams, viewers: r.viewers }));
};

/**
 * The origin's live streams that D1 does not know: published with a transcoder's local key (`npm
 * start`'s `demo` and `live`), with no account and no saga. The directory lists them apart.
 */
export const unlistedLive = async <T extends { id: string }>(db: D1Database, origin: T[]): Promise<T[]> => {
  if (origin.length === 0) return [];
  const { results } = await db
    .prepare("SELECT value AS id FROM json_each(?1) WHERE value NOT IN (SELECT id FROM streams)")
    .bind(JSON.stringify(origin.map((s) => s.id)))
    .all<{ id: string }>();
  const unknown = new Set(results.map((r) => r.id));
  return origin.filter((s) => unknown.has(s.id));
};

/**
 * The origin's live list without the streams D1 says are unlisted or private (the origin knows
 * nothing of visibility). When D1 cannot say, nothing is listed rather than a private stream.
 * `db` is null on an edge without D1 or one that forwards the control plane (local multi-edge: its
 * D1 is empty): it lists as before.
 */
export const listedOnly = async <T extends { id: string }>(db: D1Database | null, origin: T[]): Promise<T[]> => {
  if (!db || origin.length === 0) return origin;
  try {
    const { results } = await db.prepare("SELECT id FROM streams WHERE visibility <> 'public' AND id IN (SELECT value FROM json_each(?1))")
      .bind(JSON.stringify(origin.map((s) => s.id)))
      .all<{ id: string }>();
    const hidden = new Set(results.map((r) => r.id));
    return origin.filter((s) => !hidden.has(s.id));
  } catch (err) {
    console.error(JSON.stringify({ event: "live_list_visibility_error", error: err instanceof Error ? err.message : String(err) }));
    return [];
  }
};
