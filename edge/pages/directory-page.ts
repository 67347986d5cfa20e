import { DIRECTORY_RELOAD_SCRIPT } from "./client-scripts.ts";
import type { DirectoryData } from "./directory-data.ts";
import { escapeHtml, htmlDocument, pageDataIsland } from "./html.ts";
import type { LiveStreamEntry, LiveStreamsResult } from "./live-streams.ts";

/** Seconds between automatic reloads of the directory (a meta refresh: no script on this page). */
export const DIRECTORY_REFRESH_S = 10;
/**
 * Seconds between reloads of the D1 directory: a small nonce'd script (client/directory-reload.js),
 * which skips the reload while someone is typing in the search box (a meta refresh would throw their
 * input away).
 */
export const DIRECTORY_DB_REFRESH_S = 15;

/** "42 s", "12 min", "3 h 05 min" */
export const formatDuration = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return `${h} h ${String(min % 60).padStart(2, "0")} min`;
};

const STYLE = `
  :root { color-scheme: dark; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  body { margin: 0; background: #0d0f12; color: #e8eaed; }
  main { max-width: 880px; margin: 0 auto; padding: 24px 16px; }
  h1 { font-size: 1.4rem; margin: 0 0 4px; }
  .sub { color: #9aa3ad; margin: 0 0 20px; font-size: .9rem; }
  ul { list-style: none; margin: 0; padding: 0; display: grid; gap: 10px; }
  li a { display: flex; align-items: baseline; gap: 12px; padding: 14px 16px; background: #171a1f; border: 1px solid #262b33;
    border-radius: 8px; color: inherit; text-decoration: none; }
  li a:hover { border-color: #4a5260; }
  .badge { font-size: .7rem; font-weight: 700; padding: 2px 6px; border-radius: 4px; background: #d22; color: #fff; }
  .id { font-weight: 600; font-size: 1.05rem; }
  .meta { color: #9aa3ad; font-size: .85rem; margin-left: auto; text-align: right; }
  .empty, .error { padding: 28px 16px; text-align: center; background: #171a1f; border-radius: 8px; color: #c4c9cf; }
  .error { border: 1px solid #7a2a2a; }
  .notice { padding: 10px 14px; margin: 0 0 14px; background: #2a2410; border: 1px solid #6b5a1e; border-radius: 8px; color: #f0e2b0; }
  nav.top { display: flex; gap: 16px; justify-content: flex-end; font-size: .85rem; margin-bottom: 8px; }
  nav.top a { color: #9ab8ff; }
  form.search { display: flex; gap: 8px; margin: 0 0 14px; }
  form.search input[type=search] { flex: 1; padding: 9px 12px; border-radius: 6px; border: 1px solid #262b33; background: #171a1f; color: inherit; font: inherit; }
  form.search button { padding: 9px 16px; border-radius: 6px; border: 0; background: #3b6ef5; color: #fff; font: inherit; cursor: pointer; }
  .cats { display: flex; flex-wrap: wrap; gap: 6px; margin: 0 0 18px; padding: 0; }
  .cats a { font-size: .8rem; padding: 4px 10px; border-radius: 999px; background: #171a1f; border: 1px solid #262b33; color: #c4c9cf; text-decoration: none; }
  .cats a[aria-current=true] { background: #3b6ef5; border-color: #3b6ef5; color: #fff; }
  .cats .n { color: #9aa3ad; margin-left: 4px; }
  .cats a[aria-current=true] .n { color: #dfe6ff; }
  .entry { display: flex; flex-direction: column; gap: 2px; min-width: 0; }
  .title { font-weight: 600; font-size: 1.05rem; overflow-wrap: anywhere; }
  .by { color: #9aa3ad; font-size: .85rem; }
  .viewers { font-weight: 600; color: #e8eaed; }
  .more { display: block; text-align: center; margin: 16px 0; color: #9ab8ff; }
  .thumb { order: -1; flex: none; align-self: center; width: 160px; height: 90px; object-fit: cover; border-radius: 6px; background: #262b33; color: transparent; }
`;

