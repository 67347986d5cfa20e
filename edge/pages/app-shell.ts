import type { PageData } from "./client/page-data.ts";
import { escapeHtml, htmlDocument, pageDataIsland } from "./html.ts";

/**
 * The frame of the client-side pages (`/login`, `/creator`): markup with no data in it, one nonce'd
 * style, the page's data island and one nonce'd script (client/*.js, see client-scripts.ts). The scripts call the JSON API with the bearer token from localStorage
 * and write what they get with textContent only (never innerHTML), so nothing from the API is parsed
 * as markup.
 */

/** Where the pages keep the session: `{ token, expires_at, user: { id, username, role } }`. */
export const SESSION_STORAGE_KEY = "cascade.session";

const STYLE = `
  :root { color-scheme: dark; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  body { margin: 0; background: #0d0f12; color: #e8eaed; }
  main { max-width: 880px; margin: 0 auto; padding: 24px 16px; }
  h1 { font-size: 1.4rem; margin: 0 0 4px; }
  h2 { font-size: 1.1rem; margin: 0 0 12px; }
  a { color: #9ab8ff; }
  .sub { color: #9aa3ad; margin: 0 0 20px; font-size: .9rem; }
  nav.top { display: flex; gap: 16px; justify-content: flex-end; font-size: .85rem; margin-bottom: 8px; align-items: baseline; }
  section, form.card { background: #171a1f; border: 1px solid #262b33; border-radius: 8px; padding: 16px; margin: 0 0 16px; }
  .cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 16px; }
  label { display: block; font-size: .85rem; color: #c4c9cf; margin: 0 0 10px; }
  input, select { display: block; width: 100%; box-sizing: border-box; margin-top: 4px; padding: 8px 10px; border-radius: 6px;
    border: 1px solid #323845; background: #0d0f12; color: inherit; font: inherit; }
  input[readonly] { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; }
  button { padding: 8px 14px; border-radius: 6px; border: 0; background: #3b6ef5; color: #fff; font: inherit; cursor: pointer; }
  button.secondary { background: #323845; }
  button.danger { background: #a12a2a; }
  button:disabled { opacity: .5; cursor: default; }
  .error { color: #ff9b9b; font-size: .9rem; min-height: 1.2em; margin: 8px 0 0; white-space: pre-line; }
  .ok { color: #9be39b; font-size: .9rem; }
  .muted { color: #9aa3ad; font-size: .85rem; }
  .row { display: flex; gap: 8px; align-items: end; }
  .row > label { flex: 1; }
  .secret { border: 1px solid #6b5a1e; background: #2a2410; }
  dl.obs { display: grid; grid-template-columns: max-content 1fr; gap: 6px 14px; margin: 12px 0 0; font-size: .9rem; }
  dl.obs dt { color: #9aa3ad; }
  dl.obs dd { margin: 0; }
  code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; overflow-wrap: anywhere; }
  table { width: 100%; border-collapse: collapse; font-size: .9rem; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #262b33; vertical-align: top; }
  th { color: #9aa3ad; font-weight: 500; }
  td.actions { white-space: nowrap; }
  td.actions button { padding: 4px 10px; font-size: .8rem; margin-right: 4px; }
  .status { font-weight: 600; }
  .status-live { color: #ff6b6b; }
  .status-starting, .status-reconnecting { color: #f0c36b; }
  .status-ended { color: #9aa3ad; }
  .status-failed { color: #ff9f43; font-weight: 600; }
  ol.steps { margin: 8px 0; padding-left: 20px; font-size: .9rem; }
  ol.steps li { margin: 2px 0; }
  .outcome-ok, .outcome-recovered { color: #9be39b; }
  .outcome-failed, .outcome-compensation_failed { color: #ff9b9b; }
  .outcome-waiting, .outcome-compensated { color: #f0c36b; }
  [hidden] { display: none !important; }
`;

/**
 * The page around `body`, with the shared style and `script` (both nonce'd), and the data island the
 * script reads (`data` beside the session key).
 */
export const appPage = <D extends PageData = PageData>(title: string, body: string, script: string, nonce: string, data: Omit<D, "sessionKey">): string =>
  htmlDocument({
    title,
    style: STYLE,
    body,
    nonce,
    head: '\n<meta name="referrer" content="no-referrer">',
    bodyEnd: `\n${pageDataIsland({ ...data, sessionKey: SESSION_STORAGE_KEY })}\n<script nonce="${escapeHtml(nonce)}">${script}</script>`,
  });

