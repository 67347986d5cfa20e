import { escapeHtml } from "./html.ts";
import type { LiveStreamsResult } from "./live-streams.ts";

/** Seconds between automatic reloads of the directory (a meta refresh: no script on this page). */
export const DIRECTORY_REFRESH_S = 10;

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
`;

const page = (title: string, body: string, nonce?: string): string => {
  const n = nonce ? ` nonce="${escapeHtml(nonce)}"` : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${DIRECTORY_REFRESH_S}">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style${n}>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
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
      return `<li><a href="/watch/${encodeURIComponent(s.id)}"><span class="badge">LIVE</span><span class="id">${id}</span><span class="meta">live for <time datetime="${escapeHtml(s.startedAt)}">${since}</time>${renditions ? `<br>${renditions}` : ""}</span></a></li>`;
    })
    .join("\n");
  const count = result.streams.length === 1 ? "1 live stream" : `${result.streams.length} live streams`;
  return page(`${count} · Cascade`, `${header}\n<ul aria-label="${count}">\n${items}\n</ul>`, options.nonce);
};