const page = (title: string, body: string, nonce?: string, refresh: "meta" | "script" = "meta"): string => {
  const meta = refresh === "meta" ? `\n<meta http-equiv="refresh" content="${DIRECTORY_REFRESH_S}">` : "";
  const script = refresh === "script" && nonce ? `\n${pageDataIsland({ reloadMs: DIRECTORY_DB_REFRESH_S * 1000 })}\n<script nonce="${escapeHtml(nonce)}">${DIRECTORY_RELOAD_SCRIPT}</script>` : "";
  return htmlDocument({ title, style: STYLE, body, nonce, head: meta, bodyEnd: script });
};

/** `/?q=…&category=…&cursor=…` with the empty parts left out. */
export const directoryHref = (p: { q?: string; category?: string | null; cursor?: string | null }): string => {
  const params = new URLSearchParams();
  if (p.q) params.set("q", p.q);
  if (p.category) params.set("category", p.category);
  if (p.cursor) params.set("cursor", p.cursor);
  const qs = params.toString();
  return qs ? `/?${qs}` : "/";
};

/** The stream's latest thumbnail (`/hls/<id>/thumbnail.jpg`, refreshed every 10 s); a neutral box until there is one. */
const thumbnail = (id: string, label: string): string =>
  `<img class="thumb" src="/hls/${encodeURIComponent(id)}/thumbnail.jpg" alt="Preview of ${escapeHtml(label)}" width="320" height="180" loading="lazy" decoding="async">`;

const viewersText = (n: number): string => (n === 1 ? "1 viewer" : `${n.toLocaleString("en-US")} viewers`);

/**
 * The directory from D1 (`loadDirectory`): a search box (GET `/?q=`), category links with live
 * counts, and live streams (by viewers, or by relevance when searching) linking to their players.
 * Every value from the database is escaped; links are built with URLSearchParams / encodeURIComponent.
 */
