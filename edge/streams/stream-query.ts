import type { StreamRow, StreamStatus } from "./model.ts";
import { STREAM_SELECT } from "./stream-store.ts";

/** A stream list page: rows plus the sort key of the last one (for the next cursor). */
export interface Page<T> {
  rows: T[];
  more: boolean;
}

class Where {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];
  add(clause: string, ...values: unknown[]): void {
    this.clauses.push(clause);
    this.params.push(...values);
  }
  sql(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(" AND ")}` : "";
  }
}

export interface ListFilters {
  username?: string;
  status?: StreamStatus;
  category?: string;
  /** Unlisted and private streams too: only for their owner (or an admin) listing them. */
  includeHidden?: boolean;
}

/** Newest first, keyset-paged on (created_at, id). */
export const listStreams = async (db: D1Database, f: ListFilters, limit: number, after: { createdAt: string; id: string } | null): Promise<Page<StreamRow>> => {
  const w = new Where();
  if (!f.includeHidden) w.add("s.visibility = 'public'");
  if (f.username !== undefined) w.add("u.username = ?", f.username);
  if (f.status !== undefined) w.add("s.status = ?", f.status);
  if (f.category !== undefined) w.add("s.category = ?", f.category);
  if (after) w.add("(s.created_at, s.id) < (?, ?)", after.createdAt, after.id);
  const { results } = await db
    .prepare(`${STREAM_SELECT} ${w.sql()} ORDER BY s.created_at DESC, s.id DESC LIMIT ?`)
    .bind(...w.params, limit + 1)
    .all<StreamRow>();
  return { rows: results.slice(0, limit), more: results.length > limit };
};

/**
 * Column weights for bm25, in the FTS table's column order: title, description, tags, category,
 * username. A title hit counts most, then the streamer's name and tags.
 */
const BM25 = "bm25(streams_fts, 10.0, 2.0, 5.0, 3.0, 5.0)";

export interface SearchFilters {
  /** An FTS5 MATCH expression built by `ftsQuery`; absent: browse by viewers. */
  match?: string;
  category?: string;
  minViewers: number;
  /** null: any status. */
  status: StreamStatus | null;
}

/** Search and the directory only ever list public streams (unlisted and private ones are never found). */
export type SearchRow = StreamRow & { score: number };

/** The sort position of a search result: (score, viewers, id); score is 0 when browsing. */
export type SearchKey = { score: number; viewers: number; id: string };

/**
 * Full-text search ranked by relevance (bm25: lower is better), then by viewers, then id; without
 * `match`, by viewers then id. Keyset-paged on that order. A relevance cursor is a position, not a
 * snapshot: bm25 depends on the whole index, so pages taken while streams change may shift a little.
 */
export const searchStreams = async (db: D1Database, f: SearchFilters, limit: number, after: SearchKey | null): Promise<Page<SearchRow> & { total: number }> => {
  const w = new Where();
  if (f.match !== undefined) w.add("streams_fts MATCH ?", f.match);
  w.add("s.visibility = 'public'");
  if (f.status !== null) w.add("s.status = ?", f.status);
  if (f.category !== undefined) w.add("s.category = ?", f.category);
  if (f.minViewers > 0) w.add("s.viewer_count >= ?", f.minViewers);
  const from = f.match !== undefined ? "streams_fts JOIN streams s ON s.pk = streams_fts.rowid" : "streams s";
  const select = STREAM_SELECT.replace("FROM streams s", `, ${f.match !== undefined ? BM25 : "0.0"} AS score FROM ${from}`);
  const inner = `${select} ${w.sql()}`;
  const page: unknown[] = [];
  let keyset = "";
  if (after) {
    keyset = "WHERE (score > ? OR (score = ? AND (viewer_count < ? OR (viewer_count = ? AND id > ?))))";
    page.push(after.score, after.score, after.viewers, after.viewers, after.id);
  }
  const [rows, count] = await db.batch<SearchRow | { total: number }>([
    db.prepare(`SELECT * FROM (${inner}) ${keyset} ORDER BY score ASC, viewer_count DESC, id ASC LIMIT ?`).bind(...w.params, ...page, limit + 1),
    db.prepare(`SELECT count(*) AS total FROM ${from} ${w.sql()}`).bind(...w.params),
  ]);
  const results = rows!.results as SearchRow[];
  return { rows: results.slice(0, limit), more: results.length > limit, total: (count!.results[0] as { total: number } | undefined)?.total ?? 0 };
};

/** Letters and digits of a query, as prefix terms all of which must match; null when there are none. */
export const ftsQuery = (q: string): string | null => {
  const terms = q.normalize("NFKC").toLowerCase().match(/[\p{L}\p{N}]+/gu);
  if (!terms) return null;
  return terms
    .slice(0, 8)
    .map((t) => `"${t.slice(0, 32)}"*`)
    .join(" ");
};
