// Globals of the pages the browser code runs in.
import type HlsClass from "hls.js";

declare global {
  /** hls.js, loaded by its own <script> before the player (its UMD build sets `window.Hls`). */
  const Hls: typeof HlsClass;

  interface Window {
    Hls?: typeof HlsClass;
    /** The player's state, for people and for tests (see player.js). */
    cascadePlayer?: PlayerState;
    /** The chat pane's state, for people and for tests (see chat.js). */
    cascadeChat?: ChatState;
  }

  interface HTMLVideoElement {
    /** Safari's native HLS: the wall-clock date of media time 0 (from EXT-X-PROGRAM-DATE-TIME). */
    getStartDate?(): Date;
  }

  interface PlayerError {
    at: string;
    type: string;
    details: string;
    fatal: boolean;
    code: number | null;
  }

  interface PlayerStats {
    bufferAhead: number;
    width: number | null;
    height: number | null;
    bitrate: number | null;
    bandwidthEstimate: number | null;
    droppedFrames: number | null;
    totalFrames: number | null;
    playbackRate: number;
  }

  interface PlayerState {
    state: "loading" | "playing" | "offline" | "ended" | "error" | "private";
    latency: number | null;
    stalls: number;
    level: { index: number; auto: boolean; width: number | null; height: number | null; bitrate: number | null } | null;
    errors: PlayerError[];
    engine: "hls.js" | "native" | null;
    lowLatencyMode: boolean | null;
    partTarget: number | null;
    targetLatency: number | null;
    liveJumps: number;
    stats: PlayerStats | null;
    dvr: boolean;
    behindLive: number | null;
    dvrWindow: { start: number; end: number } | null;
    /** The hls.js instance (not enumerable, so the object serialises). */
    hls?: HlsClass | null;
  }

  interface ChatUser {
    id: string;
    username: string;
    badges: string[];
  }

  interface ChatState {
    state: "connecting" | "open" | "closed" | "unavailable";
    user: ChatUser | null;
    canWrite: boolean;
    canModerate: boolean;
    slowMode: number;
    viewers: { viewers: number; peak: number } | null;
    messages: number;
    emotes: number;
    reconnects: number;
    heartbeats: number;
    errors: { at: string; code: string; message: string }[];
  }

  /** The session the pages keep in localStorage. */
  interface Session {
    token: string;
    expires_at?: string | null;
    user?: { id?: string; username?: string; role?: string };
  }

  /** An API answer: the status and the parsed JSON body (null when there is none). */
  interface ApiResult {
    status: number;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON from the server: each reader checks what it uses
    body: any;
  }
}
