import { LATENCY_MODES, TAGS_MAX, TITLE_MAX } from "../streams/model.ts";
import { appPage } from "./app-shell.ts";
import type { CreatorPageData } from "./client/page-data.ts";
import { CREATOR_SCRIPT } from "./client-scripts.ts";

/** How often the page re-reads the saga of the stream it watches, and the list of streams (ms). */
export const SAGA_POLL_MS = 2000;
export const STREAMS_POLL_MS = 5000;

const latencyOptions = LATENCY_MODES.map((m) => `<option value="${m}"${m === "low" ? " selected" : ""}>${m === "low" ? "Low latency (LL-HLS, ~2–3 s)" : "Standard"}</option>`).join("");

const BODY = `<nav class="top"><a href="/">Directory</a><span id="who-nav">Signed in as <strong id="who"></strong> <button type="button" class="secondary" id="logout">Log out</button></span></nav>
<h1>Creator dashboard</h1>
<p class="sub">Create a stream, point OBS at it, and watch it go live.</p>
<section id="need-login" hidden>
<p>You need to be signed in. <a href="/login?next=%2Fcreator">Sign up or log in →</a></p>
</section>
<div id="app">
<form class="card" id="create" novalidate>
<h2>New stream</h2>
<label>Title <input name="title" required maxlength="${TITLE_MAX}" placeholder="What are you streaming?"></label>
<div class="cols">
<label>Category <select name="category" id="category"><option value="">No category</option></select></label>
<label>Latency <select name="latency_mode">${latencyOptions}</select></label>
<label>Visibility <select name="visibility"><option value="public">Public (listed)</option><option value="unlisted">Unlisted (anyone with the link)</option><option value="private">Private (signed links only)</option></select></label>
</div>
<label>Tags <input name="tags" placeholder="comma-separated, up to ${TAGS_MAX}: speedrun, english" spellcheck="false" autocapitalize="none"></label>
<button type="submit">Create stream</button>
<p class="error" id="create-error" role="alert"></p>
</form>
<section id="key-box" class="secret" hidden aria-live="polite">
<h2><span id="key-why"></span>: <span id="key-title"></span></h2>
<p><strong>This key is shown only now.</strong> Copy it into OBS; anyone who has it can stream as you. Lost it? Rotate the key.</p>
<div class="row"><label>Server <input id="obs-server" readonly></label><button type="button" class="secondary" id="copy-server">Copy</button></div>
<div class="row"><label>Stream Key <input id="obs-key" readonly autocomplete="off" spellcheck="false"></label><button type="button" class="secondary" id="copy-key">Copy</button></div>
<dl class="obs">
<dt>OBS → Settings → Stream</dt><dd>Service <strong>Custom…</strong>, Server and Stream Key as above</dd>
<dt>Output (Advanced)</dt><dd>Encoder x264 (or NVENC), Rate control CBR, Bitrate 4000–6000 Kbps</dd>
<dt>Keyframe interval</dt><dd><strong>2 s</strong></dd>
<dt>x264</dt><dd>CPU preset veryfast, Profile high, Tune zerolatency</dd>
<dt>Audio</dt><dd>AAC 160 kb/s, 48 kHz</dd>
<dt>Video</dt><dd>1280x720 or 1920x1080, 30 fps</dd>
<dt>ffmpeg instead</dt><dd><code id="ffmpeg"></code></dd>
</dl>
<p><button type="button" id="hide-key">I have saved it: hide the key</button></p>
</section>
<section id="saga" hidden>
<h2>Go-live progress: <code id="saga-id"></code> <a id="saga-watch" href="/" target="_blank" rel="noopener">watch</a></h2>
<dl class="obs">
<dt>Status</dt><dd><span id="saga-status" class="status"></span></dd>
<dt>Saga phase</dt><dd id="saga-phase"></dd>
<dt>Next step</dt><dd id="saga-step"></dd>
<dt>Completed</dt><dd id="saga-completed"></dd>
<dt>Node</dt><dd id="saga-node"></dd>
</dl>
<p class="error" id="saga-failure"></p>
<ol class="steps" id="saga-history"></ol>
<p class="muted" id="saga-empty">No steps yet: start publishing with the stream key and the saga begins.</p>
<p class="error" id="saga-error" role="alert"></p>
</section>
<section>
<h2>My streams</h2>
<table>
<thead><tr><th>Stream</th><th>Status</th><th>Viewers</th><th>When</th><th></th></tr></thead>
<tbody id="streams-body"></tbody>
</table>
<p class="muted" id="no-streams" hidden>No streams yet.</p>
<p class="error" id="streams-error" role="alert"></p>
</section>
</div>`;

/**
 * The creator dashboard (`/creator`), all client-side (client/creator.js) with the bearer token from
 * localStorage: create a stream (`POST /api/v1/streams`), see its key once with the OBS settings and
 * copy buttons, list my streams (`GET /api/v1/streams?user=me`), rotate a key, stop a stream, and
 * follow the go-live saga (`GET /api/v1/streams/:id/saga`: status, phase, step, each step's outcome).
 * A key lives only in the DOM until "Hide" or a reload; it is never stored.
 */
export const creatorPage = (options: { nonce: string }): string =>
  appPage<CreatorPageData>("Creator dashboard · Cascade", BODY, CREATOR_SCRIPT, options.nonce, { sagaPollMs: SAGA_POLL_MS, streamsPollMs: STREAMS_POLL_MS });
