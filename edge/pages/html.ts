/** Small helpers shared by the HTML pages the edge Worker serves. */

import type { DirectoryPageData, PageData } from "./client/page-data.ts";

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML element content and quoted attribute values. */
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]!);

/**
 * A JSON literal that is safe inside an inline `<script>`: `<`, `>` and `&` become `\u003c` …, so no
 * `</script>` or `<!--` can end or change the script, and U+2028/U+2029 are escaped for older parsers.
 */
export const scriptJson = (value: unknown): string =>
  JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);

/**
 * The JSON data island the page scripts read (client/prelude.js as `PAGE`): a `<script>` the browser
 * never runs (type application/json, so the CSP has nothing to allow), its text escaped by scriptJson
 * so no value can end the element. What differs per request travels here, never inside a script.
 */
export const pageDataIsland = (data: PageData | DirectoryPageData): string => `<script type="application/json" id="page-data">${scriptJson(data)}</script>`;

/** A fresh CSP nonce (128 random bits, base64). */
export const cspNonce = (): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
};

export interface CspOptions {
  /** Nonce allowing the page's inline script and style; without one, no inline code runs. */
  nonce?: string;
  /** Whether the page plays media (hls.js: MSE blob: URLs, a blob: worker, fetches to this origin). */
  media?: boolean;
  /** Whether the page's script calls this origin's JSON API (fetch); implied by `media`. */
  connect?: boolean;
  /** Whether the page's forms may submit to this origin (the directory's GET search form). */
  forms?: boolean;
  /** Whether the page shows images from elsewhere over https: (chat emotes); data: and this origin are always allowed. */
  remoteImages?: boolean;
}

/** A restrictive Content-Security-Policy: everything from this origin only, inline code only by nonce. */
export const contentSecurityPolicy = ({ nonce, media = false, connect = false, forms = false, remoteImages = false }: CspOptions = {}): string => {
  const inline = nonce ? ` 'nonce-${nonce}'` : "";
  return [
    "default-src 'none'",
    `script-src 'self'${inline}`,
    `style-src 'self'${inline}`,
    remoteImages ? "img-src 'self' data: https:" : "img-src 'self' data:",
    media ? "media-src 'self' blob:" : "media-src 'none'",
    media ? "worker-src 'self' blob:" : "worker-src 'none'",
    media || connect ? "connect-src 'self'" : "connect-src 'none'",
    "base-uri 'none'",
    forms ? "form-action 'self'" : "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
};

/** An HTML response with the page headers every edge page shares. */
export const htmlResponse = (html: string, init: { status?: number; csp: string; cacheControl: string }): Response =>
  new Response(html, {
    status: init.status ?? 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": init.csp,
      "cache-control": init.cacheControl,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    },
  });

/** The document every page shares: head with charset, viewport, title and a nonce'd style; the body in `<main>`. */
export const htmlDocument = (p: { title: string; style: string; body: string; nonce?: string; head?: string; bodyEnd?: string }): string => {
  const n = p.nonce ? ` nonce="${escapeHtml(p.nonce)}"` : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">${p.head ?? ""}
<title>${escapeHtml(p.title)}</title>
<link rel="icon" href="data:,">
<style${n}>${p.style}</style>
</head>
<body>
<main>
${p.body}
</main>${p.bodyEnd ?? ""}
</body>
</html>
`;
};
