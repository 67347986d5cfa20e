import { Hono } from "hono";
import { optionalUser } from "../accounts/auth.ts";
import { USERNAME_PATTERN, USERNAME_RULE } from "../accounts/users.ts";
import { decodeCursor, encodeCursor } from "../db/cursor.ts";
import { requireDb } from "../db/database.ts";
import { invalidFields, type FieldErrors } from "../http/api-error.ts";
import { queryInteger } from "../http/fields.ts";
import { publicStreamView, STREAM_STATUSES, type StreamStatus } from "../streams/model.ts";
import { ftsQuery, listStreams, searchStreams, type SearchKey } from "../streams/stream-query.ts";
import { resolveCategory } from "../streams/stream-store.ts";

const isStatus = (s: string): s is StreamStatus => (STREAM_STATUSES as readonly string[]).includes(s);

/** A `category` query parameter (slug or name) as a slug; an error when unknown. */
const categoryParam = async (db: D1Database, value: string | undefined, errors: FieldErrors): Promise<string | undefined> => {
  if (value === undefined || value === "") return undefined;
  const slug = value.length <= 64 ? await resolveCategory(db, value) : null;
  if (!slug) errors.category = "unknown category (see GET /api/v1/categories)";
  return slug ?? undefined;
};

const assertNone = (errors: FieldErrors) => {
  if (Object.keys(errors).length) throw invalidFields(errors, "invalid query parameters");
};

/**
 * Stream lists, full-text search and categories: public, no token needed. Only public streams are
 * listed, searched and counted; a signed-in creator's own list also shows their hidden ones.
 */
export const discoveryRoutes = () => {
  const app = new Hono<{ Bindings: Env }>();

  app.get("/api/v1/categories", async (c) => {
    const { results } = await requireDb(c.env)
      .prepare(
        `SELECT c.slug, c.name, c.description,
           (SELECT count(*) FROM streams s WHERE s.category = c.slug AND s.status = 'live' AND s.visibility = 'public') AS live_streams,
           (SELECT coalesce(sum(s.viewer_count), 0) FROM streams s WHERE s.category = c.slug AND s.status = 'live' AND s.visibility = 'public') AS viewers
         FROM categories c ORDER BY c.position, c.slug`,
      )
      .all<{ slug: string; name: string; description: string; live_streams: number; viewers: number }>();
    return c.json({ categories: results }, 200, { "cache-control": "public, max-age=30" });
  });

  app.get("/api/v1/streams/search", async (c) => {
    const db = requireDb(c.env);
    const errors: FieldErrors = {};
    const q = c.req.query("q")?.trim();
    let match: string | undefined;
    if (q !== undefined && q !== "") {
      if (q.length > 200) errors.q = "must be at most 200 characters";
      else match = ftsQuery(q) ?? undefined;
      if (!match && !errors.q) errors.q = "must contain at least one letter or digit";
    }
    const statusParam = c.req.query("status") ?? "live";
    if (statusParam !== "any" && !isStatus(statusParam)) errors.status = `must be "any" or one of: ${STREAM_STATUSES.join(", ")}`;
    const category = await categoryParam(db, c.req.query("category"), errors);
    const minViewers = queryInteger(c.req.query("min_viewers"), "min_viewers", { min: 0, max: 1_000_000_000, fallback: 0 }, errors);
    const limit = queryInteger(c.req.query("limit"), "limit", { min: 1, max: 50, fallback: 20 }, errors);
    const kind = match ? "search" : "browse";
    const cursorText = c.req.query("cursor");
    const cursor = cursorText ? decodeCursor(cursorText, kind, ["number", "number", "string"]) : null;
    if (cursorText && !cursor) errors.cursor = "invalid cursor";
    assertNone(errors);
    const after: SearchKey | null = cursor ? { score: cursor[0] as number, viewers: cursor[1] as number, id: cursor[2] as string } : null;
    const status = statusParam === "any" ? null : (statusParam as StreamStatus);
    const page = await searchStreams(db, { match, category, minViewers, status }, limit, after);
    const last = page.rows.at(-1);
    return c.json({
      streams: page.rows.map(publicStreamView),
      total_results: page.total,
      next_cursor: page.more && last ? encodeCursor(kind, [last.score, last.viewer_count, last.id]) : null,
    });
  });

  app.get("/api/v1/streams", async (c) => {
    const caller = await optionalUser(c);
    const db = requireDb(c.env);
    const errors: FieldErrors = {};
    const username = c.req.query("user");
    if (username !== undefined && !USERNAME_PATTERN.test(username)) errors.user = `must be a username (${USERNAME_RULE})`;
    const status = c.req.query("status");
    if (status !== undefined && !isStatus(status)) errors.status = `must be one of: ${STREAM_STATUSES.join(", ")}`;
    const category = await categoryParam(db, c.req.query("category"), errors);
    const limit = queryInteger(c.req.query("limit"), "limit", { min: 1, max: 100, fallback: 20 }, errors);
    const cursorText = c.req.query("cursor");
    const cursor = cursorText ? decodeCursor(cursorText, "streams", ["string", "string"]) : null;
    if (cursorText && !cursor) errors.cursor = "invalid cursor";
    assertNone(errors);
    // A creator listing their own streams (the creator page) sees the unlisted and private ones too.
    const includeHidden = !!caller && (caller.role === "admin" || (username !== undefined && caller.username === username));
    const page = await listStreams(
      db,
      { username, status: status as StreamStatus | undefined, category, includeHidden },
      limit,
      cursor ? { createdAt: cursor[0] as string, id: cursor[1] as string } : null,
    );
    const last = page.rows.at(-1);
    return c.json({ streams: page.rows.map(publicStreamView), next_cursor: page.more && last ? encodeCursor("streams", [last.created_at, last.id]) : null });
  });

  return app;
};
