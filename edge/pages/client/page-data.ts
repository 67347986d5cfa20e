/**
 * What the pages hand their scripts: one JSON data island per page (`<script type="application/json"
 * id="page-data">`, written with scriptJson), never values spliced into code. The edge builds these
 * (edge/pages/*.ts); the browser code (this folder) reads them through the prelude's `PAGE`.
 */

/** Every page with a client script. */
export interface PageData {
  /** localStorage key of the session `{ token, expires_at, user }`. */
  sessionKey: string;
}

/** How the player plays a stream (edge/pages/watch-page.ts decides). */
export interface PlaybackData {
  /** A verified signed master playlist URL; null: the public `/hls/<id>/master.m3u8`. */
  src: string | null;
  /** A private stream without a usable URL: the message shown (the page may ask the API for a URL). */
  gate: string | null;
  /** Whether to ask the API for a signed URL with the visitor's session (the owner may get one). */
  askOwner: boolean;
  /** ttl_s asked for with such a URL. */
  ownerTtl: number;
  /** What a 403 from the playlist means here. */
  expiredMessage: string;
}

/** The chat pane's settings (edge/pages/chat-pane.ts, from the chat protocol and the analytics limits). */
export interface ChatData {
  /** The signed watch link's token, for a private stream (null: none). */
  playbackToken: string | null;
  maxChars: number;
  historyOnJoin: number;
  maxMessages: number;
  heartbeatMs: number;
  timeouts: readonly number[];
  latencyMsMax: number;
  bufferSMax: number;
  errorsMax: number;
}

/** The watch page: the player's and the chat pane's data. */
export interface WatchPageData extends PageData {
  streamId: string;
  playback: PlaybackData;
  chat: ChatData;
}

/** The creator dashboard. */
export interface CreatorPageData extends PageData {
  sagaPollMs: number;
  streamsPollMs: number;
}

/** The D1 directory (its reload script runs without the prelude: no session). */
export interface DirectoryPageData {
  reloadMs: number;
}