export const directoryDbPage = (data: DirectoryData, options: { now?: number; nonce?: string; unlisted?: LiveStreamEntry[] } = {}): string => {
  const now = options.now ?? Date.now();
  const { q, category } = data.query;
  const selected = data.categories.find((c) => c.slug === category) ?? null;
  const heading = q ? `Results for “${escapeHtml(q)}”${selected ? ` in ${escapeHtml(selected.name)}` : ""}` : selected ? `Live in ${escapeHtml(selected.name)}` : "Live now";
  const nav = `<nav class="top"><a href="/login">Sign up / log in</a><a href="/creator">Creator dashboard</a></nav>`;
  const form = `<form class="search" method="get" action="/" role="search">
<input type="search" id="q" name="q" value="${escapeHtml(q)}" placeholder="Search live streams" maxlength="200" aria-label="Search live streams">
${category ? `<input type="hidden" name="category" value="${escapeHtml(category)}">` : ""}<button type="submit">Search</button>
</form>`;
  const chip = (label: string, slug: string | null, count: number | null) =>
    `<a href="${escapeHtml(directoryHref({ q, category: slug }))}"${slug === category ? ' aria-current="true"' : ""}>${escapeHtml(label)}${count !== null ? `<span class="n">${count}</span>` : ""}</a>`;
  const cats = `<nav class="cats" aria-label="Categories">${[chip("All", null, null), ...data.categories.map((c) => chip(c.name, c.slug, c.liveStreams))].join("")}</nav>`;
  const notice = data.notice ? `<p class="notice" role="status">${escapeHtml(data.notice)}</p>` : "";
  const header = `${nav}\n<h1>${heading}</h1>\n<p class="sub">Streams on this Cascade edge, ${q ? "best matches first, then most watched" : "most watched first"}. This page refreshes every ${DIRECTORY_DB_REFRESH_S} s.</p>\n${form}\n${cats}\n${notice}`;
  const title = q ? `Search · Cascade` : "Live streams · Cascade";
  const unlisted = options.unlisted?.length
    ? `\n<h2 class="sub">Also live on this edge (published with a local key, no account)</h2>\n<ul aria-label="other live streams">\n${options.unlisted
        .map(
          (s) =>
            `<li><a href="/watch/${encodeURIComponent(s.id)}"><span class="badge">LIVE</span><span class="id">${escapeHtml(s.id)}</span>${thumbnail(s.id, s.id)}<span class="meta">live for <time datetime="${escapeHtml(s.startedAt)}">${formatDuration(now - Date.parse(s.startedAt))}</time></span></a></li>`,
        )
        .join("\n")}\n</ul>`
    : "";
  if (data.streams.length === 0) {
    const empty = q ? "No live streams match your search." : selected ? `Nothing live in ${escapeHtml(selected.name)} right now.` : "No live streams right now.";
    return page(title, `${header}\n<p class="empty">${empty}</p>${unlisted}`, options.nonce, "script");
  }
  const items = data.streams
    .map((s) => {
      const since = s.startedAt ? `live for <time datetime="${escapeHtml(s.startedAt)}">${formatDuration(now - Date.parse(s.startedAt))}</time>` : "";
      const cat = s.categoryName ? ` · ${escapeHtml(s.categoryName)}` : "";
      return `<li><a href="/watch/${encodeURIComponent(s.id)}"><span class="badge">LIVE</span><span class="entry"><span class="title">${escapeHtml(s.title)}</span><span class="by">${escapeHtml(s.username)}${cat}</span></span>${thumbnail(s.id, s.title)}<span class="meta"><span class="viewers">${viewersText(s.viewers)}</span>${since ? `<br>${since}` : ""}</span></a></li>`;
    })
    .join("\n");
  const count = data.total === 1 ? "1 live stream" : `${data.total} live streams`;
  const more = data.nextCursor ? `\n<a class="more" href="${escapeHtml(directoryHref({ q, category, cursor: data.nextCursor }))}">More streams →</a>` : "";
  return page(`${count} · Cascade`, `${header}\n<ul aria-label="${count}">\n${items}\n</ul>${more}${unlisted}`, options.nonce, "script");
};

/**
 * The directory of live streams, or the "origin unreachable" page (the route answers 502 with it).
 * Every value from the origin is escaped; ids were validated when the list was parsed.
 */
export const directoryPage = (result: LiveStreamsResult, options: { now?: number; nonce?: string } = {}): string => {
  const now = options.now ?? Date.now();
  const header = `<h1>Live now</h1>\n<p class="sub">Streams on this Cascade edge. This page refreshes every ${DIRECTORY_REFRESH_S} s.</p>`;
  if (!result.ok) {
    return page(
      "Live streams · Cascade",
      `${header}
<div class="error" role="alert"><p><strong>The stream list is unavailable right now.</strong></p>
<p>The edge could not reach the origin server. Retrying automatically…</p></div>`,
      options.nonce,
    );
  }
  if (result.streams.length === 0) {
    return page("Live streams · Cascade", `${header}\n<p class="empty">No live streams right now.</p>`, options.nonce);
  }
  const items = result.streams
    .map((s) => {
      const id = escapeHtml(s.id);
      const since = formatDuration(now - Date.parse(s.startedAt));
      const renditions = s.renditions.length ? escapeHtml(s.renditions.join(" · ")) : "";
      return `<li><a href="/watch/${encodeURIComponent(s.id)}"><span class="badge">LIVE</span><span class="id">${id}</span>${thumbnail(s.id, s.id)}<span class="meta">live for <time datetime="${escapeHtml(s.startedAt)}">${since}</time>${renditions ? `<br>${renditions}` : ""}</span></a></li>`;
    })
    .join("\n");
  const count = result.streams.length === 1 ? "1 live stream" : `${result.streams.length} live streams`;
  return page(`${count} · Cascade`, `${header}\n<ul aria-label="${count}">\n${items}\n</ul>`, options.nonce);
};
